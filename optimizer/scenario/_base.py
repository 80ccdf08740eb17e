"""Building blocks of the scenario schema: strict models, cited sections, located errors."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from optimizer.scenario._positions import KeyPath

__all__ = ["CountRange"]


class _LocatedError(ValueError):
    """A validation problem located at a key below the model that raised it."""

    def __init__(self, message: str, key: KeyPath = ()) -> None:
        super().__init__(message)
        self.key = key


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _count_range(value: Any) -> tuple[int, int]:
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if whole(value):
        low = high = value
    elif isinstance(value, list | tuple) and len(value) == 2 and all(whole(v) for v in value):
        low, high = value
    else:
        raise ValueError(
            f"must be a whole number or a [min, max] pair of whole numbers, got {value!r}"
        )
    if low < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    if low > high:
        raise ValueError(f"the minimum {low} is larger than the maximum {high}")
    return (low, high)


#: A count given as a whole number (fixed) or ``[min, max]``; stored as ``(min, max)``.
CountRange = Annotated[tuple[int, int], BeforeValidator(_count_range)]


class _Cited(_Model):
    """A section whose figures may carry ``sources`` and ``assumptions``."""

    _CITED: ClassVar[tuple[str, ...]] = ()

    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_cited_names(self) -> _Cited:
        allowed = ", ".join(self._CITED)
        for name in self.sources:
            if name not in self._CITED:
                raise _LocatedError(
                    f"'{name}' is not a figure of this section; sources may be given for: "
                    f"{allowed}",
                    ("sources", name),
                )
        for i, name in enumerate(self.assumptions):
            if name not in self._CITED:
                raise _LocatedError(
                    f"'{name}' is not a figure of this section; assumptions may name: {allowed}",
                    ("assumptions", i),
                )
        return self

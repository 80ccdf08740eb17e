"""JSON-ready values: the one place numbers and records become JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

import numpy as np

__all__ = ["Record", "jsonable"]


def jsonable(value: Any, *, digits: int | None = None) -> Any:
    """Make a value JSON-friendly: records to dicts, numpy to Python, NaN/inf to ``None``.

    Parameters
    ----------
    value
        A dataclass instance, mapping, sequence, number or string.
    digits
        Round floats to this many significant digits (``None`` keeps them).

    Returns
    -------
    Any
        Dicts, lists, strings, numbers, booleans and ``None`` only.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), digits=digits) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, digits=digits) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(v, digits=digits) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if digits is not None and value != 0:
            return float(f"{value:.{digits}g}")
    return value


class Record:
    """Mixin for the dataclass records of results: ``to_dict()`` gives their JSON form."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (NaN and inf become ``None``)."""
        out = jsonable(self)
        assert isinstance(out, dict)
        return out

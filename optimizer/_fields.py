"""Field values read from files: booleans and numbers, with rows named on failure.

Booleans
--------
This is the one place that says how a true/false field may be written, for
``required`` in a sites layer and the ``[synthetic]`` flags of ``region.toml``:

* a real boolean (TOML ``true``/``false``, a GeoPackage boolean column);
* the integers ``1`` and ``0``;
* the words in :data:`TRUE_WORDS` and :data:`FALSE_WORDS`, in any case, with
  surrounding spaces ignored: ``true``/``false``, ``yes``/``no``, ``1``/``0``.

Anything else (``"maybe"``, ``2``, an empty cell) is a
:class:`~optimizer.errors.DataError` naming the file, the field and the rows.

Numbers
-------
:func:`numeric_column` reads a numeric field and refuses text (``"12 000"``,
``"n/a"``) with a message naming the rows, instead of turning it into a
missing value.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from optimizer.errors import DataError

if TYPE_CHECKING:  # numpy and pandas are imported by the column readers when first called
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

__all__ = [
    "FALSE_WORDS",
    "MAX_NAMED",
    "TRUE_WORDS",
    "bool_column",
    "name_rows",
    "numeric_column",
    "parse_bool",
]

TRUE_WORDS: tuple[str, ...] = ("true", "yes", "1")
"""Spellings of true (any case)."""

FALSE_WORDS: tuple[str, ...] = ("false", "no", "0")
"""Spellings of false (any case)."""

MAX_NAMED = 10
"""How many offending rows a message names before it says "and N more"."""

_ALLOWED = "true/false, yes/no or 1/0"


def name_rows(index: Iterable[object], count: int | None = None) -> str:
    """Name up to :data:`MAX_NAMED` rows: ``"a, b, c and 7 more"``."""
    items = list(index)
    total = len(items) if count is None else count
    names = [str(i) for i in items[:MAX_NAMED]]
    more = f" and {total - len(names)} more" if total > len(names) else ""
    return ", ".join(names) + more


def _as_bool(value: object) -> bool | None:
    """Return the boolean a value spells, or ``None`` when it spells none."""
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":
        return bool(value)  # Python and numpy booleans
    if isinstance(value, numbers.Integral) and int(value) in (0, 1):
        return bool(int(value))
    if isinstance(value, numbers.Real) and float(value) in (0.0, 1.0):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def parse_bool(value: object, *, where: str) -> bool:
    """Read one boolean value.

    Parameters
    ----------
    value
        The value as read.
    where
        File and field, for the message (e.g. ``"region.toml [synthetic] roads"``).

    Raises
    ------
    DataError
        If the value is not one of the documented spellings.
    """
    result = _as_bool(value)
    if result is None:
        raise DataError(f"{where} = {value!r} is not a boolean; write {_ALLOWED}")
    return result


def bool_column(values: pd.Series, *, source: str, field: str) -> NDArray[np.bool_]:
    """Read a boolean field of a layer.

    Parameters
    ----------
    values
        The column, indexed by row id (e.g. ``site_id``).
    source, field
        File and field name, for the message.

    Raises
    ------
    DataError
        Naming the rows whose values are not documented spellings (missing
        values included).
    """
    import numpy as np

    if values.dtype == bool:
        return values.to_numpy(dtype=bool)
    parsed = [_as_bool(v) for v in values]
    bad = [i for i, p in zip(values.index, parsed, strict=True) if p is None]
    if bad:
        shown = sorted({repr(v) for v, p in zip(values, parsed, strict=True) if p is None})[:3]
        raise DataError(
            f"{source}: field '{field}' must be {_ALLOWED}, but {len(bad)} row(s) hold "
            f"{', '.join(shown)}: {name_rows(bad)}"
        )
    return np.asarray(parsed, dtype=bool)


def check_renames(
    mapping: Mapping[str, str],
    *,
    allowed: Sequence[str],
    present: Sequence[object],
    source: str,
    option: str,
) -> None:
    """Check a ``{package name: file column}`` mapping before the columns are renamed.

    Parameters
    ----------
    mapping
        Package column names and the file columns that hold them.
    allowed
        The package column names that may be mapped, in the order to list them.
    present
        The columns of the file.
    source
        The file, named in the message.
    option
        The option that gave ``mapping``, named in the message.

    Raises
    ------
    DataError
        If a key is not in ``allowed`` or a named column is not in the file;
        the message lists what is allowed or present.
    """
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise DataError(
            f"unknown key(s) {', '.join(unknown)} in {option}; allowed: {', '.join(allowed)}"
        )
    absent = sorted(v for v in mapping.values() if v not in present)
    if absent:
        raise DataError(
            f"{source}: column(s) {', '.join(absent)} named in {option} are not in the file; "
            f"columns present: {', '.join(map(str, present))}"
        )


def as_float(value: object) -> float | None:
    """``value`` as a float, or ``None`` when it is missing, a boolean or not a number.

    For lenient attribute reading (OSM tags, graph attributes), where a value
    that cannot be read is dropped rather than reported.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def numeric_column(
    values: pd.Series, *, source: str, field: str, rows: str = "row(s)"
) -> pd.Series:
    """Read a numeric field as ``float64``; missing values stay NaN, text is an error.

    Parameters
    ----------
    values
        The column, indexed by row id.
    source, field
        File and field name, for the message.
    rows
        What the rows are called in the message (``"cell(s)"``, ``"site(s)"``).

    Raises
    ------
    DataError
        If a value is text that is not a number; names the rows and shows examples.
    """
    import pandas as pd

    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"{source}: field '{field}' holds booleans; expected numbers")
    numbers = pd.to_numeric(values, errors="coerce")
    text = values.map(lambda v: isinstance(v, str) and v.strip() == "")
    bad = numbers.isna() & values.notna() & ~text
    if bad.any():
        examples = ", ".join(repr(v) for v in pd.unique(values[bad])[:3])
        raise DataError(
            f"{source}: field '{field}' has {int(bad.sum())} non-numeric value(s) "
            f"({examples}) in {rows} {name_rows(values.index[bad])}; expected numbers: fix "
            "the values or map another column"
        )
    return numbers.astype("float64")

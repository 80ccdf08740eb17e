"""Age bands of a grid file, suppression codes, and the bundle's three age groups.

The bundle holds three age groups (``age_0_14``, ``age_15_64``,
``age_65_plus``), the groups Statistics Finland publishes and the estimates
use. Other grids publish other bands: HSY's grid of the Helsinki region has
ten-year bands ``IKA0_9``, ``IKA10_19`` ... ``IKA70_79`` and ``IKA_YLI80``.

Declaring bands
---------------
A band is a column and the ages it counts, written ``COLUMN=LOW-HIGH`` or
``COLUMN=LOW+`` (an open last band), e.g. ``IKA0_9=0-9`` or ``IKA_YLI80=80+``.
The text is parsed with a regular expression; it is never evaluated. The
bands must cover every age from 0 up, once each, ending with an open band.

Mapping bands onto the groups
-----------------------------
A band inside one group adds all its residents to that group. A band that
spans a group boundary (HSY's ``IKA10_19`` spans 14/15 and ``IKA60_69`` spans
64/65) is split in proportion to its years on each side: ``IKA10_19`` gives
5/10 of its residents to ``age_0_14`` and 5/10 to ``age_15_64``. This assumes
residents spread evenly over the years of a band, an approximation the
bundle's source text records; group totals are then fractional. An open band
cannot be split by years, so it must start at 65 or later.

Suppression codes
-----------------
Publishers hide small counts behind codes: Statistics Finland writes ``-1``
in every field but ``vaesto`` of cells under 10 residents; HSY writes ``99``
in every age band of small cells. A value equal to a code in
:data:`SUPPRESSION_CODES` becomes missing (NaN):

* a negative code always (no count is negative);
* a non-negative code (``99``) only in a row whose bands, read literally,
  add up to more than the cell's residents; elsewhere 99 is a real count.

A group is missing in a row when a band it draws on is missing there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from optimizer._fields import numeric_column
from optimizer.errors import DataError

__all__ = [
    "AGE_GROUPS",
    "HSY_AGE_BANDS",
    "SUPPRESSION_CODES",
    "AgeBand",
    "ages_from_bands",
    "describe_bands",
    "parse_age_band",
    "suppress",
]

logger = logging.getLogger(__name__)

AGE_GROUPS: Mapping[str, tuple[int, int | None]] = {
    "age_0_14": (0, 14),
    "age_15_64": (15, 64),
    "age_65_plus": (65, None),
}
"""The bundle's age groups: first and last age (``None`` = open)."""

SUPPRESSION_CODES: tuple[float, ...] = (-1.0, 99.0)
"""Codes that stand for a hidden count (Statistics Finland's -1, HSY's 99)."""

_BAND_RE = re.compile(r"^\s*([^=]+?)\s*=\s*(\d{1,3})\s*(?:-\s*(\d{1,3})|(\+))\s*$")


@dataclass(frozen=True)
class AgeBand:
    """A column of a grid file and the ages it counts (``high`` ``None`` = and older)."""

    column: str
    low: int
    high: int | None

    def __str__(self) -> str:
        ages = f"{self.low}+" if self.high is None else f"{self.low}-{self.high}"
        return f"{self.column}={ages}"


HSY_AGE_BANDS: tuple[AgeBand, ...] = (
    *(AgeBand(f"IKA{lo}_{lo + 9}", lo, lo + 9) for lo in range(0, 80, 10)),
    AgeBand("IKA_YLI80", 80, None),
)
"""The ten-year bands of HSY's population grid (``IKA0_9`` ... ``IKA_YLI80``)."""


def parse_age_band(text: str) -> AgeBand:
    """Read a band declaration such as ``"IKA0_9=0-9"`` or ``"IKA_YLI80=80+"``.

    Raises
    ------
    DataError
        If the text is not ``COLUMN=LOW-HIGH`` or ``COLUMN=LOW+`` with LOW <= HIGH.
    """
    match = _BAND_RE.match(str(text))
    if not match:
        raise DataError(
            f"age band {text!r} is not COLUMN=LOW-HIGH or COLUMN=LOW+ (e.g. IKA0_9=0-9, "
            "IKA_YLI80=80+)"
        )
    column, low, high, plus = match.groups()
    band = AgeBand(column, int(low), None if plus else int(high))
    if band.high is not None and band.high < band.low:
        raise DataError(f"age band {text!r} ends before it starts")
    return band


def _check_cover(bands: Sequence[AgeBand]) -> list[AgeBand]:
    ordered = sorted(bands, key=lambda b: b.low)
    listed = ", ".join(map(str, ordered))
    if len({b.column for b in ordered}) != len(ordered):
        raise DataError(f"age bands name a column twice: {listed}")
    expected = 0
    for band in ordered:
        if expected is None or band.low != expected:
            what = (
                f"ages {expected}-{band.low - 1} are in no band"
                if expected is not None and band.low > expected
                else f"band {band} overlaps the band before it"
            )
            raise DataError(f"age bands must cover every age from 0 once: {what} ({listed})")
        expected = None if band.high is None else band.high + 1
    if expected is not None:
        raise DataError(
            f"age bands must end with an open band such as 80+: ages {expected} and over are "
            f"in no band ({listed})"
        )
    return ordered


def _shares(band: AgeBand) -> dict[str, float]:
    """Share of a band's residents that falls in each group (by years)."""
    if band.high is None:
        hit = [g for g, (_, hi) in AGE_GROUPS.items() if hi is None or band.low <= hi]
        if len(hit) > 1:
            raise DataError(
                f"open age band {band} spans several age groups and cannot be split by years; "
                "an open band must start at 65 or later"
            )
        return {hit[0]: 1.0}
    out: dict[str, float] = {}
    for group, (lo, hi) in AGE_GROUPS.items():
        top = band.high if hi is None else min(band.high, hi)
        years = top - max(band.low, lo) + 1
        if years > 0:
            out[group] = years / (band.high - band.low + 1)
    return out


def suppress(
    values: pd.DataFrame,
    total: pd.Series,
    *,
    codes: Iterable[float] = SUPPRESSION_CODES,
) -> pd.DataFrame:
    """Turn suppression codes in count columns into NaN (rules in the module docstring).

    Parameters
    ----------
    values
        Numeric count columns of one grid (bands or groups), one row per cell.
    total
        Residents per cell, same index.
    codes
        The suppression codes.

    Returns
    -------
    pandas.DataFrame
        A copy with coded values as NaN.
    """
    out = values.astype("float64").copy()
    codes = tuple(float(c) for c in codes)
    literal_sum = out.sum(axis=1, min_count=1)
    too_many = (literal_sum > total.astype("float64")).to_numpy()
    for code in codes:
        hit = out.to_numpy() == code
        if code >= 0:
            hit &= too_many[:, None]
        out = out.mask(hit)
    hidden = int(out.isna().to_numpy().sum() - values.isna().to_numpy().sum())
    if hidden:
        logger.info("%d count(s) held a suppression code and are now missing", hidden)
    return out


def ages_from_bands(
    frame: pd.DataFrame,
    bands: Sequence[AgeBand],
    *,
    total: pd.Series,
    source: str,
    codes: Iterable[float] = SUPPRESSION_CODES,
) -> pd.DataFrame:
    """Compute the bundle's three age groups from a file's age bands.

    Parameters
    ----------
    frame
        The grid's attribute table (one row per cell).
    bands
        The bands, covering every age once (see the module docstring).
    total
        Residents per cell (same index as ``frame``).
    source
        The file, for messages.
    codes
        Suppression codes.

    Returns
    -------
    pandas.DataFrame
        Columns ``age_0_14``, ``age_15_64``, ``age_65_plus`` (float, NaN where a
        band is suppressed).

    Raises
    ------
    DataError
        If a band's column is missing or not numeric, or the bands do not cover
        every age once.
    """
    ordered = _check_cover(bands)
    missing = [b.column for b in ordered if b.column not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: age band column(s) {', '.join(missing)} are not in the file; columns "
            f"present: {', '.join(map(str, frame.columns))}"
        )
    counts = pd.DataFrame(
        {
            b.column: numeric_column(frame[b.column], source=source, field=b.column, rows="cell(s)")
            for b in ordered
        },
        index=frame.index,
    )
    counts = suppress(counts, total, codes=codes)
    split = [b for b in ordered if len(_shares(b)) > 1]
    if split:
        logger.info(
            "%s: age band(s) %s span the bundle's age groups; their residents are split by "
            "years (an even spread over each band is assumed)",
            source,
            ", ".join(b.column for b in split),
        )
    groups = pd.DataFrame(0.0, index=frame.index, columns=list(AGE_GROUPS))
    for band in ordered:
        for group, share in _shares(band).items():
            groups[group] = groups[group] + counts[band.column] * share
    return groups


def describe_bands(bands: Sequence[AgeBand]) -> str:
    """Say in one line how bands became groups, for a bundle's source text."""
    split = [str(b) for b in bands if len(_shares(b)) > 1]
    text = "age groups from bands " + ", ".join(map(str, bands))
    if split:
        text += "; bands spanning two groups (" + ", ".join(split) + ") split by years"
    return text

"""The figures a map and a report show, typed by what they read, and their labelled text.

The headline figures come from :class:`optimizer.estimates.NetworkEstimate` and
the data-quality figures from the run; both are typed here as protocols (only
the attributes the pages read), so that these modules do not depend on where
the objects are made. The functions turn them into labelled, language-specific
text rows that both the map panel and the report show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from optimizer.i18n import Lang, format_list, format_number, format_share, message

__all__ = [
    "OPEN_ROLES",
    "OTHER_TIER",
    "AccessFigures",
    "CostFigures",
    "HeadlineRow",
    "NetworkFigures",
    "QualityFigures",
    "TravelFigures",
    "canonical_role",
    "headline_rows",
    "quality_lines",
    "site_status",
    "synthetic_note",
]

#: The roles of an open point: a joint service point and a remote-service point.
OPEN_ROLES = ("full", "remote")
#: The other tier of an open point.
OTHER_TIER = {"full": "remote", "remote": "full"}


def canonical_role(role: str) -> str:
    """``"full"``, ``"remote"``, or ``"unused"`` for any other role (closed, candidate)."""
    return role if role in OPEN_ROLES else "unused"


def site_status(role: str, baseline_role: str | None) -> str:
    """Return a site's change against the baseline, as the map and the report show it.

    Returns
    -------
    str
        ``"kept"`` (open in both, same tier), ``"converted"`` (open in both, the
        other tier: a joint service point that becomes a remote-service point, or
        the reverse), ``"new"``, ``"closed"``, ``"unused"``; or ``""`` without a
        baseline (then a site whose role is ``"closed"`` is ``"closed"``).
    """
    if baseline_role is None:
        return "closed" if role == "closed" else ""
    role, baseline_role = canonical_role(role), canonical_role(baseline_role)
    if role in OPEN_ROLES:
        if baseline_role not in OPEN_ROLES:
            return "new"
        return "kept" if role == baseline_role else "converted"
    return "closed" if baseline_role in OPEN_ROLES else "unused"


#: Minutes of the shares in the headline.
HEADLINE_MINUTES = (30, 60)


class AccessFigures(Protocol):
    """Access to the nearest point of one kind (``AccessStats``)."""

    @property
    def mean_minutes(self) -> float:
        """Mean minutes of the residents who can reach a point."""

    @property
    def p50_minutes(self) -> float:
        """Median minutes."""

    @property
    def p90_minutes(self) -> float:
        """90th percentile of the minutes."""

    @property
    def p99_minutes(self) -> float:
        """99th percentile of the minutes."""

    @property
    def share_within_30(self) -> float:
        """Share (0..1) of all residents within 30 minutes."""

    @property
    def share_within_60(self) -> float:
        """Share (0..1) of all residents within 60 minutes."""

    @property
    def share_within_90(self) -> float:
        """Share (0..1) of all residents within 90 minutes."""


class TravelFigures(Protocol):
    """Travel per year (``TravelVolume``)."""

    @property
    def person_km(self) -> float:
        """Person-kilometres per year."""

    @property
    def vehicle_km(self) -> float:
        """Car vehicle-kilometres per year."""

    @property
    def t_co2(self) -> float:
        """Tonnes of CO2 per year."""


class CostFigures(Protocol):
    """Annual costs in € (``AnnualCosts``)."""

    @property
    def sites_eur(self) -> float:
        """Cost of the open sites."""

    @property
    def travel_time_eur(self) -> float:
        """Value of the travel time."""

    @property
    def co2_eur(self) -> float:
        """Cost of the CO2."""

    @property
    def total_eur(self) -> float:
        """Total annual cost."""


class NetworkFigures(Protocol):
    """What the pages read of one network's estimate (``NetworkEstimate``)."""

    @property
    def n_full(self) -> int:
        """Open full (joint) service points."""

    @property
    def n_remote(self) -> int:
        """Open remote service points."""

    @property
    def to_full(self) -> AccessFigures:
        """Access to the nearest full point."""

    @property
    def to_any(self) -> AccessFigures:
        """Access to the nearest point of any tier."""

    @property
    def travel(self) -> TravelFigures:
        """Travel per year."""

    @property
    def costs(self) -> CostFigures:
        """Annual costs."""


class QualityFigures(Protocol):
    """Data-quality figures of a run.

    ``far_cells`` and ``unreachable_cells`` are cell ids (possibly truncated);
    ``is_poor`` says whether the figures deserve a warning.
    """

    @property
    def residents(self) -> float:
        """Residents of the grid."""

    @property
    def far_residents(self) -> float:
        """Residents farther than the snap threshold from the roads."""

    @property
    def unreachable_residents(self) -> float:
        """Residents who cannot reach any point by road."""

    @property
    def road_coverage_share(self) -> float:
        """Share (0..1) of the residents the road graph covers."""

    @property
    def snap_threshold_m(self) -> float:
        """Snap threshold in metres."""

    @property
    def far_cells(self) -> Sequence[object]:
        """Ids of cells beyond the snap threshold (possibly truncated)."""

    @property
    def unreachable_cells(self) -> Sequence[object]:
        """Ids of unreachable cells (possibly truncated)."""

    @property
    def is_poor(self) -> bool:
        """Whether the figures deserve a warning."""


@dataclass(frozen=True)
class HeadlineRow:
    """One row of a figures table: a label, one text per network, and whether it heads a group."""

    label: str
    values: tuple[str, ...]
    heading: bool = False


def minutes_text(value: float, lang: Lang, *, digits: int = 1, signed: bool = False) -> str:
    """Minutes as text; infinite means unreachable."""
    try:
        infinite = math.isinf(float(value))
    except (TypeError, ValueError):
        infinite = False
    if infinite and not signed:
        return message("unreachable", lang)
    return format_number(value, lang, digits=digits, signed=signed)


def headline_rows(
    networks: Sequence[NetworkFigures], lang: Lang, *, signed: Sequence[bool] = ()
) -> list[HeadlineRow]:
    """Rows of the headline: point counts, access to full and to any points, CO2 and cost.

    Parameters
    ----------
    networks
        One estimate per column (e.g. scenario, baseline).
    lang
        Language of the labels and numbers.
    signed
        Per column, whether it holds differences (written with a sign).
    """
    sign = [bool(signed[k]) if k < len(signed) else False for k in range(len(networks))]

    def row(label: str, texts: list[str]) -> HeadlineRow:
        return HeadlineRow(label, tuple(texts))

    rows = [
        row(
            message("head_points", lang),
            [
                f"{format_number(n.n_full, lang, signed=s)} / "
                f"{format_number(n.n_remote, lang, signed=s)}"
                for n, s in zip(networks, sign, strict=True)
            ],
        )
    ]
    for key, attr in (("head_full", "to_full"), ("head_any", "to_any")):
        rows.append(HeadlineRow(message(key, lang), (), heading=True))
        access = [getattr(n, attr) for n in networks]
        rows.append(
            row(
                message("head_mean", lang),
                [
                    minutes_text(a.mean_minutes, lang, signed=s)
                    for a, s in zip(access, sign, strict=True)
                ],
            )
        )
        for minutes in HEADLINE_MINUTES:
            rows.append(
                row(
                    message("head_within", lang, minutes=minutes),
                    [
                        format_share(getattr(a, f"share_within_{minutes}"), lang, signed=s)
                        for a, s in zip(access, sign, strict=True)
                    ],
                )
            )
    rows.append(
        row(
            message("head_co2", lang),
            [
                format_number(n.travel.t_co2, lang, signed=s)
                for n, s in zip(networks, sign, strict=True)
            ],
        )
    )
    rows.append(
        row(
            message("head_total_cost", lang),
            [
                format_number(n.costs.total_eur, lang, signed=s)
                for n, s in zip(networks, sign, strict=True)
            ],
        )
    )
    return rows


def synthetic_note(layers: Sequence[str], lang: Lang) -> str | None:
    """Return the sentence saying which layers are synthetic, or ``None`` if none is.

    Known layer names (``population``, ``roads``, ``sites``, ``boundary``) are
    translated; any other name is shown as given.
    """
    names = [str(x) for x in layers if str(x)]
    if not names:
        return None
    known = {"population", "roads", "sites", "boundary"}
    words = [message(f"data_layer_{n}", lang) if n in known else n for n in names]
    return message("synthetic_text", lang, layers=format_list(words, lang))


def quality_lines(quality: QualityFigures, lang: Lang, *, cells: bool = True) -> list[str]:
    """Return the data-quality figures as sentences (and the cells at fault when ``cells``)."""
    lines = [
        message(
            "quality_far",
            lang,
            n=format_number(quality.far_residents, lang),
            m=format_number(quality.snap_threshold_m, lang),
        ),
        message("quality_unreachable", lang, n=format_number(quality.unreachable_residents, lang)),
        message("quality_coverage", lang, share=format_share(quality.road_coverage_share, lang)),
    ]
    if cells:
        for key, ids in (
            ("quality_far_cells", quality.far_cells),
            ("quality_unreachable_cells", quality.unreachable_cells),
        ):
            if len(ids):
                lines.append(message(key, lang, cells=", ".join(str(i) for i in ids)))
    return lines

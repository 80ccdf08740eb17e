"""The headline figures of a network: one column specification for every flat table.

The terminal table, the sweep table, the national summary, the report and the
units table of ``summary.json`` all list :data:`FIGURES`, read from a
:class:`~optimizer.estimates.NetworkEstimate` by attribute path. A renamed
estimate field therefore fails loudly here instead of emptying a column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FIGURES", "Figure", "figure_values", "units_table"]


@dataclass(frozen=True)
class Figure:
    """One headline figure.

    Attributes
    ----------
    key
        Column name in flat tables (units in the name where they are not obvious).
    path
        Attribute path in a :class:`~optimizer.estimates.NetworkEstimate`.
    unit
        Unit, e.g. ``"min"``, ``"share"``, ``"EUR/yr"``.
    label
        English label (the message catalogue holds the translations under ``key``).
    decimals
        Decimals shown and kept in outputs.
    """

    key: str
    path: tuple[str, ...]
    unit: str
    label: str
    decimals: int

    def value(self, estimate: Any) -> float:
        """Read the figure from an estimate (or a difference of estimates)."""
        value = estimate
        for name in self.path:
            value = getattr(value, name)
        return float(value)

    def value_in(self, record: Mapping[str, Any]) -> float:
        """Read the figure from an estimate's JSON form (``NaN`` where it is absent)."""
        node: Any = record
        for name in self.path:
            if not isinstance(node, Mapping) or name not in node:
                return math.nan
            node = node[name]
        return math.nan if node is None else float(node)


def _access(tier: str, label: str) -> list[Figure]:
    # figures of the any-point tier keep the short names of the first release
    # (share_within_60, unreachable_residents); the full-point ones end in _full
    suffix = "" if tier == "any" else f"_{tier}"
    stats = (("mean", "mean"), ("p50", "median"), ("p90", "90th pct"), ("p99", "99th pct"))
    out = [
        Figure(
            f"{stat}_minutes_{tier}",
            (f"to_{tier}", f"{stat}_minutes"),
            "min",
            f"{name} min to nearest {label}",
            1,
        )
        for stat, name in stats
    ]
    out += [
        Figure(
            f"share_within_{m}{suffix}",
            (f"to_{tier}", f"share_within_{m}"),
            "share",
            f"residents within {m} min of {label}",
            4,
        )
        for m in (30, 60, 90)
    ]
    out.append(
        Figure(
            f"unreachable_residents{suffix}",
            (f"to_{tier}", "unreachable_residents"),
            "residents",
            f"residents reaching no {label}",
            0,
        )
    )
    return out


#: Every headline figure, in table order.
FIGURES: tuple[Figure, ...] = (
    Figure("full_points", ("n_full",), "count", "full points", 0),
    Figure("remote_points", ("n_remote",), "count", "remote points", 0),
    Figure("residents", ("residents",), "residents", "residents", 0),
    *_access("full", "full point"),
    *_access("any", "any point"),
    Figure("visits_per_year", ("visits_per_year",), "visits/yr", "visits per year", 0),
    Figure("unserved_visits", ("unserved_visits",), "visits/yr", "unserved visits per year", 0),
    Figure("person_km", ("travel", "person_km"), "person-km/yr", "person-km per year", 0),
    Figure("vehicle_km", ("travel", "vehicle_km"), "vehicle-km/yr", "vehicle-km per year", 0),
    Figure("person_hours", ("travel", "person_hours"), "h/yr", "person-hours per year", 0),
    Figure("t_co2", ("travel", "t_co2"), "t CO2/yr", "t CO2 per year", 1),
    Figure("site_cost_eur", ("costs", "sites_eur"), "EUR/yr", "site costs (EUR/yr)", 0),
    Figure(
        "travel_time_cost_eur",
        ("costs", "travel_time_eur"),
        "EUR/yr",
        "travel time cost (EUR/yr)",
        0,
    ),
    Figure("co2_cost_eur", ("costs", "co2_eur"), "EUR/yr", "CO2 cost (EUR/yr)", 0),
    Figure("total_cost_eur", ("costs", "total_eur"), "EUR/yr", "total annual cost (EUR)", 0),
)


def figure_values(estimate: Any, *, rounded: bool = False) -> dict[str, float]:
    """Return ``{key: value}`` of every figure of ``estimate`` (rounded to its decimals)."""
    out = {}
    for fig in FIGURES:
        value = fig.value(estimate)
        out[fig.key] = round(value, fig.decimals) if rounded and value == value else value
    return out


def units_table() -> Mapping[str, dict[str, str]]:
    """Return ``{key: {"unit": ..., "label": ...}}`` for ``summary.json``."""
    return {f.key: {"unit": f.unit, "label": f.label} for f in FIGURES}

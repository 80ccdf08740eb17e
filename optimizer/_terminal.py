"""Terminal tables of a run for the command line: estimates, sites, staffing, notes.

Every value that comes from data (names, paths, messages) is shown literally, as
``rich`` Text, never as markup.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["estimate_table", "format_value", "literal", "print_result", "staffing_table"]


def literal(value: object) -> Text:
    """User text for a table cell or title, shown as written (no rich markup)."""
    return Text(str(value))


def format_value(value: float, unit: str, *, signed: bool = False) -> str:
    if value != value:  # NaN
        return "-"
    if value in (float("inf"), float("-inf")):
        return "unreachable"
    sign = "+" if signed else ""
    if unit == "share":
        return f"{100 * value:{sign}.1f} %"
    if unit == "min":
        return f"{value:{sign}.1f}"
    if unit == "count":
        return f"{value:{sign}.0f}"
    if unit == "t CO2/yr":
        return f"{value:{sign},.1f}"
    return f"{value:{sign},.0f}"


def estimate_table(result: Any) -> Table:
    """Build the scenario / baseline / difference table, one row per headline figure."""
    from optimizer.estimates import FIGURES

    title = Text(f"{result.region.name}: scenario {result.scenario.name!r}")
    table = Table(title=title)
    table.add_column("", justify="left")
    for col in ("optimum", "baseline", "difference"):
        table.add_column(col, justify="right")
    for plan in result.plans:
        table.add_column(Text(f"plan {plan.name}"), justify="right")
    for fig in FIGURES:
        table.add_row(
            fig.label,
            format_value(fig.value(result.estimate), fig.unit),
            format_value(fig.value(result.baseline), fig.unit),
            format_value(fig.value(result.difference), fig.unit, signed=True),
            *(format_value(fig.value(plan.estimate), fig.unit) for plan in result.plans),
        )
    return table


def staffing_table(result: Any) -> Table:
    """Officials (FTE) of each agency at each full point and in its remote pool."""
    staffing = result.staffing
    sites = list(dict.fromkeys(r.site_name for r in staffing.rows if r.site_id != "remote pool"))
    table = Table(title="Staffing: officials (FTE) by agency; - = no desk")
    table.add_column("agency")
    for name in [*sites, "remote pool", "total"]:
        table.add_column(literal(name), justify="right")
    by_agency: dict[str, dict[str, Any]] = {}
    for row in staffing.rows:
        cells = by_agency.setdefault(row.agency_name, {})
        cells[row.site_name] = row.fte if (row.desk or row.site_id == "remote pool") else None
    for agency, cells in by_agency.items():
        values = [cells.get(name) for name in [*sites, "remote pool"]]
        total = sum(v for v in values if v is not None)
        table.add_row(
            literal(agency), *("-" if v is None else f"{v:.1f}" for v in values), f"{total:.1f}"
        )
    base = result.baseline_staffing
    table.caption = (
        f"{staffing.desks} desks, {staffing.fte:,.1f} FTE; desks and staff "
        f"{staffing.total_cost_eur:,.0f} EUR/yr"
        + (
            f" (baseline {base.desks} desks, {base.total_cost_eur:,.0f} EUR/yr)"
            if base is not None
            else ""
        )
    )
    return table


def print_result(console: Console, result: Any, paths: Any) -> None:
    console.print(estimate_table(result))
    sites = Table(title="Chosen service points")
    for col in ("site", "tier", "visits/yr", "residents served", "mean min"):
        sites.add_column(col, justify="left" if col in ("site", "tier") else "right")
    for load in result.estimate.sites:
        sites.add_row(
            literal(load.name),
            load.tier,
            f"{load.visits:,.0f}",
            f"{load.residents_served:,.0f}",
            format_value(load.mean_minutes, "min"),
        )
    console.print(sites)
    if result.staffing is not None:
        console.print(staffing_table(result))
    choice = result.choice
    gap = "-" if choice.gap != choice.gap else f"{100 * choice.gap:.3g} %"
    solver = getattr(choice.solution, "solver", "-")
    console.print(
        Text(
            f"{result.scenario.network.model} solved with {solver}: {choice.status}, "
            f"gap {gap}, {choice.seconds:.1f} s"
        )
    )
    q = result.quality
    quality = (
        f"data quality: {q.road_coverage_share:.1%} of residents within "
        f"{q.snap_threshold_m:,.0f} m of the roads; {q.far_residents:,.0f} beyond it and "
        f"{q.unreachable_residents:,.0f} unreachable"
    )
    console.print(Text(quality, style="yellow" if q.is_poor else ""))
    console.print(
        Text(
            "car times: door to door (walk to the car, realistic speeds, parking search and "
            "walk to the door; [travel.car])"
            if result.scenario.travel.car.door_to_door
            else "car times: driving only (--drive-only or [travel.car] door_to_door = false)"
        )
    )
    if q.is_poor and q.unreachable_cells:
        console.print(
            Text(f"  most populous unreachable cells: {', '.join(q.unreachable_cells[:10])}")
        )
    synthetic = sorted(k for k, v in result.region.meta.synthetic.items() if v)
    if synthetic:
        console.print(
            Text.assemble(
                ("note: ", "yellow"),
                f"this region's {', '.join(synthetic)} layer(s) are SYNTHETIC; do not base "
                "decisions on them.",
            )
        )
    assumptions = result.scenario.assumptions()
    if assumptions:
        console.print(
            Text.assemble(
                ("note: ", "yellow"),
                f"{len(assumptions)} figure(s) of the scenario are assumptions (listed in "
                "summary.json); set your own.",
            )
        )
    console.print(Text(f"outputs  {paths.folder}"))

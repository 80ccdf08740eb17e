"""A run as tables, a summary and a map: what every output and notebook reads.

:func:`cells_frame` and :func:`sites_frame` give the run's GeoDataFrames,
:func:`summary_of` what ``summary.json`` holds (with units, provenance and
rounding), :func:`result_map` the Folium map. :mod:`optimizer.outputs` writes
them; :class:`~optimizer.scenario.ScenarioResult` offers them as properties.
The flat tables all take their columns from :data:`optimizer.estimates.FIGURES`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer._io import tree_sha256
from optimizer._json import jsonable
from optimizer.estimates import units_table

if TYPE_CHECKING:
    import geopandas as gpd

#: A :class:`~optimizer.scenario.ScenarioResult` (not imported: the result imports this module).
Result = Any

__all__ = [
    "SCHEMA_VERSION",
    "cells_frame",
    "result_map",
    "sites_frame",
    "summary_of",
    "trip_parts",
]


#: Version of the layout of ``summary.json``; raised when a field changes meaning.
SCHEMA_VERSION = 2
#: Units of the estimate fields in ``summary.json`` (by field name).
_FIELD_UNITS = {
    "n_full": "count",
    "n_remote": "count",
    "residents": "residents",
    "unreachable_residents": "residents",
    "visits_per_year": "visits/yr",
    "unserved_visits": "visits/yr",
    "visits": "visits/yr",
    "visits_in_person_only": "visits/yr",
    "visits_remote_eligible": "visits/yr",
    "residents_served": "residents",
    "fte": "FTE (officials)",
    "pool_fte": "FTE (officials)",
    "desks": "count",
    "desk_cost_eur": "EUR/yr",
    "staff_cost_eur": "EUR/yr",
    "mean_minutes": "min (one-way)",
    "p50_minutes": "min (one-way)",
    "p90_minutes": "min (one-way)",
    "p99_minutes": "min (one-way)",
    "share_within_30": "share of residents (0-1)",
    "share_within_60": "share of residents (0-1)",
    "share_within_90": "share of residents (0-1)",
    "person_km": "person-km/yr",
    "vehicle_km": "vehicle-km/yr",
    "person_hours": "h/yr",
    "t_co2": "t CO2/yr",
    "sites_eur": "EUR/yr",
    "travel_time_eur": "EUR/yr",
    "co2_eur": "EUR/yr",
    "total_eur": "EUR/yr",
    "far_residents": "residents",
    "road_coverage_share": "share of residents (0-1)",
    "snap_threshold_m": "m",
}


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------


def _labels(ids: tuple[str, ...], index: NDArray[np.int64]) -> NDArray[Any]:
    labels = np.asarray(ids, dtype=object)
    return np.where(index >= 0, labels[np.clip(index, 0, None)], None)


def _change(now: NDArray[np.float64], before: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore"):
        change = now - before
    return np.where(np.isfinite(now) & np.isfinite(before), change, np.nan)


def cells_frame(result: Result) -> gpd.GeoDataFrame:
    """Per-cell results of a run (the ``cells`` layer of ``results.gpkg``).

    Columns: ``population``, ``municipality`` (if known), ``visits_in_person_only``,
    ``visits_remote_eligible``, ``full_site_id``, ``nearest_full_minutes``,
    ``full_km``, ``any_site_id``, ``nearest_any_minutes``, ``any_km``,
    ``baseline_full_minutes``, ``baseline_any_minutes``, ``change_full_minutes``,
    ``change_any_minutes``, ``far`` and ``snap_m``. Minutes are one-way, ``inf``
    when unreachable (``null`` in the GeoPackage); changes are scenario minus
    baseline (``NaN`` where either is unreachable).
    """
    import geopandas as gpd

    problem, a, b = result.problem, result.assignment, result.baseline_assignment
    grid = result.region.population
    keep = [c for c in ("municipality", "population") if c in grid.columns]
    cells = gpd.GeoDataFrame(grid[keep].copy(), geometry=grid.geometry, crs=grid.crs)
    ids = problem.site_ids
    cells["visits_in_person_only"] = problem.visits.in_person_only
    cells["visits_remote_eligible"] = problem.visits.remote_eligible
    cells["full_site_id"] = _labels(ids, a.full_site)
    cells["nearest_full_minutes"] = a.nearest_full_minutes
    cells["full_km"] = a.full_km
    cells["any_site_id"] = _labels(ids, a.any_site)
    cells["nearest_any_minutes"] = a.nearest_any_minutes
    cells["any_km"] = a.any_km
    cells["baseline_full_minutes"] = b.nearest_full_minutes
    cells["baseline_any_minutes"] = b.nearest_any_minutes
    cells["change_full_minutes"] = _change(a.nearest_full_minutes, b.nearest_full_minutes)
    cells["change_any_minutes"] = _change(a.nearest_any_minutes, b.nearest_any_minutes)
    cells["far"] = problem.far
    cells["snap_m"] = problem.travel_times.origin_snap["snap_m"].to_numpy()
    for part, values in trip_parts(result).items():
        cells[f"full_{part}_minutes"] = values
    return cells


def trip_parts(result: Result) -> dict[str, NDArray[np.float64]]:
    """Split each cell's trip to its full point into access, terminal and drive minutes.

    ``access`` is the walk between the cell's point and the road, ``terminal``
    the walk to the car, parking search and the walk to the door (zero for
    drive-only times) and ``drive`` the time on the road graph; ``inf`` where
    the cell reaches no full point.
    """
    site = result.assignment.full_site
    parts = result.problem.travel_times.components(site)
    reach = site >= 0
    return {
        name: np.where(reach, parts[key], np.inf)
        for name, key in (("access", "access"), ("terminal", "terminal"), ("drive", "network"))
    }


def sites_frame(result: Result) -> gpd.GeoDataFrame:
    """Candidate sites with their role now and in the baseline, and their load."""
    import geopandas as gpd

    problem, choice = result.problem, result.choice
    src = result.region.sites
    keep = [c for c in ("name", "municipality", "kind", "required") if c in src.columns]
    sites = gpd.GeoDataFrame(src[keep].copy(), geometry=src.geometry, crs=src.crs)
    n = len(problem.site_ids)
    for column, full, remote in (
        ("role", choice.full, choice.remote),
        ("baseline_role", problem.baseline_full, problem.baseline_remote),
    ):
        role = np.full(n, "unused", dtype=object)
        role[list(full)] = "full"
        role[list(remote)] = "remote"
        sites[column] = role
    loads = {s.site_id: s for s in result.estimate.sites}
    for column in (
        "visits",
        "visits_in_person_only",
        "visits_remote_eligible",
        "residents_served",
        "mean_minutes",
    ):
        sites[column] = [
            getattr(loads[i], column) if i in loads else np.nan for i in problem.site_ids
        ]
    return sites


# --------------------------------------------------------------------------------------
# summary.json
# --------------------------------------------------------------------------------------


def _round(value: Any) -> Any:
    """Round numbers to meaningful precision: shares 4 decimals, small values 2, large 0."""
    if isinstance(value, Mapping):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, float) and math.isfinite(value):
        magnitude = abs(value)
        return round(value, 4 if magnitude < 1 else 2 if magnitude < 1000 else 0)
    return value


def _scenario_sha256(result: Result) -> str:
    path = result.scenario.path
    if path is not None and path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    text = json.dumps(result.scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("service-network-optimizer")
    except PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0.0.0"


def summary_of(result: Result) -> dict[str, Any]:
    """Return what ``summary.json`` holds: JSON-ready, rounded, with units and provenance."""
    region, scenario, choice = result.region, result.scenario, result.choice
    synthetic = sorted(k for k, v in region.meta.synthetic.items() if v)
    summary = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "service-network-optimizer", "version": _package_version()},
        "run": {
            "started": result.started.isoformat(timespec="seconds"),
            "seconds": dict(result.seconds),
        },
        "inputs": {
            "bundle": str(region.path) if region.path else None,
            "bundle_sha256": tree_sha256(region.path) if region.path else None,
            "scenario_file": str(scenario.path) if scenario.path else None,
            "scenario_sha256": _scenario_sha256(result),
        },
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "file": str(scenario.path) if scenario.path else None,
            "model": scenario.network.model,
            "objective": scenario.network.objective,
        },
        "region": {
            "slug": region.slug,
            "name": region.name,
            "code": region.code,
            "year": region.year,
            "cells": len(region.population),
            "candidate_sites": len(region.sites),
            "synthetic_layers": synthetic,
        },
        "solution": {
            "model": getattr(choice.solution, "model", scenario.network.model),
            "solver": getattr(choice.solution, "solver", None),
            "status": choice.status,
            "objective": choice.objective,
            "bound": choice.bound,
            "gap": choice.gap,
            "seconds": choice.seconds,
        },
        "travel_times": {
            "trip_to_full_point_minutes": _mean_parts(result),
            "door_to_door": scenario.travel.car.door_to_door,
            "car_model": scenario.travel.car.car_model(),
            "snap_threshold_m": result.problem.travel_times.snap_threshold_m,
        },
        "data_quality": result.quality.to_dict(),
        "units": {"fields": dict(_FIELD_UNITS), "figures": units_table()},
        "assumptions": scenario.assumptions(),
        "visits_per_agency": dict(result.problem.visits.per_agency),
        "scenario_network": result.estimate.to_dict(),
        "baseline_network": {
            "description": scenario.baseline.description,
            **result.baseline.to_dict(),
        },
        "difference": result.difference.to_dict(),
        "plans": [_plan_summary(result, plan) for plan in result.plans],
        "staffing": _staffing_summary(result.staffing),
        "baseline_staffing": _staffing_summary(result.baseline_staffing),
    }
    return _round(jsonable(summary))


def _mean_parts(result: Result) -> dict[str, float]:
    """Resident-weighted mean minutes of each part of the trip to the nearest full point."""
    parts = trip_parts(result)
    population = result.problem.population
    ok = np.isfinite(parts["drive"]) & (population > 0)
    weights = population[ok]
    if weights.sum() == 0:
        return {name: math.nan for name in parts}
    return {name: float(np.average(v[ok], weights=weights)) for name, v in parts.items()}


def _staffing_summary(staffing: Any) -> dict[str, Any] | None:
    if staffing is None:
        return None
    return {**staffing.to_dict(), "total_cost_eur": staffing.total_cost_eur}


def _plan_summary(result: Result, plan: Any) -> dict[str, Any]:
    ids = result.problem.site_ids
    return {
        "name": plan.name,
        "description": plan.plan.description,
        "full_sites": [ids[k] for k in plan.plan.full],
        "remote_sites": [ids[k] for k in plan.plan.remote],
        "desks": {a: [ids[k] for k in ks] for a, ks in plan.plan.desks.items()},
        "network": plan.estimate.to_dict(),
        "difference": plan.difference.to_dict(),
        "staffing": _staffing_summary(plan.staffing),
    }


# --------------------------------------------------------------------------------------
# The map
# --------------------------------------------------------------------------------------


def result_map(
    result: Result, *, m: Any = None, lang: str = "en", tiles: str | None = "OpenStreetMap"
) -> Any:
    """Draw a run on a Folium map with :func:`optimizer.maps.map_solution`."""
    from optimizer.maps import map_solution

    region, scenario = result.region, result.scenario
    return map_solution(
        result.cells,
        result.sites,
        m=m,
        title=f"{region.name}: {scenario.name}",
        description=scenario.description,
        estimate=result.estimate,
        baseline=result.baseline,
        synthetic_layers=sorted(k for k, v in region.meta.synthetic.items() if v),
        quality=result.quality,
        lang=lang,
        boundary=region.boundary,
        plans={plan.name: plan.assignment.nearest_full_minutes for plan in result.plans},
        tiles=tiles,
    )

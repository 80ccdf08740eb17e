"""Preparing a run: visits per cell, site positions and travel times, computed once."""

from __future__ import annotations

import difflib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from optimizer._names import fold
from optimizer.errors import ScenarioError
from optimizer.estimates import (
    TravelParameters,
    VisitWeights,
    cost_per_visit,
    visit_weights,
)
from optimizer.scenario._positions import KeyPath
from optimizer.scenario.loading import load_scenario
from optimizer.scenario.schema import Scenario
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    from optimizer.region import Region
    from optimizer.traveltimes import TravelTimeMatrix

__all__ = ["PlanSites", "Problem", "Progress", "prepare", "report_step"]

logger = logging.getLogger(__name__)

#: Called with the name of each long step of a run.
Progress = Callable[[str], None]

_AGES = ("age_0_14", "age_15_64", "age_65_plus")


def report_step(progress: Progress | None, step: str) -> None:
    """Log a long step and pass it to ``progress``."""
    logger.info(step)
    if progress is not None:
        progress(step)


# --------------------------------------------------------------------------------------
# Preparing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSites:
    """A scenario's plan resolved to site positions."""

    name: str
    description: str
    full: tuple[int, ...]
    remote: tuple[int, ...]
    desks: Mapping[str, tuple[int, ...]]


def _plan_sites(
    scenario: Scenario, ids: Sequence[str], names: Sequence[str]
) -> tuple[PlanSites, ...]:
    out = []
    for i, plan in enumerate(scenario.plans):
        full = _resolve_sites(scenario, ("plans", i, "full"), plan.full, ids, names)
        remote = _resolve_sites(scenario, ("plans", i, "remote"), plan.remote, ids, names)
        if set(full) & set(remote):
            raise scenario.error(("plans", i, "remote"), "a site is both full and remote")
        desks = {
            agency: tuple(
                sorted(_resolve_sites(scenario, ("plans", i, "desks", agency), sites, ids, names))
            )
            for agency, sites in plan.desks.items()
        }
        out.append(
            PlanSites(
                name=plan.name,
                description=plan.description,
                full=tuple(sorted(set(full))),
                remote=tuple(sorted(set(remote))),
                desks=desks,
            )
        )
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything a run needs once the region and travel times are in memory.

    Attributes
    ----------
    scenario, region
        The scenario and its loaded region.
    travel_times
        Cell-to-site travel times (:class:`optimizer.traveltimes.TravelTimeMatrix`).
    minutes, km
        One-way minutes and km, cells x sites; ``inf`` for unreachable pairs and
        for every pair of a cell beyond the snap threshold.
    far
        Whether each cell lies farther than the snap threshold from the roads.
    population, visits, travel
        Residents and visits per cell; travel parameters.
    required, required_remote, forbidden
        Site positions the scenario (or the bundle's ``required`` flags) fixes.
    site_ids, site_names
        Labels of the sites, aligned with the columns.
    baseline_full, baseline_remote
        Site positions of the baseline network.
    seconds
        Seconds spent loading and computing travel times.
    plans
        The scenario's own plans, resolved to site positions.
    """

    scenario: Scenario
    region: Region
    travel_times: TravelTimeMatrix
    minutes: NDArray[np.float64]
    km: NDArray[np.float64]
    far: NDArray[np.bool_]
    population: NDArray[np.float64]
    visits: VisitWeights
    travel: TravelParameters
    required: tuple[int, ...]
    required_remote: tuple[int, ...]
    forbidden: tuple[int, ...]
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    baseline_full: tuple[int, ...]
    baseline_remote: tuple[int, ...]
    seconds: Mapping[str, float]
    plans: tuple[PlanSites, ...] = ()

    @property
    def groups(self) -> NDArray[np.int64]:
        """Label per cell; cells that snap to one road node share one (exact aggregation)."""
        return self.travel_times.origin_groups

    @cached_property
    def cost(self) -> NDArray[np.float64]:
        """What the model minimises per visit: minutes, or € with the annual-cost objective."""
        if self.scenario.network.objective == "annual_cost":
            return self.euro_cost
        return self.minutes

    @cached_property
    def euro_cost(self) -> NDArray[np.float64]:
        """€ per visit (value of travel time and CO2 of the trip), cells x sites."""
        return cost_per_visit(self.minutes, self.km, self.travel)

    @cached_property
    def served_visits(self) -> VisitWeights:
        """Visits the model can serve: those of cells beyond the snap threshold are zero."""
        keep = ~self.far
        v = self.visits

        def masked(a: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
            return None if a is None else np.where(keep, a, 0.0)

        return VisitWeights(
            in_person_only=np.where(keep, v.in_person_only, 0.0),
            remote_eligible=np.where(keep, v.remote_eligible, 0.0),
            per_agency=v.per_agency,
            agency_in_person=masked(v.agency_in_person),
            agency_remote=masked(v.agency_remote),
        )

    def error(self, key: KeyPath, message: str) -> ScenarioError:
        """Build a :class:`ScenarioError` for ``key`` naming the scenario file and line."""
        return self.scenario.error(key, message)


def _as_scenario(scenario: Scenario | str | os.PathLike[str], settings: Settings) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario, settings=settings)


def _resolve_sites(
    scenario: Scenario, key: KeyPath, refs: Sequence[str], ids: Sequence[str], names: Sequence[str]
) -> list[int]:
    """Turn site ids or names from the scenario into site positions."""
    by_id = {fold(i): k for k, i in enumerate(ids)}
    by_name: dict[str, list[int]] = {}
    for k, name in enumerate(names):
        by_name.setdefault(fold(name), []).append(k)
    out = []
    for i, ref in enumerate(refs):
        folded = fold(ref)
        hits = [by_id[folded]] if folded in by_id else by_name.get(folded, [])
        if len(hits) == 1:
            out.append(hits[0])
            continue
        if hits:
            raise scenario.error(
                (*key, i),
                f"site name {ref!r} matches several sites ({', '.join(ids[h] for h in hits)}); "
                "use a site id",
            )
        close = difflib.get_close_matches(ref, [*ids, *names], n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise scenario.error(
            (*key, i),
            f"no site {ref!r} among the region's {len(ids)} candidate sites{hint} "
            f"(sites: {', '.join(names)})",
        )
    return out


def _baseline_sites(
    scenario: Scenario,
    region: Region,
    required: Sequence[int],
    ids: Sequence[str],
    names: Sequence[str],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    base = scenario.baseline
    if base.sites is not None:
        full: list[int] = []
        remote: list[int] = []
        for i, entry in enumerate(base.sites):
            (k,) = _resolve_sites(
                scenario, ("baseline", "sites", i, "site"), [entry.site], ids, names
            )
            (full if entry.tier == "full" else remote).append(k)
        if set(full) & set(remote):
            raise scenario.error(("baseline", "sites"), "a site is listed as both full and remote")
        if not full:
            raise scenario.error(
                ("baseline", "sites"), "the baseline needs at least one full point"
            )
        return tuple(sorted(set(full))), tuple(sorted(set(remote)))
    kind = region.sites["kind"].to_numpy()
    wanted = {
        "full_point_in_every_municipal_centre": kind == "municipal_centre",
        "existing_offices": kind == "existing_office",
        "required_sites_only": np.zeros(len(kind), dtype=bool),
    }[base.rule]
    chosen = sorted(set(np.flatnonzero(wanted).tolist()) | set(required))
    if not chosen:
        raise scenario.error(
            ("baseline", "rule"),
            f"rule {base.rule!r} selects no site in this region; choose another rule or list sites",
        )
    return tuple(chosen), ()


def prepare(
    scenario: Scenario | str | os.PathLike[str],
    *,
    region: Region | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Problem:
    """Load the region, compute travel times and demand: everything a solve needs, once.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a scenario file, or a shipped scenario's name.
    region
        An already loaded region (e.g. in a notebook); loaded from the
        scenario's ``region`` when ``None``.
    settings
        Environment defaults; read from the environment when ``None``.
    progress
        Called with the name of each long step.

    Returns
    -------
    Problem
        The prepared problem.

    Raises
    ------
    ScenarioError
        If the scenario names sites the region lacks or contradicts the bundle.
    """
    from optimizer.region import load_region
    from optimizer.traveltimes import travel_time_matrix

    settings = settings or get_settings()
    scenario = _as_scenario(scenario, settings)
    seconds: dict[str, float] = {}
    if region is None:
        report_step(progress, "loading region")
        start = time.perf_counter()
        region = load_region(scenario.region_ref(), settings=settings)
        seconds["load"] = time.perf_counter() - start
    grid = region.population
    population = grid["population"].to_numpy(dtype=np.float64)
    ages = grid[list(_AGES)].to_numpy(dtype=np.float64) if set(_AGES) <= set(grid) else None
    visits = visit_weights(population, scenario.agencies, ages=ages)
    ids = tuple(str(i) for i in region.sites.index)
    names = tuple(str(n) for n in region.sites["name"])
    net = scenario.network
    required = _resolve_sites(
        scenario, ("network", "required_sites"), net.required_sites, ids, names
    )
    flagged = np.flatnonzero(region.sites["required"].to_numpy(dtype=bool)).tolist()
    required = sorted(set(required) | set(flagged))
    required_remote = _resolve_sites(
        scenario, ("network", "required_remote_sites"), net.required_remote_sites, ids, names
    )
    forbidden = _resolve_sites(
        scenario, ("network", "forbidden_sites"), net.forbidden_sites, ids, names
    )
    clash = sorted(set(required) & (set(required_remote) | set(forbidden)))
    if clash:
        key = "required_remote_sites" if set(clash) & set(required_remote) else "forbidden_sites"
        raise scenario.error(
            ("network", key),
            f"site(s) {', '.join(ids[k] for k in clash)} must stay open as full points "
            "(required in the scenario or in the region bundle)",
        )
    base_full, base_remote = _baseline_sites(scenario, region, required, ids, names)
    plans = _plan_sites(scenario, ids, names)
    report_step(progress, "computing travel times")
    start = time.perf_counter()
    tt = travel_time_matrix(
        region,
        region.population,
        region.sites,
        car=scenario.travel.car.car_model(),
        settings=settings,
        **(
            {"snap_threshold_m": scenario.travel.car.snap_threshold_m}
            if scenario.travel.car.snap_threshold_m is not None
            else {}
        ),
    )
    seconds["travel_times"] = time.perf_counter() - start
    far = tt.origin_snap["far"].to_numpy(dtype=bool)
    minutes, km = tt.minutes, tt.km
    if far.any():
        minutes = minutes.copy()
        km = km.copy()
        minutes[far] = np.inf
        km[far] = np.inf
        logger.warning(
            "%s residents in %d cells lie farther than %g m from the roads; they count as "
            "unreachable",
            f"{population[far].sum():,.0f}",
            int(far.sum()),
            tt.snap_threshold_m,
        )
    return Problem(
        scenario=scenario,
        region=region,
        travel_times=tt,
        minutes=minutes,
        km=km,
        far=far,
        population=population,
        visits=visits,
        travel=TravelParameters.from_travel(scenario.travel),
        required=tuple(required),
        required_remote=tuple(required_remote),
        forbidden=tuple(forbidden),
        site_ids=ids,
        site_names=names,
        baseline_full=base_full,
        baseline_remote=base_remote,
        seconds=seconds,
        plans=plans,
    )

"""Running a scenario: prepare once, solve with the scenario's model, estimate against the baseline.

The path of one run:

1. :func:`prepare` loads the region (or takes a loaded one), turns the
   agencies' visit rates into visits per cell, resolves the scenario's site
   names, computes the cell-to-site travel times once and marks the residents
   farther than the snap threshold from the roads as unreachable (they are
   never "served" by a straight-line leg). The result is a :class:`Problem`,
   which holds the cost matrix the model minimises, computed once.
2. :func:`solve_network` builds the scenario's location model
   (``[network] model``, any of :data:`~optimizer.scenario.MODEL_NAMES`) from
   the problem and solves it. Infeasibility found by the model is reported
   with the scenario file and line of the key at fault.
3. :func:`evaluate` assigns the cells to a network once and estimates access,
   travel, CO2 and costs; :func:`run_scenario` does it for the chosen network
   and the baseline and returns a typed :class:`ScenarioResult`.

Writing the outputs is :mod:`optimizer.outputs`' job.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer._names import run_name
from optimizer.estimates import (
    FIGURES,
    CellAssignment,
    DataQuality,
    EstimateDifference,
    NetworkEstimate,
    assign_cells,
    compare_estimates,
    data_quality,
    estimate_network,
)
from optimizer.scenario.schema import Scenario
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from optimizer.region import Region
from optimizer.scenario.problem import PlanSites, Problem, Progress, prepare, report_step
from optimizer.scenario.solve import Choice, solve_network
from optimizer.scenario.staffing import (
    Staffing,
    agency_model,
    has_staffing,
    staffing_for,
    staffing_of,
)
from optimizer.scenario.views import cells_frame, result_map, sites_frame, summary_of

__all__ = [
    "PlanResult",
    "ScenarioResult",
    "evaluate",
    "evaluate_choice",
    "evaluate_plans",
    "run_prepared",
    "run_scenario",
]

# --------------------------------------------------------------------------------------
# Estimating
# --------------------------------------------------------------------------------------


def evaluate(
    problem: Problem,
    full: Sequence[int],
    remote: Sequence[int] = (),
    *,
    assign_full: NDArray[np.int64] | None = None,
    assign_any: NDArray[np.int64] | None = None,
) -> tuple[CellAssignment, NetworkEstimate]:
    """Assign the cells to one network (once) and estimate it.

    Parameters
    ----------
    problem
        The prepared problem.
    full, remote
        Site positions of the network's full and remote points.
    assign_full, assign_any
        A model's assignment; by default each visit goes to the nearest open
        point of the tier it needs.

    Returns
    -------
    tuple
        The cells' :class:`~optimizer.estimates.CellAssignment` and the
        network's :class:`~optimizer.estimates.NetworkEstimate`.
    """
    net = problem.scenario.network
    a = assign_cells(
        problem.minutes,
        problem.km,
        full=full,
        remote=remote,
        assign_full=assign_full,
        assign_any=assign_any,
    )
    estimate = estimate_network(
        problem.population,
        problem.visits,
        full=full,
        remote=remote,
        travel=problem.travel,
        full_point_cost=net.full_point_annual_cost_eur,
        remote_point_cost=net.remote_point_annual_cost_eur,
        site_ids=problem.site_ids,
        site_names=problem.site_names,
        assignment=a,
        n_sites=len(problem.site_ids),
    )
    return a, estimate


def evaluate_choice(problem: Problem, choice: Choice) -> tuple[CellAssignment, NetworkEstimate]:
    """:func:`evaluate` the network a model chose, with the model's own assignment."""
    return evaluate(
        problem,
        choice.full,
        choice.remote,
        assign_full=choice.assign_full,
        assign_any=choice.assign_any,
    )


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A planner's plan evaluated with the same estimates as the optimum (no solver).

    Attributes
    ----------
    plan
        The plan's name, description and site positions.
    estimate
        Its estimate; ``difference`` is the plan minus the baseline.
    assignment
        Where each cell's visits go under the plan.
    staffing
        Desks and officials under the plan (``None`` without staffing figures).
    """

    plan: PlanSites
    estimate: NetworkEstimate
    difference: EstimateDifference
    assignment: CellAssignment
    staffing: Staffing | None = None

    @property
    def name(self) -> str:
        """The plan's name."""
        return self.plan.name


def evaluate_plans(
    problem: Problem, baseline: NetworkEstimate, *, model: Any = None
) -> tuple[PlanResult, ...]:
    """Evaluate every plan of the problem's scenario against the baseline (no solver)."""
    out = []
    for plan in problem.plans:
        assignment, estimate = evaluate(problem, plan.full, plan.remote)
        out.append(
            PlanResult(
                plan=plan,
                estimate=estimate,
                difference=compare_estimates(estimate, baseline),
                assignment=assignment,
                staffing=staffing_for(
                    problem, plan.full, plan.remote, desks=plan.desks, model=model
                ),
            )
        )
    return tuple(out)


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """The outcome of :func:`run_scenario`: typed records, ready for every output.

    Attributes
    ----------
    scenario
        The scenario that was run.
    region
        The region (its slug names the output folder).
    choice
        The chosen network and the solver's status, objective, bound and gap.
    estimate, baseline, difference
        Estimates of the chosen network and of the baseline, and their difference.
    assignment, baseline_assignment
        Where each cell's visits go in the two networks.
    quality
        Data quality: residents beyond the snap threshold and unreachable.
    problem
        The prepared problem (travel times, visits, site positions).
    started
        When the run started (UTC).
    seconds
        Seconds per stage.
    plans
        The scenario's own plans, evaluated beside the optimum.
    staffing, baseline_staffing
        Agency desks and officials of the chosen network and of the baseline
        (``None`` unless every agency gives ``visits_per_fte``).
    """

    scenario: Scenario
    region: Region
    choice: Choice
    estimate: NetworkEstimate
    baseline: NetworkEstimate
    difference: EstimateDifference
    assignment: CellAssignment
    baseline_assignment: CellAssignment
    quality: DataQuality
    problem: Problem
    started: dt.datetime
    seconds: Mapping[str, float]
    plans: tuple[PlanResult, ...] = ()
    staffing: Staffing | None = None
    baseline_staffing: Staffing | None = None

    @property
    def solution(self) -> Any:
        """The model's :class:`~optimizer.models.Solution`."""
        return self.choice.solution

    @property
    def name(self) -> str:
        """``<region>-<scenario>``: the name of the run's output folder."""
        return run_name(self.region.slug, self.scenario.name)

    @cached_property
    def cells(self) -> gpd.GeoDataFrame:
        """Grid cells with visits, assigned sites and minutes (see :mod:`optimizer.outputs`)."""
        return cells_frame(self)

    @cached_property
    def sites(self) -> gpd.GeoDataFrame:
        """Candidate sites with their role now and in the baseline, and their load."""
        return sites_frame(self)

    @cached_property
    def summary(self) -> Mapping[str, Any]:
        """What ``summary.json`` holds (see :func:`optimizer.scenario.views.summary_of`)."""
        return summary_of(self)

    def headline(self) -> pd.DataFrame:
        """Return every headline figure: scenario, baseline, change and unit.

        Returns
        -------
        pandas.DataFrame
            One row per figure of :data:`optimizer.estimates.FIGURES`, indexed by
            its label, with columns ``scenario``, ``baseline``, ``change`` and ``unit``.
        """
        import pandas as pd

        rows = {
            fig.label: {
                "scenario": fig.value(self.estimate),
                "baseline": fig.value(self.baseline),
                "change": fig.value(self.difference),
                "unit": fig.unit,
            }
            for fig in FIGURES
        }
        return pd.DataFrame.from_dict(rows, orient="index")

    def map(self, *, m: Any = None, lang: str = "en", tiles: str | None = "OpenStreetMap") -> Any:
        """Draw the result on a Folium map (:func:`optimizer.scenario.views.result_map`)."""
        return result_map(self, m=m, lang=lang, tiles=tiles)

    def _repr_html_(self) -> str:
        return str(self.map()._repr_html_())


def run_scenario(
    scenario: Scenario | str | os.PathLike[str],
    *,
    region: Region | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Design the network of a scenario and estimate it against the baseline.

    Loads the region (unless given), computes cell-to-site travel times, turns
    the agencies' visit rates into per-cell demand, solves the scenario's
    location model (default :class:`optimizer.models.TwoTier`) and estimates
    access, travel, CO2 and costs of the chosen network and of the baseline.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a scenario file, or a shipped scenario's name.
    region
        A region already loaded (e.g. in a notebook); default: the scenario's.
    settings
        Environment defaults; read from the environment when ``None``.
    progress
        Called with the name of each long step ("loading region", "computing
        travel times", "solving", "estimating"); quiet when ``None``.

    Returns
    -------
    ScenarioResult
        Typed estimates, cells and sites GeoDataFrames and the solution;
        renders its map inline in Jupyter.

    Raises
    ------
    ScenarioError
        If the scenario is invalid or names sites the region lacks.
    InfeasibleError
        If no network can meet the scenario's constraints (the message names
        the key and line, and the cells at fault).
    """
    started = dt.datetime.now(dt.UTC)
    settings = settings or get_settings()
    problem = prepare(scenario, region=region, settings=settings, progress=progress)
    return run_prepared(problem, settings=settings, progress=progress, started=started)


def run_prepared(
    problem: Problem,
    *,
    settings: Settings,
    progress: Progress | None = None,
    started: dt.datetime | None = None,
) -> ScenarioResult:
    """Solve and estimate a prepared scenario (the part of :func:`run_scenario` after loading).

    Parameters
    ----------
    problem
        The scenario prepared by :func:`optimizer.scenario.prepare`.
    settings
        Environment defaults.
    progress
        Called with the name of each long step.
    started
        When the run started (default: now).
    """
    started = started or dt.datetime.now(dt.UTC)
    report_step(progress, "solving")
    choice = solve_network(problem, settings=settings)
    report_step(progress, "estimating")
    start = time.perf_counter()
    assignment, estimate = evaluate_choice(problem, choice)
    base_assignment, baseline = evaluate(problem, problem.baseline_full, problem.baseline_remote)
    from optimizer.models import AgencySolution

    model = agency_model(problem) if has_staffing(problem) else None
    plans = evaluate_plans(problem, baseline, model=model)
    if isinstance(choice.solution, AgencySolution):
        staffing = staffing_of(problem, choice.solution)
    else:
        staffing = staffing_for(problem, choice.full, choice.remote, model=model)
    base_staffing = staffing_for(
        problem, problem.baseline_full, problem.baseline_remote, model=model
    )
    quality = data_quality(
        problem.population,
        problem.region.population.index,
        far=problem.far,
        nearest_any_minutes=assignment.nearest_any_minutes,
        snap_threshold_m=problem.travel_times.snap_threshold_m,
    )
    seconds = {
        **problem.seconds,
        "solve": choice.seconds,
        "estimate": time.perf_counter() - start,
    }
    return ScenarioResult(
        scenario=problem.scenario,
        region=problem.region,
        choice=choice,
        estimate=estimate,
        baseline=baseline,
        difference=compare_estimates(estimate, baseline),
        assignment=assignment,
        baseline_assignment=base_assignment,
        quality=quality,
        problem=problem,
        started=started,
        seconds=seconds,
        plans=plans,
        staffing=staffing,
        baseline_staffing=base_staffing,
    )

"""Solving a prepared problem with the scenario's location model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import InfeasibleError
from optimizer.estimates import (
    cost_per_visit,
)
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    pass
from collections.abc import Mapping

from optimizer.scenario._positions import KeyPath
from optimizer.scenario.problem import Problem

#: Model keywords (``InfeasibleError.parameter``) -> the scenario key they come from.
_KEY_OF_PARAMETER: Mapping[str, KeyPath] = {
    "n_full": ("network", "full_points"),
    "p": ("network", "full_points"),
    "n_remote": ("network", "remote_points"),
    "required": ("network", "required_sites"),
    "required_remote": ("network", "required_remote_sites"),
    "forbidden": ("network", "forbidden_sites"),
    "coverage_minutes": ("network", "access_standard", "minutes"),
    "radius": ("network", "access_standard", "minutes"),
    "budget": ("network", "budget_eur"),
    "budget_full": ("network", "budget_eur"),
    "budget_remote": ("network", "budget_eur"),
    "site_cost_full": ("network", "full_point_annual_cost_eur"),
    "site_cost_remote": ("network", "remote_point_annual_cost_eur"),
    "site_costs": ("network", "full_point_annual_cost_eur"),
    "presence": ("agencies",),
    "access_minutes": ("network", "access_standard", "minutes"),
    "desk_capacity": ("agencies",),
}

__all__ = ["Choice", "build_model", "solve_network"]

# --------------------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """The network a model chose, in site positions (``-1`` = no site)."""

    full: tuple[int, ...]
    remote: tuple[int, ...]
    assign_full: NDArray[np.int64] | None
    assign_any: NDArray[np.int64] | None
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    solution: Any


def _site_cost_vector(problem: Problem) -> NDArray[np.float64]:
    """Annual cost of each site as a full point: its own ``annual_cost`` or the scenario's."""
    uniform = problem.scenario.network.full_point_annual_cost_eur
    own = problem.region.sites.get("annual_cost")
    if own is None:
        return np.full(len(problem.site_ids), uniform)
    values = own.to_numpy(dtype=np.float64)
    return np.where(np.isfinite(values), values, uniform)


def _soft_penalty(problem: Problem) -> NDArray[np.float64] | None:
    standard = problem.scenario.network.access_standard
    if standard is None or standard.hard:
        return None
    per_visit = standard.penalty
    if per_visit is None:  # each visit outside the standard costs `minutes` more
        if problem.scenario.network.objective == "travel_time":
            per_visit = standard.minutes
        else:
            per_visit = float(
                cost_per_visit(np.array([[standard.minutes]]), np.zeros((1, 1)), problem.travel)[
                    0, 0
                ]
            )
    return per_visit * problem.served_visits.total


def build_model(
    problem: Problem,
    full_points: tuple[int, int] | None,
    remote_points: tuple[int, int] | None,
) -> Any:
    """Build the scenario's location model from the prepared problem."""
    from optimizer import models

    net = problem.scenario.network
    common: dict[str, Any] = {
        "required": list(problem.required),
        "forbidden": list(problem.forbidden),
        "site_ids": list(problem.site_ids),
        "demand_ids": [str(c) for c in problem.region.population.index],
    }
    if net.model == "agency_two_tier":
        from optimizer.scenario.staffing import agency_model

        return agency_model(problem, full_points=full_points, remote_points=remote_points)
    visits = problem.served_visits
    standard = net.access_standard
    if net.model == "two_tier":
        (f_lo, f_hi), (r_lo, r_hi) = net.count_bounds(len(problem.site_ids))
        annual = net.objective == "annual_cost"
        return models.TwoTier.from_cost_matrix(
            problem.cost,
            w_full=visits.in_person_only,
            w_remote=visits.remote_eligible,
            n_full=full_points or (f_lo, f_hi),
            n_remote=remote_points or (r_lo, r_hi),
            site_cost_full=net.full_point_annual_cost_eur if annual else None,
            site_cost_remote=net.remote_point_annual_cost_eur if annual else None,
            coverage_minutes=standard.minutes if standard is not None else None,
            coverage_matrix=problem.minutes if standard is not None else None,
            coverage="hard" if standard is None or standard.hard else "soft",
            coverage_penalty=_soft_penalty(problem),
            required_remote=list(problem.required_remote),
            origin_groups=problem.groups,
            **common,
        )
    weights = visits.total
    p = (full_points or net.full_points or (0, 0))[0]
    if net.model in (
        "p_median",
        "capacitated_p_median",
        "fixed_charge",
        "capacitated_fixed_charge",
    ):
        common["origin_groups"] = problem.groups
    if net.model in ("capacitated_p_median", "capacitated_fixed_charge"):
        capacity = problem.region.sites.get("capacity")
        values = capacity.to_numpy(dtype=np.float64) if capacity is not None else None
        if values is None or not np.isfinite(values).all():
            missing = (
                list(problem.site_ids)
                if values is None
                else [problem.site_ids[k] for k in np.flatnonzero(~np.isfinite(values))]
            )
            raise problem.error(
                ("network", "model"),
                f"model {net.model!r} needs a capacity (visits per year) for every site; the "
                f"region's sites layer has none for {', '.join(missing[:10])}; add a 'capacity' "
                "field or choose another model",
            )
        common["capacities"] = values
    if net.model == "p_median":
        return models.PMedian.from_cost_matrix(problem.cost, p=p, weights=weights, **common)
    if net.model == "p_center":
        return models.PCenter.from_cost_matrix(problem.minutes, p=p, weights=weights, **common)
    if net.model == "mclp":
        assert standard is not None
        return models.MCLP.from_cost_matrix(
            problem.minutes, radius=standard.minutes, p=p, weights=weights, **common
        )
    if net.model == "lscp":
        assert standard is not None
        return models.LSCP.from_cost_matrix(
            problem.minutes,
            radius=standard.minutes,
            site_costs=_site_cost_vector(problem),
            weights=weights,
            **common,
        )
    if net.model == "capacitated_p_median":
        return models.CapacitatedPMedian.from_cost_matrix(
            problem.cost, p=p, weights=weights, **common
        )
    # fixed-charge models weigh the € of travel against the € of the sites
    cls = models.FixedCharge if net.model == "fixed_charge" else models.CapacitatedFixedCharge
    return cls.from_cost_matrix(
        problem.euro_cost, site_costs=_site_cost_vector(problem), weights=weights, **common
    )


def _translate(problem: Problem, exc: InfeasibleError) -> InfeasibleError:
    """Point an infeasibility found by the model at the scenario file and line."""
    scenario = problem.scenario
    key = _KEY_OF_PARAMETER.get(exc.parameter or "", ("network",))
    line = scenario.line_of(*key)
    where = f"{scenario.path or '<scenario>'}" + (f", line {line}" if line else "")
    cells = problem.region.population.index
    named = ", ".join(str(cells[r]) for r in exc.rows[:10] if 0 <= r < len(cells))
    more = f" and {len(exc.rows) - 10} more" if len(exc.rows) > 10 else ""
    standard = scenario.network.access_standard
    if exc.parameter in ("coverage_minutes", "radius") and standard is not None and exc.rows:
        message = (
            f"no network can meet the access standard of {standard.minutes:g} min ({where}): "
            f"{len(exc.rows)} populated cells are farther from every allowed site: "
            f"{named}{more}; raise the standard, make it soft (hard = false) or add sites"
        )
    else:
        message = f"{where}: {'.'.join(map(str, key))}: {exc}"
        if named:
            message += f" (cells {named}{more})"
    return InfeasibleError(message, parameter=exc.parameter, rows=exc.rows, sites=exc.sites)


def _choice(solution: Any) -> Choice:
    tiers = dict(zip(solution.open_sites, solution.tiers, strict=True))
    assign_any = solution.assignment_any if solution.assignment_any is not None else None
    return Choice(
        full=tuple(sorted(int(k) for k, t in tiers.items() if t == "full")),
        remote=tuple(sorted(int(k) for k, t in tiers.items() if t == "remote")),
        assign_full=np.asarray(solution.assignment, dtype=np.int64),
        assign_any=None if assign_any is None else np.asarray(assign_any, dtype=np.int64),
        status=solution.status,
        objective=solution.objective,
        bound=solution.bound,
        gap=solution.gap,
        seconds=solution.seconds,
        solution=solution,
    )


def solve_network(
    problem: Problem,
    *,
    full_points: tuple[int, int] | None = None,
    remote_points: tuple[int, int] | None = None,
    settings: Settings | None = None,
    model: Any = None,
) -> Choice:
    """Build and solve the scenario's model on a prepared problem.

    ``full_points``/``remote_points`` override the scenario's count bounds
    (a sweep fixes them per grid point). With the two-tier model, the
    objective is the visit-weighted travel time, or with ``objective =
    "annual_cost"`` the annual cost: site costs plus the value of travel time
    and the CO2 price of every trip; the access standard is in minutes either way.
    ``model`` is a two-tier model built earlier for this problem
    (:func:`build_model`): its count-free setup is reused for the new counts.

    Raises
    ------
    InfeasibleError
        If no network fits; the message names the scenario key and line at fault.
    """
    settings = settings or get_settings()
    net = problem.scenario.network
    if (
        net.model == "two_tier"
        and net.budget_eur is not None
        and not (full_points or remote_points)
    ):
        return _solve_budget(problem, settings=settings)
    options = problem.scenario.solver
    try:
        if model is not None and hasattr(model, "with_counts") and full_points and remote_points:
            model = model.with_counts(n_full=full_points, n_remote=remote_points)
        else:
            model = build_model(problem, full_points, remote_points)
        solution = model.solve(
            solver=options.name or settings.solver,
            time_limit=options.time_limit,
            mip_gap=options.mip_gap,
        )
    except InfeasibleError as exc:
        raise _translate(problem, exc) from None
    return _choice(solution)


def _solve_budget(problem: Problem, *, settings: Settings) -> Choice:
    """Best two-tier network within ``network.budget_eur``: every affordable count pair.

    A point of a tier costs the same everywhere in a scenario, so the budget
    allows exactly the count pairs with ``n_full * cost_full + n_remote *
    cost_remote <= budget``. With the travel-time objective more points never
    hurt, so only the largest affordable remote count per full count is
    solved. The cost matrix is the problem's, computed once.
    """
    net = problem.scenario.network
    assert net.budget_eur is not None
    n_sites = len(problem.site_ids)
    (f_lo, f_hi), (r_lo, r_hi) = net.count_bounds(n_sites)
    pairs = [
        (nf, nr)
        for nf in range(f_lo, f_hi + 1)
        for nr in range(r_lo, min(r_hi, n_sites - nf) + 1)
        if nf * net.full_point_annual_cost_eur + nr * net.remote_point_annual_cost_eur
        <= net.budget_eur + 1e-9
    ]
    if net.objective == "travel_time":
        top = {nf: max(nr for f, nr in pairs if f == nf) for nf, _ in pairs}
        pairs = sorted(top.items())
    if not pairs:
        raise problem.error(
            ("network", "budget_eur"), "no allowed number of points fits in the budget"
        )
    model = build_model(problem, None, None)  # row groups and cover sets, built once
    choices = [
        solve_network(
            problem,
            full_points=(nf, nf),
            remote_points=(nr, nr),
            settings=settings,
            model=model,
        )
        for nf, nr in pairs
    ]
    best = min(choices, key=lambda c: c.objective)
    # the comparison is only as good as the weakest solve: report the worst status
    rank = {"optimal": 0, "gap_limit": 1, "time_limit": 2}
    worst = max((c.status for c in choices), key=lambda status: rank.get(status, 3))
    return dataclasses.replace(best, status=worst) if worst != best.status else best

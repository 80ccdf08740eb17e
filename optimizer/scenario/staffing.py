"""Staffing: which agency keeps a desk at which full point, its visits and officials.

Each agency serves at the joint points with its own staff (a desk at a full
point) or through the shared remote service (its remote pool, whose officials
sit at its desks). :func:`agency_model` builds the
:class:`~optimizer.models.AgencyTwoTier` model of a prepared problem, used
both to optimise (``[network] model = "agency_two_tier"``) and to price any
fixed network without a solver (:func:`staffing_for`): the optimum of another
model, the baseline and each plan. Staffing needs ``visits_per_fte`` for
every agency; without it no staffing is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer._json import Record
from optimizer.scenario.problem import Problem

if TYPE_CHECKING:
    from optimizer.models import AgencySolution, AgencyTwoTier

__all__ = ["Staffing", "StaffingRow", "agency_model", "has_staffing", "staffing_for", "staffing_of"]


@dataclass(frozen=True)
class StaffingRow(Record):
    """One agency at one full point (``site_id = "remote pool"`` for its pool)."""

    agency: str
    agency_name: str
    site_id: str
    site_name: str
    desk: bool
    visits: float
    fte: float


@dataclass(frozen=True)
class Staffing(Record):
    """The staffing of one network.

    Attributes
    ----------
    rows
        Agency by full point (desk or not, in-person visits a year, FTE), then
        one ``remote pool`` row per agency.
    desks
        Desks in all.
    fte
        Officials (FTE) in all, at desks and in the pools.
    pool_fte
        FTE of each agency's remote pool.
    desk_cost_eur, staff_cost_eur
        Annual cost of the desks and of the staff.
    """

    rows: tuple[StaffingRow, ...]
    desks: int
    fte: float
    pool_fte: Mapping[str, float]
    desk_cost_eur: float
    staff_cost_eur: float

    @property
    def total_cost_eur(self) -> float:
        """Desks and staff, a year."""
        return self.desk_cost_eur + self.staff_cost_eur


def has_staffing(problem: Problem) -> bool:
    """Whether every agency of the scenario gives ``visits_per_fte``."""
    return all(a.visits_per_fte is not None for a in problem.scenario.agencies.values())


def _presence(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def agency_model(
    problem: Problem,
    *,
    full_points: tuple[int, int] | None = None,
    remote_points: tuple[int, int] | None = None,
) -> AgencyTwoTier:
    """Build the agency two-tier model of a prepared problem.

    With ``objective = "annual_cost"`` the model weighs site, desk and staff
    costs against the value of the travellers' time (round trips when the
    scenario says so); with ``"travel_time"`` it minimises visit-minutes and
    the costs are reported, not optimised.
    """
    from optimizer.models import AgencyTwoTier

    scenario = problem.scenario
    net, travel = scenario.network, scenario.travel
    agencies = scenario.agencies
    visits = problem.served_visits
    assert visits.agency_in_person is not None and visits.agency_remote is not None
    annual = net.objective == "annual_cost"
    (f_lo, f_hi), (r_lo, r_hi) = net.count_bounds(len(problem.site_ids))
    standard = net.access_standard
    per_agency = list(agencies.values())
    return AgencyTwoTier.from_cost_matrix(
        problem.minutes,
        visits_in_person=visits.agency_in_person,
        visits_remote=visits.agency_remote,
        visits_per_fte=[a.visits_per_fte for a in per_agency],
        agencies=list(agencies),
        n_full=full_points or (f_lo, f_hi),
        n_remote=remote_points or (r_lo, r_hi),
        site_cost_full=net.full_point_annual_cost_eur if annual else None,
        site_cost_remote=net.remote_point_annual_cost_eur if annual else None,
        desk_cost=[a.desk_annual_cost_eur for a in per_agency] if annual else None,
        staff_cost=[a.staff_annual_cost_eur for a in per_agency] if annual else None,
        presence=[_presence(a.presence) for a in per_agency],
        access_minutes=standard.minutes if standard is not None else None,
        access="hard" if standard is None or standard.hard else "soft",
        access_penalty=(standard.penalty or 0.0) if standard and not standard.hard else None,
        budget=net.budget_eur if annual else None,
        travel_weight=(
            travel.value_of_time_eur_per_hour / 60.0 * (2.0 if travel.round_trip else 1.0)
            if annual
            else 1.0
        ),
        required=list(problem.required),
        required_remote=list(problem.required_remote),
        forbidden=list(problem.forbidden),
        site_ids=list(problem.site_ids),
        demand_ids=[str(c) for c in problem.region.population.index],
        origin_groups=problem.groups,
    )


def staffing_of(problem: Problem, solution: AgencySolution) -> Staffing:
    """Turn an agency model's solution (optimised or priced) into a :class:`Staffing`."""
    agencies = problem.scenario.agencies
    rows = []
    desks = 0
    desk_cost = 0.0
    for record in solution.staffing():
        key = record["agency"]
        agency = agencies[key]
        pool = record["site"] < 0
        site = None if pool else int(record["site"])
        rows.append(
            StaffingRow(
                agency=key,
                agency_name=agency.name,
                site_id="remote pool" if site is None else problem.site_ids[site],
                site_name="remote pool" if site is None else problem.site_names[site],
                desk=bool(record["desk"]),
                visits=float(np.nan_to_num(record["visits"])),
                fte=float(record["fte"]),
            )
        )
        if record["desk"]:
            desks += 1
            desk_cost += agency.desk_annual_cost_eur
    fte_by_agency: dict[str, float] = {}
    for row in rows:
        fte_by_agency[row.agency] = fte_by_agency.get(row.agency, 0.0) + row.fte
    staff_cost = sum(agencies[k].staff_annual_cost_eur * v for k, v in fte_by_agency.items())
    return Staffing(
        rows=tuple(rows),
        desks=desks,
        fte=float(sum(fte_by_agency.values())),
        pool_fte=dict(solution.pool_fte),
        desk_cost_eur=desk_cost,
        staff_cost_eur=float(staff_cost),
    )


def staffing_for(
    problem: Problem,
    full: Sequence[int],
    remote: Sequence[int] = (),
    *,
    desks: Mapping[str, Sequence[int]] | None = None,
    model: AgencyTwoTier | None = None,
) -> Staffing | None:
    """Price the staffing of a fixed network without a solver (``None`` without figures).

    Agencies not in ``desks`` keep a desk at every full point; in-person visits
    go to the agency's nearest desk.
    """
    if not has_staffing(problem) or not full:
        return None
    model = model or agency_model(problem)
    given = {k: list(v) for k, v in (desks or {}).items()}
    solution = model.evaluate_plan(full=list(full), remote=list(remote), desks=given)
    return staffing_of(problem, solution)

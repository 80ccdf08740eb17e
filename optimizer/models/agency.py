"""The agency two-tier model: full and remote points, agency desks and staffing."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.models._agency import (
    AgencySolution,
    Presence,
    as_agency_matrix,
    as_agency_values,
    check_budget,
    network_figures,
    parse_presence,
)
from optimizer.models._agency_problem import agency_problem
from optimizer.models._base import Outcome, SolveContext
from optimizer.models._inputs import (
    RowGroups,
    demand_names,
    group_rows,
    resolve_sites,
    unique_sets,
)
from optimizer.models._problem import DistanceProblem
from optimizer.models._tiers import Count, TieredModel

__all__ = ["AgencySolution", "AgencyTwoTier"]


@dataclass(eq=False, repr=False, kw_only=True)
class AgencyTwoTier(TieredModel):
    r"""Full and remote points, the desks each agency keeps at full points, and staffing.

    Each agency :math:`a` has, per demand row (cell) :math:`i`, in-person-only
    visits :math:`v_{ai}` (``visits_in_person``) and remote-eligible visits
    :math:`e_{ai}` (``visits_remote``), in visits a year. A site is closed, a
    full point or a remote point. Agency :math:`a` keeps a desk only at open
    full points; its in-person visits go to its nearest desk (with
    ``desk_capacity``: are split over its desks within their capacity), and
    its remote-eligible visits go to the nearest open point of either tier,
    where a video link connects them to the agency's remote pool, whose
    officials sit at the agency's desks (so an agency with any visits keeps at
    least one desk). Staff needed is visits / visits per FTE
    (:math:`q_a`), at each desk and in the pool.

    **Variables.** :math:`f_j, r_j \in \{0,1\}`: site :math:`j` is a full /
    remote point; :math:`d_{aj} \in \{0,1\}`: agency :math:`a` has a desk at
    :math:`j`; :math:`u_{as} \in [0,1]`: the rows of access set :math:`s` of
    agency :math:`a` have no desk within the standard (soft standard only);
    :math:`x_{aij} \in [0,1]`: share of :math:`v_{ai}` served at desk
    :math:`j` (with desk capacity only).

    **Formulation.** With travel minutes :math:`t_{ij}` (``inf`` = cannot
    serve), travel weight :math:`\omega` (EUR per visit-minute), site costs
    :math:`F_j, R_j`, desk cost :math:`K_a`, staff cost per FTE :math:`S_a`
    and access sets :math:`N_{ai} = \{j : t_{ij} \le T_a\}`:

    .. math::

        \min\; & \sum_j (F_j f_j + R_j r_j) + \sum_{a,j} K_a d_{aj}
               + \sum_a \frac{S_a}{q_a} \sum_i (v_{ai} + e_{ai}) \\
               & + \omega \sum_{a,i} v_{ai} \min_{j: d_{aj} = 1} t_{ij}
               + \omega \sum_i \Big(\sum_a e_{ai}\Big) \min_{j: f_j + r_j = 1} t_{ij}
               + \sum_{a,s} \pi_{as} u_{as} \\
        \text{s.t. } & f_j + r_j \le 1,\quad d_{aj} \le f_j && \forall a, j \\
        & L_F \le \textstyle\sum_j f_j \le U_F,\quad L_R \le \sum_j r_j \le U_R
          && \text{(counts)} \\
        & d_{aj} = f_j \ \forall j \ \text{(agency at every full point), or }
          L_a \le \textstyle\sum_j d_{aj} \le U_a && \forall a \\
        & \textstyle\sum_j d_{aj} \ge 1 && \forall a \text{ with visits} \\
        & \textstyle\sum_{j \in N_{ai}} d_{aj} \ge 1 \ \text{(hard)}, \quad
          u_{as} + \sum_{j \in N_{as}} d_{aj} \ge 1 \ \text{(soft)}
          && \forall a, i: v_{ai} > 0 \\
        & \textstyle\sum_j (F_j f_j + R_j r_j) + \sum_{a,j} K_a d_{aj}
          + \sum_a \frac{S_a}{q_a} \sum_i (v_{ai} + e_{ai}) \le B && \text{(budget)} \\
        & f_j = 1\ (j \in \text{required}),\ r_j = 1\ (j \in \text{required\_remote}),\
          f_j = r_j = 0\ (j \in \text{forbidden}).

    The staff term is a constant: every visit is served, so each agency needs
    :math:`\sum_i (v_{ai} + e_{ai}) / q_a` FTE whatever the network; the
    network decides where they sit (desk FTE = the desk's in-person visits /
    :math:`q_a`; pool FTE = :math:`\sum_i e_{ai} / q_a`). The soft penalty of
    a set is :math:`\pi_{as} = p_a \sum_{i \in s} v_{ai}` (``access_penalty``
    per in-person visit without a desk within :math:`T_a`).

    Without desk capacity the nearest-point terms are linearised exactly as in
    :class:`~optimizer.models.TwoTier` (one Elloumi block per agency over
    :math:`d_{a\cdot}`, one over :math:`f + r`) and solved by the same compact
    or Benders engine. With desk capacity :math:`C_a` the in-person term is an
    explicit assignment (compact MILP only):

    .. math::

        \omega \sum_{a,i,j} v_{ai} t_{ij} x_{aij},\quad
        \textstyle\sum_j x_{aij} = 1,\quad x_{aij} \le d_{aj},\quad
        \sum_i v_{ai} x_{aij} \le C_a d_{aj}.

    Rows are merged exactly as in the other models (identical rows, and rows
    of one ``origin_groups`` label that differ by a constant).

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` travel minutes (``np.inf`` = cannot serve).
    visits_in_person, visits_remote
        ``agencies x n_demand`` visits a year: in-person only, and remote
        eligible.
    visits_per_fte
        Visits one FTE serves in a year, per agency (or one scalar).
    agencies
        Agency names (default ``"agency_0"``, ...).
    n_full, n_remote
        Points per tier: an int (exact), a ``(min, max)`` pair, or ``None``.
    site_cost_full, site_cost_remote
        Annual cost of a site as a full / remote point (default 0).
    desk_cost
        Annual fixed cost of one desk, per agency (default 0).
    staff_cost
        Annual cost of one FTE, per agency (default 0).
    presence
        One rule per agency (or one for all): ``"all"`` (a desk at every full
        point), an int ``k`` (exactly ``k`` desks), a ``(min, max)`` pair
        (``max`` may be ``None``), or ``None`` (free).
    desk_capacity
        Optional in-person visits a year one desk can take, per agency
        (``inf`` = no limit).
    access_minutes
        Optional standard per agency (``inf`` = none): each row with
        in-person visits of the agency should have one of its desks within
        this many minutes.
    access
        ``"hard"`` (a constraint) or ``"soft"`` (``access_penalty`` per
        in-person visit outside the standard).
    access_penalty
        Soft standard only: EUR per in-person visit outside it, per agency.
    budget
        Optional cap on the annual cost: site, desk and staff costs (not the
        travel term).
    travel_weight
        EUR per visit-minute (default 1: the objective then counts minutes).
    required_remote
        Sites that must be remote points.
    required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel` (``required`` are full
        points).

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``:
        ``"n_full"`` / ``"n_remote"`` (counts against required or allowed
        sites), ``"presence"`` (an agency needs more desks than full points
        can exist), ``"desk_capacity"`` (an agency's in-person visits exceed
        the capacity of all the desks it may have), ``"access_minutes"``
        (rows with in-person visits and no allowed site within the hard
        standard; ``rows`` lists them), ``"budget"`` (the cheapest network
        costs more; ``sites`` lists required sites when they alone exceed
        it), ``"cost"`` / ``"forbidden"`` (rows that reach no allowed site).
    """

    name = "agency two-tier"
    solution_type = AgencySolution

    visits_in_person: ArrayLike
    visits_remote: ArrayLike
    visits_per_fte: ArrayLike | float
    agencies: Sequence[str] | None = None
    n_full: Count = None
    n_remote: Count = None
    site_cost_full: ArrayLike | float | None = None
    site_cost_remote: ArrayLike | float | None = None
    desk_cost: ArrayLike | float | None = None
    staff_cost: ArrayLike | float | None = None
    presence: Presence | Sequence[Presence] = None
    desk_capacity: ArrayLike | float | None = None
    access_minutes: ArrayLike | float | None = None
    access: Literal["hard", "soft"] = "hard"
    access_penalty: ArrayLike | float | None = None
    budget: float | None = None
    travel_weight: float = 1.0
    required_remote: ArrayLike | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n, m = self.n_demand, self.n_sites
        self.visits_in_person = as_agency_matrix(self.visits_in_person, n, name="visits_in_person")
        self.visits_remote = as_agency_matrix(self.visits_remote, n, name="visits_remote")
        k = self.visits_in_person.shape[0]
        if self.visits_remote.shape[0] != k:
            raise DataError(
                f"visits_remote has {self.visits_remote.shape[0]} agencies but "
                f"visits_in_person has {k}; give one row per agency in both"
            )
        self.n_agencies = k
        names = [f"agency_{a}" for a in range(k)] if self.agencies is None else list(self.agencies)
        if len(names) != k or len(set(names)) != k:
            raise DataError(f"agencies must be {k} unique names (one per row of the visits)")
        self.agencies = tuple(str(s) for s in names)
        vals = as_agency_values
        self.visits_per_fte = vals(
            self.visits_per_fte, k, name="visits_per_fte", default=None, positive=True
        )
        self.desk_cost = vals(self.desk_cost, k, name="desk_cost", default=0.0)
        self.staff_cost = vals(self.staff_cost, k, name="staff_cost", default=0.0)
        self.desk_capacity = vals(
            self.desk_capacity, k, name="desk_capacity", default=math.inf, allow_inf=True
        )
        self.access_minutes = vals(
            self.access_minutes, k, name="access_minutes", default=math.inf, allow_inf=True
        )
        if self.access not in ("hard", "soft"):
            raise DataError(f"access must be 'hard' or 'soft'; got {self.access!r}")
        has_std = bool(np.isfinite(self.access_minutes).any())
        if self.access == "soft" and has_std and self.access_penalty is None:
            raise DataError("a soft access standard needs access_penalty (EUR per visit)")
        self.access_penalty = vals(self.access_penalty, k, name="access_penalty", default=0.0)
        self.every, self.desk_min, self.desk_max = parse_presence(self.presence, k, m)
        self._init_tiers()
        if self.budget is not None:
            if not (math.isfinite(self.budget) and self.budget >= 0):
                raise DataError(f"budget must be finite and >= 0; got {self.budget}")
            self.budget = float(self.budget)
        if not (math.isfinite(self.travel_weight) and self.travel_weight > 0):
            raise DataError(f"travel_weight must be finite and > 0; got {self.travel_weight}")
        self.travel_weight = float(self.travel_weight)
        has_visits = (self.visits_in_person + self.visits_remote).sum(axis=1) > 0
        #: fewest desks per agency (an agency with visits keeps one for its pool)
        self.desk_lo = np.maximum(self.desk_min, has_visits.astype(np.int64))
        self.capacitated = bool(np.isfinite(self.desk_capacity).any())

    @property
    def staff_total(self) -> float:
        """Annual staff cost of all agencies (the same for every network), EUR."""
        vis = (self.visits_in_person + self.visits_remote).sum(axis=1)
        return float((self.staff_cost * vis / self.visits_per_fte).sum())

    def _full_range(self) -> tuple[int, int]:
        lo_f, hi_f = self.count_full
        need = int(self.desk_lo[~self.every].max(initial=0))
        if (self.visits_in_person > 0).any() or (self.desk_lo > 0).any():
            need = max(need, 1)
        return max(lo_f, need), hi_f

    @classmethod
    def _region_demand(cls, population: NDArray[np.float64], params: dict[str, Any]) -> None:
        """Visits per agency from ``visits_per_capita`` and ``remote_share`` (one per agency).

        ``visits_in_person[a] = population x visits_per_capita[a] x (1 - remote_share[a])``
        and ``visits_remote[a]`` the rest; both options are required unless the visits
        are given.
        """
        if "visits_in_person" in params and "visits_remote" in params:
            return
        per_capita = np.atleast_1d(np.asarray(params.pop("visits_per_capita"), dtype=float))
        share = np.atleast_1d(np.asarray(params.pop("remote_share", 0.0), dtype=float))
        share = np.broadcast_to(share, per_capita.shape)
        if ((share < 0) | (share > 1)).any() or (per_capita < 0).any():
            raise DataError("remote_share must be in [0, 1] and visits_per_capita >= 0")
        visits = per_capita[:, None] * population[None, :]
        params.setdefault("visits_in_person", visits * (1.0 - share)[:, None])
        params.setdefault("visits_remote", visits * share[:, None])

    # checks ------------------------------------------------------------------------------

    def _check_feasible(self) -> None:
        self._check_tier_counts()
        hi_f = self.count_full[1]
        ma = self.allowed_cols.size
        cap_f = min(hi_f, ma - len(self.required_remote))
        for a, name in enumerate(self.agencies):
            if self.desk_lo[a] > cap_f:
                param = "presence" if self.desk_min[a] > 1 else "n_full"
                raise self._infeasible(
                    f"agency {name!r} needs at least {self.desk_lo[a]} desks but at most "
                    f"{cap_f} full points can be open; lower its presence rule or raise n_full",
                    parameter=param,
                )
            top = cap_f if self.every[a] else min(cap_f, int(self.desk_max[a]))
            total = float(self.visits_in_person[a].sum())
            if total > self.desk_capacity[a] * top * (1 + 1e-9) + 1e-9:
                raise self._infeasible(
                    f"agency {name!r} has {total:g} in-person visits but at most {top} desks "
                    f"of desk_capacity {self.desk_capacity[a]:g}; raise desk_capacity or allow "
                    "more desks",
                    parameter="desk_capacity",
                )
        self._check_reachable((self.visits_in_person + self.visits_remote).sum(axis=0) > 0)
        cols = self.allowed_cols
        if self.access == "hard":
            for a, name in enumerate(self.agencies):
                if not math.isfinite(self.access_minutes[a]):
                    continue
                rows = np.nonzero(self.visits_in_person[a] > 0)[0]
                ok = (self.cost[np.ix_(rows, cols)] <= self.access_minutes[a]).any(axis=1)
                bad = rows[~ok]
                if bad.size:
                    raise self._infeasible(
                        f"agency {name!r}: {demand_names(bad, self.demand_ids)} have no allowed "
                        f"site within access_minutes = {self.access_minutes[a]:g}; relax the "
                        "standard, make it soft, or add a site that reaches them",
                        parameter="access_minutes",
                        rows=bad,
                    )
        self._check_budget()

    def _check_budget(self) -> None:
        check_budget(self)

    def _full_point_cost(self) -> float:
        # the desks of the agencies present at every full point come with each full point
        return float(self.desk_cost[self.every].sum())

    # engine data -------------------------------------------------------------------------

    def _rows(self) -> tuple[RowGroups, NDArray[np.float64]]:
        if "rows" not in self._cache:
            ca = self.cost[:, self.allowed_cols]
            rg = group_rows(ca, self.origin_groups)
            self._cache["rows"] = (rg, np.ascontiguousarray(ca[rg.rep]) * self.travel_weight)
        return self._cache["rows"]

    def _access_sets(self) -> list[tuple[int, NDArray[np.bool_], NDArray[np.float64]]]:
        """Per agency with a standard: distinct access sets and their penalties."""
        out = []
        cols = self.allowed_cols
        soft = self.access == "soft"
        for a in range(self.n_agencies):
            if not math.isfinite(self.access_minutes[a]):
                continue
            rows = np.nonzero(self.visits_in_person[a] > 0)[0]
            cover = self.cost[np.ix_(rows, cols)] <= self.access_minutes[a]
            pen = self.access_penalty[a] * self.visits_in_person[a, rows]
            if self.every[a] and self.required.size:
                forced = np.isin(cols, self.required)
                keep = ~(cover & forced[None, :]).any(axis=1)
                cover, pen = cover[keep], pen[keep]
            if soft:
                keep = pen > 0
                cover, pen = cover[keep], pen[keep]
            if cover.shape[0]:
                sets, inv = unique_sets(cover)
                out.append((a, sets, np.bincount(inv, weights=pen, minlength=sets.shape[0])))
        return out

    def _problem(self) -> DistanceProblem:
        if "problem" not in self._cache:
            self._cache["problem"], self._cache["layout"] = agency_problem(self)
        return self._cache["problem"]

    def _solve(self, ctx: SolveContext) -> Outcome:
        if self.capacitated:
            if ctx.method == "benders":
                raise DataError(f"{self.name}: desk_capacity needs method='compact' (or 'auto')")
            ctx = dataclasses.replace(ctx, method="compact")
        return super()._solve(ctx)

    # plans -------------------------------------------------------------------------------

    def evaluate_plan(
        self,
        *,
        full: ArrayLike,
        remote: ArrayLike = (),
        desks: Mapping[str, ArrayLike] | None = None,
    ) -> AgencySolution:
        """Price a fixed network (a planner's plan) with the model's data, without a solver.

        Parameters
        ----------
        full, remote
            The plan's full and remote points (column indices, a boolean mask,
            or ids from ``site_ids``).
        desks
            Optional desks per agency name (sites among ``full``); an agency
            not listed has a desk at every full point of the plan.

        Returns
        -------
        AgencySolution
            The plan's objective, breakdown and staffing, with in-person
            visits at each agency's nearest desk. A plan is not optimised:
            ``bound`` is ``-inf``, ``gap`` ``inf`` and ``status``
            ``"time_limit"`` (a solution without a proof), ``solver`` is
            ``"none"``. Desk capacities, counts, presence rules, the budget
            and a hard access standard are not enforced (a soft standard's
            penalty is counted); check ``desk_visits`` against them.

        Raises
        ------
        DataError
            If a site is both full and remote, a desk is not at a full point
            of the plan, or an agency name is unknown.
        InfeasibleError
            If visits cannot reach the plan's points (``parameter="full"`` or
            ``"desks"``, ``rows`` lists them).
        """
        t0 = time.perf_counter()
        m = self.n_sites
        f_cols = resolve_sites(full, m, self.site_ids, name="full")
        r_cols = resolve_sites(remote, m, self.site_ids, name="remote")
        if np.intersect1d(f_cols, r_cols).size:
            raise DataError("a site of the plan is both full and remote; give it one tier")
        given = dict(desks or {})
        unknown = sorted(set(given) - set(self.agencies))
        if unknown:
            raise DataError(f"desks: unknown agencies {unknown}; agencies are {self.agencies}")
        desk_cols = []
        for name in self.agencies:
            cols = (
                resolve_sites(given[name], m, self.site_ids, name=f"desks[{name!r}]")
                if name in given
                else f_cols
            )
            if np.setdiff1d(cols, f_cols).size:
                raise DataError(f"desks[{name!r}] lists sites that are not full points of the plan")
            desk_cols.append(cols)
        fields, extra = network_figures(self, f_cols, r_cols, desk_cols, None)
        if not math.isfinite(fields["objective"]):
            er = self.visits_remote.sum(axis=0) > 0
            open_all = np.r_[f_cols, r_cols].astype(np.int64)
            reach = np.isfinite(self.cost[:, open_all]).any(axis=1) if open_all.size else er & False
            bad = np.nonzero(er & ~reach)[0]
            param = "full"
            if bad.size == 0:
                param = "desks"
                for a in range(self.n_agencies):
                    dc = desk_cols[a]
                    ok = np.isfinite(self.cost[:, dc]).any(axis=1) if dc.size else er & False
                    bad = np.nonzero((self.visits_in_person[a] > 0) & ~ok)[0]
                    if bad.size:
                        break
            raise self._infeasible(
                f"the plan leaves {demand_names(bad, self.demand_ids)} without a reachable "
                "point or desk",
                parameter=param,
                rows=bad,
            )
        objective = float(fields.pop("objective"))
        sol = self._solution(
            fields | extra,
            objective=objective,
            bound=-math.inf,
            seconds=time.perf_counter() - t0,
            solver="none",
            model=f"{self.name} plan",
        )
        assert isinstance(sol, AgencySolution)
        return sol

    # results -----------------------------------------------------------------------------

    def _solution_fields(self, x_sites: NDArray[np.float64]) -> dict[str, Any]:
        self._problem()
        layout = self._cache["layout"]
        f, r, d, flows = layout.f, layout.r, layout.d, layout.flows
        cols = self.allowed_cols
        full = cols[x_sites[f] > 0.5]
        remote = cols[x_sites[r] > 0.5]
        desks = [cols[x_sites[d[a]] > 0.5] for a in range(self.n_agencies)]
        shares = None
        if flows:
            rg, _ = self._rows()
            shares = []
            for _, x, g, j in flows:
                grid = np.zeros((rg.n_groups, self.n_sites))
                grid[g, cols[j]] = x_sites[x]
                shares.append(grid[rg.inverse])
        fields, extra = network_figures(self, full, remote, desks, shares)
        return fields | extra

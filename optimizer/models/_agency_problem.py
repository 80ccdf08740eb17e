"""The engine problem of the agency two-tier model: its base MILP, blocks and heuristics.

:func:`agency_problem` turns an :class:`~optimizer.models.AgencyTwoTier` into
the :class:`._problem.DistanceProblem` the exact engine solves: the full and
remote point columns, one desk column per agency and site, the presence,
budget and access-standard rows, the explicit assignment under desk capacity,
and the distance blocks (one over all open points for remote-eligible visits,
one per agency over its desks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.models._agency import greedy_desks
from optimizer.models._levels import RowSorts
from optimizer.models._milp import MilpBuilder
from optimizer.models._problem import Block, DistanceProblem

__all__: list[str] = []

_TOL = 1e-6

#: Assignment columns of one agency under desk capacity: (agency, columns, row groups, sites).
Flow = tuple[int, NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]


@dataclass
class AgencyLayout:
    """Where the decisions sit among the base columns of :func:`agency_problem`.

    Attributes
    ----------
    f, r
        Full and remote point columns, one per allowed site.
    d
        Desk columns per agency, one per allowed site.
    flows
        Assignment columns per agency with desk capacity (empty without).
    """

    f: NDArray[np.int64]
    r: NDArray[np.int64]
    d: list[NDArray[np.int64]]
    flows: list[Flow]


def agency_problem(model: Any) -> tuple[DistanceProblem, AgencyLayout]:
    """Build the engine problem of ``model`` (an :class:`~optimizer.models.AgencyTwoTier`).

    Returns
    -------
    tuple
        The :class:`._problem.DistanceProblem` and the :class:`AgencyLayout` of its columns.
    """
    cols = model.allowed_cols
    ma, k = cols.size, model.n_agencies
    rg, crows = model._rows()
    tw = model.travel_weight
    wf = np.stack([rg.sum_weights(model.visits_in_person[a]) for a in range(k)])
    wr = rg.sum_weights(model.visits_remote.sum(axis=0))
    req_f, req_r = model._required_masks()
    cf, cr_ = model.site_cost_full[cols], model.site_cost_remote[cols]
    lo_f, hi_f = model._full_range()
    lo_r, hi_r = model.count_remote
    hi_f, hi_r = min(hi_f, ma), min(hi_r, ma)
    min_any = max(lo_f + lo_r, 1 if (wr > 0).any() else 0)

    b = MilpBuilder()
    f, r = model._tier_columns(b, count_full=(lo_f, hi_f), count_remote=(lo_r, hi_r))
    d = [
        b.add_cols(ma, cost=model.desk_cost[a], lb=0.0, ub=1.0, integer=True, name=f"d{a}")
        for a in range(k)
    ]
    ar = np.arange(ma)
    for a in range(k):
        if model.every[a]:
            b.add_rows(
                np.r_[ar, ar],
                np.r_[d[a], f],
                np.r_[np.ones(ma), -np.ones(ma)],
                ma,
                lb=0.0,
                ub=0.0,
            )
        else:
            b.add_rows(np.r_[ar, ar], np.r_[d[a], f], np.r_[np.ones(ma), -np.ones(ma)], ma, ub=0.0)
            b.add_row(d[a], np.ones(ma), lb=int(model.desk_lo[a]), ub=int(model.desk_max[a]))
    if model.budget is not None:
        b.add_row(
            np.r_[f, r, *d],
            np.r_[cf, cr_, *[np.full(ma, model.desk_cost[a]) for a in range(k)]],
            ub=model.budget - model.staff_total,
        )
    soft_sets: list[tuple[int, NDArray[np.bool_], NDArray[np.int64]]] = []
    for a, sets, pen in model._access_sets():
        gi, sj = np.nonzero(sets)
        ns = sets.shape[0]
        if model.access == "soft":
            u = b.add_cols(ns, cost=pen, lb=0.0, ub=1.0, name=f"u{a}")
            b.add_rows(np.r_[gi, np.arange(ns)], np.r_[d[a][sj], u], 1.0, ns, lb=1.0)
            soft_sets.append((a, sets, u))
        else:
            b.add_rows(gi, d[a][sj], 1.0, ns, lb=1.0)
    flows: list[Flow] = []
    if model.capacitated:
        for a in range(k):
            g, j = np.nonzero((wf[a] > 0)[:, None] & np.isfinite(crows))
            x = b.add_cols(g.size, cost=wf[a, g] * crows[g, j], lb=0.0, ub=1.0, name=f"x{a}")
            _, gpos = np.unique(g, return_inverse=True)
            b.add_rows(gpos, x, 1.0, int(gpos.max(initial=-1)) + 1, lb=1.0, ub=1.0)
            ne = g.size
            b.add_rows(
                np.r_[np.arange(ne), np.arange(ne)],
                np.r_[x, d[a][j]],
                np.r_[np.ones(ne), -np.ones(ne)],
                ne,
                ub=0.0,
            )
            if math.isfinite(model.desk_capacity[a]):
                b.add_rows(
                    np.r_[j, ar],
                    np.r_[x, d[a]],
                    np.r_[wf[a, g], np.full(ma, -model.desk_capacity[a])],
                    ma,
                    ub=0.0,
                )
            flows.append((a, x, g, j))
    const = tw * float(((model.visits_in_person + model.visits_remote).sum(0) * rg.offset).sum())
    b.offset = const + model.staff_total
    base = b.build()
    sorts = RowSorts(crows)  # the blocks share the sort of the rows they keep
    blocks = [Block(crows, wr, [f, r], req_f | req_r, min_any, "any", sorts=sorts)]
    if not model.capacitated:
        for a in range(k):
            forced = req_f if model.every[a] else np.zeros(ma, dtype=bool)
            lo = max(int(model.desk_lo[a]), lo_f if model.every[a] else 0)
            blocks.append(Block(crows, wf[a], [d[a]], forced, lo, f"desk{a}", sorts=sorts))
    search = None
    if not model.capacitated:
        search = model._tier_search(crows, wf.sum(axis=0), wr, ((lo_f, hi_f), (lo_r, hi_r)))
    ints = base.integer

    def feasible(x: NDArray[np.float64]) -> bool:
        if (x < base.col_lb - _TOL).any() or (x > base.col_ub + _TOL).any():
            return False
        if (np.abs(x[ints] - np.round(x[ints])) > _TOL).any():
            return False
        ax = base.A @ x
        scale = np.maximum(1.0, np.abs(np.where(np.isfinite(base.row_ub), base.row_ub, 0.0)))
        return bool(
            (ax >= base.row_lb - _TOL * scale).all() and (ax <= base.row_ub + _TOL * scale).all()
        )

    def complete(x: NDArray[np.float64]) -> NDArray[np.float64]:
        x = x.copy()
        for a, sets, u in soft_sets:
            x[u] = (sets @ (x[d[a]] > 0.5)) < 0.5
        return x

    def evaluate(x: NDArray[np.float64]) -> float:
        if not feasible(x):
            return math.inf
        val = float(base.col_cost @ x + base.offset)
        for blk in blocks:
            if blk.n_rows == 0:
                continue
            open_ = blk.open_level(x) > 0.5
            if not open_.any():
                return math.inf
            val += float(blk.w @ blk.cost[:, open_].min(axis=1)) + 0.0
        return val if math.isfinite(val) else math.inf

    def with_desks(t: NDArray[np.int64]) -> NDArray[np.float64] | None:
        x = np.zeros(base.n_cols)
        x[f] = t == 1
        x[r] = t == 2
        full = np.nonzero(t == 1)[0]
        for a in range(k):
            got = greedy_desks(
                crows,
                wf[a],
                full,
                desk_cost=float(model.desk_cost[a]),
                lo=int(model.desk_lo[a]),
                hi=int(model.desk_max[a]),
                every=bool(model.every[a]),
                forced=req_f if model.every[a] else np.zeros(ma, dtype=bool),
            )
            if got is None:
                return None
            x[d[a][got]] = 1.0
        return complete(x)

    layout = AgencyLayout(f, r, d, flows)
    return model._tier_problem(
        base, blocks, search, evaluate=evaluate, complete=complete, to_x=with_desks
    ), layout

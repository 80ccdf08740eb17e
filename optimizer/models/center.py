"""The p-center model: minimise the largest travel cost with ``p`` sites."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.models._backends import RawResult, run_cbc, run_highs
from optimizer.models._base import (
    FixedCountModel,
    Outcome,
    SolveContext,
    nearest_open,
    raise_no_solution,
    raise_solver_infeasible,
)
from optimizer.models._compact import CompactModel
from optimizer.models._milp import Milp, MilpBuilder
from optimizer.models._radius import radius_search

__all__ = ["PCenter"]


@dataclass(eq=False, repr=False, kw_only=True)
class PCenter(CompactModel, FixedCountModel):
    r"""Choose exactly ``p`` sites minimising the largest cost to the nearest open site.

    Only rows with positive weight count (weights default to 1; their size
    does not matter).

    ``method="auto"`` (the default) searches the radius: a binary search over
    the distinct costs between a lower bound (the largest nearest-site cost)
    and the radius of a greedy + swap heuristic, deciding for each radius
    whether ``p`` sites can cover every row within it (a reduced set-covering
    problem, cheap bounds first, a small MILP when they do not decide; see
    :mod:`optimizer.models._radius`). It proves optimality when the two ends
    meet; at the time limit it returns the best sites with the smallest radius
    not yet ruled out as the bound.

    ``method="compact"`` (and :meth:`write_mps`/:meth:`write_lp`) uses one
    MILP instead, the radius form of Elloumi, Labbé and Pochet (2004): with
    the distinct costs
    :math:`L_0 < L_1 < \dots < L_K` between a lower bound (the largest
    nearest-site cost) and an upper bound (a heuristic solution), and
    :math:`u_k = 1` meaning "the radius exceeds :math:`L_k`",

    .. math::

        \min L_0 + \sum_{k < K} (L_{k+1} - L_k)\, u_k \quad \text{s.t.} \quad
        u_k + \sum_{j : c_{ij} \le L_k} y_j \ge 1\ \forall i, k,\;
        \sum_{j : c_{ij} \le L_K} y_j \ge 1\ \forall i,\;
        u_k \ge u_{k+1},\; \sum_j y_j = p,

    with required and forbidden sites fixed. Constraints with equal site sets
    are merged.

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` costs (``np.inf`` = cannot serve).
    p
        Number of sites to open (exactly).
    weights
        Rows with weight 0 are ignored (default: every row counts).
    required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``: ``"p"``
        (more required sites than ``p``, or fewer allowed sites than ``p``),
        ``"cost"`` or ``"forbidden"`` (rows that reach no allowed site); and
        from the search when no ``p`` allowed sites reach every row.
    """

    name = "p-center"

    # heuristic ---------------------------------------------------------------------------

    def _heuristic(self, cmat: NDArray[np.float64], req: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Greedy minimax construction plus best-improvement swaps."""
        n, m = cmat.shape
        sites = list(np.nonzero(req)[0])
        cur = cmat[:, sites].min(axis=1) if sites else np.full(n, np.inf)
        while len(sites) < self.p:
            cand = np.maximum.reduce(np.minimum(cur[:, None], cmat), axis=0)
            cand[sites] = np.inf
            j = int(np.argmin(cand))
            sites.append(j)
            cur = np.minimum(cur, cmat[:, j])
        sites_arr = np.asarray(sites, dtype=np.int64)
        if n * m * self.p > 20_000_000:
            return sites_arr
        for _ in range(200):
            best = (cur.max(), -1, -1)
            for k, l_ in enumerate(sites_arr):
                if req[l_]:
                    continue
                rest = np.delete(sites_arr, k)
                base = cmat[:, rest].min(axis=1) if rest.size else np.full(n, np.inf)
                val = np.minimum(base[:, None], cmat).max(axis=0)
                val[sites_arr] = np.inf
                j = int(np.argmin(val))
                if val[j] < best[0] - 1e-12:
                    best = (val[j], k, j)
            if best[1] < 0:
                break
            sites_arr[best[1]] = best[2]
            cur = cmat[:, sites_arr].min(axis=1)
        return sites_arr

    # model -------------------------------------------------------------------------------

    def _build(self) -> tuple[Milp, dict[str, Any]]:
        cols = self.allowed_cols
        rows = np.nonzero(self.weights > 0)[0]
        cmat = self.cost[np.ix_(rows, cols)]
        req = np.isin(cols, self.required)
        if rows.size == 0:
            b = MilpBuilder()
            y = b.add_cols(cols.size, lb=req.astype(float), ub=1.0, integer=True, name="y")
            b.add_row(y, np.ones(cols.size), lb=self.p, ub=self.p)
            start = np.zeros(cols.size)
            start[np.nonzero(req)[0]] = 1
            free = np.nonzero(~req)[0][: self.p - int(req.sum())]
            start[free] = 1
            return b.build(), {"cols": cols, "start": start}
        sites = self._heuristic(cmat, req)
        ub = float(cmat[:, sites].min(axis=1).max())
        lb = float(cmat.min(axis=1).max())
        if req.any():
            lb = max(lb, 0.0)
        vals = np.unique(cmat[np.isfinite(cmat)])
        levels = vals[(vals >= lb) & (vals <= ub)]
        if levels.size == 0 or levels[0] > lb:
            levels = np.r_[lb, levels]
        n_levels = levels.size - 1
        b = MilpBuilder()
        y = b.add_cols(cols.size, lb=req.astype(float), ub=1.0, integer=True, name="y")
        u = b.add_cols(n_levels, cost=np.diff(levels), lb=0.0, ub=1.0, name="u")
        b.offset = float(levels[0])
        b.add_row(y, np.ones(cols.size), lb=self.p, ub=self.p)
        if n_levels > 1:
            b.add_rows(
                np.r_[np.arange(n_levels - 1), np.arange(n_levels - 1)],
                np.r_[u[:-1], u[1:]],
                np.r_[np.ones(n_levels - 1), -np.ones(n_levels - 1)],
                n_levels - 1,
                lb=0.0,
            )
        # coverage rows per level; rows with a required site in the set are dropped
        for k in range(n_levels + 1):
            cover = levels[k] >= cmat
            if req.any():
                cover = cover[~cover[:, req].any(axis=1)]
            if cover.shape[0] == 0:
                continue
            packed = np.ascontiguousarray(np.packbits(cover, axis=1))
            keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
            _, first = np.unique(keys, return_index=True)
            cover = cover[first]
            gi, sj = np.nonzero(cover)
            g = cover.shape[0]
            if k < n_levels:
                b.add_rows(np.r_[gi, np.arange(g)], np.r_[y[sj], np.full(g, u[k])], 1.0, g, lb=1.0)
            else:
                b.add_rows(gi, y[sj], 1.0, g, lb=1.0)
        start = np.zeros(cols.size + n_levels)
        start[sites] = 1.0
        radius = float(cmat[:, sites].min(axis=1).max())
        start[cols.size :] = (levels[:-1] < radius - 1e-12).astype(float)
        return b.build(), {"cols": cols, "start": start}

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        return info["start"]

    def _solve(self, ctx: SolveContext) -> Outcome:
        if ctx.method == "compact":
            return super()._solve(ctx)
        cols = self.allowed_cols
        rows = np.nonzero(self.weights > 0)[0]
        cmat = self.cost[np.ix_(rows, cols)]
        req = np.isin(cols, self.required)
        if rows.size == 0:  # nothing to cover: any p sites will do
            return Outcome(self._pad(cmat, np.zeros(0, dtype=np.int64), req), 0.0, True)
        start = self._heuristic(cmat, req) if ctx.warm_start else None

        def solve(milp: Milp, time_limit: float | None) -> RawResult:
            # any cover within the budget answers the question: stop at the first one
            if ctx.solver == "highs":
                return run_highs(milp, time_limit=time_limit, mip_gap=1.0)
            return run_cbc(milp, time_limit=time_limit, mip_gap=0.99)

        res = radius_search(cmat, req, self.p, start=start, solve=solve, remaining=ctx.remaining)
        if res.sites is None:
            if math.isinf(res.bound):
                raise_solver_infeasible(self.name, " (no p sites reach every row)")
            if start is not None:  # cannot happen with a finite-radius start; kept for safety
                return Outcome(self._pad(cmat, start, req), res.bound, False)
            raise_no_solution(self.name, ctx)
        assert res.sites is not None
        return Outcome(self._pad(cmat, res.sites, req), res.bound, res.proven)

    def _pad(
        self, cmat: NDArray[np.float64], sites: NDArray[np.int64], req: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """Open ``sites`` plus the required ones, then add sites greedily up to ``p``."""
        x = np.zeros(cmat.shape[1])
        x[sites] = 1.0
        x[req] = 1.0
        cur = cmat[:, x > 0.5].min(axis=1) if x.any() else np.full(cmat.shape[0], np.inf)
        while x.sum() < self.p:
            if cmat.shape[0]:
                cand = np.maximum.reduce(np.minimum(cur[:, None], cmat), axis=0)
            else:
                cand = np.zeros(cmat.shape[1])
            cand[x > 0.5] = np.inf
            j = int(np.argmin(cand))
            x[j] = 1.0
            cur = np.minimum(cur, cmat[:, j])
        return x

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        cols = self.allowed_cols
        open_cols = cols[x[: cols.size] > 0.5]
        assign, d = nearest_open(self.cost, open_cols)
        pos = self.weights > 0
        value = float(d[pos].max()) if pos.any() else 0.0
        return {
            "objective": value,
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "breakdown": {"max_cost": value},
        }

"""Common state of the single-tier median models (p-median and fixed charge)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import InfeasibleError
from optimizer.models._base import (
    LocationModel,
    Milp,
    Outcome,
    RowGroups,
    SolveContext,
    as_cost_matrix,
    as_ids,
    as_weights,
    check_required_forbidden,
    demand_names,
    group_rows,
    nearest_open,
    resolve_sites,
)
from optimizer.models._engine import Block, DistanceProblem, compact_milp, solve_distance

__all__: list[str] = []


class MedianModel(LocationModel):
    """Cost matrix, weights, required/forbidden sites and the row aggregation."""

    def __init__(
        self,
        cost: ArrayLike,
        *,
        weights: ArrayLike | None,
        required: ArrayLike | None,
        forbidden: ArrayLike | None,
        site_ids: Sequence[Any] | None,
        demand_ids: Sequence[Any] | None,
        origin_groups: ArrayLike | None,
    ) -> None:
        self.cost = as_cost_matrix(cost)
        self.n_demand, self.n_sites = self.cost.shape
        self.weights = as_weights(weights, self.n_demand)
        self.site_ids = as_ids(site_ids, self.n_sites, name="site_ids")
        self.demand_ids = as_ids(demand_ids, self.n_demand, name="demand_ids")
        self.required = resolve_sites(required, self.n_sites, self.site_ids, name="required")
        self.forbidden = resolve_sites(forbidden, self.n_sites, self.site_ids, name="forbidden")
        check_required_forbidden(self.required, self.forbidden, self.site_ids)
        self._groups_in = None if origin_groups is None else np.asarray(origin_groups).reshape(-1)
        self._method = "auto"
        allowed = np.ones(self.n_sites, dtype=bool)
        allowed[self.forbidden] = False
        self.allowed_cols = np.nonzero(allowed)[0]
        self._prepared: tuple[RowGroups, NDArray[np.float64], NDArray[np.float64], float] | None = (
            None
        )

    # data for the engine -------------------------------------------------------------

    def _rows(self) -> tuple[RowGroups, NDArray[np.float64], NDArray[np.float64], float]:
        """Return the aggregated rows over allowed columns: groups, costs, weights, constant."""
        if self._prepared is None:
            ca = self.cost[:, self.allowed_cols]
            groups = self._groups_in
            if groups is not None and groups.shape != (self.n_demand,):
                from optimizer.errors import DataError

                raise DataError(
                    f"origin_groups must have one label per demand row ({self.n_demand})"
                )
            pos = self.weights > 0
            rg = group_rows(ca, groups)
            w = rg.sum_weights(np.where(pos, self.weights, 0.0))
            const = float(np.where(pos, self.weights * rg.offset, 0.0).sum())
            self._prepared = (rg, np.ascontiguousarray(ca[rg.rep]), w, const)
        return self._prepared

    def _required_mask(self) -> NDArray[np.bool_]:
        mask = np.zeros(self.allowed_cols.size, dtype=bool)
        mask[np.searchsorted(self.allowed_cols, self.required)] = True
        return mask

    def _check_reachable(self, cols: NDArray[np.int64]) -> None:
        """Every row with positive weight must reach some allowed site."""
        reach = (
            np.isfinite(self.cost[:, cols]).any(axis=1)
            if cols.size
            else np.zeros(self.n_demand, bool)
        )
        bad = np.nonzero((self.weights > 0) & ~reach)[0]
        if bad.size:
            raise InfeasibleError(
                f"{self.name}: {demand_names(bad, self.demand_ids)} cannot reach any allowed "
                "site (all travel costs are inf); drop these rows, give them zero weight, "
                "or allow a site they can reach"
            )

    def _problem(self) -> DistanceProblem:  # pragma: no cover - overridden
        raise NotImplementedError

    def _solve(self, ctx: SolveContext) -> Outcome:
        prob = self._problem()
        out = solve_distance(prob, ctx, method=self._method)
        return out

    def _full_milp(self) -> Milp:
        milp, _ = compact_milp(self._problem())
        return milp

    def _single_block(self, combo: NDArray[np.int64], min_open: int) -> Block:
        _, cr, w, _ = self._rows()
        return Block(cr, w, [combo], self._required_mask(), min_open, "d")

    def _evaluate_open(self, open_allowed: NDArray[np.bool_]) -> float:
        """Exact travel part for open allowed columns (inf if a weighted row is unserved)."""
        _, cr, w, const = self._rows()
        pos = w > 0
        if not pos.any():
            return const
        if not open_allowed.any():
            return math.inf
        d = cr[pos][:, open_allowed].min(axis=1)
        return float(w[pos] @ d) + const

    def _sites_from_x(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        return self.allowed_cols[np.nonzero(x[: self.allowed_cols.size] > 0.5)[0]]

    def _travel(self, open_cols: NDArray[np.int64]) -> tuple[NDArray[np.int64], float]:
        assign, d = nearest_open(self.cost, open_cols)
        pos = self.weights > 0
        travel = float(self.weights[pos] @ d[pos]) if pos.any() else 0.0
        return assign, travel

    def _fields(self, open_cols: NDArray[np.int64], site_cost: float | None) -> dict[str, Any]:
        assign, travel = self._travel(open_cols)
        breakdown = {"travel": travel}
        if site_cost is not None:
            breakdown["site_cost"] = site_cost
        return {
            "objective": travel + (site_cost or 0.0),
            "open_sites": tuple(int(j) for j in open_cols),
            "open_site_ids": None
            if self.site_ids is None
            else tuple(self.site_ids[j] for j in open_cols),
            "tiers": tuple("full" for _ in open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "breakdown": breakdown,
        }

"""Coverage models: maximal covering (MCLP) and location set covering (LSCP)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.models._base import FixedCountModel, nearest_open
from optimizer.models._compact import CompactModel
from optimizer.models._cover import (
    cover_milp,
    dominated_sites,
    drop_dominated_rows,
    greedy_cover,
)
from optimizer.models._inputs import as_site_values, demand_names, unique_sets
from optimizer.models._mclp import swap_search
from optimizer.models._milp import Milp, MilpBuilder

__all__ = ["LSCP", "MCLP"]


@dataclass(eq=False, repr=False, kw_only=True)
class _Coverage(CompactModel):
    """A model whose sites cover the rows within ``radius``."""

    radius: float

    def __post_init__(self) -> None:
        super().__post_init__()
        r = float(self.radius)
        if not (math.isfinite(r) and r >= 0):
            raise DataError(f"radius must be finite and >= 0; got {self.radius!r}")
        self.radius = r

    def _cover_fields(self, x: NDArray[np.float64]) -> tuple[NDArray[np.int64], dict[str, Any]]:
        """Return the open sites of a solved ``x`` and the solution fields they fix."""
        _, info = self._model()
        keep = info["keep"]
        open_cols = keep[x[: keep.size] > 0.5]
        assign, d = nearest_open(self.cost, open_cols)
        fields = {
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "covered": d <= self.radius,
        }
        return open_cols, fields


@dataclass(eq=False, repr=False, kw_only=True)
class MCLP(_Coverage, FixedCountModel):
    r"""Maximal covering location: cover as much demand as possible with ``p`` sites.

    A demand row is covered when an open site is within ``radius`` (cost
    ``<= radius``). With :math:`N_i = \{j : c_{ij} \le T\}`:

    .. math::

        \max \sum_i w_i x_i \quad \text{s.t.} \quad
        x_i \le \sum_{j \in N_i} y_j,\; \sum_j y_j = p,\;
        y_j = 1\ (j \in R),\; y_j = 0\ (j \in F),\;
        y \in \{0,1\}^J,\; x \in [0,1]^I .

    Before solving, rows covered by a required site are counted as covered,
    rows with identical coverage sets are merged (weights summed), rows no
    site covers are dropped, and sites whose coverage set is contained in
    another site's are removed (keeping enough sites to open ``p``).

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` costs (``np.inf`` = never covered).
    radius
        Coverage standard: a site covers a row when its cost is ``<= radius``.
    p
        Number of sites to open (exactly).
    weights, required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter="p"`` (more
        required sites than ``p``, or fewer allowed sites than ``p``).
    """

    name = "mclp"
    maximize = True

    def _check_feasible(self) -> None:
        self._check_count(self.p)  # rows no site covers are simply not covered

    def _build(self) -> tuple[Milp, dict[str, Any]]:
        cols = self.allowed_cols
        cover = self.cost[:, cols] <= self.radius
        req = np.isin(cols, self.required)
        pos = self.weights > 0
        by_req = (cover[:, req].any(axis=1)) if req.any() else np.zeros(self.n_demand, dtype=bool)
        const = float(self.weights[pos & by_req].sum())
        live = pos & ~by_req & cover.any(axis=1)
        sets, inv = unique_sets(cover[live])
        wsum = np.bincount(inv, weights=self.weights[live], minlength=sets.shape[0])
        # site dominance among the free sites
        free = np.nonzero(~req)[0]
        keep_free = free
        if free.size and sets.shape[0]:
            dominated = dominated_sites(sets[:, free], np.ones(free.size))
            keep_free = free[~dominated]
            need = self.p - int(req.sum())
            if keep_free.size < need:
                extra = free[dominated][: need - keep_free.size]
                keep_free = np.sort(np.concatenate([keep_free, extra]))
        keep = np.sort(np.concatenate([np.nonzero(req)[0], keep_free]))
        sets_k = sets[:, keep]
        b = MilpBuilder()
        y = b.add_cols(keep.size, lb=req[keep].astype(float), ub=1.0, integer=True, name="y")
        x = b.add_cols(sets.shape[0], cost=wsum, lb=0.0, ub=1.0, name="x")
        gi, sj = np.nonzero(sets_k)
        b.add_rows(
            np.r_[np.arange(x.size), gi],
            np.r_[x, y[sj]],
            np.r_[np.ones(x.size), -np.ones(gi.size)],
            x.size,
            ub=0.0,
        )
        b.add_row(y, np.ones(keep.size), lb=self.p, ub=self.p)
        b.offset = const
        info = {"keep": cols[keep], "sets": sets_k, "W": wsum, "req": req[keep]}
        return b.build(maximize=True), info

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        sets, wsum, req = info["sets"], info["W"], info["req"]
        k = req.size
        chosen = req.copy()
        covered = sets[:, chosen].any(axis=1) if chosen.any() else np.zeros(sets.shape[0], bool)
        while chosen.sum() < self.p:
            gain = (wsum * ~covered) @ sets
            gain = np.where(chosen, -np.inf, gain)
            j = int(np.argmax(gain))
            chosen[j] = True
            covered |= sets[:, j]
        if sets.shape[0]:
            chosen = swap_search(sets, wsum, chosen, req)
            covered = sets[:, chosen].any(axis=1)
        return np.r_[chosen.astype(float), covered.astype(float)][: k + sets.shape[0]]

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        _, fields = self._cover_fields(x)
        pos, covered = self.weights > 0, fields["covered"]
        value = float(self.weights[pos & covered].sum())
        uncovered = float(self.weights[pos & ~covered].sum())
        breakdown = {"covered_weight": value, "uncovered_weight": uncovered}
        return {**fields, "objective": value, "breakdown": breakdown}


@dataclass(eq=False, repr=False, kw_only=True)
class LSCP(_Coverage):
    r"""Location set covering: the cheapest set of sites covering every demand row.

    Every row with positive weight must have an open site within ``radius``.
    With site costs :math:`c_j` (default 1, i.e. the number of sites):

    .. math::

        \min \sum_j c_j y_j \quad \text{s.t.} \quad
        \sum_{j \in N_i} y_j \ge 1\ \forall i,\;
        y_j = 1\ (j \in R),\; y_j = 0\ (j \in F),\; y \in \{0,1\}^J .

    Before solving, rows covered by required sites are dropped, identical
    rows merged, rows whose set contains another row's set dropped (row
    dominance, up to 3,000 distinct rows), and sites whose coverage is
    contained in a no more expensive site's coverage removed (column
    dominance).

    Parameters
    ----------
    cost, radius
        As in :class:`MCLP`.
    site_costs
        Cost of each site (default 1: minimise the number of sites).
    weights
        Rows with weight 0 need not be covered (default: all rows).
    required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter="radius"`` when
        rows with weight have no allowed site within the radius (``rows``
        lists them).
    """

    name = "lscp"
    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType({"site_costs": None})

    site_costs: ArrayLike | float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.site_costs = as_site_values(
            self.site_costs, self.n_sites, name="site_costs", default=1.0
        )

    def _check_feasible(self) -> None:
        cover = self.cost[:, self.allowed_cols] <= self.radius
        bad = np.nonzero((self.weights > 0) & ~cover.any(axis=1))[0]
        if bad.size:
            raise self._infeasible(
                f"{demand_names(bad, self.demand_ids)} have no allowed site within radius "
                f"{self.radius:g}; increase the radius, allow a site that covers them, or give "
                "them zero weight",
                parameter="radius",
                rows=bad,
            )

    def _build(self) -> tuple[Milp, dict[str, Any]]:
        cols = self.allowed_cols
        cover = self.cost[:, cols] <= self.radius
        req = np.isin(cols, self.required)
        need = self.weights > 0
        if req.any():
            need &= ~cover[:, req].any(axis=1)
        sets, _ = unique_sets(cover[need])
        sets = drop_dominated_rows(sets)
        cost = self.site_costs[cols]
        free = np.nonzero(~req)[0]
        # with nothing left to cover, a site is useless unless free of charge
        keep_free = free[~dominated_sites(sets[:, free], cost[free])] if sets.size else free[:0]
        keep = np.sort(np.concatenate([np.nonzero(req)[0], keep_free]))
        sets_k = sets[:, keep]
        info = {"keep": cols[keep], "sets": sets_k, "cost": cost[keep], "req": req[keep]}
        return cover_milp(sets_k, cost[keep], req[keep]), info

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        chosen = greedy_cover(info["sets"], info["cost"], info["req"])
        if chosen is None:
            return None
        return chosen.astype(float)

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        open_cols, fields = self._cover_fields(x)
        value = float(self.site_costs[open_cols].sum())
        breakdown = {"site_cost": value, "sites": float(open_cols.size)}
        return {**fields, "objective": value, "breakdown": breakdown}

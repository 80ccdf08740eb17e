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
from optimizer.models._inputs import as_site_values, demand_names, unique_sets
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


def _subset_matrix(cover: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``out[a, b]`` is True when column set ``a`` is a subset of column set ``b``."""
    cover_f = cover.astype(np.float32)
    inter = cover_f.T @ cover_f
    size = cover_f.sum(axis=0)
    return np.abs(inter - size[:, None]) < 0.5


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
            sub = _subset_matrix(sets[:, free])
            size = sets[:, free].sum(axis=0)
            k = free.size
            idx = np.arange(k)
            later = idx[None, :] < idx[:, None]  # candidate b has a lower index than a
            bigger = size[None, :] > size[:, None]
            dominated = (sub & (bigger | later) & ~np.eye(k, dtype=bool)).any(axis=1)
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
        return np.r_[chosen.astype(float), covered.astype(float)][: k + sets.shape[0]]

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        _, info = self._model()
        keep = info["keep"]
        open_cols = keep[x[: keep.size] > 0.5]
        assign, d = nearest_open(self.cost, open_cols)
        covered = d <= self.radius
        pos = self.weights > 0
        value = float(self.weights[pos & covered].sum())
        return {
            "objective": value,
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "covered": covered,
            "breakdown": {
                "covered_weight": value,
                "uncovered_weight": float(self.weights[pos & ~covered].sum()),
            },
        }


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
        if 1 < sets.shape[0] <= 3000:
            sub = _subset_matrix(sets.T)  # sub[a, b]: row set a within row set b
            np.fill_diagonal(sub, False)
            sets = sets[~sub.any(axis=0)]
        cost = self.site_costs[cols]
        free = np.nonzero(~req)[0]
        keep_free = free
        if free.size and sets.shape[0]:
            sub = _subset_matrix(sets[:, free])
            c = cost[free]
            k = free.size
            idx = np.arange(k)
            size = sets[:, free].sum(axis=0)
            cheaper = c[None, :] < c[:, None]
            same_cost = c[None, :] == c[:, None]
            tie = same_cost & ((size[None, :] > size[:, None]) | (idx[None, :] < idx[:, None]))
            dominated = (sub & (cheaper | tie) & ~np.eye(k, dtype=bool)).any(axis=1)
            # a site covering nothing that is still needed is useless unless free of charge
            keep_free = free[~dominated]
        elif free.size:
            keep_free = free[:0]
        keep = np.sort(np.concatenate([np.nonzero(req)[0], keep_free]))
        sets_k = sets[:, keep]
        b = MilpBuilder()
        y = b.add_cols(
            keep.size, cost=cost[keep], lb=req[keep].astype(float), ub=1.0, integer=True, name="y"
        )
        gi, sj = np.nonzero(sets_k)
        if sets_k.shape[0]:
            b.add_rows(gi, y[sj], 1.0, sets_k.shape[0], lb=1.0)
        info = {"keep": cols[keep], "sets": sets_k, "cost": cost[keep], "req": req[keep]}
        return b.build(), info

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        sets, cost, req = info["sets"], info["cost"], info["req"]
        chosen = req.copy()
        covered = sets[:, chosen].any(axis=1) if chosen.any() else np.zeros(sets.shape[0], bool)
        while not covered.all():
            gain = (~covered).astype(float) @ sets
            ratio = np.where(gain > 0, gain / np.maximum(cost, 1e-12), -np.inf)
            ratio = np.where(chosen, -np.inf, ratio)
            j = int(np.argmax(ratio))
            if not np.isfinite(ratio[j]):
                return None
            chosen[j] = True
            covered |= sets[:, j]
        # drop redundant sites, most expensive first
        for j in np.argsort(-cost, kind="stable"):
            if chosen[j] and not req[j]:
                chosen[j] = False
                if not sets[:, chosen].any(axis=1).all():
                    chosen[j] = True
        return chosen.astype(float)

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        _, info = self._model()
        keep = info["keep"]
        open_cols = keep[x[: keep.size] > 0.5]
        assign, d = nearest_open(self.cost, open_cols)
        covered = d <= self.radius
        value = float(self.site_costs[open_cols].sum())
        return {
            "objective": value,
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "covered": covered,
            "breakdown": {"site_cost": value, "sites": float(open_cols.size)},
        }

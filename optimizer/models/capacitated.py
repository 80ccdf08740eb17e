"""Capacitated p-median and capacitated fixed-charge models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.models._base import FixedCountModel, nearest_open
from optimizer.models._compact import CompactModel
from optimizer.models._heuristics import Flow, pmedian_heuristic, ufl_heuristic
from optimizer.models._inputs import as_site_values, demand_names, group_rows
from optimizer.models._milp import Milp, MilpBuilder
from optimizer.models.fixed_charge import SiteCosts

__all__ = ["CapacitatedFixedCharge", "CapacitatedPMedian"]


@dataclass(eq=False, repr=False, kw_only=True)
class _Capacitated(CompactModel):
    """Shared assignment formulation and checks of the capacitated models."""

    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType({"capacities": "capacity"})

    capacities: ArrayLike
    multiple_sourcing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        caps = np.asarray(self.capacities, dtype=np.float64)
        caps = np.where(np.isnan(caps), np.inf, caps)  # NaN = unlimited (region bundles)
        self.capacities = as_site_values(caps, self.n_sites, name="capacities", allow_inf=True)
        self.multiple_sourcing = bool(self.multiple_sourcing)

    # checks ------------------------------------------------------------------------------

    def _check_capacity(self, best_capacity: float, what: str) -> None:
        total = float(self.weights.sum())
        if best_capacity < total - 1e-9 * max(1.0, total):
            raise self._infeasible(
                f"total capacity {what} is {best_capacity:g}, below the total demand "
                f"{total:g}; raise capacities, allow more sites or lower the demand",
                parameter="capacities",
            )
        if not self.multiple_sourcing:
            caps = self.capacities[self.allowed_cols]
            reach = np.isfinite(self.cost[:, self.allowed_cols])
            best = np.where(reach, caps[None, :], -np.inf).max(axis=1)
            bad = np.nonzero((self.weights > 0) & (self.weights > best + 1e-9))[0]
            if bad.size:
                raise self._infeasible(
                    f"{demand_names(bad, self.demand_ids)} each have more demand than any "
                    "site within reach can hold (single sourcing); raise capacities or use "
                    "multiple_sourcing=True",
                    parameter="capacities",
                    rows=bad,
                )

    # model -------------------------------------------------------------------------------

    def _site_part(self, b: MilpBuilder, y: NDArray[np.int64]) -> None:  # pragma: no cover
        raise NotImplementedError

    def _site_costs(self) -> NDArray[np.float64]:
        return np.zeros(self.n_sites)

    def _build(self) -> tuple[Milp, dict[str, Any]]:
        cols = self.allowed_cols
        ma = cols.size
        rows = np.nonzero(self.weights > 0)[0]
        cmat = self.cost[np.ix_(rows, cols)]
        w = self.weights[rows]
        const = 0.0
        if self.multiple_sourcing:
            groups = None if self.origin_groups is None else self.origin_groups[rows]
            rg = group_rows(cmat, groups)
            w_g = rg.sum_weights(w)
            const = float((w * rg.offset).sum())
            cmat, w = np.ascontiguousarray(cmat[rg.rep]), w_g
            row_map = rg.inverse
        else:
            row_map = np.arange(rows.size)
        req = np.isin(cols, self.required)
        caps = self.capacities[cols]
        gi, sj = np.nonzero(np.isfinite(cmat))
        b = MilpBuilder()
        y = b.add_cols(
            ma, cost=self._site_costs()[cols], lb=req.astype(float), ub=1.0, integer=True, name="y"
        )
        x = b.add_cols(
            gi.size,
            cost=w[gi] * cmat[gi, sj],
            lb=0.0,
            ub=1.0,
            integer=not self.multiple_sourcing,
            name="x",
        )
        b.offset = const
        k = cmat.shape[0]
        b.add_rows(gi, x, 1.0, k, lb=1.0, ub=1.0)  # each demand fully assigned
        fin = np.isfinite(caps)
        if fin.any():
            cap_sites = np.nonzero(fin)[0]
            pos = np.full(ma, -1)
            pos[cap_sites] = np.arange(cap_sites.size)
            sel = fin[sj]
            b.add_rows(
                np.r_[pos[sj[sel]], np.arange(cap_sites.size)],
                np.r_[x[sel], y[cap_sites]],
                np.r_[w[gi[sel]], -caps[cap_sites]],
                cap_sites.size,
                ub=0.0,
            )
        b.add_rows(
            np.r_[np.arange(gi.size), np.arange(gi.size)],
            np.r_[x, y[sj]],
            np.r_[np.ones(gi.size), -np.ones(gi.size)],
            gi.size,
            ub=0.0,
        )
        self._site_part(b, y)
        info = {
            "cols": cols,
            "rows": rows,
            "row_map": row_map,
            "gi": gi,
            "sj": sj,
            "C": cmat,
            "w": w,
            "ny": ma,
        }
        return b.build(), info

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        """Heuristic sites, then a greedy capacity-respecting assignment (if it fits)."""
        cmat, w, gi, sj = info["C"], info["w"], info["gi"], info["sj"]
        ma = info["ny"]
        cols = info["cols"]
        caps = self.capacities[cols]
        sites = self._start_sites(cmat, w)
        if sites is None:
            return None
        open_ = np.zeros(ma, dtype=bool)
        open_[sites] = True
        left = caps.copy()
        assign = np.full(cmat.shape[0], -1)
        share: dict[tuple[int, int], float] = {}
        for i in np.argsort(-w, kind="stable"):
            need = 1.0
            for j in np.argsort(np.where(open_, cmat[i], np.inf), kind="stable"):
                if not (open_[j] and np.isfinite(cmat[i, j])) or need <= 1e-12:
                    break
                if self.multiple_sourcing:
                    take = min(need, left[j] / w[i]) if w[i] > 0 else need
                    if take > 1e-12:
                        share[(i, j)] = take
                        left[j] -= take * w[i]
                        need -= take
                elif left[j] >= w[i] - 1e-9:
                    assign[i] = j
                    left[j] -= w[i]
                    need = 0.0
            if need > 1e-9:
                return None
        xs = np.zeros(gi.size)
        index = {(int(a), int(c)): k for k, (a, c) in enumerate(zip(gi, sj, strict=True))}
        if self.multiple_sourcing:
            for key, v in share.items():
                xs[index[key]] = v
        else:
            for i, j in enumerate(assign):
                xs[index[(i, int(j))]] = 1.0
        return np.r_[open_.astype(float), xs]

    def _start_sites(
        self, cmat: NDArray[np.float64], w: NDArray[np.float64]
    ) -> NDArray[np.int64] | None:  # pragma: no cover
        raise NotImplementedError

    def _solution_fields(self, x: NDArray[np.float64]) -> dict[str, Any]:
        _, info = self._model()
        cols, rows, row_map, gi, sj = (
            info["cols"],
            info["rows"],
            info["row_map"],
            info["gi"],
            info["sj"],
        )
        ny = info["ny"]
        open_cols = cols[x[:ny] > 0.5]
        xs = x[ny : ny + gi.size]
        # assignment: the site holding the largest share of each demand row
        best_share = np.full(int(row_map.max()) + 1 if row_map.size else 0, -1.0)
        best_site = np.full(best_share.size, -1)
        order = np.lexsort((sj, -xs))
        for k in order[::-1]:
            g = gi[k]
            if xs[k] >= best_share[g] - 1e-12 and xs[k] > 1e-9:
                best_share[g] = xs[k]
                best_site[g] = sj[k]
        assign, _ = nearest_open(self.cost, open_cols)
        if rows.size:
            site = best_site[row_map]
            assign[rows] = np.where(site >= 0, cols[np.maximum(site, 0)], -1)
        # objective from the original matrix
        if self.multiple_sourcing:
            frac = np.zeros((best_share.size, cols.size))
            frac[gi, sj] = np.clip(xs, 0.0, 1.0)
            frac /= np.maximum(frac.sum(axis=1, keepdims=True), 1e-12)
            per_row = frac[row_map]
            csub = self.cost[np.ix_(rows, cols)]
            travel = float(
                (self.weights[rows][:, None] * np.where(per_row > 0, csub, 0.0) * per_row).sum()
            )
        else:
            travel = float(self.weights[rows] @ self.cost[rows, assign[rows]]) if rows.size else 0.0
        site_cost = float(self._site_costs()[open_cols].sum())
        return {
            "objective": travel + site_cost,
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "breakdown": {"travel": travel, "site_cost": site_cost},
        }


@dataclass(eq=False, repr=False, kw_only=True)
class CapacitatedPMedian(_Capacitated, FixedCountModel):
    r"""p-median with site capacities; single sourcing by default.

    With assignment variables :math:`x_{ij}` (binary for single sourcing,
    :math:`[0,1]` with ``multiple_sourcing=True``), demand :math:`w_i` and
    capacities :math:`Q_j` (``inf`` or NaN = unlimited):

    .. math::

        \min \sum_{ij} w_i c_{ij} x_{ij} \quad \text{s.t.} \quad
        \sum_j x_{ij} = 1,\; \sum_i w_i x_{ij} \le Q_j y_j,\;
        x_{ij} \le y_j,\; \sum_j y_j = p,

    with required and forbidden sites fixed and pairs with ``inf`` cost
    left out. Infeasibility found before solving (capacity below total
    demand, a demand larger than every reachable site, more required sites
    than ``p``) raises :class:`~optimizer.errors.InfeasibleError`. With multiple
    sourcing, rows sharing a road node are merged.

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` costs (``np.inf`` = cannot serve).
    p
        Number of sites to open (exactly).
    capacities
        Capacity per site in the units of ``weights`` (``inf``/NaN =
        unlimited). :meth:`from_region` reads ``region.sites["capacity"]`` by
        default.
    multiple_sourcing
        Allow a demand row to be split over several sites (default ``False``).
    weights, required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel` (``origin_groups`` is
        used with multiple sourcing only).

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``: ``"p"`` (more
        required sites than ``p``, fewer allowed sites than ``p``),
        ``"cost"``/``"forbidden"`` (rows that reach no allowed site) or
        ``"capacities"`` (the ``p`` largest capacities hold less than the total
        demand, or with single sourcing a row needs more than any site within
        reach holds; ``rows`` lists those).
    """

    name = "capacitated p-median"

    def _check_feasible(self) -> None:
        super()._check_feasible()
        caps = self.capacities[self.allowed_cols]
        req = np.isin(self.allowed_cols, self.required)
        others = np.sort(caps[~req])[::-1][: self.p - int(req.sum())]
        best = float(caps[req].sum() + others.sum())
        self._check_capacity(best, f"of the best {self.p} sites")

    def _site_part(self, b: MilpBuilder, y: NDArray[np.int64]) -> None:
        b.add_row(y, np.ones(y.size), lb=self.p, ub=self.p)

    def _start_sites(
        self, cmat: NDArray[np.float64], w: NDArray[np.float64]
    ) -> NDArray[np.int64] | None:
        req = np.isin(self.allowed_cols, self.required)
        return pmedian_heuristic(Flow(cmat, w), self.p, req)


@dataclass(eq=False, repr=False, kw_only=True)
class CapacitatedFixedCharge(SiteCosts, _Capacitated):
    r"""Fixed-charge location with site capacities; single sourcing by default.

    .. math::

        \min \sum_j f_j y_j + \sum_{ij} w_i c_{ij} x_{ij} \quad \text{s.t.} \quad
        \sum_j x_{ij} = 1,\; \sum_i w_i x_{ij} \le Q_j y_j,\; x_{ij} \le y_j,

    with :math:`x` binary (single sourcing) or in :math:`[0,1]`
    (``multiple_sourcing=True``), required and forbidden sites fixed. Total
    capacity below total demand raises :class:`~optimizer.errors.InfeasibleError`
    before solving.

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` costs (``np.inf`` = cannot serve).
    site_costs
        Cost of opening each site. :meth:`from_region` reads
        ``region.sites["annual_cost"]`` by default.
    capacities
        Capacity per site (``inf``/NaN = unlimited); :meth:`from_region`
        reads ``region.sites["capacity"]`` by default.
    multiple_sourcing
        Allow a demand row to be split over several sites (default ``False``).
    weights, required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`CapacitatedPMedian`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``:
        ``"forbidden"`` (every site forbidden, or rows that reach only
        forbidden sites), ``"cost"`` (rows that reach no site) or
        ``"capacities"`` (all allowed capacities hold less than the total
        demand, or with single sourcing a row needs more than any site within
        reach holds).

    Notes
    -----
    :meth:`from_region` takes ``weight_scale`` (default 1): the weights are
    the population times it; capacities apply to the scaled weights.
    """

    name = "capacitated fixed-charge"
    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType(
        {"site_costs": "annual_cost", "capacities": "capacity"}
    )

    def _site_costs(self) -> NDArray[np.float64]:
        return self.site_costs

    def _check_feasible(self) -> None:
        super()._check_feasible()
        caps = self.capacities[self.allowed_cols]
        self._check_capacity(float(caps.sum()), "of all allowed sites")

    def _site_part(self, b: MilpBuilder, y: NDArray[np.int64]) -> None:
        b.add_row(y, np.ones(y.size), lb=1.0)

    def _start_sites(
        self, cmat: NDArray[np.float64], w: NDArray[np.float64]
    ) -> NDArray[np.int64] | None:
        ma = cmat.shape[1]
        req = np.isin(self.allowed_cols, self.required)
        fc = self.site_costs[self.allowed_cols]
        sites = ufl_heuristic(Flow(cmat, w), fc, req)
        # open more sites (cheapest capacity first) until the capacity suffices
        caps = self.capacities[self.allowed_cols]
        open_ = np.zeros(ma, dtype=bool)
        open_[sites] = True
        total = float(w.sum())
        for j in np.argsort(fc / np.maximum(caps, 1e-12), kind="stable"):
            if float(caps[open_].sum()) >= total:
                break
            open_[j] = True
        return np.nonzero(open_)[0]

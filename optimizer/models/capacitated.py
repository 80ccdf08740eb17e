"""Capacitated p-median and capacitated fixed-charge models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import InfeasibleError
from optimizer.models._base import (
    Milp,
    MilpBuilder,
    TravelTimesLike,
    as_site_values,
    demand_names,
    group_rows,
    nearest_open,
    region_site_column,
    region_weights_and_required,
    travel_time_parts,
)
from optimizer.models._compact import CompactModel, check_p_value
from optimizer.models._heuristics import pmedian_heuristic, ufl_heuristic

__all__ = ["CapacitatedFixedCharge", "CapacitatedPMedian"]


class _Capacitated(CompactModel):
    """Shared assignment formulation of the capacitated models."""

    def __init__(
        self,
        cost: ArrayLike,
        *,
        capacities: ArrayLike,
        weights: ArrayLike | None,
        multiple_sourcing: bool,
        required: ArrayLike | None,
        forbidden: ArrayLike | None,
        site_ids: Sequence[Any] | None,
        demand_ids: Sequence[Any] | None,
        origin_groups: ArrayLike | None,
    ) -> None:
        super().__init__(
            cost,
            weights=weights,
            required=required,
            forbidden=forbidden,
            site_ids=site_ids,
            demand_ids=demand_ids,
        )
        caps = np.asarray(capacities, dtype=np.float64)
        caps = np.where(np.isnan(caps), np.inf, caps)  # NaN = unlimited (region bundles)
        self.capacities = as_site_values(caps, self.n_sites, name="capacities", allow_inf=True)
        self.multiple_sourcing = bool(multiple_sourcing)
        self._groups_in = None if origin_groups is None else np.asarray(origin_groups).reshape(-1)

    # checks ------------------------------------------------------------------------------

    def _demand(self) -> float:
        return float(self.weights.sum())

    def _check_capacity(self, best_capacity: float, what: str) -> None:
        total = self._demand()
        if best_capacity < total - 1e-9 * max(1.0, total):
            raise InfeasibleError(
                f"{self.name}: total capacity {what} is {best_capacity:g}, below the total "
                f"demand {total:g}; raise capacities, allow more sites or lower the demand"
            )
        if not self.multiple_sourcing:
            caps = self.capacities[self.allowed_cols]
            reach = np.isfinite(self.cost[:, self.allowed_cols])
            best = np.where(reach, caps[None, :], -np.inf).max(axis=1)
            bad = np.nonzero((self.weights > 0) & (self.weights > best + 1e-9))[0]
            if bad.size:
                raise InfeasibleError(
                    f"{self.name}: {demand_names(bad, self.demand_ids)} each have more demand "
                    "than any site within reach can hold (single sourcing); raise capacities "
                    "or use multiple_sourcing=True"
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
            groups = None if self._groups_in is None else self._groups_in[rows]
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
            **self._site_tuple(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "breakdown": {"travel": travel, "site_cost": site_cost},
        }


class CapacitatedPMedian(_Capacitated):
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
    """

    name = "capacitated p-median"

    def __init__(
        self,
        cost: ArrayLike,
        *,
        p: int,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> None:
        super().__init__(
            cost,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=site_ids,
            demand_ids=demand_ids,
            origin_groups=origin_groups,
        )
        self.p = check_p_value(p)

    @classmethod
    def from_cost_matrix(
        cls,
        cost: ArrayLike,
        *,
        p: int,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> CapacitatedPMedian:
        """Build the model from a demand x site cost matrix.

        Parameters
        ----------
        cost
            ``n_demand x n_sites`` costs (``np.inf`` = cannot serve).
        p
            Number of sites to open (exactly).
        capacities
            Capacity per site in the units of ``weights`` (``inf``/NaN = unlimited).
        weights
            Demand per row (default 1).
        multiple_sourcing
            Allow a demand row to be split over several sites.
        required, forbidden, site_ids, demand_ids, origin_groups
            As in :meth:`optimizer.models.PMedian.from_cost_matrix`
            (``origin_groups`` is used with multiple sourcing only).

        Returns
        -------
        CapacitatedPMedian
        """
        return cls(
            cost,
            p=p,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=site_ids,
            demand_ids=demand_ids,
            origin_groups=origin_groups,
        )

    @classmethod
    def from_travel_times(
        cls,
        matrix: TravelTimesLike,
        *,
        p: int,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> CapacitatedPMedian:
        """Build the model from a travel-time result."""
        minutes, oids, dids, groups = travel_time_parts(matrix)
        return cls(
            minutes,
            p=p,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    @classmethod
    def from_region(
        cls,
        region: Any,
        matrix: TravelTimesLike,
        *,
        p: int,
        multiple_sourcing: bool = False,
        forbidden: ArrayLike | None = None,
    ) -> CapacitatedPMedian:
        """Build the model for a region bundle; capacities from ``region.sites["capacity"]``."""
        minutes, oids, dids, groups = travel_time_parts(matrix)
        weights, required = region_weights_and_required(region, oids, dids)
        return cls(
            minutes,
            p=p,
            capacities=region_site_column(region, dids, "capacity"),
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    def _check_feasible(self) -> None:
        self._check_p(self.p)
        self._check_reachable()
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
        ma = cmat.shape[1]
        req = np.isin(self.allowed_cols, self.required)
        return pmedian_heuristic(cmat, w, self.p, np.ones(ma, dtype=bool), req)


class CapacitatedFixedCharge(_Capacitated):
    r"""Fixed-charge location with site capacities; single sourcing by default.

    .. math::

        \min \sum_j f_j y_j + \sum_{ij} w_i c_{ij} x_{ij} \quad \text{s.t.} \quad
        \sum_j x_{ij} = 1,\; \sum_i w_i x_{ij} \le Q_j y_j,\; x_{ij} \le y_j,

    with :math:`x` binary (single sourcing) or in :math:`[0,1]`
    (``multiple_sourcing=True``), required and forbidden sites fixed. Total
    capacity below total demand raises :class:`~optimizer.errors.InfeasibleError`
    before solving.
    """

    name = "capacitated fixed-charge"

    def __init__(
        self,
        cost: ArrayLike,
        *,
        site_costs: ArrayLike,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> None:
        super().__init__(
            cost,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=site_ids,
            demand_ids=demand_ids,
            origin_groups=origin_groups,
        )
        self.site_costs = as_site_values(site_costs, self.n_sites, name="site_costs")

    @classmethod
    def from_cost_matrix(
        cls,
        cost: ArrayLike,
        *,
        site_costs: ArrayLike,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> CapacitatedFixedCharge:
        """Build the model from a demand x site cost matrix.

        Parameters
        ----------
        cost
            ``n_demand x n_sites`` costs (``np.inf`` = cannot serve).
        site_costs
            Cost of opening each site.
        capacities
            Capacity per site (``inf``/NaN = unlimited).
        weights, multiple_sourcing, required, forbidden, site_ids, demand_ids, origin_groups
            As in :meth:`CapacitatedPMedian.from_cost_matrix`.

        Returns
        -------
        CapacitatedFixedCharge
        """
        return cls(
            cost,
            site_costs=site_costs,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=site_ids,
            demand_ids=demand_ids,
            origin_groups=origin_groups,
        )

    @classmethod
    def from_travel_times(
        cls,
        matrix: TravelTimesLike,
        *,
        site_costs: ArrayLike,
        capacities: ArrayLike,
        weights: ArrayLike | None = None,
        multiple_sourcing: bool = False,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> CapacitatedFixedCharge:
        """Build the model from a travel-time result."""
        minutes, oids, dids, groups = travel_time_parts(matrix)
        return cls(
            minutes,
            site_costs=site_costs,
            capacities=capacities,
            weights=weights,
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    @classmethod
    def from_region(
        cls,
        region: Any,
        matrix: TravelTimesLike,
        *,
        weight_scale: float = 1.0,
        multiple_sourcing: bool = False,
        forbidden: ArrayLike | None = None,
    ) -> CapacitatedFixedCharge:
        """Build the model for a region bundle (annual costs and capacities from ``sites``).

        Travel weights are ``population * weight_scale``; capacities apply to
        the scaled weights.
        """
        minutes, oids, dids, groups = travel_time_parts(matrix)
        weights, required = region_weights_and_required(region, oids, dids)
        costs = region_site_column(region, dids, "annual_cost")
        if not np.isfinite(costs).all():
            from optimizer.errors import DataError

            unknown = [d for d, v in zip(dids, costs, strict=True) if not math.isfinite(v)]
            raise DataError(
                f"region {region.name!r}: annual_cost is unknown for sites {unknown[:5]}"
            )
        return cls(
            minutes,
            site_costs=costs,
            capacities=region_site_column(region, dids, "capacity"),
            weights=weights * float(weight_scale),
            multiple_sourcing=multiple_sourcing,
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    def _site_costs(self) -> NDArray[np.float64]:
        return self.site_costs

    def _check_feasible(self) -> None:
        if self.allowed_cols.size == 0:
            raise InfeasibleError(f"{self.name}: every site is forbidden; allow at least one site")
        self._check_reachable()
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
        sites = ufl_heuristic(cmat, w, fc, np.ones(ma, dtype=bool), req)
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

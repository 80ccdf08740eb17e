"""The fixed-charge (uncapacitated facility location) model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError, InfeasibleError
from optimizer.models._base import (
    MilpBuilder,
    TravelTimesLike,
    as_site_values,
    region_site_column,
    region_weights_and_required,
    travel_time_parts,
)
from optimizer.models._engine import DistanceProblem
from optimizer.models._heuristics import Flow, finite_big, ufl_heuristic, ufl_local_search
from optimizer.models._median import MedianModel

__all__ = ["FixedCharge"]


class FixedCharge(MedianModel):
    r"""Open any number of sites, minimising site costs plus weighted travel cost.

    With site costs :math:`f_j`, weights :math:`w_i` and costs :math:`c_{ij}`
    (``inf`` = cannot serve):

    .. math::

        \min \sum_j f_j y_j + \sum_i w_i \min_{j : y_j = 1} c_{ij}
        \quad \text{s.t.} \quad \sum_j y_j \ge 1,\;
        y_j = 1\ (j \in R),\; y_j = 0\ (j \in F),\; y \in \{0,1\}^J .

    The travel part uses the same compact level formulation as
    :class:`~optimizer.models.PMedian` (without the cardinality row), and the
    same Benders method for large instances. Express travel and site costs in
    one unit (e.g. weights = annual visits x euro per minute).
    """

    name = "fixed-charge"

    def __init__(
        self,
        cost: ArrayLike,
        *,
        site_costs: ArrayLike,
        weights: ArrayLike | None = None,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> None:
        super().__init__(
            cost,
            weights=weights,
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
        weights: ArrayLike | None = None,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> FixedCharge:
        """Build the model from a demand x site cost matrix.

        Parameters
        ----------
        cost
            ``n_demand x n_sites`` travel costs (``np.inf`` = cannot serve).
        site_costs
            Cost of opening each site (finite, ``>= 0``; a scalar is broadcast).
        weights, required, forbidden, site_ids, demand_ids, origin_groups
            As in :meth:`optimizer.models.PMedian.from_cost_matrix`.

        Returns
        -------
        FixedCharge
        """
        return cls(
            cost,
            site_costs=site_costs,
            weights=weights,
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
        weights: ArrayLike | None = None,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> FixedCharge:
        """Build the model from a travel-time result (minutes, ids, optional groups)."""
        minutes, oids, dids, groups = travel_time_parts(matrix)
        return cls(
            minutes,
            site_costs=site_costs,
            weights=weights,
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
        site_costs: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> FixedCharge:
        """Build the model for a region bundle.

        Weights are ``region.population["population"] * weight_scale`` (use the
        scale to turn people into annual visits x cost per minute); site costs
        default to ``region.sites["annual_cost"]``, which must then be known
        for every destination; required sites come from ``region.sites``.
        """
        minutes, oids, dids, groups = travel_time_parts(matrix)
        weights, required = region_weights_and_required(region, oids, dids)
        if site_costs is None:
            site_costs = region_site_column(region, dids, "annual_cost")
            unknown = [d for d, v in zip(dids, site_costs, strict=True) if not np.isfinite(v)]
            if unknown:
                raise DataError(
                    f"region {region.name!r}: annual_cost is unknown for sites {unknown[:5]}; "
                    "fill it in sites.gpkg or pass site_costs="
                )
        return cls(
            minutes,
            site_costs=site_costs,
            weights=weights * float(weight_scale),
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    # ------------------------------------------------------------------------------

    def _check_feasible(self) -> None:
        if self.allowed_cols.size == 0:
            raise InfeasibleError(f"{self.name}: every site is forbidden; allow at least one site")
        self._check_reachable(self.allowed_cols)

    def _problem(self) -> DistanceProblem:
        ma = self.allowed_cols.size
        req = self._required_mask()
        fc = self.site_costs[self.allowed_cols]
        _, cr, w, const = self._rows()
        b = MilpBuilder()
        y = b.add_cols(ma, cost=fc, lb=req.astype(float), ub=1.0, integer=True, name="y")
        b.add_row(y, np.ones(ma), lb=1.0)
        b.offset = const
        base = b.build()
        block = self._single_block(y, 1)
        allowed = np.ones(ma, dtype=bool)

        def evaluate(x: NDArray[np.float64]) -> float:
            open_ = x[:ma] > 0.5
            if not open_[req].all() or not open_.any():
                return np.inf
            return float(fc[open_].sum()) + self._evaluate_open(open_)

        def to_x(sites: NDArray[np.int64]) -> NDArray[np.float64]:
            x = np.zeros(ma)
            x[sites] = 1.0
            return x

        def heuristic() -> NDArray[np.float64]:
            return to_x(ufl_heuristic(cr, w, fc, allowed, req))

        def improve(xf: NDArray[np.float64]) -> NDArray[np.float64]:
            flow = Flow(cr, w, finite_big(cr, w))
            sites = np.nonzero((xf[:ma] >= 0.5) | req)[0]
            if sites.size == 0:
                sites = np.array([int(np.argmax(xf[:ma]))])
            return to_x(ufl_local_search(flow, sites, allowed, req, fc))

        return DistanceProblem(
            base=base,
            blocks=[block],
            evaluate=evaluate,
            complete=lambda x: x,
            heuristic=heuristic,
            improve=improve,
            name=self.name,
        )

    def _solution_fields(self, x_sites: NDArray[np.float64]) -> dict[str, Any]:
        open_cols = self._sites_from_x(x_sites)
        return self._fields(open_cols, float(self.site_costs[open_cols].sum()))

"""The p-median model: minimise demand-weighted travel with exactly p sites."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError, InfeasibleError
from optimizer.models._base import (
    MilpBuilder,
    TravelTimesLike,
    region_weights_and_required,
    site_names,
    travel_time_parts,
)
from optimizer.models._engine import DistanceProblem
from optimizer.models._heuristics import pmedian_from_fractional, pmedian_heuristic
from optimizer.models._median import MedianModel

__all__ = ["PMedian"]


class PMedian(MedianModel):
    r"""Choose exactly ``p`` sites minimising the demand-weighted travel cost.

    Let :math:`I` be the demand rows with weights :math:`w_i \ge 0`, :math:`J`
    the candidate sites and :math:`c_{ij}` the travel cost (``inf`` for pairs
    that cannot be served). The model is

    .. math::

        \min \sum_{i \in I} w_i \min_{j : y_j = 1} c_{ij}
        \quad \text{s.t.} \quad \sum_j y_j = p,\;
        y_j = 1\ (j \in R),\; y_j = 0\ (j \in F),\; y \in \{0, 1\}^J .

    It is solved exactly in the compact formulation of Elloumi (2010), also
    the radius formulation of García, Labbé and Marín (2011): with
    :math:`D_i^1 < D_i^2 < \dots < D_i^{K_i}` the distinct finite costs of row
    :math:`i` and :math:`S_i^k = \{j : c_{ij} \le D_i^k\}`,

    .. math::

        \min \sum_i w_i \Big(D_i^1 + \sum_{k < K_i} (D_i^{k+1} - D_i^k)\, z_i^k\Big)
        \quad \text{s.t.} \quad z_i^k + \sum_{j \in S_i^k} y_j \ge 1,\;
        z_i^{K_i} = 0,\; z \ge 0 ,

    where :math:`z_i^k = 1` means no open site within :math:`D_i^k`. Rows and
    levels with equal sets share one variable; levels at which ``p`` sites are
    certainly within reach (or a required site is) are dropped. Large
    instances are solved by Benders decomposition on the same structure (see
    :mod:`optimizer.models._engine`). Rows with zero weight are ignored in the
    objective but still receive an assignment.

    Use :meth:`from_cost_matrix`, :meth:`from_travel_times` or
    :meth:`from_region` to build one, then :meth:`solve`.
    """

    name = "p-median"

    def __init__(
        self,
        cost: ArrayLike,
        *,
        p: int,
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
        if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 1:
            raise DataError(f"p must be a positive integer; got {p!r}")
        self.p = int(p)

    @classmethod
    def from_cost_matrix(
        cls,
        cost: ArrayLike,
        *,
        p: int,
        weights: ArrayLike | None = None,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
        site_ids: Sequence[Any] | None = None,
        demand_ids: Sequence[Any] | None = None,
        origin_groups: ArrayLike | None = None,
    ) -> PMedian:
        """Build the model from a demand x site cost matrix.

        Parameters
        ----------
        cost
            ``n_demand x n_sites`` non-negative costs; ``np.inf`` marks pairs
            that cannot be served.
        p
            Number of sites to open (exactly).
        weights
            Demand per row (default 1 each), finite and ``>= 0``.
        required
            Sites that must be open: column indices, a boolean mask, or ids
            from ``site_ids``.
        forbidden
            Sites that must stay closed (same forms as ``required``).
        site_ids, demand_ids
            Optional ids reported in the solution and in error messages.
        origin_groups
            Optional label per row; rows with the same label must differ by a
            constant (e.g. cells snapped to one road node). They are merged.

        Returns
        -------
        PMedian
        """
        return cls(
            cost,
            p=p,
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
        p: int,
        weights: ArrayLike | None = None,
        required: ArrayLike | None = None,
        forbidden: ArrayLike | None = None,
    ) -> PMedian:
        """Build the model from a travel-time result (minutes, ids, groups).

        ``matrix`` needs ``minutes`` (demand x sites, ``inf`` = unreachable),
        ``origin_ids``, ``destination_ids`` and optionally ``origin_groups``.
        Sites in ``required``/``forbidden`` may be given as destination ids.
        """
        minutes, oids, dids, groups = travel_time_parts(matrix)
        return cls(
            minutes,
            p=p,
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
        p: int,
        forbidden: ArrayLike | None = None,
    ) -> PMedian:
        """Build the model for a region bundle: population weights, required sites.

        Weights are ``region.population["population"]`` of the matrix origins;
        required sites are the sites flagged ``required`` in ``region.sites``.
        """
        minutes, oids, dids, groups = travel_time_parts(matrix)
        weights, required = region_weights_and_required(region, oids, dids)
        return cls(
            minutes,
            p=p,
            weights=weights,
            required=required,
            forbidden=forbidden,
            site_ids=dids,
            demand_ids=oids,
            origin_groups=groups,
        )

    # ------------------------------------------------------------------------------

    def _check_feasible(self) -> None:
        if self.required.size > self.p:
            raise InfeasibleError(
                f"p-median: {self.required.size} required sites but p = {self.p}; "
                f"raise p to at least {self.required.size} or drop required sites "
                f"({site_names(self.required, self.site_ids)})"
            )
        if self.allowed_cols.size < self.p:
            raise InfeasibleError(
                f"p-median: p = {self.p} but only {self.allowed_cols.size} sites are not "
                "forbidden; lower p or allow more sites"
            )
        self._check_reachable(self.allowed_cols)

    def _problem(self) -> DistanceProblem:
        ma = self.allowed_cols.size
        req = self._required_mask()
        b = MilpBuilder()
        y = b.add_cols(ma, lb=req.astype(float), ub=1.0, integer=True, name="y")
        b.add_row(y, np.ones(ma), lb=self.p, ub=self.p)
        _, cr, w, const = self._rows()
        b.offset = const
        base = b.build()
        block = self._single_block(y, self.p)
        allowed = np.ones(ma, dtype=bool)

        def evaluate(x: NDArray[np.float64]) -> float:
            open_ = x[:ma] > 0.5
            if open_.sum() != self.p or not open_[req].all():
                return np.inf
            return self._evaluate_open(open_)

        def to_x(sites: NDArray[np.int64]) -> NDArray[np.float64]:
            x = np.zeros(ma)
            x[sites] = 1.0
            return x

        def heuristic() -> NDArray[np.float64]:
            return to_x(pmedian_heuristic(cr, w, self.p, allowed, req))

        def improve(xf: NDArray[np.float64]) -> NDArray[np.float64]:
            return to_x(pmedian_from_fractional(cr, w, self.p, allowed, req, xf[:ma]))

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
        return self._fields(self._sites_from_x(x_sites), None)

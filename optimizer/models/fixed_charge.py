"""The fixed-charge (uncapacitated facility location) model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.models._base import LocationModel
from optimizer.models._heuristics import Flow, local_search, ufl_heuristic
from optimizer.models._inputs import as_site_values
from optimizer.models._median import MedianModel

__all__ = ["FixedCharge"]


@dataclass(eq=False, repr=False, kw_only=True)
class SiteCosts(LocationModel):
    """Mix-in of the models with an annual cost per site: ``site_costs``, one or one per site.

    Put it first among the bases, so that ``site_costs`` comes last in the signature.
    """

    site_costs: ArrayLike

    def __post_init__(self) -> None:
        super().__post_init__()
        self.site_costs = as_site_values(self.site_costs, self.n_sites, name="site_costs")


@dataclass(eq=False, repr=False, kw_only=True)
class FixedCharge(SiteCosts, MedianModel):
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

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` travel costs (``np.inf`` = cannot serve).
    site_costs
        Cost of opening each site (finite, ``>= 0``; a scalar is broadcast).
        :meth:`from_region` reads ``region.sites["annual_cost"]`` by default.
    weights, required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``:
        ``"forbidden"`` (every site is forbidden, or rows with demand reach
        only forbidden sites) or ``"cost"`` (rows that reach no site).

    Notes
    -----
    :meth:`from_region` takes ``weight_scale`` (default 1): the weights are
    the population times it (e.g. annual visits x cost per minute).
    """

    name = "fixed-charge"
    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType(
        {"site_costs": "annual_cost"}
    )

    def _open_costs(self) -> NDArray[np.float64]:
        return self.site_costs

    def _open_count(self) -> tuple[int, int]:
        return 1, self.allowed_cols.size

    def _heuristic_sites(self, flow: Flow, fc: NDArray[np.float64]) -> NDArray[np.int64]:
        return ufl_heuristic(flow, fc, self._required_mask())

    def _improve_sites(
        self, flow: Flow, fc: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        req = self._required_mask()
        sites = np.nonzero((y >= 0.5) | req)[0]
        if sites.size == 0:
            sites = np.array([int(np.argmax(y))])
        return local_search(flow, sites, np.ones(y.size, dtype=bool), req, site_cost=fc)

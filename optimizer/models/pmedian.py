"""The p-median model: minimise demand-weighted travel with exactly p sites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimizer.models._base import FixedCountModel
from optimizer.models._heuristics import Flow, pmedian_from_fractional, pmedian_heuristic
from optimizer.models._median import MedianModel

__all__ = ["PMedian"]


@dataclass(eq=False, repr=False, kw_only=True)
class PMedian(MedianModel, FixedCountModel):
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

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` non-negative costs; ``np.inf`` marks pairs that
        cannot be served.
    p
        Number of sites to open (exactly).
    weights, required, forbidden, site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel` (``weights``: demand
        per row, default 1).

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``: ``"p"`` (more
        required sites than ``p``, or fewer allowed sites than ``p``),
        ``"cost"`` or ``"forbidden"`` (rows with demand that reach no allowed
        site; ``rows`` lists them).

    Examples
    --------
    >>> import numpy as np
    >>> from optimizer.models import PMedian
    >>> cost = np.array([[1.0, 4.0], [3.0, 1.0], [2.0, 2.0]])
    >>> PMedian(cost, p=1, weights=[1, 1, 5]).solve(mip_gap=0).objective
    14.0
    """

    name = "p-median"

    def _open_count(self) -> tuple[int, int]:
        return self.p, self.p

    def _heuristic_sites(self, flow: Flow, fc: NDArray[np.float64]) -> NDArray[np.int64]:
        return pmedian_heuristic(flow, self.p, self._required_mask())

    def _improve_sites(
        self, flow: Flow, fc: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        return pmedian_from_fractional(flow, self.p, self._required_mask(), y)

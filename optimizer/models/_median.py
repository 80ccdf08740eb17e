"""Common state of the single-tier median models (p-median and fixed charge)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from optimizer.models._base import SingleTierModel, nearest_open
from optimizer.models._distance import DistanceModel
from optimizer.models._heuristics import Flow, finite_big
from optimizer.models._inputs import RowGroups, group_rows
from optimizer.models._milp import MilpBuilder
from optimizer.models._problem import Block, DistanceProblem

__all__: list[str] = []


@dataclass(eq=False, repr=False, kw_only=True)
class MedianModel(SingleTierModel, DistanceModel):
    """Row aggregation and the distance engine for the single-tier median models."""

    methods: ClassVar[tuple[str, ...]] = ("compact", "benders")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._prepared: tuple[RowGroups, NDArray[np.float64], NDArray[np.float64], float] | None = (
            None
        )

    # data for the engine -------------------------------------------------------------

    def _rows(self) -> tuple[RowGroups, NDArray[np.float64], NDArray[np.float64], float]:
        """Return the aggregated rows over allowed columns: groups, costs, weights, constant."""
        if self._prepared is None:
            ca = self.cost[:, self.allowed_cols]
            pos = self.weights > 0
            rg = group_rows(ca, self.origin_groups)
            w = rg.sum_weights(np.where(pos, self.weights, 0.0))
            const = float(np.where(pos, self.weights * rg.offset, 0.0).sum())
            self._prepared = (rg, np.ascontiguousarray(ca[rg.rep]), w, const)
        return self._prepared

    def _required_mask(self) -> NDArray[np.bool_]:
        mask = np.zeros(self.allowed_cols.size, dtype=bool)
        mask[np.searchsorted(self.allowed_cols, self.required)] = True
        return mask

    # hooks -----------------------------------------------------------------------------

    def _open_costs(self) -> NDArray[np.float64] | None:
        """Cost of opening each site (``None``: no site costs)."""
        return None

    def _open_count(self) -> tuple[int, int]:  # pragma: no cover - overridden
        """Bounds on the number of open sites."""
        raise NotImplementedError

    def _heuristic_sites(self, flow: Flow, fc: NDArray[np.float64]) -> NDArray[np.int64]:
        """Open allowed columns of a heuristic solution."""
        raise NotImplementedError  # pragma: no cover - overridden

    def _improve_sites(
        self, flow: Flow, fc: NDArray[np.float64], y: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """Open allowed columns rounded from LP values ``y`` and improved by local search."""
        raise NotImplementedError  # pragma: no cover - overridden

    # the problem for the engine ------------------------------------------------------

    def _problem(self) -> DistanceProblem:
        ma = self.allowed_cols.size
        req = self._required_mask()
        given = self._open_costs()
        fc = np.zeros(ma) if given is None else given[self.allowed_cols]
        lo, hi = self._open_count()
        _, cr, w, const = self._rows()
        b = MilpBuilder()
        y = b.add_cols(ma, cost=fc, lb=req.astype(float), ub=1.0, integer=True, name="y")
        b.add_row(y, np.ones(ma), lb=lo, ub=hi)
        b.offset = const
        block = Block(cr, w, [y], req, lo, "d")

        def evaluate(x: NDArray[np.float64]) -> float:
            open_ = x[:ma] > 0.5
            if not lo <= int(open_.sum()) <= hi or not open_[req].all():
                return math.inf
            return float(fc[open_].sum()) + self._evaluate_open(open_)

        def to_x(sites: NDArray[np.int64]) -> NDArray[np.float64]:
            x = np.zeros(ma)
            x[sites] = 1.0
            return x

        def flow() -> Flow:
            return Flow(cr, w, finite_big(cr, w))

        return DistanceProblem(
            base=b.build(),
            blocks=[block],
            evaluate=evaluate,
            complete=lambda x: x,
            heuristic=lambda: to_x(self._heuristic_sites(flow(), fc)),
            improve=lambda xf: to_x(self._improve_sites(flow(), fc, xf[:ma])),
            name=self.name,
        )

    def _solution_fields(self, x_sites: NDArray[np.float64]) -> dict[str, Any]:
        open_cols = self._sites_from_x(x_sites)
        given = self._open_costs()
        return self._fields(open_cols, None if given is None else float(given[open_cols].sum()))

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
            **self._site_fields(open_cols),
            "assignment": assign,
            "assignment_any": assign,
            "breakdown": breakdown,
        }

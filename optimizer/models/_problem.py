"""What a median-type model hands to the exact engine: distance blocks and the problem.

The objective of the median-type models (p-median, fixed charge, two-tier,
agency) is a sum of *distance blocks* over a linear part; :class:`DistanceProblem`
holds both and the callbacks the engine needs. :mod:`._engine`, :mod:`._master`,
:mod:`._branch` and :mod:`._reduce` all work on these types, so they live below
them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import KW_ONLY, InitVar, dataclass, field

import numpy as np
from numpy.typing import NDArray

from optimizer.models._levels import RowSorts, SortedRows
from optimizer.models._milp import Milp

__all__: list[str] = []


@dataclass
class Block:
    """One distance block: rows of a cost matrix, weights, and the open-site columns.

    Only the rows of positive weight are kept. Blocks over one cost matrix
    pass its :class:`RowSorts` as ``sorts``: blocks that keep the same rows
    then share one sort and one copy of them.
    """

    cost: NDArray[np.float64]
    w: NDArray[np.float64]
    combo: list[NDArray[np.int64]]
    forced: NDArray[np.bool_]
    min_open: int
    name: str
    _: KW_ONLY
    sorts: InitVar[RowSorts | None] = None
    sr: SortedRows = field(init=False)

    def __post_init__(self, sorts: RowSorts | None) -> None:
        keep = self.w > 0
        if sorts is None:
            sorts = RowSorts(self.cost)
        elif sorts.cost is not self.cost:
            raise ValueError("sorts must be the RowSorts of this block's cost")
        self.sr = sorts.of(keep)
        self.cost, self.w = self.sr.cost, self.w[keep]

    @property
    def n_rows(self) -> int:
        """Number of rows with positive weight."""
        return int(self.w.size)

    def open_level(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-site open level ``sum of combo columns`` at base values ``x``."""
        a = np.zeros(self.cost.shape[1])
        for c in self.combo:
            a += x[c]
        return a

    def work(self) -> int:
        """Estimate the (row, level) pairs of the full compact formulation."""
        m = self.cost.shape[1]
        nfin = np.isfinite(self.cost).sum(axis=1)
        cap = m - self.min_open + 1 if self.min_open >= 1 else m
        return int(np.minimum(nfin, cap).sum())


@dataclass
class DistanceProblem:
    """What a model hands to the engine.

    Attributes
    ----------
    base
        The MILP over the base variables (sites and any extra variables) with
        their linear costs and side constraints; the blocks add the rest.
    blocks
        The distance blocks.
    evaluate
        Exact objective of integral base values (``inf`` if infeasible).
    complete
        Completes integral site values into full base values (extra variables).
    heuristic
        Returns an integral base vector, or ``None``.
    improve
        Turns fractional base values into an integral base vector (rounding
        plus local search), or returns ``None``.
    """

    base: Milp
    blocks: list[Block]
    evaluate: Callable[[NDArray[np.float64]], float]
    complete: Callable[[NDArray[np.float64]], NDArray[np.float64]]
    heuristic: Callable[[], NDArray[np.float64] | None]
    improve: Callable[[NDArray[np.float64]], NDArray[np.float64] | None]
    name: str = "model"


def closed(ub: float, lb: float, gap: float) -> bool:
    """Whether the bound ``lb`` meets the incumbent value ``ub`` within the relative ``gap``."""
    if not (math.isfinite(ub) and math.isfinite(lb)):
        return False
    return ub - lb <= gap * max(abs(ub), 1e-12) + 1e-9 * max(1.0, abs(ub))


def round_base(prob: DistanceProblem, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Round the integer base columns of ``x`` and complete the rest (extra variables)."""
    out = x.copy()
    ints = prob.base.integer
    out[ints] = np.round(out[ints])
    return prob.complete(out)

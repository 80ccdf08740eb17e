"""Restrict a single-block distance problem to the sites that survive fixing.

After reduced-cost fixing at the root, most sites of a p-median or
fixed-charge instance are closed for good (opening any of them provably
costs more than the incumbent). The Benders master still carries their
columns and, worse, every cut carries their coefficients, so each LP
re-solve pays for them. :func:`restrict` builds the same problem over the
surviving columns only; the engine then solves that one (a smaller master,
shorter cuts and sorted rows) and maps the result back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from optimizer.models._milp import Milp
from optimizer.models._problem import Block, DistanceProblem

__all__: list[str] = []

#: Restrict only when at most this share of the columns survives.
KEEP_SHARE = 0.7


@dataclass
class Restriction:
    """A restricted problem and the maps between its columns and the original ones."""

    prob: DistanceProblem
    keep: NDArray[np.int64]
    n_full: int

    def expand(self, x_sub: NDArray[np.float64]) -> NDArray[np.float64]:
        """Original base vector of a restricted one (dropped columns at 0)."""
        x = np.zeros(self.n_full)
        x[self.keep] = x_sub
        return x

    def shrink(self, x: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
        """Restricted vector of an original one (``None`` if it opens a dropped column)."""
        if x is None:
            return None
        drop = np.ones(self.n_full, dtype=bool)
        drop[self.keep] = False
        if (x[drop] > 0.5).any():
            return None
        return x[self.keep].copy()


def restrict(
    prob: DistanceProblem, lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> Restriction | None:
    """Return ``prob`` over the columns with ``hi > 0.5``, or ``None`` when it does not apply.

    Applies to problems with one block whose base columns are exactly the
    sites (``combo == [arange]``) and all integer, when few enough columns
    survive. ``lo`` and ``hi`` are the current bounds of the base columns.
    """
    base = prob.base
    nb = base.n_cols
    if len(prob.blocks) != 1 or not base.integer.all():
        return None
    blk = prob.blocks[0]
    if len(blk.combo) != 1 or not np.array_equal(blk.combo[0], np.arange(nb)):
        return None
    keep = np.nonzero(hi > 0.5)[0]
    if keep.size == 0 or keep.size > KEEP_SHARE * nb:
        return None
    reach = np.isfinite(blk.cost[:, keep]).any(axis=1)
    if not reach.all():
        return None  # some row reaches no surviving site (cannot happen with an incumbent)
    sub_base = Milp(
        base.col_cost[keep],
        lo[keep].astype(np.float64),
        hi[keep].astype(np.float64),
        np.ones(keep.size, dtype=bool),
        base.A[:, keep].tocsr(),
        base.row_lb,
        base.row_ub,
        base.offset,
        base.maximize,
        None,
    )
    forced = blk.forced[keep] | (lo[keep] > 0.5)
    sub_block = Block(
        blk.cost[:, keep], blk.w, [np.arange(keep.size)], forced, blk.min_open, blk.name
    )
    res = Restriction(prob, keep, nb)  # prob replaced below

    def lift(
        f: Callable[[NDArray[np.float64]], NDArray[np.float64] | None],
    ) -> Callable[[NDArray[np.float64]], NDArray[np.float64] | None]:
        return lambda xs: res.shrink(f(res.expand(xs)))

    res.prob = DistanceProblem(
        base=sub_base,
        blocks=[sub_block],
        evaluate=lambda xs: prob.evaluate(res.expand(xs)),
        complete=lambda xs: xs,
        heuristic=lambda: None,
        improve=lift(prob.improve),
        name=prob.name,
    )
    return res

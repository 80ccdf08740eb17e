"""Branch-and-Benders-cut on the LP master of :mod:`._master` (run by :mod:`._engine`).

HiGHS offers no lazy-constraint callback, so a MIP solve of the Benders
master only sees the cuts added before it started, and its tree explores
nodes whose relaxation misses the cuts that matter there. This module runs
the tree itself, on the live LP master:

* every node re-solves the master LP under its bound changes (dual simplex
  from the last basis) and separates the tight cuts of :func:`._levels.separate`
  at the LP point until none is violated, so each node's bound is the full
  Benders LP bound of its subproblem;
* a node is pruned as soon as its LP value reaches the incumbent (within the
  requested gap); integral LP points are priced exactly and offered as
  incumbents;
* reduced-cost fixing at every node (valid in its subtree) shrinks the
  children;
* the branching column is chosen by pseudocosts (the bound gained per unit
  of change when each column was branched on before, down and up; columns
  not branched on yet take the average), most fractional while there is no
  history: about 1.1x fewer seconds over the 40 OR-Library instances than
  most fractional alone, 1.25x on pmed36;
* nodes are taken depth first (the heuristics usually find the optimum at
  the root, so the order does not change the tree that proves it, and diving
  keeps the dual simplex warm), the child that closes the branching site
  before the one that opens it (pmed36: 301 nodes in 12.0 s against 267 in
  14.1 s the other way round; the 40 OR-Library instances 1.06x faster in
  all); the smallest bound of the open and pruned nodes is a valid global
  lower bound, also when the time limit stops the search.

The cuts of every node stay in the master: they are valid everywhere.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from optimizer.models._problem import closed

if TYPE_CHECKING:
    from optimizer.models._base import SolveContext
    from optimizer.models._master import Master

__all__: list[str] = []

logger = logging.getLogger(__name__)

#: Cut rounds at a node with a fractional LP point before it is branched on.
NODE_CUT_ROUNDS = 8
#: Cut rounds allowed for an integral LP point (the loop converges: cuts are tight there).
INTEGRAL_CUT_ROUNDS = 100
#: Nodes between two purges of slack cuts.
PURGE_EVERY = 10
_INT_TOL = 1e-6


@dataclass(order=True)
class _Node:
    bound: float
    tie: int
    fixes: dict[int, float] = field(compare=False)
    #: The branching that made the node: column, side (0 or 1), distance moved.
    branch: tuple[int, float, float] | None = field(default=None, compare=False)


class _Pseudocosts:
    """Bound gained per unit of change, by column and side, learnt from the tree."""

    def __init__(self) -> None:
        self.sums: dict[tuple[int, float], list[float]] = {}

    def learn(self, node: _Node, value: float) -> None:
        """Record the bound ``value`` of a child against its parent's bound."""
        if node.branch is None or not math.isfinite(value):
            return
        col, side, moved = node.branch
        record = self.sums.setdefault((col, side), [0.0, 0.0])
        record[0] += max(value - node.bound, 0.0) / max(moved, 1e-6)
        record[1] += 1.0

    def choose(self, cols: NDArray[np.int64], xi: NDArray[np.float64]) -> int:
        """Return the position in ``cols`` whose two children promise to rise most."""
        if not self.sums:
            return 0
        average = {}
        for side in (0.0, 1.0):
            rates = [s / n for (_, sd), (s, n) in self.sums.items() if sd == side]
            average[side] = sum(rates) / len(rates) if rates else 1.0

        def rate(col: int, side: float) -> float:
            s, n = self.sums.get((col, side), (0.0, 0.0))
            return s / n if n else average[side]

        scores = [
            max(rate(int(c), 0.0) * x, 1e-6) * max(rate(int(c), 1.0) * (1.0 - x), 1e-6)
            for c, x in zip(cols, xi, strict=True)
        ]
        return int(np.argmax(scores))


@dataclass
class TreeResult:
    """Outcome of :func:`branch_and_bound`: global bound, proof flag and counts."""

    bound: float
    proven: bool
    nodes: int


def branch_and_bound(
    master: Master,
    ints: NDArray[np.int64],
    root_bound: float,
    *,
    incumbent: Callable[[], float],
    offer: Callable[[NDArray[np.float64]], bool],
    to_base: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    ctx: SolveContext,
) -> TreeResult:
    """Solve the master's MIP by depth-first branch and bound with cuts at every node.

    Parameters
    ----------
    master
        The LP master (cuts, any fixings of the root already applied).
    ints
        Columns of the integer (site) variables.
    root_bound
        A valid lower bound of the whole problem (the root LP value).
    incumbent
        Returns the current incumbent value (``inf`` if none).
    offer
        Prices an integral base vector exactly and keeps it if it is better.
    to_base
        Rounds and completes the base part of a master point into a base vector.
    ctx
        Solve settings (time limit, gap).
    """
    h = master.h
    lp = h.getLp()
    root_lo = np.asarray(lp.col_lower_, dtype=np.float64)[ints].copy()
    root_hi = np.asarray(lp.col_upper_, dtype=np.float64)[ints].copy()
    pos = {int(c): k for k, c in enumerate(ints)}
    applied: dict[int, float] = {}

    def apply(fixes: dict[int, float]) -> None:
        reset = [c for c in applied if c not in fixes]
        changed = [c for c, v in fixes.items() if applied.get(c) != v]
        cols = reset + changed
        if not cols:
            return
        lo = np.array([root_lo[pos[c]] for c in reset] + [fixes[c] for c in changed])
        hi = np.array([root_hi[pos[c]] for c in reset] + [fixes[c] for c in changed])
        h.changeColsBounds(len(cols), np.asarray(cols, dtype=np.int32), lo, hi)
        applied.clear()
        applied.update(fixes)

    # Depth first: the incumbent is usually optimal already (the heuristics are
    # strong), so the tree to prove it is the same in any order, and diving keeps
    # the dual simplex warm (few pivots between parent and child).
    heap: list[_Node] = [_Node(root_bound, 0, {})]
    pseudo = _Pseudocosts()
    count = 0
    t0 = time.perf_counter()
    floor = math.inf  # smallest bound of a node pruned within the gap
    while heap:
        ub = incumbent()
        node = heap.pop()
        if closed(ub, node.bound, ctx.mip_gap):
            floor = min(floor, node.bound)
            continue
        if ctx.out_of_time():
            heap.append(node)
            break
        count += 1
        apply(node.fixes)
        value, x, dual_rc, converged = _node_lp(master, ctx, offer, to_base, ints, incumbent)
        if value is None:  # out of time inside the node
            heap.append(node)
            break
        value = max(value, node.bound)
        pseudo.learn(node, min(value, incumbent()))
        if x is None or closed(incumbent(), value, ctx.mip_gap):
            floor = min(floor, value)
            continue
        if count % PURGE_EVERY == 0:
            master.purge()  # the LP solution is current: drop the cuts slack here
        ub = incumbent()
        xi = x[ints]
        frac = np.minimum(xi - np.floor(xi), np.ceil(xi) - xi)
        free = root_lo < root_hi
        for c in node.fixes:
            free[pos[c]] = False
        fixes = dict(node.fixes)
        if dual_rc is not None and math.isfinite(ub):
            lim = ub - value + 1e-7 * max(1.0, abs(ub))
            for k in np.nonzero(free & (xi <= _INT_TOL) & (dual_rc > lim))[0]:
                fixes[int(ints[k])] = 0.0
            for k in np.nonzero(free & (xi >= 1 - _INT_TOL) & (-dual_rc > lim))[0]:
                fixes[int(ints[k])] = 1.0
        cand = np.nonzero(free & (frac > _INT_TOL))[0]
        if cand.size == 0:
            if not converged:  # integral but not yet priced tight: come back to it
                heap.append(_Node(value, -count * 2, node.fixes))
            else:
                floor = min(floor, value)  # integral, priced exactly and offered
            continue
        # pseudocosts; most fractional first (ties to the larger value) without history
        order = cand[np.lexsort((-xi[cand], -frac[cand]))]
        k = int(order[pseudo.choose(ints[order], xi[order])])
        col = int(ints[k])
        for side in (1.0, 0.0):  # the last one pushed, closing the site, is processed next
            child = dict(fixes)
            child[col] = side
            moved = float(xi[k]) if side == 0.0 else float(1.0 - xi[k])
            heap.append(_Node(value, -count * 2 - int(side), child, (col, side, moved)))
    apply({})
    ub = incumbent()
    bound = min([ub, floor] + [n.bound for n in heap])
    proven = not heap and math.isfinite(ub)
    logger.debug(
        "branch and bound: %d nodes, %d open, bound %.8g, incumbent %.8g, %.2fs",
        count,
        len(heap),
        bound,
        ub,
        time.perf_counter() - t0,
    )
    return TreeResult(bound, proven, count)


def _node_lp(
    master: Master,
    ctx: SolveContext,
    offer: Callable[[NDArray[np.float64]], bool],
    to_base: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    ints: NDArray[np.int64],
    incumbent: Callable[[], float],
) -> tuple[float | None, NDArray[np.float64] | None, NDArray[np.float64] | None, bool]:
    """Cut loop at one node: ``(value, x, reduced costs, converged)``.

    ``value`` is ``None`` when out of time; ``x`` is ``None`` when the node is
    infeasible or its bound reaches the incumbent. ``converged``: no cut is
    violated at ``x`` (for an integral ``x``, ``value`` is then its exact cost).
    """
    nb = master.nb
    rounds = 0
    while True:
        rounds += 1
        status, x, obj = master.run_lp(ctx)
        if status == "infeasible":
            return math.inf, None, None, True
        if status != "optimal" or x is None:
            return None, None, None, False
        if closed(incumbent(), obj, ctx.mip_gap):
            return obj, None, None, True
        xi = x[ints]
        integral = bool(np.all(np.abs(xi - np.round(xi)) <= _INT_TOL))
        if integral:
            offer(to_base(x[:nb]))
        sol = master.h.getSolution()
        rc = np.asarray(sol.col_dual, dtype=np.float64)[ints] if sol.dual_valid else None
        added = master.add_cuts(master.cuts_at(x[:nb]), x)
        if added == 0:
            return obj, x, rc, True
        if rounds >= (INTEGRAL_CUT_ROUNDS if integral else NODE_CUT_ROUNDS):
            return obj, x, rc, False


def reduced_cost_fixing(
    master: Master,
    ints: NDArray[np.int64],
    rc: NDArray[np.float64],
    *,
    x_lp: NDArray[np.float64],
    lb: float,
    ub: float,
) -> int:
    """Fix integer columns whose reduced cost exceeds the gap (valid for any better solution).

    ``rc`` are the reduced costs of the columns ``ints`` at the root LP point
    ``x_lp`` of value ``lb``; ``ub`` is the incumbent value.
    """
    xv = x_lp[ints]
    lim = ub - lb + 1e-7 * max(1.0, abs(ub))
    at_lo = (xv <= 1e-9) & (rc > lim)
    at_hi = (xv >= 1 - 1e-9) & (-rc > lim)
    n = 0
    for mask, val in ((at_lo, 0.0), (at_hi, 1.0)):
        cols = ints[mask]
        if cols.size:
            master.h.changeColsBounds(
                cols.size, cols.astype(np.int32), np.full(cols.size, val), np.full(cols.size, val)
            )
            n += cols.size
    return n

"""Set-cover building blocks shared by the coverage models and the p-center search.

A coverage matrix ``sets`` has one row per demand row (or merged row) and one
column per site; ``sets[i, j]`` says that site ``j`` covers row ``i``. The
functions here shrink such a matrix without changing its optimum (dominated
rows and sites), find a quick cover greedily, and write the set-covering MILP
straight from the arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from optimizer.models._milp import Milp, MilpBuilder

__all__: list[str] = []

#: Row dominance compares every pair of distinct rows; above this many it is skipped.
ROW_DOMINANCE_LIMIT = 3000


def subset_matrix(cover: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``out[a, b]`` is True when column set ``a`` is a subset of column set ``b``."""
    cover_f = cover.astype(np.float32)
    inter = cover_f.T @ cover_f
    size = cover_f.sum(axis=0)
    return np.abs(inter - size[:, None]) < 0.5


def drop_dominated_rows(
    sets: NDArray[np.bool_], *, limit: int = ROW_DOMINANCE_LIMIT, block: int = 2000
) -> NDArray[np.bool_]:
    """Drop distinct rows whose site set contains another row's set.

    Covering the smaller set covers them too. Skipped above ``limit`` rows;
    ``sets`` must have distinct rows (so a contained set is a proper subset
    and the rows kept cover for every row dropped). The pairs are compared
    ``block`` rows at a time.
    """
    g = sets.shape[0]
    if not 1 < g <= limit:
        return sets
    s = sets.astype(np.float32)
    size = s.sum(axis=1)
    dominated = np.zeros(g, dtype=bool)
    for lo in range(0, g, block):
        inter = s @ s[lo : lo + block].T  # inter[a, b]: sites rows a and lo + b share
        sub = np.abs(inter - size[:, None]) < 0.5  # row a within row lo + b
        sub[np.arange(lo, min(lo + block, g)), np.arange(min(block, g - lo))] = False
        dominated[lo : lo + block] = sub.any(axis=0)
    return sets[~dominated]


def dominated_sites(sets: NDArray[np.bool_], cost: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Sites whose covered rows are within those of a site no more expensive.

    Among sites with equal sets and costs the lowest index survives; a site
    covering fewer rows at the same cost is dominated.
    """
    k = sets.shape[1]
    if k == 0 or sets.shape[0] == 0:
        return np.zeros(k, dtype=bool)
    sub = subset_matrix(sets)
    idx = np.arange(k)
    size = sets.sum(axis=0)
    cheaper = cost[None, :] < cost[:, None]
    same_cost = cost[None, :] == cost[:, None]
    tie = same_cost & ((size[None, :] > size[:, None]) | (idx[None, :] < idx[:, None]))
    return (sub & (cheaper | tie) & ~np.eye(k, dtype=bool)).any(axis=1)


def greedy_cover(
    sets: NDArray[np.bool_], cost: NDArray[np.float64], chosen: NDArray[np.bool_]
) -> NDArray[np.bool_] | None:
    """Cover every row greedily (best gain per cost), starting from ``chosen``.

    Redundant sites are then dropped (most expensive first, never those in
    ``chosen``). Returns ``None`` if no cover exists.
    """
    fixed = chosen.copy()
    chosen = chosen.copy()
    covered = sets[:, chosen].any(axis=1) if chosen.any() else np.zeros(sets.shape[0], bool)
    while not covered.all():
        gain = (~covered).astype(float) @ sets
        ratio = np.where(gain > 0, gain / np.maximum(cost, 1e-12), -np.inf)
        ratio = np.where(chosen, -np.inf, ratio)
        j = int(np.argmax(ratio))
        if not np.isfinite(ratio[j]):
            return None
        chosen[j] = True
        covered |= sets[:, j]
    for j in np.argsort(-cost, kind="stable"):
        if chosen[j] and not fixed[j]:
            chosen[j] = False
            if not sets[:, chosen].any(axis=1).all():
                chosen[j] = True
    return chosen


def cover_milp(
    sets: NDArray[np.bool_],
    cost: NDArray[np.float64],
    fixed: NDArray[np.bool_],
    *,
    max_sites: int | None = None,
) -> Milp:
    r"""Build the set-covering MILP :math:`\min c^T y` s.t. every row of ``sets`` covered.

    Sites in ``fixed`` are forced open; ``max_sites`` adds :math:`\sum_j y_j \le`
    ``max_sites``.
    """
    b = MilpBuilder()
    y = b.add_cols(sets.shape[1], cost=cost, lb=fixed.astype(float), ub=1.0, integer=True, name="y")
    gi, sj = np.nonzero(sets)
    if sets.shape[0]:
        b.add_rows(gi, y[sj], 1.0, sets.shape[0], lb=1.0)
    if max_sites is not None:
        b.add_row(y, np.ones(y.size), ub=float(max_sites))
    return b.build()

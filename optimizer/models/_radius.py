"""Exact p-center by binary search over the radius, with a set-cover check per radius.

The optimal p-center radius is one of the costs in the matrix. For a radius
``r`` the question "can ``p`` sites cover every row within ``r``?" is a
set-covering question; its answer is monotone in ``r``. :func:`radius_search`
bisects the sorted distinct costs between a lower bound (the largest
nearest-site cost) and an upper bound (a heuristic solution), and answers each
question as cheaply as it can:

1. rows covered by a required site are dropped, rows with equal coverage sets
   merged, rows whose set contains another row's set dropped, and sites whose
   set lies within another site's set dropped (:mod:`._cover`);
2. a row with no site within ``r``, or more pairwise disjoint rows than sites
   to open (each needs a site of its own), proves ``r`` infeasible;
3. a greedy cover with few enough sites proves it feasible;
4. otherwise a small MILP decides: ``min sum y`` over the covering rows with
   ``sum y <= p``, stopped at its first solution (or its proof of infeasibility).

A feasible answer also moves the upper end down to the radius its sites really
achieve. The search stops when both ends meet (a proof of optimality) or when
time runs out (the best sites found so far and the smallest radius not yet
ruled out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from optimizer.models._backends import RawResult
from optimizer.models._cover import (
    cover_milp,
    dominated_sites,
    drop_dominated_rows,
    greedy_cover,
)
from optimizer.models._inputs import unique_sets
from optimizer.models._milp import Milp

__all__: list[str] = []

logger = logging.getLogger(__name__)

#: Solves a covering MILP within a time limit (``None``: no limit).
CoverSolver = Callable[[Milp, float | None], RawResult]
Answer = Literal["feasible", "infeasible", "unknown"]

#: Row dominance per radius up to this many distinct rows (road-like sets nest, and
#: dropping the rows that contain another row shrinks the covering MILP several-fold).
RADIUS_ROW_DOMINANCE_LIMIT = 12_000


@dataclass
class RadiusResult:
    """The outcome of :func:`radius_search`.

    ``sites`` are column positions (required ones included, at most ``p``)
    reaching every row within ``radius``; ``bound`` is a proven lower bound on
    the optimal radius; ``proven`` says that ``radius`` is optimal. ``sites``
    is ``None`` when no solution with a finite radius was found.
    """

    sites: NDArray[np.int64] | None
    radius: float
    bound: float
    proven: bool
    checks: int = 0


def max_min(cmat: NDArray[np.float64], sites: NDArray[np.int64]) -> float:
    """Return the largest cost from a row to its nearest site of ``sites`` (``inf`` if none)."""
    if sites.size == 0:
        return float("inf") if cmat.shape[0] else 0.0
    return float(cmat[:, sites].min(axis=1).max()) if cmat.shape[0] else 0.0


def _disjoint_rows(sets: NDArray[np.bool_]) -> int:
    """How many rows a greedy pick (smallest sets first) finds with pairwise disjoint sets."""
    used = np.zeros(sets.shape[1], dtype=bool)
    count = 0
    for i in np.argsort(sets.sum(axis=1), kind="stable"):
        row = sets[i]
        if not (row & used).any():
            used |= row
            count += 1
    return count


def cover_check(
    cover: NDArray[np.bool_],
    req: NDArray[np.bool_],
    p: int,
    solve: CoverSolver,
    time_limit: float | None,
) -> tuple[Answer, NDArray[np.int64] | None]:
    """Decide whether ``p`` sites (the ``req`` ones among them) cover every row of ``cover``.

    Returns the answer and, when feasible, the column positions of such sites.
    """
    req_cols = np.nonzero(req)[0]
    need = ~cover[:, req].any(axis=1) if req.any() else np.ones(cover.shape[0], dtype=bool)
    sets, _ = unique_sets(cover[need])
    if sets.shape[0] == 0:
        return "feasible", req_cols
    budget = p - req_cols.size
    if budget <= 0 or not sets.any(axis=1).all():
        return "infeasible", None
    sets = drop_dominated_rows(sets, limit=RADIUS_ROW_DOMINANCE_LIMIT)
    free = np.nonzero(~req)[0]
    keep = free[~dominated_sites(sets[:, free], np.ones(free.size))]
    sets = sets[:, keep]
    ones = np.ones(keep.size)
    none = np.zeros(keep.size, dtype=bool)
    if _disjoint_rows(sets) > budget:
        return "infeasible", None
    greedy = greedy_cover(sets, ones, none)
    if greedy is not None and greedy.sum() <= budget:
        return "feasible", np.sort(np.r_[req_cols, keep[greedy]])
    res = solve(cover_milp(sets, ones, none, max_sites=budget), time_limit)
    if res.status == "infeasible":
        return "infeasible", None
    if res.x is None:
        return "unknown", None
    chosen = keep[np.round(res.x) > 0.5]
    return "feasible", np.sort(np.r_[req_cols, chosen])


def radius_search(
    cmat: NDArray[np.float64],
    req: NDArray[np.bool_],
    p: int,
    *,
    start: NDArray[np.int64] | None,
    solve: CoverSolver,
    remaining: Callable[[], float | None],
) -> RadiusResult:
    """Minimise the largest row-to-nearest-site cost of ``cmat`` with at most ``p`` sites.

    Parameters
    ----------
    cmat
        ``rows x sites`` costs (``inf``: cannot serve); every row counts.
    req
        Sites that must be among the chosen ones (mask over the columns).
    p
        Number of sites (at most; more never hurts, so the caller pads).
    start
        Sites of a heuristic solution (its radius is the first upper bound), or ``None``.
    solve
        Solver of the covering MILPs (called only when the cheap checks do not decide).
    remaining
        Seconds left (``None``: no limit); checked before each radius.

    Returns
    -------
    RadiusResult
    """
    lb = float(cmat.min(axis=1).max()) if cmat.shape[0] else 0.0
    best: NDArray[np.int64] | None = None
    best_r = float("inf")
    if start is not None:
        r0 = max_min(cmat, start)
        if np.isfinite(r0):
            best, best_r = np.sort(start), r0
    if not np.isfinite(lb):
        return RadiusResult(best, best_r, lb, False)
    mask = cmat >= lb
    mask &= cmat <= best_r
    mask &= np.isfinite(cmat)
    vals = np.unique(cmat[mask])
    lo, hi = 0, vals.size - 1
    if best is not None:
        hi = int(np.searchsorted(vals, best_r))
    checks = 0
    while lo < hi or (best is None and lo <= hi):
        left = remaining()
        if left is not None and left <= 0:
            break
        mid = (lo + hi) // 2
        answer, sites = cover_check(cmat <= vals[mid], req, p, solve, left)
        checks += 1
        logger.debug("p-center radius %.6g: %s", vals[mid], answer)
        if answer == "unknown":
            break
        if answer == "infeasible":
            lo = mid + 1
            continue
        assert sites is not None
        r = max_min(cmat, sites)
        best, best_r = sites, r
        hi = int(np.searchsorted(vals, r))
    bound = float(vals[lo]) if lo < vals.size else float("inf")
    if best is not None:
        bound = min(bound, best_r)
    proven = best is not None and bound >= best_r
    return RadiusResult(best, best_r, bound, proven, checks)

"""Exact MCLP on HiGHS: a swap-improved greedy incumbent, the LP bound, reduced-cost fixing.

The MCLP's LP relaxation is usually within a fraction of a percent of the
optimum, and a greedy solution improved by best-improvement swaps is usually
optimal or close to it. So before the MILP runs, :func:`solve_mclp` solves
the LP once and closes every site whose reduced cost shows that opening it
cannot beat the incumbent (and opens every site that must stay open); the
MILP that is left has few free sites and solves quickly. A zero LP gap proves
the incumbent optimal without any MILP at all.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from optimizer.models._backends import RawResult, highs_model, run_highs
from optimizer.models._milp import Milp

__all__: list[str] = []

logger = logging.getLogger(__name__)

#: Stop the swap search after this many improving swaps.
MAX_SWAPS = 200


def swap_search(
    sets: NDArray[np.bool_],
    weights: NDArray[np.float64],
    chosen: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    *,
    deadline: float | None = None,
) -> NDArray[np.bool_]:
    """Improve a choice of sites by best-improvement swaps (one open site for one closed).

    Parameters
    ----------
    sets
        ``rows x sites`` coverage (merged rows).
    weights
        Weight of each row.
    chosen
        Open sites (a mask); its count is kept.
    fixed
        Sites that must stay open.
    deadline
        ``time.perf_counter()`` value after which no further swap is tried.

    Returns
    -------
    numpy.ndarray
        The improved mask.
    """
    chosen = chosen.copy()
    s = sets.astype(np.float64)
    for _ in range(MAX_SWAPS):
        if deadline is not None and time.perf_counter() > deadline:
            break
        open_ = np.nonzero(chosen & ~fixed)[0]
        if open_.size == 0 or chosen.all():
            break
        count = s[:, chosen].sum(axis=1)
        gain = (weights * (count == 0)) @ s  # adding a site
        only = weights * (count == 1)
        loss = only @ s[:, open_]  # closing an open site
        # rows only site j covers that site k covers too stay covered after the swap
        kept = (s[:, open_] * only[:, None]).T @ s
        delta = gain[None, :] + kept - loss[:, None]
        delta[:, chosen] = -np.inf
        a, k = np.unravel_index(int(np.argmax(delta)), delta.shape)
        if not delta[a, k] > 1e-9 * max(1.0, float(weights.sum())):
            break
        chosen[open_[a]] = False
        chosen[k] = True
    return chosen


def _lp_with_duals(milp: Milp, time_limit: float | None) -> tuple[float, NDArray, NDArray] | None:
    """Solve the LP relaxation; its objective, column values and reduced costs (or ``None``)."""
    import highspy

    lp = replace(milp, integer=np.zeros_like(milp.integer))
    h = highs_model(lp)
    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    h.setOptionValue("presolve", "off")
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    sol = h.getSolution()
    value = float(h.getInfo().objective_function_value)
    return value, np.asarray(sol.col_value), np.asarray(sol.col_dual)


def solve_mclp(
    milp: Milp,
    n_sites: int,
    start: NDArray[np.float64],
    *,
    time_limit: float | None,
    mip_gap: float,
) -> RawResult:
    """Solve the MCLP ``milp`` (maximised; its first ``n_sites`` columns are the sites).

    ``start`` is a feasible solution of ``milp`` (the incumbent). Returns the
    result of the MILP on the sites left after reduced-cost fixing (valid for
    the whole model), or the incumbent with the LP bound when that proves it.
    """
    t0 = time.perf_counter()
    incumbent = float(milp.col_cost @ start + milp.offset)
    lp = _lp_with_duals(milp, time_limit)
    if lp is None:
        return run_highs(milp, time_limit=time_limit, mip_gap=mip_gap, start=start)
    z_lp, value, dual = lp
    tol = 1e-6 * max(1.0, abs(incumbent)) + 1e-6
    if z_lp <= incumbent + tol * 1e-3:
        logger.debug("MCLP: LP bound %.9g proves the incumbent %.9g", z_lp, incumbent)
        return RawResult("optimal", start.copy(), incumbent, max(z_lp, incumbent))
    col_lb, col_ub = milp.col_lb.copy(), milp.col_ub.copy()
    ys = np.arange(n_sites)
    flip = z_lp - np.abs(dual[ys])  # LP bound with the site's value flipped
    hopeless = flip < incumbent - tol
    at_zero = value[ys] < 1e-9
    at_one = value[ys] > 1 - 1e-9
    close = hopeless & at_zero & (col_lb[ys] == 0)
    keep_open = hopeless & at_one
    col_ub[ys[close]] = 0.0
    col_lb[ys[keep_open]] = 1.0
    logger.debug(
        "MCLP: LP %.9g, incumbent %.9g; %d sites closed, %d kept open, %d free",
        z_lp,
        incumbent,
        int(close.sum()),
        int(keep_open.sum()),
        n_sites - int(close.sum()) - int(keep_open.sum()),
    )
    left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 0.01)
    reduced = replace(milp, col_lb=col_lb, col_ub=col_ub)
    if not (start[ys[close]] < 0.5).all() or not (start[ys[keep_open]] > 0.5).all():
        start_ok = None  # cannot happen with exact duals; the MILP then finds its own start
    else:
        start_ok = start
    res = run_highs(reduced, time_limit=left, mip_gap=mip_gap, start=start_ok)
    if res.x is None:
        return RawResult("time_limit", start.copy(), incumbent, max(z_lp, incumbent))
    if math.isfinite(res.bound):
        res.bound = min(res.bound, z_lp)
    return res

"""The MCLP warm start: best-improvement swaps on a greedy choice of sites.

The swaps are evaluated for every (open, closed) pair at once from the
merged coverage matrix: with ``count`` the number of open sites covering a
row, closing ``j`` loses the rows only ``j`` covers, opening ``k`` gains the
uncovered rows ``k`` covers plus the rows only ``j`` covered that ``k`` also
covers. An LP reduced-cost fixing step before the MILP was tried (issue 13,
goal 7) and left out: HiGHS does the same fixing itself, and the extra LP made
the 10,000 x 1,000 cases slower, not faster.
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray

__all__: list[str] = []

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

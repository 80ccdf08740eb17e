"""Construction and local-search heuristics (warm starts and upper bounds).

All searches are deterministic. The interchange moves are evaluated for all
(open, closed) pairs at once with the fast-swap bookkeeping of Whitaker
(1983) and Resende and Werneck (2007): for the current open set keep each
row's nearest and second-nearest open site; then

    delta(l out, j in) = -gain(j) + loss(l) - extra(l, j)

where ``gain(j) = sum_i w_i (d1_i - c_ij)^+``, ``loss(l)`` is what the rows
served by ``l`` lose when they fall back to their second-nearest site, and
``extra(l, j) = sum_{i: phi(i) = l} w_i (d2_i - max(c_ij, d1_i))^+`` corrects
for rows served by ``l`` that ``j`` would take over.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__: list[str] = []


def finite_big(cost: NDArray[np.float64], w: NDArray[np.float64]) -> float:
    """Return a penalty for unreachable pairs that dominates every finite objective."""
    fin = cost[np.isfinite(cost)]
    maxfin = float(fin.max()) if fin.size else 1.0
    wpos = w[w > 0]
    wmin = float(wpos.min()) if wpos.size else 1.0
    return (float(w.sum()) * (maxfin + 1.0) + 1.0) / wmin


def penalised(cost: NDArray[np.float64], big: float) -> NDArray[np.float64]:
    """Copy of ``cost`` with ``inf`` replaced by ``big``."""
    return np.where(np.isfinite(cost), cost, big)


class Flow:
    """Nearest/second-nearest bookkeeping of one weighted flow over an open set."""

    def __init__(
        self, cost: NDArray[np.float64], w: NDArray[np.float64], big: float | None = None
    ) -> None:
        if big is None:
            big = finite_big(cost, w)
        keep = w > 0
        self.C = penalised(cost[keep], big)
        self.w = w[keep]
        self.big = big
        self.n, self.m = self.C.shape

    def state(
        self, open_cols: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """Return ``d1, d2, phi`` (phi = position in ``open_cols`` of the nearest)."""
        n = self.n
        k = open_cols.size
        if k == 0:
            big = np.full(n, self.big * 10)
            return big, big.copy(), np.zeros(n, dtype=np.int64)
        sub = self.C[:, open_cols]
        if k == 1:
            return sub[:, 0].copy(), np.full(n, self.big * 10), np.zeros(n, dtype=np.int64)
        part = np.argpartition(sub, 1, axis=1)[:, :2]
        vals = np.take_along_axis(sub, part, axis=1)
        swap = (vals[:, 1] < vals[:, 0]) | ((vals[:, 1] == vals[:, 0]) & (part[:, 1] < part[:, 0]))
        first = np.where(swap, part[:, 1], part[:, 0])
        second = np.where(swap, part[:, 0], part[:, 1])
        rows = np.arange(n)
        return sub[rows, first], sub[rows, second], first.astype(np.int64)

    def value(self, open_cols: NDArray[np.int64]) -> float:
        """Weighted nearest-open cost (penalised)."""
        if self.n == 0:
            return 0.0
        d1, _, _ = self.state(open_cols)
        return float(self.w @ d1)

    def gain(self, d1: NDArray[np.float64]) -> NDArray[np.float64]:
        """Return the saving of opening each site."""
        if self.n == 0:
            return np.zeros(self.m)
        return self.w @ np.maximum(d1[:, None] - self.C, 0.0)

    def gain_of(self, d1: NDArray[np.float64], j: int) -> float:
        """Return the saving of opening site ``j`` alone (one column of :meth:`gain`)."""
        return float(self.w @ np.maximum(d1 - self.C[:, j], 0.0)) if self.n else 0.0

    def loss(
        self, d1: NDArray[np.float64], d2: NDArray[np.float64], phi: NDArray[np.int64], k: int
    ) -> NDArray[np.float64]:
        """Cost of closing each open site (by position)."""
        return np.bincount(phi, weights=self.w * (d2 - d1), minlength=k)

    def swap_delta(
        self, d1: NDArray[np.float64], d2: NDArray[np.float64], phi: NDArray[np.int64], k: int
    ) -> NDArray[np.float64]:
        """Return the ``k x m`` cost change of closing open position ``l`` and opening ``j``."""
        if self.n == 0:
            return np.zeros((k, self.m))
        gain = self.gain(d1)
        loss = self.loss(d1, d2, phi, k)
        gainmat = self.w[:, None] * np.maximum(d2[:, None] - np.maximum(self.C, d1[:, None]), 0.0)
        onehot = sp.csr_matrix((np.ones(self.n), (phi, np.arange(self.n))), shape=(k, self.n))
        extra = np.asarray(onehot @ gainmat)
        return -gain[None, :] + loss[:, None] - extra


def lazy_greedy(
    delta: NDArray[np.float64],
    *,
    exact: Callable[[int], float],
    usable: Callable[[int], bool],
    take: Callable[[int], None],
    count: int,
    below: float = math.inf,
) -> int:
    """Take up to ``count`` columns one by one, each the one whose change is smallest now.

    The lazy greedy of Minoux (1978): ``delta`` holds every column's change
    before the first pick (``inf``: never); a change can only grow as columns
    are taken (the saving of opening a site never rises when others open),
    so an old value is a lower bound, and a column whose ``exact`` change is
    still the smallest of the bounds is the one the eager greedy would pick
    (ties to the lower column). Each pick prices a few columns instead of all.

    Parameters
    ----------
    delta
        Change of every column before the first pick.
    exact
        Change of column ``j`` now.
    usable
        Whether column ``j`` may be taken now; once not, never again.
    take
        Takes column ``j`` (updates what ``exact`` and ``usable`` read).
    count
        Columns to take at the most.
    below
        Stop when the smallest change is not below this.

    Returns
    -------
    int
        Columns taken.
    """
    heap = [(float(delta[j]), int(j)) for j in np.nonzero(np.isfinite(delta))[0]]
    heapq.heapify(heap)
    taken = 0
    while taken < count and heap:
        _, j = heapq.heappop(heap)
        if not usable(j):
            continue
        now = (exact(j), j)
        if heap and now > heap[0]:
            heapq.heappush(heap, now)
            continue
        if not now[0] < below:
            break
        take(j)
        taken += 1
    return taken


def greedy_add(
    flow: Flow,
    open_cols: NDArray[np.int64],
    allowed: NDArray[np.bool_],
    count: int,
    site_cost: NDArray[np.float64] | None = None,
    *,
    while_pays: bool = False,
) -> NDArray[np.int64]:
    """Add up to ``count`` sites one by one, each time the one with the best net saving.

    With ``while_pays``, stop when no site saves more than it costs.
    """
    cur = list(open_cols.tolist())
    avail = _closed_allowed(allowed, np.asarray(cur, dtype=np.int64))
    d1, _, _ = flow.state(np.asarray(cur, dtype=np.int64))
    cost = np.zeros(flow.m) if site_cost is None else site_cost

    def take(j: int) -> None:
        nonlocal d1
        cur.append(j)
        avail[j] = False
        if flow.n:
            d1 = np.minimum(d1, flow.C[:, j])

    lazy_greedy(
        np.where(avail, cost - flow.gain(d1), np.inf),
        exact=lambda j: float(cost[j]) - flow.gain_of(d1, j),
        usable=lambda j: bool(avail[j]),
        take=take,
        count=count,
        below=0.0 if while_pays else math.inf,
    )
    return np.asarray(cur, dtype=np.int64)


def _closed_allowed(allowed: NDArray[np.bool_], sites: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Return the allowed sites that are not among the open ``sites``."""
    out = allowed.copy()
    out[sites] = False
    return out


def _best_swap(
    flow: Flow,
    sites: NDArray[np.int64],
    state: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]],
    closed_ok: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    site_cost: NDArray[np.float64] | None = None,
) -> tuple[float, int, int]:
    """Best swap of an open site for a closed allowed one: ``(cost change, position, site)``.

    ``state`` is :meth:`Flow.state` of ``sites``; open sites marked ``fixed`` stay.
    """
    sw = flow.swap_delta(*state, sites.size)
    if site_cost is not None:
        sw += site_cost[None, :] - site_cost[sites][:, None]
    sw[:, ~closed_ok] = np.inf
    sw[fixed[sites], :] = np.inf
    k = np.unravel_index(int(np.argmin(sw)), sw.shape)
    return float(sw[k]), int(k[0]), int(k[1])


def pmedian_heuristic(flow: Flow, p: int, required: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Greedy construction followed by interchange; returns ``p`` open columns."""
    allowed = np.ones(flow.m, dtype=bool)
    req = np.nonzero(required)[0]
    sites = greedy_add(flow, req, allowed, p - req.size)
    return local_search(flow, sites, allowed, required)


def pmedian_from_fractional(
    flow: Flow, p: int, required: NDArray[np.bool_], y: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Round an LP solution (largest ``y``) and improve it by interchange."""
    allowed = np.ones(flow.m, dtype=bool)
    req = np.nonzero(required)[0]
    score = np.where(allowed & ~required, y, -np.inf)
    extra = np.argsort(-score, kind="stable")[: p - req.size]
    sites = np.concatenate([req, extra]).astype(np.int64)
    return local_search(flow, sites, allowed, required)


def local_search(
    flow: Flow,
    open_cols: NDArray[np.int64],
    allowed: NDArray[np.bool_],
    fixed: NDArray[np.bool_],
    *,
    site_cost: NDArray[np.float64] | None = None,
    max_iter: int | None = None,
) -> NDArray[np.int64]:
    """Best-improvement local search from ``open_cols``; open sites marked ``fixed`` stay.

    Without ``site_cost``: swaps only, so the number of open sites stays (the
    p-median interchange, at most 500 rounds). With ``site_cost``: add, drop and
    swap moves for the fixed-charge problem, at least one site open (at most
    1000 rounds).
    """
    sites = np.asarray(open_cols, dtype=np.int64).copy()
    swaps_only = site_cost is None
    if swaps_only and (sites.size == 0 or flow.n == 0):
        return sites
    if max_iter is None:
        max_iter = 500 if swaps_only else 1000
    for _ in range(max_iter):
        d1, d2, phi = flow.state(sites)
        base = float(flow.w @ d1) + (0.0 if site_cost is None else float(site_cost[sites].sum()))
        closed_ok = _closed_allowed(allowed, sites)
        best = ("none", float(-1e-10 * max(1.0, abs(base))), -1, -1)
        if site_cost is not None:
            add = -flow.gain(d1) + site_cost
            add[~closed_ok] = np.inf
            j = int(np.argmin(add))
            if add[j] < best[1]:
                best = ("add", float(add[j]), j, -1)
            if sites.size >= 2:
                drop = flow.loss(d1, d2, phi, sites.size) - site_cost[sites]
                drop[fixed[sites]] = np.inf
                l_ = int(np.argmin(drop))
                if drop[l_] < best[1]:
                    best = ("drop", float(drop[l_]), -1, l_)
        if sites.size >= 1 and flow.n:
            delta, pos, j = _best_swap(flow, sites, (d1, d2, phi), closed_ok, fixed, site_cost)
            if delta < best[1]:
                best = ("swap", delta, j, pos)
        kind, _, j, l_ = best
        if kind == "none":
            break
        if kind == "add":
            sites = np.append(sites, j)
        elif kind == "drop":
            sites = np.delete(sites, l_)
        else:
            sites[l_] = j
    return np.sort(sites)


def ufl_heuristic(
    flow: Flow, site_cost: NDArray[np.float64], required: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Greedy (while it pays) then add/drop/swap local search."""
    allowed = np.ones(flow.m, dtype=bool)
    sites = np.nonzero(required)[0].astype(np.int64)
    if sites.size == 0:
        sites = greedy_add(flow, sites, allowed, 1, site_cost)
    sites = greedy_add(flow, sites, allowed, flow.m, site_cost, while_pays=True)
    return local_search(flow, sites, allowed, required, site_cost=site_cost)


class TwoTierSearch:
    """Local search for the two-tier model (site states 0 = closed, 1 = full, 2 = remote).

    Moves: swap within a tier, convert between tiers, add or drop a site of a
    tier; all candidates of a move type are scored at once. Counts, budgets,
    required and allowed sites are respected by every move; a hard coverage
    standard and unreachable rows are priced with a dominating penalty.
    """

    def __init__(
        self,
        cost: NDArray[np.float64],
        w_full: NDArray[np.float64],
        w_any: NDArray[np.float64],
        *,
        cost_full: NDArray[np.float64],
        cost_remote: NDArray[np.float64],
        count_full: tuple[int, int],
        count_remote: tuple[int, int],
        req_full: NDArray[np.bool_],
        req_remote: NDArray[np.bool_],
        budget_full: float = math.inf,
        budget_remote: float = math.inf,
        cover: NDArray[np.bool_] | None = None,
        cover_pen: NDArray[np.float64] | None = None,
        hard: bool = True,
    ) -> None:
        big = finite_big(cost, w_full + w_any)
        self.F = Flow(cost, w_full, big)
        self.A = Flow(cost, w_any, big)
        self.m = cost.shape[1]
        self.cf, self.cr = cost_full, cost_remote
        self.count_full, self.count_remote = count_full, count_remote
        self.budget_full, self.budget_remote = budget_full, budget_remote
        self.req_full, self.req_remote = req_full, req_remote
        if cover is not None and cover.shape[0]:
            self.N = cover.astype(np.float64)
            pen = cover_pen if cover_pen is not None else np.ones(cover.shape[0])
            self.pen = np.full(cover.shape[0], big) if hard else pen.astype(np.float64)
        else:
            self.N = np.zeros((0, self.m))
            self.pen = np.zeros(0)

    # evaluation ------------------------------------------------------------------------

    def objective(self, t: NDArray[np.int64]) -> float:
        """Penalised objective of state ``t``."""
        full = np.nonzero(t == 1)[0]
        open_ = np.nonzero(t > 0)[0]
        val = self.F.value(full) + self.A.value(open_)
        val += float(self.cf[t == 1].sum() + self.cr[t == 2].sum())
        if self.pen.size:
            cnt = self.N @ (t > 0)
            val += float(self.pen[cnt < 0.5].sum())
        return val

    def feasible(self, t: NDArray[np.int64]) -> bool:
        """Whether counts, budgets and required sites hold."""
        nf, nr = int((t == 1).sum()), int((t == 2).sum())
        return (
            self.count_full[0] <= nf <= self.count_full[1]
            and self.count_remote[0] <= nr <= self.count_remote[1]
            and float(self.cf[t == 1].sum()) <= self.budget_full + 1e-9
            and float(self.cr[t == 2].sum()) <= self.budget_remote + 1e-9
            and bool((t[self.req_full] == 1).all())
            and bool((t[self.req_remote] == 2).all())
        )

    # construction ----------------------------------------------------------------------

    def construct(self, allowed: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Open the required sites, then add greedily up to the minimum counts."""
        return self.construct_from(self._required_state(), allowed)

    def _required_state(self) -> NDArray[np.int64]:
        t = np.zeros(self.m, dtype=np.int64)
        t[self.req_full] = 1
        t[self.req_remote] = 2
        return t

    def from_fractional(
        self, f: NDArray[np.float64], r: NDArray[np.float64], allowed: NDArray[np.bool_]
    ) -> NDArray[np.int64]:
        """Round LP values tier by tier (largest first, within counts and budgets)."""
        t = self._required_state()
        for tier, vals, (lo, hi), costs, budget in (
            (1, f, self.count_full, self.cf, self.budget_full),
            (2, r, self.count_remote, self.cr, self.budget_remote),
        ):
            target = int(np.clip(round(float(vals[allowed].sum())), lo, hi))
            spent = float(costs[t == tier].sum())
            for j in np.argsort(-np.where(allowed, vals, -np.inf), kind="stable"):
                if int((t == tier).sum()) >= target or not allowed[j] or vals[j] <= 1e-9:
                    break
                if t[j] == 0 and spent + costs[j] <= budget + 1e-9:
                    t[j] = tier
                    spent += costs[j]
        return self.construct_from(t, allowed)

    def construct_from(self, t: NDArray[np.int64], allowed: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Top up a partial state to the minimum counts, greedily (full points first)."""
        t = t.copy()
        for tier, (lo, _) in ((1, self.count_full), (2, self.count_remote)):
            need = lo - int((t == tier).sum())
            if need > 0:
                self._greedy_tier(t, allowed, tier, need)
        return t

    def _greedy_tier(
        self, t: NDArray[np.int64], allowed: NDArray[np.bool_], tier: int, need: int
    ) -> None:
        """Open up to ``need`` sites of ``tier`` in ``t``, each the best addition (lazy greedy)."""
        d1a = self.A.state(np.nonzero(t > 0)[0])[0]
        d1f = self.F.state(np.nonzero(t == 1)[0])[0]
        cnt = self._cover_counts(t)
        costs, budget = (self.cf, self.budget_full) if tier == 1 else (self.cr, self.budget_remote)
        spent = float(costs[t == tier].sum())
        delta = costs - self.A.gain(d1a) + self._add_cover(cnt)
        if tier == 1:
            delta = delta - self.F.gain(d1f)

        def exact(j: int) -> float:
            val = float(costs[j]) - self.A.gain_of(d1a, j)
            if tier == 1:
                val -= self.F.gain_of(d1f, j)
            if self.pen.size:
                val -= float((self.pen * (cnt < 0.5)) @ self.N[:, j])
            return val

        def take(j: int) -> None:
            nonlocal d1a, d1f, cnt, spent
            t[j] = tier
            spent += float(costs[j])
            if self.A.n:
                d1a = np.minimum(d1a, self.A.C[:, j])
            if tier == 1 and self.F.n:
                d1f = np.minimum(d1f, self.F.C[:, j])
            if self.pen.size:
                cnt = cnt + self.N[:, j]

        lazy_greedy(
            np.where(allowed & (t == 0), delta, np.inf),
            exact=exact,
            usable=lambda j: bool(t[j] == 0 and allowed[j] and spent + costs[j] <= budget + 1e-9),
            take=take,
            count=need,
        )

    def _cover_counts(self, t: NDArray[np.int64]) -> NDArray[np.float64]:
        return self.N @ (t > 0) if self.pen.size else np.zeros(0)

    def _add_cover(self, cnt: NDArray[np.float64]) -> NDArray[np.float64]:
        if not self.pen.size:
            return np.zeros(self.m)
        return -((self.pen * (cnt < 0.5)) @ self.N)

    def _drop_cover(self, cnt: NDArray[np.float64]) -> NDArray[np.float64]:
        if not self.pen.size:
            return np.zeros(self.m)
        return (self.pen * ((cnt > 0.5) & (cnt < 1.5))) @ self.N

    # local search ----------------------------------------------------------------------

    def improve(
        self,
        t: NDArray[np.int64],
        allowed: NDArray[np.bool_],
        *,
        swaps: bool = True,
        max_iter: int = 500,
    ) -> NDArray[np.int64]:
        """Improve ``t`` until no move helps (cheap moves first, then swaps)."""
        t = t.copy()
        for _ in range(max_iter):
            move = self._best_move(t, allowed, swaps=swaps)
            if move is None:
                break
            for j, state in move:
                t[j] = state
        return t

    def _best_move(
        self, t: NDArray[np.int64], allowed: NDArray[np.bool_], *, swaps: bool = True
    ) -> list[tuple[int, int]] | None:
        full = np.nonzero(t == 1)[0]
        rem = np.nonzero(t == 2)[0]
        open_ = np.nonzero(t > 0)[0]
        nf, nr = full.size, rem.size
        lo_f, hi_f = self.count_full
        lo_r, hi_r = self.count_remote
        spent_f = float(self.cf[full].sum())
        spent_r = float(self.cr[rem].sum())
        base = self.objective(t)
        tol = 1e-10 * max(1.0, abs(base))
        d1f, d2f, phif = self.F.state(full)
        d1a, d2a, phia = self.A.state(open_)
        gain_f = self.F.gain(d1f) if self.F.n else np.zeros(self.m)
        gain_a = self.A.gain(d1a) if self.A.n else np.zeros(self.m)
        loss_f = self.F.loss(d1f, d2f, phif, nf) if nf else np.zeros(0)
        loss_a = self.A.loss(d1a, d2a, phia, open_.size) if open_.size else np.zeros(0)
        pos_a = {int(j): k for k, j in enumerate(open_)}
        cnt = self._cover_counts(t)
        add_cov = self._add_cover(cnt)
        drop_cov = self._drop_cover(cnt)
        closed = allowed & (t == 0)
        best: tuple[float, list[tuple[int, int]]] = (-tol, [])

        def consider(val: float, move: list[tuple[int, int]]) -> None:
            nonlocal best
            if val < best[0]:
                best = (val, move)

        # additions
        if nf < hi_f:
            d = -gain_f - gain_a + self.cf + add_cov
            d = np.where(closed & (spent_f + self.cf <= self.budget_full + 1e-9), d, np.inf)
            j = int(np.argmin(d))
            consider(float(d[j]), [(j, 1)])
        if nr < hi_r:
            d = -gain_a + self.cr + add_cov
            d = np.where(closed & (spent_r + self.cr <= self.budget_remote + 1e-9), d, np.inf)
            j = int(np.argmin(d))
            consider(float(d[j]), [(j, 2)])
        # drops
        if nf > lo_f and nf > 0:
            la = np.array([loss_a[pos_a[int(j)]] for j in full])
            d = loss_f + la - self.cf[full] + drop_cov[full]
            d = np.where(self.req_full[full], np.inf, d)
            k = int(np.argmin(d))
            consider(float(d[k]), [(int(full[k]), 0)])
        if nr > lo_r and nr > 0:
            la = np.array([loss_a[pos_a[int(j)]] for j in rem])
            d = la - self.cr[rem] + drop_cov[rem]
            d = np.where(self.req_remote[rem], np.inf, d)
            k = int(np.argmin(d))
            consider(float(d[k]), [(int(rem[k]), 0)])
        # conversions
        if nf > lo_f and nr < hi_r and nf > 0:
            d = loss_f + self.cr[full] - self.cf[full]
            ok = ~self.req_full[full] & (spent_r + self.cr[full] <= self.budget_remote + 1e-9)
            d = np.where(ok, d, np.inf)
            k = int(np.argmin(d))
            consider(float(d[k]), [(int(full[k]), 2)])
        if nr > lo_r and nf < hi_f and nr > 0:
            d = -gain_f[rem] + self.cf[rem] - self.cr[rem]
            ok = ~self.req_remote[rem] & (spent_f + self.cf[rem] <= self.budget_full + 1e-9)
            d = np.where(ok, d, np.inf)
            k = int(np.argmin(d))
            consider(float(d[k]), [(int(rem[k]), 1)])
        if best[1] or not swaps:
            return best[1] or None  # a cheap move improves: take it before pricing swaps
        # swaps within a tier
        if open_.size and closed.any():
            da = (
                self.A.swap_delta(d1a, d2a, phia, open_.size)
                if self.A.n
                else np.zeros((open_.size, self.m))
            )
            if self.pen.size:
                both = (self.pen * ((cnt > 0.5) & (cnt < 1.5)))[:, None] * self.N[:, open_]
                cov = drop_cov[open_][:, None] + add_cov[None, :] - both.T @ self.N
            else:
                cov = np.zeros((open_.size, self.m))

            def swap_within(
                tier: int,
                sites: NDArray[np.int64],
                extra: NDArray[np.float64] | float,
                costs: NDArray[np.float64],
                spent: float,
                budget: float,
                req: NDArray[np.bool_],
            ) -> None:
                # close one site of the tier and open a closed one in the same tier
                rows = np.array([pos_a[int(j)] for j in sites])
                d = extra + da[rows] + cov[rows] + costs[None, :] - costs[sites][:, None]
                ok = closed[None, :] & (
                    spent - costs[sites][:, None] + costs[None, :] <= budget + 1e-9
                )
                ok &= ~req[sites][:, None]
                d = np.where(ok, d, np.inf)
                k = np.unravel_index(int(np.argmin(d)), d.shape)
                consider(float(d[k]), [(int(sites[k[0]]), 0), (int(k[1]), tier)])

            if nf:
                dfull = (
                    self.F.swap_delta(d1f, d2f, phif, nf) if self.F.n else np.zeros((nf, self.m))
                )
                if nr:
                    # exchange tiers: full l becomes remote, remote k becomes full
                    d = dfull[:, rem] + (self.cr[full] - self.cf[full])[:, None]
                    d = d + (self.cf[rem] - self.cr[rem])[None, :]
                    ok = ~self.req_full[full][:, None] & ~self.req_remote[rem][None, :]
                    ok &= (
                        spent_f - self.cf[full][:, None] + self.cf[rem][None, :]
                        <= self.budget_full + 1e-9
                    )
                    ok &= (
                        spent_r - self.cr[rem][None, :] + self.cr[full][:, None]
                        <= self.budget_remote + 1e-9
                    )
                    d = np.where(ok, d, np.inf)
                    k = np.unravel_index(int(np.argmin(d)), d.shape)
                    consider(float(d[k]), [(int(full[k[0]]), 2), (int(rem[k[1]]), 1)])
                swap_within(1, full, dfull, self.cf, spent_f, self.budget_full, self.req_full)
            if nr:
                swap_within(2, rem, 0.0, self.cr, spent_r, self.budget_remote, self.req_remote)
        return best[1] or None

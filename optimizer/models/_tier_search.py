"""Local search for the two-tier models: site states closed, full or remote.

Built on the one-flow bookkeeping of :mod:`._heuristics` (:class:`Flow`: the
nearest and second-nearest open site of every row) with one flow for the
in-person visits (full points only) and one for the remote-eligible visits
(points of either tier), and on its lazy greedy for the construction.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from optimizer.models._heuristics import Flow, finite_big, lazy_greedy

__all__: list[str] = []


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
        """Top up a partial state: the minimum counts (full points first), then what pays.

        Both steps are greedy: each opens the addition that lowers the
        objective most; the second stops when no addition lowers it.
        """
        t = t.copy()
        for tier, (lo, _) in ((1, self.count_full), (2, self.count_remote)):
            need = lo - int((t == tier).sum())
            if need > 0:
                self._greedy(t, allowed, (tier,), need)
        self._greedy(t, allowed, (1, 2), 2 * self.m, below=0.0)
        return t

    def _greedy(
        self,
        t: NDArray[np.int64],
        allowed: NDArray[np.bool_],
        tiers: tuple[int, ...],
        need: int,
        *,
        below: float = math.inf,
    ) -> None:
        """Open up to ``need`` sites of ``tiers`` in ``t``, each the best addition (lazy greedy).

        Candidate ``k`` is site ``k % m`` in tier ``k // m + 1``; counts and
        budgets are kept (a tier already at its maximum is not priced). With
        ``below``, stop when no addition changes the objective by less.
        """
        m = self.m
        most = {1: self.count_full[1], 2: self.count_remote[1]}
        opened = {tier: int((t == tier).sum()) for tier in (1, 2)}
        tiers = tuple(tier for tier in tiers if opened[tier] < most[tier])
        if not tiers:
            return  # no room in any tier: nothing to price
        d1a = self.A.state(np.nonzero(t > 0)[0])[0]
        d1f = self.F.state(np.nonzero(t == 1)[0])[0]
        cnt = self._cover_counts(t)
        costs = {1: self.cf, 2: self.cr}
        budget = {1: self.budget_full, 2: self.budget_remote}
        spent = {tier: float(costs[tier][t == tier].sum()) for tier in (1, 2)}
        common = -self.A.gain(d1a) + self._add_cover(cnt)
        delta = np.full(2 * m, np.inf)
        closed = allowed & (t == 0)
        for tier in tiers:
            d = costs[tier] + common - (self.F.gain(d1f) if tier == 1 else 0.0)
            delta[(tier - 1) * m : tier * m] = np.where(closed, d, np.inf)

        def exact(k: int) -> float:
            tier, j = k // m + 1, k % m
            val = float(costs[tier][j]) - self.A.gain_of(d1a, j)
            if tier == 1:
                val -= self.F.gain_of(d1f, j)
            if self.pen.size:
                val -= float((self.pen * (cnt < 0.5)) @ self.N[:, j])
            return val

        def usable(k: int) -> bool:
            tier, j = k // m + 1, k % m
            return bool(
                t[j] == 0
                and opened[tier] < most[tier]
                and spent[tier] + costs[tier][j] <= budget[tier] + 1e-9
            )

        def take(k: int) -> None:
            nonlocal d1a, d1f, cnt
            tier, j = k // m + 1, k % m
            t[j] = tier
            spent[tier] += float(costs[tier][j])
            opened[tier] += 1
            if self.A.n:
                d1a = np.minimum(d1a, self.A.C[:, j])
            if tier == 1 and self.F.n:
                d1f = np.minimum(d1f, self.F.C[:, j])
            if self.pen.size:
                cnt = cnt + self.N[:, j]

        lazy_greedy(delta, exact=exact, usable=usable, take=take, count=need, below=below)

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
        d1f, d2f, phif = self.F.state(full)
        d1a, d2a, phia = self.A.state(open_)
        cnt = self._cover_counts(t)
        # the penalised objective of t, which scales the tolerance of an improving move
        base = float(self.F.w @ d1f + self.A.w @ d1a) + spent_f + spent_r
        if self.pen.size:
            base += float(self.pen[cnt < 0.5].sum())
        tol = 1e-10 * max(1.0, abs(base))
        gain_f = self.F.gain(d1f) if self.F.n else np.zeros(self.m)
        gain_a = self.A.gain(d1a) if self.A.n else np.zeros(self.m)
        loss_f = self.F.loss(d1f, d2f, phif, nf) if nf else np.zeros(0)
        loss_a = self.A.loss(d1a, d2a, phia, open_.size) if open_.size else np.zeros(0)
        pos_a = {int(j): k for k, j in enumerate(open_)}
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
                self.A.swap_delta(d1a, d2a, phia, open_.size, gain=gain_a)
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
                    self.F.swap_delta(d1f, d2f, phif, nf, gain=gain_f)
                    if self.F.n
                    else np.zeros((nf, self.m))
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

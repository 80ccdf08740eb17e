r"""Sorted-distance structures shared by the median-type models.

For a demand row ``i`` let ``D_i^1 < D_i^2 < ...`` be its distinct finite
distances to the candidate sites and ``S_i^k = {j : c_ij <= D_i^k}``. The
distance from ``i`` to its nearest open site is

    dist_i(y) = D_i^1 + sum_k (D_i^{k+1} - D_i^k) * [no site of S_i^k is open]

(Elloumi 2010; the radius formulation of García, Labbé and Marín 2011). Two
things are built from it:

* the compact MILP, with one continuous variable ``z`` per distinct set
  ``S_i^k`` (rows that share a set share the variable, found by hashing the
  sets), chained as ``z_S >= z_T - y(S \\ T)`` so that the constraint matrix
  grows with the number of levels, not their sizes; and
* Benders optimality cuts ``theta_i >= r - sum_j (r - c_ij)^+ y_j`` for a
  radius ``r`` (valid for every ``r``; tight at ``y`` when ``r`` is the
  distance at which the cumulative open level along the sorted row reaches 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.models._milp import MilpBuilder

__all__: list[str] = []

_EPS = 1e-9


class SortedRows:
    """Rows of a cost matrix sorted ascending (order and sorted values)."""

    def __init__(self, cost: NDArray[np.float64]) -> None:
        self.cost = cost
        self.order = np.argsort(cost, axis=1, kind="stable").astype(np.int64, copy=False)
        self.ds = np.take_along_axis(cost, self.order, axis=1)
        self.n, self.m = cost.shape

    def next_values(self) -> NDArray[np.float64]:
        """Return the sorted value at the next position (``inf`` after the last)."""
        nxt = np.empty_like(self.ds)
        nxt[:, :-1] = self.ds[:, 1:]
        nxt[:, -1] = np.inf
        return nxt


class RowSorts:
    """The :class:`SortedRows` of one cost matrix, made once per distinct set of kept rows.

    Distance blocks over one matrix (the tiers of the two-tier model, the
    agencies' desks) usually keep the same rows; they then share one sort and
    one copy of the rows instead of holding one each.
    """

    def __init__(self, cost: NDArray[np.float64]) -> None:
        self.cost = cost
        self._made: list[tuple[NDArray[np.bool_], SortedRows]] = []

    def of(self, keep: NDArray[np.bool_]) -> SortedRows:
        """Return the sorted rows that ``keep`` selects."""
        for kept, rows in self._made:
            if np.array_equal(kept, keep):
                return rows
        rows = SortedRows(np.ascontiguousarray(self.cost if keep.all() else self.cost[keep]))
        self._made.append((keep, rows))
        return rows


@dataclass
class Nodes:
    """Aggregated Elloumi nodes of one distance block."""

    coef: NDArray[np.float64]
    hard: NDArray[np.bool_]
    parent: NDArray[np.int64]
    added_ptr: NDArray[np.int64]
    added_sites: NDArray[np.int64]
    const: float

    @property
    def size(self) -> int:
        """Number of nodes."""
        return int(self.coef.size)


def _set_hashes(order: NDArray[np.int64], m: int, seed: int) -> tuple[NDArray[np.uint64], ...]:
    rng = np.random.default_rng(seed)
    h1 = rng.integers(0, np.iinfo(np.uint64).max, m, dtype=np.uint64, endpoint=True)
    h2 = rng.integers(0, np.iinfo(np.uint64).max, m, dtype=np.uint64, endpoint=True)
    with np.errstate(over="ignore"):
        return (
            np.cumsum(h1[order], axis=1, dtype=np.uint64),
            np.cumsum(h2[order], axis=1, dtype=np.uint64),
        )


def elloumi_nodes(
    sr: SortedRows,
    w: NDArray[np.float64],
    *,
    forced: NDArray[np.bool_],
    min_open: int,
    seed: int = 20240601,
) -> Nodes:
    """Build the aggregated, chained node structure for one block.

    Parameters
    ----------
    sr
        Sorted rows of the block (rows with zero weight must be removed).
    w
        Row weights (> 0).
    forced
        Sites that are open in every feasible solution (required sites).
    min_open
        A lower bound on the number of open sites of the block; once a level
        set holds ``m - min_open + 1`` sites one of them is open and deeper
        levels are dropped.
    seed
        Seed of the random set hashes (the result does not depend on it
        unless two different sets collide in 128 bits).
    """
    m = sr.m
    ds, order = sr.ds, sr.order
    nxt = sr.next_values()
    finite = np.isfinite(ds)
    boundary = finite & (nxt > ds)
    pos = np.arange(m)
    stop = np.cumsum(forced[order], axis=1) > 0
    if min_open >= 1:
        stop |= (pos + 1 >= m - min_open + 1)[None, :]
    stop &= boundary
    has_stop = stop.any(axis=1)
    limit = np.where(has_stop, np.argmax(stop, axis=1), m)
    occ = boundary & (pos[None, :] < limit[:, None])
    ii, tt = np.nonzero(occ)
    const = float(w @ ds[:, 0])
    if ii.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Nodes(
            np.zeros(0), np.zeros(0, dtype=bool), empty, np.zeros(1, dtype=np.int64), empty, const
        )
    nx = nxt[ii, tt]
    hard_occ = ~np.isfinite(nx)
    inc = np.where(hard_occ, 0.0, (np.where(hard_occ, 0.0, nx) - ds[ii, tt]) * w[ii])
    hash1, hash2 = _set_hashes(order, m, seed)
    keys = np.empty((ii.size, 2), dtype=np.uint64)
    with np.errstate(over="ignore"):
        keys[:, 0] = hash1[ii, tt] + np.uint64(0x9E3779B97F4A7C15) * (
            tt.astype(np.uint64) + np.uint64(1)
        )
    keys[:, 1] = hash2[ii, tt]
    kv = np.ascontiguousarray(keys).view(np.dtype((np.void, 16))).reshape(-1)
    _, first, inv = np.unique(kv, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    nn = first.size
    coef = np.bincount(inv, weights=inc, minlength=nn)
    hard = np.zeros(nn, dtype=bool)
    hard[inv[hard_occ]] = True
    coef[hard] = 0.0
    same_row = np.r_[False, ii[1:] == ii[:-1]]
    prev_occ = np.where(same_row, np.arange(ii.size) - 1, -1)
    rep_prev = prev_occ[first]
    parent = np.where(rep_prev >= 0, inv[np.maximum(rep_prev, 0)], -1)
    start = np.where(rep_prev >= 0, tt[np.maximum(rep_prev, 0)] + 1, 0)
    end = tt[first]
    lens = end - start + 1
    ptr = np.zeros(nn + 1, dtype=np.int64)
    np.cumsum(lens, out=ptr[1:])
    offs = np.arange(ptr[-1]) - np.repeat(ptr[:-1], lens)
    sites = order[np.repeat(ii[first], lens), np.repeat(start, lens) + offs]
    return Nodes(coef, hard, parent.astype(np.int64), ptr, sites.astype(np.int64), const)


def add_nodes_to_builder(
    builder: MilpBuilder, nodes: Nodes, combo: list[NDArray[np.int64]], *, name: str
) -> NDArray[np.int64]:
    """Add the node columns and chain rows of one block to ``builder``.

    ``combo`` lists, for each site, the builder columns whose sum says the site
    is open for this block (e.g. ``[f]`` or ``[f, r]``).
    """
    nn = nodes.size
    builder.offset += nodes.const
    if nn == 0:
        return np.zeros(0, dtype=np.int64)
    z = builder.add_cols(
        nn, cost=nodes.coef, lb=0.0, ub=np.where(nodes.hard, 0.0, np.inf), name=name
    )
    lens = np.diff(nodes.added_ptr)
    node_of_entry = np.repeat(np.arange(nn), lens)
    rows = [np.arange(nn)]
    cols = [z]
    vals = [np.ones(nn)]
    has_parent = nodes.parent >= 0
    rows.append(np.nonzero(has_parent)[0])
    cols.append(z[nodes.parent[has_parent]])
    vals.append(-np.ones(int(has_parent.sum())))
    for c in combo:
        rows.append(node_of_entry)
        cols.append(c[nodes.added_sites])
        vals.append(np.ones(node_of_entry.size))
    builder.add_rows(
        np.concatenate(rows),
        np.concatenate(cols),
        np.concatenate(vals),
        nn,
        lb=np.where(has_parent, 0.0, 1.0),
        ub=np.inf,
    )
    return z


def reach_sets(
    cost: NDArray[np.float64], forced: NDArray[np.bool_], min_open: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct reachable-site sets of rows that need ``sum_{j in set} open_j >= 1``.

    A row needs one unless a forced (required) site is within reach or it can
    reach at least ``m - min_open + 1`` sites (then some open site is always
    within reach). Returns a CSR pair ``(ptr, sites)``.
    """
    m = cost.shape[1]
    fin = np.isfinite(cost)
    need = ~(fin & forced[None, :]).any(axis=1) & (fin.sum(axis=1) < m - min_open + 1)
    if not need.any():
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sub = np.ascontiguousarray(np.packbits(fin[need], axis=1))
    keys = sub.view(np.dtype((np.void, sub.shape[1]))).reshape(-1)
    _, first = np.unique(keys, return_index=True)
    rows = np.nonzero(need)[0][first]
    sets = [np.nonzero(fin[r])[0] for r in rows]
    ptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([s.size for s in sets], out=ptr[1:])
    return ptr, np.concatenate(sets).astype(np.int64)


def node_values(nodes: Nodes, a: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values ``z_S = max(0, 1 - a(S))`` of the node variables at open levels ``a``."""
    nn = nodes.size
    if nn == 0:
        return np.zeros(0)
    lens = np.diff(nodes.added_ptr)
    added = np.bincount(np.repeat(np.arange(nn), lens), weights=a[nodes.added_sites], minlength=nn)
    depth = np.zeros(nn, dtype=np.int64)
    # depth in the parent forest, found by pointer jumping
    anc = nodes.parent.copy()
    while (anc >= 0).any():
        depth += anc >= 0
        anc = np.where(anc >= 0, nodes.parent[np.maximum(anc, 0)], -1)
    total = np.zeros(nn)
    for d in range(int(depth.max()) + 1):
        sel = np.nonzero(depth == d)[0]
        par = nodes.parent[sel]
        total[sel] = added[sel] + np.where(par >= 0, total[np.maximum(par, 0)], 0.0)
    return np.maximum(0.0, 1.0 - total)


@dataclass
class CutBatch:
    """Aggregated optimality cuts ``theta_c >= rhs_c - coef_c . a`` per cluster."""

    coef: sp.csr_matrix
    rhs: NDArray[np.float64]
    row_value: NDArray[np.float64]


def separate(
    sr: SortedRows,
    w: NDArray[np.float64],
    cluster: NDArray[np.int64],
    n_clusters: int,
    a: NDArray[np.float64],
) -> CutBatch:
    """Tight cuts at the open levels ``a`` (per site, possibly fractional).

    ``row_value`` is each row's weighted subproblem value at ``a`` (the LP
    value of serving it), whose sum over rows bounds the LP from above when
    ``a`` is LP-feasible.
    """
    n, m = sr.n, sr.m
    order, ds = sr.order, sr.ds
    k_lim = min(m, 32)
    ks = np.full(n, -1, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        cum = np.cumsum(a[order[todo, :k_lim]], axis=1)
        hit = cum >= 1.0 - _EPS
        got = hit.any(axis=1)
        ks[todo[got]] = np.argmax(hit[got], axis=1)
        if k_lim >= m:
            ks[todo[~got]] = m - 1
            break
        todo = todo[~got]
        k_lim = min(m, 2 * k_lim)
    r = ds[np.arange(n), ks]
    bad = ~np.isfinite(r)
    if bad.any():
        # fall back to the last finite distance (a valid, not tight, cut)
        nf = np.isfinite(ds[bad]).sum(axis=1)
        ks[bad] = np.maximum(nf - 1, 0)
        r[bad] = ds[np.nonzero(bad)[0], ks[bad]]
        r[~np.isfinite(r)] = 0.0
    kmax = int(ks.max()) + 1 if n else 0
    dk = ds[:, :kmax]
    with np.errstate(invalid="ignore"):
        vals = w[:, None] * (r[:, None] - dk)
    mask = (np.arange(kmax)[None, :] < ks[:, None]) & (vals > 0)
    ri, ti = np.nonzero(mask)
    v = vals[ri, ti]
    coef = sp.csr_matrix((v, (cluster[ri], order[ri, ti])), shape=(n_clusters, m))
    coef.sum_duplicates()
    rhs = np.bincount(cluster, weights=w * r, minlength=n_clusters)
    row_value = w * r - np.bincount(ri, weights=v * a[order[ri, ti]], minlength=n)
    return CutBatch(coef, rhs, row_value)

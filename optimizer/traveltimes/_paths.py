"""Shortest paths: scipy Dijkstra, km along the trees, chunking and worker processes.

The fastest times come from :func:`scipy.sparse.csgraph.dijkstra` on the CSR
matrices of a :class:`~optimizer.traveltimes.RoadIndex` (the
:class:`._csr.Routing` it builds); the kilometres are summed along each
Dijkstra predecessor tree, so they belong to the time-optimal path: each
node's tree edge is looked up in its row of the other orientation, and the
sums use pointer jumping. Sources are processed in chunks sized to a memory
target.

scipy's Dijkstra holds the GIL, so threads do not help. When the work is
large enough (:data:`PARALLEL_MIN_WORK` node visits) and the platform can
``fork``, the sources are split over worker processes that inherit the CSR
arrays from the parent (copy-on-write, nothing is pickled) and write their
rows of the dense result into memory shared with the parent. Inside a
daemonic process (e.g. a Dask worker), where no children may be started,
the work stays serial.
"""

from __future__ import annotations

import itertools
import logging
import mmap
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.sparse.csgraph import dijkstra

from optimizer.traveltimes._csr import CostQuery, Routing

__all__ = ["PARALLEL_MIN_WORK", "csr_from_triplets", "dense", "network_costs", "resolve_workers"]

logger = logging.getLogger(__name__)

PARALLEL_MIN_WORK = 2_000_000
"""Source x node visits below which the shortest paths stay in one process."""

_BYTES_PER_TREE_NODE = 24  # dist and pred per source and node (the km work is one row at a time)
_MAX_CHUNK = 512
_TASKS_PER_WORKER = 4


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def query_threads() -> int:
    """Threads for a C-level parallel query (e.g. ``cKDTree``): every core, one in a daemon.

    A daemonic process is a worker of a pool (e.g. Dask) that already spreads
    its work over the cores, so it does not start threads of its own.
    """
    return 1 if multiprocessing.current_process().daemon else available_cores()


def resolve_workers(
    workers: int | None,
    *,
    n_sources: int,
    n_nodes: int,
    legs: int,
    min_work: int = PARALLEL_MIN_WORK,
) -> int:
    """How many processes to use for ``n_sources`` Dijkstra runs on ``n_nodes`` nodes."""
    wanted = available_cores() if workers is None else int(workers)
    if wanted <= 1 or n_sources < 2:
        return 1
    if n_sources * n_nodes * legs < min_work:
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if multiprocessing.current_process().daemon:  # e.g. a Dask worker: no children allowed
        return 1
    return max(1, min(wanted, n_sources // 2))


def path_sums(parent: NDArray[np.intp], steps: NDArray[np.float64]) -> NDArray[np.float64]:
    """Sum ``steps`` from every node up to the root of its tree (in place in ``steps``).

    ``parent`` points every node to its parent, and a root to itself. Pointer
    jumping: after pass ``s`` every node knows its ancestor ``2**s`` edges up
    and the sum to it, so ``log2(depth)`` vectorised passes over one tree
    finish it.
    """
    ancestor = parent
    while True:
        nxt = ancestor[ancestor]
        if np.array_equal(nxt, ancestor):
            return steps
        steps += steps[ancestor]
        ancestor = nxt


def trees(
    routing: Routing,
    sources: NDArray[np.int64],
    targets: NDArray[np.int64],
    *,
    reverse: bool,
    limit_s: float | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Seconds and metres from each source to each target (or back, if reverse).

    The metres are summed along the Dijkstra predecessor tree, so they
    belong to the time-optimal path: each tree edge's length comes from the
    other orientation's row of the node (:meth:`Csr.lengths_at`), and
    :func:`path_sums` adds them up, one source row at a time so the row
    stays in cache.
    """
    csr = routing.reverse if reverse else routing.forward
    other = routing.forward if reverse else routing.reverse
    dist, pred = dijkstra(
        csr.matrix,
        directed=True,
        indices=sources,
        return_predecessors=True,
        limit=np.inf if limit_s is None else limit_s,
    )
    own = np.arange(routing.n_nodes, dtype=np.intp)
    metres = np.empty((len(sources), len(targets)), dtype=np.float64)
    for row, parent in enumerate(pred):
        steps = other.lengths_at(parent)  # 0 at the root and at unreached nodes
        ancestor = np.where(parent >= 0, parent, own)  # intp: numpy's own index type
        metres[row] = path_sums(ancestor, steps)[targets]
    seconds = dist[:, targets]
    metres[~np.isfinite(seconds)] = np.inf
    return seconds, metres


@dataclass(frozen=True)
class _Job:
    """What every chunk of sources needs; inherited by forked workers, never pickled."""

    routing: Routing
    sources: NDArray[np.int64]
    targets: NDArray[np.int64]
    reverse_flags: tuple[bool, ...]
    limit_s: float | None
    chunk: int
    out_seconds: NDArray[np.float64] | None
    out_metres: NDArray[np.float64] | None

    def run(self, start: int, stop: int) -> list[tuple[NDArray[Any], ...]]:
        """Compute sources ``start:stop``: write dense rows, or return sparse triplets."""
        parts: list[tuple[NDArray[Any], ...]] = []
        for lo in range(start, stop, self.chunk):
            hi = min(stop, lo + self.chunk)
            chunk_sources = self.sources[lo:hi]
            total_s: NDArray[np.float64] | None = None
            total_m: NDArray[np.float64] | None = None
            for reverse in self.reverse_flags:
                s, m = trees(
                    self.routing, chunk_sources, self.targets, reverse=reverse, limit_s=self.limit_s
                )
                total_s = s if total_s is None else total_s + s
                total_m = m if total_m is None else total_m + m
            assert total_s is not None and total_m is not None
            if self.out_seconds is not None and self.out_metres is not None:
                self.out_seconds[lo:hi] = total_s
                self.out_metres[lo:hi] = total_m
            else:
                assert self.limit_s is not None
                r, c = np.nonzero(total_s <= self.limit_s)
                parts.append((r + lo, c, total_s[r, c], total_m[r, c]))
        return parts


_WORKER_JOB: list[_Job] = []  # set in forked workers only, by _init_worker


def _init_worker(job: _Job) -> None:
    _WORKER_JOB.append(job)


def _run_in_worker(span: tuple[int, int]) -> list[tuple[NDArray[Any], ...]]:
    return _WORKER_JOB[-1].run(*span)


def _shared_empty(shape: tuple[int, int]) -> NDArray[np.float64]:
    """Return an uninitialised float64 array in memory shared with forked children."""
    size = int(np.prod(shape)) * 8
    if size == 0:
        return np.empty(shape, dtype=np.float64)
    buffer = mmap.mmap(-1, size)
    return np.frombuffer(buffer, dtype=np.float64).reshape(shape)


def network_costs(
    routing: Routing,
    query: CostQuery,
    *,
    chunk_memory_mb: float = 256.0,
    workers: int | None = 1,
    parallel_min_work: int = PARALLEL_MIN_WORK,
) -> tuple[Any, Any]:
    """Network seconds and metres for the unique node sets ``query.a`` x ``query.b``.

    Dijkstra runs from the smaller set. Without a limit the result is two
    dense ``(len(a), len(b))`` arrays; with one it is two
    ``scipy.sparse.csr_array`` holding only the pairs within the limit.

    Parameters
    ----------
    routing
        The road graph's CSR orientations (a :class:`~optimizer.traveltimes.RoadIndex`).
    query
        Node sets, legs and limit.
    chunk_memory_mb
        Working-memory target of one chunk of Dijkstra sources (per process).
    workers
        Processes: ``None`` for every core, ``1`` for this process only. More
        than one is used only for at least ``parallel_min_work`` source x
        node visits, where forking pays.
    parallel_min_work
        Source x node x leg visits below which the work stays in this process.

    Returns
    -------
    tuple
        Seconds and metres, dense arrays or CSR arrays (see above).
    """
    a, b, legs, limit_s = query.a, query.b, query.legs, query.limit_s
    from_b = len(b) <= len(a)
    sources, targets = (b, a) if from_b else (a, b)
    # a -> b from b's side runs on the reversed graph; b -> a from a's side too
    reverse_flags = tuple((leg == "to") == from_b for leg in legs)
    per_source = max(routing.n_nodes, 1) * _BYTES_PER_TREE_NODE * len(reverse_flags)
    chunk = int(max(1, min(_MAX_CHUNK, chunk_memory_mb * 2**20 // per_source)))
    n_workers = resolve_workers(
        workers,
        n_sources=len(sources),
        n_nodes=routing.n_nodes,
        legs=len(legs),
        min_work=parallel_min_work,
    )
    dense_out = limit_s is None
    shape = (len(sources), len(targets))
    if dense_out:
        make = _shared_empty if n_workers > 1 else (lambda s: np.empty(s, dtype=np.float64))
        out_s, out_m = make(shape), make(shape)
    else:
        out_s = out_m = None
    job = _Job(routing, sources, targets, reverse_flags, limit_s, chunk, out_s, out_m)
    if n_workers == 1:
        parts = job.run(0, len(sources))
    else:
        n_tasks = min(len(sources), n_workers * _TASKS_PER_WORKER)
        bounds = np.linspace(0, len(sources), n_tasks + 1).astype(int)
        spans = [(int(lo), int(hi)) for lo, hi in itertools.pairwise(bounds)]
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=n_workers, mp_context=context, initializer=_init_worker, initargs=(job,)
        ) as pool:
            parts = [p for result in pool.map(_run_in_worker, spans) for p in result]
    logger.debug(
        "shortest paths from %d source nodes to %d target nodes (%s) in %d process(es)",
        len(sources),
        len(targets),
        "+".join(legs),
        n_workers,
    )
    if dense_out:
        assert out_s is not None and out_m is not None
        if from_b:
            return out_s.T, out_m.T
        return out_s, out_m
    if parts:
        r, c, s_val, m_val = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:
        r = c = np.empty(0, dtype=np.int64)
        s_val = m_val = np.empty(0, dtype=np.float64)
    if from_b:
        r, c = c, r
    shape_ab = (len(a), len(b))
    return csr_from_triplets(r, c, s_val, shape_ab), csr_from_triplets(r, c, m_val, shape_ab)


def csr_from_triplets(
    rows: NDArray[Any], cols: NDArray[Any], values: NDArray[np.float64], shape: tuple[int, int]
) -> sp.csr_array:
    """CSR with explicit zeros kept (a zero here is a real zero-minute trip)."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(np.asarray(rows, dtype=np.int64), minlength=shape[0]), out=indptr[1:])
    return sp.csr_array(
        (
            np.asarray(values, dtype=np.float64)[order],
            np.asarray(cols)[order].astype(np.int64),
            indptr,
        ),
        shape=shape,
    )


def dense(table: Any) -> NDArray[np.float64]:
    """Return a dense copy of a dense array or CSR table (absent entries are ``inf``)."""
    if isinstance(table, np.ndarray):
        return table.copy()
    out = np.full(table.shape, np.inf)
    rows = np.repeat(np.arange(table.shape[0]), np.diff(table.indptr))
    out[rows, table.indices] = table.data
    return out

"""The routing core of a road graph: its two CSR orientations and one network-cost query.

This module sits below :mod:`._graph` (the :class:`~optimizer.traveltimes.RoadIndex`
that builds the core and snaps points onto it) and :mod:`._paths` (the
shortest paths that read it), so that neither of the two needs the other's
types.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = ["CostQuery", "Csr", "Routing", "build_csr"]

_FULL_SLOT_SHARE = 0.25
"""Rows with a k-th entry above this share: slot k is compared over all rows, else a subset."""


@dataclass(frozen=True)
class _Slot:
    """The k-th stored entry of the rows that have one: its column and its length."""

    columns: NDArray[np.int32] | NDArray[np.int64]  # -1 where a row has no k-th entry
    lengths: NDArray[np.float64]
    rows: NDArray[np.int64] | None  # the rows compared, ``None`` for all of them


@dataclass(frozen=True, eq=False)
class Csr:
    """One orientation of the road graph: CSR of travel times plus edge lengths."""

    matrix: sp.csr_array  # travel time (s); explicit zeros are zero-time edges
    keys: NDArray[np.int64]  # row * n + col of every stored entry, ascending
    lengths: NDArray[np.float64]  # metres, aligned with matrix.data

    @cached_property
    def _slots(self) -> tuple[_Slot, ...]:
        n = self.matrix.shape[0]
        indptr = np.asarray(self.matrix.indptr, dtype=np.int64)
        degree = np.diff(indptr)
        dtype = np.int32 if n < 2**31 else np.int64
        slots = []
        for k in range(int(degree.max(initial=0))):
            has = degree > k
            if has.mean() > _FULL_SLOT_SHARE:
                columns = np.full(n, -1, dtype=dtype)
                lengths = np.zeros(n)
                at = indptr[:-1][has] + k
                columns[has] = self.matrix.indices[at]
                lengths[has] = self.lengths[at]
                slots.append(_Slot(columns, lengths, None))
            else:
                rows = np.flatnonzero(has)
                at = indptr[rows] + k
                columns = self.matrix.indices[at].astype(dtype)
                slots.append(_Slot(columns, self.lengths[at], rows))
        return tuple(slots)

    def lengths_at(self, columns: NDArray[np.integer]) -> NDArray[np.float64]:
        """Length of the entry ``(r, columns[r])`` of every row ``r``; 0 where there is none.

        A Dijkstra predecessor row of the other orientation gives, per node,
        the tree edge into it: this is the length of that edge, found by
        comparing the predecessor with each row's k-th stored column (rows
        hold a few entries), without a search.

        Parameters
        ----------
        columns
            One column per row (``int32`` or ``int64``); negative for none.

        Returns
        -------
        numpy.ndarray
            ``float64`` metres, one per row.
        """
        out = np.zeros(len(columns))
        for slot in self._slots:
            if slot.rows is None:
                np.copyto(out, slot.lengths, where=slot.columns == columns)
            else:
                hit = slot.columns == columns[slot.rows]
                out[slot.rows[hit]] = slot.lengths[hit]
        return out


def build_csr(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    seconds: NDArray[np.float64],
    metres: NDArray[np.float64],
    n: int,
) -> Csr:
    """CSR of edges ``rows -> cols`` (distinct pairs) with their seconds and metres."""
    keys = rows * n + cols
    order = np.argsort(keys, kind="stable")  # linear when the edges come sorted already
    rows, cols, keys = rows[order], cols[order], keys[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    index_dtype = np.int32 if n < 2**31 and len(cols) < 2**31 else np.int64
    matrix = sp.csr_array(
        (seconds[order], cols.astype(index_dtype), indptr.astype(index_dtype)), shape=(n, n)
    )
    return Csr(matrix=matrix, keys=keys, lengths=metres[order])


class Routing:
    """What the shortest paths read: both CSR orientations of one road graph.

    :class:`~optimizer.traveltimes.RoadIndex` is one; it builds them.
    """

    n_nodes: int
    """Number of nodes."""
    forward: Csr
    """Edges ``u -> v`` as stored."""
    reverse: Csr
    """The same edges turned round (``v -> u``): Dijkstra on it gives times *to* a node."""


@dataclass(frozen=True)
class CostQuery:
    """One network-cost computation between two sets of unique node positions.

    Attributes
    ----------
    a, b
        Unique node positions (``int64``): rows and columns of the result.
    legs
        ``"to"`` (a -> b) and/or ``"from"`` (b -> a); several legs are summed.
    limit_s
        Seconds beyond which pairs are left out (sparse result); ``None`` for
        a dense result with every pair.
    """

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    legs: tuple[str, ...]
    limit_s: float | None

"""A mixed-integer program held as numpy/scipy arrays, and a block-wise builder.

Every model writes its MILP as a :class:`Milp`: column costs and bounds,
integrality flags, a sparse constraint matrix with row bounds and an objective
offset. :class:`MilpBuilder` collects columns and COO row blocks and assembles
them once. The back ends (:mod:`._backends`) take a :class:`Milp` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

__all__: list[str] = []


@dataclass
class Milp:
    """A mixed-integer program in arrays: ``min/max c.x + offset``, ``row_lb <= A x <= row_ub``."""

    col_cost: NDArray[np.float64]
    col_lb: NDArray[np.float64]
    col_ub: NDArray[np.float64]
    integer: NDArray[np.bool_]
    A: sp.csr_matrix
    row_lb: NDArray[np.float64]
    row_ub: NDArray[np.float64]
    offset: float = 0.0
    maximize: bool = False
    col_names: list[str] | None = None

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return int(self.col_cost.size)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.row_lb.size)


class MilpBuilder:
    """Collect columns and sparse rows block by block, then produce a :class:`Milp`."""

    def __init__(self) -> None:
        self._cost: list[NDArray[np.float64]] = []
        self._lb: list[NDArray[np.float64]] = []
        self._ub: list[NDArray[np.float64]] = []
        self._int: list[NDArray[np.bool_]] = []
        self._names: list[list[str]] = []
        self.n_cols = 0
        self._r: list[NDArray[np.int64]] = []
        self._c: list[NDArray[np.int64]] = []
        self._v: list[NDArray[np.float64]] = []
        self._rlb: list[NDArray[np.float64]] = []
        self._rub: list[NDArray[np.float64]] = []
        self.n_rows = 0
        self.offset = 0.0

    def add_cols(
        self,
        n: int,
        *,
        cost: ArrayLike = 0.0,
        lb: ArrayLike = 0.0,
        ub: ArrayLike = np.inf,
        integer: bool = False,
        name: str = "x",
    ) -> NDArray[np.int64]:
        """Add ``n`` columns; return their indices."""
        idx = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,)).copy())
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy())
        self._int.append(np.full(n, integer))
        self._names.append([f"{name}_{i}" for i in range(n)])
        self.n_cols += n
        return idx

    def add_rows(
        self,
        rows: ArrayLike,
        cols: ArrayLike,
        vals: ArrayLike,
        n_rows: int,
        *,
        lb: ArrayLike = -np.inf,
        ub: ArrayLike = np.inf,
    ) -> NDArray[np.int64]:
        """Add ``n_rows`` rows given as COO triplets with row numbers ``0..n_rows-1``."""
        idx = np.arange(self.n_rows, self.n_rows + n_rows, dtype=np.int64)
        r = np.asarray(rows, dtype=np.int64)
        self._r.append(r + self.n_rows)
        self._c.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), r.shape).copy())
        self._rlb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n_rows,)).copy())
        self._rub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n_rows,)).copy())
        self.n_rows += n_rows
        return idx

    def add_row(
        self, cols: ArrayLike, vals: ArrayLike, *, lb: float = -np.inf, ub: float = np.inf
    ) -> int:
        """Add one row."""
        c = np.asarray(cols, dtype=np.int64)
        return int(self.add_rows(np.zeros(c.size), c, vals, 1, lb=lb, ub=ub)[0])

    def build(self, *, maximize: bool = False) -> Milp:
        """Return the assembled :class:`Milp`."""
        cat = np.concatenate
        r = cat(self._r) if self._r else np.zeros(0, dtype=np.int64)
        c = cat(self._c) if self._c else np.zeros(0, dtype=np.int64)
        v = cat(self._v) if self._v else np.zeros(0)
        mat = sp.csr_matrix((v, (r, c)), shape=(self.n_rows, self.n_cols))
        mat.sum_duplicates()
        return Milp(
            col_cost=cat(self._cost) if self._cost else np.zeros(0),
            col_lb=cat(self._lb) if self._lb else np.zeros(0),
            col_ub=cat(self._ub) if self._ub else np.zeros(0),
            integer=cat(self._int) if self._int else np.zeros(0, dtype=bool),
            A=mat,
            row_lb=cat(self._rlb) if self._rlb else np.zeros(0),
            row_ub=cat(self._rub) if self._rub else np.zeros(0),
            offset=self.offset,
            maximize=maximize,
            col_names=[s for names in self._names for s in names],
        )

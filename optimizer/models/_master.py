"""The Benders master of :mod:`._engine` in a live ``highspy.Highs`` instance.

One ``theta`` column per cluster of demand rows of each distance block, the
reach rows that keep every row served, and the cuts of :func:`._levels.separate`
added as rows. :mod:`._engine` runs the cutting-plane loop and the MIP rounds
on it, :mod:`._branch` its own branch and bound.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.models._backends import highs_model
from optimizer.models._levels import reach_sets, separate
from optimizer.models._milp import Milp
from optimizer.models._problem import DistanceProblem

if TYPE_CHECKING:
    from optimizer.models._base import SolveContext

__all__: list[str] = []

logger = logging.getLogger(__name__)

#: One cut batch: (block, coefficient per site, right-hand side, row values).
CutBatches = list[tuple[int, sp.csr_matrix, NDArray[np.float64], NDArray[np.float64]]]


class Master:
    """The Benders master in a live ``highspy.Highs`` instance."""

    def __init__(self, prob: DistanceProblem) -> None:
        import highspy

        self.hs = highspy
        self.prob = prob
        base = prob.base
        self.nb = base.n_cols
        relaxed = Milp(
            base.col_cost,
            base.col_lb.copy(),
            base.col_ub.copy(),
            np.zeros(self.nb, dtype=bool),
            base.A,
            base.row_lb,
            base.row_ub,
            base.offset,
            False,
            None,
        )
        self.h = highs_model(relaxed)
        # HiGHS's LP presolve is slow on covering rows and useless for warm re-solves
        self.h.setOptionValue("presolve", "off")
        self.clusters: list[NDArray[np.int64]] = []
        self.theta: list[NDArray[np.int64]] = []
        col = self.nb
        for blk in prob.blocks:
            # one theta per cluster of rows sharing their nearest site (measured:
            # per-row thetas make the LP and MIP rounds several times slower)
            near = np.argmin(blk.cost, axis=1) if blk.n_rows else np.zeros(0, dtype=np.int64)
            cl = np.unique(near, return_inverse=True)[1].astype(np.int64).reshape(-1)
            k = int(cl.max()) + 1 if cl.size else 0
            lb = np.bincount(cl, weights=blk.w * blk.sr.ds[:, 0], minlength=k) if k else np.zeros(0)
            if k:
                self.h.addVars(k, lb, np.full(k, highspy.kHighsInf))
                idx = np.arange(col, col + k, dtype=np.int64)
                self.h.changeColsCost(k, idx.astype(np.int32), np.ones(k))
            else:
                idx = np.zeros(0, dtype=np.int64)
            col += k
            self.clusters.append(cl)
            self.theta.append(idx)
        self.n_cols = col
        self._add_reach_rows()
        self.n_cuts = 0
        self.n_kept_rows = self.h.getNumRow()  # rows before the first cut (never purged)

    def purge(self, tol: float = 1e-6) -> int:
        """Delete the cut rows that are slack at the current LP solution; return how many.

        Fewer rows make every later dual simplex pivot cheaper; a deleted cut is
        separated again where it matters.
        """
        sol = self.h.getSolution()
        if not sol.value_valid:
            return 0
        act = np.asarray(sol.row_value, dtype=np.float64)[self.n_kept_rows :]
        lo = np.asarray(self.h.getLp().row_lower_, dtype=np.float64)[self.n_kept_rows :]
        slack = act - lo > tol * np.maximum(1.0, np.abs(lo))
        idx = np.nonzero(slack)[0] + self.n_kept_rows
        if idx.size:
            self.h.deleteRows(int(idx.size), idx.astype(np.int32))
        return int(idx.size)

    def _add_reach_rows(self) -> None:
        for blk in self.prob.blocks:
            if blk.n_rows == 0:
                continue
            ptr, sites = reach_sets(blk.cost, blk.forced, blk.min_open)
            nr = ptr.size - 1
            if nr == 0:
                continue
            rows, cols = [], []
            lens = np.diff(ptr)
            rid = np.repeat(np.arange(nr), lens)
            for c in blk.combo:
                rows.append(rid)
                cols.append(c[sites])
            mat = sp.csr_matrix(
                (np.ones(sum(r.size for r in rows)), (np.concatenate(rows), np.concatenate(cols))),
                shape=(nr, self.n_cols),
            )
            mat.sum_duplicates()
            self._add_csr(mat, np.ones(nr))

    def _add_csr(self, mat: sp.csr_matrix, lb: NDArray[np.float64]) -> None:
        mat.sort_indices()
        self.h.addRows(
            mat.shape[0],
            lb,
            np.full(mat.shape[0], self.hs.kHighsInf),
            mat.nnz,
            mat.indptr[:-1].astype(np.int32),
            mat.indices.astype(np.int32),
            mat.data.astype(np.float64),
        )

    def cuts_at(self, x_site: NDArray[np.float64]) -> CutBatches:
        """Cut batches (block, coef per site, rhs, row values) at base values ``x_site``."""
        out = []
        for b, blk in enumerate(self.prob.blocks):
            if blk.n_rows == 0:
                continue
            a = np.clip(blk.open_level(x_site), 0.0, 1.0)
            cb = separate(blk.sr, blk.w, self.clusters[b], self.theta[b].size, a)
            out.append((b, cb.coef, cb.rhs, cb.row_value))
        return out

    def add_cuts(
        self,
        batches: CutBatches,
        x: NDArray[np.float64] | None,
        tol: float = 1e-7,
    ) -> int:
        """Add the cuts violated at master point ``x`` (all if ``x`` is None)."""
        added = 0
        for b, coef, rhs, _ in batches:
            blk = self.prob.blocks[b]
            th = self.theta[b]
            if x is not None:
                a = blk.open_level(x[: self.nb])
                viol = rhs - coef @ a - x[th]
                sel = np.nonzero(viol > tol * np.maximum(1.0, np.abs(rhs)))[0]
            else:
                sel = np.arange(rhs.size)
            if sel.size == 0:
                continue
            sub = coef[sel].tocoo()
            cols = [th[sel]]
            vals = [np.ones(sel.size)]
            rr = [np.arange(sel.size)]
            for c in blk.combo:
                rr.append(sub.row)
                cols.append(c[sub.col])
                vals.append(sub.data)
            mat = sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rr), np.concatenate(cols))),
                shape=(sel.size, self.n_cols),
            )
            mat.sum_duplicates()
            self._add_csr(mat, rhs[sel])
            added += sel.size
        self.n_cuts += added
        return added

    def theta_values(self, x_base: NDArray[np.float64]) -> NDArray[np.float64]:
        """Exact per-cluster values at integral ``x_base`` (for MIP starts)."""
        vals = np.zeros(self.n_cols - self.nb)
        for b, blk in enumerate(self.prob.blocks):
            if blk.n_rows == 0:
                continue
            a = blk.open_level(x_base) > 0.5
            d = blk.cost[:, a].min(axis=1) if a.any() else np.full(blk.n_rows, np.inf)
            vals[self.theta[b] - self.nb] = np.bincount(
                self.clusters[b], weights=blk.w * d, minlength=self.theta[b].size
            )
        return vals

    def run_lp(
        self, ctx: SolveContext | None = None
    ) -> tuple[str, NDArray[np.float64] | None, float]:
        """Solve the current LP (within the time left); return (status, x, objective)."""
        rem = None if ctx is None else ctx.remaining()
        # HiGHS's time limit counts the run time of the instance over all its runs
        limit = math.inf if rem is None else self.h.getRunTime() + max(rem, 0.01)
        self.h.setOptionValue("time_limit", limit)
        self.h.run()
        ms = self.h.getModelStatus()
        ms_enum = self.hs.HighsModelStatus
        if ms == ms_enum.kOptimal:
            x = np.asarray(self.h.getSolution().col_value, dtype=np.float64)
            return "optimal", x, float(self.h.getInfo().objective_function_value)
        if ms in (ms_enum.kInfeasible, ms_enum.kUnboundedOrInfeasible):
            return "infeasible", None, math.inf
        logger.debug("LP stopped with status %s", self.h.modelStatusToString(ms))
        return "other", None, -math.inf

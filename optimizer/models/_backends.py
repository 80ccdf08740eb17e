"""Solver back ends: HiGHS through ``highspy`` and CBC through PuLP.

* HiGHS: the arrays of a :class:`~._milp.Milp` go straight into
  ``Highs.passModel`` (no Python-level model building). Every ``Highs``
  instance is created silently (:func:`new_highs`): highspy prints a copyright
  banner on standard output when the first instance of a process is created,
  before any option can be set, so the file descriptor is redirected while it
  is created, and ``output_flag`` is switched off before anything else runs.
* CBC through PuLP, the portable path, which builds a PuLP model from the same
  arrays and reads CBC's log for the bound.

The same arrays are written to MPS/LP files by :func:`write_milp`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import DataError, OutputError, SolverError
from optimizer.models._milp import Milp

__all__: list[str] = []

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Send whatever C code writes to file descriptor 1 to the null device."""
    with contextlib.suppress(AttributeError, ValueError):  # a closed or replaced stream
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all: nothing to protect
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        _flush_c_stdout()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _flush_c_stdout() -> None:
    """Flush the C library's ``stdout`` buffer (what HiGHS printed is still there)."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


def new_highs() -> Any:
    """Return a silent ``highspy.Highs`` instance (no banner, no log on stdout)."""
    import highspy

    with _quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


@dataclass
class RawResult:
    """What a back end returns: status, primal values and bounds (model sense)."""

    status: Literal["optimal", "time_limit", "infeasible", "no_solution"]
    x: NDArray[np.float64] | None
    objective: float
    bound: float
    consistent: bool = True


def highs_model(milp: Milp) -> Any:
    """Create a ``highspy.Highs`` instance holding ``milp`` (silent)."""
    import highspy

    h = new_highs()
    lp = highspy.HighsLp()
    mat = milp.A.tocsc()
    mat.sort_indices()
    lp.num_col_ = milp.n_cols
    lp.num_row_ = milp.n_rows
    inf = highspy.kHighsInf
    lp.col_cost_ = milp.col_cost
    lp.col_lower_ = np.where(np.isneginf(milp.col_lb), -inf, milp.col_lb)
    lp.col_upper_ = np.where(np.isposinf(milp.col_ub), inf, milp.col_ub)
    lp.row_lower_ = np.where(np.isneginf(milp.row_lb), -inf, milp.row_lb)
    lp.row_upper_ = np.where(np.isposinf(milp.row_ub), inf, milp.row_ub)
    lp.offset_ = float(milp.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if milp.maximize else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data.astype(np.float64)
    if milp.integer.any():
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if f else kcont for f in milp.integer]
    if milp.col_names is not None:
        lp.col_names_ = milp.col_names
        lp.row_names_ = [f"r_{i}" for i in range(milp.n_rows)]
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise SolverError("HiGHS rejected the model (passModel returned an error)")
    return h


def run_highs(
    milp: Milp,
    *,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
    options: Mapping[str, Any] | None = None,
) -> RawResult:
    """Solve ``milp`` with HiGHS.

    HiGHS can return a MIP start unchanged while reporting the objective of a
    better solution it found in presolved space (an inconsistency between the
    reported value and the returned vector). The result is checked, and the
    model is solved again without the start when that happens.
    """
    t0 = time.perf_counter()
    if milp.n_cols == 0:
        return RawResult("optimal", np.zeros(0), float(milp.offset), float(milp.offset))
    h = highs_model(milp)
    res = run_highs_instance(
        h,
        integer=bool(milp.integer.any()),
        time_limit=time_limit,
        mip_gap=mip_gap,
        start=start,
        options=options,
    )
    if res.x is not None:
        res.consistent = _consistent(milp, res)
    if not res.consistent and start is not None:
        logger.debug("HiGHS returned a vector that does not match its objective; solving again")
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 0.01)
        h = highs_model(milp)
        res2 = run_highs_instance(
            h, integer=bool(milp.integer.any()), time_limit=left, mip_gap=mip_gap, options=options
        )
        if res2.x is not None:
            res2.consistent = _consistent(milp, res2)
            return res2
    return res


def _consistent(milp: Milp, res: RawResult) -> bool:
    assert res.x is not None
    value = float(milp.col_cost @ res.x + milp.offset)
    return abs(value - res.objective) <= 1e-6 * max(1.0, abs(value))


def run_highs_instance(
    h: Any,
    *,
    integer: bool,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
    options: Mapping[str, Any] | None = None,
) -> RawResult:
    """Run an already-built ``highspy.Highs`` instance and read the result."""
    import highspy

    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("mip_abs_gap", 0.0)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    if start is not None and integer:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    ms_enum = highspy.HighsModelStatus
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    objective = float(info.objective_function_value) if has_x else math.nan
    bound = float(info.mip_dual_bound) if integer else objective
    if ms == ms_enum.kModelEmpty:
        x = np.zeros(h.getNumCol())
        objective = bound = float(h.getObjectiveOffset()[1])
        return RawResult("optimal", x, objective, bound)
    if ms == ms_enum.kOptimal:
        status = "optimal" if has_x else "no_solution"
    elif ms in (ms_enum.kInfeasible, ms_enum.kUnboundedOrInfeasible):
        status = "infeasible"
    elif ms in (
        ms_enum.kTimeLimit,
        ms_enum.kInterrupt,
        ms_enum.kIterationLimit,
        ms_enum.kSolutionLimit,
        ms_enum.kObjectiveBound,
        ms_enum.kObjectiveTarget,
        ms_enum.kHighsInterrupt,
    ):
        status = "time_limit" if has_x else "no_solution"
    else:
        raise SolverError(f"HiGHS stopped with model status {h.modelStatusToString(ms)!r}")
    return RawResult(status, x, objective, bound)


_CBC_BOUND = re.compile(r"best possible\s+(-?[0-9.eE+-]+)")
_CBC_BOUND2 = re.compile(r"Objective bounds?\s*[:=]?\s*(-?[0-9.eE+-]+)")


def run_cbc(
    milp: Milp,
    *,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
) -> RawResult:
    """Solve ``milp`` with CBC through PuLP (the portable path)."""
    if milp.n_cols == 0:
        return RawResult("optimal", np.zeros(0), float(milp.offset), float(milp.offset))
    import pulp
    from pulp.apis.coin_api import PULP_CBC_CMD

    prob = pulp.LpProblem("model", pulp.LpMaximize if milp.maximize else pulp.LpMinimize)
    xs = []
    for k in range(milp.n_cols):
        lb = None if np.isneginf(milp.col_lb[k]) else float(milp.col_lb[k])
        ub = None if np.isposinf(milp.col_ub[k]) else float(milp.col_ub[k])
        cat = "Integer" if milp.integer[k] else "Continuous"
        xs.append(prob.add_variable(f"x{k}", lb, ub, cat=cat))
    cost_terms = [(xs[k], float(c)) for k, c in enumerate(milp.col_cost) if c != 0]
    prob.setObjective(pulp.LpAffineExpression(cost_terms, constant=float(milp.offset)))
    mat = milp.A.tocsr()
    for r in range(milp.n_rows):
        lo, hi = mat.indptr[r], mat.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(xs[j], float(v)) for j, v in zip(mat.indices[lo:hi], mat.data[lo:hi], strict=True)]
        )
        rl, ru = milp.row_lb[r], milp.row_ub[r]
        if np.isfinite(rl) and np.isfinite(ru) and rl == ru:
            prob.addConstraint(expr == float(rl), name=f"r{r}")
            continue
        if np.isfinite(rl):
            prob.addConstraint(expr >= float(rl), name=f"r{r}_lo")
        if np.isfinite(ru):
            prob.addConstraint(expr <= float(ru), name=f"r{r}_hi")
    if start is not None:
        for k, v in enumerate(start):
            xs[k].setInitialValue(round(float(v)) if milp.integer[k] else float(v))
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "cbc.log")
        solver = pulp.COIN_CMD(
            path=PULP_CBC_CMD.pulp_cbc_path,
            msg=False,
            timeLimit=None if time_limit is None else max(1, math.ceil(time_limit)),
            gapRel=float(mip_gap),
            gapAbs=0.0,
            warmStart=start is not None,
            logPath=log_path,
            threads=None,
        )
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed: {exc}") from exc
        try:
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                log = fh.read()
        except OSError:
            log = ""
    sol = prob.sol_status
    if sol == pulp.LpSolutionInfeasible and prob.status == pulp.LpStatusInfeasible:
        return RawResult("infeasible", None, math.nan, math.nan)
    if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        if prob.status == pulp.LpStatusInfeasible:
            return RawResult("infeasible", None, math.nan, math.nan)
        return RawResult("no_solution", None, math.nan, math.nan)
    x = np.array([v.value() if v.value() is not None else 0.0 for v in xs], dtype=np.float64)
    objective = float(milp.col_cost @ x + milp.offset)
    if sol == pulp.LpSolutionOptimal:
        return RawResult("optimal", x, objective, objective)
    bound = math.nan
    found = _CBC_BOUND.findall(log) or _CBC_BOUND2.findall(log)
    if found:
        try:
            bound = float(found[-1])
        except ValueError:
            bound = math.nan
    if not math.isfinite(bound):
        bound = -math.inf if not milp.maximize else math.inf
    return RawResult("time_limit", x, objective, bound)


def write_milp(milp: Milp, path: str | os.PathLike[str]) -> None:
    """Write ``milp`` to an ``.mps`` or ``.lp`` file (format from the suffix)."""
    path = os.fspath(path)
    if not path.endswith((".mps", ".lp")):
        raise DataError(f"cannot write {path!r}: the file name must end in .mps or .lp")
    h = highs_model(milp)
    import highspy

    status = h.writeModel(path)
    if status == highspy.HighsStatus.kError:
        raise OutputError(f"HiGHS could not write the model to {path!r}")

"""Exact solver for the median-type models (p-median, fixed charge, two-tier).

The objective of these models is a sum of *distance blocks*: for each block a
weighted sum, over demand rows, of the distance to the nearest site that is
open for the block, plus a linear part (site costs, penalties) over the
*base* variables. Two exact methods share the block description:

``compact``
    The aggregated Elloumi formulation (:mod:`._levels`) as one MILP. Used
    for small instances, for CBC and for the MPS/LP writers.

``benders`` (HiGHS only)
    1. a heuristic incumbent (greedy + interchange, from the model);
    2. the LP relaxation by a stabilised (in-out) Benders cutting-plane loop
       on a master with one ``theta`` per cluster of demand rows (Durán-Mateluna,
       Ales and Elloumi 2023 use the same cuts);
    3. LP rounding + local search for a better incumbent;
    4. reduced-cost fixing of the site variables: a site whose opening
       provably costs more than the incumbent is closed for good; with one
       block, the problem is then re-solved over the surviving sites only
       (:mod:`._reduce`: a smaller master with shorter cuts);
    5. with an incumbent: depth-first branch and bound with Benders cuts of
       every block at every node (:mod:`._branch`); without one (no warm
       start): MIP rounds on the master: solve, evaluate the solutions found
       exactly, add their cuts, repeat until the bound meets the incumbent.

Every bound reported is valid for the original problem: the master is a
relaxation, and fixings only remove solutions that cannot beat the incumbent.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import SolverError
from optimizer.models._backends import run_cbc, run_highs
from optimizer.models._base import Outcome, SolveContext, raise_no_solution, raise_solver_infeasible
from optimizer.models._branch import branch_and_bound, reduced_cost_fixing
from optimizer.models._levels import Nodes, add_nodes_to_builder, elloumi_nodes, node_values
from optimizer.models._master import Master
from optimizer.models._milp import Milp, MilpBuilder
from optimizer.models._problem import DistanceProblem, closed, round_base
from optimizer.models._reduce import restrict

__all__: list[str] = []

logger = logging.getLogger(__name__)

#: Above this many (row, level) pairs the HiGHS path uses Benders instead of the compact MILP
#: (measured: Benders is 5-20x faster already on the 100-node OR-Library instances).
COMPACT_LIMIT = 2_000


# ---------------------------------------------------------------------------------------
# compact path
# ---------------------------------------------------------------------------------------


def compact_milp(prob: DistanceProblem) -> tuple[Milp, list[Nodes]]:
    """Build the full compact MILP: base + aggregated Elloumi nodes of every block."""
    base = prob.base
    b = MilpBuilder()
    b.add_cols(base.n_cols, cost=base.col_cost, lb=base.col_lb, ub=base.col_ub, name="x")
    b._int[-1] = base.integer.copy()
    if base.col_names is not None:
        b._names[-1] = list(base.col_names)
    coo = base.A.tocoo()
    b.add_rows(coo.row, coo.col, coo.data, base.n_rows, lb=base.row_lb, ub=base.row_ub)
    b.offset = base.offset
    all_nodes = []
    for blk in prob.blocks:
        if blk.n_rows == 0:
            all_nodes.append(
                Nodes(
                    np.zeros(0),
                    np.zeros(0, bool),
                    np.zeros(0, np.int64),
                    np.zeros(1, np.int64),
                    np.zeros(0, np.int64),
                    0.0,
                )
            )
            continue
        nodes = elloumi_nodes(blk.sr, blk.w, forced=blk.forced, min_open=blk.min_open)
        add_nodes_to_builder(b, nodes, blk.combo, name=f"z_{blk.name}")
        all_nodes.append(nodes)
    return b.build(), all_nodes


def _compact_start(
    prob: DistanceProblem, nodes: list[Nodes], x: NDArray[np.float64]
) -> NDArray[np.float64]:
    parts = [x]
    for blk, nd in zip(prob.blocks, nodes, strict=True):
        if nd.size:
            parts.append(node_values(nd, np.minimum(blk.open_level(x), 1.0)))
    return np.concatenate(parts)


def solve_compact(prob: DistanceProblem, ctx: SolveContext) -> Outcome:
    """Solve the compact MILP with HiGHS or CBC."""
    x0 = prob.heuristic() if ctx.warm_start else None
    if x0 is not None and not math.isfinite(prob.evaluate(x0)):
        x0 = None
    milp, nodes = compact_milp(prob)
    start = _compact_start(prob, nodes, x0) if x0 is not None else None
    runner = run_highs if ctx.solver == "highs" else run_cbc
    res = runner(milp, time_limit=ctx.remaining(), mip_gap=ctx.mip_gap, start=start)
    nb = prob.base.n_cols
    if res.status == "infeasible":
        raise_solver_infeasible(prob.name)
    if res.x is None:
        if x0 is not None:
            return Outcome(x0, -math.inf, False)
        raise_no_solution(prob.name, ctx)
    assert res.x is not None
    x = round_base(prob, res.x[:nb])
    if x0 is not None and prob.evaluate(x0) < prob.evaluate(x):
        x = x0
    return Outcome(x, res.bound, res.status == "optimal")


# ---------------------------------------------------------------------------------------
# Benders path
# ---------------------------------------------------------------------------------------


def solve_benders(
    prob: DistanceProblem,
    ctx: SolveContext,
    *,
    start: NDArray[np.float64] | None = None,
    reduce: bool = True,
) -> Outcome:
    """Solve by Benders decomposition (HiGHS only).

    ``start`` is an incumbent to begin with (instead of the heuristic);
    ``reduce`` allows re-solving over the sites that survive root fixing.
    """
    t_start = time.perf_counter()
    nb = prob.base.n_cols
    ints = np.nonzero(prob.base.integer)[0]
    best_x: NDArray[np.float64] | None = None
    ub = math.inf

    def offer(x: NDArray[np.float64] | None) -> bool:
        nonlocal best_x, ub
        if x is None:
            return False
        val = prob.evaluate(x)
        if val < ub - 1e-12 * max(1.0, abs(ub) if math.isfinite(ub) else 1.0):
            best_x, ub = x.copy(), val
            return True
        return False

    if start is not None:
        offer(start)
    elif ctx.warm_start:
        offer(prob.heuristic())
    t_heur = time.perf_counter() - t_start
    logger.debug("%s: heuristic value %.8g in %.2fs", prob.name, ub, t_heur)
    master = Master(prob)
    if best_x is not None:
        master.add_cuts(master.cuts_at(best_x), None)

    # ---- LP phase --------------------------------------------------------------------
    lb = -math.inf
    lp_ub = math.inf
    x_lp: NDArray[np.float64] | None = None
    core = best_x.copy() if best_x is not None else None
    alpha = 0.5 if core is not None else 0.0
    iters = 0
    lp_budget = None if ctx.remaining() is None else 0.5 * ctx.remaining()
    t_lp = time.perf_counter()
    while True:
        iters += 1
        status, x, obj = master.run_lp(ctx)
        if status == "infeasible":
            raise_solver_infeasible(prob.name)
        if status != "optimal" or x is None:
            break
        x_lp, lb = x, obj
        xb = x[:nb]
        if core is None:
            core = xb.copy()
        sep = alpha * core + (1 - alpha) * xb if alpha > 0 else xb
        batches = master.cuts_at(sep)
        val = float(prob.base.col_cost @ sep + prob.base.offset) + sum(
            float(rv.sum()) for *_, rv in batches
        )
        lp_ub = min(lp_ub, val)
        added = master.add_cuts(batches, x)
        core = 0.5 * core + 0.5 * sep
        if lp_ub - lb <= 1e-7 * max(1.0, abs(lp_ub)):
            break
        if added == 0:
            if alpha == 0:
                break
            alpha = 0.0
        if iters >= 300 or (lp_budget is not None and time.perf_counter() - t_lp > lp_budget):
            break
    logger.debug(
        "%s: LP phase %d iterations, bound %.6g, LP upper %.6g, %d cuts, %.2fs",
        prob.name,
        iters,
        lb,
        lp_ub,
        master.n_cuts,
        time.perf_counter() - t_lp,
    )
    if x_lp is None:
        if best_x is None:
            raise_no_solution(prob.name, ctx)
        assert best_x is not None
        return Outcome(best_x, -math.inf, False)

    # ---- better incumbent from the LP ------------------------------------------------
    t_imp = time.perf_counter()
    improved = ctx.warm_start and not ctx.out_of_time() and offer(prob.improve(x_lp[:nb]))
    logger.debug("%s: LP rounding gave %.8g in %.2fs", prob.name, ub, time.perf_counter() - t_imp)
    if improved:
        assert best_x is not None
        if master.add_cuts(master.cuts_at(best_x), x_lp):
            status, x, obj = master.run_lp(ctx)  # re-solve: the duals must match the rows
            if status == "optimal" and x is not None:
                x_lp, lb = x, max(lb, obj)
    if best_x is not None and closed(ub, lb, ctx.mip_gap):
        return Outcome(best_x, lb, True)

    # ---- reduced-cost fixing -----------------------------------------------------------
    fixed = 0
    if best_x is not None and math.isfinite(lb):
        sol = master.h.getSolution()
        rc = np.asarray(sol.col_dual, dtype=np.float64)[ints] if sol.dual_valid else None
        purged = master.purge()
        logger.debug("%s: purged %d slack cuts", prob.name, purged)
        if rc is not None:
            fixed += reduced_cost_fixing(master, ints, rc, x_lp=x_lp, lb=lb, ub=ub)
            if reduce:
                lp = master.h.getLp()
                red = restrict(prob, np.asarray(lp.col_lower_)[:nb], np.asarray(lp.col_upper_)[:nb])
                start_sub = red.shrink(best_x) if red is not None else None
                if red is not None and start_sub is not None:
                    logger.debug(
                        "%s: re-solving over the %d of %d sites left after fixing",
                        prob.name,
                        red.keep.size,
                        nb,
                    )
                    out = solve_benders(red.prob, ctx, start=start_sub, reduce=False)
                    x_full = red.expand(out.x_sites)
                    if not prob.evaluate(x_full) <= ub:
                        x_full = best_x
                    return Outcome(x_full, min(max(out.bound, lb), ub), out.proven)
    logger.debug(
        "%s: fixed %d of %d integer columns, %.2fs",
        prob.name,
        fixed,
        ints.size,
        time.perf_counter() - t_start,
    )

    # ---- branch and bound with cuts at every node -------------------------------------
    if best_x is not None:
        result = branch_and_bound(
            master,
            ints,
            lb,
            incumbent=lambda: ub,
            offer=offer,
            to_base=lambda xb: round_base(prob, xb),
            ctx=ctx,
        )
        logger.debug(
            "%s: tree of %d nodes, %d cuts, total %.2fs",
            prob.name,
            result.nodes,
            master.n_cuts,
            time.perf_counter() - t_start,
        )
        return Outcome(best_x, min(max(result.bound, lb), ub), result.proven)

    # ---- MIP rounds ------------------------------------------------------------------
    hs = master.hs
    master.h.changeColsIntegrality(
        ints.size, ints.astype(np.int32), np.full(ints.size, hs.HighsVarType.kInteger)
    )
    master.h.setOptionValue("mip_improving_solution_save", True)
    master.h.setOptionValue("presolve", "on")
    master.h.setOptionValue("mip_heuristic_effort", 0.05)
    bound = lb
    rounds = 0
    proven = False
    use_start = True
    while True:
        rounds += 1
        rem = ctx.remaining()
        if rem is not None and rem <= 0.01:
            break
        if best_x is not None and use_start:
            sol = hs.HighsSolution()
            sol.col_value = np.concatenate([best_x, master.theta_values(best_x)]).tolist()
            sol.value_valid = True
            master.h.setSolution(sol)
        if rem is not None:
            master.h.setOptionValue("time_limit", master.h.getRunTime() + float(rem))
        master.h.setOptionValue("mip_rel_gap", float(ctx.mip_gap))
        master.h.setOptionValue("mip_abs_gap", 0.0)
        master.h.run()
        ms = master.h.getModelStatus()
        info = master.h.getInfo()
        ms_enum = hs.HighsModelStatus
        if ms in (ms_enum.kInfeasible, ms_enum.kUnboundedOrInfeasible):
            if best_x is None:
                raise_solver_infeasible(prob.name)
            bound, proven = ub, True  # nothing beats the incumbent
            break
        candidates = []
        if info.primal_solution_status == 2:
            candidates.append(np.asarray(master.h.getSolution().col_value, dtype=np.float64))
        for s in master.h.getSavedMipSolutions():
            candidates.append(np.asarray(s.col_value, dtype=np.float64))
        if ms not in (
            ms_enum.kOptimal,
            ms_enum.kTimeLimit,
            ms_enum.kInterrupt,
            ms_enum.kSolutionLimit,
            ms_enum.kIterationLimit,
        ):
            raise SolverError(
                f"HiGHS stopped with model status {master.h.modelStatusToString(ms)!r}"
            )
        logger.debug(
            "%s: MIP round %d: status %s, bound %.8g, incumbent %.8g, %.2fs",
            prob.name,
            rounds,
            master.h.modelStatusToString(ms),
            info.mip_dual_bound,
            ub,
            time.perf_counter() - t_start,
        )
        mb = float(info.mip_dual_bound)
        if math.isfinite(mb):
            bound = max(bound, mb)
        added = 0
        for xc in candidates:
            xi = round_base(prob, xc[:nb])
            offer(xi)
            added += master.add_cuts(master.cuts_at(xi), xc)
        if best_x is not None and closed(ub, bound, ctx.mip_gap):
            proven = True
            break
        if ms != ms_enum.kOptimal:
            break  # out of time
        if added == 0:
            # Every solution HiGHS returned is priced exactly, yet the bound does not
            # meet the incumbent: HiGHS reported a presolved-space value for a start it
            # returned unchanged. Solve once more without the start.
            if not use_start:
                break
            use_start = False
        else:
            use_start = True
    logger.debug(
        "%s: %d MIP rounds, %d cuts, heuristic %.2fs, total %.2fs",
        prob.name,
        rounds,
        master.n_cuts,
        t_heur,
        time.perf_counter() - t_start,
    )
    if best_x is None:
        raise_no_solution(prob.name, ctx)
    assert best_x is not None
    return Outcome(best_x, min(bound, ub), proven)


def solve_distance(prob: DistanceProblem, ctx: SolveContext) -> Outcome:
    """Solve with the engine ``ctx.method`` names (``"auto"``: by size; CBC: compact)."""
    method = ctx.method
    if ctx.solver == "cbc":
        return solve_compact(prob, ctx)
    if method == "auto":
        work = sum(b.work() for b in prob.blocks)
        method = "compact" if work <= COMPACT_LIMIT else "benders"
    if method == "compact":
        return solve_compact(prob, ctx)
    return solve_benders(prob, ctx)

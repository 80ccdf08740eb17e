"""Benchmark the location models against spopt and pbp-pmedian.

Runs, on the same seeded instances and with time limits so that it ends:

* p-median 2,000 x 100, p = 10;
* p-median 20,000 x 300, p = 20;
* MCLP 20,000 x 300, p = 20, 20-minute standard;
* the eight OR-Library p-median instances in ``../shared/data/orlib``.

Competitors run as a user would call them: spopt's ``from_cost_matrix`` models
solved through PuLP with CBC (``PULP_CBC_CMD``) and with HiGHS (``pulp.HiGHS``),
and ``pbp_pmedian.solve`` when pbp-pmedian is installed. Each competitor run
happens in a child process with a wall-clock limit (model building included)
and a memory cap, so a run that cannot finish is reported instead of hanging.

Instances ("road-like"): towns and rural points in a 150 km square, a
Delaunay road graph over 0.5 x n_demand nodes with 40/60/80/100 km/h links
(its largest connected part),
demand points snapped to their nearest road node (+ access time at 30 km/h),
sites on road nodes; costs are float minutes (not rounded). Weights are
integers 1..99. Points that share a road node form ``origin_groups``.

Usage::

    python benchmarks/bench_models.py                  # everything
    python benchmarks/bench_models.py --only pm2k orlib
    python benchmarks/bench_models.py --skip-competitors
    python benchmarks/bench_models.py --only euc20k tt20k   # extras (ours only)
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _baseline import competitor_in_child, parse_or_run_child
from _roads import road_instance

__all__ = ["orlib_instance"]

ORLIB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "orlib"
ORLIB_NAMES = ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5", "pmed11", "pmed16", "pmed26"]
MEMORY_CAP_BYTES = 8 * 1024**3


# --------------------------------------------------------------------------------------
# instances
# --------------------------------------------------------------------------------------


def orlib_instance(name: str) -> tuple[np.ndarray, int]:
    """All-pairs shortest paths of an OR-Library p-median graph, and p."""
    with open(ORLIB / f"{name}.txt", encoding="ascii") as fh:
        n, _, p = (int(v) for v in fh.readline().split())
        edges: dict[tuple[int, int], float] = {}
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                i, j = int(parts[0]) - 1, int(parts[1]) - 1
                edges[(min(i, j), max(i, j))] = float(parts[2])
    ij = np.array(list(edges), dtype=int)
    g = sp.coo_matrix((list(edges.values()), (ij[:, 0], ij[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(g, directed=False), p


def orlib_optima() -> dict[str, float]:
    import csv

    with open(ORLIB / "optima.csv", encoding="ascii") as fh:
        return {r["instance"]: float(r["optimum"]) for r in csv.DictReader(fh)}


CASES: dict[str, dict] = {
    "pm2k": {"kind": "pmedian", "n": 2000, "m": 100, "p": 10, "seed": 1},
    "pm20k": {"kind": "pmedian", "n": 20000, "m": 300, "p": 20, "seed": 2},
    "mclp20k": {"kind": "mclp", "n": 20000, "m": 300, "p": 20, "radius": 20.0, "seed": 3},
    # extras, not run by default (ours only)
    "euc20k": {"kind": "pmedian", "n": 20000, "m": 300, "p": 20, "seed": 4, "euclid": True},
    "tt20k": {"kind": "twotier", "n": 20000, "m": 300, "seed": 5},
}
EXTRAS = ("euc20k", "tt20k")


def euclid_instance(n: int, m: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points in a 100 x 100 square, Euclidean costs (a hard class)."""
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 100, (n, 2))
    sites = rng.uniform(0, 100, (m, 2))
    cost = np.linalg.norm(demand[:, None, :] - sites[None, :, :], axis=2)
    return cost, rng.integers(1, 100, n).astype(float)


def make_case(spec: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    if spec["kind"] == "orlib":
        cost, p = orlib_instance(spec["name"])
        return cost, np.ones(cost.shape[0]), None, p
    if spec.get("euclid"):
        cost, w = euclid_instance(spec["n"], spec["m"], seed=spec["seed"])
        return cost, w, None, spec["p"]
    cost, w, groups = road_instance(spec["n"], spec["m"], seed=spec["seed"])
    return cost, w, groups, spec.get("p", 0)


# --------------------------------------------------------------------------------------
# runners (each returns a dict)
# --------------------------------------------------------------------------------------


def run_ours(spec: dict, time_limit: float, mip_gap: float, use_groups: bool) -> dict:
    from optimizer.models import MCLP, PMedian, TwoTier

    cost, w, groups, p = make_case(spec)
    t0 = time.perf_counter()
    if spec["kind"] == "twotier":
        # 70 % in-person visits, 30 % remote-eligible; 5-12 full points at 20,000 a year,
        # up to 25 remote points at 2,000 a year; every demand point within 30 minutes
        model = TwoTier.from_cost_matrix(
            cost,
            w_full=0.7 * w,
            w_remote=0.3 * w,
            n_full=(5, 12),
            n_remote=(0, 25),
            site_cost_full=20000.0,
            site_cost_remote=2000.0,
            coverage_minutes=30.0,
            origin_groups=groups if use_groups else None,
        )
    elif spec["kind"] == "mclp":
        model = MCLP.from_cost_matrix(cost, radius=spec["radius"], p=p, weights=w)
    else:
        model = PMedian.from_cost_matrix(
            cost, p=p, weights=w, origin_groups=groups if use_groups else None
        )
    sol = model.solve(time_limit=time_limit, mip_gap=mip_gap)
    return {
        "status": sol.status,
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "seconds": time.perf_counter() - t0,
    }


def run_spopt(spec: dict, time_limit: float, backend: str) -> dict:
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt.locate import MCLP as SMCLP
        from spopt.locate import PMedian as SPMedian

        cost, w, _, p = make_case(spec)
        t0 = time.perf_counter()
        if spec["kind"] == "mclp":
            model = SMCLP.from_cost_matrix(cost, w, service_radius=spec["radius"], p_facilities=p)
        else:
            model = SPMedian.from_cost_matrix(cost, w, p_facilities=p)
        t_build = time.perf_counter() - t0
        print(f"BUILT {t_build:.2f}", flush=True)
        left = max(1.0, time_limit - t_build)
        if backend == "cbc":
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=left)
        else:
            solver = pulp.HiGHS(msg=False, timeLimit=left)
        model = model.solve(solver, results=False)
    seconds = time.perf_counter() - t0
    status = pulp.LpStatus[model.problem.status]
    objective = pulp.value(model.problem.objective)
    return {
        "status": status,
        "sol_status": int(model.problem.sol_status),
        "objective": None if objective is None else float(objective),
        "build_seconds": t_build,
        "seconds": seconds,
    }


def run_pbp(spec: dict, time_limit: float) -> dict:
    import pbp_pmedian

    cost, w, _, p = make_case(spec)
    t0 = time.perf_counter()
    value, sites, _secs, status, engine = pbp_pmedian.solve(
        (w[:, None] * cost).T, p, time_limit=time_limit
    )
    seconds = time.perf_counter() - t0
    objective = None
    if sites is not None:
        objective = float(w @ cost[:, list(sites)].min(axis=1))
    return {
        "status": "certified optimal" if status == 0 else f"status {status}",
        "objective": objective,
        "reported": None if value is None else float(value),
        "engine": engine,
        "seconds": seconds,
    }


def child(payload: dict) -> None:
    """Entry point of a child process: run one competitor and print JSON."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))
    spec, who, limit = payload["spec"], payload["who"], payload["limit"]
    try:
        out = run_pbp(spec, limit) if who == "pbp" else run_spopt(spec, limit, who.split("-")[1])
    except MemoryError:
        out = {"status": f"out of memory (cap {MEMORY_CAP_BYTES / 1024**3:.0f} GiB)"}
    except Exception as exc:  # report whatever the competitor raised
        out = {"status": f"error: {type(exc).__name__}: {exc}"[:200]}
    print("RESULT " + json.dumps(out))


def in_child(spec: dict, who: str, limit: float, grace: float) -> dict:
    payload = {"spec": spec, "who": who, "limit": limit}
    return competitor_in_child(__file__, payload, limit=limit, grace=grace)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:,.{digits}f}"


def proven(row: dict, ours: dict) -> bool:
    st = str(row.get("status", ""))
    if st in ("optimal",) or st == "certified optimal":
        return True
    return bool(st == "Optimal" and row.get("sol_status") == 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="cases: pm2k pm20k mclp20k orlib (default: all four), extras: euc20k tt20k",
    )
    ap.add_argument("--skip-competitors", action="store_true")
    ap.add_argument("--limit-ours", type=float, default=120.0)
    ap.add_argument("--limit-big", type=float, default=120.0, help="competitor limit, 2k/20k cases")
    ap.add_argument("--limit-orlib", type=float, default=60.0, help="competitor limit, OR-Library")
    args = parse_or_run_child(ap, argv, child)
    if args is None:
        return 0
    try:
        import pbp_pmedian  # noqa: F401

        have_pbp = True
    except ImportError:
        have_pbp = False
        print("pbp-pmedian is not installed: its column is skipped")
    wanted = set(args.only or ["pm2k", "pm20k", "mclp20k", "orlib"])
    cases: list[tuple[str, dict, float, float]] = []
    for key in CASES:
        if key in wanted:
            gap = 0.0 if key in ("pm2k", "mclp20k") else 1e-4
            cases.append((key, CASES[key], gap, args.limit_big))
    if "orlib" in wanted and ORLIB.exists():
        for name in ORLIB_NAMES:
            cases.append((name, {"kind": "orlib", "name": name}, 0.0, args.limit_orlib))
    optima = orlib_optima() if ORLIB.exists() else {}
    results = []
    header = ("case", "method", "status", "objective", "gap", "seconds", "x ours")
    print(
        f"{header[0]:9} {header[1]:22} {header[2]:36} "
        + " ".join(f"{h:>{w}}" for h, w in zip(header[3:], (16, 9, 9, 8), strict=True))
    )
    for key, spec, gap, limit in cases:
        rows = []
        ours = run_ours(spec, args.limit_ours, gap, use_groups=False)
        rows.append(("ours (HiGHS)", ours))
        if spec["kind"] in ("pmedian", "twotier") and not spec.get("euclid"):
            rows.append(
                ("ours + origin_groups", run_ours(spec, args.limit_ours, gap, use_groups=True))
            )
        if not args.skip_competitors and key not in EXTRAS:
            grace = 30.0 if spec.get("n", 0) < 10000 else 60.0
            rows.append(("spopt PuLP+CBC", in_child(spec, "spopt-cbc", limit, grace)))
            rows.append(("spopt PuLP+HiGHS", in_child(spec, "spopt-highs", limit, grace)))
            if have_pbp and spec["kind"] != "mclp":
                rows.append(("pbp-pmedian", in_child(spec, "pbp", limit, grace)))
        for label, row in rows:
            t = row.get("seconds")
            ratio = "-"
            if t is not None and ours.get("seconds"):
                r = t / ours["seconds"]
                ratio = f"{r:,.1f}" if proven(row, ours) else f">{r:,.1f}"
                if label.startswith("ours"):
                    ratio = f"{r:.2f}"
            extra = ""
            if spec["kind"] == "orlib" and row.get("objective") is not None:
                extra = (
                    " (= optimum)"
                    if abs(row["objective"] - optima[spec["name"]]) < 1e-6
                    else " (!= optimum)"
                )
            g = row.get("gap")
            gap_s = f"{100 * g:.4f}%" if g is not None and math.isfinite(g) else "-"
            print(
                f"{key:9} {label:22} {str(row.get('status'))[:36]:36} "
                f"{fmt(row.get('objective'), 1):>16} {gap_s:>9} {fmt(t, 2):>9} {ratio:>8}{extra}",
                flush=True,
            )
            results.append({"case": key, "method": label, **row})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

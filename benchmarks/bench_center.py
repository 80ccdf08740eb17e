"""P-center and large MCLP: ours against spopt (PuLP + CBC), side by side in one run.

Usage::

    python benchmarks/bench_center.py                 # every case (about 10-20 minutes)
    python benchmarks/bench_center.py --only sf road  # case families: sf, road, mclp
    python benchmarks/bench_center.py --skip-spopt    # ours only
    python benchmarks/bench_center.py --only big --skip-spopt  # p-center 20,000 x 300

Cases:

* ``sf-p{2..5}``: spopt's San Francisco p-center instance (205 census tracts x 16
  candidate stores, network distances in metres), read from the copy that ships
  inside the installed spopt package (``spopt/tests/test_locate/data``).
* ``road{seed}-p{p}``: road-like instances (towns, a Delaunay road graph, float
  minutes; :mod:`_roads`), 500 demand points x 30 sites, and 205 x 16 like SF.
* ``mclp-uni{seed}``: 10,000 customers x 1,000 sites uniform in a 100 x 100 square,
  Euclidean distance, radius 5 (about 8 sites cover a customer), integer weights
  1-100, p = 50: random covering sets in the style of the large MCLP benchmarks.
* ``mclp-road``: a road-like 10,000 x 1,000 instance, 20-minute standard (about 130
  sites cover a customer), p = 30; ``mclp-road-10min`` the same with a 10-minute standard.

Ours: ``PCenter``/``MCLP`` ``from_cost_matrix(...).solve(mip_gap=0)`` on HiGHS, in
this process, wall time of the call (after one warm-up solve that imports HiGHS).
spopt 0.7.0: ``from_cost_matrix`` then ``solve(pulp.PULP_CBC_CMD(timeLimit=...))``,
in a child process killed after its limit plus a grace period; its time includes
building the PuLP model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # sfdata

from _baseline import competitor_in_child
from _roads import road_instance
from sfdata import sf_cost

SPOPT_LIMIT = {"sf": 60.0, "road": 120.0, "mclp": 180.0, "big": 120.0}


def road_cost(n_demand: int, n_sites: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Road-like travel minutes (float) and integer weights 1-99."""
    cost, weights, _ = road_instance(n_demand, n_sites, seed=seed)
    return cost, weights


def uniform_mclp(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """10,000 customers x 1,000 sites uniform in a 100 x 100 square; cost = distance."""
    rng = np.random.default_rng(1000 + seed)
    cust = rng.uniform(0, 100, (10_000, 2))
    sites = rng.uniform(0, 100, (1_000, 2))
    cost = np.linalg.norm(cust[:, None, :] - sites[None, :, :], axis=2)
    weights = rng.integers(1, 101, cust.shape[0]).astype(float)
    return cost, weights


def make_case(spec: dict) -> tuple[np.ndarray, np.ndarray]:
    kind = spec["kind"]
    if kind == "sf":
        cost = sf_cost()
        return cost, np.ones(cost.shape[0])
    if kind == "road":
        return road_cost(spec["n"], spec["m"], spec["seed"])
    if kind == "mclp-uni":
        return uniform_mclp(spec["seed"])
    if kind == "mclp-road":
        return road_cost(10_000, 1_000, spec["seed"])
    raise ValueError(kind)


def cases() -> list[dict]:
    out: list[dict] = []
    for p in (2, 3, 4, 5):
        out.append({"name": f"sf-p{p}", "family": "sf", "kind": "sf", "p": p})
    for seed in (0, 1, 2):
        for p in (3, 5):
            out.append(
                {
                    "name": f"road{seed}-500x30-p{p}",
                    "family": "road",
                    "kind": "road",
                    "n": 500,
                    "m": 30,
                    "seed": seed,
                    "p": p,
                }
            )
    for p in (2, 3, 4, 5):
        out.append(
            {
                "name": f"road7-205x16-p{p}",
                "family": "road",
                "kind": "road",
                "n": 205,
                "m": 16,
                "seed": 7,
                "p": p,
            }
        )
    for p in (5, 20):  # only with --only big
        out.append(
            {
                "name": f"road11-20000x300-p{p}",
                "family": "big",
                "kind": "road",
                "n": 20_000,
                "m": 300,
                "seed": 11,
                "p": p,
            }
        )
    for seed in (0, 1):
        out.append(
            {
                "name": f"mclp-uni{seed}",
                "family": "mclp",
                "kind": "mclp-uni",
                "seed": seed,
                "p": 50,
                "radius": 5.0,
            }
        )
    out.append(
        {
            "name": "mclp-road-10min",
            "family": "mclp",
            "kind": "mclp-road",
            "seed": 3,
            "p": 30,
            "radius": 10.0,
        }
    )
    out.append(
        {
            "name": "mclp-road",
            "family": "mclp",
            "kind": "mclp-road",
            "seed": 3,
            "p": 30,
            "radius": 20.0,
        }
    )
    return out


def run_ours(spec: dict, time_limit: float) -> dict:
    from optimizer.models import MCLP, PCenter

    cost, w = make_case(spec)
    t0 = time.perf_counter()
    if spec["kind"].startswith("mclp"):
        model = MCLP.from_cost_matrix(cost, radius=spec["radius"], p=spec["p"], weights=w)
    else:
        model = PCenter.from_cost_matrix(cost, p=spec["p"])
    sol = model.solve(mip_gap=0, time_limit=time_limit)
    return {
        "status": sol.status,
        "objective": sol.objective,
        "gap": sol.gap,
        "seconds": time.perf_counter() - t0,
    }


def run_spopt(spec: dict, time_limit: float) -> dict:
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt.locate import MCLP as SMCLP
        from spopt.locate import PCenter as SPCenter

        cost, w = make_case(spec)
        t0 = time.perf_counter()
        if spec["kind"].startswith("mclp"):
            model = SMCLP.from_cost_matrix(
                cost, w, service_radius=spec["radius"], p_facilities=spec["p"]
            )
        else:
            model = SPCenter.from_cost_matrix(cost, p_facilities=spec["p"])
        t_build = time.perf_counter() - t0
        print(f"BUILT {t_build:.2f}", flush=True)
        left = max(1.0, time_limit - t_build)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=left), results=False)
    seconds = time.perf_counter() - t0
    objective = pulp.value(model.problem.objective)
    return {
        "status": pulp.LpStatus[model.problem.status],
        "sol_status": int(model.problem.sol_status),
        "objective": None if objective is None else float(objective),
        "build_seconds": t_build,
        "seconds": seconds,
    }


def in_child(spec: dict, limit: float, grace: float = 60.0) -> dict:
    return competitor_in_child(__file__, {"spec": spec, "limit": limit}, limit=limit, grace=grace)


def spopt_proven(row: dict) -> bool:
    return row.get("status") == "Optimal" and row.get("sol_status") == 1


def fmt(v: float | None, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="case families or names (sf, road, mclp, ...)")
    ap.add_argument("--skip-spopt", action="store_true")
    ap.add_argument("--time-limit", type=float, default=120.0, help="ours, seconds")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        payload = json.loads(args.child)
        try:
            out = run_spopt(payload["spec"], payload["limit"])
        except Exception as exc:  # report whatever spopt raised
            out = {"status": f"error: {type(exc).__name__}: {exc}"[:200]}
        print("RESULT " + json.dumps(out), flush=True)
        return 0
    chosen = [
        c
        for c in cases()
        if (
            (c["family"] in args.only or c["name"] in args.only)
            if args.only
            else c["family"] != "big"
        )
    ]
    from optimizer.models import PCenter

    # import HiGHS once before timing (spopt's child imports PuLP before its clock starts)
    PCenter.from_cost_matrix(np.arange(12.0).reshape(4, 3), p=2).solve()
    print(f"load average at start: {os.getloadavg()}")
    header = "| case | ours | ours objective | spopt CBC | spopt objective | spopt/ours |"
    print(header)
    print("| --- | --- | --- | --- | --- | --- |")
    for spec in chosen:
        ours = run_ours(spec, args.time_limit)
        ours_txt = f"{ours['seconds']:.3f} s, {ours['status']}"
        if ours["status"] != "optimal":
            ours_txt += f" (gap {100 * ours['gap']:.2f}%)"
        if args.skip_spopt:
            ref = {"status": "skipped", "seconds": None}
        else:
            ref = in_child(spec, SPOPT_LIMIT[spec["family"]])
        if ref.get("seconds") is not None and "objective" in ref:
            ref_txt = f"{ref['seconds']:.2f} s, {ref['status']}"
        else:
            ref_txt = str(ref["status"])
        if ref.get("seconds") is None:
            ratio = "-"
        elif spopt_proven(ref):
            ratio = f"{ref['seconds'] / ours['seconds']:.1f}x"
        else:
            ratio = f">{ref['seconds'] / ours['seconds']:.1f}x (not proven)"
        digits = 0 if spec["kind"].startswith("mclp") else 3
        print(
            f"| {spec['name']} | {ours_txt} | {fmt(ours['objective'], digits)} | {ref_txt} | "
            f"{fmt(ref.get('objective'), digits)} | {ratio} |",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

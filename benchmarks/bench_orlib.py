"""OR-Library p-median: all 40 instances, this checkout against a baseline, side by side.

For each instance (``../shared/data/orlib/pmed1..pmed40``) the cost matrix is
built (all-pairs shortest paths with scipy, not timed) and
``PMedian.from_cost_matrix(cost, p=p).solve(mip_gap=0, time_limit=LIMIT)`` is
timed, once with the code of this checkout ("ours") and once with the
baseline (default: the committed code of ``main``), each in its own child
process pinned to one core. The two runs of an instance follow each other,
so that the load of the shared machine touches both alike.

Usage::

    python benchmarks/bench_orlib.py                      # all 40, limit 60 s each
    python benchmarks/bench_orlib.py --only pmed36 pmed40 --repeat 3
    python benchmarks/bench_orlib.py --no-baseline
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _baseline import REPO, export_revision, parse_or_run_child, run_in_child
from bench_models import ORLIB, orlib_instance, orlib_optima

NAMES = [f"pmed{k}" for k in range(1, 41)]


def child(payload: dict) -> None:
    """Solve one instance with whatever ``optimizer`` is first on the path; print JSON."""
    import optimizer.models
    from optimizer.models import PMedian

    cost, p = orlib_instance(payload["name"])
    t0 = time.perf_counter()
    sol = PMedian.from_cost_matrix(cost, p=p).solve(mip_gap=0.0, time_limit=payload["limit"])
    seconds = time.perf_counter() - t0
    out = {
        "status": sol.status,
        "objective": sol.objective,
        "bound": sol.bound,
        "gap": sol.gap,
        "seconds": seconds,
        "code": str(Path(optimizer.models.__file__).parents[2]),
    }
    print("RESULT " + json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="instance names (default: all 40)")
    ap.add_argument("--limit", type=float, default=60.0, help="time limit per solve (s)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per instance and code; median")
    ap.add_argument("--baseline", default="main", help="git revision of the baseline")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--cpu", type=int, default=None, help="pin the children to this core")
    args = parse_or_run_child(ap, argv, child)
    if args is None:
        return 0
    if not ORLIB.exists():
        print(f"{ORLIB} is missing: the OR-Library instances live in ../shared/data/orlib")
        return 1
    optima = orlib_optima()
    names = args.only or NAMES
    codes = {"ours": REPO}
    if not args.no_baseline:
        codes["base"] = export_revision(args.baseline)
    script = Path(__file__).resolve()
    rows = []
    head = f"{'instance':9} {'n':>4} {'p':>3} {'optimum':>8}"
    for label in codes:
        head += f" | {label + ' status':13} {'objective':>9} {'s':>7}"
    print(head + (" | base/ours" if len(codes) == 2 else ""), flush=True)
    for name in names:
        n, p = _size(name)
        res: dict[str, dict] = {}
        for label, checkout in codes.items():
            runs = [
                run_in_child(
                    script,
                    checkout,
                    {"name": name, "limit": args.limit},
                    timeout=args.limit + 120,
                    cpu=args.cpu,
                )
                for _ in range(args.repeat)
            ]
            best = dict(runs[0])
            times = [r.get("seconds", math.nan) for r in runs]
            best["seconds"] = statistics.median(times)
            best["all_seconds"] = times
            res[label] = best
        line = f"{name:9} {n:>4} {p:>3} {optima[name]:>8.0f}"
        for label in codes:
            r = res[label]
            obj = r.get("objective")
            mark = "" if obj is None or abs(obj - optima[name]) < 1e-6 else "!"
            line += (
                f" | {str(r.get('status'))[:13]:13} "
                f"{(f'{obj:.0f}' + mark) if obj is not None else '-':>9} {r['seconds']:>7.2f}"
            )
        if len(codes) == 2:
            line += f" | {res['base']['seconds'] / res['ours']['seconds']:>8.2f}x"
        print(line, flush=True)
        rows.append({"instance": name, "n": n, "p": p, "optimum": optima[name], **res})
    print()
    for label in codes:
        times = [r[label]["seconds"] for r in rows]
        proven = sum(r[label].get("status") == "optimal" for r in rows)
        right = sum(
            r[label].get("objective") is not None
            and abs(r[label]["objective"] - r["optimum"]) < 1e-6
            for r in rows
        )
        print(
            f"{label}: {proven}/{len(rows)} proven optimal, {right}/{len(rows)} at the optimum, "
            f"total {sum(times):.1f} s, slowest {max(times):.2f} s "
            f"({rows[times.index(max(times))]['instance']}), "
            f"{sum(t < 10 for t in times)} under 10 s"
        )
    if len(codes) == 2:
        tb = sum(r["base"]["seconds"] for r in rows)
        to = sum(r["ours"]["seconds"] for r in rows)
        print(f"total base/ours: {tb / to:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _size(name: str) -> tuple[int, int]:
    with open(ORLIB / f"{name}.txt", encoding="ascii") as fh:
        n, _, p = (int(v) for v in fh.readline().split())
    return n, p


if __name__ == "__main__":
    sys.exit(main())

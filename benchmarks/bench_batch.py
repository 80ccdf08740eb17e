"""Benchmark the batch: all 18 mainland regions with 1 Dask worker and with 2.

Uses the offline national test set: synthetic grids and road skeletons built
from the real municipalities, populations and centres of the national tables
shipped with the package (written once into ``--bundles``, about 1 minute).
The scenario is the shipped ``national`` scenario (2 full points, up to 6
remote points; every bundle flags its own existing service point as required).

Each run starts its own LocalCluster (the start-up is part of the time), writes
into a fresh output folder and uses a fresh travel-time cache, so neither run
profits from the other. Prints per-region seconds, the wall-clock time of each
run and the speed-up.

Run: ``python benchmarks/bench_batch.py`` (about 5-10 minutes on two cores).
``--regions 18,16`` runs a subset to check the script itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from optimizer.batch import run_batch
from optimizer.scenario import load_scenario
from optimizer.settings import get_settings
from optimizer.sources.synthetic import write_national_bundles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundles",
        type=Path,
        default=get_settings().cache_dir / "national-synthetic",
        help="folder of the national bundles (written when missing)",
    )
    parser.add_argument("--regions", default="all", help="'all' or codes, e.g. 18,16")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--time-limit", type=float, default=30.0, help="solver seconds")
    args = parser.parse_args()

    codes = None if args.regions == "all" else [c.strip() for c in args.regions.split(",")]
    start = time.perf_counter()
    write_national_bundles(out_root=args.bundles, codes=codes)
    print(f"bundles ready in {args.bundles} ({time.perf_counter() - start:.0f} s)")

    scenario = load_scenario("national")
    solver = scenario.solver.model_copy(update={"time_limit": args.time_limit})
    scenario = scenario.model_copy(update={"solver": solver})
    counts = [int(w) for w in args.workers.split(",")]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"scenario {scenario.name!r}: {scenario.network.full_points} full, "
        f"{scenario.network.remote_points} remote points, time limit {args.time_limit:g} s"
    )

    walls: dict[int, float] = {}
    per_region: dict[int, pd.Series] = {}
    for workers in counts:
        with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
            settings = get_settings(cache_dir=Path(tmp) / "cache", output_dir=Path(tmp) / "out")
            start = time.perf_counter()
            result = run_batch(
                regions=args.regions,
                scenario=scenario,
                out_dir=Path(tmp) / "out",
                bundles=args.bundles,
                workers=workers,
                force=True,
                settings=settings,
            )
            walls[workers] = time.perf_counter() - start
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        failed = result.failed
        if failed:
            for run in failed:
                print(f"  FAILED {run.region}: {run.error}")
        table = result.summary.set_index("region")
        per_region[workers] = table["seconds"].drop("total")
        total = table.loc["total"]
        print(
            f"{workers} worker(s): {walls[workers]:.1f} s wall-clock for "
            f"{len(result.regions)} regions ({len(failed)} failed); "
            f"sum of region tasks {per_region[workers].sum():.1f} s; "
            f"{total['residents']:,.0f} residents, {total['t_co2']:,.0f} t CO2/a; "
            f"load average after the run {load}"
        )

    frame = pd.DataFrame({f"{w} worker(s) s": s for w, s in per_region.items()})
    print()
    print(frame.round(1).to_string())
    print()
    base = counts[0]
    for workers in counts[1:]:
        print(
            f"speed-up {base} -> {workers} workers: {walls[base] / walls[workers]:.2f}x "
            f"({walls[base]:.1f} s -> {walls[workers]:.1f} s)"
        )


if __name__ == "__main__":  # needed: Dask starts worker processes with spawn
    main()

"""Loading a regional bundle: ``load_region`` against reading its files with pyogrio alone.

Baseline (the floor): ``pyogrio.read_dataframe`` of the bundle's four layers
(population, roads ``nodes`` and ``edges``, sites, boundary) with no checks at all.
Ours: ``optimizer.region.load_region``, which reads the same files and validates
every layer (schema, plausible populations, the strongly connected road core, road
coverage of the residents, sites inside the region).

Each side runs in a fresh interpreter, alternating, ``--repeat`` times; each prints its
import time, its first call (which imports what the readers load lazily) and a second
call in the same process (warm). The ratio is ours / floor.

Usage::

    python benchmarks/bench_load.py                  # the demo region, 3 repeats
    python benchmarks/bench_load.py --bundle DIR     # another bundle folder
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "regions" / "pohjois-karjala"

OURS = """
import json, sys, time
t0 = time.perf_counter()
from optimizer.region import load_region
t1 = time.perf_counter()
region = load_region(sys.argv[1])
t2 = time.perf_counter()
load_region(sys.argv[1])
t3 = time.perf_counter()
heavy = [m for m in ("osmnx", "networkx", "sklearn", "matplotlib") if m in sys.modules]
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2,
                  "cells": len(region.population), "nodes": region.roads.number_of_nodes(),
                  "heavy": heavy}))
"""

FLOOR = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
import pyogrio
t1 = time.perf_counter()

def read(folder):
    for name, layer in (("population", None), ("roads", "nodes"), ("roads", "edges"),
                        ("sites", None), ("boundary", None)):
        pyogrio.read_dataframe(Path(folder) / f"{name}.gpkg", layer=layer)

read(sys.argv[1])
t2 = time.perf_counter()
read(sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "warm": t3 - t2}))
"""


def _run(code: str, bundle: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code, str(bundle)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Print the median times of both sides and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEMO)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours, floor = [], []
    for _ in range(args.repeat):
        ours.append(_run(OURS, args.bundle))
        floor.append(_run(FLOOR, args.bundle))
    first = ours[0]
    print(f"bundle {args.bundle.name}: {first['cells']:,} cells, {first['nodes']:,} road nodes")
    print(f"heavy libraries imported by load_region: {first['heavy'] or 'none'}")
    print(f"{'median of ' + str(args.repeat):<16} {'ours':>8} {'floor':>8} {'ratio':>7}")
    for key in ("import", "first", "warm"):
        a = statistics.median(r[key] for r in ours)
        b = statistics.median(r[key] for r in floor)
        print(f"{key:<16} {a:7.2f}s {b:7.2f}s {a / b:6.1f}x")


if __name__ == "__main__":
    main()

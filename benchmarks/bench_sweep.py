"""Sweep: the two-tier model's count-free setup built once per sweep, against once per point.

Baseline: the same grid solved by ``solve_network`` without a shared model (each grid
point builds its model, groups the rows and the cover sets again: the code before the
setup was shared). Both run in this process on one prepared problem (travel times and
the cost matrix are computed once in both), alternating per grid point so that the
load of the machine touches both alike.

Usage::

    python benchmarks/bench_sweep.py            # demo region, 1..3 full x 0..8 remote
"""

from __future__ import annotations

import time

from optimizer.scenario import load_scenario, prepare
from optimizer.scenario.solve import build_model, solve_network


def main() -> None:
    """Print seconds per grid and their ratio."""
    problem = prepare(load_scenario("default"))
    problem.cost  # noqa: B018  (the cost matrix is shared by both, computed once)
    grid = [(nf, nr) for nf in (2, 3) for nr in range(0, 9)]
    shared = fresh = 0.0
    start = time.perf_counter()
    model = build_model(problem, None, None)
    shared += time.perf_counter() - start
    for nf, nr in grid:
        counts = {"full_points": (nf, nf), "remote_points": (nr, nr)}
        start = time.perf_counter()
        a = solve_network(problem, model=model, **counts)
        shared += time.perf_counter() - start
        start = time.perf_counter()
        b = solve_network(problem, **counts)
        fresh += time.perf_counter() - start
        assert abs(a.objective - b.objective) <= 1e-6 * max(1.0, abs(b.objective)), (nf, nr)
    print(f"grid of {len(grid)} points on the demo region")
    print(f"setup shared (ours):    {shared:6.2f} s")
    print(f"setup per point (base): {fresh:6.2f} s")
    print(f"ratio base / ours:      {fresh / shared:6.2f}x")


if __name__ == "__main__":
    main()

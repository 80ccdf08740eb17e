"""Benchmark the agency two-tier model on a demo-size and a national-size synthetic region.

All numbers are synthetic (seeded): a road-like travel-time matrix (a Delaunay
road graph with 40-100 km/h links over towns and countryside, cells snapped to
their nearest road node plus access at 30 km/h; cells that share a road node
form ``origin_groups``, as the travel-time engine reports them) and made-up
agency figures (visits per capita, remote shares, desk and staff costs,
visits per FTE, presence rules). They only size the problem like the real
ones; they are not estimates of anything.

Usage::

    python benchmarks/bench_agency.py                       # demo and national
    python benchmarks/bench_agency.py --only demo --time-limit 60
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _roads import road_points

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optimizer.models import AgencyTwoTier

SIZES = {
    # name: cells, road nodes, sites, agencies, side (km)
    "demo": (12_000, 6_000, 30, 8, 150.0),
    "national": (86_000, 12_000, 300, 8, 600.0),
}


def road_matrix(
    n_cells: int, n_nodes: int, n_sites: int, *, seed: int, side_km: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Travel minutes (cells x sites), population per cell and road node per cell."""
    rng = np.random.default_rng(seed)
    n_towns = max(12, n_sites // 3)
    road = road_points(
        rng, n_nodes=n_nodes, n_points=n_cells, n_towns=n_towns, side_km=side_km, margin=0.05
    )
    towns, sizes, nodes, graph, main = road.towns, road.sizes, road.nodes, road.graph, road.main
    node_of, access = road.node_of, road.access
    # sites in the towns (the largest first), then anywhere
    town_nodes = main[cKDTree(nodes[main]).query(towns[np.argsort(-sizes)])[1]]
    extra = rng.choice(
        np.setdiff1d(main, town_nodes), size=max(0, n_sites - n_towns), replace=False
    )
    site_nodes = np.r_[np.unique(town_nodes), extra][:n_sites]
    sp_min = dijkstra(graph, directed=False, indices=site_nodes)
    cost = access[:, None] + sp_min[:, node_of].T
    population = np.round(rng.lognormal(2.5, 1.3, n_cells))
    return np.ascontiguousarray(cost), population, node_of.astype(np.int64)


def agency_params(population: np.ndarray, n_sites: int, n_agencies: int, *, seed: int) -> dict:
    """Synthetic agency figures (not estimates: they only size the problem)."""
    rng = np.random.default_rng(seed + 1)
    per_capita = rng.uniform(0.05, 0.6, n_agencies)
    share = rng.uniform(0.2, 0.6, n_agencies)
    visits = per_capita[:, None] * population[None, :]
    presence: list[Any] = ["all", (1, None)] + [None] * (n_agencies - 2)
    return {
        "visits_in_person": visits * (1 - share)[:, None],
        "visits_remote": visits * share[:, None],
        "agencies": [f"agency_{a}" for a in range(n_agencies)],
        "visits_per_fte": rng.uniform(1_500, 4_000, n_agencies),
        "desk_cost": rng.uniform(20_000, 60_000, n_agencies),
        "staff_cost": rng.uniform(55_000, 70_000, n_agencies),
        "presence": presence,
        "site_cost_full": rng.uniform(100_000, 250_000, n_sites),
        "site_cost_remote": rng.uniform(20_000, 40_000, n_sites),
        "n_full": (1, max(10, n_sites // 6)),
        "n_remote": (0, max(15, n_sites // 3)),
        "travel_weight": 0.5,  # EUR per visit-minute (assumption)
    }


def run(name: str, *, time_limit: float, seed: int = 7) -> dict[str, Any]:
    n_cells, n_nodes, n_sites, n_agencies, side = SIZES[name]
    t0 = time.perf_counter()
    cost, population, groups = road_matrix(n_cells, n_nodes, n_sites, seed=seed, side_km=side)
    params = agency_params(population, n_sites, n_agencies, seed=seed)
    t_inst = time.perf_counter() - t0
    model = AgencyTwoTier(cost, origin_groups=groups, **params)
    sol = model.solve(time_limit=time_limit)
    full, remote = sol.sites_of_tier("full"), sol.sites_of_tier("remote")
    out = {
        "instance": name,
        "cells": n_cells,
        "grouped_rows": int(model._rows()[0].n_groups),
        "sites": n_sites,
        "agencies": n_agencies,
        "time_limit_s": time_limit,
        "instance_s": round(t_inst, 2),
        "solve_s": round(sol.seconds, 2),
        "status": sol.status,
        "objective": round(sol.objective, 2),
        "bound": round(sol.bound, 2),
        "gap_pct": round(100 * sol.gap, 4),
        "full": len(full),
        "remote": len(remote),
        "desks": [len(d) for d in sol.desks],
        "pool_fte_total": round(sum(sol.pool_fte.values()), 2),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(relativeCreated)8.0f %(message)s")
    for name in args.only:
        run(name, time_limit=args.time_limit)


if __name__ == "__main__":
    main()

"""Roads and travel times against their library floors (issue 13), as ratios in one run.

On the seeded road-like grid of ``bench_travel_times.py`` (52,900 nodes by
default) this times, from scratch:

* **loading** a roads GeoPackage: :func:`optimizer.network.read_roads`
  (pyogrio straight into arrays) against ``network_from_gpkg`` (the networkx
  graph in osmnx conventions), each in a fresh interpreter so that import
  time counts, and reports whether osmnx or networkx got imported;
* **travel times** for ``--cells`` x ``--sites``: the engine
  (``prepare_graph`` + ``travel_time_matrix``, dense minutes and km) with 1
  and 2 worker processes, against scipy's Dijkstra called directly on the
  same CSR matrix (snap with a k-d tree, one Dijkstra from the sites on the
  reversed graph with predecessors, gather the times: the floor for the same
  times) and against the networkx loop (one
  ``single_source_dijkstra_path_length`` per site on the reversed graph,
  timed on ``--nx-sites`` sites and extrapolated);
* the **door-to-door car model** (``car=CarModel()``) against the plain engine.

Run: ``python benchmarks/bench_roads.py`` (a few minutes); ``--quick`` for a
small smoke run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]  # this checkout
from bench_travel_times import grid_cells, road_like_graph, site_points  # noqa: E402

from optimizer.network import RoadNetwork, write_roads  # noqa: E402
from optimizer.traveltimes import CarModel, prepare_graph, travel_time_matrix  # noqa: E402

_LOAD = """
import json, sys, time
t = time.perf_counter()
from optimizer.network import {name}
imported = time.perf_counter()
roads = {name}(sys.argv[1])
n = roads.number_of_edges()
print(json.dumps({{"import": imported - t, "seconds": time.perf_counter() - imported,
    "edges": n, "osmnx": "osmnx" in sys.modules, "networkx": "networkx" in sys.modules}}))
"""


def load_in_fresh_process(name: str, path: Path) -> dict[str, Any]:
    """Time importing the package and reading ``path`` with ``name`` in a new interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD.format(name=name), str(path)],
        check=True,
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def scipy_floor(graph: nx.MultiDiGraph, cells: Any, sites: Any) -> float:
    """Snap + one scipy Dijkstra from the sites on the reversed CSR + gather: the floor."""
    index = prepare_graph(graph)  # the same CSR matrices, built outside the timing
    reverse = index.reverse.matrix
    core_xy = index.xy[index.scc_nodes]

    def run() -> np.ndarray:
        tree = cKDTree(core_xy)
        cxy = shapely.get_coordinates(shapely.centroid(np.asarray(cells.geometry.values)))
        sxy = shapely.get_coordinates(np.asarray(sites.geometry.values))
        cell_nodes = index.scc_nodes[tree.query(cxy)[1]]
        site_nodes = index.scc_nodes[tree.query(sxy)[1]]
        dist, _pred = dijkstra(reverse, indices=site_nodes, return_predecessors=True)
        return dist[:, cell_nodes].T

    seconds, _ = timed(run)
    return seconds


def networkx_loop(graph: nx.MultiDiGraph, cells: Any, sites: Any, n_sites: int) -> float:
    """Per-site networkx Dijkstra on the reversed graph, extrapolated to all sites."""
    nodes = list(graph.nodes)
    xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in nodes])
    tree = cKDTree(xy)
    cxy = shapely.get_coordinates(shapely.centroid(np.asarray(cells.geometry.values)))
    sxy = shapely.get_coordinates(np.asarray(sites.geometry.values))
    cell_nodes = [nodes[i] for i in tree.query(cxy)[1]]
    site_nodes = [nodes[i] for i in tree.query(sxy)[1]][:n_sites]
    reverse = graph.reverse(copy=False)

    def run() -> None:
        for s in site_nodes:
            dist = nx.single_source_dijkstra_path_length(reverse, s, weight="travel_time")
            [dist.get(c, np.inf) for c in cell_nodes]

    seconds, _ = timed(run)
    return seconds * len(sites) / n_sites


def engine(graph: nx.MultiDiGraph, cells: Any, sites: Any, **kwargs: Any) -> float:
    def run() -> None:
        index = prepare_graph(graph, car=kwargs.pop("car", None))
        result = travel_time_matrix(index, cells, sites, use_cache=False, **kwargs)
        _ = result.minutes, result.km

    seconds, _ = timed(run)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=230, help="grid side (nodes = side**2)")
    parser.add_argument("--cells", type=int, default=50_000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--nx-sites", type=int, default=5, help="sites timed with networkx")
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args()
    if args.quick:
        args.side, args.cells, args.sites, args.nx_sites = 40, 500, 10, 2

    graph = road_like_graph(args.side, seed=0)
    print(f"graph: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_roads(RoadNetwork.from_networkx(graph), Path(tmp) / "roads.gpkg")
        arrays = load_in_fresh_process("read_roads", path)
        nxload = load_in_fresh_process("network_from_gpkg", path)
    print(
        f"load  read_roads {arrays['seconds']:.2f} s (after importing the package in "
        f"{arrays['import']:.2f} s; osmnx imported: {arrays['osmnx']}) | network_from_gpkg "
        f"{nxload['seconds']:.2f} s (osmnx: {nxload['osmnx']}) | ratio "
        f"{nxload['seconds'] / arrays['seconds']:.1f}x"
    )

    cells = grid_cells(graph, args.cells, seed=1)
    sites = site_points(graph, args.sites, seed=2)
    floor = scipy_floor(graph, cells, sites)
    one = engine(graph, cells, sites, workers=1)
    two = engine(graph, cells, sites, workers=2)
    car = engine(graph, cells, sites, workers=1, car=CarModel())
    loop = networkx_loop(graph, cells, sites, args.nx_sites)
    size = f"{args.cells:,} x {args.sites}"
    print(f"times {size}: scipy floor (times only) {floor:.2f} s")
    print(f"  engine 1 worker  {one:.2f} s  = {one / floor:.2f}x the scipy floor")
    print(f"  engine 2 workers {two:.2f} s  = {two / floor:.2f}x the scipy floor")
    print(f"  engine + CarModel {car:.2f} s = {car / one:.2f}x the plain engine")
    print(
        f"  networkx loop {loop:.1f} s (extrapolated from {args.nx_sites} sites) "
        f"= {loop / min(one, two):.0f}x the engine"
    )


if __name__ == "__main__":
    main()

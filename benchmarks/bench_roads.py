"""Roads and travel times against their library floors (issue 13), as ratios in one run.

On the seeded road-like grid of ``bench_travel_times.py`` (52,900 nodes by
default) this times, from scratch:

* **loading** a roads GeoPackage: :func:`optimizer.network.read_roads`
  (pyogrio straight into arrays) against ``network_from_gpkg`` (the networkx
  graph in osmnx conventions), each in a fresh interpreter so that import
  time counts, and reports whether osmnx or networkx got imported;
* **travel times** for ``--cells`` x ``--sites``, dense minutes *and* km:
  the engine (``travel_time_matrix`` on a prepared graph) with 1 and 2
  worker processes against two floors that call scipy directly on the very
  CSR matrices the engine built (CSR build outside every timing; centroids,
  k-d tree snapping and gathering the cells x sites arrays inside):

  - the **times floor**: one ``dijkstra`` from the sites on the reversed CSR
    without predecessors, gather the times (no km: the least any answer
    costs);
  - the **same-outputs floor**: ``dijkstra`` with predecessors, gather the
    times *and* the km along each predecessor tree (each tree edge's length
    found by comparing the predecessor with the node's few stored edges,
    summed by pointer jumping, written here in plain numpy);

  plus the end-to-end engine (``prepare_graph`` from a ``RoadNetwork`` +
  ``travel_time_matrix`` with the default ``workers``) and the networkx loop
  (one ``single_source_dijkstra_path_length`` per site on the reversed
  graph, timed on ``--nx-sites`` sites and extrapolated). Every line carries
  the load average, since the machine may be shared;
* the **door-to-door car model** (``car=CarModel()``) against the plain engine.

Run: ``python benchmarks/bench_roads.py`` (a few minutes); ``--quick`` for a
small smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
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
from optimizer.traveltimes import (  # noqa: E402
    CarModel,
    RoadIndex,
    prepare_graph,
    travel_time_matrix,
)

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


def timed(fn: Any, repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``fn`` and the last output."""
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def load() -> str:
    """The 1-minute load average, for every timed line."""
    return f"load {os.getloadavg()[0]:.1f}"


def tree_km(forward: Any, lengths: np.ndarray, pred: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Km from every tree root to ``cols``, trees given by predecessors on the reversed graph.

    The tree edge into node ``v`` is the road edge ``v -> pred[v]``: row ``v`` of the
    forward CSR, found by comparing ``pred[v]`` with each of the row's stored columns.
    """
    n = forward.shape[0]
    indptr = forward.indptr.astype(np.int64)
    degree = np.diff(indptr)
    slots = []
    for k in range(int(degree.max())):
        at = np.minimum(indptr[:-1] + k, len(forward.indices) - 1)
        slots.append((np.where(degree > k, forward.indices[at], -1), lengths[at]))
    own = np.arange(n)
    out = np.empty((len(pred), len(cols)))
    for row, parent in enumerate(pred):
        step = np.zeros(n)
        for column, metres in slots:
            np.copyto(step, metres, where=column == parent)
        ancestor = np.where(parent >= 0, parent, own)
        while True:
            nxt = ancestor[ancestor]
            if np.array_equal(nxt, ancestor):
                break
            step += step[ancestor]
            ancestor = nxt
        out[row] = step[cols] / 1000.0
    return out


def scipy_floor(index: Any, cells: Any, sites: Any, *, km: bool, repeat: int) -> tuple[float, Any]:
    """Centroids, snap, scipy Dijkstra from the sites on the reversed CSR, gather (+ km)."""
    reverse = index.reverse.matrix
    core_xy = index.xy[index.scc_nodes]

    def run() -> tuple[np.ndarray, np.ndarray | None]:
        tree = cKDTree(core_xy)
        cxy = shapely.get_coordinates(shapely.centroid(np.asarray(cells.geometry.values)))
        sxy = shapely.get_coordinates(np.asarray(sites.geometry.values))
        cell_nodes = index.scc_nodes[tree.query(cxy)[1]]
        site_nodes = index.scc_nodes[tree.query(sxy)[1]]
        if not km:
            return dijkstra(reverse, indices=site_nodes)[:, cell_nodes].T / 60.0, None
        dist, pred = dijkstra(reverse, indices=site_nodes, return_predecessors=True)
        kms = tree_km(index.forward.matrix, index.forward.lengths, pred, cell_nodes)
        return dist[:, cell_nodes].T / 60.0, kms.T

    return timed(run, repeat)


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


def engine(source: Any, cells: Any, sites: Any, *, repeat: int, **kwargs: Any) -> tuple[float, Any]:
    """``travel_time_matrix`` on ``source`` (an index, or roads prepared inside the timing)."""
    car = kwargs.pop("car", None)

    def run() -> Any:
        index = source if isinstance(source, RoadIndex) else prepare_graph(source, car=car)
        result = travel_time_matrix(index, cells, sites, use_cache=False, car=car, **kwargs)
        _ = result.minutes, result.km
        return result

    return timed(run, repeat)


def network_part(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """The network leg of a result: minutes and km without the access legs."""
    dest = result.destination_snap
    minutes = result.minutes - result.origin_offset_minutes[:, None]
    km = result.km - result.origin_offset_km[:, None]
    return minutes - dest["access_minutes"].to_numpy(), km - dest["access_km"].to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=230, help="grid side (nodes = side**2)")
    parser.add_argument("--cells", type=int, default=50_000)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--nx-sites", type=int, default=5, help="sites timed with networkx")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many timings")
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
    roads = RoadNetwork.from_networkx(graph)
    index = prepare_graph(roads)  # the CSR every floor and the engine's main lines share
    _ = index.snap(index.xy[:1])  # and its connected core and k-d tree
    rep = args.repeat
    size = f"{args.cells:,} x {args.sites}"
    print(f"times {size} (best of {rep}; CSR built outside the timings):")
    bare, _ = scipy_floor(index, cells, sites, km=False, repeat=rep)
    print(f"  times floor (dijkstra, no km)            {bare:6.2f} s  {load()}")
    floor, (f_min, f_km) = scipy_floor(index, cells, sites, km=True, repeat=rep)
    print(f"  same-outputs floor (dijkstra + tree km)  {floor:6.2f} s  {load()}")
    for workers in (1, 2):
        wall, result = engine(index, cells, sites, repeat=rep, workers=workers)
        minutes, km = network_part(result)
        err = max(np.max(np.abs(minutes - f_min)), np.max(np.abs(km - f_km)))
        print(
            f"  engine, {workers} worker(s)                    {wall:6.2f} s  "
            f"= {wall / floor:.2f}x same-outputs floor, {wall / bare:.2f}x times floor  "
            f"(max |engine - floor| {err:.1e})  {load()}"
        )
    whole, _ = engine(roads, cells, sites, repeat=rep)
    print(f"  engine end to end (prepare_graph + matrix, default workers) {whole:.2f} s  {load()}")
    car, _ = engine(roads, cells, sites, repeat=rep, workers=1, car=CarModel())
    plain, _ = engine(roads, cells, sites, repeat=rep, workers=1)
    print(
        f"  engine + CarModel, end to end, 1 worker {car:.2f} s = {car / plain:.2f}x plain "
        f"{plain:.2f} s  {load()}"
    )
    loop = networkx_loop(graph, cells, sites, args.nx_sites)
    print(
        f"  networkx loop {loop:.1f} s (extrapolated from {args.nx_sites} sites) "
        f"= {loop / plain:.0f}x the engine end to end  {load()}"
    )


if __name__ == "__main__":
    main()

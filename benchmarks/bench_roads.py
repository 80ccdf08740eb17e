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
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
        wall, _cpu, out = measured(fn)
        best = min(best, wall)
    return best, out


def measured(fn: Any) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one call (CPU of this process and of its waited-for children)."""

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    gc.collect()
    c0, t0 = cpu(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, cpu() - c0, out


def load() -> str:
    """The 1-minute load average, for every timed line."""
    return f"load {os.getloadavg()[0]:.1f}"


@dataclass
class Best:
    """Best wall and CPU seconds of one method over interleaved rounds, and the loads seen."""

    wall: float = np.inf
    cpu: float = np.inf
    loads: list[float] = field(default_factory=list)
    out: Any = None


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


def scipy_floor(index: Any, cells: Any, sites: Any, *, km: bool) -> Any:
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

    return run


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


def engine(source: Any, cells: Any, sites: Any, **kwargs: Any) -> Any:
    """``travel_time_matrix`` on ``source`` (an index, or roads prepared inside the timing)."""
    car = kwargs.pop("car", None)

    def run() -> Any:
        index = source if isinstance(source, RoadIndex) else prepare_graph(source, car=car)
        result = travel_time_matrix(index, cells, sites, use_cache=False, car=car, **kwargs)
        _ = result.minutes, result.km
        return result

    return run


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
    parser.add_argument("--repeat", type=int, default=3, help="best of this many timings")
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
    methods = {
        "times floor (dijkstra, no km)": scipy_floor(index, cells, sites, km=False),
        "same-outputs floor (dijkstra + tree km)": scipy_floor(index, cells, sites, km=True),
        "engine, 1 worker": engine(index, cells, sites, workers=1),
        "engine, 2 workers": engine(index, cells, sites, workers=2),
        "engine end to end (prepare_graph + matrix)": engine(roads, cells, sites),
    }
    best = {name: Best() for name in methods}
    for _ in range(rep):  # interleaved, so that a burst of load hits every method alike
        for name, run in methods.items():
            wall, cpu, out = measured(run)
            b = best[name]
            b.wall, b.cpu, b.out = min(b.wall, wall), min(b.cpu, cpu), out
            b.loads.append(os.getloadavg()[0])
    bare, floor = (best[name] for name in list(methods)[:2])
    f_min, f_km = floor.out
    print(f"times {size}: best of {rep} interleaved rounds, CSR built outside the timings")
    print(
        f"  {'method':44s} {'wall':>7s} {'CPU':>7s}  wall / floors (same, times)  CPU / same  load"
    )
    for name, b in best.items():
        note = ""
        if name.startswith("engine"):
            minutes, km = network_part(b.out)
            err = max(np.max(np.abs(minutes - f_min)), np.max(np.abs(km - f_km)))
            note = f"  max |engine - floor| {err:.0e}"
        print(
            f"  {name:44s} {b.wall:6.2f}s {b.cpu:6.2f}s  {b.wall / floor.wall:5.2f}x "
            f"{b.wall / bare.wall:5.2f}x  {b.cpu / floor.cpu:5.2f}x  "
            f"{min(b.loads):.1f}-{max(b.loads):.1f}{note}"
        )
    car, _ = timed(engine(roads, cells, sites, workers=1, car=CarModel()), rep)
    plain, _ = timed(engine(roads, cells, sites, workers=1), rep)
    print(
        f"  engine + CarModel, end to end, 1 worker {car:.2f} s = {car / plain:.2f}x plain "
        f"{plain:.2f} s  {load()}"
    )
    loop = networkx_loop(graph, cells, sites, args.nx_sites)
    print(
        f"  networkx loop {loop:.1f} s (extrapolated from {args.nx_sites} sites) "
        f"= {loop / plain:.0f}x the engine end to end (1 worker)  {load()}"
    )


if __name__ == "__main__":
    main()

"""Benchmark the travel-time engine against the naive networkx approach and pandana.

Builds a seeded synthetic road network that looks like one: a planar grid of
local streets (some removed, some one-way, jittered node positions, varied
speeds) with a fast arterial layer every ``--arterial-every`` lines and a
motorway layer on top. Then, for 5,000 cells x 50 sites and 50,000 cells x
200 sites, it times

* the engine: ``prepare_graph`` + ``travel_time_matrix`` (times *and* km along
  the fastest path, dense matrices materialised, cache off);
* the naive approach an osmnx user would write: ``ox.distance.nearest_nodes``
  to snap, then ``nx.single_source_dijkstra_path_length`` from each site on the
  reversed graph and a dict lookup per cell (times only), and the same with
  ``nx.single_source_dijkstra`` plus summing edge lengths along each cell's
  path (times and km). The naive runs are measured on a subset of the sites
  and extrapolated linearly when the full run would be too slow; the output
  says so;
* pandana's contraction hierarchies (times only), if ``import pandana`` works.

Run: ``python benchmarks/bench_travel_times.py`` (about 5-10 minutes on two
cores). ``--quick`` runs a small graph to check the script itself.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import resource
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from optimizer.traveltimes import prepare_graph, travel_time_matrix

CRS = "EPSG:3067"
X0, Y0 = 600_000.0, 6_900_000.0


# ----------------------------------------------------------------------------- inputs


def road_like_graph(
    side: int, *, seed: int, spacing: float = 250.0, arterial_every: int = 12
) -> nx.MultiDiGraph:
    """Seeded planar grid: local streets, removed edges, one-ways, arterials, motorways."""
    rng = np.random.default_rng(seed)
    ids = np.arange(side * side).reshape(side, side) + 10_000_000  # osm-like node ids
    jitter = rng.uniform(-0.15, 0.15, (side, side, 2)) * spacing
    gx, gy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = X0 + gx * spacing + jitter[..., 0]
    y = Y0 + gy * spacing + jitter[..., 1]

    graph = nx.MultiDiGraph(crs=CRS, name=f"synthetic grid {side}x{side} seed {seed}")
    graph.add_nodes_from(
        (int(n), {"x": float(a), "y": float(b)})
        for n, a, b in zip(ids.ravel(), x.ravel(), y.ravel(), strict=True)
    )
    motorway_every = arterial_every * 5
    for axis in (0, 1):
        if axis == 0:  # edges along x
            u, v = ids[:-1, :], ids[1:, :]
            line = np.broadcast_to(np.arange(side)[None, :], u.shape)
            ux, uy, vx, vy = x[:-1, :], y[:-1, :], x[1:, :], y[1:, :]
        else:
            u, v = ids[:, :-1], ids[:, 1:]
            line = np.broadcast_to(np.arange(side)[:, None], u.shape)
            ux, uy, vx, vy = x[:, :-1], y[:, :-1], x[:, 1:], y[:, 1:]
        metres = np.hypot(vx - ux, vy - uy) * rng.uniform(1.0, 1.15, u.shape)  # curvy roads
        motorway = line % motorway_every == motorway_every // 2
        arterial = (line % arterial_every == 0) & ~motorway
        local = ~(arterial | motorway)
        kph = np.where(motorway, 100.0, np.where(arterial, 70.0, rng.uniform(30, 50, u.shape)))
        removed = local & (rng.random(u.shape) < 0.2)
        one_way = local & ~removed & (rng.random(u.shape) < 0.08)
        highway = np.where(motorway, "motorway", np.where(arterial, "primary", "residential"))
        seconds = metres / (kph / 3.6)
        keep = ~removed
        for a, b, m, s, w, h in zip(
            u[keep], v[keep], metres[keep], seconds[keep], one_way[keep], highway[keep], strict=True
        ):
            attrs = {"length": float(m), "travel_time": float(s), "highway": str(h)}
            graph.add_edge(int(a), int(b), **attrs)
            if not w:
                graph.add_edge(int(b), int(a), **attrs)
    return graph


def grid_cells(graph: nx.MultiDiGraph, n: int, *, seed: int, size: float = 250.0):
    """``n`` square cells of a lattice offset from the road nodes (populated cells)."""
    xs = np.array([d["x"] for _, d in graph.nodes(data=True)])
    ys = np.array([d["y"] for _, d in graph.nodes(data=True)])
    cx = np.arange(xs.min(), xs.max() - size, size)
    cy = np.arange(ys.min(), ys.max() - size, size)
    lattice = np.array(np.meshgrid(cx, cy, indexing="ij")).reshape(2, -1).T
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(lattice), size=n, replace=False))
    corner = lattice[pick]
    geoms = shapely.box(corner[:, 0], corner[:, 1], corner[:, 0] + size, corner[:, 1] + size)
    index = pd.Index([f"cell{i:06d}" for i in range(n)], name="cell_id")
    return gpd.GeoDataFrame(
        {"population": rng.integers(1, 500, n)}, geometry=geoms, index=index, crs=CRS
    )


def site_points(graph: nx.MultiDiGraph, n: int, *, seed: int):
    """``n`` sites a few tens of metres off random road nodes."""
    rng = np.random.default_rng(seed)
    nodes = list(graph.nodes)
    pick = rng.choice(len(nodes), size=n, replace=False)
    xy = np.array([(graph.nodes[nodes[i]]["x"], graph.nodes[nodes[i]]["y"]) for i in pick])
    xy += rng.uniform(-40, 40, xy.shape)
    index = pd.Index([f"site{i:04d}" for i in range(n)], name="site_id")
    return gpd.GeoDataFrame(geometry=shapely.points(xy), index=index, crs=CRS)


def centroids_xy(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = shapely.centroid(np.asarray(frame.geometry.values))
    return shapely.get_x(pts), shapely.get_y(pts)


# ----------------------------------------------------------------------------- methods


@dataclass
class Timing:
    seconds: float
    note: str = ""


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_engine(graph, cells, sites) -> tuple[Timing, Timing, float, np.ndarray, np.ndarray]:
    gc.collect()
    t0 = time.perf_counter()
    c0 = time.process_time()
    index = prepare_graph(graph)
    t_prep = time.perf_counter() - t0
    result = travel_time_matrix(index, cells, sites, use_cache=False)
    minutes, km = result.minutes, result.km
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    # the cache: one write, then a read
    with tempfile.TemporaryDirectory() as folder:
        travel_time_matrix(index, cells, sites, cache_dir=folder)
        t1 = time.perf_counter()
        again = travel_time_matrix(index, cells, sites, cache_dir=folder)
        _ = again.minutes, again.km
        t_cached = time.perf_counter() - t1
    return (
        Timing(wall, f"prepare_graph {t_prep:.2f} s, CPU {cpu:.2f} s"),
        Timing(t_cached, "cache hit (graph already prepared)"),
        t_prep,
        minutes,
        km,
    )


def engine_peak_mib(graph, cells, sites) -> float:
    """Peak traced allocation of prepare + matrix (numpy buffers included)."""
    gc.collect()
    tracemalloc.start()
    index = prepare_graph(graph)
    result = travel_time_matrix(index, cells, sites, use_cache=False)
    _ = result.minutes, result.km
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


NAIVE_MODES = {
    "lengths": "nx.single_source_dijkstra_path_length + lookup (times only)",
    "paths": "nx.single_source_dijkstra + lookup (times only)",
    "km": "nx.single_source_dijkstra + lookup + sum path lengths (times and km)",
}


def run_naive(graph, cells, sites, *, max_sites: int, mode: str) -> tuple[Timing, np.ndarray]:
    """What an osmnx user writes: snap with nearest_nodes, one Dijkstra per site.

    ``mode`` is ``"lengths"`` (cheapest networkx call, times only), ``"paths"``
    (``single_source_dijkstra`` as in the issue, times only) or ``"km"`` (also
    sums edge lengths along each cell's path: the same output as the engine).
    """
    import osmnx as ox

    t0 = time.perf_counter()
    reverse = graph.reverse(copy=True)
    cx, cy = centroids_xy(cells)
    sx, sy = shapely.get_x(sites.geometry.values), shapely.get_y(sites.geometry.values)
    cell_nodes = ox.distance.nearest_nodes(graph, cx, cy)
    site_nodes = ox.distance.nearest_nodes(graph, sx, sy)
    setup = time.perf_counter() - t0
    n_run = min(max_sites, len(site_nodes))
    out = np.full((len(cell_nodes), n_run), np.inf)
    t1 = time.perf_counter()
    for j, site in enumerate(site_nodes[:n_run]):
        if mode == "lengths":
            dist = nx.single_source_dijkstra_path_length(reverse, site, weight="travel_time")
            out[:, j] = [dist.get(node, np.inf) / 60.0 for node in cell_nodes]
            continue
        dist, paths = nx.single_source_dijkstra(reverse, site, weight="travel_time")
        if mode == "paths":
            out[:, j] = [dist.get(node, np.inf) / 60.0 for node in cell_nodes]
            continue
        for i, node in enumerate(cell_nodes):
            path = paths.get(node)
            if path is None:
                continue
            metres = 0.0
            for a, b in itertools.pairwise(path):
                metres += min(reverse[a][b].values(), key=lambda d: d["travel_time"])["length"]
            out[i, j] = metres / 1000.0
    per_site = (time.perf_counter() - t1) / n_run
    total = setup + per_site * len(site_nodes)
    note = f"setup {setup:.2f} s + {per_site:.2f} s per site"
    if n_run < len(site_nodes):
        note += f"; EXTRAPOLATED from {n_run} of {len(site_nodes)} sites"
    return Timing(total, note), out


def run_pandana(graph, cells, sites, *, max_pairs: int) -> Timing | str:
    try:
        import pandana
    except ImportError as exc:
        return f"not available ({exc}); try `pip install pandana`"
    t0 = time.perf_counter()
    node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    nodes = pd.DataFrame(
        {
            "x": [graph.nodes[n]["x"] for n in node_ids],
            "y": [graph.nodes[n]["y"] for n in node_ids],
        },
        index=node_ids,
    )
    u, v, t = zip(*((a, b, d["travel_time"]) for a, b, d in graph.edges(data=True)), strict=True)
    edges = pd.DataFrame({"from": u, "to": v, "travel_time": t})
    net = pandana.Network(
        nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["travel_time"]], twoway=False
    )
    t_ch = time.perf_counter() - t0
    cx, cy = centroids_xy(cells)
    cell_nodes = net.get_node_ids(pd.Series(cx), pd.Series(cy)).to_numpy()
    site_nodes = net.get_node_ids(
        pd.Series(shapely.get_x(sites.geometry.values)),
        pd.Series(shapely.get_y(sites.geometry.values)),
    ).to_numpy()
    n_pairs = len(cell_nodes) * len(site_nodes)
    n_cells_run = max(1, min(len(cell_nodes), max_pairs // len(site_nodes)))
    orig = np.repeat(cell_nodes[:n_cells_run], len(site_nodes))
    dest = np.tile(site_nodes, n_cells_run)
    t1 = time.perf_counter()
    with warnings.catch_warnings():  # it warns about pairs of unconnected (non-core) nodes
        warnings.simplefilter("ignore")
        net.shortest_path_lengths(orig, dest, imp_name="travel_time")
    per_pair = (time.perf_counter() - t1) / len(orig)
    total = (time.perf_counter() - t0) - per_pair * len(orig) + per_pair * n_pairs
    note = f"CH preprocessing {t_ch:.2f} s, {per_pair * 1e6:.2f} us per pair, times only"
    if len(orig) < n_pairs:
        note += f"; EXTRAPOLATED from {len(orig):,} of {n_pairs:,} pairs"
    return Timing(total, note)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=230, help="grid side (nodes = side**2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--naive-sites", type=int, default=10, help="sites timed, times only")
    parser.add_argument("--naive-km-sites", type=int, default=2, help="sites timed, with km")
    parser.add_argument("--pandana-pairs", type=int, default=2_000_000)
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    args = parser.parse_args(argv)
    sizes = [(5_000, 50), (50_000, 200)]
    if args.quick:
        args.side = 60
        sizes = [(500, 10), (2_000, 20)]

    t0 = time.perf_counter()
    graph = road_like_graph(args.side, seed=args.seed)
    print(
        f"graph: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges "
        f"(built in {time.perf_counter() - t0:.1f} s, seed {args.seed})"
    )
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, networkx {nx.__version__}")
    rows = []
    for n_cells, n_sites in sizes:
        cells = grid_cells(graph, n_cells, seed=args.seed + 1)
        sites = site_points(graph, n_sites, seed=args.seed + 2)
        print(f"\n=== {n_cells:,} cells x {n_sites} sites ===")
        rss_before = max_rss_mib()
        engine, cached, _, minutes, km = run_engine(graph, cells, sites)
        rss_after = max_rss_mib()
        peak = engine_peak_mib(graph, cells, sites)
        print(f"engine (times + km):        {engine.seconds:8.2f} s  ({engine.note})")
        print(f"engine, cached rerun:       {cached.seconds:8.2f} s")
        print(
            f"engine peak memory:         {peak:8.1f} MiB traced allocations; "
            f"process max RSS {rss_after:,.0f} MiB (was {rss_before:,.0f} MiB before)"
        )
        naive = {}
        for mode, label in NAIVE_MODES.items():
            limit = args.naive_km_sites if mode == "km" else args.naive_sites
            naive[mode], out = run_naive(graph, cells, sites, max_sites=limit, mode=mode)
            if mode == "lengths":
                naive_minutes = out
            print(
                f"naive {mode:<8} {naive[mode].seconds:8.2f} s  -> engine is "
                f"{naive[mode].seconds / engine.seconds:6.1f}x faster\n"
                f"    ({label}; {naive[mode].note})"
            )
        pandana = run_pandana(graph, cells, sites, max_pairs=args.pandana_pairs)
        if isinstance(pandana, Timing):
            print(
                f"pandana CH (times):         {pandana.seconds:8.2f} s  ({pandana.note})  "
                f"-> engine is {pandana.seconds / engine.seconds:6.1f}x faster"
            )
        else:
            print(f"pandana:                    {pandana}")
        finite = np.isfinite(minutes)
        print(
            f"matrix: {finite.mean():.1%} finite, median {np.median(minutes[finite]):.1f} min, "
            f"median {np.median(km[finite]):.1f} km; naive (first sites) median "
            f"{np.median(naive_minutes[np.isfinite(naive_minutes)]):.1f} min"
        )
        rows.append((n_cells, n_sites, engine, naive, pandana, peak))
        del minutes, km, naive_minutes
        gc.collect()

    print("\nsummary (wall seconds; ratio = other / engine)")
    for n_cells, n_sites, engine, naive, pandana, peak in rows:
        pandana_s = (
            f"{pandana.seconds:.1f} ({pandana.seconds / engine.seconds:.1f}x)"
            if isinstance(pandana, Timing)
            else "n/a"
        )
        ratios = "  ".join(
            f"{mode} {t.seconds:.1f} ({t.seconds / engine.seconds:.1f}x)"
            for mode, t in naive.items()
        )
        print(
            f"{n_cells:>6} x {n_sites:<4} engine {engine.seconds:.2f}  naive: {ratios}  "
            f"pandana {pandana_s}  engine peak {peak:,.0f} MiB"
        )
    print(f"process max RSS: {max_rss_mib():,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

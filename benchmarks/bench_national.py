"""The whole of Finland as one region: end to end, and how time and memory grow with the roads.

Builds a seeded **synthetic** national region once per road size:

- about 86,000 populated 1 km cells: every municipality's 2022 residents (the packaged
  THL Sotkanet table) spread over cells around its central locality (the packaged
  National Land Survey points), denser near the centre;
- one candidate site per municipal centre (about 305);
- a road lattice of the requested size over the populated area (5 km around every
  populated cell and site) with an 80 km/h backbone every 10 km that ties the country
  together (100 km/h on every 5th backbone line) and 30-60 km/h local roads, both
  directions.

It writes the region as a bundle, then in a fresh interpreter per size times, from the
bundle on disk: ``load_region``; ``run_scenario`` (travel times with the door-to-door
car model, the two-tier solve, the estimates; the default scenario with 30 joint and 100
remote service points and no required sites) and ``write_outputs`` (summary, GeoPackage,
map, report); then the p-median model (p = 30) on the same prepared problem. Peak memory
is the child process's maximum resident set size.

Baseline: the issue's measurement of the same pipeline before this work (94 s end to end
with a road skeleton; 50 s load and 69 s travel times, 6.7 GiB, with a graph six times
denser), printed beside ours.

Usage::

    python benchmarks/bench_national.py --nodes 100000 300000 1000000
    python benchmarks/bench_national.py --nodes 20000 --cells 5000     # a quick check
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
CRS = "EPSG:3067"
BACKBONE_KM = 10.0
DILATE_KM = 5


def national_population(rng: np.random.Generator, *, target_cells: int) -> gpd.GeoDataFrame:
    """Residents of every municipality spread over 1 km cells around its central locality."""
    from optimizer import finland

    centres = finland.central_localities()
    people = finland.municipality_populations(2022)
    people = people[people.index.isin(centres.index)]
    raw = people.to_numpy(dtype=float) ** 0.6
    counts = np.maximum(3, np.round(raw / raw.sum() * target_cells * 1.1)).astype(int)
    keys, residents, owners = [], [], []
    for (code, total), n in zip(people.items(), counts, strict=True):
        point = centres.geometry.loc[code]
        scale = 0.6 * np.sqrt(n)  # km
        draws = 4 * n
        radius = rng.exponential(scale, draws)
        angle = rng.uniform(0, 2 * np.pi, draws)
        cx = np.floor((point.x + 1000 * radius * np.cos(angle)) / 1000).astype(np.int64)
        cy = np.floor((point.y + 1000 * radius * np.sin(angle)) / 1000).astype(np.int64)
        cells = pd.unique(cx * 10_000 + cy)[:n]
        distance = np.hypot(
            cells // 10_000 * 1000 + 500 - point.x, cells % 10_000 * 1000 + 500 - point.y
        )
        weight = np.exp(-distance / (300.0 * np.sqrt(n)))
        split = rng.multinomial(int(total), weight / weight.sum())
        keys.append(cells)
        residents.append(split)
        owners.append(np.full(len(cells), code, dtype=object))
    frame = pd.DataFrame(
        {
            "key": np.concatenate(keys),
            "population": np.concatenate(residents),
            "municipality": np.concatenate(owners),
        }
    )
    frame = frame[frame["population"] > 0]
    frame = frame.sort_values("population", ascending=False)
    grid = frame.groupby("key").agg(
        population=("population", "sum"), municipality=("municipality", "first")
    )
    ex, ny = (grid.index.to_numpy() // 10_000) * 1000, (grid.index.to_numpy() % 10_000) * 1000
    return gpd.GeoDataFrame(
        {
            "population": grid["population"].to_numpy(np.float64),
            "municipality": grid["municipality"].to_numpy(),
        },
        geometry=shapely.box(ex, ny, ex + 1000, ny + 1000),
        index=pd.Index(
            [f"1kmN{y // 1000}E{x // 1000}" for x, y in zip(ex, ny, strict=True)], name="cell_id"
        ),
        crs=CRS,
    )


def national_sites() -> gpd.GeoDataFrame:
    """One candidate site per municipal centre."""
    from optimizer import finland

    centres = finland.central_localities()
    return gpd.GeoDataFrame(
        {
            "name": centres["name"].to_numpy(),
            "municipality": centres.index.to_numpy(),
            "kind": "municipal_centre",
            "required": False,
        },
        geometry=centres.geometry.to_numpy(),
        index=pd.Index([f"c{k}" for k in centres.index], name="site_id"),
        crs=CRS,
    )


def road_lattice(
    grid: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *, nodes: int, rng: np.random.Generator
):
    """A road lattice of about ``nodes`` nodes over the populated area and the sites."""
    from optimizer.network import RoadNetwork

    minx, miny, maxx, maxy = grid.total_bounds
    minx, miny, maxx, maxy = minx - 5000, miny - 5000, maxx + 5000, maxy + 5000
    centres = np.vstack(
        [
            np.column_stack([grid.geometry.centroid.x, grid.geometry.centroid.y]),
            np.column_stack([sites.geometry.x, sites.geometry.y]),
        ]
    )
    populated = np.zeros((int((maxx - minx) // 1000) + 1, int((maxy - miny) // 1000) + 1), bool)
    ci = ((centres[:, 0] - minx) // 1000).astype(int)
    cj = ((centres[:, 1] - miny) // 1000).astype(int)
    for di in range(-DILATE_KM, DILATE_KM + 1):
        for dj in range(-DILATE_KM, DILATE_KM + 1):
            populated[np.clip(ci + di, 0, None), np.clip(cj + dj, 0, None)] = True
    area_km2 = populated.sum()
    spacing = 1000.0 * np.sqrt(area_km2 / nodes)
    for _ in range(3):  # the backbone adds nodes: shrink the spacing until the count fits
        nx_, ny_ = int((maxx - minx) / spacing) + 1, int((maxy - miny) / spacing) + 1
        gi, gj = np.meshgrid(np.arange(nx_), np.arange(ny_), indexing="ij")
        every = max(1, round(BACKBONE_KM * 1000 / spacing))
        xs, ys = minx + gi * spacing, miny + gj * spacing
        inside = populated[((xs - minx) // 1000).astype(int), ((ys - miny) // 1000).astype(int)]
        keep = inside | (gi % every == 0) | (gj % every == 0)
        if keep.sum() <= 1.05 * nodes:
            break
        spacing *= np.sqrt(keep.sum() / nodes)
    index = np.full(keep.shape, -1, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    jitter = rng.uniform(-0.15, 0.15, (int(keep.sum()), 2)) * spacing
    x, y = xs[keep] + jitter[:, 0], ys[keep] + jitter[:, 1]
    us, vs, lines = [], [], []
    for a, b, line in (
        (index[:-1, :], index[1:, :], gj[:-1, :]),
        (index[:, :-1], index[:, 1:], gi[:, :-1]),
    ):
        both = (a >= 0) & (b >= 0)
        us.append(a[both])
        vs.append(b[both])
        lines.append(line[both])
    u, v, line = np.concatenate(us), np.concatenate(vs), np.concatenate(lines)
    motorway = line % (5 * every) == 0
    backbone = (line % every == 0) & ~motorway
    local = rng.uniform(30, 60, len(u))
    speed = np.where(motorway, 100.0, np.where(backbone, 80.0, local))
    highway = np.where(motorway, "motorway", np.where(backbone, "trunk", "residential"))
    length = np.hypot(x[u] - x[v], y[u] - y[v]) * rng.uniform(1.0, 1.2, len(u))
    u2, v2 = np.concatenate([u, v]), np.concatenate([v, u])
    return RoadNetwork(
        crs=CRS,
        node_ids=np.arange(len(x), dtype=np.int64) + 1,
        x=x,
        y=y,
        u=u2,
        v=v2,
        length=np.concatenate([length, length]),
        travel_time=np.concatenate([length, length]) / (np.concatenate([speed, speed]) / 3.6),
        edge_attrs={
            "highway": np.concatenate([highway, highway]).astype(object),
            "speed_kph": np.concatenate([speed, speed]),
        },
    )


def build_bundle(folder: Path, *, nodes: int, cells: int, seed: int) -> dict:
    """Write the synthetic national bundle; return its sizes."""
    from optimizer.region import Region, RegionMeta, save_region

    rng = np.random.default_rng(seed)
    grid = national_population(rng, target_cells=cells)
    sites = national_sites()
    roads = road_lattice(grid, sites, nodes=nodes, rng=rng)
    region = Region(
        name="Suomi (synthetic)",
        slug="suomi-synthetic",
        code="00",
        year=2022,
        crs=CRS,
        population=grid,
        roads=roads,
        sites=sites,
        meta=RegionMeta(
            synthetic={"population": True, "roads": True, "sites": False},
            notes="SYNTHETIC national benchmark region: do not use for decisions",
        ),
    )
    save_region(region, folder, overwrite=True)
    return {
        "cells": len(grid),
        "residents": int(grid["population"].sum()),
        "sites": len(sites),
        "nodes": roads.number_of_nodes(),
        "edges": roads.number_of_edges(),
    }


CHILD = r"""
import dataclasses, json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from optimizer.region import load_region
from optimizer.scenario import load_scenario, run_scenario, write_outputs
from optimizer.scenario.solve import build_model
from optimizer.settings import get_settings
t1 = time.perf_counter()
bundle, out = Path(sys.argv[1]), Path(sys.argv[2])
settings = get_settings(cache_dir=out / "cache", output_dir=out)
scenario = load_scenario("default", settings=settings)
network = scenario.network.model_copy(update={
    "required_sites": [], "full_points": (30, 30), "remote_points": (100, 100)})
scenario = scenario.model_copy(update={"name": "national", "network": network,
                                       "region": str(bundle)})
region = load_region(bundle, settings=settings)
t2 = time.perf_counter()
result = run_scenario(scenario, region=region, settings=settings)
t3 = time.perf_counter()
write_outputs(result, out, settings=settings)
t4 = time.perf_counter()
problem = result.problem
pm_scenario = scenario.model_copy(update={"network": network.model_copy(update={
    "model": "p_median", "remote_points": (0, 0)})})
pm_problem = dataclasses.replace(problem, scenario=pm_scenario)
start = time.perf_counter()
pm = build_model(pm_problem, None, None).solve(mip_gap=1e-4, time_limit=600)
t5 = time.perf_counter()
print(json.dumps({
    "import": t1 - t0, "load": t2 - t1, "run": t3 - t2, "outputs": t4 - t3,
    "end_to_end": t4 - t1, "stages": result.seconds,
    "two_tier": {"status": result.choice.status, "gap": result.choice.gap,
                 "seconds": result.choice.seconds},
    "p_median": {"status": pm.status, "gap": pm.gap, "seconds": t5 - start},
    "map_mib": (out / result.name / "map.html").stat().st_size / 2**20,
    "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
}, default=float))
"""


def main() -> None:
    """Build, run and print one row per road size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--cells", type=int, default=86_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        "baseline (issue 13, before): 94 s end to end, load 13 s, travel times 17.6 s, "
        "two-tier 42.6 s, map 16.6 s, peak 3.9 GiB (road skeleton); denser x6: load 50 s, "
        "travel times 69 s, 6.7 GiB"
    )
    for nodes in args.nodes:
        with tempfile.TemporaryDirectory(prefix="bench-national-") as tmp:
            bundle, out = Path(tmp) / "bundle", Path(tmp) / "out"
            start = time.perf_counter()
            sizes = build_bundle(bundle, nodes=nodes, cells=args.cells, seed=args.seed)
            built = time.perf_counter() - start
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(bundle), str(out)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if done.returncode != 0:
                print(f"{nodes:,} nodes: the run failed:\n{done.stderr[-3000:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps({"target_nodes": nodes, **sizes, "bundle_built_s": built, **row}))


if __name__ == "__main__":
    main()

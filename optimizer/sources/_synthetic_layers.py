"""Layers of a synthetic region: population grid, road graph and sites from a facts table.

Used by :mod:`optimizer.sources.synthetic`; the model is described there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry import Point, box

from optimizer._names import slugify
from optimizer.sources._facts import HIGHWAY_BY_CLASS, RegionFacts, RoadFact

__all__ = ["densify", "generate_grid", "generate_roads", "generate_sites"]

CRS = "EPSG:3067"
CELL_M = 1000.0
MAIN_ROAD_CIRCUITY = 1.12
LOCAL_ROAD_CIRCUITY = 1.3
LOCAL_ROAD_SPEED_KMH = 50.0
ACCESS_LINK_MAX_M = 2500.0
RURAL_ROAD_DECAY_M = 2500.0
RURAL_MAX_FROM_SETTLEMENT_M = 30000.0

# Age structure used for the synthetic grid: shares of 0-14, 15-64 and 65+ year
# olds. An assumption (North Karelia's urban centre is younger than its rural
# municipalities), marked synthetic like the rest of the grid.
_AGE_SHARES_URBAN = (0.14, 0.63, 0.23)
_AGE_SHARES_RURAL = (0.11, 0.54, 0.35)


def densify(points: Sequence[tuple[float, float]], step: float) -> NDArray[np.float64]:
    """Return the points of a polyline with at most ``step`` metres between them."""
    out: list[NDArray[np.float64]] = []
    for (x0, y0), (x1, y1) in pairwise(points):
        n = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / step)))
        t = np.arange(n) / n
        out.append(np.column_stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t]))
    out.append(np.array([points[-1]], dtype=np.float64))
    return np.vstack(out)


def generate_grid(
    facts: RegionFacts,
    places: Mapping[str, tuple[float, float]],
    road_polylines: Sequence[tuple[RoadFact, list[tuple[float, float]]]],
    rng: np.random.Generator,
    boundaries: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Generate the 1 km grid; municipal totals equal the facts exactly."""
    # Settlements: every municipal centre and locality, with its share and spread.
    settle_xy: list[tuple[float, float]] = []
    settle_muni: list[str] = []
    settle_pop: list[float] = []
    settle_sd: list[float] = []
    rural_pop: dict[str, float] = {}
    for m in facts.municipalities:
        locs = [loc for loc in facts.localities if loc.municipality == m.code]
        settle_xy.append(places[m.name])
        settle_muni.append(m.code)
        settle_pop.append(m.population * m.centre_share)
        settle_sd.append(m.spread_km * 1000.0)
        for loc in locs:
            settle_xy.append(places[loc.name])
            settle_muni.append(m.code)
            settle_pop.append(m.population * loc.share)
            settle_sd.append(loc.spread_km * 1000.0)
        rural_pop[m.code] = m.population * (1.0 - m.centre_share - sum(x.share for x in locs))
    sxy = np.asarray(settle_xy)
    smuni = np.asarray(settle_muni)

    # Candidate cells: the whole-km grid around the settlements, or over the real
    # municipal boundaries, each cell in the municipality that holds its centre.
    if boundaries is None:
        pad = RURAL_MAX_FROM_SETTLEMENT_M
        lo, hi = sxy.min(axis=0) - pad, sxy.max(axis=0) + pad
    else:
        minx, miny, maxx, maxy = boundaries.total_bounds
        lo, hi = np.array([minx, miny]), np.array([maxx, maxy])
    x0, y0 = np.floor(lo / CELL_M) * CELL_M
    x1, y1 = np.ceil(hi / CELL_M) * CELL_M
    gx, gy = np.meshgrid(np.arange(x0, x1, CELL_M), np.arange(y0, y1, CELL_M))
    corners = np.column_stack([gx.ravel(), gy.ravel()])
    centres = corners + CELL_M / 2
    dist_settle, nearest = cKDTree(sxy).query(centres)
    if boundaries is None:
        cell_muni = smuni[nearest]
    else:
        tree = shapely.STRtree(boundaries.geometry.to_numpy())
        cell_idx, poly_idx = tree.query(shapely.points(centres), predicate="within")
        codes = boundaries["kunta"].to_numpy(dtype=object)
        cell_muni = np.full(len(centres), "", dtype=object)
        cell_muni[cell_idx] = codes[poly_idx]
        inside = cell_muni != ""
        corners, centres = corners[inside], centres[inside]
        dist_settle, cell_muni = dist_settle[inside], cell_muni[inside].astype(str)

    road_pts = np.vstack([densify(line, 250.0) for _, line in road_polylines])
    dist_road, _ = cKDTree(road_pts).query(centres)

    expected = np.zeros(len(centres))
    noise = rng.lognormal(mean=0.0, sigma=0.6, size=len(centres))
    for k in range(len(sxy)):
        d2 = np.sum((centres - sxy[k]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * settle_sd[k] ** 2)) * noise
        w[(cell_muni != smuni[k]) | (d2 > (4 * settle_sd[k]) ** 2)] = 0.0
        if w.sum() > 0:
            expected += settle_pop[k] * w / w.sum()
        else:  # the kernel lies wholly in a neighbour's cells: the nearest own cell
            own = np.flatnonzero(cell_muni == smuni[k])
            expected[own[np.argmin(d2[own])]] += settle_pop[k]
    for code, pop in rural_pop.items():
        w = np.exp(-dist_road / RURAL_ROAD_DECAY_M) * np.exp(-dist_settle / 12000.0) * noise
        w *= rng.random(len(centres)) < 0.55  # forests and lakes: many cells stay empty
        w[(cell_muni != code) | (dist_settle > RURAL_MAX_FROM_SETTLEMENT_M)] = 0.0
        if w.sum() > 0 and pop > 0:
            expected += pop * w / w.sum()

    counts = np.zeros(len(centres), dtype=np.int64)
    for m in facts.municipalities:
        idx = np.flatnonzero(cell_muni == m.code)
        counts[idx] = _integerize(expected[idx], m.population, rng)

    keep = counts > 0
    corners, counts, muni = corners[keep], counts[keep], cell_muni[keep]
    urban = counts >= 200
    shares = np.where(urban[:, None], _AGE_SHARES_URBAN, _AGE_SHARES_RURAL)
    ages = np.column_stack(
        [rng.binomial(counts, shares[:, 0]), np.zeros_like(counts), np.zeros_like(counts)]
    )
    ages[:, 2] = rng.binomial(counts - ages[:, 0], shares[:, 2] / (1 - shares[:, 0]))
    ages[:, 1] = counts - ages[:, 0] - ages[:, 2]
    ages_f = ages.astype(np.float64)
    ages_f[counts < 10] = np.nan  # as in Statistics Finland's grid: suppressed below 10

    ids = [f"1kmN{int(y // 1000):04d}E{int(x // 1000):04d}" for x, y in corners]
    geoms = [box(x, y, x + CELL_M, y + CELL_M) for x, y in corners]
    gdf = gpd.GeoDataFrame(
        {
            "population": counts.astype(np.float64),
            "age_0_14": ages_f[:, 0],
            "age_15_64": ages_f[:, 1],
            "age_65_plus": ages_f[:, 2],
            "municipality": muni.astype(str),
        },
        geometry=geoms,
        crs=CRS,
        index=pd.Index(ids, name="cell_id"),
    )
    return gdf


def _integerize(expected: NDArray[np.float64], total: int, rng: np.random.Generator) -> NDArray:
    """Round non-negative expectations to integers that sum exactly to ``total``."""
    if total == 0 or expected.sum() <= 0:
        out = np.zeros(len(expected), dtype=np.int64)
        if total > 0:
            out[0] = total
        return out
    scaled = expected * (total / expected.sum())
    base = np.floor(scaled).astype(np.int64)
    remainder = scaled - base
    short = total - int(base.sum())
    # largest remainders first, ties broken by a seeded jitter
    order = np.lexsort((rng.random(len(scaled)), -remainder))
    base[order[:short]] += 1
    return base


def _add_two_way(
    g: nx.MultiDiGraph,
    u: int,
    v: int,
    *,
    length: float,
    speed_kmh: float,
    highway: str,
    ref: str = "",
    name: str = "",
) -> None:
    attrs: dict[str, Any] = {
        "length": float(length),
        "speed_kph": float(speed_kmh),
        "travel_time": float(length / (speed_kmh / 3.6)),
        "highway": highway,
        "oneway": False,
    }
    if ref:
        attrs["ref"] = ref
    if name:
        attrs["name"] = name
    g.add_edge(u, v, **attrs)
    g.add_edge(v, u, **attrs)


def generate_roads(
    road_polylines: Sequence[tuple[RoadFact, list[tuple[float, float]]]],
    population: gpd.GeoDataFrame,
) -> nx.MultiDiGraph:
    """Generate the main roads along the facts' links and local roads to every cell."""
    g = nx.MultiDiGraph(crs=CRS, name="synthetic road graph")
    node_of: dict[tuple[int, int], int] = {}

    def node(x: float, y: float) -> int:
        key = (round(x), round(y))
        if key not in node_of:
            node_of[key] = len(node_of)
            g.add_node(node_of[key], x=float(key[0]), y=float(key[1]))
        return node_of[key]

    for road, line in road_polylines:
        highway = HIGHWAY_BY_CLASS[road.road_class]
        # Waypoints stay exact (shared between roads); densify between them.
        for a, b in pairwise(line):
            pts = densify([a, b], 1000.0)
            ids = [node(x, y) for x, y in pts]
            for (u, v), (pa, pb) in zip(pairwise(ids), pairwise(pts), strict=True):
                if u == v:
                    continue
                length = float(np.hypot(*(pb - pa))) * MAIN_ROAD_CIRCUITY
                _add_two_way(
                    g,
                    u,
                    v,
                    length=length,
                    speed_kmh=road.speed_kmh,
                    highway=highway,
                    ref=road.ref,
                    name=road.name,
                )
    main_nodes = np.array(list(g.nodes))
    main_xy = np.array([(g.nodes[n]["x"], g.nodes[n]["y"]) for n in main_nodes])

    # Local access roads: a node per inhabited cell, linked to its nearest neighbours.
    cells = population.geometry.centroid
    cell_xy = np.column_stack([cells.x.to_numpy(), cells.y.to_numpy()])
    cell_nodes = np.array([node(x, y) for x, y in cell_xy])
    tree = cKDTree(cell_xy)
    k = min(4, len(cell_xy))
    dist, nbr = tree.query(cell_xy, k=k)
    local = nx.Graph()
    local.add_nodes_from(range(len(cell_xy)))
    for i in range(len(cell_xy)):
        for d, j in zip(dist[i, 1:], nbr[i, 1:], strict=True):
            if d <= 3000.0 and i != j:
                local.add_edge(i, int(j), d=float(d))
    main_tree = cKDTree(main_xy)
    dmain, imain = main_tree.query(cell_xy)
    for i, j in local.edges:
        _add_two_way(
            g,
            int(cell_nodes[i]),
            int(cell_nodes[j]),
            length=local.edges[i, j]["d"] * LOCAL_ROAD_CIRCUITY,
            speed_kmh=LOCAL_ROAD_SPEED_KMH,
            highway="unclassified",
        )
    for comp in nx.connected_components(local):
        members = np.fromiter(comp, dtype=np.int64)
        linked = members[dmain[members] <= ACCESS_LINK_MAX_M]
        if len(linked) == 0:  # an isolated cluster: link its member closest to a main road
            linked = members[[np.argmin(dmain[members])]]
        for i in linked:
            u, v = int(cell_nodes[i]), int(main_nodes[imain[i]])
            if u != v:
                _add_two_way(
                    g,
                    u,
                    v,
                    length=max(dmain[i], 50.0) * LOCAL_ROAD_CIRCUITY,
                    speed_kmh=LOCAL_ROAD_SPEED_KMH,
                    highway="unclassified",
                )
    return g


def generate_sites(
    facts: RegionFacts, places: Mapping[str, tuple[float, float]]
) -> gpd.GeoDataFrame:
    """Place sites at the municipal centres and the localities flagged ``site``."""
    existing = facts.existing_site or max(facts.municipalities, key=lambda m: m.population).name
    rows: list[dict[str, Any]] = []
    for m in facts.municipalities:
        is_existing = m.name == existing
        rows.append(
            {
                "site_id": f"{m.code}-{slugify(m.name)}",
                "name": m.name,
                "municipality": m.code,
                "kind": "existing_office" if is_existing else "municipal_centre",
                "required": is_existing,
                "geometry": Point(places[m.name]),
            }
        )
    for loc in facts.localities:
        if loc.site:
            rows.append(
                {
                    "site_id": f"{loc.municipality}-{slugify(loc.name)}",
                    "name": loc.name,
                    "municipality": loc.municipality,
                    "kind": "other",
                    "required": loc.name == existing,
                    "geometry": Point(places[loc.name]),
                }
            )
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS).set_index("site_id")
    sites["annual_cost"] = np.nan
    sites["capacity"] = np.nan
    return sites

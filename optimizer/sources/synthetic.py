"""Synthetic region bundles generated from a small table of real facts.

The embedded demo region (North Karelia) and the offline national test set are
built here. A *facts table* (TOML, see ``data/facts/pohjois-karjala.toml``) holds
real municipal populations and centre coordinates, the main localities and the
main road links with their class and speed. From it the generator makes:

- a 1 km population grid (EPSG:3067, aligned to whole kilometres like Statistics
  Finland's grid) whose municipal totals equal the facts exactly. Residents
  cluster around the municipal centre and the localities (Gaussian kernels) and
  the rest live along the roads of the municipality. Each cell belongs to the
  municipality of its nearest settlement, so kernels never spill residents into
  a neighbour's total;
- a directed road graph that follows the real road links (densified to at most
  1 km between nodes, both directions) plus local access roads that link every
  inhabited cell to its neighbours and to the nearest main road;
- candidate sites at the municipal centres and at the localities flagged
  ``site = true``, the first municipality's centre or the one named
  ``existing_site`` being the existing (required) joint service point;
- a region outline (the inhabited cells buffered by 5 km).

Everything generated is synthetic and says so in ``region.toml``; only the
facts table is real. All randomness flows from one ``seed``.

Modelling constants
-------------------
Main roads are drawn as straight segments between waypoints, so their length is
multiplied by ``MAIN_ROAD_CIRCUITY`` (1.12) to account for curves. Local access
roads get ``LOCAL_ROAD_CIRCUITY`` (1.3) and ``LOCAL_ROAD_SPEED_KMH`` (50 km/h).
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import Transformer
from scipy.spatial import cKDTree
from shapely.geometry import Point, box

from optimizer.errors import DataError

__all__ = [
    "LOCAL_ROAD_CIRCUITY",
    "LOCAL_ROAD_SPEED_KMH",
    "MAIN_ROAD_CIRCUITY",
    "LocalityFact",
    "MunicipalityFact",
    "RegionFacts",
    "RoadFact",
    "SyntheticRegion",
    "facts_from_finland",
    "generate_region",
    "iter_reference_pairs",
    "load_facts",
    "write_national_bundles",
    "write_synthetic_bundle",
]

logger = logging.getLogger(__name__)

CRS = "EPSG:3067"
CELL_M = 1000.0
MAIN_ROAD_CIRCUITY = 1.12
LOCAL_ROAD_CIRCUITY = 1.3
LOCAL_ROAD_SPEED_KMH = 50.0
ACCESS_LINK_MAX_M = 2500.0
RURAL_ROAD_DECAY_M = 2500.0
RURAL_MAX_FROM_SETTLEMENT_M = 30000.0

_HIGHWAY_BY_CLASS = {
    "valtatie": "trunk",
    "kantatie": "primary",
    "seututie": "secondary",
    "yhdystie": "tertiary",
}

# Age structure used for the synthetic grid: shares of 0-14, 15-64 and 65+ year
# olds. An assumption (North Karelia's urban centre is younger than its rural
# municipalities), marked synthetic like the rest of the grid.
_AGE_SHARES_URBAN = (0.14, 0.63, 0.23)
_AGE_SHARES_RURAL = (0.11, 0.54, 0.35)


@dataclass(frozen=True)
class MunicipalityFact:
    """A municipality: code, name, population and centre (WGS84)."""

    code: str
    name: str
    population: int
    lon: float
    lat: float
    centre_share: float = 0.5
    spread_km: float = 1.2


@dataclass(frozen=True)
class LocalityFact:
    """A village or secondary locality inside a municipality."""

    name: str
    municipality: str
    lon: float
    lat: float
    share: float
    spread_km: float = 1.0
    site: bool = False


@dataclass(frozen=True)
class RoadFact:
    """A main road link through named localities or ``(lon, lat)`` waypoints."""

    ref: str
    name: str
    road_class: str
    speed_kmh: float
    via: tuple[str | tuple[float, float], ...]


@dataclass(frozen=True)
class RegionFacts:
    """The real facts a synthetic region is generated from."""

    name: str
    slug: str
    code: str
    year: int
    seed: int
    municipalities: tuple[MunicipalityFact, ...]
    localities: tuple[LocalityFact, ...] = ()
    roads: tuple[RoadFact, ...] = ()
    existing_site: str | None = None
    reference_times_min: Mapping[str, float] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SyntheticRegion:
    """The generated layers of a synthetic region (all EPSG:3067)."""

    facts: RegionFacts
    population: gpd.GeoDataFrame
    roads: nx.MultiDiGraph
    sites: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame


def load_facts(path: str | Path) -> RegionFacts:
    """Read a facts table (TOML).

    Parameters
    ----------
    path
        The TOML file, in the format of ``data/facts/pohjois-karjala.toml``.

    Returns
    -------
    RegionFacts
        The parsed facts.

    Raises
    ------
    DataError
        If a required key is missing or a value is invalid; names the file and key.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: cannot read the facts table: {exc}") from exc
    try:
        municipalities = tuple(
            MunicipalityFact(
                code=str(m["code"]).zfill(3),
                name=str(m["name"]),
                population=int(m["population"]),
                lon=float(m["lon"]),
                lat=float(m["lat"]),
                centre_share=float(m.get("centre_share", 0.5)),
                spread_km=float(m.get("spread_km", 1.2)),
            )
            for m in raw["municipality"]
        )
        localities = tuple(
            LocalityFact(
                name=str(loc["name"]),
                municipality=str(loc["municipality"]).zfill(3),
                lon=float(loc["lon"]),
                lat=float(loc["lat"]),
                share=float(loc["share"]),
                spread_km=float(loc.get("spread_km", 1.0)),
                site=bool(loc.get("site", False)),
            )
            for loc in raw.get("locality", [])
        )
        roads = tuple(
            RoadFact(
                ref=str(r["ref"]),
                name=str(r["name"]),
                road_class=str(r["class"]),
                speed_kmh=float(r["speed_kmh"]),
                via=tuple(
                    v if isinstance(v, str) else (float(v[0]), float(v[1])) for v in r["via"]
                ),
            )
            for r in raw.get("road", [])
        )
        facts = RegionFacts(
            name=str(raw["name"]),
            slug=str(raw["slug"]),
            code=str(raw["code"]),
            year=int(raw["year"]),
            seed=int(raw.get("seed", 0)),
            municipalities=municipalities,
            localities=localities,
            roads=roads,
            existing_site=raw.get("existing_site"),
            reference_times_min=dict(raw.get("reference_times_min", {})),
            sources=dict(raw.get("sources", {})),
        )
    except KeyError as exc:
        raise DataError(f"{path}: missing key {exc.args[0]!r} in the facts table") from exc
    _check_facts(facts, source=str(path))
    return facts


def _check_facts(facts: RegionFacts, *, source: str) -> None:
    codes = {m.code for m in facts.municipalities}
    if not codes:
        raise DataError(f"{source}: the facts table lists no municipality")
    for m in facts.municipalities:
        if m.population < 0:
            raise DataError(f"{source}: municipality {m.code} has negative population")
    for loc in facts.localities:
        if loc.municipality not in codes:
            raise DataError(
                f"{source}: locality {loc.name!r} names municipality {loc.municipality!r}, "
                f"which is not in the table ({sorted(codes)})"
            )
    for m in facts.municipalities:
        settled = m.centre_share + sum(
            loc.share for loc in facts.localities if loc.municipality == m.code
        )
        if settled > 1.0 + 1e-9:
            raise DataError(
                f"{source}: municipality {m.code} ({m.name}) has centre and locality shares "
                f"summing to {settled:.2f} > 1; lower them"
            )
    names = _place_names(facts)
    for road in facts.roads:
        for v in road.via:
            if isinstance(v, str) and v not in names:
                raise DataError(
                    f"{source}: road {road.name!r} passes {v!r}, which is neither a "
                    "municipality nor a locality of the table"
                )
        if road.road_class not in _HIGHWAY_BY_CLASS:
            raise DataError(
                f"{source}: road {road.name!r} has class {road.road_class!r}; "
                f"allowed: {sorted(_HIGHWAY_BY_CLASS)}"
            )


def _place_names(facts: RegionFacts) -> dict[str, tuple[float, float]]:
    places = {m.name: (m.lon, m.lat) for m in facts.municipalities}
    places.update({loc.name: (loc.lon, loc.lat) for loc in facts.localities})
    return places


def generate_region(facts: RegionFacts, *, seed: int | None = None) -> SyntheticRegion:
    """Generate a synthetic population grid, road graph and sites from facts.

    Parameters
    ----------
    facts
        The facts table (see :func:`load_facts`).
    seed
        Random seed; defaults to ``facts.seed``. The same seed gives the same region.

    Returns
    -------
    SyntheticRegion
        Population grid, road graph, candidate sites and outline, all EPSG:3067.
    """
    rng = np.random.default_rng(facts.seed if seed is None else seed)
    to_m = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)

    def project(lon: float, lat: float) -> tuple[float, float]:
        x, y = to_m.transform(lon, lat)
        return float(x), float(y)

    places = {name: project(*lonlat) for name, lonlat in _place_names(facts).items()}
    road_polylines = [
        (road, [places[v] if isinstance(v, str) else project(*v) for v in road.via])
        for road in facts.roads
    ]
    population = _generate_grid(facts, places, road_polylines, rng)
    roads = _generate_roads(road_polylines, population)
    sites = _generate_sites(facts, places)
    outline = population.geometry.union_all().buffer(5000.0).simplify(500.0)
    boundary = gpd.GeoDataFrame({"name": [facts.name]}, geometry=[outline], crs=CRS)
    logger.info(
        "generated %s: %d cells, %d residents, %d road nodes, %d sites",
        facts.name,
        len(population),
        int(population["population"].sum()),
        roads.number_of_nodes(),
        len(sites),
    )
    return SyntheticRegion(facts, population, roads, sites, boundary)


def _densify(points: Sequence[tuple[float, float]], step: float) -> NDArray[np.float64]:
    out: list[NDArray[np.float64]] = []
    for (x0, y0), (x1, y1) in pairwise(points):
        n = max(1, int(np.ceil(np.hypot(x1 - x0, y1 - y0) / step)))
        t = np.arange(n) / n
        out.append(np.column_stack([x0 + (x1 - x0) * t, y0 + (y1 - y0) * t]))
    out.append(np.array([points[-1]], dtype=np.float64))
    return np.vstack(out)


def _generate_grid(
    facts: RegionFacts,
    places: Mapping[str, tuple[float, float]],
    road_polylines: Sequence[tuple[RoadFact, list[tuple[float, float]]]],
    rng: np.random.Generator,
) -> gpd.GeoDataFrame:
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

    # Candidate cells: the whole-km grid around the settlements.
    pad = RURAL_MAX_FROM_SETTLEMENT_M
    x0 = np.floor((sxy[:, 0].min() - pad) / CELL_M) * CELL_M
    y0 = np.floor((sxy[:, 1].min() - pad) / CELL_M) * CELL_M
    x1 = np.ceil((sxy[:, 0].max() + pad) / CELL_M) * CELL_M
    y1 = np.ceil((sxy[:, 1].max() + pad) / CELL_M) * CELL_M
    gx, gy = np.meshgrid(np.arange(x0, x1, CELL_M), np.arange(y0, y1, CELL_M))
    corners = np.column_stack([gx.ravel(), gy.ravel()])
    centres = corners + CELL_M / 2
    dist_settle, nearest = cKDTree(sxy).query(centres)
    cell_muni = smuni[nearest]

    road_pts = np.vstack([_densify(line, 250.0) for _, line in road_polylines])
    dist_road, _ = cKDTree(road_pts).query(centres)

    expected = np.zeros(len(centres))
    noise = rng.lognormal(mean=0.0, sigma=0.6, size=len(centres))
    for k in range(len(sxy)):
        d2 = np.sum((centres - sxy[k]) ** 2, axis=1)
        w = np.exp(-d2 / (2 * settle_sd[k] ** 2)) * noise
        w[(cell_muni != smuni[k]) | (d2 > (4 * settle_sd[k]) ** 2)] = 0.0
        if w.sum() > 0:
            expected += settle_pop[k] * w / w.sum()
        else:  # the settlement's kernel lies wholly in a neighbour's cells: use its own cell
            expected[np.argmin(d2)] += settle_pop[k]
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


def _generate_roads(
    road_polylines: Sequence[tuple[RoadFact, list[tuple[float, float]]]],
    population: gpd.GeoDataFrame,
) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(crs=CRS, name="synthetic road graph")
    node_of: dict[tuple[int, int], int] = {}

    def node(x: float, y: float) -> int:
        key = (round(x), round(y))
        if key not in node_of:
            node_of[key] = len(node_of)
            g.add_node(node_of[key], x=float(key[0]), y=float(key[1]))
        return node_of[key]

    for road, line in road_polylines:
        highway = _HIGHWAY_BY_CLASS[road.road_class]
        # Waypoints stay exact (shared between roads); densify between them.
        for a, b in pairwise(line):
            pts = _densify([a, b], 1000.0)
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


def _generate_sites(
    facts: RegionFacts, places: Mapping[str, tuple[float, float]]
) -> gpd.GeoDataFrame:
    existing = facts.existing_site or max(facts.municipalities, key=lambda m: m.population).name
    rows: list[dict[str, Any]] = []
    for m in facts.municipalities:
        is_existing = m.name == existing
        rows.append(
            {
                "site_id": f"{m.code}-{_slug(m.name)}",
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
                    "site_id": f"{loc.municipality}-{_slug(loc.name)}",
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


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "a", "ö": "o", "å": "a", "Ä": "A", "Ö": "O", "Å": "A"})
    return "-".join(text.translate(table).lower().split())


def iter_reference_pairs(facts: RegionFacts) -> Iterable[tuple[str, str, float]]:
    """Yield ``(origin, destination, minutes)`` for the facts' reference driving times."""
    for key, minutes in facts.reference_times_min.items():
        a, b = key.split("-", 1)
        yield a, b, float(minutes)


def facts_from_finland(
    region_code: str | int,
    *,
    finland_dir: str | Path,
    year: int = 2022,
    seed: int = 0,
) -> RegionFacts:
    """Build a facts table for a mainland region from the real national tables.

    Used for the offline national test set: real municipalities (2023 division),
    real populations and real central localities, with a synthetic road skeleton
    that links each municipal centre to its two nearest neighbours and along a
    minimum spanning tree (so every region is connected).

    Parameters
    ----------
    region_code
        Maakunta code, e.g. ``12`` or ``"12"``.
    finland_dir
        Folder with ``municipality_key_2023.csv``,
        ``municipality_population_sotkanet.csv``,
        ``municipality_central_localities.csv`` and
        ``municipalities_2019_3067.gpkg`` (the layout of ``shared/data/finland``).
    year
        Population year (Sotkanet).
    seed
        Random seed of the generated region.

    Returns
    -------
    RegionFacts
        Facts whose roads are synthetic (marked in ``sources``).
    """
    from scipy.sparse.csgraph import minimum_spanning_tree

    folder = Path(finland_dir)
    code = int(str(region_code).removeprefix("MK"))
    key = pd.read_csv(folder / "municipality_key_2023.csv")
    members = key[key["maakunta_code"] == code]
    if members.empty:
        raise DataError(
            f"{folder / 'municipality_key_2023.csv'}: no municipality has maakunta_code {code}"
        )
    pops = pd.read_csv(folder / "municipality_population_sotkanet.csv")
    pops = pops[pops["year"] == year].set_index("municipality_code")["primary.value"]
    locs = (
        pd.read_csv(folder / "municipality_central_localities.csv")
        .drop_duplicates("kuntatunnus")
        .set_index("kuntatunnus")
    )
    fallback = gpd.read_file(folder / "municipalities_2019_3067.gpkg")
    fallback["kunta"] = fallback["kunta"].astype(int)
    fallback = fallback.set_index("kunta").geometry.representative_point().to_crs(4326)

    municipalities: list[MunicipalityFact] = []
    for _, row in members.sort_values("kunta").iterrows():
        kunta = int(row["kunta"])
        if kunta in locs.index:
            lon, lat = float(locs.at[kunta, "X"]), float(locs.at[kunta, "Y"])
        else:  # no central-locality label point: the municipality's representative point
            pt = fallback.loc[kunta]
            lon, lat = float(pt.x), float(pt.y)
        pop = int(pops.get(kunta, 0))
        size = np.log10(max(pop, 1000) / 1000.0)
        municipalities.append(
            MunicipalityFact(
                code=f"{kunta:03d}",
                name=str(row["municipality_name_fi"]),
                population=pop,
                lon=lon,
                lat=lat,
                centre_share=float(np.clip(0.4 + 0.15 * size, 0.4, 0.8)),
                spread_km=float(np.clip(0.8 + 0.8 * size, 0.8, 3.5)),
            )
        )
    to_m = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    xy = np.array([to_m.transform(m.lon, m.lat) for m in municipalities])
    n = len(municipalities)
    pairs: set[tuple[int, int]] = set()
    if n > 1:
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        mst = minimum_spanning_tree(d).tocoo()
        pairs |= {(min(i, j), max(i, j)) for i, j in zip(mst.row, mst.col, strict=True)}
        for i in range(n):
            for j in np.argsort(d[i])[1 : min(3, n)]:
                pairs.add((min(i, int(j)), max(i, int(j))))
    roads = []
    for i, j in sorted(pairs):
        a, b = municipalities[i], municipalities[j]
        big, small = max(a.population, b.population), min(a.population, b.population)
        cls, speed = (
            ("valtatie", 88.0)
            if small >= 15000
            else ("kantatie", 82.0)
            if big >= 10000
            else ("seututie", 72.0)
        )
        roads.append(
            RoadFact(
                ref=f"S{i}-{j}",
                name=f"{a.name}-{b.name}",
                road_class=cls,
                speed_kmh=speed,
                via=(a.name, b.name),
            )
        )
    name = str(members["maakunta_name_fi"].iloc[0])
    facts = RegionFacts(
        name=name,
        slug=_slug(name),
        code=f"{code:02d}",
        year=year,
        seed=seed,
        municipalities=tuple(municipalities),
        roads=tuple(roads),
        sources={
            "municipalities": "Statistics Finland municipality key 2023 (CC BY 4.0)",
            "population": f"THL Sotkanet population {year} (CC BY 4.0)",
            "centres": "National Land Survey central-locality label points (CC BY 4.0)",
            "roads": "SYNTHETIC skeleton: minimum spanning tree + 2 nearest neighbours",
        },
    )
    _check_facts(facts, source=str(folder))
    return facts


def write_synthetic_bundle(
    facts: RegionFacts,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Generate a synthetic region from facts and write it as a bundle.

    The grid, roads and outline are marked synthetic in ``region.toml``; the
    sites sit at the real coordinates of the facts table.

    Parameters
    ----------
    facts
        The facts table.
    out_dir
        The bundle folder to write (atomically).
    seed
        Random seed; defaults to ``facts.seed``.
    overwrite
        Replace an existing bundle.

    Returns
    -------
    pathlib.Path
        The bundle folder.
    """
    from optimizer.region import Region, RegionMeta, save_region

    gen = generate_region(facts, seed=seed)
    sources = {
        **{f"facts_{k}": v for k, v in facts.sources.items()},
        "population": "SYNTHETIC 1 km grid generated by optimizer.synthetic; municipal "
        "totals equal the facts table",
        "roads": "SYNTHETIC road graph along the facts table's road links plus local roads",
        "sites": "municipal centres and flagged localities at the facts table's coordinates",
        "boundary": "SYNTHETIC outline: inhabited cells buffered by 5 km",
    }
    region = Region(
        name=facts.name,
        slug=facts.slug,
        code=facts.code,
        year=facts.year,
        crs=CRS,
        population=gen.population,
        roads=gen.roads,
        sites=gen.sites,
        boundary=gen.boundary,
        meta=RegionMeta(
            sources=sources,
            licences={
                "facts": "Statistics Finland, THL Sotkanet and National Land Survey data, "
                "CC BY 4.0",
                "generated layers": "same licence as the optimizer repository",
            },
            synthetic={"population": True, "roads": True, "sites": False, "boundary": True},
            notes="The grid and the roads are synthetic: do not use the numbers for "
            "decisions; build a real bundle with `optimizer fetch` when online.",
        ),
    )
    return save_region(region, out_dir, overwrite=overwrite)


def write_national_bundles(
    *,
    finland_dir: str | Path,
    out_root: str | Path,
    codes: Iterable[str | int] | None = None,
    year: int = 2022,
    overwrite: bool = False,
) -> list[Path]:
    """Write synthetic bundles for mainland regions (the offline national test set).

    Parameters
    ----------
    finland_dir
        Folder with the national tables (see :func:`facts_from_finland`).
    out_root
        Each region is written to ``out_root/<slug>``.
    codes
        Maakunta codes; all 18 mainland regions when ``None``.
    year
        Population year.
    overwrite
        Replace existing bundles; otherwise existing ones are kept as they are.

    Returns
    -------
    list of pathlib.Path
        The bundle folders, in code order.
    """
    if codes is None:
        key = pd.read_csv(Path(finland_dir) / "municipality_key_2023.csv")
        codes = sorted(int(c) for c in key["maakunta_code"].unique() if int(c) != 21)
    out: list[Path] = []
    for code in codes:
        facts = facts_from_finland(code, finland_dir=finland_dir, year=year, seed=int(code))
        target = Path(out_root) / facts.slug
        if target.exists() and not overwrite:
            out.append(target)
            continue
        out.append(write_synthetic_bundle(facts, target, overwrite=overwrite))
    return out

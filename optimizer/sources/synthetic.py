"""Synthetic region bundles generated from a small table of real facts.

The embedded demo region (North Karelia) and the offline national test set are
built here. A *facts table* (TOML, see ``data/facts/pohjois-karjala.toml``; read by
:func:`load_facts` in :mod:`optimizer.sources._facts`) holds
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
- a region outline: the inhabited cells buffered by 5 km, or, when real
  municipal boundaries are given, their union (and then every cell lies in the
  real boundary of its municipality).

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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import Transformer

from optimizer import finland
from optimizer.errors import DataError
from optimizer.sources._facts import (
    LocalityFact,
    MunicipalityFact,
    RegionFacts,
    RoadFact,
    check_facts,
    iter_reference_pairs,
    load_facts,
    place_names,
)
from optimizer.sources._synthetic_layers import (
    CRS,
    LOCAL_ROAD_CIRCUITY,
    LOCAL_ROAD_SPEED_KMH,
    MAIN_ROAD_CIRCUITY,
    generate_grid,
    generate_roads,
    generate_sites,
)

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

_OUTLINE_BUFFER_M = 5000.0
_SYNTHETIC_NOTE = (
    "The grid and the roads are synthetic: do not use the numbers for decisions; build a "
    "real bundle with `optimizer fetch` when online."
)


@dataclass(frozen=True)
class SyntheticRegion:
    """The generated layers of a synthetic region (all EPSG:3067)."""

    facts: RegionFacts
    population: gpd.GeoDataFrame
    roads: nx.MultiDiGraph
    sites: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame


def _check_boundaries(facts: RegionFacts, boundaries: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the boundaries in EPSG:3067 with a 3-digit ``kunta``; all municipalities present."""
    if "kunta" not in boundaries.columns:
        raise DataError("municipal boundaries need a 'kunta' column (3-digit municipality code)")
    out = boundaries.to_crs(CRS) if boundaries.crs is not None else boundaries.set_crs(CRS)
    out = out.assign(kunta=[str(k).zfill(3) for k in out["kunta"]])
    missing = sorted({m.code for m in facts.municipalities} - set(out["kunta"]))
    if missing:
        raise DataError(
            f"municipal boundaries lack municipality code(s) {', '.join(missing)} of the facts "
            f"table {facts.name!r}"
        )
    return out[out["kunta"].isin({m.code for m in facts.municipalities})]


def generate_region(
    facts: RegionFacts,
    *,
    seed: int | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
) -> SyntheticRegion:
    """Generate a synthetic population grid, road graph and sites from facts.

    Parameters
    ----------
    facts
        The facts table (see :func:`load_facts`).
    seed
        Random seed; defaults to ``facts.seed``. The same seed gives the same region.
    boundaries
        Real municipal boundaries (column ``kunta``, e.g. from
        :func:`optimizer.finland.municipality_boundaries`). When given, every
        cell lies in the real boundary of its municipality and the outline is
        their union; otherwise cells go to the nearest settlement's
        municipality and the outline is the inhabited cells buffered by 5 km.

    Returns
    -------
    SyntheticRegion
        Population grid, road graph, candidate sites and outline, all EPSG:3067.

    Raises
    ------
    DataError
        If ``boundaries`` lack a municipality of the facts.
    """
    rng = np.random.default_rng(facts.seed if seed is None else seed)
    to_m = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)

    def project(lon: float, lat: float) -> tuple[float, float]:
        x, y = to_m.transform(lon, lat)
        return float(x), float(y)

    places = {name: project(*lonlat) for name, lonlat in place_names(facts).items()}
    road_polylines = [
        (road, [places[v] if isinstance(v, str) else project(*v) for v in road.via])
        for road in facts.roads
    ]
    real = None if boundaries is None else _check_boundaries(facts, boundaries)
    population = generate_grid(facts, places, road_polylines, rng, boundaries=real)
    roads = generate_roads(road_polylines, population)
    sites = generate_sites(facts, places)
    if real is None:
        outline = population.geometry.union_all().buffer(_OUTLINE_BUFFER_M).simplify(500.0)
    else:
        outline = shapely.union_all(real.geometry.to_numpy())
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


def _road_class(small: int, big: int) -> tuple[str, float]:
    """Class and speed of a synthetic link between municipal centres of these sizes."""
    if small >= 15000:
        return "valtatie", 88.0
    if big >= 10000:
        return "kantatie", 82.0
    return "seututie", 72.0


def facts_from_finland(
    region_code: str | int,
    *,
    year: int = 2022,
    seed: int = 0,
    finland_dir: str | Path | None = None,
) -> RegionFacts:
    """Build a facts table for a mainland region from the packaged national tables.

    Used for the offline national test set: real municipalities (2023
    division), real populations (THL Sotkanet) and real central localities
    (National Land Survey), all from :mod:`optimizer.finland`, with a
    synthetic road skeleton that links each municipal centre to its two
    nearest neighbours and along a minimum spanning tree (so every region is
    connected). A municipality without a central locality (Pertunmaa,
    Tuusula) gets a representative point of its real boundary.

    Parameters
    ----------
    region_code
        Anything :func:`optimizer.finland.find_region` accepts, e.g. ``12``,
        ``"12"`` or ``"Kainuu"``.
    year
        Population year (Sotkanet, 2000-2022).
    seed
        Random seed of the generated region.
    finland_dir
        Ignored; kept for one release so old calls keep working (the national
        tables ship with the package).

    Returns
    -------
    RegionFacts
        Facts whose roads are synthetic (marked in ``sources``).

    Raises
    ------
    UnknownRegionError
        If the region is not a mainland region.
    DataError
        If the year is not in the population table.
    """
    from scipy.sparse.csgraph import minimum_spanning_tree

    if finland_dir is not None:
        logger.warning("finland_dir is ignored: the national tables ship with the package")
    info = finland.find_region(region_code)
    codes = finland.municipalities_of_region(info)
    names = finland.municipality_key().set_index("kunta")["municipality_name_fi"]
    pops = finland.municipality_populations(year, codes=codes)
    centres = finland.central_localities(codes).to_crs(4326)
    fallback = (
        finland.municipality_boundaries(codes).set_index("kunta").geometry.representative_point()
    )
    fallback = fallback.set_crs(CRS, allow_override=True).to_crs(4326)

    municipalities: list[MunicipalityFact] = []
    for code in codes:
        point = centres.geometry[code] if code in centres.index else fallback[code]
        pop = int(pops[code])
        size = np.log10(max(pop, 1000) / 1000.0)
        municipalities.append(
            MunicipalityFact(
                code=code,
                name=str(names[code]),
                population=pop,
                lon=float(point.x),
                lat=float(point.y),
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
        cls, speed = _road_class(min(a.population, b.population), max(a.population, b.population))
        roads.append(
            RoadFact(
                ref=f"S{i}-{j}",
                name=f"{a.name}-{b.name}",
                road_class=cls,
                speed_kmh=speed,
                via=(a.name, b.name),
            )
        )
    facts = RegionFacts(
        name=info.name_fi,
        slug=info.slug,
        code=info.code,
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
    check_facts(facts, source=f"packaged national tables, region {info.code}")
    return facts


def write_synthetic_bundle(
    facts: RegionFacts,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Generate a synthetic region from facts and write it as a bundle.

    The grid and roads are marked synthetic in ``region.toml``; so is the
    outline unless it is the union of real ``boundaries``. The sites sit at
    the real coordinates of the facts table.

    Parameters
    ----------
    facts
        The facts table.
    out_dir
        The bundle folder to write (atomically).
    seed
        Random seed; defaults to ``facts.seed``.
    boundaries
        Real municipal boundaries for the cell placement and the outline (see
        :func:`generate_region`).
    overwrite
        Replace an existing bundle.

    Returns
    -------
    pathlib.Path
        The bundle folder.
    """
    from optimizer.region import Region, RegionMeta, save_region

    gen = generate_region(facts, seed=seed, boundaries=boundaries)
    real_outline = boundaries is not None
    sources = {
        **{f"facts_{k}": v for k, v in facts.sources.items()},
        "population": "SYNTHETIC 1 km grid generated by optimizer.sources.synthetic; municipal "
        "totals equal the facts table"
        + ("; cells placed inside the real municipal boundaries" if real_outline else ""),
        "roads": "SYNTHETIC road graph along the facts table's road links plus local roads",
        "sites": "municipal centres and flagged localities at the facts table's coordinates",
        "boundary": (
            "Statistics Finland municipality boundaries 1:4 500 000 (2019 polygons merged to "
            "the 2023 division, packaged in data/finland), dissolved"
            if real_outline
            else "SYNTHETIC outline: inhabited cells buffered by 5 km"
        ),
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
                **({"boundary": "CC BY 4.0, Statistics Finland"} if real_outline else {}),
            },
            synthetic={
                "population": True,
                "roads": True,
                "sites": False,
                "boundary": not real_outline,
            },
            notes=_SYNTHETIC_NOTE,
        ),
    )
    return save_region(region, out_dir, overwrite=overwrite)


def write_national_bundles(
    *,
    out_root: str | Path,
    codes: Iterable[str | int] | None = None,
    year: int = 2022,
    overwrite: bool = False,
    finland_dir: str | Path | None = None,
) -> list[Path]:
    """Write synthetic bundles for mainland regions (the offline national test set).

    Everything comes from the national tables shipped with the package
    (:mod:`optimizer.finland`); no folder outside the repository is read.

    Parameters
    ----------
    out_root
        Each region is written to ``out_root/<slug>``.
    codes
        Region codes or names; all 18 mainland regions when ``None``.
    year
        Population year.
    overwrite
        Replace existing bundles; otherwise existing ones are kept as they are.
    finland_dir
        Ignored; kept for one release so old calls keep working.

    Returns
    -------
    list of pathlib.Path
        The bundle folders, in the order of ``codes``.
    """
    if finland_dir is not None:
        logger.warning("finland_dir is ignored: the national tables ship with the package")
    infos = (
        list(finland.MAINLAND_REGIONS) if codes is None else [finland.find_region(c) for c in codes]
    )
    out: list[Path] = []
    for info in infos:
        target = Path(out_root) / info.slug
        if target.exists() and not overwrite:
            out.append(target)
            continue
        facts = facts_from_finland(info, year=year, seed=int(info.code))
        out.append(write_synthetic_bundle(facts, target, overwrite=overwrite))
    return out

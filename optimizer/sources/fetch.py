"""Build a region bundle from the online sources: :func:`fetch_region`.

For any of the 18 mainland regions (:data:`optimizer.finland.MAINLAND_REGIONS`)
it puts together:

- the municipality boundaries and the 1 km population grid from Statistics
  Finland's WFS (:mod:`optimizer.sources.wfs`);
- the drive network from OpenStreetMap (downloaded with OSMnx, or read from a
  local ``.osm.pbf``/``.graphml``/``.gpkg``), reduced to its strongly
  connected core;
- candidate sites at the real central localities of the region's
  municipalities (National Land Survey label points shipped in
  ``data/finland``, :func:`optimizer.finland.central_localities`), plus the
  sites of an optional file of your own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
import requests
import shapely
from pyproj import CRS

from optimizer import finland
from optimizer import network as _network
from optimizer._files import read_csv
from optimizer._sites import read_sites
from optimizer.errors import DataError, OutputError
from optimizer.finland import RegionInfo, find_region, municipalities_of_region
from optimizer.population import format_municipality_code
from optimizer.region import Region, RegionMeta, check_road_coverage, save_region
from optimizer.settings import Settings, get_settings
from optimizer.sources import osm as _osm
from optimizer.sources.wfs import (
    AREAS_WFS_URL,
    DEFAULT_YEAR,
    POPULATION_WFS_URL,
    check_year,
    municipalities_from_wfs,
    new_session,
    population_grid_from_wfs,
)

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["ROAD_BUFFER_M", "fetch_region", "sites_from_municipalities"]

logger = logging.getLogger(__name__)

ROAD_BUFFER_M = 5000.0
"""Metres added around a region before downloading its roads.

The 1:4 500 000 boundaries are generalised by up to a few kilometres, and
roads that leave the region briefly still serve it. Near the national border
the buffer also takes in a few kilometres of foreign roads.
"""


def _read_localities(localities: str | Path | pd.DataFrame) -> dict[str, shapely.Point]:
    """Return municipality code -> central locality point in EPSG:3067."""
    if isinstance(localities, gpd.GeoDataFrame):
        points = localities.to_crs(3067)
        codes = [format_municipality_code(v) for v in points.index]
        return {c: p for c, p in zip(codes, points.geometry, strict=True) if c}
    if isinstance(localities, pd.DataFrame):
        frame = localities.copy()
        source = "central_localities"
    else:
        source = str(localities)
        frame = read_csv(localities, what="central localities file", dtype={"kuntatunnus": str})
    missing = sorted({"kuntatunnus", "X", "Y"} - set(frame.columns))
    if missing:
        raise DataError(
            f"{source} lacks column(s) {', '.join(missing)}; expected the NLS central "
            "locality points: 'kuntatunnus' (municipality code), 'X' (lon), 'Y' (lat), "
            "'teksti' (name)"
        )
    codes = [format_municipality_code(v) for v in frame["kuntatunnus"]]
    projected = gpd.GeoSeries(gpd.points_from_xy(frame["X"], frame["Y"]), crs="EPSG:4326").to_crs(
        3067
    )
    return {c: p for c, p in zip(codes, projected, strict=True) if c}


def sites_from_municipalities(
    municipalities: gpd.GeoDataFrame,
    *,
    central_localities: str | Path | pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Place a candidate site at the centre of each municipality.

    The centre is the municipality's central locality where one is given and
    lies inside the municipality, otherwise a representative point of its
    boundary (a point guaranteed to be inside it; logged as a warning).

    Parameters
    ----------
    municipalities
        Boundaries with columns ``kunta`` and ``nimi`` (as from
        :func:`~optimizer.sources.wfs.municipalities_from_wfs`), in EPSG:3067.
    central_localities
        Central locality points: a GeoDataFrame indexed by municipality code
        (as from :func:`optimizer.finland.central_localities`), or the National
        Land Survey table (CSV or frame with ``kuntatunnus``, ``X`` = longitude,
        ``Y`` = latitude in WGS84).

    Returns
    -------
    geopandas.GeoDataFrame
        Sites in the bundle schema: index ``site_id`` (``"centre-167"``),
        columns ``name``, ``municipality``, ``kind`` (``"municipal_centre"``),
        ``required`` (False), ``annual_cost`` and ``capacity`` (NaN), points in
        EPSG:3067.

    Raises
    ------
    DataError
        If a column is missing or the boundaries are not in EPSG:3067.
    """
    missing = sorted({"kunta", "nimi"} - set(municipalities.columns))
    if missing:
        raise DataError(f"municipality boundaries lack column(s) {', '.join(missing)}")
    if municipalities.crs is None or not CRS.from_user_input(municipalities.crs).equals(
        CRS.from_epsg(3067)
    ):
        raise DataError(
            f"municipality boundaries are in {municipalities.crs}; expected EPSG:3067 "
            "(reproject with to_crs(3067))"
        )
    centres = _read_localities(central_localities) if central_localities is not None else {}
    rows = []
    for kunta, name, boundary in zip(
        municipalities["kunta"], municipalities["nimi"], municipalities.geometry, strict=True
    ):
        code = format_municipality_code(kunta)
        point = centres.get(code or "")
        if point is not None and not boundary.covers(point):
            logger.warning(
                "central locality of %s (%s) lies outside its boundary; using a point inside",
                name,
                code,
            )
            point = None
        if point is None:
            if centres:
                logger.warning(
                    "no central locality for %s (%s); the site is a point inside the "
                    "municipality, not its centre",
                    name,
                    code,
                )
            point = boundary.representative_point()
        rows.append(
            {
                "site_id": f"centre-{code}",
                "name": str(name),
                "municipality": code,
                "kind": "municipal_centre",
                "required": False,
                "annual_cost": math.nan,
                "capacity": math.nan,
                "geometry": point,
            }
        )
    sites = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:3067").set_index("site_id")
    sites["required"] = sites["required"].astype(bool)
    return sites


@contextlib.contextmanager
def _progress(progress: bool | Progress | None, total: int) -> Iterator[Callable[[str], None]]:
    """Yield a function that advances a progress bar by one step (or does nothing)."""
    if progress is None or progress is False:
        yield lambda description: None
        return
    if progress is True:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("fetching", total=total)
            yield lambda description: bar.update(task, advance=1, description=description)
        return
    task = progress.add_task("fetching", total=total)
    try:
        yield lambda description: progress.update(task, advance=1, description=description)
    finally:
        progress.update(task, completed=total)


def _with_own_sites(
    centres: gpd.GeoDataFrame, sites_file: str | Path | None, *, crs: str
) -> gpd.GeoDataFrame:
    if sites_file is None:
        return centres
    own = read_sites(sites_file, crs=crs)
    clash = sorted(set(own.index) & set(centres.index))
    if clash:
        raise DataError(
            f"{sites_file}: site_id(s) {', '.join(clash[:10])} are already used by the "
            "municipal centres; rename them"
        )
    return gpd.GeoDataFrame(pd.concat([centres, own]), geometry="geometry", crs=crs)


def fetch_region(
    region: str | int | RegionInfo,
    *,
    out_dir: str | Path,
    year: int = DEFAULT_YEAR,
    progress: bool | Progress = False,
    settings: Settings | None = None,
    session: requests.Session | None = None,
    roads_file: str | Path | None = None,
    central_localities: str | Path | pd.DataFrame | None = None,
    sites_file: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Build a region bundle from the online sources.

    Downloads the region's municipality boundaries and 1 km population grid
    from Statistics Finland and its drive network from OpenStreetMap (OSMnx,
    the region buffered by :data:`ROAD_BUFFER_M`, reduced to its strongly
    connected core), and places candidate sites at the real central
    localities of its municipalities. Downloads are cached under
    ``settings.cache_dir``. The sources are checked before the large downloads
    start, so an offline machine fails at once. The bundle must pass the
    road-coverage check (:func:`optimizer.region.check_road_coverage`).

    The bundle folder holds ``population.gpkg`` (layer ``population``),
    ``roads.gpkg``, ``sites.gpkg`` (layer ``sites``), ``boundary.gpkg``
    (the municipality boundaries) and ``region.toml`` (name, slug, code, year,
    CRS, ``[layers]``, ``[sources]``, ``[licences]`` and ``[synthetic]``, all
    false). It is written to a temporary folder beside it and moved into place
    at the end, so a failed fetch leaves nothing behind.

    Parameters
    ----------
    region
        Region code or name (see :func:`optimizer.finland.find_region`).
    out_dir
        The bundle folder to create, e.g. ``settings.cache_dir / "regions" / "kainuu"``.
    year
        Reference year of the population grid and of the boundaries.
    progress
        ``True`` shows a progress bar on the terminal; a ``rich.progress.Progress``
        gets a task of its own; ``False`` shows nothing.
    settings
        Cache folder, HTTP timeout and ``max_uncovered_share`` (default:
        :func:`~optimizer.settings.get_settings`).
    session
        The HTTP session for the Statistics Finland requests and the Overpass
        reachability check (default: a new one).
    roads_file
        Read the roads from this local ``.osm.pbf`` (e.g. Geofabrik's
        ``finland-latest.osm.pbf``), ``.graphml`` or ``.gpkg`` instead of
        downloading them.
    central_localities
        Central locality points to place the municipal-centre sites at
        (see :func:`sites_from_municipalities`); default the packaged
        National Land Survey points of the region's municipalities.
    sites_file
        Extra candidate sites from your own file (any CRS; see
        :func:`optimizer._sites.read_sites`), added to the municipal centres.
    overwrite
        Replace an existing bundle folder.

    Returns
    -------
    pathlib.Path
        The bundle folder.

    Raises
    ------
    UnknownRegionError
        If the region is not one of the 18 mainland regions.
    OutputError
        If the bundle folder exists and ``overwrite`` is false, or cannot be written.
    SourceUnavailableError
        If a source cannot be reached; the message names the endpoint and points
        to ``optimizer bundle --from-files``.
    DataError, NetworkError
        If a source answers with unusable data, or the roads do not cover the
        residents.
    """
    info = find_region(region)
    year = check_year(year)
    settings = settings or get_settings()
    target = Path(out_dir)
    if target.exists() and not overwrite:
        raise OutputError(
            f"bundle folder {target} already exists; pass overwrite=True to replace it"
        )
    if year < 2021:
        logger.warning(
            "year %d predates the 2021 municipal division of the packaged key; the region's "
            "municipality list may not match the %d grid",
            year,
            year,
        )
    codes = municipalities_of_region(info)
    localities = (
        finland.central_localities(codes) if central_localities is None else central_localities
    )
    own_session = session is None
    session = session or new_session()
    today = dt.date.today().isoformat()
    try:
        with _progress(progress, total=6) as advance:
            advance(f"{info.name_fi}: municipality boundaries")
            boundaries = municipalities_from_wfs(
                year=year, municipalities=codes, session=session, settings=settings
            )
            if roads_file is None:
                advance(f"{info.name_fi}: checking OpenStreetMap")
                import osmnx as ox

                _osm.check_overpass(session, ox.settings.overpass_url, settings=settings)
            else:
                advance(f"{info.name_fi}: roads from {Path(roads_file).name}")
            advance(f"{info.name_fi}: population grid {year}")
            grid = population_grid_from_wfs(
                year=year, municipalities=codes, session=session, settings=settings
            )
            advance(f"{info.name_fi}: road network")
            area = shapely.union_all(boundaries.geometry.to_numpy()).buffer(ROAD_BUFFER_M)
            if roads_file is None:
                roads = _osm.network_from_polygon(
                    area, crs="EPSG:3067", settings=settings, session=session
                )
                roads_source = (
                    "OpenStreetMap drive network downloaded with OSMnx from the Overpass API "
                    f"({ox.settings.overpass_url}) on {today}, region buffered by "
                    f"{ROAD_BUFFER_M / 1000:g} km"
                )
            else:
                roads = _osm.network_from_file(roads_file, bounding_box=area)
                if not all("travel_time" in d for _, _, d in roads.edges(data=True)):
                    _network.add_travel_times(roads)
                roads_source = f"OpenStreetMap data from the local file {Path(roads_file).name}"
            roads = _network.largest_strong_component(roads)
            _network.validate_roads(roads, source=roads_source)
            check_road_coverage(
                roads, grid, source=f"{info.name_fi} ({roads_source})", settings=settings
            )
            advance(f"{info.name_fi}: candidate sites")
            sites = _with_own_sites(
                sites_from_municipalities(boundaries, central_localities=localities),
                sites_file,
                crs=settings.crs,
            )
            advance(f"{info.name_fi}: writing {target}")
            region_obj = Region(
                name=info.name_fi,
                slug=info.slug,
                code=info.code,
                year=year,
                crs="EPSG:3067",
                population=grid,
                roads=roads,
                sites=sites,
                boundary=boundaries,
                meta=_region_meta(
                    info, year=year, today=today, roads_source=roads_source, sites_file=sites_file
                ),
            )
            save_region(region_obj, target, overwrite=overwrite)
    finally:
        if own_session:
            session.close()
    logger.info(
        "wrote bundle %s: %d cells (%.0f residents), %d nodes, %d edges, %d sites",
        target,
        len(grid),
        grid["population"].sum(),
        roads.number_of_nodes(),
        roads.number_of_edges(),
        len(sites),
    )
    return target


def _region_meta(
    info: RegionInfo, *, year: int, today: str, roads_source: str, sites_file: str | Path | None
) -> RegionMeta:
    boundaries = (
        f"Statistics Finland municipality boundaries 1:4 500 000 "
        f"(tilastointialueet:kunta4500k_{year}, {AREAS_WFS_URL}), downloaded {today}"
    )
    sites = (
        "Municipal centres: National Land Survey central locality label points (packaged "
        "in optimizer/data/finland), inside the " + boundaries
    )
    if sites_file is not None:
        sites += f"; plus the sites of {Path(sites_file).name}"
    return RegionMeta(
        synthetic={"population": False, "roads": False, "sites": False, "boundary": False},
        sources={
            "population": (
                f"Statistics Finland, population grid 1 km x 1 km, 31 Dec {year} "
                f"(vaestoruutu:vaki{year}_1km, {POPULATION_WFS_URL}), downloaded {today}"
            ),
            "roads": roads_source,
            "sites": sites,
            "boundary": boundaries,
        },
        licences={
            "population": "CC BY 4.0, Statistics Finland",
            "roads": "ODbL 1.0, © OpenStreetMap contributors",
            "sites": "CC BY 4.0, Statistics Finland and National Land Survey of Finland",
            "boundary": "CC BY 4.0, Statistics Finland",
        },
    )

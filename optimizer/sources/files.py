"""Build a region bundle from your own files: :func:`bundle_from_files`.

The files may be in any CRS their format declares (a shapefile's ``.prj``,
ESRI WKT included); every layer is reprojected to the settings' CRS, and each
step is logged and recorded in the bundle's ``[sources]``. Column names are
mapped (residents, ids, ages; site names and ids), age bands are mapped onto
the bundle's age groups (:mod:`optimizer._ages`), suppression codes become
missing values, and the bundle must pass the same checks as on load: plausible
populations, roads that cover the residents, sites inside the region.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from optimizer._ages import SUPPRESSION_CODES, AgeBand, describe_bands, parse_age_band
from optimizer._files import crs_label, read_vector
from optimizer._names import safe_name
from optimizer._region_toml import LAYERS
from optimizer._sites import read_sites
from optimizer.errors import CRSError, DataError
from optimizer.population import cell_size, check_extent, read_population
from optimizer.region import (
    Region,
    RegionMeta,
    check_road_coverage,
    load_roads,
    save_region,
    validate_sites,
)
from optimizer.settings import Settings, get_settings

__all__ = ["bundle_from_files"]

logger = logging.getLogger(__name__)


def _read_boundary(path: str | os.PathLike[str], crs: str) -> gpd.GeoDataFrame:
    boundary = read_vector(path, what="boundary file")
    if boundary.crs is None:
        raise CRSError(f"boundary file {path} declares no CRS; save it with its CRS")
    if not boundary.crs.equals(crs):
        logger.info("reprojecting boundary %s from %s to %s", path, crs_label(boundary.crs), crs)
        boundary = boundary.to_crs(crs)
    polygons = boundary.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygons.all() or len(boundary) == 0:
        raise DataError(f"boundary file {path} must hold polygons (the region's outline)")
    return boundary


def _clip(grid: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, *, source: str) -> gpd.GeoDataFrame:
    tree = shapely.STRtree(boundary.geometry.to_numpy())
    centres = shapely.centroid(grid.geometry.to_numpy())
    inside = np.zeros(len(grid), dtype=bool)
    inside[tree.query(centres, predicate="covered_by")[0]] = True
    if not inside.any():
        raise DataError(
            f"{source}: no cell of the grid lies inside the boundary; check that both cover "
            "the same area"
        )
    dropped = grid.loc[~inside, "population"]
    logger.info(
        "clipped the grid to the boundary: kept %d cells, dropped %d cells with %.0f residents",
        int(inside.sum()),
        len(dropped),
        dropped.sum(),
    )
    return grid[inside]


def _synthetic_flags(synthetic: Mapping[str, bool] | Iterable[str] | None) -> dict[str, bool]:
    flags = dict.fromkeys(LAYERS, False)
    if synthetic is None:
        return flags
    given = dict(synthetic) if isinstance(synthetic, Mapping) else dict.fromkeys(synthetic, True)
    unknown = sorted(set(given) - set(LAYERS))
    if unknown:
        raise DataError(
            f"synthetic layer(s) {', '.join(unknown)} unknown; layers: {', '.join(LAYERS)}"
        )
    return {**flags, **{k: bool(v) for k, v in given.items()}}


def bundle_from_files(
    *,
    out_dir: str | os.PathLike[str],
    name: str,
    code: str,
    year: int,
    population_file: str | os.PathLike[str],
    roads_file: str | os.PathLike[str],
    sites_file: str | os.PathLike[str],
    slug: str | None = None,
    boundary_file: str | os.PathLike[str] | None = None,
    population_columns: Mapping[str, str] | None = None,
    age_bands: Sequence[AgeBand | str] | None = None,
    suppression_codes: Iterable[float] = SUPPRESSION_CODES,
    site_columns: Mapping[str, str] | None = None,
    clip_to_boundary: bool = False,
    sources_text: Mapping[str, str] | None = None,
    licences: Mapping[str, str] | None = None,
    synthetic: Mapping[str, bool] | Iterable[str] | None = None,
    overwrite: bool = False,
    settings: Settings | None = None,
) -> Path:
    """Build a bundle from your own grid, roads and sites files.

    Parameters
    ----------
    out_dir
        The bundle folder to write.
    name, code, year
        Region name, maakunta code (or your own code) and data year.
    population_file
        Grid cells (GeoPackage, GeoJSON, shapefile; any CRS); see
        :func:`optimizer.population.read_population`.
    roads_file
        ``.graphml``, ``.gpkg`` (nodes and edges) or ``.osm.pbf``; in any CRS.
    sites_file
        Candidate sites (any CRS): at least a name column; ``municipality``,
        ``kind`` and ``required`` are filled when absent (see
        :func:`optimizer._sites.read_sites`).
    slug
        Short name used on the command line (defaults to the folder name); must
        pass :func:`optimizer._names.safe_name`.
    boundary_file
        Optional region outline (any CRS); sites must lie inside it.
    population_columns
        Bundle field -> your grid's column, e.g.
        ``{"population": "ASUKKAITA", "cell_id": "INDEX"}``.
    age_bands
        Your grid's age bands, e.g. ``["IKA0_9=0-9", ..., "IKA_YLI80=80+"]`` or
        :data:`optimizer.population.HSY_AGE_BANDS`.
    suppression_codes
        Codes for hidden counts in the age fields (default -1 and 99).
    site_columns
        Bundle field -> your sites' column, e.g. ``{"name": "address"}``.
    clip_to_boundary
        Keep only the cells whose centre lies inside the boundary (needs
        ``boundary_file``); the dropped cells and residents are logged.
    sources_text, licences
        Provenance written to ``region.toml`` (default: the file names and what
        was done to them).
    synthetic
        The synthetic layers: a mapping of layer to flag, or the names of the
        synthetic layers.
    overwrite
        Replace an existing bundle.
    settings
        CRS and ``max_uncovered_share``.

    Returns
    -------
    pathlib.Path
        The written bundle folder.

    Raises
    ------
    BundleNotFoundError, DataError, CRSError, NetworkError
        If a file is missing or unreadable, a layer fails validation, or the
        roads leave too many residents uncovered (the message names the area).
    OutputError
        If the bundle cannot be written.
    """
    settings = settings or get_settings()
    out = Path(out_dir)
    slug = safe_name(slug or out.name, what="bundle slug")
    flags = _synthetic_flags(synthetic)
    bands = [b if isinstance(b, AgeBand) else parse_age_band(b) for b in age_bands or ()]
    if clip_to_boundary and boundary_file is None:
        raise DataError("clip_to_boundary needs a boundary file (--boundary)")
    pop = read_population(
        population_file,
        columns=population_columns,
        age_bands=bands,
        suppression_codes=suppression_codes,
        crs=settings.crs,
        reproject=True,
    )
    if settings.crs.upper() == "EPSG:3067":
        check_extent(pop, source=str(population_file))
    boundary = _read_boundary(boundary_file, settings.crs) if boundary_file else None
    if clip_to_boundary and boundary is not None:
        pop = _clip(pop, boundary, source=str(population_file))
    size = cell_size(pop)
    logger.info(
        "grid %s: %d cells of %g m, %.0f residents",
        population_file,
        len(pop),
        size,
        pop["population"].sum(),
    )
    roads = load_roads(roads_file, crs=settings.crs)
    sites = validate_sites(
        read_sites(sites_file, columns=site_columns, crs=settings.crs),
        source=str(sites_file),
        boundary=boundary,
        population_grid=pop,
        crs=settings.crs,
    )
    check_road_coverage(
        roads, pop, source=f"{population_file} with the roads of {roads_file}", settings=settings
    )
    default_sources = {
        "population": f"{Path(population_file).name}: {len(pop)} cells of {size:g} m"
        + (f"; {describe_bands(bands)}" if bands else "")
        + ("; clipped to the boundary" if clip_to_boundary else ""),
        "roads": Path(roads_file).name,
        "sites": Path(sites_file).name,
    }
    if boundary_file:
        default_sources["boundary"] = Path(boundary_file).name
    region = Region(
        name=name,
        slug=slug,
        code=str(code),
        year=int(year),
        crs=settings.crs,
        population=pop,
        roads=roads,
        sites=sites,
        boundary=boundary,
        meta=RegionMeta(
            sources=dict(sources_text or default_sources),
            licences=dict(licences or {}),
            synthetic=flags
            if boundary is not None
            else {k: v for k, v in flags.items() if k != "boundary"},
        ),
    )
    return save_region(region, out, overwrite=overwrite)

"""Candidate sites: read your own file, check a sites layer against the bundle schema.

A sites layer holds points indexed by ``site_id`` with:

==================  ==========================================================
``name``            display name (text, required)
``municipality``    3-digit municipality code (``""`` when unknown)
``kind``            one of :data:`SITE_KINDS`
``required``        boolean (spellings: :mod:`optimizer._fields`)
``annual_cost``     optional, EUR per year (finite, >= 0; NaN = unknown)
``capacity``        optional, visits per year (finite, >= 0; NaN = unlimited)
==================  ==========================================================

:func:`read_sites` reads a user's file in any CRS and any column names and
fills what it lacks (``kind`` = ``"other"``, ``required`` = false,
``municipality`` unknown); :func:`validate_sites` checks a layer as a bundle
holds it. Whether the sites lie in the region is checked against the
boundary polygons (an STR-tree query, no union) or, without a boundary,
against the grid cells (nearest cell within :data:`MAX_SITE_DISTANCE_M`, no
buffer of the grid).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from optimizer._fields import bool_column, check_renames, name_rows, numeric_column
from optimizer._files import read_vector
from optimizer.errors import CRSError, DataError
from optimizer.population import crs_label, format_municipality_code

__all__ = [
    "MAX_SITE_DISTANCE_M",
    "SITE_COLUMNS",
    "SITE_KINDS",
    "read_sites",
    "validate_sites",
]

logger = logging.getLogger(__name__)

SITE_KINDS: tuple[str, ...] = ("municipal_centre", "existing_office", "other")
"""Allowed values of a site's ``kind``."""

SITE_COLUMNS: tuple[str, ...] = ("site_id", "name", "municipality", "kind", "required")
"""Keys of a ``columns=`` mapping for :func:`read_sites` (plus the optional numbers)."""

MAX_SITE_DISTANCE_M = 10_000.0
"""Without a boundary, a site must lie this close to a grid cell."""

_OPTIONAL_NUMBERS = ("annual_cost", "capacity")


def read_sites(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    crs: str = "EPSG:3067",
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read candidate sites from your own file, reprojecting them to ``crs``.

    Parameters
    ----------
    path
        Points in any format GDAL reads, in any CRS the file declares.
    columns
        Bundle field -> column of the file, for the keys ``site_id``, ``name``,
        ``municipality``, ``kind``, ``required``, ``annual_cost`` and
        ``capacity``; e.g. ``{"name": "address"}``.
    crs
        The CRS to reproject to.
    layer
        The layer of a multi-layer file (default the first).

    Returns
    -------
    geopandas.GeoDataFrame
        Sites indexed by ``site_id`` (``site-0``, ``site-1``... when the file
        has none) with every bundle field, not yet checked (see
        :func:`validate_sites`).

    Raises
    ------
    BundleNotFoundError, DataError, CRSError
        If the file cannot be read, a mapped column is missing, the file has
        no ``name`` column or no CRS.
    """
    source = str(path)
    sites = read_vector(path, what="sites file", layer=layer)
    mapping = dict(columns or {})
    check_renames(
        mapping,
        allowed=(*SITE_COLUMNS, *_OPTIONAL_NUMBERS),
        present=list(sites.columns),
        source=source,
        option="the site columns",
    )
    sites = sites.rename(columns={v: k for k, v in mapping.items()})
    if "site_id" in sites.columns:
        sites = sites.set_index("site_id")
    else:
        sites.index = pd.Index([f"site-{i}" for i in range(len(sites))])
    sites.index = pd.Index([str(i) for i in sites.index], name="site_id")
    if "name" not in sites.columns:
        raise DataError(
            f"{source}: the sites have no 'name' column; name the column that holds the "
            f"site names (columns present: {', '.join(map(str, sites.columns))})"
        )
    if sites.crs is None:
        raise CRSError(
            f"{source}: the sites file declares no CRS; save it with its CRS (e.g. a .prj "
            "beside a shapefile)"
        )
    if not CRS.from_user_input(sites.crs).equals(CRS.from_user_input(crs)):
        logger.info("reprojecting sites %s from %s to %s", source, crs_label(sites.crs), crs)
        sites = sites.to_crs(crs)
    defaults = {"kind": "other", "required": False, "municipality": ""}
    for column, value in defaults.items():
        if column not in sites.columns:
            logger.info("%s has no '%s' column; every site gets %r", source, column, value)
            sites[column] = value
    return sites


def _inside_region(
    points: gpd.GeoSeries,
    *,
    boundary: gpd.GeoDataFrame | None,
    population_grid: gpd.GeoDataFrame | None,
    crs: str,
    source: str,
) -> np.ndarray | None:
    """Return which points lie in the region, or ``None`` when there is no outline."""
    geoms = points.to_numpy()
    if boundary is not None:
        if boundary.crs is None:
            raise CRSError(f"the boundary layer of {source} has no CRS; expected {crs}")
        polygons = boundary.to_crs(crs).geometry.to_numpy()
        tree = shapely.STRtree(polygons)
        hits = tree.query(geoms, predicate="covered_by")
        inside = np.zeros(len(geoms), dtype=bool)
        inside[hits[0]] = True
        return inside
    if population_grid is not None and len(population_grid):
        tree = shapely.STRtree(population_grid.geometry.to_numpy())
        # A spatial-index query per site, not a buffer of the whole grid.
        near = tree.query(geoms, predicate="dwithin", distance=MAX_SITE_DISTANCE_M)
        inside = np.zeros(len(geoms), dtype=bool)
        inside[near[0]] = True
        return inside
    return None


def validate_sites(
    sites: gpd.GeoDataFrame,
    *,
    source: str,
    boundary: gpd.GeoDataFrame | None = None,
    population_grid: gpd.GeoDataFrame | None = None,
    crs: str = "EPSG:3067",
) -> gpd.GeoDataFrame:
    """Check a candidate-site layer and return it with normalised columns.

    Parameters
    ----------
    sites
        Sites indexed by ``site_id`` with ``name``, ``municipality``, ``kind``,
        ``required`` and optional ``annual_cost``, ``capacity``.
    source
        The file the sites came from (named in error messages).
    boundary
        Region outline; every site must lie inside one of its polygons.
    population_grid
        Without a boundary: every site must lie within
        :data:`MAX_SITE_DISTANCE_M` (10 km) of a grid cell.
    crs
        The CRS the sites must be in.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites with ``required`` as bool, ``municipality`` as 3-digit codes
        (``""`` when unknown) and ``annual_cost``/``capacity`` as float.

    Raises
    ------
    DataError, CRSError
        Naming the file, the field and the sites at fault.
    """
    if len(sites) == 0:
        raise DataError(f"{source}: no candidate sites; add at least one point")
    if sites.crs is None or not sites.crs.equals(crs):
        raise CRSError(
            f"{source}: sites are in {crs_label(sites.crs)}, expected {crs}; reproject with "
            f"to_crs({crs!r})"
        )
    missing = [c for c in ("name", "municipality", "kind", "required") if c not in sites.columns]
    if missing:
        raise DataError(
            f"{source}: sites lack the field(s) {missing}; required: name, municipality, "
            "kind, required"
        )
    ids = pd.Index([str(i) for i in sites.index], name="site_id")
    blank = [i for i in ids if not i.strip()]
    if blank:
        raise DataError(
            f"{source}: {len(blank)} site(s) have an empty site_id; give every site one"
        )
    if ids.has_duplicates:
        dup = sorted(set(ids[ids.duplicated()]))
        raise DataError(f"{source}: duplicate site_id values {name_rows(dup)}")
    out = sites.copy()
    out.index = ids
    geom = out.geometry
    bad_geom = geom.isna() | geom.is_empty | (geom.geom_type != "Point")
    if bad_geom.any():
        raise DataError(
            f"{source}: field geometry: sites {name_rows(out.index[bad_geom])} are not points"
        )
    names = out["name"]
    no_name = names.isna() | names.map(lambda v: not str(v).strip())
    if no_name.any():
        raise DataError(f"{source}: field name is empty for sites {name_rows(out.index[no_name])}")
    out["name"] = names.astype(str)
    kinds = out["kind"].astype(str)
    wrong = ~kinds.isin(SITE_KINDS)
    if wrong.any():
        raise DataError(
            f"{source}: field kind has {sorted(set(kinds[wrong]))[:5]} for sites "
            f"{name_rows(out.index[wrong])}; allowed: {', '.join(SITE_KINDS)}"
        )
    out["kind"] = kinds
    out["required"] = bool_column(out["required"], source=source, field="required")
    out["municipality"] = _municipalities(out["municipality"], source=source)
    for col in _OPTIONAL_NUMBERS:
        values = (
            numeric_column(out[col], source=source, field=col, rows="site(s)")
            if col in out
            else pd.Series(np.nan, index=out.index)
        )
        bad = ~np.isfinite(values) & values.notna() | (values < 0)
        if bad.any():
            raise DataError(
                f"{source}: field {col} must be finite and >= 0 (or empty), but is not for "
                f"sites {name_rows(out.index[bad])}"
            )
        out[col] = values.astype(float)
    inside = _inside_region(
        out.geometry, boundary=boundary, population_grid=population_grid, crs=crs, source=source
    )
    if inside is not None and not inside.all():
        outside = out.index[~inside]
        shown = [f"{i} ({out.at[i, 'name']})" for i in outside[:10]]
        more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
        where = (
            "outside the region boundary"
            if boundary is not None
            else f"more than {MAX_SITE_DISTANCE_M / 1000:g} km from every grid cell"
        )
        raise DataError(
            f"{source}: {len(outside)} site(s) lie outside the region: {', '.join(shown)}{more} "
            f"({where}); move or remove them"
        )
    return out


def _municipalities(values: pd.Series, *, source: str) -> pd.Series:
    codes = []
    bad = []
    for sid, value in values.items():
        try:
            codes.append(format_municipality_code(value) or "")
        except DataError:
            codes.append("")
            bad.append(sid)
    if bad:
        raise DataError(
            f"{source}: field municipality must be a municipality code such as '167', but is "
            f"not for sites {name_rows(bad)}"
        )
    return pd.Series(codes, index=values.index, dtype=object)

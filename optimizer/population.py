"""Population grids: convert, read and validate population cells.

The bundle schema (see ``optimizer.region``) holds one row per grid cell:

==================  =====================================================
index ``cell_id``   cell identifier (``str``), e.g. ``"1kmN6943E641"``
geometry            cell polygon in EPSG:3067 (ETRS-TM35FIN)
``population``      residents (``float64``, finite, >= 0)
``age_0_14``        residents aged 0-14 (``float64``, NaN = unknown)
``age_15_64``       residents aged 15-64 (``float64``, NaN = unknown)
``age_65_plus``     residents aged 65 or over (``float64``, NaN = unknown)
``municipality``    3-digit municipality code (``str``, e.g. ``"091"``)
==================  =====================================================

Cells are squares of one size, usually 1 km (Statistics Finland) or 250 m
(HSY, the Helsinki region); :func:`cell_size` measures it. No cell may hold
more residents than :data:`MAX_CELL_RESIDENTS` (everyone in Finland), and the
age groups of a cell may not add up to more than its residents.

Statistics Finland publishes the grid as ``vaestoruutu:vaki{YEAR}_1km`` (cell
polygons), ``vaki{YEAR}_1km_kp`` (cell centre points) and ``vaki{YEAR}_5km``.
Its fields are ``grd_id``, ``xkoord`` and ``ykoord`` (the lower-left corner of
the cell, metres in EPSG:3067), ``vaesto`` (residents), ``miehet``, ``naiset``,
``ika_0_14``, ``ika_15_64``, ``ika_65_`` and ``kunta``. Only inhabited cells are
listed, and for cells with fewer than 10 residents every field but ``vaesto``
is ``-1`` (suppressed). :func:`grid_from_features` turns this schema into the
bundle schema, building each cell square from ``xkoord``/``ykoord`` so that the
point layer and the polygon layers give the same cells; without those fields
it takes the cell polygons in the CRS the input declares.

Any other grid file is read by :func:`read_population` with a mapping of its
columns, its age bands (see :mod:`optimizer._ages`: e.g. HSY's ten-year bands)
and its suppression codes, and reprojected when asked.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer._ages import (
    HSY_AGE_BANDS,
    SUPPRESSION_CODES,
    AgeBand,
    ages_from_bands,
    parse_age_band,
    suppress,
)
from optimizer._fields import check_renames, numeric_column
from optimizer._files import crs_label, read_vector
from optimizer._grid_checks import (
    AGE_COLUMNS,
    GRID_COLUMNS,
    MAX_CELL_RESIDENTS,
    STANDARD_CELL_SIZES_M,
    cell_size,
    check_extent,
    crs_message,
    format_municipality_code,
    municipality_codes,
    validate_population,
)
from optimizer.errors import CRSError, DataError

__all__ = [
    "AGE_COLUMNS",
    "GRID_COLUMNS",
    "HSY_AGE_BANDS",
    "MAX_CELL_RESIDENTS",
    "STANDARD_CELL_SIZES_M",
    "STATFI_FIELDS",
    "SUPPRESSED",
    "SUPPRESSION_CODES",
    "AgeBand",
    "cell_size",
    "check_extent",
    "format_municipality_code",
    "grid_from_features",
    "parse_age_band",
    "read_population",
    "validate_population",
]

logger = logging.getLogger(__name__)

STATFI_FIELDS: Mapping[str, str] = {
    "vaesto": "population",
    "ika_0_14": "age_0_14",
    "ika_15_64": "age_15_64",
    "ika_65_": "age_65_plus",
    "kunta": "municipality",
}
"""Statistics Finland grid field -> bundle column."""

SUPPRESSED = -1
"""Value Statistics Finland puts in every field but ``vaesto`` of cells under 10 people."""

_CELL_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*km", re.IGNORECASE)


def _frame_from_input(data: object, *, source: str) -> pd.DataFrame:
    """Return the features as a (Geo)DataFrame with lower-case column names."""
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    elif isinstance(data, Mapping):
        if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
            raise DataError(
                f"{source}: expected a GeoJSON FeatureCollection with a 'features' list, "
                f"got keys {sorted(data)}"
            )
        frame = _features_to_frame(data["features"], source=source)
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        frame = _features_to_frame(list(data), source=source)
    else:
        raise DataError(
            f"{source}: expected a GeoDataFrame, a GeoJSON FeatureCollection or a list of "
            f"features, got {type(data).__name__}"
        )
    frame.columns = [str(c).lower() if c != "geometry" else c for c in frame.columns]
    return frame


def _features_to_frame(features: list[Any], *, source: str) -> pd.DataFrame:
    if not features:
        return pd.DataFrame()
    rows = []
    geoms = []
    for i, feature in enumerate(features):
        if not isinstance(feature, Mapping) or "properties" not in feature:
            raise DataError(f"{source}: feature {i} is not a GeoJSON Feature with 'properties'")
        rows.append(dict(feature["properties"] or {}))
        geometry = feature.get("geometry")
        geoms.append(shapely.geometry.shape(geometry) if geometry else None)
    frame = pd.DataFrame(rows)
    frame["geometry"] = geoms
    return frame


def _infer_cell_size(frame: pd.DataFrame, cell_size: float | None) -> float:
    if cell_size is not None:
        if not cell_size > 0:
            raise DataError(f"cell_size must be positive metres, got {cell_size!r}")
        return float(cell_size)
    if "grd_id" in frame.columns and len(frame):
        match = _CELL_SIZE_RE.match(str(frame["grd_id"].iloc[0]))
        if match:
            return float(match.group(1)) * 1000.0
    if "geometry" in frame.columns and len(frame):
        geom = frame["geometry"].iloc[0]
        if isinstance(geom, (shapely.Polygon, shapely.MultiPolygon)):
            return float(round(math.sqrt(geom.area)))
    return 1000.0


def _input_crs(data: object, crs: str | None, *, source: str) -> CRS | None:
    """Return the CRS of the input's geometries: declared by the input, else ``crs``."""
    declared: object = None
    if isinstance(data, gpd.GeoDataFrame):
        declared = data.crs
    elif isinstance(data, Mapping) and isinstance(data.get("crs"), Mapping):
        declared = (data["crs"].get("properties") or {}).get("name")
    if declared is None:
        declared = crs
    if declared is None:
        return None
    try:
        return CRS.from_user_input(declared)
    except (PyprojCRSError, TypeError) as exc:
        raise CRSError(f"{source}: unreadable CRS {str(declared)[:80]!r}: {exc}") from None


def grid_from_features(
    data: gpd.GeoDataFrame | pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    year: int | None = None,
    source: str = "Statistics Finland population grid",
    cell_size: float | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Convert Statistics Finland grid features into the bundle population schema.

    Parameters
    ----------
    data
        The ``vaki{YEAR}_1km``, ``_1km_kp`` or ``_5km`` features: a GeoDataFrame
        (e.g. read from a downloaded file), a GeoJSON FeatureCollection mapping
        (the WFS answer) or a list of GeoJSON features.
    year
        Reference year of the grid (31 December), kept in ``attrs["year"]``.
    source
        Name of the file or service, used in error messages and ``attrs["source"]``.
    cell_size
        Cell edge in metres. By default it is read from the ``grd_id`` prefix
        (``"1km..."``, ``"5km..."``), else from the first polygon, else 1000.
    crs
        CRS of the geometries when the input does not declare one (a
        GeoDataFrame's ``crs``, a collection's ``crs`` member). Only needed when
        the cells must be placed by their polygons: ``xkoord``/``ykoord`` are
        EPSG:3067 by definition.

    Returns
    -------
    geopandas.GeoDataFrame
        The validated grid in the bundle schema (see the module docstring), in
        EPSG:3067. Suppressed age counts (``-1``) become NaN. Polygons in
        another CRS are reprojected.

    Raises
    ------
    DataError
        If required fields are missing or hold invalid values (see
        :func:`validate_population`), or the cells lie outside Finland.
    CRSError
        If the cells must be placed by polygons whose CRS is unknown.
    """
    frame = _frame_from_input(data, source=source)
    if frame.empty:
        raise DataError(
            f"{source}: the population grid has no cells; check the year, the bbox or the "
            "municipality filter"
        )
    if "vaesto" not in frame.columns:
        raise DataError(
            f"{source}: field 'vaesto' (residents) is missing; fields present: "
            f"{', '.join(sorted(map(str, frame.columns)))}"
        )
    size = _infer_cell_size(frame, cell_size)
    target = CRS.from_epsg(3067)

    if {"xkoord", "ykoord"} <= set(frame.columns):
        x = numeric_column(frame["xkoord"], source=source, field="xkoord").to_numpy()
        y = numeric_column(frame["ykoord"], source=source, field="ykoord").to_numpy()
        if np.isnan(x).any() or np.isnan(y).any():
            raise DataError(f"{source}: fields 'xkoord'/'ykoord' have missing values")
        geometry = shapely.box(x, y, x + size, y + size)
    elif "geometry" in frame.columns and all(
        isinstance(g, (shapely.Polygon, shapely.MultiPolygon)) for g in frame["geometry"]
    ):
        declared = _input_crs(data, crs, source=source)
        if declared is None:
            raise CRSError(
                f"{source}: the cells have no 'xkoord'/'ykoord' and their polygons declare no "
                "CRS; pass crs=... (e.g. 'EPSG:3067') or read a file that declares it"
            )
        polygons = gpd.GeoSeries(list(frame["geometry"]), crs=declared)
        if not declared.equals(target):
            logger.info(
                "%s: reprojecting the cells from %s to EPSG:3067", source, crs_label(declared)
            )
            polygons = polygons.to_crs(target)
            size = float(round(math.sqrt(float(np.median(polygons.area)))))
        geometry = polygons.to_numpy()
        # the corners to the metre: reprojected squares are off by millimetres
        bounds = np.round(shapely.bounds(geometry))
        x, y = bounds[:, 0], bounds[:, 1]
    else:
        raise DataError(
            f"{source}: fields 'xkoord' and 'ykoord' (lower-left corner of each cell) are "
            "missing and the geometries are not cell polygons; cannot place the cells"
        )

    if "grd_id" in frame.columns and frame["grd_id"].notna().all():
        cell_id = frame["grd_id"].astype(str).str.strip()
    else:
        km = f"{size / 1000:g}km"
        cell_id = pd.Series(
            [f"{km}N{int(yy // 1000)}E{int(xx // 1000)}" for xx, yy in zip(x, y, strict=True)]
        )

    index = pd.Index(cell_id.to_numpy(), name="cell_id", dtype=object)
    out = pd.DataFrame(index=index)
    out["population"] = numeric_column(frame["vaesto"], source=source, field="vaesto").to_numpy()
    ages = {}
    for field, column in STATFI_FIELDS.items():
        if column in ("population", "municipality"):
            continue
        if field in frame.columns:
            values = numeric_column(frame[field], source=source, field=field).to_numpy()
        else:
            values = np.full(len(frame), np.nan)
        ages[column] = values
    out[list(ages)] = suppress(
        pd.DataFrame(ages, index=index), out["population"], codes=(SUPPRESSED,)
    )
    if "kunta" in frame.columns:
        out["municipality"] = municipality_codes(
            pd.Series(frame["kunta"].to_numpy(), index=index), source=source, field="kunta"
        )
    else:
        out["municipality"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    grid = gpd.GeoDataFrame(out, geometry=list(geometry), crs="EPSG:3067")
    grid.attrs["source"] = source
    if year is not None:
        grid.attrs["year"] = int(year)
    logger.debug("converted %d grid cells of %g m from %s", len(grid), size, source)
    grid = validate_population(grid, source=source)
    check_extent(grid, source=source)
    return grid


def read_population(
    path: str | Path,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
    age_bands: Sequence[AgeBand | str] | None = None,
    suppression_codes: Iterable[float] = SUPPRESSION_CODES,
    crs: str = "EPSG:3067",
    reproject: bool = False,
) -> gpd.GeoDataFrame:
    """Read a population grid from a user's file (GeoPackage, GeoJSON, shapefile...).

    A file in the Statistics Finland schema (fields ``vaesto``, ``xkoord``,
    ``ykoord``...) is converted with :func:`grid_from_features`. Any other file
    must hold the bundle columns, or name them with ``columns`` and
    ``age_bands``.

    Parameters
    ----------
    path
        The file to read (any format GDAL reads).
    layer
        Layer to read from a multi-layer file (default: the first).
    columns
        Bundle column -> column in the file, for the keys ``cell_id``,
        ``population``, ``age_0_14``, ``age_15_64``, ``age_65_plus`` and
        ``municipality``; e.g. ``{"population": "ASUKKAITA", "cell_id": "INDEX"}``.
        Without a ``cell_id`` column the cells are numbered ``cell-0``, ``cell-1``...
    age_bands
        The file's age bands (:class:`AgeBand` or text like ``"IKA0_9=0-9"``),
        mapped onto the three age groups as :mod:`optimizer._ages` describes,
        e.g. :data:`HSY_AGE_BANDS`. Not together with age keys in ``columns``.
    suppression_codes
        Codes for hidden counts in the age fields (default: Statistics
        Finland's -1 and HSY's 99, applied by the rules of :mod:`optimizer._ages`).
    crs
        The CRS of the bundle.
    reproject
        Reproject a grid in another CRS to ``crs`` (logged). Otherwise such a
        grid is refused with :class:`~optimizer.errors.CRSError`.

    Returns
    -------
    geopandas.GeoDataFrame
        The validated grid in the bundle schema.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    DataError
        If the file cannot be read or the grid is invalid.
    CRSError
        If the grid has no CRS, or another than ``crs`` and ``reproject`` is false.
    """
    path = Path(path)
    source = str(path)
    frame = read_vector(path, what="population file", layer=layer)

    lower = {str(c).lower(): c for c in frame.columns}
    if "vaesto" in lower and ({"xkoord", "ykoord"} <= set(lower) or "grd_id" in lower):
        logger.info("%s is in the Statistics Finland grid schema; converting", source)
        if frame.crs is not None and not frame.crs.equals(crs) and not reproject:
            raise CRSError(crs_message(source, frame.crs, crs))
        return grid_from_features(frame, source=source)

    mapping = dict(columns or {})
    check_renames(
        mapping,
        allowed=sorted({"cell_id", *GRID_COLUMNS}),
        present=list(frame.columns),
        source=source,
        option="columns=",
    )
    bands = [b if isinstance(b, AgeBand) else parse_age_band(b) for b in age_bands or ()]
    if bands and set(mapping) & set(AGE_COLUMNS):
        raise DataError("give the ages either as age bands or as age columns in columns=, not both")
    frame = frame.rename(columns={v: k for k, v in mapping.items()})
    if "cell_id" in frame.columns:
        frame = frame.set_index("cell_id")
    else:
        frame.index = pd.Index([f"cell-{i}" for i in range(len(frame))], name="cell_id")
    frame.index = pd.Index([str(i) for i in frame.index], name="cell_id", dtype=object)
    if "population" in frame.columns:
        total = pd.to_numeric(frame["population"], errors="coerce")
        if bands:
            ages = ages_from_bands(
                frame, bands, total=total, source=source, codes=suppression_codes
            )
            frame = frame.drop(columns=[b.column for b in bands])
            frame[list(AGE_COLUMNS)] = ages
        else:
            present = [c for c in AGE_COLUMNS if c in frame.columns]
            if present:
                counts = pd.DataFrame(
                    {c: numeric_column(frame[c], source=source, field=c) for c in present}
                )
                frame[present] = suppress(counts, total, codes=suppression_codes)
    if frame.crs is None:
        raise CRSError(
            f"population grid in {source} has no CRS; expected {crs}. Save the file with its "
            "CRS (e.g. a .prj beside a shapefile)"
        )
    if reproject and not frame.crs.equals(crs):  # else validate_population names the CRS
        logger.info(
            "reprojecting population grid %s from %s to %s", source, crs_label(frame.crs), crs
        )
        frame = frame.to_crs(crs)
    return validate_population(frame, source=source, crs=crs)

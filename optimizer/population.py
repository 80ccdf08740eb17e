"""Population grids: convert, read and validate 1 km population cells.

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

Statistics Finland publishes the grid as ``vaestoruutu:vaki{YEAR}_1km`` (cell
polygons), ``vaki{YEAR}_1km_kp`` (cell centre points) and ``vaki{YEAR}_5km``.
Its fields are ``grd_id``, ``xkoord`` and ``ykoord`` (the lower-left corner of
the cell, metres in EPSG:3067), ``vaesto`` (residents), ``miehet``, ``naiset``,
``ika_0_14``, ``ika_15_64``, ``ika_65_`` and ``kunta``. Only inhabited cells are
listed, and for cells with fewer than 10 residents every field but ``vaesto``
is ``-1`` (suppressed). :func:`grid_from_features` turns this schema into the
bundle schema, building each cell square from ``xkoord``/``ykoord`` so that the
point layer and the polygon layers give the same cells.
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
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer.errors import BundleNotFoundError, CRSError, DataError

__all__ = [
    "AGE_COLUMNS",
    "GRID_COLUMNS",
    "STATFI_FIELDS",
    "SUPPRESSED",
    "format_municipality_code",
    "grid_from_features",
    "read_population",
    "validate_population",
]

logger = logging.getLogger(__name__)

AGE_COLUMNS: tuple[str, ...] = ("age_0_14", "age_15_64", "age_65_plus")
"""Age-group columns of the bundle schema (NaN where unknown)."""

GRID_COLUMNS: tuple[str, ...] = ("population", *AGE_COLUMNS, "municipality")
"""Attribute columns of the bundle schema, besides the index and geometry."""

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

_MAX_NAMED = 10  # how many offending cells an error message names
_CELL_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*km", re.IGNORECASE)


def format_municipality_code(value: object) -> str | None:
    """Return a municipality code as a 3-digit string, or ``None`` when missing.

    Parameters
    ----------
    value
        A code as text (``"91"``, ``"091"``, ``"KU091"``) or a number (``91``,
        ``91.0``).

    Returns
    -------
    str or None
        The zero-padded code, e.g. ``"091"``; ``None`` for a missing value.

    Raises
    ------
    DataError
        If the value is not a whole number between 0 and 999.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, bool):
        raise DataError(f"municipality code {value!r} is a boolean; expected a number like 91")
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            raise DataError(f"municipality code {value!r} is not a whole number")
        number = int(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        if text.upper().startswith("KU"):
            text = text[2:]
        try:
            number = int(float(text)) if "." in text else int(text)
        except ValueError:
            raise DataError(
                f"municipality code {value!r} is not a number; expected a code like '091'"
            ) from None
    if not 0 <= number <= 999:
        raise DataError(f"municipality code {value!r} is outside 0-999")
    return f"{number:03d}"


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
            minx, _, maxx, _ = geom.bounds
            return float(round(maxx - minx))
    return 1000.0


def _numeric(frame: pd.DataFrame, column: str, *, source: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in frame.loc[bad, column].head(3))
        raise DataError(
            f"{source}: field '{column}' has {int(bad.sum())} non-numeric value(s) "
            f"(e.g. {examples}); expected numbers"
        )
    return values.astype("float64")


def grid_from_features(
    data: gpd.GeoDataFrame | pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    year: int | None = None,
    source: str = "Statistics Finland population grid",
    cell_size: float | None = None,
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

    Returns
    -------
    geopandas.GeoDataFrame
        The validated grid in the bundle schema (see the module docstring), in
        EPSG:3067. Suppressed age counts (``-1``) become NaN.

    Raises
    ------
    DataError
        If required fields are missing or hold invalid values (see
        :func:`validate_population`).
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

    if {"xkoord", "ykoord"} <= set(frame.columns):
        x = _numeric(frame, "xkoord", source=source).to_numpy()
        y = _numeric(frame, "ykoord", source=source).to_numpy()
        if np.isnan(x).any() or np.isnan(y).any():
            raise DataError(f"{source}: fields 'xkoord'/'ykoord' have missing values")
        geometry = shapely.box(x, y, x + size, y + size)
    elif "geometry" in frame.columns and all(
        isinstance(g, (shapely.Polygon, shapely.MultiPolygon)) for g in frame["geometry"]
    ):
        geometry = np.asarray(frame["geometry"], dtype=object)
        bounds = shapely.bounds(geometry)
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

    out = pd.DataFrame(index=pd.Index(cell_id.to_numpy(), name="cell_id", dtype=object))
    out["population"] = _numeric(frame, "vaesto", source=source).to_numpy()
    for field, column in STATFI_FIELDS.items():
        if column in ("population", "municipality"):
            continue
        if field in frame.columns:
            values = _numeric(frame, field, source=source)
            out[column] = values.mask(values == SUPPRESSED).to_numpy()
        else:
            out[column] = np.nan
    if "kunta" in frame.columns:
        try:
            codes = [format_municipality_code(v) for v in frame["kunta"]]
        except DataError as exc:
            raise DataError(f"{source}: field 'kunta': {exc}") from None
        out["municipality"] = pd.Series(codes, index=out.index, dtype=object)
    else:
        out["municipality"] = pd.Series([None] * len(out), index=out.index, dtype=object)

    grid = gpd.GeoDataFrame(out, geometry=list(geometry), crs="EPSG:3067")
    grid.attrs["source"] = source
    if year is not None:
        grid.attrs["year"] = int(year)
    logger.debug("converted %d grid cells of %g m from %s", len(grid), size, source)
    return validate_population(grid, source=source)


def read_population(
    path: str | Path,
    *,
    layer: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a population grid from a user's file (GeoPackage, GeoJSON, shapefile...).

    A file in the Statistics Finland schema (fields ``vaesto``, ``xkoord``,
    ``ykoord``...) is converted with :func:`grid_from_features`. Any other file
    must hold the bundle columns, or name them with ``columns``.

    Parameters
    ----------
    path
        The file to read (any format GDAL reads).
    layer
        Layer to read from a multi-layer file (default: the first).
    columns
        Bundle column -> column in the file, for the keys ``cell_id``,
        ``population``, ``age_0_14``, ``age_15_64``, ``age_65_plus`` and
        ``municipality``; e.g. ``{"population": "pop2022", "cell_id": "id"}``.
        Without a ``cell_id`` column the cells are numbered ``cell-0``, ``cell-1``...

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
        If the grid is not in EPSG:3067.
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise BundleNotFoundError(
            f"population file {source} does not exist; give the path of a GeoPackage, "
            "GeoJSON or shapefile with grid cells"
        )
    try:
        frame = gpd.read_file(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise DataError(f"cannot read population file {source}: {exc}") from exc

    lower = {str(c).lower(): c for c in frame.columns}
    if "vaesto" in lower and ({"xkoord", "ykoord"} <= set(lower) or "grd_id" in lower):
        logger.info("%s is in the Statistics Finland grid schema; converting", source)
        return grid_from_features(frame, source=source)

    mapping = dict(columns or {})
    allowed = {"cell_id", *GRID_COLUMNS}
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise DataError(
            f"columns= has unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(allowed))}"
        )
    missing = sorted(v for v in mapping.values() if v not in frame.columns)
    if missing:
        raise DataError(
            f"{source}: column(s) {', '.join(missing)} named in columns= are not in the file; "
            f"columns present: {', '.join(map(str, frame.columns))}"
        )
    frame = frame.rename(columns={v: k for k, v in mapping.items()})
    if "cell_id" in frame.columns:
        frame = frame.set_index("cell_id")
    else:
        frame.index = pd.Index([f"cell-{i}" for i in range(len(frame))], name="cell_id")
    return validate_population(frame, source=source)


def _name_cells(index: Iterable[object], count: int) -> str:
    names = [str(i) for i in list(index)[:_MAX_NAMED]]
    more = f" and {count - len(names)} more" if count > len(names) else ""
    return ", ".join(names) + more


def validate_population(
    gdf: gpd.GeoDataFrame, *, source: str, crs: str = "EPSG:3067"
) -> gpd.GeoDataFrame:
    """Check a population grid against the bundle schema and normalise its types.

    Parameters
    ----------
    gdf
        The grid. Its cell ids are the index, or a ``cell_id`` column.
    source
        The file or service the grid came from, named in every error.
    crs
        The CRS the grid must be in.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with the index named ``cell_id`` (``str``), ``population`` and the
        age columns as ``float64`` (missing age columns added as NaN) and
        ``municipality`` as 3-digit codes (``None`` when unknown).

    Raises
    ------
    DataError
        If the grid is empty, lacks ``population``, has negative, NaN or infinite
        populations, negative or infinite age counts, non-polygon or missing
        geometries, or duplicate cell ids. Messages name up to 10 cells.
    CRSError
        If the CRS is missing or is not ``crs``.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(
            f"population grid from {source} is a {type(gdf).__name__}, not a GeoDataFrame "
            "with cell polygons"
        )
    if len(gdf) == 0:
        raise DataError(f"population grid in {source} is empty: it has no cells")
    try:
        expected = CRS.from_user_input(crs)
    except PyprojCRSError as exc:
        raise CRSError(f"expected CRS {crs!r} is not a valid CRS: {exc}") from exc
    if gdf.crs is None:
        raise CRSError(
            f"population grid in {source} has no CRS; expected {crs}. If the coordinates "
            f"are already {crs} metres, declare it with gdf.set_crs({crs!r})"
        )
    if not CRS.from_user_input(gdf.crs).equals(expected):
        epsg = expected.to_epsg()
        hint = f"to_crs({epsg})" if epsg else f"to_crs({crs!r})"
        raise CRSError(
            f"population grid in {source} is in {gdf.crs.to_string()}; expected {crs}. "
            f"Reproject it with gdf.{hint} before use"
        )
    grid = gdf.copy()
    if "cell_id" in grid.columns:
        grid = grid.set_index("cell_id")
    grid.index = pd.Index([str(i) for i in grid.index], name="cell_id", dtype=object)

    if "population" not in grid.columns:
        present = ", ".join(str(c) for c in grid.columns if c != grid.geometry.name)
        raise DataError(
            f"population grid in {source} has no 'population' column; columns present: "
            f"{present or '(none)'}. Rename the residents column to 'population' or pass "
            "columns={'population': ...} to read_population"
        )
    population = pd.to_numeric(grid["population"], errors="coerce").astype("float64")
    bad = population.isna() | ~np.isfinite(population) | (population < 0)
    if bad.any():
        n = int(bad.sum())
        n_nan = int(population.isna().sum())
        n_inf = int(np.isinf(population).sum())
        n_neg = int((population < 0).sum())
        raise DataError(
            f"population grid in {source}: field 'population' must be finite and >= 0, but "
            f"{n} cell(s) are not ({n_neg} negative, {n_nan} missing or not numeric, "
            f"{n_inf} infinite): {_name_cells(grid.index[bad], n)}. Fix or drop these cells"
        )
    grid["population"] = population

    for column in AGE_COLUMNS:
        if column not in grid.columns:
            grid[column] = np.nan
            continue
        values = pd.to_numeric(grid[column], errors="coerce").astype("float64")
        bad = np.isinf(values) | (values < 0)
        if bad.any():
            n = int(bad.sum())
            raise DataError(
                f"population grid in {source}: field '{column}' must be >= 0 or NaN "
                f"(unknown), but {n} cell(s) are negative or infinite: "
                f"{_name_cells(grid.index[bad], n)}. Statistics Finland's -1 (suppressed) "
                "is converted by grid_from_features"
            )
        grid[column] = values

    if "municipality" in grid.columns:
        try:
            codes = [format_municipality_code(v) for v in grid["municipality"]]
        except DataError as exc:
            raise DataError(f"population grid in {source}: field 'municipality': {exc}") from None
        grid["municipality"] = pd.Series(codes, index=grid.index, dtype=object)
    else:
        grid["municipality"] = pd.Series([None] * len(grid), index=grid.index, dtype=object)

    geoms = grid.geometry
    missing = geoms.isna() | geoms.is_empty
    if missing.any():
        n = int(missing.sum())
        raise DataError(
            f"population grid in {source}: {n} cell(s) have no geometry: "
            f"{_name_cells(grid.index[missing], n)}"
        )
    not_polygon = ~geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    if not_polygon.any():
        n = int(not_polygon.sum())
        kinds = ", ".join(sorted(set(geoms[not_polygon].geom_type)))
        raise DataError(
            f"population grid in {source}: cells must be polygons, but {n} cell(s) are "
            f"{kinds}: {_name_cells(grid.index[not_polygon], n)}. For Statistics Finland "
            "centre points (vaki*_1km_kp) use grid_from_features, which builds the squares"
        )

    duplicated = grid.index.duplicated(keep=False)
    if duplicated.any():
        ids = pd.unique(grid.index[duplicated])
        raise DataError(
            f"population grid in {source}: cell ids must be unique, but {len(ids)} id(s) "
            f"repeat: {_name_cells(ids, len(ids))}"
        )
    ordered = [*GRID_COLUMNS, *(c for c in grid.columns if c not in GRID_COLUMNS)]
    return grid[ordered]

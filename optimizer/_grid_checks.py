"""The population grid's contract: schema, plausible values, CRS, extent and cell size.

:func:`validate_population` is the one check every grid passes when it enters
the package (:mod:`optimizer.population` reads and converts grids, then calls
it); the constants here are the bundle schema it checks against.
"""

from __future__ import annotations

import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer._ages import AGE_GROUPS
from optimizer._fields import name_rows, numeric_column
from optimizer._files import crs_label
from optimizer.errors import CRSError, DataError

__all__ = [
    "AGE_COLUMNS",
    "GRID_COLUMNS",
    "MAX_CELL_RESIDENTS",
    "STANDARD_CELL_SIZES_M",
    "cell_size",
    "check_extent",
    "crs_message",
    "format_municipality_code",
    "municipality_codes",
    "validate_population",
]

AGE_COLUMNS: tuple[str, ...] = tuple(AGE_GROUPS)
"""Age-group columns of the bundle schema (NaN where unknown)."""


GRID_COLUMNS: tuple[str, ...] = ("population", *AGE_COLUMNS, "municipality")
"""Attribute columns of the bundle schema, besides the index and geometry."""


MAX_CELL_RESIDENTS = 5_563_970
"""Residents of the whole of Finland on 31 Dec 2022 (THL Sotkanet): no cell holds more."""


STANDARD_CELL_SIZES_M: tuple[float, ...] = (250.0, 500.0, 1000.0, 5000.0)
"""Cell sizes published in Finland; :func:`cell_size` snaps to them within 2 %."""


_EXTENT_MARGIN_M = 50_000.0


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


def _finland_bounds() -> tuple[float, float, float, float]:
    """Return the area of use of EPSG:3067 (Finland) in EPSG:3067 metres."""
    area = CRS.from_epsg(3067).area_of_use
    assert area is not None
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:3067", always_xy=True)
    return to_m.transform_bounds(area.west, area.south, area.east, area.north)


def check_extent(grid: gpd.GeoDataFrame, *, source: str) -> None:
    """Check that a grid in EPSG:3067 lies in Finland (its area of use, 50 km margin).

    Coordinates in another CRS than declared (e.g. degrees read as metres) land
    far outside; this says so instead of building a bundle in the wrong place.

    Raises
    ------
    DataError
        If cell centres lie outside Finland; names the cells and their extent.
    """
    minx, miny, maxx, maxy = _finland_bounds()
    m = _EXTENT_MARGIN_M
    centres = shapely.centroid(grid.geometry.to_numpy())
    cx, cy = shapely.get_x(centres), shapely.get_y(centres)
    outside = (cx < minx - m) | (cx > maxx + m) | (cy < miny - m) | (cy > maxy + m)
    if outside.any():
        raise DataError(
            f"population grid in {source}: {int(outside.sum())} cell(s) lie outside Finland "
            f"(x {cx[outside].min():,.0f}-{cx[outside].max():,.0f} m, y "
            f"{cy[outside].min():,.0f}-{cy[outside].max():,.0f} m in EPSG:3067): "
            f"{name_rows(grid.index[outside])}. The coordinates are probably in another CRS "
            "than the file declares; fix the file's CRS"
        )


def crs_message(source: str, actual: object, crs: str) -> str:
    epsg = CRS.from_user_input(crs).to_epsg()
    hint = f"to_crs({epsg})" if epsg else f"to_crs({crs!r})"
    return (
        f"population grid in {source} is in {crs_label(actual)}; expected {crs}. Reproject it "
        f"with gdf.{hint}, or let `optimizer bundle --from-files` reproject it"
    )


def municipality_codes(values: pd.Series, *, source: str, field: str) -> pd.Series:
    """Format municipality codes (once per distinct value), naming the cells at fault."""
    uniques = pd.unique(values.to_numpy(dtype=object))
    formatted: dict[Any, str | None] = {}
    bad = []
    for value in uniques:
        try:
            formatted[value] = format_municipality_code(value)
        except DataError as exc:
            bad.append((value, str(exc)))
    if bad:
        value, reason = bad[0]
        cells = values.index[values.map(lambda v: v is value or v == value).to_numpy(bool)]
        raise DataError(
            f"population grid in {source}: field '{field}': {reason} (cells {name_rows(cells)})"
        )
    codes = [
        formatted.get(v) if not _is_missing(v) else None for v in values.to_numpy(dtype=object)
    ]
    return pd.Series(codes, index=values.index, dtype=object)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def cell_size(grid: gpd.GeoDataFrame) -> float:
    """Return the edge of a grid's cells in metres (the median cell).

    The square root of the median cell area, snapped to one of
    :data:`STANDARD_CELL_SIZES_M` when within 2 % (a reprojected 250 m cell is
    no longer axis-aligned but keeps its area), else rounded to the metre.
    """
    if len(grid) == 0:
        return math.nan
    edge = math.sqrt(float(np.median(shapely.area(grid.geometry.to_numpy()))))
    for standard in STANDARD_CELL_SIZES_M:
        if abs(edge - standard) <= 0.02 * standard:
            return standard
    return float(round(edge))


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
        raise CRSError(crs_message(source, gdf.crs, crs))
    grid = gdf.copy()
    if "cell_id" in grid.columns:
        grid = grid.set_index("cell_id")
    grid.index = pd.Index([str(i) for i in grid.index], name="cell_id", dtype=object)

    if "population" not in grid.columns:
        present = ", ".join(str(c) for c in grid.columns if c != grid.geometry.name)
        raise DataError(
            f"population grid in {source} has no 'population' column; columns present: "
            f"{present or '(none)'}. Rename the residents column to 'population' or pass "
            "columns={'population': ...} to read_population (--population-column on the "
            "command line)"
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
            f"{n_inf} infinite): {name_rows(grid.index[bad], n)}. Fix or drop these cells"
        )
    huge = population > MAX_CELL_RESIDENTS
    if huge.any():
        raise DataError(
            f"population grid in {source}: {int(huge.sum())} cell(s) hold more residents than "
            f"the whole of Finland ({MAX_CELL_RESIDENTS:,}): {name_rows(grid.index[huge])} "
            f"(largest {population.max():,.0f}). Check the residents column and its units"
        )
    if population.sum() > MAX_CELL_RESIDENTS:
        raise DataError(
            f"population grid in {source} holds {population.sum():,.0f} residents, more than "
            f"the whole of Finland ({MAX_CELL_RESIDENTS:,}); check for duplicated cells or a "
            "wrong residents column"
        )
    grid["population"] = population

    known_sum = pd.Series(0.0, index=grid.index)
    for column in AGE_COLUMNS:
        if column not in grid.columns:
            grid[column] = np.nan
            continue
        values = numeric_column(grid[column], source=source, field=column, rows="cell(s)")
        bad = np.isinf(values) | (values < 0)
        if bad.any():
            n = int(bad.sum())
            raise DataError(
                f"population grid in {source}: field '{column}' must be >= 0 or NaN "
                f"(unknown), but {n} cell(s) are negative or infinite: "
                f"{name_rows(grid.index[bad], n)}. Suppression codes such as Statistics "
                "Finland's -1 are turned into NaN by read_population and grid_from_features"
            )
        _check_not_above(values, population, source=source, field=column)
        known_sum += values.fillna(0.0)
        grid[column] = values
    _check_not_above(known_sum, population, source=source, field="age groups together")

    if "municipality" in grid.columns:
        grid["municipality"] = municipality_codes(
            grid["municipality"], source=source, field="municipality"
        )
    else:
        grid["municipality"] = pd.Series([None] * len(grid), index=grid.index, dtype=object)

    geoms = grid.geometry
    missing = geoms.isna() | geoms.is_empty
    if missing.any():
        n = int(missing.sum())
        raise DataError(
            f"population grid in {source}: {n} cell(s) have no geometry: "
            f"{name_rows(grid.index[missing], n)}"
        )
    not_polygon = ~geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    if not_polygon.any():
        n = int(not_polygon.sum())
        kinds = ", ".join(sorted(set(geoms[not_polygon].geom_type)))
        raise DataError(
            f"population grid in {source}: cells must be polygons, but {n} cell(s) are "
            f"{kinds}: {name_rows(grid.index[not_polygon], n)}. For Statistics Finland "
            "centre points (vaki*_1km_kp) use grid_from_features, which builds the squares"
        )

    duplicated = grid.index.duplicated(keep=False)
    if duplicated.any():
        ids = pd.unique(grid.index[duplicated])
        raise DataError(
            f"population grid in {source}: cell ids must be unique, but {len(ids)} id(s) "
            f"repeat: {name_rows(ids, len(ids))}"
        )
    ordered = [*GRID_COLUMNS, *(c for c in grid.columns if c not in GRID_COLUMNS)]
    return grid[ordered]


def _check_not_above(values: pd.Series, total: pd.Series, *, source: str, field: str) -> None:
    """Refuse age counts above the cell's residents (a rounding slack of 1e-6 allowed)."""
    over = (values > total * (1 + 1e-9) + 1e-6).fillna(False).to_numpy(dtype=bool)
    if over.any():
        cells = total.index[over]
        worst = cells[0]
        raise DataError(
            f"population grid in {source}: {field} exceed the cell's residents in "
            f"{int(over.sum())} cell(s): {name_rows(cells)} (e.g. {worst}: "
            f"{values[worst]:,.0f} of {total[worst]:,.0f}). Check the age columns and "
            "the suppression codes"
        )

"""Draw a service network and its effect on a Folium map (see :mod:`optimizer.maps`)."""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from optimizer.errors import CRSError, DataError
from optimizer.i18n import Lang, check_lang, format_number, message
from optimizer.maps._figures import (
    OPEN_ROLES,
    OTHER_TIER,
    NetworkFigures,
    QualityFigures,
    canonical_role,
    headline_rows,
    minutes_text,
    quality_lines,
    site_status,
    synthetic_note,
)
from optimizer.maps._layers import boundary_layer, catchment_layer, change_layer, minutes_layer
from optimizer.maps._page import SolutionElement
from optimizer.maps._raster import CellRaster, rasterize_cells

__all__ = ["SITE_ROLES", "map_solution", "site_status"]

logger = logging.getLogger(__name__)

#: Roles a site can have (now, and in the baseline). ``"closed"`` and ``"none"``
#: are spellings of ``"unused"``: whether a point closed is read from ``baseline_role``
#: (or, without one, from ``role == "closed"``).
SITE_ROLES = ("full", "remote", "unused", "closed", "none")

_TIERS = ("full", "any")
_LOCALES = {"en": "en-GB", "fi": "fi-FI", "sv": "sv-FI"}
_POPUP_NUMBERS = (
    ("visits", "popup_visits", 0),
    ("residents_served", "popup_residents_served", 0),
    ("mean_minutes", "popup_mean_minutes", 1),
)


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _check_layer(gdf: Any, name: str, geom: tuple[str, ...]) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(f"{name} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(f"{name} has no CRS; set one (e.g. gdf.set_crs('EPSG:3067'))")
    kinds = set(gdf.geom_type.dropna().unique())
    if not kinds <= set(geom):
        raise DataError(f"{name} must hold {'/'.join(geom)} geometries, got {sorted(kinds)}")
    dupes = gdf.index[gdf.index.duplicated()].unique()
    if len(dupes):
        raise DataError(
            f"{name} ids (the index) must be unique; repeated: {', '.join(map(str, dupes[:5]))}"
        )


def _numbers(frame: pd.DataFrame, column: str, what: str) -> NDArray[np.float64]:
    values = frame[column]
    if not (pd.api.types.is_numeric_dtype(values) or values.isna().all()):
        bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
        raise DataError(
            f"{what} column {column!r} must be numeric; rows {', '.join(map(str, bad.index[:5]))} "
            f"hold {', '.join(repr(v) for v in bad.iloc[:3])}"
        )
    return np.asarray(values, dtype=np.float64)


def _check_roles(sites: pd.DataFrame, column: str, *, allow_missing: bool = False) -> None:
    roles = sites[column]
    bad = roles[~roles.isin(SITE_ROLES) & (roles.notna() | (not allow_missing))]
    if len(bad):
        raise DataError(
            f"sites have unknown role(s) {sorted(map(str, bad.unique()))} in column {column!r} "
            f"(sites {', '.join(map(str, bad.index[:5]))}); allowed: {', '.join(SITE_ROLES)}"
        )


def _site_positions(cells: pd.DataFrame, column: str, ids: Mapping[str, int]) -> NDArray[np.int64]:
    """Position in ``sites`` of each cell's site id; -1 where there is none."""
    values = cells[column]
    keys = [None if pd.isna(v) else str(v) for v in values]
    unknown = sorted({k for k in keys if k is not None and k not in ids})
    if unknown:
        at = [str(c) for c, k in zip(cells.index, keys, strict=True) if k in set(unknown)]
        raise DataError(
            f"cells column {column!r} names site(s) {', '.join(unknown[:5])} that are not in "
            f"sites (cells {', '.join(at[:5])}); use ids of the sites' index"
        )
    return np.array([-1 if k is None else ids[k] for k in keys], dtype=np.int64)


# --------------------------------------------------------------------------------------
# Sites
# --------------------------------------------------------------------------------------


def _symbol_label(kind: str, status: str, lang: Lang) -> str:
    if kind == "closed":
        return message("symbol_closed", lang)
    tier = message(f"tier_{kind}", lang)
    if status in ("kept", "new"):
        return message(f"symbol_{status}", lang, tier=tier)
    if status == "converted":
        was = message(f"tier_{OTHER_TIER[kind]}", lang).lower()
        return message("symbol_converted", lang, tier=tier, was=was)
    return tier


def _sites_payload(sites_ll: gpd.GeoDataFrame, lang: Lang) -> dict[str, Any]:
    has_base = "baseline_role" in sites_ll.columns
    rows, symbols = [], {}
    for site_id, row in sites_ll.iterrows():
        raw_role = str(row["role"])
        raw_base = (
            str(row["baseline_role"]) if has_base and pd.notna(row["baseline_role"]) else None
        )
        status = site_status(raw_role, raw_base)
        role = canonical_role(raw_role)
        base = None if raw_base is None else canonical_role(raw_base)
        if raw_base is None and status == "closed":
            base = "full"  # closed without a known tier: drawn as a closed point
        kind = "closed" if status == "closed" else role
        classes = ["snopt-marker"]
        if status:
            classes.append(f"snopt-{status}")
        if kind == "closed":
            classes.append(f"snopt-was-{base}")
        classes.append(f"snopt-{kind}")
        popup = [[message("popup_tier", lang), message(f"tier_{role}", lang)]]
        if status in ("kept", "new", "converted", "closed"):
            popup.append([message("popup_status", lang), message(f"status_{status}", lang)])
        if has_base and base is not None and base != role:
            popup.append([message("popup_baseline_tier", lang), message(f"tier_{base}", lang)])
        if "municipality" in sites_ll.columns and not pd.isna(row["municipality"]):
            popup.append([message("popup_municipality", lang), str(row["municipality"])])
        for column, label, digits in _POPUP_NUMBERS:
            if column in sites_ll.columns and pd.notna(row[column]):
                value = float(row[column])
                text = (
                    minutes_text(value, lang, digits=digits)
                    if column == "mean_minutes"
                    else format_number(value, lang, digits=digits)
                )
                popup.append([message(label, lang), text])
        point = row.geometry
        rows.append(
            {
                "id": str(site_id),
                "name": str(row["name"]),
                "lat": round(float(point.y), 6),
                "lon": round(float(point.x), 6),
                "kind": kind,
                "cls": " ".join(classes),
                "label": role in OPEN_ROLES,
                "popup": popup,
            }
        )
        symbols.setdefault((kind, status), " ".join(classes))
    order = {"full": 0, "remote": 1, "closed": 2, "unused": 3}
    status_order = {"kept": 0, "converted": 1, "new": 2}
    legend = [
        {"cls": cls, "label": _symbol_label(kind, status, lang)}
        for (kind, status), cls in sorted(
            symbols.items(), key=lambda kv: (order[kv[0][0]], status_order.get(kv[0][1], 3))
        )
    ]
    groups = [
        {"kind": kind, "name": message(f"layer_points_{kind}", lang)}
        for kind in ("unused", "closed", "remote", "full")  # drawn bottom to top
        if any(r["kind"] == kind for r in rows)
    ]
    return {"sites": rows, "symbols": legend, "groups": groups}


# --------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------


def _rounded(values: NDArray[np.float64], digits: int) -> list[float | None]:
    out = np.round(values, digits)
    return [v if math.isfinite(v) else None for v in out.tolist()]


def _cells_payload(
    cells: gpd.GeoDataFrame,
    merc: gpd.GeoSeries,
    columns: Mapping[str, NDArray[np.float64]],
    site_of_cell: NDArray[np.int64] | None,
) -> dict[str, Any]:
    """Compact per-cell arrays for the click details: centres in EPSG:3857 metres."""
    centres = shapely.centroid(np.asarray(merc.values))
    x, y = shapely.get_x(centres), shapely.get_y(centres)
    lat = np.degrees(2 * np.arctan(np.exp(np.nanmedian(y) / 6378137.0)) - np.pi / 2)
    side = float(np.nanmedian(np.sqrt(shapely.area(np.asarray(merc.values))))) * math.cos(
        math.radians(lat)
    )
    data: dict[str, Any] = {
        "x": _rounded(x, 0),
        "y": _rounded(y, 0),
        "id": [str(i) for i in cells.index],
        "pop": _rounded(np.asarray(cells["population"], dtype=np.float64), 0),
        "side": round(side, 1),
    }
    for key, values in columns.items():
        data[key] = _rounded(values, 1)
    if site_of_cell is not None:
        data["site"] = site_of_cell.tolist()
    if "municipality" in cells.columns:
        codes, names = pd.factorize(cells["municipality"].astype("object"), use_na_sentinel=True)
        data["muni"] = codes.tolist()
        data["munis"] = [str(n) for n in names]
    return data


def _change(cells: pd.DataFrame, tier: str, now: NDArray[np.float64]) -> NDArray[np.float64] | None:
    """Change against the baseline: the given column, else now minus the baseline column."""
    column, base = f"change_{tier}_minutes", f"baseline_{tier}_minutes"
    if column in cells.columns:
        return _numbers(cells, column, "cells")
    if base in cells.columns:
        before = _numbers(cells, base, "cells")
        now = np.where(np.isnan(now), np.inf, now)
        before = np.where(np.isnan(before), np.inf, before)
        with np.errstate(invalid="ignore"):
            return now - before
    return None


# --------------------------------------------------------------------------------------
# The map
# --------------------------------------------------------------------------------------


def _boundary_payload(
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None, lang: Lang
) -> dict[str, Any] | None:
    """Return the boundary as a GeoJSON geometry in degrees, simplified to about 50 m."""
    if boundary is None:
        return None
    if not isinstance(boundary, gpd.GeoDataFrame | gpd.GeoSeries):
        raise DataError(
            f"boundary must be a GeoDataFrame or GeoSeries, got {type(boundary).__name__}"
        )
    if boundary.crs is None:
        raise CRSError("boundary has no CRS; set one (e.g. gdf.set_crs('EPSG:3067'))")
    geoms = boundary.geometry if isinstance(boundary, gpd.GeoDataFrame) else boundary
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if not len(geoms):
        return None
    kinds = set(geoms.geom_type.unique())
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise DataError(f"boundary must hold Polygon/MultiPolygon geometries, got {sorted(kinds)}")
    if geoms.crs.is_projected:
        geoms = geoms.simplify(50.0)
    union = shapely.union_all(np.asarray(geoms.to_crs(4326).values))
    union = shapely.set_precision(union, 1e-5)
    return {
        "name": message("layer_region", lang),
        "geometry": json.loads(shapely.to_geojson(union)),
    }


def _panel(
    title: str,
    description: str | None,
    estimate: NetworkFigures | None,
    baseline: NetworkFigures | None,
    headline: Mapping[str, Any] | None,
    lang: Lang,
) -> dict[str, Any]:
    columns: list[str] = []
    rows: list[dict[str, Any]] = []
    if estimate is not None:
        networks = [estimate] if baseline is None else [estimate, baseline]
        columns = [message("scenario", lang)]
        if baseline is not None:
            columns.append(message("baseline", lang))
        rows = [
            {"label": r.label, "values": list(r.values), "heading": r.heading}
            for r in headline_rows(networks, lang)
        ]
    for label, value in (headline or {}).items():
        rows.append({"label": str(label), "values": [str(value)], "heading": False})
    return {"title": title, "description": description, "columns": columns, "rows": rows}


def _banners(
    synthetic_layers: Sequence[str], quality: QualityFigures | None, lang: Lang
) -> list[dict[str, Any]]:
    banners = []
    note = synthetic_note(synthetic_layers, lang)
    if note is not None:
        banners.append(
            {"kind": "synthetic", "title": message("synthetic_title", lang), "lines": [note]}
        )
    if quality is not None and quality.is_poor:
        banners.append(
            {
                "kind": "quality",
                "title": message("quality_poor", lang),
                "lines": quality_lines(quality, lang),
            }
        )
    return banners


def _legacy_columns(
    cells: gpd.GeoDataFrame, minutes_column: str | None, assignment_column: str | None
) -> gpd.GeoDataFrame:
    renames = {}
    if minutes_column is not None:
        renames[minutes_column] = "nearest_any_minutes"
    if assignment_column is not None:
        renames[assignment_column] = "any_site_id"
    if not renames:
        return cells
    warnings.warn(
        "map_solution(minutes_column=, assignment_column=) are deprecated; name the columns "
        "nearest_any_minutes and any_site_id (see optimizer.maps)",
        DeprecationWarning,
        stacklevel=3,
    )
    missing = [c for c in renames if c not in cells.columns]
    if missing:
        raise DataError(f"cells lack the column(s) {', '.join(missing)}")
    kept = cells.drop(columns=[v for v in renames.values() if v in cells.columns])
    return kept.rename(columns=renames)


def map_solution(
    cells: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
    title: str | None = None,
    description: str | None = None,
    estimate: NetworkFigures | None = None,
    baseline: NetworkFigures | None = None,
    synthetic_layers: Sequence[str] = (),
    quality: QualityFigures | None = None,
    lang: Lang = "en",
    catchments: bool = True,
    links: bool = False,
    cell_details: int = 100_000,
    max_pixels: int = 6_000_000,
    tiles: str | None = "OpenStreetMap",
    boundary: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    plans: Mapping[str, Any] | None = None,
    headline: Mapping[str, Any] | None = None,
    minutes_column: str | None = None,
    assignment_column: str | None = None,
) -> folium.Map:
    """Draw a service network, and its change against a baseline, on a Folium map.

    Parameters
    ----------
    cells
        Grid cells (polygons, any CRS), indexed by cell id, with
        ``population`` and at least one of ``nearest_full_minutes`` and
        ``nearest_any_minutes`` (``inf``/NaN = unreachable). Optional:
        ``baseline_full_minutes``, ``baseline_any_minutes``,
        ``change_full_minutes``, ``change_any_minutes``, ``any_site_id`` (the
        site serving the cell, for catchments), ``full_site_id``,
        ``municipality``. A layer whose column is absent is left out.
    sites
        Candidate sites (points, any CRS), indexed by site id, with ``name``
        and ``role`` in {"full", "remote", "unused"}; optional
        ``baseline_role`` (same values: kept, new and closed points get their
        own symbols), ``municipality``, ``visits``, ``residents_served``,
        ``mean_minutes``.
    m
        A map to draw on (Web Mercator, folium's default); ``None`` creates one.
    title
        Heading of the panel (e.g. region and scenario names); default
        "Service network" in ``lang``.
    description
        A line under the title (e.g. the scenario's description).
    estimate, baseline
        Headline figures of the network and of the baseline
        (:class:`optimizer.estimates.NetworkEstimate` or anything with the same
        attributes, see :class:`NetworkFigures`).
    synthetic_layers
        Names of the region's synthetic layers (e.g. ``("population",
        "roads")``): the map then carries a banner saying so.
    quality
        Data-quality figures; shown as a banner when ``quality.is_poor``.
    lang
        Language of every label: ``"en"``, ``"fi"`` or ``"sv"``.
    catchments
        Draw the catchment layer and boundaries (needs ``any_site_id``).
    links
        Add a hidden layer of lines from each populated cell to its site
        (needs ``any_site_id`` and at most ``cell_details`` cells).
    cell_details
        Up to this many cells, clicking a cell shows its figures; above it the
        per-cell arrays are left out to keep the page small.
    max_pixels
        Cap on the pixels of each cell image.
    tiles
        Basemap of a new map (``None`` for none).
    boundary
        The region's boundary (polygons, any CRS), drawn as an outline that
        can be switched off.
    plans
        The planner's own networks: name to each cell's minutes to the nearest
        full point under that plan (one switchable layer each).
    headline
        Deprecated: extra label/value rows for the panel.
    minutes_column, assignment_column
        Deprecated: names of the columns to use as ``nearest_any_minutes`` and
        ``any_site_id``.

    Returns
    -------
    folium.Map
        The map (``m`` if given).

    Raises
    ------
    CRSError
        If a layer has no CRS, or ``m`` is not in Web Mercator.
    DataError
        If columns, values, geometry types, roles or site ids are wrong.
    """
    lang = check_lang(lang)
    _check_layer(cells, "cells", ("Polygon", "MultiPolygon"))
    _check_layer(sites, "sites", ("Point",))
    cells = _legacy_columns(cells, minutes_column, assignment_column)
    times = [t for t in _TIERS if f"nearest_{t}_minutes" in cells.columns]
    missing = [c for c in ("population",) if c not in cells.columns]
    if missing or not times:
        raise DataError(
            "cells need the columns population and nearest_full_minutes and/or "
            f"nearest_any_minutes; they have {', '.join(map(str, cells.columns))}"
        )
    for column in ("name", "role"):
        if column not in sites.columns:
            raise DataError(f"sites lack the column {column!r}; see optimizer.maps")
    _check_roles(sites, "role")
    if "baseline_role" in sites.columns:
        _check_roles(sites, "baseline_role", allow_missing=True)
    if m is not None and getattr(m, "crs", "EPSG3857") != "EPSG3857":
        raise CRSError(f"map_solution draws on Web Mercator maps (crs='EPSG3857'), not {m.crs!r}")

    plans = dict(plans or {})
    _numbers(cells, "population", "cells")
    minutes = {t: _numbers(cells, f"nearest_{t}_minutes", "cells") for t in times}
    changes = {t: c for t in times if (c := _change(cells, t, minutes[t])) is not None}
    site_ids = {str(k): i for i, k in enumerate(sites.index)}
    site_of_cell = (
        _site_positions(cells, "any_site_id", site_ids) if "any_site_id" in cells.columns else None
    )

    merc = cells.geometry.to_crs("EPSG:3857")
    raster: CellRaster = rasterize_cells(merc, max_pixels=max_pixels)
    layers = [
        minutes_layer(t, message(f"layer_{t}_minutes", lang), minutes[t], raster, lang)
        for t in times
    ]
    layers += [
        change_layer(f"change_{t}", message(f"layer_change_{t}", lang), c, raster, lang)
        for t, c in changes.items()
    ]
    for k, (plan, values) in enumerate(plans.items()):
        plan_minutes = np.asarray(values, dtype=np.float64)
        if plan_minutes.shape != (len(cells),):
            raise DataError(
                f"plans[{plan!r}] has {plan_minutes.size} values; give one per cell ({len(cells)})"
            )
        name = message("layer_plan", lang, name=plan)
        layers.append(minutes_layer(f"plan_{k}", name, plan_minutes, raster, lang))
    overlays = []
    names = [str(n) for n in sites["name"]]
    if catchments and site_of_cell is not None:
        layer, border, _ = catchment_layer(site_of_cell, names, raster, lang)
        layers.append(layer)
        overlays.append(boundary_layer(border, lang))

    details = None
    if len(cells) <= cell_details:
        columns = {f"t_{t}": minutes[t] for t in times}
        columns |= {f"d_{t}": c for t, c in changes.items()}
        details = _cells_payload(cells, merc, columns, site_of_cell)
    else:
        logger.info("%d cells > cell_details=%d: no per-cell details", len(cells), cell_details)
    if links and (details is None or site_of_cell is None):
        logger.warning("links need any_site_id and at most cell_details cells; not drawn")

    sites_ll = sites.to_crs(4326)
    title = message("map_title", lang) if title is None else str(title)
    labels = {
        key: message(key, lang)
        for key in (
            "cell",
            "residents",
            "cell_full_minutes",
            "cell_any_minutes",
            "cell_change_full",
            "cell_change_any",
            "cell_site",
            "popup_municipality",
            "unreachable",
            "legend_points",
            "legend_click",
            "layer_none",
            "layer_links",
        )
    }
    payload = {
        "lang": lang,
        "locale": _LOCALES[lang],
        "title": title,
        "labels": labels,
        "panel": _panel(title, description, estimate, baseline, headline, lang),
        "banners": _banners(synthetic_layers, quality, lang),
        "bounds": [list(raster.bounds[0]), list(raster.bounds[1])],
        "layers": layers,
        "overlays": overlays,
        "default": layers[0]["key"],
        "cells": details,
        "links": bool(links and details is not None and site_of_cell is not None),
        "boundary": _boundary_payload(boundary, lang),
        **_sites_payload(sites_ll, lang),
    }

    if m is None:
        (south, west), (north, east) = raster.bounds
        if len(sites_ll):
            lon0, lat0, lon1, lat1 = sites_ll.total_bounds
            south, west, north, east = (
                min(south, lat0),
                min(west, lon0),
                max(north, lat1),
                max(east, lon1),
            )
        m = folium.Map(
            location=[(south + north) / 2, (west + east) / 2],
            zoom_start=8,
            tiles=tiles,
            control_scale=True,
        )
        # fitted by map.js once the map has a size (a report's frame may get it later)
        payload["fit"] = [[south, west], [north, east]]
    else:
        m.control_scale = True
    m.add_child(SolutionElement(payload))
    return m

"""Folium maps of a service network that a planner can read without help.

:func:`map_solution` draws the population grid coloured by travel time to the
nearest service point (with a legend), the full, remote and unused candidate
sites with distinct icons and popups, catchment boundaries (cells dissolved by
their assigned site) and optional cell-to-site lines, a layer control, a scale
and a title panel with headline figures. It reprojects to EPSG:4326 itself and
composes on an existing map when one is given. Every name shown in a popup,
tooltip or panel is HTML-escaped.

:func:`save_map` writes the HTML atomically. Folium loads Leaflet from a CDN;
``assets="inline"`` embeds local copies of the scripts and stylesheets instead,
so the file opens offline except for the basemap tiles, and ``assets="local"``
points the page at a folder or URL that serves those copies. Assets the map
does not use (folium's jQuery, Bootstrap, Font Awesome and awesome-markers, d3)
are dropped in both modes.

Expected columns
----------------
cells
    Polygons with ``population`` and the travel time to the nearest service
    point in minutes (``minutes_column``, ``inf``/NaN = unreachable); for
    catchments and lines also the assigned site id (``assignment_column``).
sites
    Points indexed by site id with ``name`` and ``role`` (``"full"``,
    ``"remote"`` or ``"unused"``); optional ``residents_served``, ``visits``
    (per year) and ``mean_minutes`` for the popups.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import mimetypes
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import branca.colormap as bcm
import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from jinja2 import Template
from scipy.spatial import cKDTree

from optimizer._io import write_text_atomic
from optimizer.errors import CRSError, DataError, OutputError
from optimizer.settings import Settings, get_settings

__all__ = ["SITE_ROLES", "AssetMode", "map_html", "map_solution", "save_map"]

logger = logging.getLogger(__name__)

#: Roles a site can have on the map.
SITE_ROLES = ("full", "remote", "unused")

#: How a saved map loads Leaflet and friends.
AssetMode = Literal["cdn", "inline", "local"]

_ROLES: dict[str, dict[str, Any]] = {
    "full": {"label": "Full service point", "layer": "Full service points", "size": 22},
    "remote": {"label": "Remote service point", "layer": "Remote service points", "size": 18},
    "unused": {"label": "Unused candidate site", "layer": "Unused candidate sites", "size": 12},
}
_ICON_HTML = {
    "full": (
        '<div style="width:18px;height:18px;background:#08306b;border:2px solid #fff;'
        "border-radius:3px;box-shadow:0 0 3px #000;color:#fff;font:bold 12px/18px sans-serif;"
        'text-align:center">F</div>'
    ),
    "remote": (
        '<div style="width:14px;height:14px;background:#1b9e77;border:2px solid #fff;'
        "border-radius:50%;box-shadow:0 0 3px #000;color:#fff;font:bold 9px/14px sans-serif;"
        'text-align:center">R</div>'
    ),
    "unused": (
        '<div style="width:8px;height:8px;background:#fff;border:2px solid #636363;'
        'border-radius:50%"></div>'
    ),
}
_TIME_COLOURS = ["#1a9850", "#a6d96a", "#fee08b", "#fdae61", "#d73027"]
_UNREACHABLE = "#bdbdbd"
_PRECISION = 1e-5  # degrees, about a metre
_GAP_CELLS = 2.5  # uninhabited squares this many cell widths from a cell join its catchment


def _esc(value: Any) -> str:
    """Escape text for HTML, and for folium's JavaScript template strings."""
    return html.escape(str(value), quote=True).replace("`", "&#96;").replace("$", "&#36;")


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(number):
        return "unreachable" if unit == " min" else "–"
    return f"{number:,.{digits}f}{unit}".replace(",", " ")


class _BindPopup(MacroElement):
    """Bind a popup and tooltip to the parent marker without jQuery."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup({{ this.popup|tojson }}, {maxWidth: 320});
        {{ this._parent.get_name() }}.bindTooltip({{ this.tooltip|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, popup: str, tooltip: str) -> None:
        super().__init__()
        self._name = "BindPopup"
        self.popup = popup
        self.tooltip = tooltip


def _check_layer(gdf: Any, name: str, columns: tuple[str, ...], geom: tuple[str, ...]) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise DataError(f"{name} must be a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise CRSError(f"{name} has no CRS; set one (e.g. gdf.set_crs('EPSG:3067'))")
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise DataError(f"{name} lacks column(s) {', '.join(missing)}; see optimizer.maps")
    kinds = set(gdf.geom_type.dropna().unique())
    if not kinds <= set(geom):
        raise DataError(f"{name} must hold {'/'.join(geom)} geometries, got {sorted(kinds)}")


def _feature_collection(gdf: gpd.GeoDataFrame, properties: list[dict[str, Any]]) -> dict[str, Any]:
    geoms = shapely.set_precision(np.asarray(gdf.geometry.values), _PRECISION)
    features = [
        {"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": p}
        for g, p in zip(geoms, properties, strict=True)
        if g is not None and not g.is_empty
    ]
    return {"type": "FeatureCollection", "features": features}


def _legend_html(colormap: bcm.LinearColormap, caption: str) -> str:
    stops = ", ".join(
        f"{colormap(colormap.vmin + (colormap.vmax - colormap.vmin) * k / 10)} {k * 10}%"
        for k in range(11)
    )
    ticks = "".join(
        f'<span style="position:absolute;left:{100 * k / 3:.1f}%;transform:translateX(-50%)">'
        f"{colormap.vmin + (colormap.vmax - colormap.vmin) * k / 3:.0f}</span>"
        for k in range(4)
    )
    keys = "".join(
        f'<div style="display:flex;align-items:center;gap:6px;margin-top:3px">'
        f'<div style="width:22px;display:flex;justify-content:center">{_ICON_HTML[r]}</div>'
        f"{_esc(_ROLES[r]['label'])}</div>"
        for r in SITE_ROLES
    )
    return (
        '<div class="snopt-legend" style="position:fixed;bottom:28px;right:10px;z-index:1000;'
        "background:rgba(255,255,255,.92);padding:8px 10px;border-radius:6px;"
        'box-shadow:0 1px 4px rgba(0,0,0,.4);font:12px sans-serif;width:220px">'
        f"<b>{_esc(caption)}</b>"
        f'<div style="height:12px;margin-top:4px;background:linear-gradient(to right, {stops})">'
        "</div>"
        f'<div style="position:relative;height:14px;margin:0 6px">{ticks}</div>'
        '<div style="display:flex;align-items:center;gap:6px;margin-top:4px">'
        f'<div style="width:22px;height:10px;background:{_UNREACHABLE}"></div>'
        "no road access</div>"
        '<div style="display:flex;align-items:center;gap:6px;margin-top:3px">'
        '<div style="width:22px;border-top:2px dashed #252525"></div>catchment boundary</div>'
        f"{keys}</div>"
    )


def _title_html(title: str, headline: Mapping[str, Any] | None) -> str:
    rows = "".join(
        f'<tr><td style="padding-right:10px;color:#444">{_esc(k)}</td>'
        f'<td style="text-align:right"><b>{_esc(v)}</b></td></tr>'
        for k, v in (headline or {}).items()
    )
    return (
        '<div class="snopt-title" style="position:fixed;top:10px;left:56px;z-index:1000;'
        "background:rgba(255,255,255,.92);padding:8px 12px;border-radius:6px;"
        'box-shadow:0 1px 4px rgba(0,0,0,.4);font:13px sans-serif;max-width:380px">'
        f'<div style="font-size:16px;font-weight:bold;margin-bottom:4px">{_esc(title)}</div>'
        f'<table style="border-collapse:collapse">{rows}</table></div>'
    )


def _popup_html(name: str, role: str, row: Mapping[str, Any]) -> str:
    items = [
        ("Role", _ROLES[role]["label"]),
        ("Residents served", _fmt(row.get("residents_served"))),
        ("Visits per year", _fmt(row.get("visits"))),
        ("Mean travel time", _fmt(row.get("mean_minutes"), " min", 1)),
    ]
    body = "".join(
        f'<tr><td style="padding-right:8px;color:#555">{_esc(k)}</td><td>{_esc(v)}</td></tr>'
        for k, v in items
    )
    return f"<b>{_esc(name)}</b><table>{body}</table>"


def _catchment_areas(cells: gpd.GeoDataFrame, assigned: Any) -> gpd.GeoDataFrame:
    """Dissolve cells into one area per assigned site, filling the gaps between them.

    Uninhabited grid squares within :data:`_GAP_CELLS` cell widths of an assigned
    cell take the site of the nearest assigned cell, so the areas tile the
    settled region and their boundaries separate catchments instead of tracing
    every uninhabited gap.
    """
    work = cells if cells.crs.is_projected else cells.to_crs(cells.estimate_utm_crs())
    mask = np.asarray(assigned.notna().values, dtype=bool)
    if not mask.any():
        return gpd.GeoDataFrame({"geometry": []}, geometry="geometry", crs=work.crs)
    labels = np.asarray(assigned.values, dtype=object)[mask]
    centres = work.geometry.centroid.values[mask]
    xy = np.column_stack([shapely.get_x(centres), shapely.get_y(centres)])
    size = float(np.sqrt(np.median(work.geometry.area.values[mask])))
    x0, y0 = xy.min(axis=0) - _GAP_CELLS * size
    x1, y1 = xy.max(axis=0) + _GAP_CELLS * size
    gx, gy = np.meshgrid(np.arange(x0, x1 + size, size), np.arange(y0, y1 + size, size))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    distance, nearest = cKDTree(xy).query(grid, distance_upper_bound=_GAP_CELLS * size)
    keep = np.isfinite(distance)
    grid, nearest = grid[keep], nearest[keep]
    half = size / 2
    squares = shapely.box(
        grid[:, 0] - half, grid[:, 1] - half, grid[:, 0] + half, grid[:, 1] + half
    )
    filled = gpd.GeoDataFrame({"site": labels[nearest]}, geometry=squares, crs=work.crs)
    return filled.dissolve(by="site")


def map_solution(
    cells: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    *,
    m: folium.Map | None = None,
    title: str = "Service network",
    headline: Mapping[str, Any] | None = None,
    minutes_column: str = "minutes",
    assignment_column: str = "site_id",
    catchments: bool = True,
    links: bool = False,
    vmax: float | None = None,
    tiles: str | None = "OpenStreetMap",
) -> folium.Map:
    """Draw a service network on a Folium map.

    Parameters
    ----------
    cells
        Population grid cells (polygons, any CRS) with ``population``, the
        minutes column and, for catchments or lines, the assignment column.
    sites
        Candidate sites (points, any CRS), indexed by site id, with ``name`` and
        ``role`` in {"full", "remote", "unused"}; optional ``residents_served``,
        ``visits`` and ``mean_minutes``.
    m
        A map to draw on; ``None`` creates one with a scale bar.
    title
        Heading of the title panel.
    headline
        Label to value pairs shown under the title (e.g. mean travel time).
    minutes_column
        Column of ``cells`` with minutes to the nearest service point.
    assignment_column
        Column of ``cells`` with the id of the site the cell is assigned to.
    catchments
        Draw catchment boundaries (cells dissolved by assigned site).
    links
        Draw a line from each populated cell to its assigned site (a layer
        hidden by default; it is heavy for large regions).
    vmax
        Minutes at the red end of the colour scale (default: from the data,
        30 to 180).
    tiles
        Basemap for a new map (``None`` for none).

    Returns
    -------
    folium.Map
        The map (``m`` if given).

    Raises
    ------
    CRSError
        If a layer has no CRS.
    DataError
        If columns, geometry types or roles are wrong.
    """
    _check_layer(cells, "cells", ("population", minutes_column), ("Polygon", "MultiPolygon"))
    _check_layer(sites, "sites", ("name", "role"), ("Point",))
    bad_roles = sorted(set(sites["role"]) - set(SITE_ROLES))
    if bad_roles:
        raise DataError(f"sites have unknown role(s) {bad_roles}; allowed: {', '.join(SITE_ROLES)}")
    if (catchments or links) and assignment_column not in cells.columns:
        raise DataError(
            f"cells lack the assignment column {assignment_column!r} needed for catchments "
            "and lines; pass catchments=False, links=False or add the column"
        )

    cells_ll = cells.to_crs(4326)
    sites_ll = sites.to_crs(4326)
    minutes = np.asarray(cells[minutes_column], dtype=np.float64)
    finite = minutes[np.isfinite(minutes)]
    if vmax is None:
        top = float(finite.max()) if finite.size else 60.0
        vmax = float(min(180, max(30, math.ceil(top / 30) * 30)))
    caption = "Travel time to the nearest service point (min)"
    colormap = bcm.LinearColormap(_TIME_COLOURS, vmin=0, vmax=vmax, caption=caption)

    if m is None:
        minx, miny, maxx, maxy = cells_ll.total_bounds
        m = folium.Map(
            location=[(miny + maxy) / 2, (minx + maxx) / 2],
            zoom_start=8,
            tiles=tiles,
            control_scale=True,
        )
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    else:
        m.control_scale = True

    names = {str(k): str(v) for k, v in sites["name"].items()}
    assigned = (
        cells[assignment_column].astype("object").where(cells[assignment_column].notna(), None)
        if assignment_column in cells.columns
        else None
    )

    # --- population grid ---------------------------------------------------------------
    props = []
    for i, (cell_id, pop) in enumerate(zip(cells.index, cells["population"], strict=True)):
        t = minutes[i]
        site = assigned.iloc[i] if assigned is not None else None
        props.append(
            {
                "kind": "cell",
                "cell": _esc(cell_id),
                "population": round(float(pop)),
                "minutes": _fmt(t, " min", 1),
                "site": _esc(names.get(str(site), site or "–")),
                "fill": colormap(min(float(t), vmax)) if math.isfinite(t) else _UNREACHABLE,
            }
        )
    grid = folium.FeatureGroup(name="Population grid (travel time)", show=True)
    folium.GeoJson(
        _feature_collection(cells_ll, props),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.6,
            "color": f["properties"]["fill"],
            "weight": 0.3,
        },
        highlight_function=lambda f: {"weight": 2, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(
            fields=["cell", "population", "minutes", "site"],
            aliases=["Cell", "Residents", "Travel time", "Assigned site"],
        ),
    ).add_to(grid)
    grid.add_to(m)

    # --- catchments and links -------------------------------------------------------------
    if catchments and assigned is not None:
        areas = _catchment_areas(cells, assigned)
        if len(areas):
            catch_props = [
                {"kind": "catchment", "site": _esc(names.get(str(s), s))} for s in areas.index
            ]
            layer = folium.FeatureGroup(name="Catchment boundaries", show=True)
            folium.GeoJson(
                _feature_collection(areas.to_crs(4326), catch_props),
                style_function=lambda f: {
                    "color": "#252525",
                    "weight": 1.5,
                    "dashArray": "6 4",
                    "fill": False,
                },
                tooltip=folium.GeoJsonTooltip(fields=["site"], aliases=["Catchment of"]),
            ).add_to(layer)
            layer.add_to(m)
    if links and assigned is not None:
        site_pts = sites.geometry.to_crs(cells.crs)
        lookup = {str(k): p for k, p in site_pts.items()}
        lines, link_props = [], []
        centroids = cells.geometry.representative_point()
        for cell_id, c, s, pop in zip(
            cells.index, centroids, assigned, cells["population"], strict=True
        ):
            if s is None or str(s) not in lookup or not pop > 0:
                continue
            lines.append(shapely.LineString([c, lookup[str(s)]]))
            link_props.append({"kind": "link", "cell": _esc(cell_id)})
        if lines:
            link_gdf = gpd.GeoDataFrame(geometry=lines, crs=cells.crs).to_crs(4326)
            layer = folium.FeatureGroup(name="Cell to site lines", show=False)
            folium.GeoJson(
                _feature_collection(link_gdf, link_props),
                style_function=lambda f: {"color": "#6a51a3", "weight": 1, "opacity": 0.6},
            ).add_to(layer)
            layer.add_to(m)

    # --- sites ------------------------------------------------------------------------------
    for role in reversed(SITE_ROLES):  # unused first, so full points are drawn on top
        subset = sites_ll[sites_ll["role"] == role]
        if subset.empty:
            continue
        layer = folium.FeatureGroup(name=_ROLES[role]["layer"], show=True)
        size = _ROLES[role]["size"]
        for _, row in subset.iterrows():
            name = str(row["name"])
            marker = folium.Marker(
                location=[row.geometry.y, row.geometry.x],
                icon=folium.DivIcon(
                    html=_ICON_HTML[role],
                    icon_size=(size, size),
                    icon_anchor=(size // 2, size // 2),
                    class_name=f"snopt-marker snopt-{role}",
                ),
            )
            tooltip = f"{_esc(name)} ({_esc(_ROLES[role]['label'].lower())})"
            marker.add_child(_BindPopup(_popup_html(name, role, row.to_dict()), tooltip))
            marker.add_to(layer)
        layer.add_to(m)

    root = m.get_root()
    root.html.add_child(folium.Element(_legend_html(colormap, caption)))
    root.html.add_child(folium.Element(_title_html(title, headline)))
    if not any(isinstance(child, folium.LayerControl) for child in m._children.values()):
        folium.LayerControl(collapsed=False).add_to(m)
    return m


# --------------------------------------------------------------------------------------
# Writing, with CDN, inline or local assets
# --------------------------------------------------------------------------------------

_SCRIPT = re.compile(r'<script\b[^>]*?\bsrc="([^"]+)"[^>]*>\s*</script>', re.IGNORECASE)
_LINK = re.compile(r'<link\b[^>]*?\bhref="([^"]+)"[^>]*?/?>', re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)

#: Folium's default assets that a map may not use, with a test on the page's own code.
_OPTIONAL_ASSETS: tuple[tuple[str, Any], ...] = (
    ("jquery", lambda code: re.search(r"\$\(|\bjQuery\b", code) is not None),
    ("awesome", lambda code: "AwesomeMarkers" in code),
    ("fontawesome", lambda code: "AwesomeMarkers" in code or re.search(r"\bfa-", code)),
    ("glyphicons", lambda code: "AwesomeMarkers" in code or "glyphicon" in code),
    ("bootstrap", lambda code: "AwesomeMarkers" in code or "data-bs-" in code),
    ("/d3/", lambda code: re.search(r"\bd3\.", code) is not None),
)


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def _needed(url: str, code: str) -> bool:
    lower = url.lower()
    for marker, used in _OPTIONAL_ASSETS:
        if marker in lower:
            return bool(used(code))
    return True


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(css: str, folder: Path, missing: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        ref = match.group(1).strip()
        if ref.startswith(("data:", "#", "http://", "https://", "//")):
            return match.group(0)
        target = folder / ref.split("?")[0].split("#")[0]
        if not target.is_file():
            missing.append(str(target))
            return match.group(0)
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(replace, css)


def _default_asset_dir(settings: Settings | None) -> Path:
    return (settings or get_settings()).data_dir / "vendor"


def map_html(
    m: folium.Map,
    *,
    assets: AssetMode = "cdn",
    asset_dir: str | os.PathLike[str] | None = None,
    asset_url: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Render a map to a standalone HTML string.

    Parameters
    ----------
    m
        The map.
    assets
        ``"cdn"``: folium's CDN links, unchanged. ``"inline"``: embed local
        copies of the scripts and stylesheets (and the images they refer to)
        so the page opens offline except for basemap tiles. ``"local"``: point
        the links at ``asset_url`` + file name. Both drop folium's default
        assets the page does not use.
    asset_dir
        Folder with the local copies, looked up by file name (``leaflet.js``,
        ``leaflet.css``, ``images/...``); default ``<data_dir>/vendor``.
    asset_url
        Base URL or relative folder for ``"local"`` (e.g. ``"vendor/"``).
    settings
        Settings for the default ``asset_dir``.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    OutputError
        If a needed asset has no local copy (the message lists the files and
        the folder), or ``"local"`` is asked without ``asset_url``.
    """
    page = m.get_root().render()
    if assets == "cdn":
        return page
    if assets not in ("inline", "local"):
        raise OutputError(f"assets must be 'cdn', 'inline' or 'local', got {assets!r}")
    if assets == "local" and not asset_url:
        raise OutputError("assets='local' needs asset_url, the base URL of the local copies")
    folder = Path(asset_dir) if asset_dir is not None else _default_asset_dir(settings)
    code = _LINK.sub("", _SCRIPT.sub("", page))
    missing: list[str] = []

    base = (asset_url or "").rstrip("/") + "/"

    def local_file(url: str) -> Path | None:
        name = Path(urlparse(url if not url.startswith("//") else "https:" + url).path).name
        path = folder / name
        if assets == "inline" and not path.is_file():
            missing.append(str(path))
            return None
        return path

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if not _is_remote(url):
            return match.group(0)
        if not _needed(url, code):
            return ""
        path = local_file(url)
        if assets == "local":
            return f'<script src="{html.escape(base + Path(url).name)}"></script>'
        if path is None:
            return match.group(0)
        text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
        return "<script>" + text.replace("</script", "<\\/script") + "</script>"

    def link(match: re.Match[str]) -> str:
        url = match.group(1)
        tag = match.group(0)
        if not _is_remote(url) or "stylesheet" not in tag.lower():
            return tag
        if not _needed(url, code):
            return ""
        path = local_file(url)
        if assets == "local":
            return tag.replace(url, html.escape(base + Path(url).name))
        if path is None:
            return tag
        css = _inline_css(path.read_text(encoding="utf-8"), path.parent, missing)
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    page = _SCRIPT.sub(script, page)
    page = _LINK.sub(link, page)
    if missing:
        raise OutputError(
            f"no local copy of {', '.join(sorted(set(missing)))} for an offline map; put the "
            f"files in {folder} (the package ships Leaflet in data/vendor) or save with "
            "assets='cdn'"
        )
    return page


def save_map(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    assets: AssetMode = "cdn",
    asset_dir: str | os.PathLike[str] | None = None,
    asset_url: str | None = None,
    settings: Settings | None = None,
) -> Path:
    """Write a map to an HTML file atomically (temporary file, then rename).

    Parameters
    ----------
    m
        The map.
    path
        Target file; its folder is created if needed.
    assets, asset_dir, asset_url, settings
        See :func:`map_html`.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputError
        If the folder cannot be created or written, or an asset is missing.
    """
    page = map_html(m, assets=assets, asset_dir=asset_dir, asset_url=asset_url, settings=settings)
    target = write_text_atomic(path, page)
    logger.info("wrote map %s (%.1f MB)", target, len(page) / 1e6)
    return target

"""Statistics Finland's WFS: the population grid and municipality and region boundaries.

- the population grid (:data:`POPULATION_WFS_URL`, layers
  ``vaestoruutu:vaki{YEAR}_1km``, ``_1km_kp`` and ``_5km``), converted by
  :mod:`optimizer.population`;
- municipality and region (maakunta) boundaries from :data:`AREAS_WFS_URL`
  (``tilastointialueet:kunta4500k_{YEAR}``, ``maakunta4500k_{YEAR}``).

Client
------
:func:`wfs_get_features` sends WFS 2.0 ``GetFeature`` requests with
``outputFormat=application/json`` in EPSG:3067 and pages through the results
with ``count``/``startIndex`` (sorted with ``sortBy`` for a stable order). It
follows GeoServer's ``next`` link when one is given and stops when
``numberMatched`` features have arrived, or, when the server does not count
them, at the first short page. Every page is cached under
``settings.cache_dir / "downloads"`` in a file named by a hash of the URL and
parameters, written atomically. Connections time out after
:data:`CONNECT_TIMEOUT_S` seconds (so an offline machine fails at once) and
reads after ``settings.http_timeout``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import geopandas as gpd
import numpy as np
import requests
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer._io import write_text_atomic
from optimizer.errors import DataError, SourceUnavailableError
from optimizer.population import format_municipality_code, grid_from_features
from optimizer.settings import Settings, get_settings

__all__ = [
    "AREAS_WFS_URL",
    "CONNECT_TIMEOUT_S",
    "DEFAULT_YEAR",
    "OFFLINE_HINT",
    "POPULATION_LAYERS",
    "POPULATION_WFS_URL",
    "check_year",
    "municipalities_from_wfs",
    "new_session",
    "population_grid_from_wfs",
    "regions_from_wfs",
    "wfs_get_features",
]

logger = logging.getLogger(__name__)

POPULATION_WFS_URL = "https://geo.stat.fi/geoserver/vaestoruutu/wfs"
"""Statistics Finland population grid WFS."""

AREAS_WFS_URL = "https://geo.stat.fi/geoserver/tilastointialueet/wfs"
"""Statistics Finland statistical areas WFS (municipality and region boundaries)."""

POPULATION_LAYERS: tuple[str, ...] = ("1km", "1km_kp", "5km")
"""Population grid layers: 1 km cells, 1 km cell centres, 5 km cells."""

DEFAULT_YEAR = 2022
"""Default reference year: population on 31 December 2022, boundaries of 2022."""

CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for a connection before a source counts as unreachable."""

DEFAULT_PAGE_SIZE = 5000
_MAX_PAGES = 10_000
_MAX_ERROR_BYTES = 65_536  # how much of a non-JSON answer is read for its error message
OFFLINE_HINT = (
    "Build a bundle offline from your own files with `optimizer bundle --from-files` "
    "(population grid, roads as .osm.pbf/.graphml/.gpkg, sites)"
)


def _timeouts(settings: Settings) -> tuple[float, float]:
    return (min(CONNECT_TIMEOUT_S, settings.http_timeout), settings.http_timeout)


def _cache_path(settings: Settings, url: str, params: Mapping[str, str]) -> Path:
    blob = json.dumps([url, sorted(params.items())], ensure_ascii=True)
    digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()
    return settings.cache_dir / "downloads" / f"{digest}.json"


def _exception_texts(text: str) -> list[str]:
    """Return the ExceptionText messages of an OGC ExceptionReport, if it is one."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return []
    return [
        " ".join((el.text or "").split())
        for el in root.iter()
        if el.tag.rsplit("}", 1)[-1] == "ExceptionText" and el.text
    ]


def _get_json(
    session: requests.Session,
    url: str,
    params: Mapping[str, str],
    *,
    settings: Settings,
    cache: bool,
) -> dict[str, Any]:
    """GET a JSON FeatureCollection, from the download cache when possible."""
    path = _cache_path(settings, url, params)
    if cache and path.exists():
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            logger.warning("ignoring unreadable cache file %s", path)
            path.unlink(missing_ok=True)
        else:
            logger.debug("cache hit %s for %s", path.name, url)
            return cached
    what = params.get("typeNames", url)
    try:
        response = session.get(url, params=dict(params), timeout=_timeouts(settings))
    except requests.RequestException as exc:
        raise SourceUnavailableError(
            f"cannot reach {url} ({type(exc).__name__}: {exc}). {OFFLINE_HINT}"
        ) from exc
    with contextlib.closing(response):
        body = response.content
        text = body[:_MAX_ERROR_BYTES].decode("utf-8", errors="replace")
        if response.status_code >= 400:
            detail = "; ".join(_exception_texts(text)) or text[:200].strip()
            raise SourceUnavailableError(
                f"{url} answered HTTP {response.status_code} for {what}: {detail}"
            )
        try:
            payload = json.loads(body)  # GeoServer answers UTF-8
        except ValueError:
            messages = _exception_texts(text)
            if messages:
                raise SourceUnavailableError(
                    f"{url} rejected the request for {what}: {'; '.join(messages)}. Check the "
                    "layer name and year"
                ) from None
            raise SourceUnavailableError(
                f"{url} did not answer JSON for {what} (got {text[:120]!r})"
            ) from None
    if (
        not isinstance(payload, dict)
        or payload.get("type") != "FeatureCollection"
        or not isinstance(payload.get("features"), list)
    ):
        raise SourceUnavailableError(
            f"{url} answered for {what} with JSON that is not a GeoJSON FeatureCollection"
        )
    if cache:
        write_text_atomic(path, json.dumps(payload))
    return payload


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _next_start(page: Mapping[str, Any]) -> int | None:
    """Return the startIndex of GeoServer's ``next`` link, if the page has one."""
    for link in page.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
            query = {k.lower(): v for k, v in parse_qsl(urlsplit(str(link["href"])).query)}
            with contextlib.suppress(KeyError, ValueError):
                return int(query["startindex"])
            return -1  # a next page exists, but its link does not say where
    return None


def wfs_get_features(
    url: str,
    type_name: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    cql_filter: str | None = None,
    sort_by: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    session: requests.Session | None = None,
    settings: Settings | None = None,
    cache: bool = True,
) -> dict[str, Any]:
    """Download all features of a WFS layer as one GeoJSON FeatureCollection.

    Parameters
    ----------
    url
        The WFS endpoint, e.g. :data:`POPULATION_WFS_URL`.
    type_name
        The layer, e.g. ``"vaestoruutu:vaki2022_1km"``.
    bbox
        ``(minx, miny, maxx, maxy)`` in EPSG:3067; sent as
        ``bbox=minx,miny,maxx,maxy,EPSG:3067``. Give either ``bbox`` or
        ``cql_filter``: they are mutually exclusive, as BBOX and FILTER are in
        the WFS standard.
    cql_filter
        A GeoServer ``CQL_FILTER``, e.g. ``"kunta IN ('167','276')"``.
    sort_by
        Attribute that orders the features, for stable paging.
    page_size
        Features per request (``count``).
    session
        The HTTP session (default: a new one).
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).
    cache
        Read and write the download cache.

    Returns
    -------
    dict
        A FeatureCollection with every feature, the ``crs`` member of the first
        page and ``numberMatched``/``numberReturned`` of the whole download.

    Raises
    ------
    SourceUnavailableError
        If the endpoint cannot be reached, answers with an error or an
        exception report, or pages inconsistently.
    DataError
        If the arguments are invalid.
    """
    if bbox is not None and cql_filter is not None:
        raise DataError(
            "give bbox or cql_filter, not both: WFS treats them as mutually exclusive; "
            "filter by bbox after download instead"
        )
    if page_size < 1:
        raise DataError(f"page_size must be at least 1, got {page_size}")
    settings = settings or get_settings()
    params: dict[str, str] = {
        "service": "WFS",
        "version": "2.0.0",
        "request": "GetFeature",
        "typeNames": type_name,
        "outputFormat": "application/json",
        "srsName": "EPSG:3067",
        "count": str(page_size),
    }
    if sort_by:
        params["sortBy"] = f"{sort_by} ASC"
    if bbox is not None:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if not (minx < maxx and miny < maxy):
            raise DataError(f"bbox must be (minx, miny, maxx, maxy) with min < max, got {bbox}")
        params["bbox"] = f"{minx!r},{miny!r},{maxx!r},{maxy!r},EPSG:3067"
    if cql_filter:
        params["CQL_FILTER"] = cql_filter

    own_session = session is None
    session = session or new_session()
    features: list[Any] = []
    seen: set[str] = set()
    first: dict[str, Any] | None = None
    start = 0
    try:
        for _ in range(_MAX_PAGES):
            params["startIndex"] = str(start)
            page = _get_json(session, url, params, settings=settings, cache=cache)
            first = first or page
            batch = page["features"]
            ids = [str(f.get("id")) for f in batch if isinstance(f, Mapping) and f.get("id")]
            if batch and ids and len(ids) == len(batch) and seen.issuperset(ids):
                raise SourceUnavailableError(
                    f"{url} returned the same features again at startIndex={start} for "
                    f"{type_name}; the server does not page this layer consistently"
                )
            seen.update(ids)
            features.extend(batch)
            returned = _int_or_none(page.get("numberReturned"))
            returned = len(batch) if returned is None else returned
            matched = _int_or_none(page.get("numberMatched"))
            if matched is None:
                matched = _int_or_none(page.get("totalFeatures"))
            next_start = _next_start(page)
            logger.debug(
                "%s %s: page at %d returned %d (matched %s)",
                url,
                type_name,
                start,
                returned,
                matched,
            )
            if returned == 0 or not batch:
                break
            if matched is not None and len(features) >= matched:
                break
            if matched is None and next_start is None and returned < page_size:
                break
            start = (
                next_start if next_start is not None and next_start > start else (start + returned)
            )
        else:
            raise SourceUnavailableError(
                f"{url} kept returning pages for {type_name} after {_MAX_PAGES} requests"
            )
    finally:
        if own_session:
            session.close()
    assert first is not None
    logger.info("downloaded %d features of %s from %s", len(features), type_name, url)
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": len(features),
        "numberReturned": len(features),
        "crs": first.get("crs"),
    }


def new_session() -> requests.Session:
    """Return an HTTP session that names the package in its ``User-Agent``."""
    try:
        version = importlib.metadata.version("service-network-optimizer")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - bare checkout
        version = "0"
    session = requests.Session()
    session.headers["User-Agent"] = f"service-network-optimizer/{version}"
    return session


def _collection_crs(collection: Mapping[str, Any], *, source: str) -> CRS:
    member = collection.get("crs")
    if not member:
        return CRS.from_epsg(3067)  # we ask for srsName=EPSG:3067
    name = (member.get("properties") or {}).get("name") if isinstance(member, Mapping) else None
    try:
        return CRS.from_user_input(name)
    except (PyprojCRSError, TypeError) as exc:
        raise DataError(f"{source}: unreadable crs member {member!r}: {exc}") from exc


def _collection_to_gdf(collection: Mapping[str, Any], *, source: str) -> gpd.GeoDataFrame:
    crs = _collection_crs(collection, source=source)
    features = collection["features"]
    if not features:
        return gpd.GeoDataFrame(geometry=[], crs=crs)
    gdf = gpd.GeoDataFrame.from_features(features, crs=crs)
    if not crs.equals(CRS.from_epsg(3067)):
        gdf = gdf.to_crs(3067)
    return gdf


def _kunta_filter(codes: Iterable[object]) -> tuple[str, tuple[str, ...]]:
    """Return a CQL filter on ``kunta`` and the normalised codes."""
    normalised = sorted({c for c in (format_municipality_code(v) for v in codes) if c})
    if not normalised:
        raise DataError("municipalities= is empty; give at least one municipality code")
    # the layers hold 3-digit text codes; the unpadded form is harmless and also
    # matches a layer that stores the code as a number
    values = sorted({*normalised, *(str(int(c)) for c in normalised)})
    return "kunta IN (" + ",".join(f"'{v}'" for v in values) + ")", tuple(normalised)


def check_year(year: int) -> int:
    """Return ``year`` as an int, refusing anything but a whole year from 2005 on.

    Raises
    ------
    DataError
        If ``year`` is not an integer from 2005 on.
    """
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)) or year < 2005:
        raise DataError(f"year must be a whole year from 2005 on, got {year!r}")
    return int(year)


def population_grid_from_wfs(
    *,
    year: int,
    layer: str = "1km",
    bbox: tuple[float, float, float, float] | None = None,
    municipalities: Iterable[object] | None = None,
    session: requests.Session | None = None,
    settings: Settings | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> gpd.GeoDataFrame:
    """Download Statistics Finland's population grid in the bundle schema.

    Parameters
    ----------
    year
        Reference year (population on 31 December of that year).
    layer
        ``"1km"`` (cells), ``"1km_kp"`` (cell centres, converted to cells) or
        ``"5km"``.
    bbox
        ``(minx, miny, maxx, maxy)`` in EPSG:3067: only cells that intersect it.
    municipalities
        Municipality codes (``"167"``, ``167``): only cells filed under them
        (``kunta``). With ``bbox`` too, the bbox is applied after download.
    session
        The HTTP session (default: a new one).
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).
    page_size
        Features per WFS request.

    Returns
    -------
    geopandas.GeoDataFrame
        The grid in the bundle schema (see :mod:`optimizer.population`).

    Raises
    ------
    SourceUnavailableError
        If the WFS cannot be reached or refuses the request (e.g. no layer for
        that year).
    DataError
        If the arguments are invalid or no cells match.
    """
    year = check_year(year)
    if layer not in POPULATION_LAYERS:
        raise DataError(f"layer must be one of {', '.join(POPULATION_LAYERS)}; got {layer!r}")
    type_name = f"vaestoruutu:vaki{year}_{layer}"
    cql = None
    if municipalities is not None:
        cql, _ = _kunta_filter(municipalities)
    collection = wfs_get_features(
        POPULATION_WFS_URL,
        type_name,
        bbox=bbox if cql is None else None,
        cql_filter=cql,
        sort_by="grd_id",
        page_size=page_size,
        session=session,
        settings=settings,
    )
    source = f"{POPULATION_WFS_URL} ({type_name})"
    grid = grid_from_features(collection, year=year, source=source, crs="EPSG:3067")
    if bbox is not None and cql is not None:
        grid = grid[grid.intersects(shapely.box(*bbox))]
        if grid.empty:
            raise DataError(f"{source}: no cell of the municipalities intersects bbox {bbox}")
    return grid


def municipalities_from_wfs(
    *,
    year: int,
    municipalities: Iterable[object] | None = None,
    session: requests.Session | None = None,
    settings: Settings | None = None,
) -> gpd.GeoDataFrame:
    """Download municipality boundaries (``tilastointialueet:kunta4500k_{year}``).

    Parameters
    ----------
    year
        Year of the municipal division.
    municipalities
        Only these municipality codes (default: all).
    session
        The HTTP session (default: a new one).
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``kunta`` (3-digit code), ``nimi`` (Finnish name), ``namn``
        (Swedish name) and the rest of the layer's fields; (multi)polygons in
        EPSG:3067, sorted by code.

    Raises
    ------
    SourceUnavailableError
        If the WFS cannot be reached or refuses the request.
    DataError
        If no municipality matches or a field is missing.
    """
    year = check_year(year)
    type_name = f"tilastointialueet:kunta4500k_{year}"
    cql = None
    wanted: tuple[str, ...] = ()
    if municipalities is not None:
        cql, wanted = _kunta_filter(municipalities)
    collection = wfs_get_features(
        AREAS_WFS_URL,
        type_name,
        cql_filter=cql,
        sort_by="kunta",
        session=session,
        settings=settings,
    )
    source = f"{AREAS_WFS_URL} ({type_name})"
    gdf = _areas_frame(collection, code_field="kunta", source=source)
    if wanted:
        missing = sorted(set(wanted) - set(gdf["kunta"]))
        if missing:
            logger.warning("%s has no boundary for municipalities %s", source, ", ".join(missing))
    return gdf


def regions_from_wfs(
    *,
    year: int,
    session: requests.Session | None = None,
    settings: Settings | None = None,
) -> gpd.GeoDataFrame:
    """Download region (maakunta) boundaries (``tilastointialueet:maakunta4500k_{year}``).

    Parameters
    ----------
    year
        Year of the regional division.
    session
        The HTTP session (default: a new one).
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``maakunta`` (2-digit code), ``nimi``, ``namn`` and the rest of
        the layer's fields; (multi)polygons in EPSG:3067, sorted by code.
        Åland (21) is included as the layer holds it.

    Raises
    ------
    SourceUnavailableError
        If the WFS cannot be reached or refuses the request.
    DataError
        If the answer is empty or a field is missing.
    """
    year = check_year(year)
    type_name = f"tilastointialueet:maakunta4500k_{year}"
    collection = wfs_get_features(
        AREAS_WFS_URL, type_name, sort_by="maakunta", session=session, settings=settings
    )
    return _areas_frame(collection, code_field="maakunta", source=f"{AREAS_WFS_URL} ({type_name})")


def _areas_frame(
    collection: Mapping[str, Any], *, code_field: str, source: str
) -> gpd.GeoDataFrame:
    gdf = _collection_to_gdf(collection, source=source)
    if gdf.empty:
        raise DataError(f"{source}: no areas matched the request")
    missing = sorted({code_field, "nimi", "namn"} - set(gdf.columns))
    if missing:
        raise DataError(
            f"{source}: field(s) {', '.join(missing)} missing; fields present: "
            f"{', '.join(map(str, gdf.columns))}"
        )
    width = 3 if code_field == "kunta" else 2
    try:
        codes = [format_municipality_code(v) for v in gdf[code_field]]
    except DataError as exc:
        raise DataError(f"{source}: field '{code_field}': {exc}") from None
    gdf[code_field] = [c[-width:] if c else None for c in codes]
    ordered = [
        code_field,
        "nimi",
        "namn",
        *(c for c in gdf.columns if c not in (code_field, "nimi", "namn")),
    ]
    return gdf[ordered].sort_values(code_field).reset_index(drop=True)

"""Online data sources: Statistics Finland WFS, OpenStreetMap, and region bundles.

This module downloads what a region bundle needs and builds the bundle:

- the population grid from Statistics Finland's WFS
  (:data:`POPULATION_WFS_URL`, layers ``vaestoruutu:vaki{YEAR}_1km``,
  ``_1km_kp`` and ``_5km``), converted by :mod:`optimizer.population`;
- municipality and region (maakunta) boundaries from
  :data:`AREAS_WFS_URL` (``tilastointialueet:kunta4500k_{YEAR}``,
  ``maakunta4500k_{YEAR}``);
- the road network from OpenStreetMap (:mod:`optimizer.network`);
- candidate sites at the municipal centres.

:func:`fetch_region` puts them together for any of the 18 mainland regions in
:data:`MAINLAND_REGIONS`. Åland (21) is left out: its islands are linked by
ferries, which a drive network does not hold.

WFS client
----------
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

Municipality key
----------------
:func:`municipalities_of_region` uses the Statistics Finland classification
key of municipalities to regions for the 2023 division (309 municipalities;
``kunta_1_20230101#maakunta_1_20230101``), embedded below. The division did
not change between 2021 and 2024, so the key holds for population grids of
2021-2023. Before 2021, Valtimo (911) and Honkajoki (099) still existed and
Heinävesi (090) belonged to Etelä-Savo.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import hashlib
import importlib.metadata
import json
import logging
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import requests
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer import network as _network
from optimizer._io import write_text_atomic
from optimizer.errors import (
    BundleNotFoundError,
    DataError,
    OutputError,
    SourceUnavailableError,
    UnknownRegionError,
)
from optimizer.population import format_municipality_code, grid_from_features
from optimizer.settings import Settings, get_settings
from optimizer.sources import osm as _osm

if TYPE_CHECKING:
    from rich.progress import Progress

    from optimizer.region import RegionMeta

__all__ = [
    "AREAS_WFS_URL",
    "CONNECT_TIMEOUT_S",
    "DEFAULT_YEAR",
    "MAINLAND_REGIONS",
    "POPULATION_LAYERS",
    "POPULATION_WFS_URL",
    "ROAD_BUFFER_M",
    "RegionInfo",
    "fetch_region",
    "find_region",
    "municipalities_from_wfs",
    "municipalities_of_region",
    "population_grid_from_wfs",
    "regions_from_wfs",
    "sites_from_municipalities",
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

ROAD_BUFFER_M = 5000.0
"""Metres added around a region before downloading its roads.

The 1:4 500 000 boundaries are generalised by up to a few kilometres, and
roads that leave the region briefly still serve it. Near the national border
the buffer also takes in a few kilometres of foreign roads.
"""

DEFAULT_PAGE_SIZE = 5000
_MAX_PAGES = 10_000
_MAX_ERROR_BYTES = 65_536  # how much of a non-JSON answer is read for its error message
_OFFLINE_HINT = (
    "Build a bundle offline from your own files with `optimizer bundle --from-files` "
    "(population grid, roads as .osm.pbf/.graphml/.gpkg, sites)"
)


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """A mainland region (maakunta) of Finland.

    Attributes
    ----------
    code
        Two-digit Statistics Finland code, e.g. ``"12"`` (``MK12``).
    name_fi, name_sv, name_en
        Names in Finnish, Swedish and English.
    slug
        Lower-case ASCII name used for bundle folders, e.g. ``"pohjois-karjala"``.
    """

    code: str
    name_fi: str
    name_sv: str
    name_en: str
    slug: str


MAINLAND_REGIONS: tuple[RegionInfo, ...] = (
    RegionInfo("01", "Uusimaa", "Nyland", "Uusimaa", "uusimaa"),
    RegionInfo(
        "02", "Varsinais-Suomi", "Egentliga Finland", "Southwest Finland", "varsinais-suomi"
    ),
    RegionInfo("04", "Satakunta", "Satakunta", "Satakunta", "satakunta"),
    RegionInfo("05", "Kanta-Häme", "Egentliga Tavastland", "Kanta-Häme", "kanta-hame"),
    RegionInfo("06", "Pirkanmaa", "Birkaland", "Pirkanmaa", "pirkanmaa"),
    RegionInfo("07", "Päijät-Häme", "Päijänne-Tavastland", "Päijät-Häme", "paijat-hame"),
    RegionInfo("08", "Kymenlaakso", "Kymmenedalen", "Kymenlaakso", "kymenlaakso"),
    RegionInfo("09", "Etelä-Karjala", "Södra Karelen", "South Karelia", "etela-karjala"),
    RegionInfo("10", "Etelä-Savo", "Södra Savolax", "South Savo", "etela-savo"),
    RegionInfo("11", "Pohjois-Savo", "Norra Savolax", "North Savo", "pohjois-savo"),
    RegionInfo("12", "Pohjois-Karjala", "Norra Karelen", "North Karelia", "pohjois-karjala"),
    RegionInfo("13", "Keski-Suomi", "Mellersta Finland", "Central Finland", "keski-suomi"),
    RegionInfo(
        "14", "Etelä-Pohjanmaa", "Södra Österbotten", "South Ostrobothnia", "etela-pohjanmaa"
    ),
    RegionInfo("15", "Pohjanmaa", "Österbotten", "Ostrobothnia", "pohjanmaa"),
    RegionInfo(
        "16",
        "Keski-Pohjanmaa",
        "Mellersta Österbotten",
        "Central Ostrobothnia",
        "keski-pohjanmaa",
    ),
    RegionInfo(
        "17", "Pohjois-Pohjanmaa", "Norra Österbotten", "North Ostrobothnia", "pohjois-pohjanmaa"
    ),
    RegionInfo("18", "Kainuu", "Kajanaland", "Kainuu", "kainuu"),
    RegionInfo("19", "Lappi", "Lappland", "Lapland", "lappi"),
)
"""The 18 mainland regions (maakunta), in code order (Åland, 21, excluded)."""

_ALAND = RegionInfo("21", "Ahvenanmaa", "Åland", "Åland", "ahvenanmaa")

# Statistics Finland key kunta_1_20230101#maakunta_1_20230101: region -> municipalities
_KEY_2023_TEXT: Mapping[str, str] = {
    "01": (
        "018 049 078 091 092 106 149 186 224 235 245 257 407 434 444 504 505 543 611 616 "
        "638 710 753 755 858 927"
    ),
    "02": (
        "019 202 284 304 322 400 423 430 445 480 481 503 529 538 561 577 631 636 680 704 "
        "734 738 761 833 853 895 918"
    ),
    "04": "050 051 079 102 181 214 230 271 484 531 608 609 684 747 783 886",
    "05": "061 082 086 103 109 165 169 433 694 834 981",
    "06": (
        "020 108 143 177 211 250 291 418 508 536 562 581 604 619 635 702 790 837 887 908 "
        "922 936 980"
    ),
    "07": "016 081 098 111 142 316 398 560 576 781",
    "08": "075 285 286 489 624 935",
    "09": "153 405 416 441 580 689 700 739 831",
    "10": "046 097 178 213 491 507 588 593 623 681 740 768",
    "11": "140 171 204 239 263 297 402 420 595 686 687 749 762 778 844 857 915 921 925",
    "12": "090 146 167 176 260 276 309 422 426 541 607 707 848",
    "13": (
        "077 172 179 182 216 226 249 256 265 275 312 410 435 495 500 592 601 729 850 892 931 992"
    ),
    "14": "005 010 052 145 151 152 218 232 233 300 301 403 408 743 759 846 934 989",
    "15": "231 280 287 288 399 440 475 499 545 598 599 893 905 946",
    "16": "074 217 236 272 421 584 849 924",
    "17": (
        "009 069 071 072 139 208 244 305 317 425 436 483 494 535 563 564 615 625 626 630 "
        "678 691 746 748 785 791 832 859 889 977"
    ),
    "18": "105 205 290 578 620 697 765 777",
    "19": ("047 148 240 241 261 273 320 498 583 614 683 698 732 742 751 758 845 851 854 890 976"),
    "21": "035 043 060 062 065 076 170 295 318 417 438 478 736 766 771 941",
}
_MUNICIPALITIES_2023: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {code: tuple(text.split()) for code, text in _KEY_2023_TEXT.items()}
)


def _fold(text: str) -> str:
    """Lower-case, strip accents and unify separators: 'Päijät Häme' -> 'paijat-hame'."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]+", "-", plain.casefold().strip())


_CODE_RE = re.compile(r"^(?:mk)?-?0*(\d{1,2})$")


def _region_names(region: RegionInfo) -> tuple[str, ...]:
    return (region.name_fi, region.name_sv, region.name_en, region.slug)


def find_region(name_or_code: str | int | RegionInfo) -> RegionInfo:
    """Find a mainland region by code or name.

    Parameters
    ----------
    name_or_code
        A code (``"12"``, ``12``, ``"MK12"``), or a Finnish, Swedish or English
        name or slug, in any case and with or without accents
        (``"Pohjois-Karjala"``, ``"pohjois karjala"``, ``"Norra Karelen"``,
        ``"North Karelia"``).

    Returns
    -------
    RegionInfo
        The region.

    Raises
    ------
    UnknownRegionError
        If nothing matches; the message suggests the closest names. Åland (21)
        is not a mainland region and is refused with its own message.
    """
    if isinstance(name_or_code, RegionInfo):
        return name_or_code
    text = str(name_or_code)
    folded = _fold(text)
    match = _CODE_RE.match(folded)
    if match:
        code = f"{int(match.group(1)):02d}"
        for region in MAINLAND_REGIONS:
            if region.code == code:
                return region
        if code == _ALAND.code:
            raise _aland_error(text)
        raise UnknownRegionError(
            f"no mainland region has code {text!r}; codes are "
            f"{', '.join(r.code for r in MAINLAND_REGIONS)} (01 Uusimaa ... 19 Lappi)"
        )
    for region in MAINLAND_REGIONS:
        if folded in {_fold(n) for n in _region_names(region)}:
            return region
    if folded in {_fold(n) for n in _region_names(_ALAND)} | {"aland"}:
        raise _aland_error(text)
    candidates = {_fold(n): r for r in MAINLAND_REGIONS for n in _region_names(r)}
    close = difflib.get_close_matches(folded, list(candidates), n=5, cutoff=0.5)
    suggestions: list[RegionInfo] = []
    for name in close:
        if candidates[name] not in suggestions:
            suggestions.append(candidates[name])
    if suggestions:
        hint = (
            "did you mean "
            + " or ".join(f"{r.name_fi} ({r.code}, '{r.slug}')" for r in suggestions[:3])
            + "?"
        )
    else:
        hint = "known regions: " + ", ".join(r.slug for r in MAINLAND_REGIONS)
    raise UnknownRegionError(f"unknown region {text!r}; {hint}")


def _aland_error(text: str) -> UnknownRegionError:
    return UnknownRegionError(
        f"region {text!r} is Åland (Ahvenanmaa, 21), which is not supported: only the 18 "
        "mainland regions can be fetched (Åland's islands are linked by ferries, not roads)"
    )


def municipalities_of_region(
    code: str | int | RegionInfo, *, key_csv: str | Path | None = None
) -> tuple[str, ...]:
    """Return the 3-digit codes of a region's municipalities (2023 division).

    Parameters
    ----------
    code
        The region: anything :func:`find_region` accepts.
    key_csv
        A Statistics Finland municipality key CSV with columns ``kunta`` and
        ``maakunta_code`` (e.g. a later year's key) to use instead of the
        embedded 2023 key.

    Returns
    -------
    tuple of str
        Sorted municipality codes, e.g. ``("090", "146", "167", ...)``.

    Raises
    ------
    UnknownRegionError
        If the region is unknown.
    BundleNotFoundError
        If ``key_csv`` does not exist.
    DataError
        If ``key_csv`` lacks the columns or lists no municipality for the region.
    """
    region = find_region(code)
    if key_csv is None:
        return _MUNICIPALITIES_2023[region.code]
    path = Path(key_csv)
    if not path.exists():
        raise BundleNotFoundError(f"municipality key {path} does not exist")
    key = pd.read_csv(path, dtype=str)
    missing = sorted({"kunta", "maakunta_code"} - set(key.columns))
    if missing:
        raise DataError(
            f"municipality key {path} lacks column(s) {', '.join(missing)}; expected "
            "'kunta' (municipality code) and 'maakunta_code' (region code)"
        )
    try:
        region_codes = key["maakunta_code"].map(lambda v: f"{int(float(v)):02d}")
    except ValueError as exc:
        raise DataError(f"municipality key {path}: field 'maakunta_code': {exc}") from None
    selected = key.loc[region_codes == region.code, "kunta"]
    try:
        codes = sorted({c for c in (format_municipality_code(v) for v in selected) if c})
    except DataError as exc:
        raise DataError(f"municipality key {path}: field 'kunta': {exc}") from None
    if not codes:
        raise DataError(
            f"municipality key {path} lists no municipality for region {region.code} "
            f"({region.name_fi})"
        )
    return tuple(codes)


# --------------------------------------------------------------------------- WFS client


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
            f"cannot reach {url} ({type(exc).__name__}: {exc}). {_OFFLINE_HINT}"
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
    session = session or _new_session()
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


def _new_session() -> requests.Session:
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


def _check_year(year: int) -> int:
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
    year = _check_year(year)
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
    grid = grid_from_features(collection, year=year, source=source)
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
    year = _check_year(year)
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
    year = _check_year(year)
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


# --------------------------------------------------------------------------- sites


def _read_localities(localities: str | Path | pd.DataFrame) -> pd.DataFrame:
    if isinstance(localities, pd.DataFrame):
        frame = localities.copy()
        source = "central_localities"
    else:
        path = Path(localities)
        source = str(path)
        if not path.exists():
            raise BundleNotFoundError(f"central localities file {path} does not exist")
        frame = pd.read_csv(path, dtype={"kuntatunnus": str})
    missing = sorted({"kuntatunnus", "X", "Y"} - set(frame.columns))
    if missing:
        raise DataError(
            f"{source} lacks column(s) {', '.join(missing)}; expected the NLS central "
            "locality points: 'kuntatunnus' (municipality code), 'X' (lon), 'Y' (lat), "
            "'teksti' (name)"
        )
    frame["kunta"] = [format_municipality_code(v) for v in frame["kuntatunnus"]]
    return frame


def sites_from_municipalities(
    municipalities: gpd.GeoDataFrame,
    *,
    central_localities: str | Path | pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Place a candidate site at the centre of each municipality.

    The centre is the municipality's central locality where one is given and
    lies inside the municipality, otherwise a representative point of its
    boundary (a point guaranteed to be inside it).

    Parameters
    ----------
    municipalities
        Boundaries with columns ``kunta`` and ``nimi`` (as from
        :func:`municipalities_from_wfs`), in EPSG:3067.
    central_localities
        Central locality points of the National Land Survey (CSV or frame with
        ``kuntatunnus``, ``X`` = longitude, ``Y`` = latitude in WGS84).

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
    centres: dict[str, shapely.Point] = {}
    if central_localities is not None:
        points = _read_localities(central_localities)
        projected = gpd.GeoSeries(
            gpd.points_from_xy(points["X"], points["Y"]), crs="EPSG:4326"
        ).to_crs(3067)
        centres = {k: p for k, p in zip(points["kunta"], projected, strict=True) if k}

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


# --------------------------------------------------------------------------- bundle


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


def fetch_region(
    region: str | int | RegionInfo,
    *,
    out_dir: str | Path,
    year: int = DEFAULT_YEAR,
    progress: bool | Progress = False,
    settings: Settings | None = None,
    session: requests.Session | None = None,
    roads_file: str | Path | None = None,
    central_localities: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Build a region bundle from the online sources.

    Downloads the region's municipality boundaries and 1 km population grid
    from Statistics Finland and its drive network from OpenStreetMap (OSMnx,
    the region buffered by :data:`ROAD_BUFFER_M`, reduced to its strongly
    connected core), and places candidate sites at the municipal centres.
    Downloads are cached under ``settings.cache_dir``. The sources are checked
    before the large downloads start, so an offline machine fails at once.

    The bundle folder holds ``population.gpkg`` (layer ``population``),
    ``roads.graphml``, ``sites.gpkg`` (layer ``sites``), ``boundary.gpkg``
    (the municipality boundaries) and ``region.toml`` (name, slug, code, year,
    CRS, ``[layers]``, ``[sources]``, ``[licences]`` and ``[synthetic]``, all
    false). It is written to a temporary folder beside it and moved into place
    at the end, so a failed fetch leaves nothing behind.

    Parameters
    ----------
    region
        Region code or name (see :func:`find_region`).
    out_dir
        The bundle folder to create, e.g. ``settings.cache_dir / "regions" / "kainuu"``.
    year
        Reference year of the population grid and of the boundaries.
    progress
        ``True`` shows a progress bar on the terminal; a ``rich.progress.Progress``
        gets a task of its own; ``False`` shows nothing.
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).
    session
        The HTTP session for the Statistics Finland requests and the Overpass
        reachability check (default: a new one).
    roads_file
        Read the roads from this local ``.osm.pbf`` (e.g. Geofabrik's
        ``finland-latest.osm.pbf``), ``.graphml`` or ``.gpkg`` instead of
        downloading them.
    central_localities
        CSV of National Land Survey central locality points (``kuntatunnus``,
        ``X``, ``Y``) to place the sites at; default: a point inside each
        municipality.
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
    DataError
        If a source answers with unusable data.
    """
    info = find_region(region)
    year = _check_year(year)
    settings = settings or get_settings()
    target = Path(out_dir)
    if target.exists() and not overwrite:
        raise OutputError(
            f"bundle folder {target} already exists; pass overwrite=True to replace it"
        )
    if year < 2021:
        logger.warning(
            "year %d predates the 2021 municipal division of the embedded key; the region's "
            "municipality list may not match the %d grid",
            year,
            year,
        )
    codes = municipalities_of_region(info)
    own_session = session is None
    session = session or _new_session()
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
            advance(f"{info.name_fi}: candidate sites")
            sites = sites_from_municipalities(boundaries, central_localities=central_localities)
            advance(f"{info.name_fi}: writing {target}")
            from optimizer.region import Region, save_region

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
                    info,
                    year=year,
                    today=today,
                    roads_source=roads_source,
                    localities=central_localities is not None,
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
    info: RegionInfo, *, year: int, today: str, roads_source: str, localities: bool
) -> RegionMeta:
    boundaries = (
        f"Statistics Finland municipality boundaries 1:4 500 000 "
        f"(tilastointialueet:kunta4500k_{year}, {AREAS_WFS_URL}), downloaded {today}"
    )
    sites = (
        "Municipal centres: National Land Survey central locality points inside the " + boundaries
        if localities
        else "Municipal centres: a point inside each of the " + boundaries
    )
    from optimizer.region import RegionMeta  # here: region imports this module

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
            "sites": "CC BY 4.0, Statistics Finland"
            + (" and National Land Survey of Finland" if localities else ""),
            "boundary": "CC BY 4.0, Statistics Finland",
        },
    )

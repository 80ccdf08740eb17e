"""Road networks: build, read, write and validate directed drive graphs.

Every graph follows the OSMnx conventions the bundle uses: a
``networkx.MultiDiGraph`` with ``G.graph["crs"] == "EPSG:3067"``, node
attributes ``x`` and ``y`` (metres), and on every edge ``length`` (m),
``speed_kph`` and ``travel_time`` (s). One-way streets have a single edge.

Sources
-------
- :func:`network_from_polygon` downloads the OSM drive network of a polygon
  with OSMnx (Overpass API).
- :func:`network_from_pbf` reads a local ``.osm.pbf`` extract with pyrosm
  (e.g. Geofabrik's ``finland-latest.osm.pbf``).
- :func:`network_from_graphml` and :func:`network_from_gpkg` read graphs saved
  by :func:`network_to_graphml`, :func:`network_to_gpkg` or OSMnx.

Speeds
------
:func:`add_travel_times` takes each edge's speed from its OSM ``maxspeed``
where that can be read (see :func:`parse_maxspeed`), otherwise from the
highway class, using the summer speed limits that apply in Finland:

==================  =====  ====================================================
highway             km/h   rationale
==================  =====  ====================================================
motorway            120    summer limit on motorways; 100 km/h in winter [2]_
trunk               100    main roads (valtatie) mostly signed 100 in summer [2]_
primary              80    general limit outside built-up areas [1]_
secondary            80    general limit outside built-up areas [1]_
tertiary             60    connecting roads, mixed 50-80 km/h signing
unclassified         50    general limit in built-up areas [1]_
residential          40    40 km/h on most Finnish streets [3]_
living_street        20    pihakatu limit [1]_
service              30    yards, parking and access roads
motorway_link        80    ramps, below the carriageway speed
trunk_link           60
primary_link         60
secondary_link       50
tertiary_link        40
road                 50    class unknown: built-up area limit
==================  =====  ====================================================

Any other class (or an unknown value) gets :data:`FALLBACK_SPEED_KPH` (50).
Edges whose ``highway`` is a list (merged by simplification) get the mean of
the known classes. These are posted limits, not observed speeds: travel times
are free-flow summer times, without junction delays or congestion.

References
----------
.. [1] Tieliikennelaki 729/2018 (Road Traffic Act), chapter 3: general speed
   limits of 50 km/h in built-up areas and 80 km/h elsewhere; 20 km/h on a
   pihakatu (living street).
.. [2] Finnish Transport Infrastructure Agency (Väylävirasto), winter speed
   limits: motorways 120 -> 100 km/h and main roads 100 -> 80 km/h from
   October to April.
.. [3] European Commission road safety observatory, traffic rules in Finland:
   "40 on more than half of the streets" in built-up areas.

Strongly connected core
-----------------------
A drive network clipped to a region always has a few one-way stubs at its
edge (and islands reached only by ferry) from which no route leads back. The
rest of the graph must be mutually reachable, so :func:`validate_roads`
requires the largest strongly connected component to hold at least
:data:`MIN_CORE_SHARE` (80 %) of the nodes. Use
:func:`largest_strong_component` to keep only that core.
"""

from __future__ import annotations

import ast
import contextlib
import logging
import math
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import requests
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform as shapely_transform

from optimizer._io import atomic_path
from optimizer.errors import BundleNotFoundError, NetworkError, SourceUnavailableError
from optimizer.settings import Settings, get_settings

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "FALLBACK_SPEED_KPH",
    "FI_IMPLICIT_SPEEDS_KPH",
    "MIN_CORE_SHARE",
    "MIN_TRAVEL_TIME_S",
    "RoadCoverage",
    "RoadNetwork",
    "add_travel_times",
    "as_road_network",
    "largest_strong_component",
    "network_from_file",
    "network_from_gpkg",
    "network_from_graphml",
    "network_from_pbf",
    "network_from_polygon",
    "network_to_gpkg",
    "network_to_graphml",
    "parse_maxspeed",
    "read_roads",
    "road_coverage",
    "validate_roads",
    "write_roads",
]

logger = logging.getLogger(__name__)

DEFAULT_SPEEDS_KPH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 120.0,
        "trunk": 100.0,
        "primary": 80.0,
        "secondary": 80.0,
        "tertiary": 60.0,
        "unclassified": 50.0,
        "residential": 40.0,
        "living_street": 20.0,
        "service": 30.0,
        "motorway_link": 80.0,
        "trunk_link": 60.0,
        "primary_link": 60.0,
        "secondary_link": 50.0,
        "tertiary_link": 40.0,
        "road": 50.0,
    }
)
"""Speed (km/h) by OSM highway class where ``maxspeed`` is absent (see the module docstring)."""

FALLBACK_SPEED_KPH = 50.0
"""Speed (km/h) of an edge whose highway class is not in :data:`DEFAULT_SPEEDS_KPH`."""

FI_IMPLICIT_SPEEDS_KPH: Mapping[str, float] = MappingProxyType(
    {
        "fi:urban": 50.0,
        "fi:rural": 80.0,
        "fi:motorway": 120.0,
        "fi:living_street": 20.0,
    }
)
"""Finnish implicit ``maxspeed`` values (``FI:urban`` etc.) in km/h."""

MIN_CORE_SHARE = 0.8
"""Share of nodes the largest strongly connected component must hold."""

MIN_TRAVEL_TIME_S = 0.1
"""Floor on an edge's travel time, so zero-length edges still take positive time."""

ROADS_CRS = "EPSG:3067"
_MPH_TO_KPH = 1.609344
_MAX_NAMED = 10
_SPEED_RANGE = (1.0, 200.0)  # plausible posted limits, km/h
_NUMBER_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)
_FI_ZONE_RE = re.compile(r"^fi:zone:?(\d+)$", re.IGNORECASE)
_OFFLINE_HINT = (
    "Build a bundle offline from your own files with `optimizer bundle --from-files` "
    "(population grid, roads as .osm.pbf/.graphml/.gpkg, sites)"
)
# attributes pyrosm adds that the bundle does not need (they bloat GraphML files)
_PYROSM_DROP_NODE = ("geometry", "visible", "version", "timestamp", "changeset", "tags")
_PYROSM_DROP_EDGE = ("u", "v", "visible", "version", "timestamp", "tags", "osm_type", "changeset")
_GRAPHML_FLOAT_EDGE = ("length", "travel_time", "speed_kph", "grade", "grade_abs")


# --------------------------------------------------------------------------- speeds


def _parse_one_maxspeed(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    implicit = FI_IMPLICIT_SPEEDS_KPH.get(text.lower())
    if implicit is not None:
        return implicit
    zone = _FI_ZONE_RE.match(text)
    if zone:
        return float(zone.group(1))
    match = _NUMBER_RE.match(text)
    if not match:
        return None  # "none", "signals", "walk", other countries' implicit values...
    value = float(match.group(1).replace(",", "."))
    if (match.group(2) or "").lower() == "mph":
        value *= _MPH_TO_KPH
    if not _SPEED_RANGE[0] <= value <= _SPEED_RANGE[1]:
        return None
    return value


def parse_maxspeed(value: object) -> float | None:
    """Read an OSM ``maxspeed`` value as km/h.

    Parameters
    ----------
    value
        The tag value: a number, text such as ``"50"``, ``"50 km/h"``,
        ``"30 mph"``, ``"50;60"`` (several limits: their mean), ``"FI:urban"``
        (50), ``"FI:rural"`` (80), ``"FI:motorway"`` (120),
        ``"FI:living_street"`` (20), ``"FI:zone30"`` (30), or a list of such
        values from a simplified edge (their mean).

    Returns
    -------
    float or None
        The speed in km/h, or ``None`` when no speed can be read (missing,
        ``"none"``, ``"signals"``, ``"walk"``, another country's implicit value,
        or a number outside 1-200 km/h).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
        if math.isnan(number) or not _SPEED_RANGE[0] <= number <= _SPEED_RANGE[1]:
            return None
        return number
    if isinstance(value, (list, tuple, set)):
        parts = [parse_maxspeed(v) for v in value]
    else:
        parts = [_parse_one_maxspeed(p) for p in str(value).split(";")]
    speeds = [p for p in parts if p is not None]
    return float(np.mean(speeds)) if speeds else None


def _default_speed(highway: object) -> float:
    classes = highway if isinstance(highway, (list, tuple, set)) else [highway]
    known = [DEFAULT_SPEEDS_KPH[str(h)] for h in classes if str(h) in DEFAULT_SPEEDS_KPH]
    return float(np.mean(known)) if known else FALLBACK_SPEED_KPH


def _edge_length(graph: nx.MultiDiGraph, u: Any, v: Any, data: Mapping[str, Any]) -> float | None:
    geometry = data.get("geometry")
    if isinstance(geometry, BaseGeometry) and not geometry.is_empty:
        return float(geometry.length)
    nu, nv = graph.nodes[u], graph.nodes[v]
    if all(k in n for n in (nu, nv) for k in ("x", "y")):
        return float(math.hypot(float(nu["x"]) - float(nv["x"]), float(nu["y"]) - float(nv["y"])))
    return None


def add_travel_times(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Write ``speed_kph`` and ``travel_time`` (s) on every edge.

    The speed comes from ``maxspeed`` where :func:`parse_maxspeed` can read it,
    otherwise from :data:`DEFAULT_SPEEDS_KPH` by ``highway`` class (see the
    module docstring). An edge without ``length`` gets the length of its
    geometry, or of the straight line between its nodes, in the graph's units
    (so the graph must be projected). Travel times are at least
    :data:`MIN_TRAVEL_TIME_S`.

    Parameters
    ----------
    graph
        A projected road graph; modified in place.

    Returns
    -------
    networkx.MultiDiGraph
        The same graph, for chaining.

    Raises
    ------
    NetworkError
        If an edge has no usable length.
    """
    from_limit = from_class = 0
    for u, v, key, data in graph.edges(keys=True, data=True):
        length = _as_float(data.get("length"))
        if length is None or not math.isfinite(length) or length < 0:
            length = _edge_length(graph, u, v, data)
            if length is None:
                raise NetworkError(
                    f"edge ({u}, {v}, {key}) has no 'length' and no geometry or node "
                    "coordinates to measure it from"
                )
            data["length"] = length
        speed = parse_maxspeed(data.get("maxspeed"))
        if speed is None:
            speed = _default_speed(data.get("highway"))
            from_class += 1
        else:
            from_limit += 1
        data["speed_kph"] = speed
        data["travel_time"] = max(length / (speed / 3.6), MIN_TRAVEL_TIME_S)
    logger.info(
        "travel times on %d edges: %d speeds from maxspeed, %d from highway class",
        from_limit + from_class,
        from_limit,
        from_class,
    )
    return graph


# --------------------------------------------------------------------------- helpers


def _as_float(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _tidy_lists(data: dict[str, Any]) -> None:
    """Deduplicate list attributes, drop missing items, and unwrap single values."""
    for attr, value in list(data.items()):
        if not isinstance(value, list):
            continue
        items = []
        for item in value:
            if item is None or (isinstance(item, float) and math.isnan(item)):
                continue
            if item not in items:
                items.append(item)
        if not items:
            del data[attr]
        elif len(items) == 1:
            data[attr] = items[0]
        else:
            data[attr] = items


def _set_crs_string(graph: nx.MultiDiGraph, crs: str) -> None:
    graph.graph["crs"] = crs


def _project(graph: nx.MultiDiGraph, crs: str) -> nx.MultiDiGraph:
    import osmnx as ox

    projected = ox.project_graph(graph, to_crs=crs)
    _set_crs_string(projected, crs)
    return projected


def largest_strong_component(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Return a copy of the graph reduced to its largest strongly connected component.

    Parameters
    ----------
    graph
        A directed road graph.

    Returns
    -------
    networkx.MultiDiGraph
        The subgraph in which every node can reach every other node.

    Raises
    ------
    NetworkError
        If the graph has no nodes.
    """
    if graph.number_of_nodes() == 0:
        raise NetworkError("the road graph has no nodes; nothing to keep")
    core = max(nx.strongly_connected_components(graph), key=len)
    dropped = graph.number_of_nodes() - len(core)
    if dropped:
        total = graph.number_of_nodes()
        logger.info("kept the strongly connected core: dropped %d of %d nodes", dropped, total)
    return graph.subgraph(core).copy()


def _bbox_polygon_wgs84(
    bounding_box: Sequence[float] | BaseGeometry, crs: str
) -> shapely.Polygon | shapely.MultiPolygon:
    if isinstance(bounding_box, BaseGeometry):
        geometry = bounding_box
    else:
        values = [float(v) for v in bounding_box]
        if len(values) != 4 or not (values[0] < values[2] and values[1] < values[3]):
            raise NetworkError(
                "bounding_box must be (minx, miny, maxx, maxy) with min < max, "
                f"got {bounding_box!r}"
            )
        geometry = shapely.box(*values)
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return shapely_transform(transformer.transform, geometry)


# --------------------------------------------------------------------------- sources


@contextlib.contextmanager
def _osmnx_settings(settings: Settings) -> Iterator[None]:
    """Point OSMnx's cache and timeout at our settings for the duration of a call."""
    import osmnx as ox

    saved = {
        "cache_folder": ox.settings.cache_folder,
        "requests_timeout": ox.settings.requests_timeout,
        "use_cache": ox.settings.use_cache,
        "log_console": ox.settings.log_console,
    }
    ox.settings.cache_folder = str(settings.cache_dir / "osmnx")
    ox.settings.requests_timeout = settings.http_timeout
    ox.settings.use_cache = True
    ox.settings.log_console = False
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)


def _check_overpass(session: requests.Session, url: str, settings: Settings) -> None:
    """Fail fast if the Overpass API cannot be reached (OSMnx would retry for minutes)."""
    status_url = url.rstrip("/") + "/status"
    try:
        response = session.get(status_url, timeout=(min(5.0, settings.http_timeout), 10.0))
        response.close()
    except requests.RequestException as exc:
        raise SourceUnavailableError(
            f"cannot reach the OpenStreetMap Overpass API at {status_url} "
            f"({type(exc).__name__}: {exc}). {_OFFLINE_HINT}"
        ) from exc


def network_from_polygon(
    polygon: shapely.Polygon | shapely.MultiPolygon,
    *,
    crs: str = ROADS_CRS,
    settings: Settings | None = None,
    session: requests.Session | None = None,
) -> nx.MultiDiGraph:
    """Download the OSM drive network inside a polygon with OSMnx.

    Downloads are cached under ``settings.cache_dir / "osmnx"``. The graph is
    projected to EPSG:3067 and gets travel times (:func:`add_travel_times`).

    Parameters
    ----------
    polygon
        The area, in ``crs``.
    crs
        CRS of ``polygon``.
    settings
        Cache folder and HTTP timeout (default: :func:`get_settings`).
    session
        Session used for the reachability check of the Overpass API.

    Returns
    -------
    networkx.MultiDiGraph
        The drive network in EPSG:3067 with ``length``, ``speed_kph`` and
        ``travel_time`` on every edge.

    Raises
    ------
    SourceUnavailableError
        If the Overpass API cannot be reached or fails.
    NetworkError
        If the polygon holds no drivable roads.
    """
    import osmnx as ox
    from osmnx import _errors as osmnx_errors  # OSMnx keeps its exceptions private

    settings = settings or get_settings()
    try:
        area = _bbox_polygon_wgs84(polygon, crs)
    except PyprojCRSError as exc:
        raise NetworkError(f"polygon crs {crs!r} is not a valid CRS: {exc}") from exc
    own_session = session is None
    session = session or requests.Session()
    try:
        _check_overpass(session, ox.settings.overpass_url, settings)
    finally:
        if own_session:
            session.close()
    with _osmnx_settings(settings):
        try:
            graph = ox.graph_from_polygon(area, network_type="drive", retain_all=False)
        except (requests.RequestException, osmnx_errors.ResponseStatusCodeError) as exc:
            raise SourceUnavailableError(
                f"the Overpass API at {ox.settings.overpass_url} failed "
                f"({type(exc).__name__}: {exc}). {_OFFLINE_HINT}"
            ) from exc
        except (osmnx_errors.InsufficientResponseError, ValueError) as exc:
            raise NetworkError(f"no drivable roads found inside the polygon: {exc}") from exc
    return add_travel_times(_project(graph, ROADS_CRS))


def network_from_pbf(
    path: str | Path,
    *,
    bounding_box: Sequence[float] | BaseGeometry | None = None,
) -> nx.MultiDiGraph:
    """Read the drive network from a local OpenStreetMap ``.osm.pbf`` extract with pyrosm.

    One-way streets keep a single edge; two-way streets get an edge in each
    direction. The graph is topologically simplified, limited to its largest
    connected part, projected to EPSG:3067 and gets travel times
    (:func:`add_travel_times`).

    Parameters
    ----------
    path
        The ``.osm.pbf`` file, e.g. Geofabrik's ``finland-latest.osm.pbf``.
    bounding_box
        Only read this area: ``(minx, miny, maxx, maxy)`` or a polygon, in
        EPSG:3067.

    Returns
    -------
    networkx.MultiDiGraph
        The drive network in EPSG:3067.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    NetworkError
        If the file cannot be read or holds no drivable roads.
    """
    import pyrosm
    import pyrosm.exceptions

    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError(f"OSM extract {path} does not exist; give a .osm.pbf file")
    bbox = None if bounding_box is None else _bbox_polygon_wgs84(bounding_box, ROADS_CRS)
    try:
        with warnings.catch_warnings():
            # pyrosm warns when the area has no roads; we raise a NetworkError instead
            warnings.filterwarnings("ignore", message="Could not find any", category=UserWarning)
            osm = pyrosm.OSM(str(path), bounding_box=bbox, progress=False)
            frames = osm.get_network(network_type="driving", nodes=True)
    except (pyrosm.exceptions.PBFException, ValueError, OSError, RuntimeError) as exc:
        raise NetworkError(f"cannot read roads from {path}: {exc}") from exc
    if frames is None or frames[1] is None or len(frames[1]) == 0:
        where = " inside the bounding box" if bbox is not None else ""
        raise NetworkError(f"{path} has no drivable roads{where}")
    nodes, edges = frames
    graph = osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True, progress=False)
    if graph.number_of_edges() == 0:
        raise NetworkError(f"{path} has no connected drivable roads")
    for _, data in graph.nodes(data=True):
        for attr in _PYROSM_DROP_NODE:
            data.pop(attr, None)
    for _, _, data in graph.edges(data=True):
        for attr in _PYROSM_DROP_EDGE:
            data.pop(attr, None)
        _tidy_lists(data)
    graph.graph["name"] = path.name
    graph.graph.setdefault("crs", "EPSG:4326")
    logger.info(
        "read %d nodes and %d edges from %s", graph.number_of_nodes(), graph.number_of_edges(), path
    )
    return add_travel_times(_project(graph, ROADS_CRS))


def _bool_attr(value: str) -> bool | str:
    return {"True": True, "False": False}.get(value, value)


def _load_graphml_generic(path: Path) -> nx.MultiDiGraph:
    """Read a GraphML file not written by OSMnx (e.g. with string node ids)."""
    raw = nx.read_graphml(path, force_multigraph=True)
    if not raw.is_directed():
        raise NetworkError(
            f"{path} holds an undirected graph; road graphs must be directed "
            "(an edge per direction of travel)"
        )
    graph = nx.MultiDiGraph(raw)
    for _, data in graph.nodes(data=True):
        for attr in ("x", "y"):
            if attr in data:
                data[attr] = _as_float(data[attr])
    for _, _, data in graph.edges(data=True):
        for attr in _GRAPHML_FLOAT_EDGE:
            if attr in data:
                data[attr] = _as_float(data[attr])
        for attr in ("oneway", "reversed"):
            if isinstance(data.get(attr), str):
                data[attr] = _bool_attr(data[attr])
        if isinstance(data.get("geometry"), str):
            with contextlib.suppress(shapely.errors.GEOSException):
                data["geometry"] = shapely.from_wkt(data["geometry"])
    return graph


def network_from_graphml(path: str | Path) -> nx.MultiDiGraph:
    """Read a road graph from GraphML (as written by :func:`network_to_graphml` or OSMnx).

    Numeric attributes (``x``, ``y``, ``length``, ``travel_time``,
    ``speed_kph``) are converted to floats and edge geometries to shapely
    objects. The graph is returned as stored: call :func:`validate_roads` to
    check it.

    Parameters
    ----------
    path
        The ``.graphml`` file.

    Returns
    -------
    networkx.MultiDiGraph
        The road graph.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    NetworkError
        If the file is not a readable directed GraphML graph.
    """
    import osmnx as ox

    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError(f"road graph {path} does not exist")
    try:
        return ox.load_graphml(path)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.debug("OSMnx could not read %s (%s); reading it as plain GraphML", path, exc)
    except Exception as exc:  # malformed XML and other parser errors
        raise NetworkError(f"cannot read road graph {path}: {exc}") from exc
    try:
        return _load_graphml_generic(path)
    except NetworkError:
        raise
    except Exception as exc:
        raise NetworkError(f"cannot read road graph {path}: {exc}") from exc


def network_to_graphml(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write a road graph to GraphML, atomically.

    Parameters
    ----------
    graph
        The road graph.
    path
        The target ``.graphml`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import osmnx as ox

    path = Path(path)
    with atomic_path(path) as tmp:
        ox.save_graphml(graph, tmp)
    return path


def network_to_gpkg(graph: nx.MultiDiGraph, path: str | Path) -> Path:
    """Write a road graph to a GeoPackage with layers ``nodes`` and ``edges``, atomically.

    Both directions of two-way streets are kept (``directed=True``).

    Parameters
    ----------
    graph
        The road graph.
    path
        The target ``.gpkg`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import osmnx as ox

    path = Path(path)
    with atomic_path(path) as tmp:
        ox.save_graph_geopackage(graph, tmp, directed=True)
    return path


def _restore_gpkg_values(data: dict[str, Any]) -> None:
    """Undo the stringification of a GeoPackage round trip: empties, booleans, lists."""
    for attr, value in list(data.items()):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            del data[attr]
        elif isinstance(value, str):
            if value in ("True", "False"):
                data[attr] = value == "True"
            elif value.startswith("[") and value.endswith("]"):
                with contextlib.suppress(SyntaxError, ValueError):
                    data[attr] = ast.literal_eval(value)


def network_from_gpkg(path: str | Path) -> nx.MultiDiGraph:
    """Read a road graph from a GeoPackage with layers ``nodes`` and ``edges``.

    The layout is OSMnx's (:func:`osmnx.save_graph_geopackage`): nodes with an
    ``osmid`` column (or any id column named ``id``), edges with ``u``, ``v``
    and optionally ``key``. Node ``x``/``y`` default to the point coordinates.

    Parameters
    ----------
    path
        The ``.gpkg`` file.

    Returns
    -------
    networkx.MultiDiGraph
        The road graph, in the CRS of the nodes layer.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    NetworkError
        If a layer or a required column is missing.
    """
    import osmnx as ox

    path = Path(path)
    if not path.exists():
        raise BundleNotFoundError(f"road network {path} does not exist")
    try:
        layers = {str(name) for name, _ in pyogrio.list_layers(path)}
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise NetworkError(f"cannot read road network {path}: {exc}") from exc
    missing = sorted({"nodes", "edges"} - layers)
    if missing:
        raise NetworkError(
            f"road network {path} lacks layer(s) {', '.join(missing)}; it has "
            f"{', '.join(sorted(layers)) or 'no layers'}. Expected layers 'nodes' (points) "
            "and 'edges' (lines), as written by network_to_gpkg"
        )
    nodes = gpd.read_file(path, layer="nodes")
    edges = gpd.read_file(path, layer="edges")
    id_column = next((c for c in ("osmid", "id", "node_id") if c in nodes.columns), None)
    if id_column is None:
        raise NetworkError(f"{path} layer 'nodes' has no id column ('osmid' or 'id')")
    for column in ("u", "v"):
        if column not in edges.columns:
            raise NetworkError(f"{path} layer 'edges' has no '{column}' column (edge end node)")
    if "key" not in edges.columns:
        edges["key"] = edges.groupby(["u", "v"]).cumcount()
    if "x" not in nodes.columns or "y" not in nodes.columns:
        nodes["x"] = nodes.geometry.x
        nodes["y"] = nodes.geometry.y
    nodes = nodes.set_index(id_column)
    edges = edges.set_index(["u", "v", "key"])
    crs = nodes.crs.to_string() if nodes.crs is not None else None
    graph = ox.graph_from_gdfs(nodes, edges, graph_attrs={"crs": crs} if crs else {})
    if crs is None:
        graph.graph.pop("crs", None)
    for _, _, data in graph.edges(data=True):
        _restore_gpkg_values(data)
    return graph


def network_from_file(
    path: str | Path,
    *,
    bounding_box: Sequence[float] | BaseGeometry | None = None,
) -> nx.MultiDiGraph:
    """Read a road graph from a ``.osm.pbf``, ``.graphml`` or ``.gpkg`` file.

    Parameters
    ----------
    path
        The file; its suffix chooses the reader.
    bounding_box
        For ``.osm.pbf`` only: the area to read, in EPSG:3067.

    Returns
    -------
    networkx.MultiDiGraph
        The road graph (travel times are added for ``.osm.pbf``; GraphML and
        GeoPackage graphs are returned as stored).

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    NetworkError
        If the format is not supported or the file cannot be read.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".pbf"):
        return network_from_pbf(path, bounding_box=bounding_box)
    if name.endswith(".graphml"):
        return network_from_graphml(path)
    if name.endswith(".gpkg"):
        return network_from_gpkg(path)
    raise NetworkError(f"unsupported road network file {path}; allowed: .osm.pbf, .graphml, .gpkg")


# --------------------------------------------------------------------------- validation


def _name_edges(edges: Sequence[tuple[Any, Any, Any]]) -> str:
    shown = ", ".join(f"({u}, {v}, {k})" for u, v, k in edges[:_MAX_NAMED])
    more = f" and {len(edges) - _MAX_NAMED} more" if len(edges) > _MAX_NAMED else ""
    return shown + more


def _bad_values(
    items: Iterable[tuple[Any, Mapping[str, Any]]], attr: str, *, positive: bool
) -> tuple[list[Any], list[Any]]:
    """Return (ids missing attr, ids with a non-finite or out-of-range value)."""
    missing, invalid = [], []
    for ident, data in items:
        if attr not in data or data[attr] is None:
            missing.append(ident)
            continue
        value = _as_float(data[attr])
        if value is None or not math.isfinite(value) or (value <= 0 if positive else value < 0):
            invalid.append(ident)
    return missing, invalid


def validate_roads(graph: nx.MultiDiGraph, *, source: str, crs: str = ROADS_CRS) -> nx.MultiDiGraph:
    """Check a road graph against the bundle conventions.

    Parameters
    ----------
    graph
        The road graph.
    source
        The file or service it came from, named in every error.
    crs
        The projected CRS the graph must be in.

    Returns
    -------
    networkx.MultiDiGraph
        The same graph, unchanged.

    Raises
    ------
    NetworkError
        If the graph is not a ``MultiDiGraph``, is empty, has no CRS or one other
        than ``crs``, has nodes without finite ``x``/``y``, has edges without a
        finite ``length`` >= 0 or a finite ``travel_time`` > 0 (naming up to 10
        edges as ``(u, v, key)`` and the count), or if its largest strongly
        connected component holds less than :data:`MIN_CORE_SHARE` of the nodes.
    """
    if not isinstance(graph, nx.MultiDiGraph):
        raise NetworkError(
            f"road graph in {source} is a {type(graph).__name__}; expected a directed "
            "networkx.MultiDiGraph (convert with networkx.MultiDiGraph(graph) if it is directed)"
        )
    if graph.number_of_nodes() == 0 or graph.number_of_edges() == 0:
        raise NetworkError(
            f"road graph in {source} is empty ({graph.number_of_nodes()} nodes, "
            f"{graph.number_of_edges()} edges); it needs roads to route on"
        )
    graph_crs = graph.graph.get("crs")
    if graph_crs is None:
        raise NetworkError(
            f"road graph in {source} has no CRS (graph.graph['crs']); expected {crs}. Set it "
            "if the node x/y are already in that CRS, or project the graph with "
            f"osmnx.project_graph(graph, to_crs={crs!r})"
        )
    try:
        actual = CRS.from_user_input(graph_crs)
        expected = CRS.from_user_input(crs)
    except PyprojCRSError as exc:
        raise NetworkError(
            f"road graph in {source} has an unreadable CRS {graph_crs!r}: {exc}"
        ) from exc
    if not actual.is_projected or not actual.equals(expected):
        kind = "a geographic CRS" if actual.is_geographic else "a different CRS"
        raise NetworkError(
            f"road graph in {source} is in {actual.to_string()} ({kind}); expected the "
            f"projected {crs}. Project it with osmnx.project_graph(graph, to_crs={crs!r})"
        )

    missing_xy = [
        n
        for n, d in graph.nodes(data=True)
        if not all(_as_float(d.get(a)) is not None and math.isfinite(float(d[a])) for a in "xy")
    ]
    if missing_xy:
        shown = ", ".join(map(str, missing_xy[:_MAX_NAMED]))
        raise NetworkError(
            f"road graph in {source}: {len(missing_xy)} node(s) lack finite 'x'/'y' "
            f"coordinates: {shown}"
        )

    edges = [((u, v, k), d) for u, v, k, d in graph.edges(keys=True, data=True)]
    for attr, positive, hint in (
        ("length", False, "lengths in metres"),
        ("travel_time", True, "call optimizer.network.add_travel_times(graph)"),
    ):
        missing, invalid = _bad_values(edges, attr, positive=positive)
        if missing:
            raise NetworkError(
                f"road graph in {source}: {len(missing)} of {len(edges)} edge(s) have no "
                f"'{attr}' attribute: {_name_edges(missing)}. Every edge needs one ({hint})"
            )
        if invalid:
            allowed = "finite and > 0 seconds" if positive else "finite and >= 0 metres"
            raise NetworkError(
                f"road graph in {source}: {len(invalid)} edge(s) have an invalid '{attr}' "
                f"(NaN, infinite, non-numeric or out of range; allowed: {allowed}): "
                f"{_name_edges(invalid)}"
            )

    core = max(nx.strongly_connected_components(graph), key=len)
    share = len(core) / graph.number_of_nodes()
    if share < MIN_CORE_SHARE:
        raise NetworkError(
            f"road graph in {source} is fragmented: its largest strongly connected component "
            f"holds {len(core)} of {graph.number_of_nodes()} nodes ({share:.0%}); at least "
            f"{MIN_CORE_SHARE:.0%} must be mutually reachable. Check that two-way roads have "
            "an edge in each direction, or keep the core with largest_strong_component(graph)"
        )
    return graph


# --------------------------------------------------------------------------- arrays


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road graph as flat arrays: the package's in-memory road format.

    It holds what travel times need and nothing more per object, so a graph
    of millions of nodes costs tens of bytes per edge instead of the
    kilobytes of a networkx graph. :meth:`to_networkx` gives the osmnx-style
    graph for analysis; :meth:`from_networkx` reads one.

    Attributes
    ----------
    crs
        Projected CRS of the node coordinates (e.g. ``"EPSG:3067"``).
    node_ids
        Node labels (osmnx ids), unique.
    x, y
        Node coordinates in ``crs`` units (metres).
    u, v
        Edge end points as positions into ``node_ids`` (``int64``).
    length
        Edge length in metres.
    travel_time
        Edge driving time in seconds.
    edge_attrs
        Further per-edge columns (``highway``, ``speed_kph``, ``maxspeed``,
        ``name``, ...), each aligned with ``u``.
    """

    crs: str
    node_ids: NDArray[Any]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    u: NDArray[np.int64]
    v: NDArray[np.int64]
    length: NDArray[np.float64]
    travel_time: NDArray[np.float64]
    edge_attrs: Mapping[str, NDArray[Any]] = field(default_factory=dict)

    def number_of_nodes(self) -> int:
        """Return the number of nodes (as networkx names it)."""
        return len(self.node_ids)

    def number_of_edges(self) -> int:
        """Return the number of directed edges, parallel edges included."""
        return len(self.u)

    @classmethod
    def from_networkx(cls, graph: nx.MultiDiGraph) -> RoadNetwork:
        """Read an osmnx-style graph (``x``/``y`` on nodes, ``length``/``travel_time`` on edges).

        Missing or non-numeric ``length``/``travel_time`` become NaN;
        :func:`validate_roads` reports them.
        """
        nodes = list(graph.nodes)
        position = {node: i for i, node in enumerate(nodes)}
        node_ids = np.empty(len(nodes), dtype=object)
        node_ids[:] = nodes
        if all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in nodes):
            with contextlib.suppress(OverflowError):
                node_ids = np.asarray(nodes, dtype=np.int64)
        x = np.array([_as_float(d.get("x")) for _, d in graph.nodes(data=True)], dtype=float)
        y = np.array([_as_float(d.get("y")) for _, d in graph.nodes(data=True)], dtype=float)
        u, v, length, seconds = [], [], [], []
        extra: dict[str, list[Any]] = {}
        edges = (
            graph.edges(keys=True, data=True)
            if graph.is_multigraph()
            else ((a, b, 0, d) for a, b, d in graph.edges(data=True))
        )
        for count, (a, b, _, data) in enumerate(edges):
            u.append(position[a])
            v.append(position[b])
            length.append(_as_float(data.get("length")))
            seconds.append(_as_float(data.get("travel_time")))
            for key, value in data.items():
                if key in ("length", "travel_time", "geometry"):
                    continue
                column = extra.setdefault(key, [None] * count)
                column.append(value)
            for column in extra.values():
                if len(column) <= count:
                    column.append(None)
        crs = graph.graph.get("crs")
        return cls(
            crs=str(crs) if crs is not None else "",
            node_ids=node_ids,
            x=x,
            y=y,
            u=np.asarray(u, dtype=np.int64),
            v=np.asarray(v, dtype=np.int64),
            length=np.array(length, dtype=float),
            travel_time=np.array(seconds, dtype=float),
            edge_attrs={k: _column(vals) for k, vals in extra.items()},
        )

    def to_networkx(self) -> nx.MultiDiGraph:
        """Build the osmnx-style ``MultiDiGraph`` (costly for large graphs)."""
        graph = nx.MultiDiGraph(crs=self.crs) if self.crs else nx.MultiDiGraph()
        ids = self.node_ids.tolist()
        graph.add_nodes_from(
            (n, {"x": float(a), "y": float(b)})
            for n, a, b in zip(ids, self.x.tolist(), self.y.tolist(), strict=True)
        )
        names = list(self.edge_attrs)
        columns = [self.edge_attrs[k].tolist() for k in names]
        for i, (a, b) in enumerate(zip(self.u.tolist(), self.v.tolist(), strict=True)):
            data: dict[str, Any] = {
                "length": float(self.length[i]),
                "travel_time": float(self.travel_time[i]),
            }
            for key, column in zip(names, columns, strict=True):
                value = column[i]
                if value is not None and not (isinstance(value, float) and math.isnan(value)):
                    data[key] = value
            graph.add_edge(ids[a], ids[b], **data)
        return graph


def _column(values: list[Any]) -> NDArray[Any]:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype == object or arr.ndim != 1:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out
    return arr


def as_road_network(roads: RoadNetwork | nx.MultiDiGraph) -> RoadNetwork:
    """Return ``roads`` as a :class:`RoadNetwork` (converting a networkx graph)."""
    if isinstance(roads, RoadNetwork):
        return roads
    if isinstance(roads, nx.Graph):
        return RoadNetwork.from_networkx(roads)
    raise NetworkError(
        f"roads must be a RoadNetwork or a networkx MultiDiGraph, got {type(roads).__name__}"
    )


@dataclass(frozen=True)
class RoadCoverage:
    """How much of a population grid the road graph reaches.

    A cell is *covered* when its centre lies within ``threshold_m`` of a node
    of the graph's largest strongly connected component (the nodes travel
    times snap to).

    Attributes
    ----------
    residents, covered_residents
        Residents of the grid, and of its covered cells.
    threshold_m
        The snap distance used.
    uncovered_cells
        Ids of the populated cells beyond the threshold, most populous first.
    uncovered_bounds
        ``(minx, miny, maxx, maxy)`` of the uncovered cells' centres (metres),
        or ``None`` when all are covered.
    uncovered_municipalities
        Municipality codes of the uncovered residents with their counts, most
        first (empty without a ``municipality`` column).
    """

    residents: float
    covered_residents: float
    threshold_m: float
    uncovered_cells: tuple[Any, ...]
    uncovered_bounds: tuple[float, float, float, float] | None
    uncovered_municipalities: tuple[tuple[str, float], ...]

    @property
    def share(self) -> float:
        """Share of residents covered (1 for an empty grid)."""
        return self.covered_residents / self.residents if self.residents > 0 else 1.0

    def describe(self) -> str:
        """Say where residents lack roads, in one line."""
        if self.uncovered_bounds is None:
            return "every populated cell lies near a road"
        minx, miny, maxx, maxy = self.uncovered_bounds
        where = ", ".join(
            f"{code} ({count:,.0f})" for code, count in self.uncovered_municipalities[:5]
        )
        cells = ", ".join(str(c) for c in self.uncovered_cells[:5])
        more = len(self.uncovered_cells) - 5
        return (
            f"{self.residents - self.covered_residents:,.0f} residents in "
            f"{len(self.uncovered_cells)} cells lie more than {self.threshold_m:,.0f} m from the "
            f"roads, within x {minx:,.0f}-{maxx:,.0f} m, y {miny:,.0f}-{maxy:,.0f} m"
            + (f", in municipalities {where}" if where else "")
            + f"; e.g. cells {cells}"
            + (f" and {more} more" if more > 0 else "")
        )


def road_coverage(
    roads: RoadNetwork | nx.MultiDiGraph,
    population: gpd.GeoDataFrame,
    *,
    threshold_m: float,
) -> RoadCoverage:
    """Measure which residents of a grid lie within ``threshold_m`` of the road core.

    Parameters
    ----------
    roads
        The road graph (same CRS as ``population``).
    population
        Grid cells with ``population`` (and optionally ``municipality``).
    threshold_m
        Largest distance from a cell centre to a node of the largest strongly
        connected component for the cell to count as covered.

    Returns
    -------
    RoadCoverage
        Residents covered and where the others are.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    net = as_road_network(roads)
    pop = population["population"].to_numpy(dtype=np.float64)
    centres = population.geometry.centroid
    xy = np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()])
    n = net.number_of_nodes()
    if n == 0 or net.number_of_edges() == 0:
        dist = np.full(len(pop), np.inf)
    else:
        graph = csr_array((np.ones(len(net.u)), (net.u, net.v)), shape=(n, n))
        n_comp, labels = connected_components(graph, directed=True, connection="strong")
        core = np.flatnonzero(labels == np.argmax(np.bincount(labels, minlength=n_comp)))
        dist, _ = cKDTree(np.column_stack([net.x[core], net.y[core]])).query(xy, k=1)
    far = (dist > threshold_m) & (pop > 0)
    order = np.argsort(-pop[far], kind="stable")
    ids = population.index.to_numpy()[far][order]
    bounds = None
    munis: tuple[tuple[str, float], ...] = ()
    if far.any():
        fx, fy = xy[far, 0], xy[far, 1]
        bounds = (float(fx.min()), float(fy.min()), float(fx.max()), float(fy.max()))
        if "municipality" in population.columns:
            counts = (
                population.loc[far, ["municipality", "population"]]
                .groupby("municipality")["population"]
                .sum()
                .sort_values(ascending=False)
            )
            munis = tuple((str(k), float(v)) for k, v in counts.items())
    return RoadCoverage(
        residents=float(pop.sum()),
        covered_residents=float(pop[~far].sum()),
        threshold_m=float(threshold_m),
        uncovered_cells=tuple(ids.tolist()),
        uncovered_bounds=bounds,
        uncovered_municipalities=munis,
    )


def read_roads(path: str | Path) -> RoadNetwork:
    """Read a road graph file (``.gpkg``, ``.graphml`` or ``.osm.pbf``) as a :class:`RoadNetwork`.

    The file is not validated; pass the result to :func:`validate_roads`.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    NetworkError
        If the format is not supported or the file cannot be read.
    """
    return RoadNetwork.from_networkx(network_from_file(path))


def write_roads(roads: RoadNetwork | nx.MultiDiGraph, path: str | Path) -> Path:
    """Write a road graph to a GeoPackage (layers ``nodes`` and ``edges``), atomically."""
    graph = roads.to_networkx() if isinstance(roads, RoadNetwork) else roads
    return network_to_gpkg(graph, path)

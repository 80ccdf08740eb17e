"""OpenStreetMap road readers: Overpass via OSMnx, ``.osm.pbf`` via pyrosm, GraphML.

Every reader returns an osmnx-style ``networkx.MultiDiGraph`` in EPSG:3067
(node ``x``/``y`` in metres, edge ``length`` in m, ``speed_kph`` and
``travel_time`` in s from :func:`optimizer.network.add_travel_times`), which
:func:`optimizer.network.validate_roads` turns into the package's
:class:`~optimizer.network.RoadNetwork`.

- :func:`network_from_polygon` downloads the drive network of a polygon from
  the Overpass API with OSMnx. :func:`check_overpass` fails fast when the
  API cannot be reached. The Overpass server timeout is never set below
  OSMnx's own default (``osmnx.settings.requests_timeout``, 180 s in OSMnx
  2.x), and an answer that carries a ``remark`` (the server's note of a
  timeout, an out-of-memory abort or another runtime error, sent with HTTP 200
  and a partial result) raises :class:`~optimizer.errors.SourceUnavailableError`
  instead of yielding a graph with roads missing.
- :func:`network_from_pbf` reads a local extract (e.g. Geofabrik's
  ``finland-latest.osm.pbf``) with pyrosm.
- :func:`network_from_graphml` reads GraphML written by OSMnx or networkx;
  :func:`network_to_graphml` writes it.
- :func:`network_from_file` chooses the reader from the file suffix.

OSMnx (which imports scikit-learn and matplotlib) and pyrosm are imported
inside the functions that need them, never when this module is imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import requests
import shapely
from pyproj import Transformer
from pyproj.exceptions import CRSError as PyprojCRSError
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform as shapely_transform

from optimizer._fields import as_float
from optimizer._io import atomic_path
from optimizer.errors import NetworkError, SourceUnavailableError
from optimizer.network import ROADS_CRS, add_travel_times, check_road_file
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "check_overpass",
    "network_from_file",
    "network_from_graphml",
    "network_from_pbf",
    "network_from_polygon",
    "network_to_graphml",
    "overpass_remark_hook",
]

logger = logging.getLogger(__name__)

_OFFLINE_HINT = (
    "Build a bundle offline from your own files with `optimizer bundle --from-files` "
    "(population grid, roads as .osm.pbf/.graphml/.gpkg, sites)"
)
# attributes pyrosm adds that the bundle does not need (they bloat GraphML files)
_PYROSM_DROP_NODE = ("geometry", "visible", "version", "timestamp", "changeset", "tags")
_PYROSM_DROP_EDGE = ("u", "v", "visible", "version", "timestamp", "tags", "osm_type", "changeset")
_GRAPHML_FLOAT_EDGE = ("length", "travel_time", "speed_kph", "grade", "grade_abs")


# --------------------------------------------------------------------------- helpers


def _tidy_lists(data: dict[str, Any]) -> None:
    """Deduplicate list attributes, drop missing items, and unwrap single values."""
    for attr, value in list(data.items()):
        if not isinstance(value, list):
            continue
        items = []
        for item in value:
            if item is None or (isinstance(item, float) and np.isnan(item)):
                continue
            if item not in items:
                items.append(item)
        if not items:
            del data[attr]
        elif len(items) == 1:
            data[attr] = items[0]
        else:
            data[attr] = items


def _project(graph: nx.MultiDiGraph, crs: str) -> nx.MultiDiGraph:
    import osmnx as ox

    projected = ox.project_graph(graph, to_crs=crs)
    projected.graph["crs"] = crs
    return projected


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


# --------------------------------------------------------------------------- Overpass


def overpass_remark_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    r"""Raise if an Overpass answer carries a ``remark`` (a ``requests`` response hook).

    The Overpass API reports a query that hit its ``[timeout:...]`` or memory
    limit, or another runtime error, in a ``remark`` member of an otherwise
    normal JSON answer (HTTP 200) whose ``elements`` are then incomplete, e.g.
    ``"runtime error: Query timed out in \\"query\\" at line 1 after 181 seconds."``.

    Parameters
    ----------
    response
        The HTTP response.
    *args, **kwargs
        Ignored (passed by ``requests``).

    Raises
    ------
    SourceUnavailableError
        If the answer is JSON with a ``remark``.
    """
    if not response.ok or "json" not in response.headers.get("Content-Type", "json"):
        return
    try:
        answer = response.json()
    except ValueError:  # not JSON: osmnx reports it
        return
    if isinstance(answer, dict) and "remark" in answer:
        raise SourceUnavailableError(
            f"the Overpass API at {response.url} sent a partial answer with the remark "
            f"{answer['remark']!r}; the road graph would miss roads, so nothing was built. "
            f"Retry later, split the area into smaller parts, or {_OFFLINE_HINT[0].lower()}"
            f"{_OFFLINE_HINT[1:]}"
        )


@contextlib.contextmanager
def _osmnx_settings(settings: Settings) -> Iterator[None]:
    """Point OSMnx's cache at our settings and watch its answers for remarks."""
    import osmnx as ox

    saved = {
        "cache_folder": ox.settings.cache_folder,
        "requests_timeout": ox.settings.requests_timeout,
        "requests_kwargs": ox.settings.requests_kwargs,
        "use_cache": ox.settings.use_cache,
        "log_console": ox.settings.log_console,
    }
    kwargs = dict(ox.settings.requests_kwargs or {})
    hooks = dict(kwargs.get("hooks") or {})
    response_hooks = hooks.get("response") or []
    if callable(response_hooks):
        response_hooks = [response_hooks]
    hooks["response"] = [*response_hooks, overpass_remark_hook]
    kwargs["hooks"] = hooks
    ox.settings.cache_folder = str(settings.cache_dir / "osmnx")
    # the server-side [timeout:...] of the query follows requests_timeout: never shorten it
    ox.settings.requests_timeout = max(float(ox.settings.requests_timeout), settings.http_timeout)
    ox.settings.requests_kwargs = kwargs
    ox.settings.use_cache = True
    ox.settings.log_console = False
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)


def check_overpass(
    session: requests.Session | None = None,
    url: str | None = None,
    *,
    settings: Settings | None = None,
) -> None:
    """Fail fast if the Overpass API cannot be reached (OSMnx would retry for minutes).

    Parameters
    ----------
    session
        Session for the request (a new one when ``None``).
    url
        The Overpass API base URL; default ``osmnx.settings.overpass_url``.
    settings
        Connection timeout (default: :func:`~optimizer.settings.get_settings`).

    Raises
    ------
    SourceUnavailableError
        If ``<url>/status`` cannot be reached.
    """
    settings = settings or get_settings()
    if url is None:
        import osmnx as ox

        url = str(ox.settings.overpass_url)
    status_url = url.rstrip("/") + "/status"
    own = session is None
    session = session or requests.Session()
    try:
        response = session.get(status_url, timeout=(min(5.0, settings.http_timeout), 10.0))
        response.close()
    except requests.RequestException as exc:
        raise SourceUnavailableError(
            f"cannot reach the OpenStreetMap Overpass API at {status_url} "
            f"({type(exc).__name__}: {exc}). {_OFFLINE_HINT}"
        ) from exc
    finally:
        if own:
            session.close()


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
        If the Overpass API cannot be reached, fails, or sends a partial
        answer (a ``remark``).
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
    check_overpass(session, str(ox.settings.overpass_url), settings=settings)
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


# --------------------------------------------------------------------------- files


def network_from_pbf(
    path: str | os.PathLike[str],
    *,
    bounding_box: Sequence[float] | BaseGeometry | None = None,
) -> nx.MultiDiGraph:
    """Read the drive network from a local OpenStreetMap ``.osm.pbf`` extract with pyrosm.

    One-way streets keep a single edge; two-way streets get an edge in each
    direction. The graph is projected to EPSG:3067 and gets travel times
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
        If the file is a folder, unreadable, broken or holds no drivable roads.
    """
    path = Path(path)
    check_road_file(path, "OSM extract")
    import pyrosm
    import pyrosm.exceptions

    bbox = None if bounding_box is None else _bbox_polygon_wgs84(bounding_box, ROADS_CRS)
    try:
        with warnings.catch_warnings():
            # pyrosm warns when the area has no roads; we raise a NetworkError instead
            warnings.filterwarnings("ignore", message="Could not find any", category=UserWarning)
            osm = pyrosm.OSM(str(path), bounding_box=bbox, progress=False)
            frames = osm.get_network(network_type="driving", nodes=True)
    except (
        pyrosm.exceptions.PBFException,
        ValueError,
        OSError,
        RuntimeError,
        KeyError,
        IndexError,
        TypeError,
    ) as exc:
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
    import networkx as nx

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
                data[attr] = as_float(data[attr])
    for _, _, data in graph.edges(data=True):
        for attr in _GRAPHML_FLOAT_EDGE:
            if attr in data:
                data[attr] = as_float(data[attr])
        for attr in ("oneway", "reversed"):
            if isinstance(data.get(attr), str):
                data[attr] = _bool_attr(data[attr])
        if isinstance(data.get("geometry"), str):
            with contextlib.suppress(shapely.errors.GEOSException):
                data["geometry"] = shapely.from_wkt(data["geometry"])
    return graph


def network_from_graphml(path: str | os.PathLike[str]) -> nx.MultiDiGraph:
    """Read a road graph from GraphML (as written by :func:`network_to_graphml` or OSMnx).

    Numeric attributes (``x``, ``y``, ``length``, ``travel_time``,
    ``speed_kph``) are converted to floats and edge geometries to shapely
    objects. The graph is returned as stored: call
    :func:`optimizer.network.validate_roads` to check it.

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
        If the file is a folder, unreadable, or not a directed GraphML graph.
    """
    path = Path(path)
    check_road_file(path, "road graph")
    import osmnx as ox

    try:
        return ox.load_graphml(path)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.debug("OSMnx could not read %s (%s); reading it as plain GraphML", path, exc)
    except Exception as exc:  # malformed XML, encoding and OS errors
        raise NetworkError(f"cannot read road graph {path}: {exc}") from exc
    try:
        return _load_graphml_generic(path)
    except NetworkError:
        raise
    except Exception as exc:
        raise NetworkError(f"cannot read road graph {path}: {exc}") from exc


def network_to_graphml(graph: nx.MultiDiGraph, path: str | os.PathLike[str]) -> Path:
    """Write a road graph to GraphML, atomically.

    Parameters
    ----------
    graph
        The road graph (networkx; a :class:`~optimizer.network.RoadNetwork`
        is converted).
    path
        The target ``.graphml`` file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import osmnx as ox

    from optimizer.network import RoadNetwork

    if isinstance(graph, RoadNetwork):
        graph = graph.to_networkx()
    path = Path(path)
    with atomic_path(path) as tmp:
        ox.save_graphml(graph, tmp)
    return path


def network_from_file(
    path: str | os.PathLike[str],
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
    from optimizer.network import network_from_gpkg

    path = Path(path)
    name = path.name.lower()
    if name.endswith(".pbf"):
        return network_from_pbf(path, bounding_box=bounding_box)
    if name.endswith(".graphml"):
        return network_from_graphml(path)
    if name.endswith(".gpkg"):
        return network_from_gpkg(path)
    raise NetworkError(f"unsupported road network file {path}; allowed: .osm.pbf, .graphml, .gpkg")

"""The road-graph contract, checked in one place when a graph enters the package."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import CRSError, NetworkError
from optimizer.network._model import RoadNetwork, _from_networkx

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "MIN_CORE_SHARE",
    "ROADS_CRS",
    "is_validated",
    "largest_strong_component",
    "validate_roads",
    "validated_network",
]

ROADS_CRS = "EPSG:3067"
"""The projected CRS of region bundles (ETRS-TM35FIN)."""

MIN_CORE_SHARE = 0.8
"""Share of nodes the largest strongly connected component of a bundle's roads must hold."""

_MAX_NAMED = 10
_VALIDATED = "_optimizer_valid"


class RoadCRSError(NetworkError, CRSError):
    """A road graph has no CRS, an unreadable one, a geographic one or not the expected one."""


def is_validated(roads: RoadNetwork) -> bool:
    """Tell whether :func:`validate_roads` has accepted this network."""
    return bool(roads.__dict__.get(_VALIDATED, False))


def _name_edges(labels: list[tuple[Any, Any, Any]], total: int) -> str:
    shown = ", ".join(f"({u}, {v}, {k})" for u, v, k in labels)
    more = f" and {total - len(labels)} more" if total > len(labels) else ""
    return shown + more


def _crs_name(crs: Any) -> str:
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_string()


def _check_crs(raw: str, *, source: str, crs: str | None) -> None:
    from pyproj import CRS
    from pyproj.exceptions import CRSError as PyprojCRSError

    target = crs or ROADS_CRS
    hint = f"osmnx.project_graph(graph, to_crs={target!r})"
    if not raw:
        wanted = f"expected {crs}" if crs else "travel times need a projected CRS in metres"
        raise RoadCRSError(
            f"road graph in {source} has no CRS (graph.graph['crs']); {wanted}. Set it if the "
            f"node x/y are already in that CRS, or project the graph with {hint}"
        )
    try:
        actual = CRS.from_user_input(raw)
    except PyprojCRSError as exc:
        raise RoadCRSError(f"road graph in {source} has an unreadable CRS {raw!r}: {exc}") from exc
    if not actual.is_projected:
        raise RoadCRSError(
            f"road graph in {source} is in {_crs_name(actual)} (a geographic CRS in degrees); "
            f"snapping and access legs need a projected CRS in metres. Project it with {hint}"
        )
    if crs is not None and not actual.equals(CRS.from_user_input(crs)):
        raise RoadCRSError(
            f"road graph in {source} is in {_crs_name(actual)} (a different CRS); expected the "
            f"projected {crs}. Project it with {hint}"
        )


def _check_edges(net: RoadNetwork, missing: dict[str, NDArray[np.bool_]], *, source: str) -> None:
    n_edges = net.number_of_edges()
    hints = {
        "length": "lengths in metres",
        "travel_time": "call optimizer.network.add_travel_times(graph)",
    }
    for attr in ("length", "travel_time"):
        values = getattr(net, attr)
        absent = missing.get(attr, np.zeros(n_edges, dtype=bool))
        if absent.any():
            where = np.flatnonzero(absent)
            raise NetworkError(
                f"road graph in {source}: {len(where)} of {n_edges} edge(s) have no '{attr}' "
                f"attribute: {_name_edges(net.edge_labels(where[:_MAX_NAMED]), len(where))}. "
                f"Every edge needs one ({hints[attr]})"
            )
        bad = ~(np.isfinite(values) & (values >= 0))
        if attr == "travel_time":
            bad |= (values == 0) & (net.length > 0)  # a positive length at infinite speed
        if bad.any():
            where = np.flatnonzero(bad)
            allowed = (
                "finite and >= 0 seconds, and > 0 where the length is > 0"
                if attr == "travel_time"
                else "finite and >= 0 metres"
            )
            raise NetworkError(
                f"road graph in {source}: {len(where)} edge(s) have an invalid '{attr}' "
                f"(NaN, infinite, non-numeric or out of range; allowed: {allowed}): "
                f"{_name_edges(net.edge_labels(where[:_MAX_NAMED]), len(where))}"
            )


def validate_roads(
    roads: RoadNetwork | nx.MultiDiGraph,
    *,
    source: str,
    crs: str | None = ROADS_CRS,
    min_core_share: float = MIN_CORE_SHARE,
) -> RoadNetwork | nx.MultiDiGraph:
    """Check a road graph against the package's road contract and return it unchanged.

    The check is :func:`validated_network`'s (see there for the contract);
    this wrapper keeps the historical behaviour of returning the very object
    it was given, a networkx graph or a :class:`RoadNetwork` (which is then
    marked as validated, so travel times do not check it again).

    Parameters
    ----------
    roads, source, crs, min_core_share
        As :func:`validated_network`.

    Returns
    -------
    RoadNetwork or networkx.MultiDiGraph
        ``roads`` itself.

    Raises
    ------
    NetworkError
        As :func:`validated_network`.
    """
    validated_network(roads, source=source, crs=crs, min_core_share=min_core_share)
    return roads


def validated_network(
    roads: RoadNetwork | nx.MultiDiGraph,
    *,
    source: str,
    crs: str | None = ROADS_CRS,
    min_core_share: float = MIN_CORE_SHARE,
) -> RoadNetwork:
    """Check a road graph against the package's road contract and return it as arrays.

    The contract, the one rule every road graph meets once it is inside the
    package:

    * a directed graph with at least one node and one edge;
    * a projected CRS in metres (``crs``, when given, exactly that one);
    * finite ``x``/``y`` on every node, and edges between existing nodes;
    * on every edge a finite ``length`` >= 0 m and a finite ``travel_time``
      >= 0 s that is > 0 wherever the length is > 0 (zero-length edges, e.g.
      between duplicated nodes, may take zero time; a real road cannot be
      driven in no time);
    * the largest strongly connected component holds at least
      ``min_core_share`` of the nodes (a bundle's roads must be mutually
      reachable; travel times themselves snap into that component and pass
      ``min_core_share=0``).

    Parameters
    ----------
    roads
        A :class:`RoadNetwork` or a directed networkx graph (osmnx conventions).
    source
        The file or service it came from, named in every error.
    crs
        The projected CRS the graph must be in; ``None`` accepts any projected CRS.
    min_core_share
        Least share of nodes in the largest strongly connected component, 0-1.

    Returns
    -------
    RoadNetwork
        The roads as arrays, marked as validated so that travel times do not
        check them again.

    Raises
    ------
    NetworkError
        If the graph is not directed, is empty, has a node without finite
        ``x``/``y``, an edge without a valid ``length`` or ``travel_time``
        (naming up to 10 edges as ``(u, v, key)`` and the count), or is
        fragmented. CRS faults raise a ``NetworkError`` that is also a
        :class:`~optimizer.errors.CRSError`.
    """
    # a networkx graph exists only where networkx is imported: do not import it to ask
    nx = sys.modules.get("networkx")
    missing: dict[str, NDArray[np.bool_]] = {}
    if isinstance(roads, RoadNetwork):
        net = roads
    elif nx is not None and isinstance(roads, nx.Graph):
        if not roads.is_directed():
            raise NetworkError(
                f"road graph in {source} is a {type(roads).__name__}, which is undirected; "
                "travel times need a directed graph with an edge per direction of travel. "
                "Convert it with graph.to_directed() (every road both ways) or build a "
                "networkx.MultiDiGraph"
            )
        net, missing = _from_networkx(roads)
    else:
        raise NetworkError(
            f"road graph in {source} is a {type(roads).__name__}; expected a RoadNetwork or a "
            "directed networkx.MultiDiGraph"
        )
    n_nodes, n_edges = net.number_of_nodes(), net.number_of_edges()
    if n_nodes == 0:
        raise NetworkError(
            f"road graph in {source} is empty (0 nodes, {n_edges} edges); it needs roads to "
            "route on, e.g. from optimizer.sources.osm.network_from_pbf"
        )
    if n_edges == 0:
        raise NetworkError(
            f"road graph in {source} has {n_nodes} node(s) but no edges; it needs roads to route on"
        )
    _check_crs(net.crs, source=source, crs=crs)

    bad_xy = ~(np.isfinite(net.x) & np.isfinite(net.y))
    if bad_xy.any():
        ids = ", ".join(map(str, net.node_ids[bad_xy][:_MAX_NAMED].tolist()))
        raise NetworkError(
            f"road graph in {source}: {int(bad_xy.sum())} node(s) lack finite 'x'/'y' "
            f"coordinates: {ids}. Fix or drop node(s) {ids}; every node needs x and y in the "
            "graph CRS (metres)"
        )
    out_of_range = (net.u < 0) | (net.u >= n_nodes) | (net.v < 0) | (net.v >= n_nodes)
    if out_of_range.any():
        raise NetworkError(
            f"road graph in {source}: {int(out_of_range.sum())} edge(s) refer to node positions "
            f"outside 0-{n_nodes - 1}, e.g. edge(s) {np.flatnonzero(out_of_range)[:5].tolist()}"
        )
    _check_edges(net, missing, source=source)

    if min_core_share > 0:
        count, labels = net.strong_components()
        core = int(np.bincount(labels, minlength=count).max())
        share = core / n_nodes
        if share < min_core_share:
            raise NetworkError(
                f"road graph in {source} is fragmented: its largest strongly connected "
                f"component holds {core} of {n_nodes} nodes ({share:.0%}); at least "
                f"{min_core_share:.0%} must be mutually reachable. Check that two-way roads "
                "have an edge in each direction, or keep the core with "
                "largest_strong_component(graph)"
            )
    net.__dict__[_VALIDATED] = True
    return net


def largest_strong_component(graph: Any) -> Any:
    """Return a copy of the graph reduced to its largest strongly connected component.

    Parameters
    ----------
    graph
        A directed networkx road graph or a :class:`RoadNetwork`.

    Returns
    -------
    networkx.MultiDiGraph or RoadNetwork
        The same type, holding only the nodes that can all reach each other.

    Raises
    ------
    NetworkError
        If the graph has no nodes.
    """
    import logging

    logger = logging.getLogger("optimizer.network")
    if isinstance(graph, RoadNetwork):
        if graph.number_of_nodes() == 0:
            raise NetworkError("the road graph has no nodes; nothing to keep")
        mask = graph.largest_strong_component_mask()
        dropped = graph.number_of_nodes() - int(mask.sum())
        if dropped:
            logger.info(
                "kept the strongly connected core: dropped %d of %d nodes",
                dropped,
                graph.number_of_nodes(),
            )
        return graph.subgraph(mask)
    import networkx as nx

    if graph.number_of_nodes() == 0:
        raise NetworkError("the road graph has no nodes; nothing to keep")
    core = max(nx.strongly_connected_components(graph), key=len)
    dropped = graph.number_of_nodes() - len(core)
    if dropped:
        total = graph.number_of_nodes()
        logger.info("kept the strongly connected core: dropped %d of %d nodes", dropped, total)
    return graph.subgraph(core).copy()

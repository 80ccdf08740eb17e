"""The road graph prepared for queries: CSR matrices, the connected core, snapping."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Hashable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
from numpy.typing import NDArray

from optimizer.errors import NetworkError
from optimizer.network import RoadNetwork, is_validated, validated_network
from optimizer.traveltimes._common import check_cutoff, hash_labels, preview
from optimizer.traveltimes._csr import CostQuery, Routing, build_csr
from optimizer.traveltimes._paths import dense, network_costs

if TYPE_CHECKING:
    import networkx as nx
    from scipy.spatial import cKDTree

    from optimizer.traveltimes._car import CarModel

__all__ = ["RoadIndex", "prepare_graph"]

logger = logging.getLogger(__name__)


def as_validated(roads: Any) -> RoadNetwork:
    """Roads as a validated :class:`RoadNetwork`; checked once, with the one road contract."""
    if isinstance(roads, RoadNetwork) and is_validated(roads):
        return roads
    return validated_network(roads, source="the road graph", crs=None, min_core_share=0.0)


class RoadIndex(Routing):
    """A road graph prepared for repeated travel-time queries.

    Build it once with :func:`prepare_graph` and pass it to
    :func:`~optimizer.traveltimes.travel_time_matrix` instead of the roads to
    skip the CSR build on every call.

    Parameters
    ----------
    roads
        A :class:`~optimizer.network.RoadNetwork` (validated ones are not
        checked again) or a directed networkx graph in osmnx conventions,
        checked once by :func:`optimizer.network.validate_roads` with any
        projected CRS.
    seconds
        Edge weights in seconds to route on instead of ``travel_time`` (the
        door-to-door car model's realistic driving times), aligned with the
        edges of ``roads``; ``None`` for the posted-speed ``travel_time``.
    car
        A :class:`~optimizer.traveltimes.CarModel` whose realistic driving
        seconds (:meth:`CarModel.edge_seconds`) are the weights; ``None`` for
        ``seconds`` or the posted speeds. Give at most one of the two.

    Raises
    ------
    NetworkError
        If the roads break the road contract (see
        :func:`optimizer.network.validate_roads`); CRS faults also are
        :class:`~optimizer.errors.CRSError`.
    """

    def __init__(
        self,
        roads: RoadNetwork | nx.MultiDiGraph,
        *,
        seconds: NDArray[np.float64] | None = None,
        car: CarModel | None = None,
    ) -> None:
        net = as_validated(roads)
        if car is not None:
            if seconds is not None:
                raise NetworkError("give either seconds or car as the edge weights, not both")
            seconds = car.edge_seconds(net)
        self.car: CarModel | None = car
        """The car model whose driving times are the weights, or ``None``."""
        self.roads: RoadNetwork = net
        self.crs: pyproj.CRS = pyproj.CRS.from_user_input(net.crs)
        self.node_ids: NDArray[Any] = net.node_ids
        self.xy: NDArray[np.float64] = np.column_stack([net.x, net.y])
        n = net.number_of_nodes()
        weights = net.travel_time if seconds is None else np.asarray(seconds, dtype=np.float64)
        if weights.shape != net.travel_time.shape or not (
            np.isfinite(weights).all() and (weights >= 0).all()
        ):
            raise NetworkError("edge weights must be finite seconds >= 0, one per edge")
        rows, cols, metres = net.u, net.v, net.length
        # parallel edges: keep the fastest, then the shortest of equally fast ones
        keys = rows * n + cols
        order = np.argsort(keys, kind="stable")
        if (np.diff(keys[order]) == 0).any():  # only then do the ties need the slow sort
            order = np.lexsort((metres, weights, keys))
        rows, cols, weights, metres = rows[order], cols[order], weights[order], metres[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        first &= rows != cols  # self-loops never lie on a shortest path
        rows, cols, weights, metres = rows[first], cols[first], weights[first], metres[first]
        self.n_nodes: int = n
        self.n_edges: int = len(rows)
        """Number of distinct directed node pairs with an edge (parallel edges merged)."""
        self.forward = build_csr(rows, cols, weights, metres, n)
        self.reverse = build_csr(cols, rows, weights, metres, n)
        logger.debug("prepared road graph: %d nodes, %d directed edges", n, self.n_edges)

    # ------------------------------------------------------------------ lazily built parts

    @cached_property
    def scc_nodes(self) -> NDArray[np.int64]:
        """Positions (0-based, in ``node_ids`` order) of the largest SCC's nodes.

        Raises
        ------
        NetworkError
            If no strongly connected component has more than one node.
        """
        from scipy.sparse.csgraph import connected_components

        n_comp, labels = connected_components(
            self.forward.matrix, directed=True, connection="strong"
        )
        sizes = np.bincount(labels, minlength=n_comp)
        largest = int(np.argmax(sizes))
        if sizes[largest] < 2:
            raise NetworkError(
                f"the road graph ({self.n_nodes} nodes, {self.n_edges} edges) has no strongly "
                "connected component with more than one node: no two places can be driven "
                "between in both directions. Check one-way tags and that two-way roads have "
                "edges in both directions."
            )
        logger.debug(
            "largest strongly connected component: %d of %d nodes", sizes[largest], self.n_nodes
        )
        return np.flatnonzero(labels == largest).astype(np.int64)

    @cached_property
    def _kdtree(self) -> cKDTree:
        from scipy.spatial import cKDTree

        return cKDTree(self.xy[self.scc_nodes])

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 hex digest of the nodes, coordinates, CRS, edges, weights and lengths."""
        digest = hashlib.sha256()
        digest.update(self.crs.to_wkt().encode())
        digest.update(hash_labels(self.node_ids))
        digest.update(np.ascontiguousarray(self.xy).tobytes())
        fwd = self.forward
        for array in (fwd.keys, fwd.matrix.data, fwd.lengths):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    @cached_property
    def _position_index(self) -> Any:
        import pandas as pd

        return pd.Index(self.node_ids)

    # ------------------------------------------------------------------ public helpers

    def positions(self, nodes: Iterable[Hashable]) -> NDArray[np.int64]:
        """Return the 0-based positions of node labels.

        Parameters
        ----------
        nodes
            Node labels of the graph (osmnx node ids).

        Returns
        -------
        numpy.ndarray
            ``int64`` positions in :attr:`node_ids` order.

        Raises
        ------
        NetworkError
            If a label is not a node of the graph.
        """
        labels = list(nodes)
        if not labels:
            return np.empty(0, dtype=np.int64)
        values = np.empty(len(labels), dtype=object)
        values[:] = labels
        pos = self._position_index.get_indexer(values)
        missing = pos < 0
        if missing.any():
            raise NetworkError(f"node(s) {preview(values[missing])} are not in the road graph")
        return pos.astype(np.int64)

    def snap(self, xy: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Snap points to the nearest node of the largest SCC.

        Parameters
        ----------
        xy
            ``(n, 2)`` coordinates in the graph CRS.

        Returns
        -------
        positions : numpy.ndarray
            Node positions (``int64``).
        distances : numpy.ndarray
            Straight-line snap distances in CRS units (metres).
        """
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        dist, k = self._kdtree.query(xy, k=1)
        return self.scc_nodes[np.asarray(k, dtype=np.int64)], np.asarray(dist, dtype=np.float64)

    def network_times(
        self,
        from_nodes: Iterable[Hashable],
        to_nodes: Iterable[Hashable],
        *,
        cutoff: float | None = None,
        chunk_memory_mb: float = 256.0,
        workers: int | None = 1,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Node-to-node fastest times and the lengths of those fastest paths.

        Works for any nodes, not only the largest SCC; unreachable pairs are
        ``inf``.

        Parameters
        ----------
        from_nodes, to_nodes
            Node labels.
        cutoff
            Minutes; pairs farther apart are ``inf``. ``None`` for no cutoff.
        chunk_memory_mb
            Working memory target for one chunk of Dijkstra sources.
        workers
            Processes for the shortest paths (``None``: every core).

        Returns
        -------
        minutes : numpy.ndarray
            ``(len(from_nodes), len(to_nodes))`` ``float64`` minutes.
        km : numpy.ndarray
            Kilometres along each fastest path, same shape.
        """
        a = self.positions(from_nodes)
        b = self.positions(to_nodes)
        limit_s = None if cutoff is None else check_cutoff(cutoff) * 60.0
        ua, inv_a = np.unique(a, return_inverse=True)
        ub, inv_b = np.unique(b, return_inverse=True)
        seconds, metres = network_costs(
            self,
            CostQuery(ua, ub, ("to",), limit_s),
            chunk_memory_mb=chunk_memory_mb,
            workers=workers,
        )
        seconds = dense(seconds)[np.ix_(inv_a.ravel(), inv_b.ravel())]
        metres = dense(metres)[np.ix_(inv_a.ravel(), inv_b.ravel())]
        return seconds / 60.0, metres / 1000.0


def prepare_graph(
    roads: RoadNetwork | nx.MultiDiGraph,
    *,
    seconds: NDArray[np.float64] | None = None,
    car: CarModel | None = None,
) -> RoadIndex:
    """Validate a road graph (once) and build its CSR matrices for fast queries.

    Parameters
    ----------
    roads
        A :class:`~optimizer.network.RoadNetwork` or a directed networkx
        graph in osmnx conventions (see :class:`RoadIndex`).
    seconds
        Edge weights to route on instead of ``travel_time`` (see :class:`RoadIndex`).
    car
        A :class:`~optimizer.traveltimes.CarModel` to route on its realistic
        driving times (see :class:`RoadIndex`).

    Returns
    -------
    RoadIndex
        Reusable index; pass it to :func:`~optimizer.traveltimes.travel_time_matrix`.

    Raises
    ------
    NetworkError
        If the roads break the road contract.
    CRSError
        If the graph CRS is missing or geographic.

    Examples
    --------
    >>> index = prepare_graph(region.road_network)  # doctest: +SKIP
    >>> result = travel_time_matrix(index, region.population, region.sites)  # doctest: +SKIP
    """
    return RoadIndex(roads, seconds=seconds, car=car)

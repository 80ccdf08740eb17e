"""Travel times and road distances between grid cells and service sites.

The engine answers one question for every pair of an *origin* (usually a
population grid cell) and a *destination* (usually a candidate site): how many
minutes does the fastest trip take, and how many road kilometres long is that
fastest trip?

How a time is made
-------------------
``minutes[i, j] = access(i) + network(node(i) -> node(j)) + egress(j)``

1. **Snapping.** Each point snaps to the nearest node of the road graph's
   largest strongly connected component (SCC), found with a k-d tree
   (:class:`scipy.spatial.cKDTree`). Snapping inside the largest SCC means
   every snapped pair is reachable both ways; dead ends of one-way streets and
   disconnected islands are never snapped to. Polygons (grid cells) are
   represented by their centroid, or by a point guaranteed inside them with
   ``polygon_point="representative_point"``.
2. **Access and egress legs.** The straight-line snap distance is multiplied by
   a circuity factor and driven at an off-network speed. The defaults,
   :data:`DEFAULT_ACCESS_SPEED_KMH` = 20 km/h and :data:`DEFAULT_CIRCUITY` = 1.3,
   describe a slow trip on private roads and forest tracks that are not part of
   the mapped driving network: 1.3 is the usual ratio of road to crow-fly
   distance reported for rural road networks, and 20 km/h is between walking
   and driving on a gravel track. The same leg is added to the kilometres.
   Points farther than ``snap_threshold_m`` (default
   :data:`DEFAULT_SNAP_THRESHOLD_M` = 2,000 m) from the network are *flagged* in
   the snap table, never dropped; a destination that far away raises
   :class:`~optimizer.errors.NetworkError`, because it means the road graph does
   not cover the sites.
3. **Network leg.** Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`) runs on a
   CSR matrix built once per graph by :func:`prepare_graph`. It runs from the
   smaller side, normally the destinations on the *reversed* graph, so times are
   origin-to-destination on one-way streets. Parallel edges keep the fastest
   one (ties: the shorter one). The kilometres are the length of the
   *time-optimal* path, read from the Dijkstra predecessor tree, not the
   length of the shortest path.

Directions
----------
``direction="to_destinations"`` (default) gives origin-to-destination trips,
``"from_destinations"`` destination-to-origin trips and ``"round_trip"`` their
sum. The matrix is always shaped ``(n_origins, n_destinations)``.

Dense and sparse results
------------------------
:func:`travel_time_matrix` always returns a :class:`TravelTimeMatrix`, whatever
its options; no flag changes the return type. The result offers both forms:

* ``result.minutes`` and ``result.km``: dense ``float64`` arrays, ``inf`` where a
  pair is unreachable or beyond the cutoff (never 0);
* ``result.sparse_minutes()`` and ``result.sparse_km()``: ``scipy.sparse``
  CSR arrays holding only the pairs within the cutoff (all pairs without one).

With a ``cutoff`` the engine stores only the pairs within it, so memory stays
bounded; the dense arrays are built only if asked for.

Exact reduction
---------------
Origins that snap to the same node share their network time and differ only by
their own access leg: ``minutes == group_minutes[origin_groups] +
origin_offset_minutes[:, None]`` (then ``inf`` beyond the cutoff). Models can
aggregate demand per group and add the constant afterwards.

Precision and memory
--------------------
Times and kilometres are ``float64`` throughout: ``float32`` would round a
three-hour trip to about a millisecond and break the agreement with networkx
to 1e-6 s that the tests check. Node indices and predecessor trees are
``int32``. Sources are processed in chunks sized so that one chunk's working
arrays stay near ``chunk_memory_mb`` (default 256 MB).

Caching
-------
Shortest-path results are cached on disk under ``cache_dir`` (default
``get_settings().cache_dir / "traveltimes"``), in a file named by a SHA-256
hash of the graph (nodes, coordinates, CRS, edges, times and lengths), the
snapped nodes of the points, the direction, the cutoff and the engine version.
Access legs are recomputed from the points on every call, so a cache entry is
reused exactly when the network part would be identical. Files are written to a
temporary file and moved into place with :func:`os.replace`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import NDArray
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimizer._io import atomic_path
from optimizer.errors import CRSError, DataError, NetworkError
from optimizer.settings import get_settings

if TYPE_CHECKING:
    from optimizer.settings import Settings

__all__ = [
    "DEFAULT_ACCESS_SPEED_KMH",
    "DEFAULT_CIRCUITY",
    "DEFAULT_SNAP_THRESHOLD_M",
    "Direction",
    "RegionLike",
    "RoadIndex",
    "TravelTimeMatrix",
    "prepare_graph",
    "travel_time_matrix",
]

logger = logging.getLogger(__name__)

DEFAULT_ACCESS_SPEED_KMH: float = 20.0
"""Off-network speed (km/h) of the access and egress legs."""

DEFAULT_CIRCUITY: float = 1.3
"""Ratio of the off-network route length to the straight snap distance."""

DEFAULT_SNAP_THRESHOLD_M: float = 2000.0
"""Snap distance (m) beyond which a point is flagged as far from the roads."""

Direction = Literal["to_destinations", "from_destinations", "round_trip"]
_DIRECTIONS: tuple[str, ...] = ("to_destinations", "from_destinations", "round_trip")
_POLYGON_POINTS: tuple[str, ...] = ("centroid", "representative_point")
_CACHE_VERSION = 1
_BYTES_PER_TREE_NODE = 56  # dist, pred, lengths, ancestors and temporaries per source and node


@runtime_checkable
class RegionLike(Protocol):
    """Anything with a road graph, a population grid and candidate sites.

    :class:`optimizer.region.Region` satisfies it.
    """

    @property
    def roads(self) -> nx.MultiDiGraph:
        """Road graph in osmnx conventions."""
        ...

    @property
    def population(self) -> gpd.GeoDataFrame:
        """Population grid cells indexed by ``cell_id``."""
        ...

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Candidate sites indexed by ``site_id``."""
        ...


# --------------------------------------------------------------------------- graph


@dataclass(frozen=True, eq=False)
class _Csr:
    """One orientation of the road graph: CSR of travel times plus edge lengths."""

    matrix: sp.csr_array  # travel time (s); explicit zeros are zero-time edges
    keys: NDArray[np.int64]  # row * n + col of every stored entry, ascending
    lengths: NDArray[np.float64]  # metres, aligned with matrix.data


def _build_csr(
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    seconds: NDArray[np.float64],
    metres: NDArray[np.float64],
    n: int,
) -> _Csr:
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    index_dtype = np.int32 if n < 2**31 and len(cols) < 2**31 else np.int64
    matrix = sp.csr_array(
        (seconds[order], cols.astype(index_dtype), indptr.astype(index_dtype)), shape=(n, n)
    )
    return _Csr(matrix=matrix, keys=rows * n + cols, lengths=metres[order])


class RoadIndex:
    """A road graph prepared for repeated travel-time queries.

    Build it once with :func:`prepare_graph` and pass it to
    :func:`travel_time_matrix` instead of the graph to skip validation and the
    CSR build on every call. The index keeps a reference to the graph but does
    not watch it: prepare a new index after editing the graph.

    Parameters
    ----------
    graph
        Directed road graph in osmnx conventions: ``graph.graph["crs"]`` a
        projected CRS, node attributes ``x`` and ``y`` in its units (metres),
        edge attributes ``travel_time`` (s) and ``length`` (m).

    Raises
    ------
    NetworkError
        If the graph is undirected, empty, has no edges, has a node without
        finite ``x``/``y`` or an edge without a finite, non-negative
        ``travel_time`` or ``length``.
    CRSError
        If the graph has no CRS or a geographic one.
    """

    def __init__(self, graph: nx.MultiDiGraph) -> None:
        if not isinstance(graph, nx.Graph):
            raise NetworkError(
                f"expected a networkx MultiDiGraph road graph, got {type(graph).__name__}"
            )
        if not graph.is_directed():
            raise NetworkError(
                "the road graph is undirected; travel times need a directed graph "
                "(osmnx MultiDiGraph). Convert it with graph.to_directed()."
            )
        n = graph.number_of_nodes()
        if n == 0:
            raise NetworkError(
                "the road graph is empty (0 nodes, 0 edges); load a road network that "
                "covers the region, e.g. with optimizer.network.network_from_pbf"
            )
        if graph.number_of_edges() == 0:
            raise NetworkError(
                f"the road graph has {n} nodes but no edges; travel times need roads"
            )
        self.graph = graph
        self.crs = _graph_crs(graph)

        nodes = list(graph.nodes)
        self.node_ids: NDArray[Any] = _label_array(nodes)
        self._position: dict[Hashable, int] = {node: i for i, node in enumerate(nodes)}
        xy = np.empty((n, 2), dtype=np.float64)
        try:
            xy[:] = [(d.get("x"), d.get("y")) for _, d in graph.nodes(data=True)]  # None -> nan
        except (TypeError, ValueError):
            for i, (_, data) in enumerate(graph.nodes(data=True)):
                try:
                    xy[i] = float(data["x"]), float(data["y"])
                except (KeyError, TypeError, ValueError):
                    xy[i] = np.nan
        bad = ~np.isfinite(xy).all(axis=1)
        if bad.any():
            raise NetworkError(
                f"{int(bad.sum())} road node(s) lack finite 'x'/'y' coordinates, e.g. node(s) "
                f"{_preview(self.node_ids[bad])}; every node needs x and y in the graph CRS"
            )
        self.xy: NDArray[np.float64] = xy

        rows, cols, seconds, metres = self._edge_arrays(graph)
        # parallel edges: keep the fastest, then the shortest of equally fast ones
        order = np.lexsort((metres, seconds, cols, rows))
        rows, cols, seconds, metres = rows[order], cols[order], seconds[order], metres[order]
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        first &= rows != cols  # self-loops never lie on a shortest path
        rows, cols, seconds, metres = rows[first], cols[first], seconds[first], metres[first]
        self.n_nodes: int = n
        self.n_edges: int = len(rows)
        """Number of distinct directed node pairs with an edge (parallel edges merged)."""
        self._forward = _build_csr(rows, cols, seconds, metres, n)
        self._reverse = _build_csr(cols, rows, seconds, metres, n)
        logger.debug("prepared road graph: %d nodes, %d directed edges", n, self.n_edges)

    def _edge_arrays(
        self, graph: nx.MultiDiGraph
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
        """Edge endpoints (positions), seconds and metres; validated, parallel edges kept."""
        position = self._position
        rows: list[int] = []
        cols: list[int] = []
        raw_seconds: list[Any] = []
        raw_metres: list[Any] = []
        multi = graph.is_multigraph()
        for u, nbrs in graph.adjacency():
            pu = position[u]
            for v, attrs in nbrs.items():
                pv = position[v]
                for data in attrs.values() if multi else (attrs,):
                    rows.append(pu)
                    cols.append(pv)
                    raw_seconds.append(data.get("travel_time"))
                    raw_metres.append(data.get("length"))
        try:
            seconds = np.asarray(raw_seconds, dtype=np.float64)  # None -> nan
            metres = np.asarray(raw_metres, dtype=np.float64)
            valid = bool(
                np.all(np.isfinite(seconds) & (seconds >= 0))
                and np.all(np.isfinite(metres) & (metres >= 0))
            )
        except (TypeError, ValueError):
            valid = False
        if not valid:
            self._raise_bad_edge(graph)
        return (
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            seconds,
            metres,
        )

    @staticmethod
    def _raise_bad_edge(graph: nx.MultiDiGraph) -> None:
        """Find the first invalid edge and raise a NetworkError naming it."""
        edges: Iterable[tuple[Any, ...]]
        if graph.is_multigraph():
            edges = graph.edges(keys=True, data=True)
        else:
            edges = ((u, v, None, d) for u, v, d in graph.edges(data=True))
        for u, v, key, data in edges:
            _edge_number(data, "travel_time", u, v, key, "s")
            _edge_number(data, "length", u, v, key, "m")
        raise NetworkError("the road graph has an edge with an invalid travel_time or length")

    # ------------------------------------------------------------------ lazily built parts

    @cached_property
    def scc_nodes(self) -> NDArray[np.int64]:
        """Positions (0-based, in ``node_ids`` order) of the largest SCC's nodes.

        Raises
        ------
        NetworkError
            If no strongly connected component has more than one node.
        """
        n_comp, labels = connected_components(
            self._forward.matrix, directed=True, connection="strong"
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
        return cKDTree(self.xy[self.scc_nodes])

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 hex digest of the nodes, coordinates, CRS, edges, times and lengths."""
        digest = hashlib.sha256()
        digest.update(self.crs.to_wkt().encode())
        digest.update(_hash_labels(self.node_ids))
        digest.update(self.xy.tobytes())
        fwd = self._forward
        for array in (fwd.keys, fwd.matrix.data, fwd.lengths):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

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
        out = []
        missing = []
        for node in nodes:
            pos = self._position.get(node)
            if pos is None:
                missing.append(node)
            else:
                out.append(pos)
        if missing:
            raise NetworkError(f"node(s) {_preview(missing)} are not in the road graph")
        return np.asarray(out, dtype=np.int64)

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

        Returns
        -------
        minutes : numpy.ndarray
            ``(len(from_nodes), len(to_nodes))`` ``float64`` minutes.
        km : numpy.ndarray
            Kilometres along each fastest path, same shape.
        """
        a = self.positions(from_nodes)
        b = self.positions(to_nodes)
        limit_s = None if cutoff is None else _check_cutoff(cutoff) * 60.0
        ua, inv_a = np.unique(a, return_inverse=True)
        ub, inv_b = np.unique(b, return_inverse=True)
        seconds, metres = _network_costs(
            self, ua, ub, legs=("to",), limit_s=limit_s, chunk_memory_mb=chunk_memory_mb
        )
        seconds = _dense(seconds)[np.ix_(inv_a.ravel(), inv_b.ravel())]
        metres = _dense(metres)[np.ix_(inv_a.ravel(), inv_b.ravel())]
        return seconds / 60.0, metres / 1000.0

    # ------------------------------------------------------------------ shortest-path trees

    def _trees(
        self,
        sources: NDArray[np.int64],
        targets: NDArray[np.int64],
        *,
        reverse: bool,
        limit_s: float | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Seconds and metres from each source to each target (or back, if reverse).

        The metres are summed along the Dijkstra predecessor tree, so they
        belong to the time-optimal path. Each tree edge's length is found by
        ``(node, parent)`` in the other orientation's sorted CSR keys (queries
        ascend within a row, which keeps the binary search cache-friendly).
        Sums use pointer jumping, one source row at a time so the row stays in
        cache: after pass ``s`` every node knows its ancestor ``2**s`` tree
        edges up and the length to it, so ``log2(depth)`` vectorised passes
        finish the tree.
        """
        csr = self._reverse if reverse else self._forward
        other = self._forward if reverse else self._reverse
        n = self.n_nodes
        dist, pred = dijkstra(
            csr.matrix,
            directed=True,
            indices=sources,
            return_predecessors=True,
            limit=np.inf if limit_s is None else limit_s,
        )
        has_parent = pred >= 0
        query = np.arange(n, dtype=np.int64)[None, :] * n + pred  # node * n + parent
        step = np.zeros(pred.shape, dtype=np.float64)
        step[has_parent] = other.lengths[np.searchsorted(other.keys, query[has_parent])]
        del query
        own = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        metres = np.empty((len(sources), len(targets)), dtype=np.float64)
        for row in range(len(sources)):
            ancestor = np.where(has_parent[row], pred[row], own)  # roots point to themselves
            lengths = step[row]
            while True:
                nxt = ancestor[ancestor]
                if np.array_equal(nxt, ancestor):
                    break
                lengths += lengths[ancestor]
                ancestor = nxt
            metres[row] = lengths[targets]
        seconds = dist[:, targets]
        metres[~np.isfinite(seconds)] = np.inf
        return seconds, metres


def prepare_graph(graph: nx.MultiDiGraph) -> RoadIndex:
    """Validate a road graph and build its CSR matrices for fast queries.

    Parameters
    ----------
    graph
        Directed road graph in osmnx conventions (see :class:`RoadIndex`).

    Returns
    -------
    RoadIndex
        Reusable index; pass it to :func:`travel_time_matrix`.

    Raises
    ------
    NetworkError
        If the graph is empty or an edge lacks ``travel_time`` or ``length``.
    CRSError
        If the graph CRS is missing or geographic.

    Examples
    --------
    >>> index = prepare_graph(region.roads)  # doctest: +SKIP
    >>> result = travel_time_matrix(index, region.population, region.sites)  # doctest: +SKIP
    """
    return RoadIndex(graph)


def _network_costs(
    index: RoadIndex,
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    *,
    legs: tuple[str, ...],
    limit_s: float | None,
    chunk_memory_mb: float,
) -> tuple[Any, Any]:
    """Network seconds and metres for unique node sets ``a`` x ``b``.

    ``legs`` holds ``"to"`` (a -> b) and/or ``"from"`` (b -> a); several legs
    are summed. Dijkstra runs from the smaller set. Without a limit the result
    is two dense ``(len(a), len(b))`` arrays; with one it is two
    ``scipy.sparse.csr_array`` holding only the pairs within the limit.
    """
    from_b = len(b) <= len(a)
    sources, targets = (b, a) if from_b else (a, b)
    # a -> b from b's side runs on the reversed graph; b -> a from a's side too
    reverse_flags = [(leg == "to") == from_b for leg in legs]
    per_source = max(index.n_nodes, 1) * _BYTES_PER_TREE_NODE * len(reverse_flags)
    chunk = int(max(1, min(512, chunk_memory_mb * 2**20 // per_source)))
    dense = limit_s is None
    if dense:
        seconds = np.empty((len(sources), len(targets)), dtype=np.float64)
        metres = np.empty((len(sources), len(targets)), dtype=np.float64)
    else:
        parts: list[tuple[NDArray[Any], ...]] = []
    for start in range(0, len(sources), chunk):
        chunk_sources = sources[start : start + chunk]
        total_s: NDArray[np.float64] | None = None
        total_m: NDArray[np.float64] | None = None
        for reverse in reverse_flags:
            s, m = index._trees(chunk_sources, targets, reverse=reverse, limit_s=limit_s)
            total_s = s if total_s is None else total_s + s
            total_m = m if total_m is None else total_m + m
        assert total_s is not None and total_m is not None
        if dense:
            seconds[start : start + len(chunk_sources)] = total_s
            metres[start : start + len(chunk_sources)] = total_m
        else:
            assert limit_s is not None
            r, c = np.nonzero(total_s <= limit_s)
            parts.append((r + start, c, total_s[r, c], total_m[r, c]))
    logger.debug(
        "shortest paths from %d source nodes to %d target nodes (%s)",
        len(sources),
        len(targets),
        "+".join(legs),
    )
    if dense:
        if from_b:
            return seconds.T, metres.T
        return seconds, metres
    if parts:
        r, c, s_val, m_val = (np.concatenate(x) for x in zip(*parts, strict=True))
    else:
        r = c = np.empty(0, dtype=np.int64)
        s_val = m_val = np.empty(0, dtype=np.float64)
    if from_b:
        r, c = c, r
    shape = (len(a), len(b))
    return _csr_from_triplets(r, c, s_val, shape), _csr_from_triplets(r, c, m_val, shape)


def _csr_from_triplets(
    rows: NDArray[Any], cols: NDArray[Any], values: NDArray[np.float64], shape: tuple[int, int]
) -> sp.csr_array:
    """CSR with explicit zeros kept (a zero here is a real zero-minute trip)."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(np.asarray(rows, dtype=np.int64), minlength=shape[0]), out=indptr[1:])
    return sp.csr_array(
        (
            np.asarray(values, dtype=np.float64)[order],
            np.asarray(cols)[order].astype(np.int64),
            indptr,
        ),
        shape=shape,
    )


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class TravelTimeMatrix:
    """Travel times and road distances between origins and destinations.

    Rows are origins, columns destinations, whatever the ``direction``.
    Build it with :func:`travel_time_matrix`.

    Attributes
    ----------
    origin_ids, destination_ids
        Row and column labels (the input GeoDataFrames' indexes).
    direction
        ``"to_destinations"``, ``"from_destinations"`` or ``"round_trip"``.
    cutoff
        Minutes, or ``None``. Pairs beyond it are ``inf`` in the dense arrays
        and absent from the sparse ones.
    snap
        One row per origin and per destination, indexed by ``(role, id)`` with
        role ``"origin"`` or ``"destination"``; columns ``node`` (graph node
        label), ``snap_m`` (straight-line metres to it), ``access_minutes`` and
        ``access_km`` (one off-network leg) and ``far`` (snap distance above the
        threshold).
    origin_groups
        ``int64`` label per origin; origins that snap to the same node share a
        label. Labels index the rows of :attr:`group_minutes`.
    group_nodes
        Graph node label of each group.
    origin_offset_minutes, origin_offset_km
        Per-origin constant added to the group row: the access leg (twice for
        a round trip).
    access_speed_kmh, circuity, snap_threshold_m
        The parameters used.
    """

    origin_ids: pd.Index
    destination_ids: pd.Index
    direction: Direction
    cutoff: float | None
    snap: pd.DataFrame = field(repr=False)
    origin_groups: NDArray[np.int64] = field(repr=False)
    group_nodes: NDArray[Any] = field(repr=False)
    origin_offset_minutes: NDArray[np.float64] = field(repr=False)
    origin_offset_km: NDArray[np.float64] = field(repr=False)
    access_speed_kmh: float
    circuity: float
    snap_threshold_m: float
    _group_table: tuple[Any, Any] = field(repr=False)

    # ------------------------------------------------------------------ shape

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_origins, n_destinations)``."""
        return (len(self.origin_ids), len(self.destination_ids))

    @property
    def origin_snap(self) -> pd.DataFrame:
        """Snap table rows of the origins, indexed by origin id."""
        return self.snap.xs("origin", level="role")

    @property
    def destination_snap(self) -> pd.DataFrame:
        """Snap table rows of the destinations, indexed by destination id."""
        return self.snap.xs("destination", level="role")

    # ------------------------------------------------------------------ group level

    @cached_property
    def group_minutes(self) -> NDArray[np.float64]:
        """Dense ``(n_groups, n_destinations)`` minutes without the origin access leg."""
        return _dense(self._group_table[0])

    @cached_property
    def group_km(self) -> NDArray[np.float64]:
        """Dense ``(n_groups, n_destinations)`` km without the origin access leg."""
        return _dense(self._group_table[1])

    # ------------------------------------------------------------------ dense

    @cached_property
    def minutes(self) -> NDArray[np.float64]:
        """Dense ``(n_origins, n_destinations)`` ``float64`` minutes; ``inf`` if unreachable."""
        return self._expand_dense(0, self.origin_offset_minutes)

    @cached_property
    def km(self) -> NDArray[np.float64]:
        """Dense km along each fastest trip, access legs included; ``inf`` if unreachable."""
        return self._expand_dense(1, self.origin_offset_km)

    def _expand_dense(self, which: int, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
        table = self._group_table[which]
        if isinstance(table, np.ndarray):  # no cutoff: every pair is kept
            out = table[self.origin_groups]
            out += offsets[:, None]
            return out
        out = np.full(self.shape, np.inf)
        rows, cols, _ = self._sparse_parts
        out[rows, cols] = self._sparse_values(which, offsets)
        return out

    # ------------------------------------------------------------------ sparse

    @cached_property
    def _group_csr(self) -> tuple[sp.csr_array, sp.csr_array]:
        minutes, km = self._group_table
        if not isinstance(minutes, np.ndarray):
            return minutes, km
        rows, cols = np.nonzero(np.isfinite(minutes))
        return (
            _csr_from_triplets(rows, cols, minutes[rows, cols], minutes.shape),
            _csr_from_triplets(rows, cols, km[rows, cols], km.shape),
        )

    @cached_property
    def _sparse_parts(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Origin row, destination column and group-table position of each kept pair."""
        table = self._group_csr[0]
        indptr = table.indptr.astype(np.int64)
        groups = self.origin_groups
        lengths = indptr[groups + 1] - indptr[groups]
        out_start = np.cumsum(lengths) - lengths
        positions = np.repeat(indptr[groups] - out_start, lengths) + np.arange(
            int(lengths.sum()), dtype=np.int64
        )
        rows = np.repeat(np.arange(len(groups), dtype=np.int64), lengths)
        values = table.data[positions] + self.origin_offset_minutes[rows]
        keep = np.isfinite(values)
        if self.cutoff is not None:
            keep &= values <= self.cutoff
        cols = table.indices[positions].astype(np.int64)
        return rows[keep], cols[keep], positions[keep]

    def _sparse_values(self, which: int, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
        rows, _, positions = self._sparse_parts
        return self._group_csr[which].data[positions] + offsets[rows]

    def _sparse(self, which: int, offsets: NDArray[np.float64]) -> sp.csr_array:
        rows, cols, _ = self._sparse_parts
        indptr = np.zeros(self.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.shape[0]), out=indptr[1:])
        return sp.csr_array(
            (self._sparse_values(which, offsets), cols.copy(), indptr), shape=self.shape
        )

    def sparse_minutes(self) -> sp.csr_array:
        """Minutes as a CSR array holding only reachable pairs within the cutoff.

        Absent entries mean unreachable (or beyond the cutoff). Stored zeros
        are real zero-minute trips: do not call ``eliminate_zeros()`` on it.

        Returns
        -------
        scipy.sparse.csr_array
            ``(n_origins, n_destinations)``.
        """
        return self._sparse(0, self.origin_offset_minutes)

    def sparse_km(self) -> sp.csr_array:
        """Kilometres with the same sparsity structure as :meth:`sparse_minutes`.

        Returns
        -------
        scipy.sparse.csr_array
            ``(n_origins, n_destinations)``.
        """
        return self._sparse(1, self.origin_offset_km)

    # ------------------------------------------------------------------ tables

    @cached_property
    def unreachable(self) -> pd.DataFrame:
        """Pairs without a trip (within the cutoff), columns ``origin`` and ``destination``.

        Without a cutoff this is empty: all points snap into one strongly
        connected component. With a cutoff it lists the pairs beyond it and
        builds a dense mask, so prefer :meth:`sparse_minutes` for large inputs.
        """
        rows, cols = np.nonzero(~np.isfinite(self.minutes))
        return pd.DataFrame(
            {"origin": self.origin_ids[rows], "destination": self.destination_ids[cols]}
        )

    def to_frame(self, *, include_unreachable: bool = False) -> pd.DataFrame:
        """Long table for notebooks: one row per origin-destination pair.

        Parameters
        ----------
        include_unreachable
            Also list pairs without a trip (within the cutoff), with ``inf``.

        Returns
        -------
        pandas.DataFrame
            Columns ``origin``, ``destination``, ``minutes``, ``km``, ordered by
            origin then destination.
        """
        if include_unreachable:
            rows, cols = np.divmod(np.arange(self.shape[0] * self.shape[1]), self.shape[1])
            minutes = self.minutes.ravel()
            km = self.km.ravel()
        else:
            rows, cols, _ = self._sparse_parts
            minutes = self._sparse_values(0, self.origin_offset_minutes)
            km = self._sparse_values(1, self.origin_offset_km)
        return pd.DataFrame(
            {
                "origin": self.origin_ids[rows],
                "destination": self.destination_ids[cols],
                "minutes": minutes,
                "km": km,
            }
        )


def _dense(table: Any) -> NDArray[np.float64]:
    if isinstance(table, np.ndarray):
        return table.copy()
    out = np.full(table.shape, np.inf)
    rows = np.repeat(np.arange(table.shape[0]), np.diff(table.indptr))
    out[rows, table.indices] = table.data
    return out


# --------------------------------------------------------------------------- entry point


def travel_time_matrix(
    source: RegionLike | nx.MultiDiGraph | RoadIndex,
    origins: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    destinations: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    *,
    cutoff: float | None = None,
    direction: Direction = "to_destinations",
    access_speed_kmh: float = DEFAULT_ACCESS_SPEED_KMH,
    circuity: float = DEFAULT_CIRCUITY,
    snap_threshold_m: float = DEFAULT_SNAP_THRESHOLD_M,
    polygon_point: Literal["centroid", "representative_point"] = "centroid",
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    chunk_memory_mb: float = 256.0,
    settings: Settings | None = None,
) -> TravelTimeMatrix:
    """Fastest travel times and their road kilometres from origins to destinations.

    Parameters
    ----------
    source
        A region (anything with ``roads``, ``population`` and ``sites``), a
        directed road graph in osmnx conventions, or a :class:`RoadIndex` from
        :func:`prepare_graph` (fastest for repeated calls).
    origins
        Points or polygons in the graph CRS, one per row, unique index. Default
        for a region: ``region.population``.
    destinations
        Points or polygons in the graph CRS, unique index. Default for a
        region: ``region.sites``.
    cutoff
        Minutes, > 0; pairs whose total time exceeds it are left out of the
        sparse form and ``inf`` in the dense one. ``None``: all pairs.
    direction
        ``"to_destinations"`` (origin to destination), ``"from_destinations"``
        (destination to origin) or ``"round_trip"`` (their sum).
    access_speed_kmh
        Off-network speed of the access and egress legs, > 0.
    circuity
        Off-network route length per straight-line metre, >= 1.
    snap_threshold_m
        Snap distance above which a point is flagged as far; a destination
        this far from the network raises :class:`NetworkError`.
    polygon_point
        ``"centroid"`` or ``"representative_point"`` (always inside the
        polygon): the point that represents a polygon.
    cache_dir
        Folder of the on-disk cache. Default:
        ``settings.cache_dir / "traveltimes"``.
    use_cache
        Read and write the on-disk cache.
    chunk_memory_mb
        Working-memory target of one chunk of Dijkstra sources.
    settings
        Environment defaults; ``None`` reads them with
        :func:`~optimizer.settings.get_settings`.

    Returns
    -------
    TravelTimeMatrix
        Always the same type, with dense and sparse accessors.

    Raises
    ------
    NetworkError
        Empty graph, edge without ``travel_time``/``length``, no strongly
        connected component, or destinations beyond ``snap_threshold_m`` from
        the largest one.
    CRSError
        Graph CRS missing or geographic, or points in another CRS.
    DataError
        NaN or empty geometries, unsupported geometry types, duplicate ids, or
        invalid parameters.

    Examples
    --------
    >>> result = travel_time_matrix(region, cutoff=180)  # doctest: +SKIP
    >>> result.sparse_minutes()  # doctest: +SKIP
    >>> result.to_frame().head()  # doctest: +SKIP
    """
    if direction not in _DIRECTIONS:
        raise DataError(f"direction={direction!r} is not allowed; use one of {_DIRECTIONS}")
    if polygon_point not in _POLYGON_POINTS:
        raise DataError(
            f"polygon_point={polygon_point!r} is not allowed; use one of {_POLYGON_POINTS}"
        )
    cutoff_min = None if cutoff is None else _check_cutoff(cutoff)
    speed = _positive("access_speed_kmh", access_speed_kmh)
    if not (math.isfinite(circuity) and circuity >= 1.0):
        raise DataError(f"circuity={circuity!r} is not allowed; use a finite number >= 1")
    if not (math.isfinite(snap_threshold_m) and snap_threshold_m >= 0):
        raise DataError(
            f"snap_threshold_m={snap_threshold_m!r} is not allowed; use a finite number >= 0"
        )
    _positive("chunk_memory_mb", chunk_memory_mb)

    index, origins, destinations = _resolve_source(source, origins, destinations)
    origin_ids, origin_xy = _points(origins, "origins", index.crs, polygon_point)
    dest_ids, dest_xy = _points(destinations, "destinations", index.crs, polygon_point)

    origin_pos, origin_snap_m = index.snap(origin_xy)
    dest_pos, dest_snap_m = index.snap(dest_xy)
    far_dest = dest_snap_m > snap_threshold_m
    if far_dest.any():
        raise NetworkError(
            f"{int(far_dest.sum())} destination(s) are farther than snap_threshold_m="
            f"{snap_threshold_m:g} m from the largest strongly connected part of the road "
            f"graph: {_preview_pairs(dest_ids[far_dest], dest_snap_m[far_dest])}. No part of "
            "the graph that every origin can reach contains them: extend the road graph "
            "to cover the sites, check their coordinates, or raise snap_threshold_m."
        )
    far_origin = origin_snap_m > snap_threshold_m
    if far_origin.any():
        logger.warning(
            "%d of %d origins are farther than %g m from the road network (flagged in snap): %s",
            int(far_origin.sum()),
            len(origin_ids),
            snap_threshold_m,
            _preview(origin_ids[far_origin]),
        )

    metres_per_second = speed / 3.6
    origin_access_m = origin_snap_m * circuity
    dest_access_m = dest_snap_m * circuity
    origin_access_min = origin_access_m / metres_per_second / 60.0
    dest_access_min = dest_access_m / metres_per_second / 60.0
    legs = {"to_destinations": ("to",), "from_destinations": ("from",)}.get(
        direction, ("to", "from")
    )
    times = float(len(legs))

    group_pos, origin_groups = np.unique(origin_pos, return_inverse=True)
    dnode_pos, dest_dnode = np.unique(dest_pos, return_inverse=True)
    limit_s = None if cutoff_min is None else cutoff_min * 60.0

    seconds, metres = _cached_network_costs(
        index,
        group_pos,
        dnode_pos,
        legs=legs,
        limit_s=limit_s,
        chunk_memory_mb=chunk_memory_mb,
        cache_dir=_cache_folder(cache_dir, settings) if use_cache else None,
    )
    table = _group_table(
        seconds,
        metres,
        dest_dnode,
        egress_min=times * dest_access_min,
        egress_km=times * dest_access_m / 1000.0,
        cutoff=cutoff_min,
    )
    snap = _snap_table(
        index,
        origin_ids,
        dest_ids,
        origin_pos,
        dest_pos,
        origin_snap_m,
        dest_snap_m,
        origin_access_min,
        dest_access_min,
        origin_access_m,
        dest_access_m,
        snap_threshold_m,
    )
    return TravelTimeMatrix(
        origin_ids=origin_ids,
        destination_ids=dest_ids,
        direction=direction,
        cutoff=cutoff_min,
        snap=snap,
        origin_groups=origin_groups.astype(np.int64).ravel(),
        group_nodes=index.node_ids[group_pos],
        origin_offset_minutes=times * origin_access_min,
        origin_offset_km=times * origin_access_m / 1000.0,
        access_speed_kmh=speed,
        circuity=float(circuity),
        snap_threshold_m=float(snap_threshold_m),
        _group_table=table,
    )


def _group_table(
    seconds: Any,
    metres: Any,
    dest_dnode: NDArray[np.int64],
    *,
    egress_min: NDArray[np.float64],
    egress_km: NDArray[np.float64],
    cutoff: float | None,
) -> tuple[Any, Any]:
    """Group x destination minutes and km, destination egress included."""
    dest_dnode = np.asarray(dest_dnode, dtype=np.int64).ravel()
    if isinstance(seconds, np.ndarray):
        if np.array_equal(dest_dnode, np.arange(seconds.shape[1])):
            # one node per destination: convert the fresh arrays in place (half the peak memory)
            minutes, km = seconds, metres
        else:
            minutes, km = seconds[:, dest_dnode], metres[:, dest_dnode]
        minutes /= 60.0
        minutes += egress_min
        km /= 1000.0
        km += egress_km
        return minutes, km
    # sparse: expand the columns of nodes shared by several destinations
    coo_s = seconds.tocoo()
    coo_m = metres.tocoo()
    order = np.argsort(coo_s.col, kind="stable")
    node_col = coo_s.col[order]
    starts = np.searchsorted(node_col, dest_dnode, side="left")
    stops = np.searchsorted(node_col, dest_dnode, side="right")
    pieces_r, pieces_c, pieces_min, pieces_km = [], [], [], []
    assert cutoff is not None
    for j, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
        sel = order[lo:hi]
        minutes = coo_s.data[sel] / 60.0 + egress_min[j]
        km = coo_m.data[sel] / 1000.0 + egress_km[j]
        keep = minutes <= cutoff
        pieces_r.append(coo_s.row[sel][keep])
        pieces_c.append(np.full(int(keep.sum()), j, dtype=np.int64))
        pieces_min.append(minutes[keep])
        pieces_km.append(km[keep])
    shape = (seconds.shape[0], len(dest_dnode))
    if pieces_r:
        r, c = np.concatenate(pieces_r), np.concatenate(pieces_c)
        vm, vk = np.concatenate(pieces_min), np.concatenate(pieces_km)
    else:
        r = c = np.empty(0, dtype=np.int64)
        vm = vk = np.empty(0, dtype=np.float64)
    return _csr_from_triplets(r, c, vm, shape), _csr_from_triplets(r, c, vk, shape)


def _snap_table(
    index: RoadIndex,
    origin_ids: pd.Index,
    dest_ids: pd.Index,
    origin_pos: NDArray[np.int64],
    dest_pos: NDArray[np.int64],
    origin_snap_m: NDArray[np.float64],
    dest_snap_m: NDArray[np.float64],
    origin_access_min: NDArray[np.float64],
    dest_access_min: NDArray[np.float64],
    origin_access_m: NDArray[np.float64],
    dest_access_m: NDArray[np.float64],
    threshold: float,
) -> pd.DataFrame:
    role = np.repeat(["origin", "destination"], [len(origin_ids), len(dest_ids)])
    ids = np.concatenate([origin_ids.to_numpy(dtype=object), dest_ids.to_numpy(dtype=object)])
    snap_m = np.concatenate([origin_snap_m, dest_snap_m])
    frame = pd.DataFrame(
        {
            "node": index.node_ids[np.concatenate([origin_pos, dest_pos])],
            "snap_m": snap_m,
            "access_minutes": np.concatenate([origin_access_min, dest_access_min]),
            "access_km": np.concatenate([origin_access_m, dest_access_m]) / 1000.0,
            "far": snap_m > threshold,
        },
        index=pd.MultiIndex.from_arrays([role, ids], names=["role", "id"]),
    )
    return frame


# --------------------------------------------------------------------------- caching


def _cache_folder(cache_dir: str | os.PathLike[str] | None, settings: Settings | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    return (settings or get_settings()).cache_dir / "traveltimes"


def _cache_key(
    index: RoadIndex,
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    legs: tuple[str, ...],
    limit_s: float | None,
) -> str:
    digest = hashlib.sha256()
    params = {"version": _CACHE_VERSION, "legs": list(legs), "limit_s": limit_s}
    digest.update(json.dumps(params, sort_keys=True).encode())
    digest.update(index.fingerprint.encode())
    digest.update(np.int64(len(a)).tobytes())
    digest.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(b, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _cached_network_costs(
    index: RoadIndex,
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    *,
    legs: tuple[str, ...],
    limit_s: float | None,
    chunk_memory_mb: float,
    cache_dir: Path | None,
) -> tuple[Any, Any]:
    path = None
    if cache_dir is not None:
        path = cache_dir / f"{_cache_key(index, a, b, legs, limit_s)}.npz"
        loaded = _read_cache(path, (len(a), len(b)), sparse=limit_s is not None)
        if loaded is not None:
            logger.info("travel-time network costs read from cache %s", path)
            return loaded
    result = _network_costs(
        index, a, b, legs=legs, limit_s=limit_s, chunk_memory_mb=chunk_memory_mb
    )
    if path is not None:
        _write_cache(path, result)
    return result


def _read_cache(path: Path, shape: tuple[int, int], *, sparse: bool) -> tuple[Any, Any] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if sparse:
                indptr, indices = data["indptr"], data["indices"]
                seconds = sp.csr_array((data["seconds"], indices, indptr), shape=shape)
                metres = sp.csr_array((data["metres"], indices.copy(), indptr.copy()), shape=shape)
                return seconds, metres
            seconds, metres = data["seconds"], data["metres"]
            if seconds.shape != shape or metres.shape != shape:
                raise ValueError(f"cached shape {seconds.shape} != expected {shape}")
            return seconds, metres
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("ignoring unreadable travel-time cache file %s: %s", path, exc)
        return None


def _write_cache(path: Path, result: tuple[Any, Any]) -> None:
    seconds, metres = result
    if isinstance(seconds, np.ndarray):
        arrays = {"seconds": seconds, "metres": metres}
    else:
        arrays = {
            "indptr": seconds.indptr,
            "indices": seconds.indices,
            "seconds": seconds.data,
            "metres": metres.data,
        }
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **arrays)
        logger.debug("travel-time network costs cached in %s", path)
    except OSError as exc:  # OutputError is an OSError too
        logger.warning("could not write travel-time cache %s: %s", path, exc)


# --------------------------------------------------------------------------- validation


def _resolve_source(source: Any, origins: Any, destinations: Any) -> tuple[RoadIndex, Any, Any]:
    if isinstance(source, RoadIndex):
        index = source
    elif isinstance(source, nx.Graph):
        index = RoadIndex(source)
    elif isinstance(source, RegionLike):
        index = RoadIndex(source.roads)
        origins = source.population if origins is None else origins
        destinations = source.sites if destinations is None else destinations
    else:
        raise DataError(
            f"source must be a region, a networkx road graph or a RoadIndex, "
            f"got {type(source).__name__}"
        )
    for name, value in (("origins", origins), ("destinations", destinations)):
        if value is None:
            raise DataError(
                f"{name} are required when source is a graph or RoadIndex; pass a "
                "GeoDataFrame of points or polygons in the graph CRS"
            )
    return index, origins, destinations


def _points(
    frame: Any, name: str, crs: pyproj.CRS, polygon_point: str
) -> tuple[pd.Index, NDArray[np.float64]]:
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise DataError(f"{name} must be a GeoDataFrame or GeoSeries, got {type(frame).__name__}")
    if frame.crs is None:
        raise CRSError(
            f"{name} have no CRS but the road graph is in {_crs_name(crs)}; set it with "
            f"{name}.set_crs(...) or reproject with {name}.to_crs({_crs_name(crs)!r})"
        )
    if pyproj.CRS(frame.crs) != crs:
        raise CRSError(
            f"{name} are in {_crs_name(pyproj.CRS(frame.crs))} but the road graph is in "
            f"{_crs_name(crs)}; call {name}.to_crs({_crs_name(crs)!r}) first"
        )
    ids = frame.index
    if not ids.is_unique:
        raise DataError(
            f"{name} index has duplicate ids {_preview(ids[ids.duplicated()].unique())}; "
            "each origin and destination needs a unique id"
        )
    geoms = np.asarray(
        frame.geometry.values if isinstance(frame, gpd.GeoDataFrame) else frame.values
    )
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} {name} have no geometry (None or empty): ids "
            f"{_preview(ids[missing])}; drop or fix them"
        )
    kind = shapely.get_type_id(geoms)
    is_point = kind == shapely.GeometryType.POINT
    is_polygon = (kind == shapely.GeometryType.POLYGON) | (
        kind == shapely.GeometryType.MULTIPOLYGON
    )
    other = ~(is_point | is_polygon)
    if other.any():
        types = sorted(set(shapely.get_type_id(geoms[other]).tolist()))
        names = [shapely.GeometryType(t).name for t in types]
        raise DataError(
            f"{name} must be points or polygons; ids {_preview(ids[other])} are {names}"
        )
    points = geoms.copy()
    if is_polygon.any():
        make = shapely.centroid if polygon_point == "centroid" else shapely.point_on_surface
        points[is_polygon] = make(geoms[is_polygon])
    xy = np.column_stack([shapely.get_x(points), shapely.get_y(points)]).astype(np.float64)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} {name} have NaN or infinite coordinates: ids "
            f"{_preview(ids[bad])}; fix or drop them"
        )
    return ids, xy


def _graph_crs(graph: nx.Graph) -> pyproj.CRS:
    raw = graph.graph.get("crs")
    if raw is None:
        raise CRSError(
            "the road graph has no CRS (graph.graph['crs'] is missing); set it, then project "
            "it with osmnx.project_graph(graph, to_crs='EPSG:3067')"
        )
    try:
        crs = pyproj.CRS(raw)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"the road graph CRS {raw!r} is not a valid CRS: {exc}") from exc
    if not crs.is_projected:
        raise CRSError(
            f"the road graph is in {_crs_name(crs)}, a geographic CRS in degrees; snapping and "
            "access legs need metres. Project it with "
            "osmnx.project_graph(graph, to_crs='EPSG:3067')"
        )
    return crs


def _edge_number(
    data: dict[str, Any], attr: str, u: Hashable, v: Hashable, key: Hashable, unit: str
) -> float:
    name = f"({u!r}, {v!r})" if key is None else f"({u!r}, {v!r}, {key!r})"
    if attr not in data or data[attr] is None:
        raise NetworkError(
            f"road edge {name} has no {attr!r}; every edge needs {attr} in {unit}"
            + (
                " (osmnx: add_edge_speeds then add_edge_travel_times)"
                if attr == "travel_time"
                else ""
            )
        )
    try:
        value = float(data[attr])
    except (TypeError, ValueError):
        raise NetworkError(
            f"road edge {name} has {attr}={data[attr]!r}; expected a number in {unit}"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise NetworkError(
            f"road edge {name} has {attr}={value!r}; expected a finite number >= 0 {unit}"
        )
    return value


def _check_cutoff(cutoff: float) -> float:
    try:
        value = float(cutoff)
    except (TypeError, ValueError):
        raise DataError(f"cutoff={cutoff!r} is not allowed; use minutes > 0 or None") from None
    if not (math.isfinite(value) and value > 0):
        raise DataError(f"cutoff={cutoff!r} is not allowed; use minutes > 0 or None")
    return value


def _positive(name: str, value: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{name}={value!r} is not allowed; use a finite number > 0") from None
    if not (math.isfinite(out) and out > 0):
        raise DataError(f"{name}={value!r} is not allowed; use a finite number > 0")
    return out


def _crs_name(crs: pyproj.CRS) -> str:
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_string()


def _label_array(labels: list[Hashable]) -> NDArray[Any]:
    if all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in labels):
        try:
            return np.asarray(labels, dtype=np.int64)
        except OverflowError:
            pass
    out = np.empty(len(labels), dtype=object)
    out[:] = labels
    return out


def _hash_labels(labels: NDArray[Any]) -> bytes:
    if labels.dtype != object:
        return np.ascontiguousarray(labels).tobytes()
    return repr(labels.tolist()).encode()


def _preview(values: Iterable[Any], limit: int = 5) -> str:
    items = list(values)
    shown = ", ".join(repr(x.item() if isinstance(x, np.generic) else x) for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _preview_pairs(ids: Iterable[Any], metres: Iterable[float], limit: int = 5) -> str:
    pairs = list(zip(ids, metres, strict=True))
    shown = ", ".join(f"{i!r} ({m:,.0f} m)" for i, m in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")

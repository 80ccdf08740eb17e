"""The in-memory road format: :class:`RoadNetwork`, flat arrays instead of a networkx graph."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import NetworkError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["RoadNetwork", "as_road_network"]

_NUMERIC = ("length", "travel_time")


def _readonly(array: NDArray[Any]) -> NDArray[Any]:
    view = array.view()
    view.flags.writeable = False
    return view


def _label_array(labels: list[Any]) -> NDArray[Any]:
    """Node labels as ``int64`` when they all are integers, otherwise as objects."""
    if labels and all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in labels):
        try:
            return np.asarray(labels, dtype=np.int64)
        except OverflowError:
            pass
    out = np.empty(len(labels), dtype=object)
    out[:] = labels
    return out


def _float_column(values: list[Any]) -> NDArray[np.float64]:
    """Floats with ``None`` and anything non-numeric as NaN (validation reports them)."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            try:
                out[i] = np.nan if value is None or isinstance(value, bool) else float(value)
            except (TypeError, ValueError):
                out[i] = np.nan
        return out


def _column(values: list[Any]) -> NDArray[Any]:
    """Build a per-edge attribute column: numbers and booleans stay typed, the rest objects."""
    kinds = {type(v) for v in values if v is not None}
    complete = None not in values
    if kinds and kinds <= {bool, np.bool_} and complete:
        return np.asarray(values, dtype=bool)
    if kinds and kinds <= {int, np.int64} and complete:
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass
    if kinds and kinds <= {int, float, np.int64, np.float64}:
        return _float_column(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _shared_strings(column: NDArray[Any]) -> NDArray[Any]:
    """Return the column with equal strings sharing one object (8 bytes per edge)."""
    if column.dtype != object or len(column) == 0:
        return column
    try:
        codes, uniques = _factorize(column)
    except TypeError:  # unhashable values (lists): keep as they are
        return column
    out = np.empty(len(column), dtype=object)
    out[:] = np.asarray([*uniques, None], dtype=object)[codes]
    return out


def _factorize(column: NDArray[Any]) -> tuple[NDArray[np.int64], list[Any]]:
    import pandas as pd

    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return codes.astype(np.int64), list(uniques)


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road graph as flat arrays: the package's in-memory road format.

    It holds what travel times need in a few dense arrays, so a graph of
    millions of nodes costs tens of bytes per edge instead of the kilobytes
    of a networkx graph. :meth:`to_networkx` gives the osmnx-style graph for
    analysis; :meth:`from_networkx` reads one. The arrays are read-only: a
    network checked by :func:`~optimizer.network.validate_roads` stays valid.

    Attributes
    ----------
    crs
        Projected CRS of the node coordinates (e.g. ``"EPSG:3067"``), or ``""``.
    node_ids
        Node labels (osmnx ids), unique; ``int64`` when all are integers.
    x, y
        Node coordinates in ``crs`` units (metres).
    u, v
        Edge end points as positions into ``node_ids`` (``int64``).
    length
        Edge length in metres.
    travel_time
        Edge driving time in seconds at the posted speed.
    edge_attrs
        Further per-edge columns (``highway``, ``speed_kph``, ``maxspeed``,
        ``oneway``, ``name``, ...), each aligned with ``u``.
    key
        Keys that tell parallel edges apart (osmnx ``key``), or ``None``: then
        the ``k``-th edge between the same two nodes has key ``k``.
    geometry
        Edge line geometries (shapely), or ``None`` (straight lines).
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
    key: NDArray[Any] | None = None
    geometry: NDArray[Any] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        node_ids = np.asarray(self.node_ids)
        if node_ids.ndim != 1:
            raise NetworkError("node_ids must be one-dimensional")
        n_nodes = len(node_ids)
        arrays = {
            "x": np.asarray(self.x, dtype=np.float64),
            "y": np.asarray(self.y, dtype=np.float64),
        }
        for name, array in arrays.items():
            if array.shape != (n_nodes,):
                raise NetworkError(f"{name} has shape {array.shape}; expected ({n_nodes},)")
        edges = {
            "u": np.asarray(self.u, dtype=np.int64),
            "v": np.asarray(self.v, dtype=np.int64),
            "length": np.asarray(self.length, dtype=np.float64),
            "travel_time": np.asarray(self.travel_time, dtype=np.float64),
        }
        n_edges = len(edges["u"])
        attrs = {str(k): np.asarray(col) for k, col in dict(self.edge_attrs).items()}
        optional = {"key": self.key, "geometry": self.geometry}
        checked = {
            **edges,
            **attrs,
            **{k: np.asarray(val) for k, val in optional.items() if val is not None},
        }
        for name, array in checked.items():
            if array.shape != (n_edges,):
                raise NetworkError(
                    f"edge column {name!r} has shape {array.shape}; expected ({n_edges},), "
                    "one value per edge"
                )
        object.__setattr__(self, "node_ids", _readonly(node_ids))
        for name, array in {**arrays, **edges}.items():
            object.__setattr__(self, name, _readonly(array))
        object.__setattr__(
            self, "edge_attrs", MappingProxyType({k: _readonly(a) for k, a in attrs.items()})
        )
        for name, value in optional.items():
            if value is not None:
                object.__setattr__(self, name, _readonly(np.asarray(value)))

    # ------------------------------------------------------------------ sizes

    def number_of_nodes(self) -> int:
        """Return the number of nodes (as networkx names it)."""
        return len(self.node_ids)

    def number_of_edges(self) -> int:
        """Return the number of directed edges, parallel edges included."""
        return len(self.u)

    def edge_keys(self) -> NDArray[Any]:
        """Key of every edge: :attr:`key`, or the rank among parallel edges in edge order."""
        if self.key is not None:
            return self.key
        pair = self.u * max(self.number_of_nodes(), 1) + self.v
        order = np.argsort(pair, kind="stable")
        sorted_pair = pair[order]
        start = np.ones(len(pair), dtype=bool)
        start[1:] = sorted_pair[1:] != sorted_pair[:-1]
        first = np.maximum.accumulate(np.where(start, np.arange(len(pair)), 0))
        rank = np.empty(len(pair), dtype=np.int64)
        rank[order] = np.arange(len(pair)) - first
        return rank

    def edge_labels(self, positions: NDArray[np.int64]) -> list[tuple[Any, Any, Any]]:
        """``(u, v, key)`` node labels of the edges at ``positions``, for messages."""
        keys = self.edge_keys()
        ids = self.node_ids
        return [
            (_plain(ids[self.u[i]]), _plain(ids[self.v[i]]), _plain(keys[i])) for i in positions
        ]

    # ------------------------------------------------------------------ subsets

    def subgraph(self, node_mask: NDArray[np.bool_]) -> RoadNetwork:
        """Return the network induced by the nodes where ``node_mask`` is true.

        Parameters
        ----------
        node_mask
            One boolean per node.

        Returns
        -------
        RoadNetwork
            The kept nodes and the edges between them, in their original order.
        """
        node_mask = np.asarray(node_mask, dtype=bool)
        new_pos = np.cumsum(node_mask) - 1
        keep = node_mask[self.u] & node_mask[self.v]

        def pick(array: NDArray[Any] | None) -> NDArray[Any] | None:
            return None if array is None else array[keep]

        return RoadNetwork(
            crs=self.crs,
            node_ids=self.node_ids[node_mask],
            x=self.x[node_mask],
            y=self.y[node_mask],
            u=new_pos[self.u[keep]],
            v=new_pos[self.v[keep]],
            length=self.length[keep],
            travel_time=self.travel_time[keep],
            edge_attrs={k: a[keep] for k, a in self.edge_attrs.items()},
            key=pick(self.key),
            geometry=pick(self.geometry),
        )

    def strong_components(self) -> tuple[int, NDArray[np.int32]]:
        """Strongly connected components: their number and a label per node."""
        from scipy.sparse import csr_array
        from scipy.sparse.csgraph import connected_components

        n = self.number_of_nodes()
        graph = csr_array((np.ones(len(self.u), dtype=np.int8), (self.u, self.v)), shape=(n, n))
        count, labels = connected_components(graph, directed=True, connection="strong")
        return int(count), labels

    def largest_strong_component_mask(self) -> NDArray[np.bool_]:
        """Return one boolean per node: true in the largest strongly connected component."""
        if self.number_of_nodes() == 0:
            return np.zeros(0, dtype=bool)
        count, labels = self.strong_components()
        return labels == int(np.argmax(np.bincount(labels, minlength=count)))

    # ------------------------------------------------------------------ networkx

    @classmethod
    def from_networkx(cls, graph: nx.MultiDiGraph) -> RoadNetwork:
        """Read an osmnx-style graph (``x``/``y`` on nodes, ``length``/``travel_time`` on edges).

        Missing or non-numeric ``length``/``travel_time`` become NaN;
        :func:`~optimizer.network.validate_roads` reports them.

        Parameters
        ----------
        graph
            A directed networkx graph (``MultiDiGraph`` or ``DiGraph``).

        Returns
        -------
        RoadNetwork
            The same nodes and edges as arrays; edge ``geometry`` is kept apart.
        """
        return _from_networkx(graph)[0]

    def to_networkx(self) -> nx.MultiDiGraph:
        """Build the osmnx-style ``MultiDiGraph`` (costly for large graphs).

        Returns
        -------
        networkx.MultiDiGraph
            Nodes with ``x``/``y``, edges with ``length``, ``travel_time``, the
            further columns of :attr:`edge_attrs` (missing values left out) and
            ``geometry`` when the network has edge geometries.
        """
        import networkx as nx

        graph = nx.MultiDiGraph(crs=self.crs) if self.crs else nx.MultiDiGraph()
        ids = self.node_ids.tolist()
        graph.add_nodes_from(
            (n, {"x": a, "y": b})
            for n, a, b in zip(ids, self.x.tolist(), self.y.tolist(), strict=True)
        )
        names = list(self.edge_attrs)
        columns = [self.edge_attrs[k].tolist() for k in names]
        keys = self.edge_keys().tolist()
        geoms = None if self.geometry is None else self.geometry.tolist()
        lengths = self.length.tolist()
        seconds = self.travel_time.tolist()

        def edges() -> Any:
            for i, (a, b) in enumerate(zip(self.u.tolist(), self.v.tolist(), strict=True)):
                data: dict[str, Any] = {"length": lengths[i], "travel_time": seconds[i]}
                for name, column in zip(names, columns, strict=True):
                    value = column[i]
                    if value is not None and not (isinstance(value, float) and math.isnan(value)):
                        data[name] = value
                if geoms is not None and geoms[i] is not None:
                    data["geometry"] = geoms[i]
                yield ids[a], ids[b], keys[i], data

        graph.add_edges_from(edges())
        return graph


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _from_networkx(graph: nx.Graph) -> tuple[RoadNetwork, dict[str, NDArray[np.bool_]]]:
    """Return the network and, for ``length`` and ``travel_time``, a mask of absent values."""
    nodes = list(graph.nodes)
    position = {node: i for i, node in enumerate(nodes)}
    xs: list[Any] = []
    ys: list[Any] = []
    for _, data in graph.nodes(data=True):
        xs.append(data.get("x"))
        ys.append(data.get("y"))
    u: list[int] = []
    v: list[int] = []
    keys: list[Any] = []
    raw: dict[str, list[Any]] = {name: [] for name in _NUMERIC}
    extra: dict[str, list[Any]] = {}
    geometry: list[Any] = []
    multi = graph.is_multigraph()
    count = 0
    for a, nbrs in graph.adjacency():
        pa = position[a]
        for b, attrs in nbrs.items():
            pb = position[b]
            items = attrs.items() if multi else ((0, attrs),)
            for k, data in items:
                u.append(pa)
                v.append(pb)
                keys.append(k)
                for name in _NUMERIC:
                    raw[name].append(data.get(name))
                geometry.append(data.get("geometry"))
                for name, value in data.items():
                    if name in _NUMERIC or name == "geometry":
                        continue
                    column = extra.get(name)
                    if column is None:
                        column = extra[name] = [None] * count
                    column.append(value)
                count += 1
                for column in extra.values():
                    if len(column) < count:
                        column.append(None)
    missing = {name: np.fromiter((x is None for x in raw[name]), bool, count) for name in _NUMERIC}
    crs = graph.graph.get("crs")
    key_array = _label_array(keys)
    has_geometry = any(g is not None for g in geometry)
    net = RoadNetwork(
        crs=str(crs) if crs is not None else "",
        node_ids=_label_array(nodes),
        x=_float_column(xs),
        y=_float_column(ys),
        u=np.asarray(u, dtype=np.int64),
        v=np.asarray(v, dtype=np.int64),
        length=_float_column(raw["length"]),
        travel_time=_float_column(raw["travel_time"]),
        edge_attrs={k: _shared_strings(_column(vals)) for k, vals in extra.items()},
        key=key_array,
        geometry=_object_array(geometry) if has_geometry else None,
    )
    return net, missing


def _object_array(values: list[Any]) -> NDArray[Any]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def as_road_network(roads: RoadNetwork | nx.MultiDiGraph) -> RoadNetwork:
    """Return ``roads`` as a :class:`RoadNetwork` (converting a networkx graph).

    Parameters
    ----------
    roads
        A :class:`RoadNetwork` (returned as is) or a directed networkx graph.

    Returns
    -------
    RoadNetwork
        The same roads as arrays (not validated).

    Raises
    ------
    NetworkError
        If ``roads`` is neither.
    """
    if isinstance(roads, RoadNetwork):
        return roads
    import networkx as nx

    if isinstance(roads, nx.Graph):
        return RoadNetwork.from_networkx(roads)
    raise NetworkError(
        f"roads must be a RoadNetwork or a networkx MultiDiGraph, got {type(roads).__name__}"
    )

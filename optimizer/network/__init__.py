"""Road networks: the in-memory road model, speeds, validation and GeoPackage files.

The package keeps roads as a :class:`RoadNetwork`: flat arrays of node ids and
coordinates and of edge end points, lengths (m) and travel times (s), plus
per-edge columns such as ``highway`` and ``speed_kph``. A networkx graph in
OSMnx conventions (``G.graph["crs"]``, node ``x``/``y``, edge ``length`` and
``travel_time``) converts both ways (:meth:`RoadNetwork.from_networkx`,
:meth:`RoadNetwork.to_networkx`).

Where things are
----------------
- :func:`read_roads` and :func:`write_roads`: GeoPackage files (layers
  ``nodes`` and ``edges``, OSMnx's layout) read and written with pyogrio,
  straight to and from arrays (no OSMnx, no networkx). Region bundles use them.
  :func:`restore_value` turns an attribute's stored text back into its list or
  boolean.
- :func:`validate_roads`: the one road contract, checked once when a graph
  enters the package (see its docstring for the rules).
- :func:`add_travel_times` and :func:`parse_maxspeed`: posted speeds from OSM
  ``maxspeed`` and ``highway`` tags (table in :mod:`optimizer.network._speeds`).
- :func:`road_coverage`: which residents of a grid lie near the roads.
- Reading OpenStreetMap (Overpass, ``.osm.pbf``, GraphML) lives in
  :mod:`optimizer.sources.osm`, above this package.

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

from optimizer.network._coverage import RoadCoverage, road_coverage
from optimizer.network._gpkg import (
    DEFAULT_EDGE_ATTRIBUTES,
    check_road_file,
    network_from_gpkg,
    network_to_gpkg,
    read_roads,
    restore_value,
    write_roads,
)
from optimizer.network._model import RoadNetwork, as_road_network
from optimizer.network._speeds import (
    DEFAULT_SPEEDS_KPH,
    FALLBACK_SPEED_KPH,
    FI_IMPLICIT_SPEEDS_KPH,
    MIN_TRAVEL_TIME_S,
    add_travel_times,
    parse_maxspeed,
)
from optimizer.network._validate import (
    MIN_CORE_SHARE,
    ROADS_CRS,
    is_validated,
    largest_strong_component,
    validate_roads,
    validated_network,
)

__all__ = [
    "DEFAULT_EDGE_ATTRIBUTES",
    "DEFAULT_SPEEDS_KPH",
    "FALLBACK_SPEED_KPH",
    "FI_IMPLICIT_SPEEDS_KPH",
    "MIN_CORE_SHARE",
    "MIN_TRAVEL_TIME_S",
    "ROADS_CRS",
    "RoadCoverage",
    "RoadNetwork",
    "add_travel_times",
    "as_road_network",
    "check_road_file",
    "is_validated",
    "largest_strong_component",
    "network_from_gpkg",
    "network_to_gpkg",
    "parse_maxspeed",
    "read_roads",
    "restore_value",
    "road_coverage",
    "validate_roads",
    "validated_network",
    "write_roads",
]

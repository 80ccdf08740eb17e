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
   the snap table (``far``), never dropped; a destination that far away raises
   :class:`~optimizer.errors.NetworkError`, because it means the road graph does
   not cover the sites.
3. **Network leg.** Dijkstra (:func:`scipy.sparse.csgraph.dijkstra`) runs on a
   CSR matrix built once per graph by :func:`prepare_graph`. It runs from the
   smaller side, normally the destinations on the *reversed* graph, so times are
   origin-to-destination on one-way streets. Parallel edges keep the fastest
   one (ties: the shorter one). The kilometres are the length of the
   *time-optimal* path, read from the Dijkstra predecessor tree, not the
   length of the shortest path. Large jobs run in several processes.

Door-to-door car times
----------------------
``travel_time_matrix(..., car=CarModel())`` models a car trip as the
Helsinki Region Travel Time Matrix does (Tenkanen & Toivonen 2020): walk to
the road, walk to the car, drive at realistic speeds with junction delays,
search for parking, walk to the door. See :class:`CarModel` for every
parameter and the source of its default.

Directions
----------
``direction="to_destinations"`` (default) gives origin-to-destination trips,
``"from_destinations"`` destination-to-origin trips and ``"round_trip"`` their
sum. The matrix is always shaped ``(n_origins, n_destinations)``.

Exact grouping, dense and sparse results
-----------------------------------------
:func:`travel_time_matrix` always returns a :class:`TravelTimeMatrix`, whatever
its options; no flag changes the return type. Origins that snap to the same
node share their network time and differ only by their own access leg:
``minutes == group_minutes[origin_groups] + origin_offset_minutes[:, None]``
(then ``inf`` beyond the cutoff). Models take this grouped form directly; the
dense ``(n_origins, n_destinations)`` arrays ``result.minutes`` and
``result.km`` (``inf`` where a pair is unreachable or beyond the cutoff, never
0) and the sparse ``result.sparse_minutes()``/``sparse_km()`` are built only
when asked for.

Precision and memory
--------------------
Times and kilometres are ``float64`` throughout: ``float32`` would round a
three-hour trip to about a millisecond and break the agreement with networkx
to 1e-6 s that the tests check. Node indices and predecessor trees are
``int32``. Sources are processed in chunks sized so that one chunk's working
arrays stay near ``chunk_memory_mb`` (default 256 MB) per process.

Caching
-------
Network costs are cached on disk under ``cache_dir`` (default
``get_settings().cache_dir / "traveltimes"``); each entry carries its key and
a checksum and a damaged one is discarded and recomputed (see
:mod:`optimizer.traveltimes._cache`). Access legs are recomputed from the
points on every call, so an entry is reused exactly when the network part
would be identical.

Modules
-------
``_csr`` (the routing core: both CSR orientations, tree-edge lengths, one
cost query), ``_graph`` (:class:`RoadIndex`, :func:`prepare_graph`),
``_paths`` (Dijkstra, km along the trees, worker processes), ``_result``
(:class:`TravelTimeMatrix`),
``_cache``, ``_inputs`` (checks of sources and points), ``_matrix`` (the entry
point :func:`travel_time_matrix`).
"""

from __future__ import annotations

from optimizer.traveltimes._car import ZONES, CarModel
from optimizer.traveltimes._common import (
    DEFAULT_ACCESS_SPEED_KMH,
    DEFAULT_CIRCUITY,
    DEFAULT_SNAP_THRESHOLD_M,
    Direction,
)
from optimizer.traveltimes._graph import RoadIndex, prepare_graph
from optimizer.traveltimes._inputs import RegionLike
from optimizer.traveltimes._matrix import travel_time_matrix
from optimizer.traveltimes._result import TravelTimeMatrix

__all__ = [
    "DEFAULT_ACCESS_SPEED_KMH",
    "DEFAULT_CIRCUITY",
    "DEFAULT_SNAP_THRESHOLD_M",
    "ZONES",
    "CarModel",
    "Direction",
    "RegionLike",
    "RoadIndex",
    "TravelTimeMatrix",
    "prepare_graph",
    "travel_time_matrix",
]

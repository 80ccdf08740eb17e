"""The door-to-door car model: access walk, realistic driving, terminal times.

A car trip from a grid cell to a service point is modelled as the Helsinki
Region Travel Time Matrix models it (Tenkanen & Toivonen 2020 [1]_, the
"door-to-door approach" of its private-car times):

1. walk from the cell's point straight to the nearest road node (access leg);
2. walk from the door to the parked car (by zone of the origin);
3. drive on the road graph at realistic speeds: the posted speed times a
   factor below 1, plus a delay at every junction, both by road class and by
   how built-up the area is (urban or rural);
4. search for a parking place (by zone of the destination);
5. walk from the parking place to the door (by zone of the destination);
6. walk from the road node straight to the destination's point (egress leg).

Zones and context come from the road graph itself: the number of road nodes
within :attr:`CarModel.context_radius_m` of a point (road-node density)
separates the city centre, dense areas and other areas, and urban from rural
road edges. No outside layer is needed, so the model works for any Finnish
region.

References
----------
.. [1] Tenkanen, H. & Toivonen, T. (2020). Longitudinal spatial dataset on
   travel times and distances by different travel modes in Helsinki Region.
   Scientific Data 7: 77. https://doi.org/10.1038/s41597-020-0413-y
   (Helsinki Region Travel Time Matrix 2018; car model of Jaakkola [2]_,
   documented in https://github.com/AccessibilityRG/HelsinkiRegionTravelTimeMatrix2018).
.. [2] Jaakkola, T. (2013). Paikkatietopohjainen menetelmä autoilun ajoaikojen
   ja kokonaismatka-aikojen mallintamiseen - esimerkkinä pääkaupunkiseutu.
   MSc thesis, University of Helsinki.
.. [3] Jaakkonen, T. (2013). Intersection delays of the Helsinki metropolitan
   area from floating-car data, table 28 (p. 61), http://urn.fi/URN:NBN:fi-fe2017112252365;
   the same values are the crossing penalties of r5/r5py used for the
   Helsinki Region Travel Time Matrix 2023.
.. [4] Perola, E. (2023). Driving speed deviation from the speed limits - an
   analysis using floating car data in the Helsinki Metropolitan Area. MSc
   thesis, University of Helsinki. http://hdl.handle.net/10138/358181
   ("average" time-of-day coefficients, as used by the Travel Time Matrix 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import DataError
from optimizer.traveltimes._paths import query_threads

if TYPE_CHECKING:
    from optimizer.network import RoadNetwork

__all__ = ["ZONES", "CarModel"]

ZONES: tuple[str, ...] = ("centre", "dense", "other")
"""Terminal-time zones, codes 0, 1, 2 in :meth:`CarModel.zones`."""

_CENTRE, _DENSE, _OTHER = 0, 1, 2

#: Road groups of the junction delays [3]_: motorways are grade-separated.
_GROUPS: Mapping[str, str] = MappingProxyType(
    {
        "motorway": "motorway",
        "motorway_link": "motorway",
        "trunk": "main",
        "trunk_link": "main",
        "primary": "main",
        "primary_link": "main",
        "secondary": "collector",
        "secondary_link": "collector",
        "tertiary": "collector",
        "tertiary_link": "collector",
    }
)


def _frozen(mapping: Mapping[Any, float]) -> Mapping[Any, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True)
class CarModel:
    """Door-to-door car travel time: access walk, realistic driving and terminal times.

    Pass it to :func:`~optimizer.traveltimes.travel_time_matrix` as ``car=``.
    Every default is taken from published Finnish methodology, cited per field.

    Parameters
    ----------
    walk_speed_kmh
        Walking speed of the access/egress legs and of the walks between car
        and door: 70 m/min = 4.2 km/h, the walking speed of the Helsinki Region
        Travel Time Matrix (Tenkanen & Toivonen 2020 [1]_; the HSL Journey
        Planner default).
    access_circuity
        Walked metres per straight-line snap metre; 1.0 because the Travel
        Time Matrix walks the Euclidean distance from the point to the nearest
        network location (steps 1 and 6 of its car travel chain [1]_).
    walk_to_car_m
        Mean walk from the door to the parked car at the origin, by zone
        (``centre``, ``dense``, ``other``): 180, 135 and 73 m. These are the
        zone walking distances of the car model of Jaakkola (2013) [2]_ used
        in the Travel Time Matrix 2018 [1]_ (180 m in the Helsinki city centre
        is also the value in DORA's walking-distance layer, the tool that
        computed the 2018 car times).
    walk_from_parking_m
        Mean walk from the parking place to the door at the destination, by
        zone; the same distances, 180, 135 and 73 m ([1]_, [2]_).
    parking_search_min
        Mean time to find a parking place at the destination, by zone: 0.42,
        0.22 and 0.16 min (Jaakkola 2013 [2]_, as used in the Travel Time
        Matrix 2018 [1]_). The Travel Time Matrix 2023 uses larger surveyed
        values (Vesanen 2020: 5 min search + 5 min walk in the Helsinki
        centre, 1 + 1 min in car-oriented zones); set them here for a
        conservative planner's estimate.
    speed_factors
        Driven speed as a share of the posted speed, by posted speed (km/h;
        the factor of the highest band at or below the posted speed applies).
        Defaults: the "average" time-of-day coefficients of Perola (2023) [4]_
        measured from floating-car data in the Helsinki region: 20: 0.7125,
        30: 0.82, 40: 0.85, 50: 0.831, 60: 0.94, 70: 0.97, 80: 0.98625,
        100: 0.967, 120: 0.857. Used for urban edges.
    rural_speed_factors
        The same for rural edges; ``None`` (default) uses ``speed_factors``:
        no separate Finnish measurement exists, and on rural roads (mostly
        60-100 km/h) those coefficients are 0.94-0.99 already.
    junction_delay_s
        Delay in seconds added when an urban edge ends at a junction (a node
        with three or more neighbours), by road group: ``main`` (trunk and
        primary) 11.311 s, ``collector`` (secondary, tertiary) 9.439 s,
        ``local`` (all other classes) 9.362 s, ``motorway`` 0 s
        (grade-separated). Mean intersection delays of the Helsinki region
        from floating-car data (Jaakkonen 2013, table 28 [3]_).
    rural_junction_delay_s
        Junction delays on rural edges, by the same groups; default 0 s:
        [3]_ measured urban junctions, and rural ones are few and mostly
        uncontrolled, so the posted-speed factor carries the rural model.
    context_radius_m
        Radius (m) in which road nodes are counted to tell how built-up a
        place is; 500 m.
    urban_min_nodes
        Least road nodes within the radius for an edge (its start node) to be
        urban; 15 (about 19 nodes per km², a village street grid).
    dense_min_nodes, centre_min_nodes
        Least road nodes within the radius for a point's terminal zone to be
        ``dense`` (30, about 40 per km²) or ``centre`` (80, about 100 per km²,
        the density of the central Helsinki drive network in the test
        extract of Kamppi, 2024).

    Examples
    --------
    >>> car = CarModel(parking_search_min={"centre": 5.0, "dense": 2.0, "other": 1.0})
    >>> result = travel_time_matrix(region, car=car)  # doctest: +SKIP
    """

    walk_speed_kmh: float = 4.2
    access_circuity: float = 1.0
    walk_to_car_m: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"centre": 180.0, "dense": 135.0, "other": 73.0})
    )
    walk_from_parking_m: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"centre": 180.0, "dense": 135.0, "other": 73.0})
    )
    parking_search_min: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"centre": 0.42, "dense": 0.22, "other": 0.16})
    )
    speed_factors: Mapping[float, float] = field(
        default_factory=lambda: _frozen(
            {
                20: 0.7125,
                30: 0.82,
                40: 0.85,
                50: 0.831,
                60: 0.94,
                70: 0.97,
                80: 0.98625,
                100: 0.967,
                120: 0.856666667,
            }
        )
    )
    rural_speed_factors: Mapping[float, float] | None = None
    junction_delay_s: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"main": 11.311, "collector": 9.439, "local": 9.362, "motorway": 0.0}
        )
    )
    rural_junction_delay_s: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"main": 0.0, "collector": 0.0, "local": 0.0, "motorway": 0.0}
        )
    )
    context_radius_m: float = 500.0
    urban_min_nodes: int = 15
    dense_min_nodes: int = 30
    centre_min_nodes: int = 80

    def __post_init__(self) -> None:
        for name in ("walk_speed_kmh", "context_radius_m"):
            _positive(name, getattr(self, name))
        if not (math.isfinite(self.access_circuity) and self.access_circuity >= 1.0):
            raise DataError(
                f"CarModel access_circuity={self.access_circuity!r} is not allowed; "
                "use a finite number >= 1"
            )
        for name in ("walk_to_car_m", "walk_from_parking_m", "parking_search_min"):
            table = dict(getattr(self, name))
            if set(table) != set(ZONES):
                raise DataError(
                    f"CarModel {name} has zones {sorted(table)}; give exactly {list(ZONES)}"
                )
            for zone, value in table.items():
                _non_negative(f"{name}[{zone!r}]", value)
            object.__setattr__(self, name, _frozen(table))
        for name in ("speed_factors", "rural_speed_factors"):
            table = getattr(self, name)
            if table is None:
                continue
            table = {float(k): float(v) for k, v in dict(table).items()}
            if not table:
                raise DataError(f"CarModel {name} is empty; give at least one speed band")
            for band, factor in table.items():
                _positive(f"{name}[{band:g}]", band)
                if not (math.isfinite(factor) and 0 < factor <= 1.5):
                    raise DataError(
                        f"CarModel {name}[{band:g}]={factor!r} is not allowed; use a share of "
                        "the posted speed in (0, 1.5]"
                    )
            object.__setattr__(self, name, _frozen(table))
        for name in ("junction_delay_s", "rural_junction_delay_s"):
            table = dict(getattr(self, name))
            groups = {"main", "collector", "local", "motorway"}
            if set(table) != groups:
                raise DataError(
                    f"CarModel {name} has groups {sorted(table)}; give exactly {sorted(groups)}"
                )
            for group, value in table.items():
                _non_negative(f"{name}[{group!r}]", value)
            object.__setattr__(self, name, _frozen(table))
        counts = (self.urban_min_nodes, self.dense_min_nodes, self.centre_min_nodes)
        if not all(isinstance(c, int) and c >= 0 for c in counts) or not (
            self.dense_min_nodes <= self.centre_min_nodes
        ):
            raise DataError(
                f"CarModel node thresholds urban_min_nodes={self.urban_min_nodes!r}, "
                f"dense_min_nodes={self.dense_min_nodes!r}, "
                f"centre_min_nodes={self.centre_min_nodes!r} are not allowed; use integers "
                ">= 0 with dense_min_nodes <= centre_min_nodes"
            )

    # ------------------------------------------------------------------ context

    def node_counts(self, roads: RoadNetwork, xy: NDArray[np.float64]) -> NDArray[np.int64]:
        """Count the road nodes within :attr:`context_radius_m` of each point.

        Parameters
        ----------
        roads
            The road network.
        xy
            ``(n, 2)`` points in the road CRS.

        Returns
        -------
        numpy.ndarray
            ``int64`` counts, the point's own node included.
        """
        from scipy.spatial import cKDTree

        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        if len(xy) == 0:
            return np.empty(0, dtype=np.int64)
        tree = cKDTree(np.column_stack([roads.x, roads.y]))
        counts = tree.query_ball_point(
            xy, self.context_radius_m, return_length=True, workers=query_threads()
        )
        return np.asarray(counts, dtype=np.int64)

    def zones(self, counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Zone codes (0 ``centre``, 1 ``dense``, 2 ``other``) from road-node counts."""
        counts = np.asarray(counts)
        out = np.full(counts.shape, _OTHER, dtype=np.int64)
        out[counts >= self.dense_min_nodes] = _DENSE
        out[counts >= self.centre_min_nodes] = _CENTRE
        return out

    def terminal_minutes(
        self, zones: NDArray[np.int64], *, start: bool, end: bool
    ) -> NDArray[np.float64]:
        """Terminal minutes at points of the given zones.

        Parameters
        ----------
        zones
            Zone codes from :meth:`zones`.
        start
            The point is where a trip starts: walk from the door to the car.
        end
            The point is where a trip ends: parking search and walk to the door.

        Returns
        -------
        numpy.ndarray
            ``float64`` minutes per point (both terms for ``start`` and ``end``).
        """
        metres_per_min = self.walk_speed_kmh * 1000.0 / 60.0
        per_zone = np.zeros(len(ZONES))
        for code, zone in enumerate(ZONES):
            if start:
                per_zone[code] += self.walk_to_car_m[zone] / metres_per_min
            if end:
                per_zone[code] += (
                    self.parking_search_min[zone] + self.walk_from_parking_m[zone] / metres_per_min
                )
        return per_zone[np.asarray(zones, dtype=np.int64)]

    # ------------------------------------------------------------------ driving

    def edge_seconds(self, roads: RoadNetwork) -> NDArray[np.float64]:
        """Realistic driving seconds of every edge of ``roads``.

        ``length / (posted km/h * factor / 3.6)`` plus the junction delay of
        the edge's road group when its end node is a junction (three or more
        distinct neighbours). Factors and delays are the urban ones where the
        edge's start node has at least :attr:`urban_min_nodes` road nodes
        within :attr:`context_radius_m`, the rural ones elsewhere. The posted
        speed is the edge's ``speed_kph`` (from
        :func:`optimizer.network.add_travel_times`) or, without it,
        ``length / travel_time``. Zero-length edges take zero seconds.

        Parameters
        ----------
        roads
            A validated road network.

        Returns
        -------
        numpy.ndarray
            ``float64`` seconds, one per edge, finite and >= 0 (> 0 where the
            length is > 0): the road contract's rule.
        """
        length = roads.length
        posted = _posted_kph(roads)
        counts = self.node_counts(roads, np.column_stack([roads.x, roads.y]))
        urban = counts[roads.u] >= self.urban_min_nodes
        rural_table = self.rural_speed_factors or self.speed_factors
        factor = np.where(urban, _factor(self.speed_factors, posted), _factor(rural_table, posted))
        moving = length > 0
        seconds = np.zeros(len(length), dtype=np.float64)
        seconds[moving] = length[moving] / (posted[moving] * factor[moving] / 3.6)
        groups = road_groups(roads)
        junction = junction_nodes(roads)[roads.v] & moving
        for group in ("main", "collector", "local", "motorway"):
            in_group = junction & (groups == group)
            seconds[in_group & urban] += self.junction_delay_s[group]
            seconds[in_group & ~urban] += self.rural_junction_delay_s[group]
        return seconds


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise DataError(f"CarModel {name}={value!r} is not allowed; use a finite number > 0")


def _non_negative(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise DataError(f"CarModel {name}={value!r} is not allowed; use a finite number >= 0")


def _factor(table: Mapping[float, float], posted: NDArray[np.float64]) -> NDArray[np.float64]:
    """Factor of the highest band at or below each posted speed (the lowest band below it)."""
    bands = np.array(sorted(table), dtype=np.float64)
    values = np.array([table[b] for b in sorted(table)], dtype=np.float64)
    pos = np.searchsorted(bands, posted, side="right") - 1
    return values[np.clip(pos, 0, len(bands) - 1)]


def _posted_kph(roads: RoadNetwork) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = roads.length / roads.travel_time * 3.6
    column = roads.edge_attrs.get("speed_kph")
    if column is not None:
        if column.dtype.kind in "fiu":
            given = column.astype(np.float64)
        else:
            given = _per_value(column, _number, np.float64)
        derived = np.where(np.isfinite(given) & (given > 0), given, derived)
    return np.where(np.isfinite(derived) & (derived > 0), derived, 1.0)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _per_value(column: NDArray[Any], rule: Callable[[Any], Any], dtype: Any) -> NDArray[Any]:
    """Apply ``rule`` once per distinct value of an edge column (a few dozen, not millions)."""
    import pandas as pd

    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
    except TypeError:  # unhashable values (lists, from an in-memory osmnx graph)
        return np.array([rule(value) for value in column], dtype=dtype)
    return np.array([rule(value) for value in uniques], dtype=dtype)[codes]


def _group_of(value: Any) -> str:
    from optimizer.network import restore_value

    if isinstance(value, str):
        value = restore_value(value)  # e.g. a list as a GeoPackage stores it
    if isinstance(value, list | tuple | np.ndarray):
        value = value[0] if len(value) else None
    return _GROUPS.get(str(value), "local")


def road_groups(roads: RoadNetwork) -> NDArray[np.str_]:
    """Junction-delay group of every edge from its OSM ``highway`` class.

    ``motorway`` (motorway and its links), ``main`` (trunk, primary),
    ``collector`` (secondary, tertiary) or ``local`` (any other class). An
    edge whose ``highway`` is a list (or a list's text, as a GeoPackage stores
    it: ``"['primary', 'residential']"``) takes the group of its first class.
    """
    column = roads.edge_attrs.get("highway")
    if column is None:
        return np.full(roads.number_of_edges(), "local")
    return _per_value(column, _group_of, np.str_)


def junction_nodes(roads: RoadNetwork) -> NDArray[np.bool_]:
    """Tell which nodes are junctions: three or more distinct neighbours, either direction."""
    import scipy.sparse as sp

    n = roads.number_of_nodes()
    a = np.concatenate([roads.u, roads.v])
    b = np.concatenate([roads.v, roads.u])
    keep = a != b
    neighbours = sp.csr_array(
        (np.ones(int(keep.sum()), dtype=np.int8), (a[keep], b[keep])), shape=(n, n)
    )
    neighbours.sum_duplicates()  # one stored entry per distinct neighbour
    return np.diff(neighbours.indptr) >= 3

"""Posted speeds and edge travel times from OSM ``maxspeed`` and ``highway`` tags.

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
the known classes. These are posted limits, not observed speeds: the
door-to-door car model of :mod:`optimizer.traveltimes` turns them into
realistic driving times.

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
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
from shapely.geometry.base import BaseGeometry

from optimizer._fields import as_float
from optimizer.errors import NetworkError

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "FALLBACK_SPEED_KPH",
    "FI_IMPLICIT_SPEEDS_KPH",
    "MIN_TRAVEL_TIME_S",
    "add_travel_times",
    "parse_maxspeed",
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

MIN_TRAVEL_TIME_S = 0.1
"""Floor on an edge's travel time, so zero-length edges still take positive time."""

_MPH_TO_KPH = 1.609344
_SPEED_RANGE = (1.0, 200.0)  # plausible posted limits, km/h
_NUMBER_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)
_FI_ZONE_RE = re.compile(r"^fi:zone:?(\d+)$", re.IGNORECASE)


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
        length = as_float(data.get("length"))
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

"""The entry point :func:`travel_time_matrix`: snap, route, add the legs, group."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from optimizer.errors import DataError, NetworkError
from optimizer.traveltimes._cache import cache_folder, cache_key, read_cache, write_cache
from optimizer.traveltimes._car import ZONES, CarModel
from optimizer.traveltimes._common import (
    DEFAULT_ACCESS_SPEED_KMH,
    DEFAULT_CIRCUITY,
    DEFAULT_SNAP_THRESHOLD_M,
    DIRECTIONS,
    POLYGON_POINTS,
    Direction,
    check_cutoff,
    check_positive,
    preview,
    preview_pairs,
)
from optimizer.traveltimes._csr import CostQuery
from optimizer.traveltimes._graph import RoadIndex
from optimizer.traveltimes._inputs import RegionLike, points_of, resolve_source
from optimizer.traveltimes._paths import csr_from_triplets, network_costs
from optimizer.traveltimes._result import TravelTimeMatrix

if TYPE_CHECKING:
    import networkx as nx

    from optimizer.network import RoadNetwork
    from optimizer.settings import Settings

__all__ = ["travel_time_matrix"]

logger = logging.getLogger(__name__)


def travel_time_matrix(
    source: RegionLike | RoadNetwork | nx.MultiDiGraph | RoadIndex,
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
    workers: int | None = None,
    settings: Settings | None = None,
    car: CarModel | None = None,
) -> TravelTimeMatrix:
    """Fastest travel times and their road kilometres from origins to destinations.

    Parameters
    ----------
    source
        A region (anything with ``road_network`` or ``roads``, ``population``
        and ``sites``), a :class:`~optimizer.network.RoadNetwork`, a directed
        networkx road graph in osmnx conventions, or a :class:`RoadIndex` from
        :func:`~optimizer.traveltimes.prepare_graph` (fastest for repeated calls).
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
        Working-memory target of one chunk of Dijkstra sources (per process).
    workers
        Processes for the shortest paths: ``None`` uses every core when the
        work is large enough, ``1`` stays in this process.
    settings
        Environment defaults; ``None`` reads them with
        :func:`~optimizer.settings.get_settings`.
    car
        A :class:`CarModel` for door-to-door car times: the access and egress
        legs are walked (its ``walk_speed_kmh`` and ``access_circuity``
        replace ``access_speed_kmh`` and ``circuity``), the network leg is
        driven at its realistic speeds with junction delays, and its terminal
        times (walk to the car, parking search, walk to the door) are added by
        zone. The snap table then also has the columns ``zone`` and
        ``terminal_minutes`` (one trip's terminal time at that point).
        ``None``: the network model at posted speeds.

    Returns
    -------
    TravelTimeMatrix
        Always the same type, with grouped, dense and sparse accessors.

    Raises
    ------
    NetworkError
        Roads that break the road contract, no strongly connected component,
        or destinations beyond ``snap_threshold_m`` from the largest one.
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
    if direction not in DIRECTIONS:
        raise DataError(f"direction={direction!r} is not allowed; use one of {DIRECTIONS}")
    if polygon_point not in POLYGON_POINTS:
        raise DataError(
            f"polygon_point={polygon_point!r} is not allowed; use one of {POLYGON_POINTS}"
        )
    cutoff_min = None if cutoff is None else check_cutoff(cutoff)
    if car is not None and not isinstance(car, CarModel):
        raise DataError(f"car={car!r} is not allowed; use a CarModel or None")
    if car is not None:
        access_speed_kmh, circuity = car.walk_speed_kmh, car.access_circuity
    speed = check_positive("access_speed_kmh", access_speed_kmh)
    if not (math.isfinite(circuity) and circuity >= 1.0):
        raise DataError(f"circuity={circuity!r} is not allowed; use a finite number >= 1")
    if not (math.isfinite(snap_threshold_m) and snap_threshold_m >= 0):
        raise DataError(
            f"snap_threshold_m={snap_threshold_m!r} is not allowed; use a finite number >= 0"
        )
    check_positive("chunk_memory_mb", chunk_memory_mb)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise DataError(f"workers={workers!r} is not allowed; use None or an integer >= 1")

    roads, origins, destinations = resolve_source(source, origins, destinations)
    index = _index_for(roads, car)
    origin_ids, origin_xy = points_of(origins, "origins", index.crs, polygon_point)
    dest_ids, dest_xy = points_of(destinations, "destinations", index.crs, polygon_point)

    origin_pos, origin_snap_m = index.snap(origin_xy)
    dest_pos, dest_snap_m = index.snap(dest_xy)
    _check_snaps(origin_ids, dest_ids, origin_snap_m, dest_snap_m, snap_threshold_m)

    metres_per_second = speed / 3.6
    origin_access_m = origin_snap_m * circuity
    dest_access_m = dest_snap_m * circuity
    origin_access_min = origin_access_m / metres_per_second / 60.0
    dest_access_min = dest_access_m / metres_per_second / 60.0
    legs = {"to_destinations": ("to",), "from_destinations": ("from",)}.get(
        direction, ("to", "from")
    )
    times = float(len(legs))
    origin_extra_min = np.zeros(len(origin_ids))
    dest_extra_min = np.zeros(len(dest_ids))
    extra: dict[str, NDArray[Any]] = {}
    if car is not None:
        # one tree and one query for both point sets
        zone = car.zones(car.node_counts(index.roads, np.concatenate([origin_xy, dest_xy])))
        origin_zone, dest_zone = zone[: len(origin_xy)], zone[len(origin_xy) :]
        origin_extra_min = car.terminal_minutes(origin_zone, start="to" in legs, end="from" in legs)
        dest_extra_min = car.terminal_minutes(dest_zone, start="from" in legs, end="to" in legs)
        extra = {
            "zone": np.asarray(ZONES, dtype=object)[np.concatenate([origin_zone, dest_zone])],
            "terminal_minutes": np.concatenate([origin_extra_min, dest_extra_min]),
        }

    group_pos, origin_groups = np.unique(origin_pos, return_inverse=True)
    dnode_pos, dest_dnode = np.unique(dest_pos, return_inverse=True)
    limit_s = None if cutoff_min is None else cutoff_min * 60.0

    seconds, metres = cached_network_costs(
        index,
        CostQuery(group_pos, dnode_pos, legs, limit_s),
        chunk_memory_mb=chunk_memory_mb,
        workers=workers,
        cache_dir=cache_folder(cache_dir, settings) if use_cache else None,
    )
    table = group_table(
        seconds,
        metres,
        dest_dnode,
        egress_min=times * dest_access_min + dest_extra_min,
        egress_km=times * dest_access_m / 1000.0,
        cutoff=cutoff_min,
    )
    snap = snap_table(
        index,
        origin_ids,
        dest_ids,
        np.concatenate([origin_pos, dest_pos]),
        np.concatenate([origin_snap_m, dest_snap_m]),
        np.concatenate([origin_access_min, dest_access_min]),
        np.concatenate([origin_access_m, dest_access_m]),
        snap_threshold_m,
        **extra,
    )
    return TravelTimeMatrix(
        origin_ids=origin_ids,
        destination_ids=dest_ids,
        direction=direction,
        cutoff=cutoff_min,
        snap=snap,
        origin_groups=origin_groups.astype(np.int64).ravel(),
        group_nodes=index.node_ids[group_pos],
        origin_offset_minutes=times * origin_access_min + origin_extra_min,
        origin_offset_km=times * origin_access_m / 1000.0,
        access_speed_kmh=speed,
        circuity=float(circuity),
        snap_threshold_m=float(snap_threshold_m),
        _group_table=table,
        car=car,
    )


def _index_for(roads: Any, car: CarModel | None) -> RoadIndex:
    """Return a road index routing on the posted speeds or on ``car``'s driving times."""
    if isinstance(roads, RoadIndex):
        if roads.car == car:
            return roads
        return RoadIndex(roads.roads, car=car)  # same validated arrays, other weights
    return RoadIndex(roads, car=car)


def _check_snaps(
    origin_ids: pd.Index,
    dest_ids: pd.Index,
    origin_snap_m: NDArray[np.float64],
    dest_snap_m: NDArray[np.float64],
    threshold: float,
) -> None:
    far_dest = dest_snap_m > threshold
    if far_dest.any():
        raise NetworkError(
            f"{int(far_dest.sum())} destination(s) are farther than snap_threshold_m="
            f"{threshold:g} m from the largest strongly connected part of the road "
            f"graph: {preview_pairs(dest_ids[far_dest], dest_snap_m[far_dest])}. No part of "
            "the graph that every origin can reach contains them: extend the road graph "
            "to cover the sites, check their coordinates, or raise snap_threshold_m."
        )
    far_origin = origin_snap_m > threshold
    if far_origin.any():
        logger.warning(
            "%d of %d origins are farther than %g m from the road network (flagged in snap): %s",
            int(far_origin.sum()),
            len(origin_ids),
            threshold,
            preview(origin_ids[far_origin]),
        )


def cached_network_costs(
    index: RoadIndex,
    query: CostQuery,
    *,
    cache_dir: Path | None,
    chunk_memory_mb: float,
    workers: int | None,
) -> tuple[Any, Any]:
    """Network costs from the cache when a valid entry exists, else computed (and cached)."""
    path = key = None
    if cache_dir is not None:
        key = cache_key(index, query)
        path = cache_dir / f"{key}.npz"
        shape = (len(query.a), len(query.b))
        loaded = read_cache(path, key, shape, sparse=query.limit_s is not None)
        if loaded is not None:
            logger.info("travel-time network costs read from cache %s", path)
            return loaded
    result = network_costs(index, query, chunk_memory_mb=chunk_memory_mb, workers=workers)
    if path is not None and key is not None:
        write_cache(path, key, result)
    return result


def group_table(
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
    return csr_from_triplets(r, c, vm, shape), csr_from_triplets(r, c, vk, shape)


def snap_table(
    index: RoadIndex,
    origin_ids: pd.Index,
    dest_ids: pd.Index,
    positions: NDArray[np.int64],
    snap_m: NDArray[np.float64],
    access_min: NDArray[np.float64],
    access_m: NDArray[np.float64],
    threshold: float,
    **extra: NDArray[Any],
) -> pd.DataFrame:
    """One row per origin and per destination: node, snap distance, access leg, ``far``."""
    role = np.repeat(["origin", "destination"], [len(origin_ids), len(dest_ids)])
    ids = np.concatenate([origin_ids.to_numpy(dtype=object), dest_ids.to_numpy(dtype=object)])
    return pd.DataFrame(
        {
            "node": index.node_ids[positions],
            "snap_m": snap_m,
            "access_minutes": access_min,
            "access_km": access_m / 1000.0,
            "far": snap_m > threshold,
            **extra,
        },
        index=pd.MultiIndex.from_arrays([role, ids], names=["role", "id"]),
    )

"""Checks of the inputs of :func:`~optimizer.traveltimes.travel_time_matrix`: sources and points."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from optimizer.errors import CRSError, DataError
from optimizer.network import RoadNetwork
from optimizer.traveltimes._common import crs_name, preview
from optimizer.traveltimes._graph import RoadIndex

__all__ = ["RegionLike", "points_of", "resolve_source"]


@runtime_checkable
class RegionLike(Protocol):
    """Anything with a population grid and candidate sites (and roads).

    :class:`optimizer.region.Region` satisfies it; its ``road_network``
    (arrays) is used, never the networkx view ``roads``. Objects without
    ``road_network`` fall back to ``roads``.
    """

    @property
    def population(self) -> gpd.GeoDataFrame:
        """Population grid cells indexed by ``cell_id``."""
        ...

    @property
    def sites(self) -> gpd.GeoDataFrame:
        """Candidate sites indexed by ``site_id``."""
        ...


def resolve_source(source: Any, origins: Any, destinations: Any) -> tuple[Any, Any, Any]:
    """Return the roads (or prepared index) of ``source``, the origins and the destinations."""
    import networkx as nx

    if isinstance(source, RoadIndex | RoadNetwork | nx.Graph):
        roads = source
    elif isinstance(source, RegionLike) and (
        hasattr(source, "road_network") or hasattr(source, "roads")
    ):
        roads = getattr(source, "road_network", None)
        if roads is None:
            roads = source.roads  # type: ignore[attr-defined]
        origins = source.population if origins is None else origins
        destinations = source.sites if destinations is None else destinations
    else:
        raise DataError(
            f"source must be a region, a RoadNetwork, a networkx road graph or a RoadIndex, "
            f"got {type(source).__name__}"
        )
    for name, value in (("origins", origins), ("destinations", destinations)):
        if value is None:
            raise DataError(
                f"{name} are required when source is a graph or RoadIndex; pass a "
                "GeoDataFrame of points or polygons in the graph CRS"
            )
    return roads, origins, destinations


def points_of(
    frame: Any, name: str, crs: pyproj.CRS, polygon_point: str
) -> tuple[pd.Index, NDArray[np.float64]]:
    if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
        raise DataError(f"{name} must be a GeoDataFrame or GeoSeries, got {type(frame).__name__}")
    if frame.crs is None:
        raise CRSError(
            f"{name} have no CRS but the road graph is in {crs_name(crs)}; set it with "
            f"{name}.set_crs(...) or reproject with {name}.to_crs({crs_name(crs)!r})"
        )
    if pyproj.CRS(frame.crs) != crs:
        raise CRSError(
            f"{name} are in {crs_name(pyproj.CRS(frame.crs))} but the road graph is in "
            f"{crs_name(crs)}; call {name}.to_crs({crs_name(crs)!r}) first"
        )
    ids = frame.index
    if not ids.is_unique:
        raise DataError(
            f"{name} index has duplicate ids {preview(ids[ids.duplicated()].unique())}; "
            "each origin and destination needs a unique id"
        )
    geoms = np.asarray(
        frame.geometry.values if isinstance(frame, gpd.GeoDataFrame) else frame.values
    )
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise DataError(
            f"{int(missing.sum())} {name} have no geometry (None or empty): ids "
            f"{preview(ids[missing])}; drop or fix them"
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
        raise DataError(f"{name} must be points or polygons; ids {preview(ids[other])} are {names}")
    points = geoms.copy()
    if is_polygon.any():
        make = shapely.centroid if polygon_point == "centroid" else shapely.point_on_surface
        points[is_polygon] = make(geoms[is_polygon])
    xy = np.column_stack([shapely.get_x(points), shapely.get_y(points)]).astype(np.float64)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} {name} have NaN or infinite coordinates: ids "
            f"{preview(ids[bad])}; fix or drop them"
        )
    return ids, xy

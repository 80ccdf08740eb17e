"""Region bundles: load, validate and write them (:mod:`optimizer.bundles` finds them).

A region *bundle* is a folder::

    region.toml        name, slug, code, year, CRS, layer files, sources,
                       licences, and which layers are synthetic (schema:
                       optimizer._region_toml; unknown keys are refused)
    population.gpkg    grid cells (polygons, 1 km or 250 m), ``population`` and,
                       where known, ``age_0_14``, ``age_15_64``, ``age_65_plus``,
                       ``municipality``
    roads.gpkg         directed road graph with ``length`` (m) and
                       ``travel_time`` (s) on every edge, as GeoPackage layers
                       ``nodes`` and ``edges`` (or roads.graphml, named in
                       region.toml [layers])
    sites.gpkg         candidate sites (points): ``name``, ``municipality``,
                       ``kind``, ``required``, optional ``annual_cost``, ``capacity``
    boundary.gpkg      optional region outline; sites must lie inside it

:func:`load_region` validates every layer on load (CRS, schema, plausible
populations, a strongly connected road core that reaches the residents, sites
inside the region) and raises an :mod:`optimizer.errors` exception naming the
file and field at fault; an unreadable file is an error too, never a
traceback.

Finding bundles
---------------
:func:`resolve_region` and :func:`list_regions` live in :mod:`optimizer.bundles`
(they read only ``region.toml`` files) and are re-exported here.

Road coverage
-------------
A bundle whose roads leave more than ``settings.max_uncovered_share`` of its
residents farther than the snap threshold
(:data:`optimizer.traveltimes.DEFAULT_SNAP_THRESHOLD_M`) from the road core
fails validation (:func:`check_road_coverage`), naming the area that lacks
roads.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError as PyprojCRSError

from optimizer import _region_toml, network, population
from optimizer._files import crs_label, read_toml, read_vector, short_reason
from optimizer._io import atomic_dir
from optimizer._names import safe_name
from optimizer._sites import SITE_KINDS, validate_sites
from optimizer.bundles import RegionEntry, list_regions, resolve_region
from optimizer.errors import (
    CRSError,
    DataError,
    NetworkError,
    OptimizerError,
    OutputError,
)
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "SITE_KINDS",
    "Region",
    "RegionEntry",
    "RegionMeta",
    "check_road_coverage",
    "list_regions",
    "load_region",
    "load_roads",
    "resolve_region",
    "save_region",
    "validate_sites",
]

logger = logging.getLogger(__name__)

LAYERS = ("population", "roads", "sites")


@dataclass(frozen=True)
class RegionMeta:
    """What ``region.toml`` says about a bundle besides its layers."""

    sources: Mapping[str, str] = field(default_factory=dict)
    licences: Mapping[str, str] = field(default_factory=dict)
    synthetic: Mapping[str, bool] = field(default_factory=dict)
    notes: str = ""

    @property
    def is_synthetic(self) -> bool:
        """Whether any layer of the bundle is synthetic."""
        return any(self.synthetic.values())


@dataclass(frozen=True, init=False, eq=False)
class Region:
    """A loaded, validated region bundle.

    Attributes
    ----------
    name, slug, code, year, crs
        Identity of the region (``code`` is the maakunta code, e.g. ``"12"``;
        ``slug`` passes :func:`optimizer._names.safe_name`).
    population
        Grid cells indexed by ``cell_id``.
    road_network
        Directed road graph as arrays (:class:`optimizer.network.RoadNetwork`),
        what travel times use.
    roads
        The same graph as an osmnx-style ``networkx.MultiDiGraph``, built on
        first access (costly for large graphs; the constructor also takes one).
    sites
        Candidate service-point sites indexed by ``site_id``.
    boundary
        Region outline, or ``None`` when the bundle has none.
    meta
        Sources, licences and synthetic flags.
    path
        The bundle folder, or ``None`` for a region built in memory.
    """

    name: str
    slug: str
    code: str
    year: int
    crs: str
    population: gpd.GeoDataFrame
    road_network: network.RoadNetwork
    sites: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame | None
    meta: RegionMeta
    path: Path | None

    def __init__(
        self,
        *,
        name: str,
        slug: str,
        code: str,
        year: int,
        crs: str,
        population: gpd.GeoDataFrame,
        roads: network.RoadNetwork | nx.MultiDiGraph,
        sites: gpd.GeoDataFrame,
        boundary: gpd.GeoDataFrame | None = None,
        meta: RegionMeta | None = None,
        path: Path | None = None,
    ) -> None:
        values = {
            "name": name,
            "slug": safe_name(slug, what=f"slug of region {name!r}"),
            "code": code,
            "year": year,
            "crs": crs,
            "population": population,
            "road_network": network.as_road_network(roads),
            "sites": sites,
            "boundary": boundary,
            "meta": meta if meta is not None else RegionMeta(),
            "path": path,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)
        if not isinstance(roads, network.RoadNetwork):
            self.__dict__["roads"] = roads  # keep the caller's graph as the networkx view

    @cached_property
    def roads(self) -> nx.MultiDiGraph:
        """The road graph as an osmnx-style ``networkx.MultiDiGraph`` (built once)."""
        return self.road_network.to_networkx()

    def summary(self) -> dict[str, Any]:
        """Return the headline figures of the region (for ``optimizer info``)."""
        return {
            "name": self.name,
            "slug": self.slug,
            "code": self.code,
            "year": self.year,
            "crs": self.crs,
            "population": round(float(self.population["population"].sum())),
            "cells": len(self.population),
            "cell_size_m": population.cell_size(self.population),
            "municipalities": int(self.population["municipality"].nunique())
            if "municipality" in self.population
            else 0,
            "road_nodes": self.road_network.number_of_nodes(),
            "road_edges": self.road_network.number_of_edges(),
            "sites": len(self.sites),
            "required_sites": int(self.sites["required"].sum()),
            "synthetic_layers": sorted(k for k, v in self.meta.synthetic.items() if v),
            "path": str(self.path) if self.path else None,
        }


# --------------------------------------------------------------------------- loading


def _validated_roads(roads: network.RoadNetwork, *, source: str) -> network.RoadNetwork:
    """Validate roads against the road contract (:func:`optimizer.network.validated_network`)."""
    return network.validated_network(roads, source=source)


def _roads_to_crs(roads: network.RoadNetwork, crs: str, *, source: str) -> network.RoadNetwork:
    """Reproject the node coordinates (lengths and times are unchanged)."""
    if not roads.crs:
        raise CRSError(f"road graph in {source} declares no CRS; save it with its CRS")
    try:
        same = CRS.from_user_input(roads.crs).equals(CRS.from_user_input(crs))
    except PyprojCRSError as exc:
        raise CRSError(
            f"road graph in {source} has an unreadable CRS: {short_reason(exc)}"
        ) from None
    if same:
        return roads
    logger.info("reprojecting road graph %s from %s to %s", source, crs_label(roads.crs), crs)
    x, y = Transformer.from_crs(roads.crs, crs, always_xy=True).transform(roads.x, roads.y)
    return dataclasses.replace(roads, crs=crs, x=np.asarray(x), y=np.asarray(y))


def load_roads(path: str | os.PathLike[str], *, crs: str | None = None) -> network.RoadNetwork:
    """Read and validate a road graph file (``.gpkg``, ``.graphml`` or ``.osm.pbf``).

    Parameters
    ----------
    path
        The file.
    crs
        Reproject the nodes to this CRS when the file is in another (logged),
        and add travel times from speed limits when the file has none (as
        :func:`optimizer.network.add_travel_times` does). ``None`` takes the
        file as it is (a bundle's roads must already be right).

    Returns
    -------
    RoadNetwork
        The validated graph.

    Raises
    ------
    BundleNotFoundError, DataError, NetworkError
        If the file is missing, unreadable or not a valid road graph.
    """
    path = Path(path)
    source = str(path)
    try:
        if path.name.lower().endswith((".graphml", ".pbf")):
            from optimizer.sources.osm import network_from_file  # osmnx, only for these

            roads = network.as_road_network(network_from_file(path))
        else:
            roads = network.read_roads(path)
    except OptimizerError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # pyogrio, zipfile and OS errors
        raise DataError(
            f"cannot read the road graph {path}: {type(exc).__name__}: {short_reason(exc)}; "
            "check that it is a valid .gpkg (nodes and edges), .graphml or .osm.pbf"
        ) from None
    if crs is not None:
        roads = _roads_to_crs(roads, crs, source=source)
        if roads.number_of_edges() and np.isnan(roads.travel_time).all():
            logger.info("%s has no travel times; adding them from speed limits", source)
            roads = network.as_road_network(network.add_travel_times(roads.to_networkx()))
    return _validated_roads(roads, source=source)


def check_road_coverage(
    roads: network.RoadNetwork | nx.MultiDiGraph,
    grid: gpd.GeoDataFrame,
    *,
    source: str,
    settings: Settings | None = None,
) -> network.RoadCoverage:
    """Check that the roads reach the residents of a grid.

    Parameters
    ----------
    roads
        The road graph.
    grid
        The population grid (same CRS).
    source
        The bundle or files, for the message.
    settings
        ``max_uncovered_share`` (default 5 %).

    Returns
    -------
    RoadCoverage
        The coverage (also when it passes).

    Raises
    ------
    NetworkError
        If more than ``settings.max_uncovered_share`` of the residents lie
        farther than :data:`~optimizer.traveltimes.DEFAULT_SNAP_THRESHOLD_M`
        from the road core; the message says where.
    """
    settings = settings or get_settings()
    from optimizer.traveltimes import DEFAULT_SNAP_THRESHOLD_M

    coverage = network.road_coverage(roads, grid, threshold_m=DEFAULT_SNAP_THRESHOLD_M)
    uncovered = 1.0 - coverage.share
    if uncovered > settings.max_uncovered_share:
        raise NetworkError(
            f"{source}: the roads leave {uncovered:.1%} of the residents uncovered (allowed "
            f"{settings.max_uncovered_share:.0%}): {coverage.describe()}. Extend the road "
            "data over that area, or clip the grid to the area the roads cover"
        )
    if uncovered > 0:
        logger.info("%s: %s", source, coverage.describe())
    return coverage


def load_region(
    name_or_path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    bundles: Sequence[str | os.PathLike[str]] = (),
) -> Region:
    """Load and validate a region bundle.

    Parameters
    ----------
    name_or_path
        A bundle folder (or its ``region.toml``), or a region's slug, name or
        code (see :func:`resolve_region`), e.g. ``"pohjois-karjala"``, ``"12"``.
    settings
        Environment defaults; read from the environment when ``None``.
    bundles
        Extra folders of bundles searched first.

    Returns
    -------
    Region
        The validated region.

    Raises
    ------
    UnknownRegionError
        If the name matches no region; the message suggests the closest names.
    BundleNotFoundError
        If the region is known but not on this machine, or a file is missing.
    DataError
        If ``region.toml`` or a layer fails validation or cannot be read; the
        message names the file and field.
    """
    settings = settings or get_settings()
    folder = resolve_region(name_or_path, bundles=bundles, settings=settings)
    toml_path = folder / "region.toml"
    spec = _region_toml.parse(
        read_toml(toml_path, what="bundle description"), path=toml_path, crs=settings.crs
    )
    files = spec.files
    grid = read_vector(files["population"], what="population layer")
    if "cell_id" in grid.columns:
        grid = grid.set_index("cell_id")
    pop = population.validate_population(grid, source=str(files["population"]), crs=settings.crs)
    roads = load_roads(files["roads"])
    boundary = (
        read_vector(files["boundary"], what="boundary layer") if "boundary" in files else None
    )
    sites = validate_sites(
        _read_bundle_sites(files["sites"]),
        source=str(files["sites"]),
        boundary=boundary,
        population_grid=pop,
        crs=settings.crs,
    )
    check_road_coverage(roads, pop, source=f"bundle {folder}", settings=settings)
    region = Region(
        name=spec.name,
        slug=spec.slug,
        code=spec.code,
        year=spec.year,
        crs=spec.crs,
        population=pop,
        roads=roads,
        sites=sites,
        boundary=boundary,
        meta=RegionMeta(
            sources=spec.sources,
            licences=spec.licences,
            synthetic=spec.synthetic,
            notes=spec.notes,
        ),
        path=folder,
    )
    logger.info("loaded region %s from %s", region.name, folder)
    return region


def _read_bundle_sites(path: Path) -> gpd.GeoDataFrame:
    sites = read_vector(path, what="sites layer")
    if "site_id" in sites.columns:
        sites = sites.set_index("site_id")
    sites.index = sites.index.astype(str)
    sites.index.name = "site_id"
    return sites


# --------------------------------------------------------------------------- writing


def _write_vector(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    gdf.to_file(path, layer=layer, driver="GPKG", index=True, engine="pyogrio")


def save_region(
    region: Region,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a region as a bundle folder, atomically.

    The bundle is written to a temporary folder beside ``path`` and renamed
    into place, so a crash never leaves a half-written bundle.

    Parameters
    ----------
    region
        The region to write.
    path
        The bundle folder to create.
    overwrite
        Replace an existing folder.

    Returns
    -------
    pathlib.Path
        The bundle folder.

    Raises
    ------
    OutputError
        If the folder exists (and ``overwrite`` is false) or cannot be written.
    """
    target = Path(path)
    files = {
        k: v
        for k, v in _region_toml.DEFAULT_FILES.items()
        if k != "boundary" or region.boundary is not None
    }
    text = _region_toml.dump_region_toml(
        name=region.name,
        slug=safe_name(region.slug, what="bundle slug"),
        code=region.code,
        year=region.year,
        crs=region.crs,
        layers=files,
        synthetic=region.meta.synthetic,
        sources=region.meta.sources,
        licences=region.meta.licences,
        notes=region.meta.notes,
    )
    with atomic_dir(target, overwrite=overwrite) as tmp:
        try:
            _write_vector(region.population, tmp / files["population"], "population")
            network.write_roads(region.road_network, tmp / files["roads"])
            _write_vector(region.sites, tmp / files["sites"], "sites")
            if region.boundary is not None:
                _write_vector(region.boundary, tmp / files["boundary"], "boundary")
            (tmp / "region.toml").write_text(text, encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write a bundle to {target}: {exc}") from exc
    logger.info("wrote bundle %s", target)
    return target

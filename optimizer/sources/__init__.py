"""Data sources: where the layers of a region bundle come from.

==========================================  ===========================================
module                                      what
==========================================  ===========================================
:mod:`optimizer.sources.wfs`                Statistics Finland's WFS: population grid,
                                            municipality and region boundaries
:mod:`optimizer.sources.osm`                OpenStreetMap roads: Overpass (OSMnx),
                                            ``.osm.pbf`` (pyrosm) and GraphML readers
:mod:`optimizer.sources.fetch`              :func:`fetch_region`: a real bundle for a
                                            mainland region from the online sources
:mod:`optimizer.sources.files`              :func:`bundle_from_files`: a bundle from
                                            your own grid, roads and sites files
:mod:`optimizer.sources.synthetic`          synthetic bundles from a small table of
                                            real facts (the demo, the national test set)
==========================================  ===========================================

The static catalogue of Finland (regions, municipalities, national facts) is
:mod:`optimizer.finland`; its region names are re-exported here so that
``from optimizer.sources import find_region`` keeps working. This package
only re-exports: every function lives in exactly one submodule.
"""

from __future__ import annotations

from optimizer.finland import (
    MAINLAND_REGIONS,
    RegionInfo,
    find_region,
    municipalities_of_region,
)
from optimizer.sources.fetch import ROAD_BUFFER_M, fetch_region, sites_from_municipalities
from optimizer.sources.files import bundle_from_files
from optimizer.sources.wfs import (
    AREAS_WFS_URL,
    CONNECT_TIMEOUT_S,
    DEFAULT_YEAR,
    POPULATION_LAYERS,
    POPULATION_WFS_URL,
    municipalities_from_wfs,
    population_grid_from_wfs,
    regions_from_wfs,
    wfs_get_features,
)

__all__ = [
    "AREAS_WFS_URL",
    "CONNECT_TIMEOUT_S",
    "DEFAULT_YEAR",
    "MAINLAND_REGIONS",
    "POPULATION_LAYERS",
    "POPULATION_WFS_URL",
    "ROAD_BUFFER_M",
    "RegionInfo",
    "bundle_from_files",
    "fetch_region",
    "find_region",
    "municipalities_from_wfs",
    "municipalities_of_region",
    "population_grid_from_wfs",
    "regions_from_wfs",
    "sites_from_municipalities",
    "wfs_get_features",
]

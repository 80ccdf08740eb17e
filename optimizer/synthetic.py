"""Deprecated alias of :mod:`optimizer.sources.synthetic` (kept for one release).

Import from :mod:`optimizer.sources.synthetic` instead.
"""

from __future__ import annotations

from optimizer.sources.synthetic import (
    LOCAL_ROAD_CIRCUITY,
    LOCAL_ROAD_SPEED_KMH,
    MAIN_ROAD_CIRCUITY,
    LocalityFact,
    MunicipalityFact,
    RegionFacts,
    RoadFact,
    SyntheticRegion,
    facts_from_finland,
    generate_region,
    iter_reference_pairs,
    load_facts,
    write_national_bundles,
    write_synthetic_bundle,
)

__all__ = [
    "LOCAL_ROAD_CIRCUITY",
    "LOCAL_ROAD_SPEED_KMH",
    "MAIN_ROAD_CIRCUITY",
    "LocalityFact",
    "MunicipalityFact",
    "RegionFacts",
    "RoadFact",
    "SyntheticRegion",
    "facts_from_finland",
    "generate_region",
    "iter_reference_pairs",
    "load_facts",
    "write_national_bundles",
    "write_synthetic_bundle",
]

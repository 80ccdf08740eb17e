"""Plan joint service points and remote-service points for Finnish regions.

The package has one module per pipeline stage: :mod:`~optimizer.sources`
(online data), :mod:`~optimizer.network` (roads), :mod:`~optimizer.population`
(grid), :mod:`~optimizer.region` (bundles), :mod:`~optimizer.synthetic`
(synthetic bundles), :mod:`~optimizer.traveltimes`, :mod:`~optimizer.models`,
:mod:`~optimizer.estimates`, :mod:`~optimizer.maps`, :mod:`~optimizer.scenario`
and :mod:`~optimizer.batch`. The names below are the everyday entry points.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from optimizer import (
    batch,
    errors,
    estimates,
    maps,
    models,
    network,
    population,
    region,
    scenario,
    settings,
    sources,
    synthetic,
    traveltimes,
)
from optimizer.batch import run_batch
from optimizer.maps import map_solution
from optimizer.models import (
    LSCP,
    MCLP,
    CapacitatedFixedCharge,
    CapacitatedPMedian,
    FixedCharge,
    PCenter,
    PMedian,
    Solution,
    TwoTier,
)
from optimizer.region import Region, list_regions, load_region
from optimizer.scenario import load_scenario, run_scenario, sweep, write_outputs
from optimizer.settings import Settings, get_settings
from optimizer.traveltimes import TravelTimeMatrix, travel_time_matrix

try:
    __version__ = version("service-network-optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = [
    "LSCP",
    "MCLP",
    "CapacitatedFixedCharge",
    "CapacitatedPMedian",
    "FixedCharge",
    "PCenter",
    "PMedian",
    "Region",
    "Settings",
    "Solution",
    "TravelTimeMatrix",
    "TwoTier",
    "__version__",
    "batch",
    "errors",
    "estimates",
    "get_settings",
    "list_regions",
    "load_region",
    "load_scenario",
    "map_solution",
    "maps",
    "models",
    "network",
    "population",
    "region",
    "run_batch",
    "run_scenario",
    "scenario",
    "settings",
    "sources",
    "sweep",
    "synthetic",
    "travel_time_matrix",
    "traveltimes",
    "write_outputs",
]

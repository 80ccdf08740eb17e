"""Plan joint service points and remote-service points for Finnish regions.

The package has one module per pipeline stage (``docs/architecture.md`` draws
the tree): :mod:`~optimizer.finland` (national facts), :mod:`~optimizer.sources`
(online data, your own files, synthetic bundles), :mod:`~optimizer.network`
(roads), :mod:`~optimizer.population` (grid), :mod:`~optimizer.region`
(bundles), :mod:`~optimizer.traveltimes`, :mod:`~optimizer.models`,
:mod:`~optimizer.estimates`, :mod:`~optimizer.scenario`,
:mod:`~optimizer.outputs`, :mod:`~optimizer.maps` and :mod:`~optimizer.batch`.
The names below are the everyday entry points.

Submodules and names are imported on first use, so ``import optimizer`` and
the command line stay quick and do not load folium, dask or osmnx before they
are needed.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("service-network-optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

#: Stage modules, imported on first attribute access.
_MODULES = (
    "batch",
    "errors",
    "estimates",
    "finland",
    "maps",
    "models",
    "network",
    "outputs",
    "population",
    "region",
    "scenario",
    "settings",
    "sources",
    "synthetic",
    "traveltimes",
)
#: Everyday names and the module that defines them.
_NAMES = {
    "run_batch": "batch",
    "map_solution": "maps",
    "LSCP": "models",
    "MCLP": "models",
    "CapacitatedFixedCharge": "models",
    "CapacitatedPMedian": "models",
    "FixedCharge": "models",
    "PCenter": "models",
    "PMedian": "models",
    "Solution": "models",
    "TwoTier": "models",
    "write_outputs": "outputs",
    "Region": "region",
    "list_regions": "bundles",
    "load_region": "region",
    "load_scenario": "scenario",
    "run_scenario": "scenario",
    "sweep": "scenario",
    "Settings": "settings",
    "get_settings": "settings",
    "TravelTimeMatrix": "traveltimes",
    "travel_time_matrix": "traveltimes",
}

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
    "finland",
    "get_settings",
    "list_regions",
    "load_region",
    "load_scenario",
    "map_solution",
    "maps",
    "models",
    "network",
    "outputs",
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

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from optimizer import (
        batch,
        errors,
        estimates,
        finland,
        maps,
        models,
        network,
        outputs,
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
    from optimizer.outputs import write_outputs
    from optimizer.region import Region, list_regions, load_region
    from optimizer.scenario import load_scenario, run_scenario, sweep
    from optimizer.settings import Settings, get_settings
    from optimizer.traveltimes import TravelTimeMatrix, travel_time_matrix


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"optimizer.{name}")
    elif name in _NAMES:
        module = getattr(importlib.import_module(f"optimizer.{_NAMES[name]}"), name)
    else:
        raise AttributeError(f"module 'optimizer' has no attribute {name!r}")
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

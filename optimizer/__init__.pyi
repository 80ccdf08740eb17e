# The package's face: what `import optimizer` offers. At run time lazy_loader reads
# this stub (optimizer/__init__.py) and imports each name on first use; type checkers
# and IDEs read it as the package's interface.

from . import (
    batch,
    bundles,
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
    traveltimes,
)
from .batch import run_batch
from .bundles import list_regions
from .maps import map_solution
from .models import (
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
from .outputs import write_outputs
from .region import Region, load_region
from .scenario import load_scenario, run_scenario, sweep
from .settings import Settings, get_settings
from .traveltimes import TravelTimeMatrix, travel_time_matrix

__version__: str

"""What a service network means for citizens' travel and for the state's costs.

Pure numpy functions. The inputs are per-cell populations and visits, the
cell-to-site travel-time (minutes) and road-distance (km) matrices, the open
sites with their tiers, and travel parameters. The outputs are typed, frozen
dataclasses with a ``to_dict()`` for ``summary.json``.

Conventions
-----------
* Visits of a cell are split into *in-person-only* visits, which go to the
  nearest open **full** point, and *remote-eligible* visits, which go to the
  nearest open point of **any** tier (a full point serves them in person, a
  remote point by video). Every visit is one person trip to the point.
* Travel times and distances in the matrices are one-way, cell to site;
  ``inf`` marks unreachable pairs. A round trip doubles person-km, vehicle-km,
  CO2 and travel-time cost; the reported access times stay one-way.
* Residents in cells that cannot reach any point of a tier are reported as
  ``unreachable_residents``; the mean and percentiles cover reachable residents,
  the shares within 30/60/90 minutes are shares of all residents. Their visits
  count as ``unserved_visits`` and travel nowhere.
* Weighted percentiles use the inverted-CDF definition: the smallest time
  ``t`` such that at least ``q`` % of the (reachable) residents are within ``t``.
* Person-km split over a table of travel modes (:mod:`.travel`): vehicle
  modes (car, taxi) add vehicle-km = person-km / occupancy; public transport
  is charged per passenger-km and adds no vehicle-km of its own.

Modules: :mod:`.demand` (visits per cell), :mod:`.travel` (modes, per-visit
cost, travel volume), :mod:`.access` (assignment of cells, access statistics),
:mod:`.network` (one network's estimate and differences), :mod:`.quality`
(data quality of a run), :mod:`.figures` (the headline figures every table
lists).
"""

from __future__ import annotations

from optimizer.estimates.access import (
    ACCESS_THRESHOLDS,
    PERCENTILES,
    AccessStats,
    CellAssignment,
    access_stats,
    assign_cells,
    weighted_percentile,
)
from optimizer.estimates.demand import AgencyLike, VisitWeights, visit_weights
from optimizer.estimates.figures import FIGURES, Figure, figure_values, units_table
from optimizer.estimates.network import (
    AnnualCosts,
    EstimateDifference,
    NetworkEstimate,
    SiteLoad,
    compare_estimates,
    estimate_network,
)
from optimizer.estimates.quality import DataQuality, data_quality
from optimizer.estimates.travel import (
    ModeVolume,
    TravelMode,
    TravelParameters,
    TravelVolume,
    cost_per_visit,
    travel_volume,
)

__all__ = [
    "ACCESS_THRESHOLDS",
    "FIGURES",
    "PERCENTILES",
    "AccessStats",
    "AgencyLike",
    "AnnualCosts",
    "CellAssignment",
    "DataQuality",
    "EstimateDifference",
    "Figure",
    "ModeVolume",
    "NetworkEstimate",
    "SiteLoad",
    "TravelMode",
    "TravelParameters",
    "TravelVolume",
    "VisitWeights",
    "access_stats",
    "assign_cells",
    "compare_estimates",
    "cost_per_visit",
    "data_quality",
    "estimate_network",
    "figure_values",
    "travel_volume",
    "units_table",
    "visit_weights",
    "weighted_percentile",
]

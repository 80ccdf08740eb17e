"""Facility-location models: p-median, coverage, p-center, fixed charge, capacitated, two-tier.

Every model is one class with ``from_cost_matrix``, ``from_travel_times`` and
``from_region`` constructors and the same ``solve(*, solver=None,
time_limit=None, mip_gap=None, warm_start=True)`` method, which returns a
frozen :class:`Solution`.
"""

from __future__ import annotations

from optimizer.models._base import LocationModel, Solution, SolverName, Status, TravelTimesLike
from optimizer.models.capacitated import CapacitatedFixedCharge, CapacitatedPMedian
from optimizer.models.center import PCenter
from optimizer.models.coverage import LSCP, MCLP
from optimizer.models.fixed_charge import FixedCharge
from optimizer.models.pmedian import PMedian
from optimizer.models.twotier import TwoTier

__all__ = [
    "LSCP",
    "MCLP",
    "CapacitatedFixedCharge",
    "CapacitatedPMedian",
    "FixedCharge",
    "LocationModel",
    "PCenter",
    "PMedian",
    "Solution",
    "SolverName",
    "Status",
    "TravelTimesLike",
    "TwoTier",
]

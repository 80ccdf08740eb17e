"""Facility-location models: p-median, coverage, p-center, fixed charge, capacitated, two-tier.

Every model is one class (a keyword-only dataclass) with the constructors
``from_cost_matrix``, ``from_travel_times`` and ``from_region`` and the same
``solve(*, solver=None, time_limit=None, mip_gap=None, warm_start=True,
method="auto")`` method, which returns a frozen :class:`Solution`
(:class:`AgencySolution` for the agency two-tier model, with staffing figures).

:data:`MODELS` maps the name a scenario file uses to each class; a class's
:meth:`~LocationModel.parameters` lists the keywords it accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from optimizer.models._base import LocationModel, Method, SolverName
from optimizer.models._inputs import TravelTimesLike
from optimizer.models.agency import AgencySolution, AgencyTwoTier
from optimizer.models.capacitated import CapacitatedFixedCharge, CapacitatedPMedian
from optimizer.models.center import PCenter
from optimizer.models.coverage import LSCP, MCLP
from optimizer.models.fixed_charge import FixedCharge
from optimizer.models.pmedian import PMedian
from optimizer.models.solution import Solution, Status
from optimizer.models.twotier import TwoTier

__all__ = [
    "LSCP",
    "MCLP",
    "MODELS",
    "AgencySolution",
    "AgencyTwoTier",
    "CapacitatedFixedCharge",
    "CapacitatedPMedian",
    "FixedCharge",
    "LocationModel",
    "Method",
    "PCenter",
    "PMedian",
    "Solution",
    "SolverName",
    "Status",
    "TravelTimesLike",
    "TwoTier",
]

#: Every model by the name a scenario file uses for it (read-only).
MODELS: Mapping[str, type[LocationModel]] = MappingProxyType(
    {
        "two_tier": TwoTier,
        "p_median": PMedian,
        "mclp": MCLP,
        "lscp": LSCP,
        "p_center": PCenter,
        "fixed_charge": FixedCharge,
        "capacitated_p_median": CapacitatedPMedian,
        "capacitated_fixed_charge": CapacitatedFixedCharge,
        "agency_two_tier": AgencyTwoTier,
    }
)

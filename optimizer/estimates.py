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
* Vehicle-km are car vehicle-km (person-km by car / occupancy); bus
  passengers are charged per passenger-km and add no vehicle-km of their own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError

__all__ = [
    "ACCESS_THRESHOLDS",
    "PERCENTILES",
    "AccessStats",
    "AnnualCosts",
    "CellAssignment",
    "EstimateDifference",
    "NetworkEstimate",
    "SiteLoad",
    "TravelParameters",
    "TravelVolume",
    "VisitWeights",
    "access_stats",
    "assign_cells",
    "compare_estimates",
    "cost_per_visit",
    "estimate_network",
    "visit_weights",
    "weighted_percentile",
]

#: Minutes for the "share of residents within" figures.
ACCESS_THRESHOLDS = (30, 60, 90)
#: Percentiles of the population-weighted travel time.
PERCENTILES = (50, 90, 99)


def _clean(value: Any) -> Any:
    """Make a value JSON-friendly: numpy scalars to Python, NaN/inf to None."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------
# Demand
# --------------------------------------------------------------------------------------


class _AgeRatesLike(Protocol):
    age_0_14: float
    age_15_64: float
    age_65_plus: float


class AgencyLike(Protocol):
    """What :func:`visit_weights` needs of an agency (e.g. :class:`optimizer.scenario.Agency`)."""

    @property
    def visits_per_resident(self) -> float: ...

    @property
    def remote_share(self) -> float: ...

    @property
    def age_rates(self) -> _AgeRatesLike | None: ...


@dataclass(frozen=True, eq=False)
class VisitWeights:
    """Walk-in visits per cell and year.

    Attributes
    ----------
    in_person_only
        Visits that need a full (staffed) point, per cell.
    remote_eligible
        Visits that a remote-service point can serve, per cell.
    per_agency
        Total visits per year of each agency.
    """

    in_person_only: NDArray[np.float64]
    remote_eligible: NDArray[np.float64]
    per_agency: Mapping[str, float]

    @property
    def total(self) -> NDArray[np.float64]:
        """All visits per cell."""
        return self.in_person_only + self.remote_eligible


def _vector(values: ArrayLike, name: str, n: int | None = None) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise DataError(f"{name} has {arr.shape[0]} entries but there are {n} cells")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{name} must be finite and non-negative; bad values at cells {idx}; "
            "fix or drop those cells"
        )
    return arr


def visit_weights(
    population: ArrayLike,
    agencies: Mapping[str, AgencyLike],
    *,
    ages: ArrayLike | None = None,
) -> VisitWeights:
    """Turn agencies' visit rates into per-cell visit weights.

    Parameters
    ----------
    population
        Residents per cell, shape ``(n_cells,)``.
    agencies
        Agency id to an object with ``visits_per_resident``, ``remote_share``
        and ``age_rates`` (``None`` or per-age-group rates).
    ages
        Optional residents per age group, shape ``(n_cells, 3)`` in the order
        ``age_0_14, age_15_64, age_65_plus``; rows with a NaN (suppressed
        counts) fall back to ``visits_per_resident x population``.

    Returns
    -------
    VisitWeights
        In-person-only and remote-eligible visits per cell, and totals per agency.

    Raises
    ------
    DataError
        If populations or age counts are negative or not finite, or shapes differ.
    """
    pop = _vector(population, "population")
    n = pop.shape[0]
    age = None
    if ages is not None:
        age = np.asarray(ages, dtype=np.float64)
        if age.shape != (n, 3):
            raise DataError(f"ages must have shape ({n}, 3), got {age.shape}")
        if (age[np.isfinite(age)] < 0).any() or np.isinf(age).any():
            raise DataError("age counts must be non-negative and finite (NaN = unknown)")
    known = np.isfinite(age).all(axis=1) if age is not None else np.zeros(n, dtype=bool)
    in_person = np.zeros(n)
    remote = np.zeros(n)
    totals: dict[str, float] = {}
    for key, agency in agencies.items():
        visits = agency.visits_per_resident * pop
        rates = agency.age_rates
        if rates is not None and age is not None and known.any():
            r = np.array([rates.age_0_14, rates.age_15_64, rates.age_65_plus])
            visits[known] = age[known] @ r
        in_person += visits * (1.0 - agency.remote_share)
        remote += visits * agency.remote_share
        totals[key] = float(visits.sum())
    return VisitWeights(in_person_only=in_person, remote_eligible=remote, per_agency=totals)


# --------------------------------------------------------------------------------------
# Travel parameters and per-visit costs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TravelParameters:
    """How people travel and what travel costs.

    Attributes
    ----------
    car_kg_co2_per_vehicle_km, bus_kg_co2_per_passenger_km
        Emission factors.
    value_of_time_eur_per_hour
        Value of a person's travel time.
    co2_price_eur_per_tonne
        Price of a tonne of CO2.
    car_share, bus_share
        Mode split of visits (sum to 1).
    car_occupancy
        Persons per car (>= 1).
    round_trip
        Count the way back too.
    """

    car_kg_co2_per_vehicle_km: float
    bus_kg_co2_per_passenger_km: float
    value_of_time_eur_per_hour: float
    co2_price_eur_per_tonne: float
    car_share: float = 1.0
    bus_share: float = 0.0
    car_occupancy: float = 1.0
    round_trip: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "round_trip" and not (math.isfinite(value) and value >= 0):
                raise DataError(f"travel parameter {f.name} must be finite and >= 0, got {value}")
        if self.car_share > 1 or self.bus_share > 1:
            raise DataError("car_share and bus_share must lie in [0, 1]")
        if abs(self.car_share + self.bus_share - 1.0) > 1e-6:
            raise DataError(
                f"car_share + bus_share must be 1, got {self.car_share} + {self.bus_share}"
            )
        if self.car_occupancy < 1:
            raise DataError(f"car_occupancy must be >= 1, got {self.car_occupancy}")

    @classmethod
    def from_travel(cls, travel: Any) -> TravelParameters:
        """Build from a scenario's ``travel`` section (:class:`optimizer.scenario.Travel`)."""
        return cls(
            car_kg_co2_per_vehicle_km=travel.car_kg_co2_per_vehicle_km,
            bus_kg_co2_per_passenger_km=travel.bus_kg_co2_per_passenger_km,
            value_of_time_eur_per_hour=travel.value_of_time_eur_per_hour,
            co2_price_eur_per_tonne=travel.co2_price_eur_per_tonne,
            car_share=travel.mode_split.car,
            bus_share=travel.mode_split.bus,
            car_occupancy=travel.car_occupancy,
            round_trip=travel.round_trip,
        )

    @property
    def trip_factor(self) -> float:
        """2 for round trips, 1 for one-way trips."""
        return 2.0 if self.round_trip else 1.0

    @property
    def kg_co2_per_person_km(self) -> float:
        """Mode-weighted kg CO2 per person-km."""
        return (
            self.car_share * self.car_kg_co2_per_vehicle_km / self.car_occupancy
            + self.bus_share * self.bus_kg_co2_per_passenger_km
        )


def _matrix(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a (cells x sites) matrix, got shape {arr.shape}")
    if np.isnan(arr).any() or (arr < 0).any():
        raise DataError(f"{name} must be non-negative (inf = unreachable), without NaN")
    return arr


def cost_per_visit(
    minutes: ArrayLike, km: ArrayLike, travel: TravelParameters
) -> NDArray[np.float64]:
    """Return the € cost of one visit from each cell to each site.

    ``cost = f x (minutes / 60 x value_of_time + km x kg_co2_per_person_km / 1000
    x co2_price)`` with ``f = 2`` for round trips. This is the per-visit cost of
    the ``annual_cost`` objective (site costs are added separately).

    Parameters
    ----------
    minutes, km
        One-way travel time and road distance, shape ``(n_cells, n_sites)``.
    travel
        Travel parameters.

    Returns
    -------
    ndarray
        € per visit, ``inf`` where the pair is unreachable.
    """
    t = _matrix(minutes, "minutes")
    d = _matrix(km, "km")
    if t.shape != d.shape:
        raise DataError(f"minutes {t.shape} and km {d.shape} must have the same shape")
    reachable = np.isfinite(t) & np.isfinite(d)
    eur_per_km = travel.kg_co2_per_person_km / 1000.0 * travel.co2_price_eur_per_tonne
    with np.errstate(invalid="ignore"):
        cost = travel.trip_factor * (t / 60.0 * travel.value_of_time_eur_per_hour + d * eur_per_km)
    return np.where(reachable, cost, np.inf)


# --------------------------------------------------------------------------------------
# Assignment and access
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CellAssignment:
    """Where each cell's visits go (site indices, ``-1`` when none is reachable).

    Attributes
    ----------
    full_site, full_minutes, full_km
        Site, one-way minutes and km of the in-person-only visits.
    any_site, any_minutes, any_km
        Site, one-way minutes and km of the remote-eligible visits.
    nearest_full_minutes, nearest_any_minutes
        One-way minutes to the nearest open full point and to the nearest open
        point of any tier (equal to the above unless assignments were given).
    """

    full_site: NDArray[np.int64]
    full_minutes: NDArray[np.float64]
    full_km: NDArray[np.float64]
    any_site: NDArray[np.int64]
    any_minutes: NDArray[np.float64]
    any_km: NDArray[np.float64]
    nearest_full_minutes: NDArray[np.float64]
    nearest_any_minutes: NDArray[np.float64]


def _nearest(
    minutes: NDArray[np.float64], open_sites: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    n = minutes.shape[0]
    if open_sites.size == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    sub = minutes[:, open_sites]
    j = np.argmin(sub, axis=1)
    t = sub[np.arange(n), j]
    site = open_sites[j].astype(np.int64)
    site[~np.isfinite(t)] = -1
    return site, t


def _take(matrix: NDArray[np.float64], site: NDArray[np.int64]) -> NDArray[np.float64]:
    out = np.full(site.shape[0], np.inf)
    ok = site >= 0
    out[ok] = matrix[np.flatnonzero(ok), site[ok]]
    return out


def _site_indices(values: Sequence[int] | ArrayLike, name: str, n_sites: int) -> NDArray[np.int64]:
    arr = np.asarray(values, dtype=np.int64).reshape(-1)
    if arr.size and (arr.min() < 0 or arr.max() >= n_sites):
        raise DataError(f"{name} holds site indices outside 0..{n_sites - 1}: {arr.tolist()}")
    if np.unique(arr).size != arr.size:
        raise DataError(f"{name} lists a site twice: {arr.tolist()}")
    return arr


def assign_cells(
    minutes: ArrayLike,
    km: ArrayLike,
    *,
    full: Sequence[int],
    remote: Sequence[int] = (),
    assign_full: ArrayLike | None = None,
    assign_any: ArrayLike | None = None,
) -> CellAssignment:
    """Assign each cell's visits to open sites.

    Parameters
    ----------
    minutes, km
        One-way travel time and road distance, shape ``(n_cells, n_sites)``.
    full, remote
        Indices (columns) of the open full and remote points.
    assign_full, assign_any
        Optional assignments from a model (site index per cell, ``-1`` for
        none). By default in-person-only visits go to the nearest open full
        point and remote-eligible visits to the nearest open point of any tier.

    Returns
    -------
    CellAssignment
        Sites, minutes and km per cell for both kinds of visits.

    Raises
    ------
    DataError
        If shapes differ, indices are out of range, a site is both full and
        remote, or a given assignment points at a site of the wrong tier.
    """
    t = _matrix(minutes, "minutes")
    d = _matrix(km, "km")
    if t.shape != d.shape:
        raise DataError(f"minutes {t.shape} and km {d.shape} must have the same shape")
    n_cells, n_sites = t.shape
    full_idx = _site_indices(full, "full", n_sites)
    remote_idx = _site_indices(remote, "remote", n_sites)
    both = np.intersect1d(full_idx, remote_idx)
    if both.size:
        raise DataError(f"sites {both.tolist()} are listed as both full and remote points")
    any_idx = np.concatenate([full_idx, remote_idx])
    near_full, t_full = _nearest(t, full_idx)
    near_any, t_any = _nearest(t, any_idx)
    site_full = near_full
    site_any = near_any
    for given, allowed, label in (
        (assign_full, full_idx, "assign_full"),
        (assign_any, any_idx, "assign_any"),
    ):
        if given is None:
            continue
        arr = np.asarray(given, dtype=np.int64).reshape(-1)
        if arr.shape[0] != n_cells:
            raise DataError(f"{label} has {arr.shape[0]} entries but there are {n_cells} cells")
        wrong = (arr >= 0) & ~np.isin(arr, allowed)
        if wrong.any():
            cells = np.flatnonzero(wrong)[:5].tolist()
            raise DataError(f"{label} sends cells {cells} to sites that are not open for it")
        if label == "assign_full":
            site_full = arr
        else:
            site_any = arr
    return CellAssignment(
        full_site=site_full,
        full_minutes=_take(t, site_full),
        full_km=_take(d, site_full),
        any_site=site_any,
        any_minutes=_take(t, site_any),
        any_km=_take(d, site_any),
        nearest_full_minutes=t_full,
        nearest_any_minutes=t_any,
    )


def weighted_percentile(values: ArrayLike, weights: ArrayLike, q: float) -> float:
    """Return the weighted ``q``-th percentile (inverted CDF).

    The smallest value ``v`` such that the weights of values ``<= v`` add up to
    at least ``q`` % of the total weight. Entries with zero weight are ignored.

    Parameters
    ----------
    values, weights
        Values and non-negative weights of the same length.
    q
        Percentile in [0, 100].

    Returns
    -------
    float
        The percentile, or NaN when the total weight is zero.
    """
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if not 0 <= q <= 100:
        raise DataError(f"percentile must lie in [0, 100], got {q}")
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 0:
        return math.nan
    order = np.argsort(v, kind="stable")
    v, c = v[order], np.cumsum(w[order])
    target = q / 100.0 * c[-1] * (1.0 - 1e-12)
    k = int(np.searchsorted(c, target, side="left"))
    return float(v[min(k, v.size - 1)])


@dataclass(frozen=True)
class AccessStats:
    """Population-weighted one-way travel time to the nearest point (of a tier).

    ``mean_minutes`` and the percentiles cover reachable residents; the shares
    are of all residents (unreachable residents are never "within").
    """

    residents: float
    unreachable_residents: float
    mean_minutes: float
    p50_minutes: float
    p90_minutes: float
    p99_minutes: float
    share_within_30: float
    share_within_60: float
    share_within_90: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (NaN becomes ``None``)."""
        return _clean(self)


def access_stats(minutes: ArrayLike, population: ArrayLike) -> AccessStats:
    """Summarise per-cell travel times weighted by population.

    Parameters
    ----------
    minutes
        One-way minutes per cell to the nearest point (``inf`` = unreachable).
    population
        Residents per cell.

    Returns
    -------
    AccessStats
        Mean, 50/90/99th percentiles and shares within 30/60/90 minutes.
    """
    t = np.asarray(minutes, dtype=np.float64)
    pop = _vector(population, "population", t.shape[0])
    total = float(pop.sum())
    reach = np.isfinite(t)
    reachable = float(pop[reach].sum())
    mean = float((pop[reach] * t[reach]).sum() / reachable) if reachable > 0 else math.nan
    pct = [weighted_percentile(t[reach], pop[reach], q) for q in PERCENTILES]
    shares = [
        float(pop[reach & (t <= limit)].sum() / total) if total > 0 else math.nan
        for limit in ACCESS_THRESHOLDS
    ]
    return AccessStats(
        residents=total,
        unreachable_residents=total - reachable,
        mean_minutes=mean,
        p50_minutes=pct[0],
        p90_minutes=pct[1],
        p99_minutes=pct[2],
        share_within_30=shares[0],
        share_within_60=shares[1],
        share_within_90=shares[2],
    )


# --------------------------------------------------------------------------------------
# Network estimates
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteLoad:
    """Load of one open site.

    Attributes
    ----------
    site_id, name, tier
        The site and its tier (``"full"`` or ``"remote"``).
    visits
        Visits per year handled at the site (in-person-only + remote-eligible).
    visits_in_person_only, visits_remote_eligible
        The two parts of ``visits``.
    residents_served
        Residents whose assigned point of any tier is this site (each resident
        is counted at exactly one site).
    mean_minutes
        Visit-weighted mean one-way travel time of the visits handled here.
    """

    site_id: str
    name: str
    tier: str
    visits: float
    visits_in_person_only: float
    visits_remote_eligible: float
    residents_served: float
    mean_minutes: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (NaN becomes ``None``)."""
        return _clean(self)


@dataclass(frozen=True)
class TravelVolume:
    """Travel caused by the visits in a year.

    ``person_km`` = ``person_km_car`` + ``person_km_bus``; ``vehicle_km`` are car
    vehicle-km; ``person_hours`` is time spent travelling; CO2 in tonnes.
    """

    person_km: float
    person_km_car: float
    person_km_bus: float
    vehicle_km: float
    person_hours: float
    t_co2_car: float
    t_co2_bus: float
    t_co2: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return _clean(self)


@dataclass(frozen=True)
class AnnualCosts:
    """Annual costs in €: sites, value of travel time, CO2, and their total."""

    sites_eur: float
    travel_time_eur: float
    co2_eur: float
    total_eur: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return _clean(self)


@dataclass(frozen=True)
class NetworkEstimate:
    """Everything :func:`estimate_network` reports about one network.

    Attributes
    ----------
    n_full, n_remote
        Open points per tier.
    residents, visits_per_year
        Residents and walk-in visits per year in the region.
    unserved_visits
        Visits from cells that cannot reach a point of the tier they need.
    to_full, to_any
        Access to the nearest full point and to the nearest point of any tier.
    travel
        Person-km, vehicle-km, hours and CO2 per year.
    costs
        Annual costs.
    sites
        Load of each open site, full points first.
    """

    n_full: int
    n_remote: int
    residents: float
    visits_per_year: float
    unserved_visits: float
    to_full: AccessStats
    to_any: AccessStats
    travel: TravelVolume
    costs: AnnualCosts
    sites: tuple[SiteLoad, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict for ``summary.json`` (NaN/inf become ``None``)."""
        return _clean(self)


def estimate_network(
    population: ArrayLike,
    visits: VisitWeights,
    minutes: ArrayLike,
    km: ArrayLike,
    *,
    full: Sequence[int],
    remote: Sequence[int] = (),
    travel: TravelParameters,
    full_point_cost: float = 0.0,
    remote_point_cost: float = 0.0,
    site_ids: Sequence[str] | None = None,
    site_names: Sequence[str] | None = None,
    assign_full: ArrayLike | None = None,
    assign_any: ArrayLike | None = None,
) -> NetworkEstimate:
    """Estimate access, travel, emissions and costs of one network.

    Parameters
    ----------
    population
        Residents per cell, shape ``(n_cells,)``.
    visits
        Visits per cell (see :func:`visit_weights`).
    minutes, km
        One-way travel time and road distance, shape ``(n_cells, n_sites)``.
    full, remote
        Indices of the open full and remote points.
    travel
        Travel parameters.
    full_point_cost, remote_point_cost
        Annual cost of one point of each tier (€).
    site_ids, site_names
        Labels of the sites (default: the indices as strings).
    assign_full, assign_any
        Optional model assignments (see :func:`assign_cells`).

    Returns
    -------
    NetworkEstimate
        The estimates.

    Raises
    ------
    DataError
        If shapes disagree or inputs are negative or NaN.
    """
    a = assign_cells(
        minutes, km, full=full, remote=remote, assign_full=assign_full, assign_any=assign_any
    )
    n_cells = a.full_site.shape[0]
    n_sites = np.asarray(minutes).shape[1]
    pop = _vector(population, "population", n_cells)
    w_full = _vector(visits.in_person_only, "in-person-only visits", n_cells)
    w_remote = _vector(visits.remote_eligible, "remote-eligible visits", n_cells)
    ids = list(site_ids) if site_ids is not None else [str(j) for j in range(n_sites)]
    names = list(site_names) if site_names is not None else ids
    if len(ids) != n_sites or len(names) != n_sites:
        raise DataError(f"site_ids and site_names need {n_sites} entries, one per site")

    ok_full = a.full_site >= 0
    ok_any = a.any_site >= 0
    f = travel.trip_factor
    person_km = f * (
        float((w_full[ok_full] * a.full_km[ok_full]).sum())
        + float((w_remote[ok_any] * a.any_km[ok_any]).sum())
    )
    person_hours = (
        f
        * (
            float((w_full[ok_full] * a.full_minutes[ok_full]).sum())
            + float((w_remote[ok_any] * a.any_minutes[ok_any]).sum())
        )
        / 60.0
    )
    pkm_car = travel.car_share * person_km
    pkm_bus = travel.bus_share * person_km
    vkm = pkm_car / travel.car_occupancy
    t_car = vkm * travel.car_kg_co2_per_vehicle_km / 1000.0
    t_bus = pkm_bus * travel.bus_kg_co2_per_passenger_km / 1000.0
    volume = TravelVolume(
        person_km=person_km,
        person_km_car=pkm_car,
        person_km_bus=pkm_bus,
        vehicle_km=vkm,
        person_hours=person_hours,
        t_co2_car=t_car,
        t_co2_bus=t_bus,
        t_co2=t_car + t_bus,
    )
    n_full, n_remote = len(full), len(remote)
    site_cost = n_full * full_point_cost + n_remote * remote_point_cost
    time_cost = person_hours * travel.value_of_time_eur_per_hour
    co2_cost = volume.t_co2 * travel.co2_price_eur_per_tonne
    costs = AnnualCosts(
        sites_eur=site_cost,
        travel_time_eur=time_cost,
        co2_eur=co2_cost,
        total_eur=site_cost + time_cost + co2_cost,
    )

    def per_site(index: NDArray[np.int64], weights: NDArray[np.float64]) -> NDArray[np.float64]:
        ok = index >= 0
        return np.bincount(index[ok], weights=weights[ok], minlength=n_sites)

    in_person = per_site(a.full_site, w_full)
    remote_visits = per_site(a.any_site, w_remote)
    minutes_sum = per_site(a.full_site, w_full * np.where(ok_full, a.full_minutes, 0.0))
    minutes_sum += per_site(a.any_site, w_remote * np.where(ok_any, a.any_minutes, 0.0))
    residents = per_site(a.any_site, pop)
    loads = []
    for tier, idx in (("full", full), ("remote", remote)):
        for j in idx:
            total = float(in_person[j] + remote_visits[j])
            loads.append(
                SiteLoad(
                    site_id=str(ids[j]),
                    name=str(names[j]),
                    tier=tier,
                    visits=total,
                    visits_in_person_only=float(in_person[j]),
                    visits_remote_eligible=float(remote_visits[j]),
                    residents_served=float(residents[j]),
                    mean_minutes=float(minutes_sum[j] / total) if total > 0 else math.nan,
                )
            )
    return NetworkEstimate(
        n_full=n_full,
        n_remote=n_remote,
        residents=float(pop.sum()),
        visits_per_year=float(w_full.sum() + w_remote.sum()),
        unserved_visits=float(w_full[~ok_full].sum() + w_remote[~ok_any].sum()),
        to_full=access_stats(a.nearest_full_minutes, pop),
        to_any=access_stats(a.nearest_any_minutes, pop),
        travel=volume,
        costs=costs,
        sites=tuple(loads),
    )


# --------------------------------------------------------------------------------------
# Differences
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimateDifference:
    """Scenario minus baseline, field by field (same meaning, in differences)."""

    n_full: int
    n_remote: int
    visits_per_year: float
    unserved_visits: float
    to_full: AccessStats
    to_any: AccessStats
    travel: TravelVolume
    costs: AnnualCosts

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (NaN becomes ``None``)."""
        return _clean(self)


def _minus(a: Any, b: Any) -> Any:
    if is_dataclass(a):
        return type(a)(
            **{f.name: _minus(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)}
        )
    return a - b


def compare_estimates(scenario: NetworkEstimate, baseline: NetworkEstimate) -> EstimateDifference:
    """Return scenario minus baseline for every headline figure.

    Parameters
    ----------
    scenario, baseline
        Estimates of the two networks (same region and demand).

    Returns
    -------
    EstimateDifference
        Differences; a negative ``to_any.mean_minutes`` means shorter trips in
        the scenario, a negative ``costs.total_eur`` a cheaper network.
    """
    return EstimateDifference(
        n_full=scenario.n_full - baseline.n_full,
        n_remote=scenario.n_remote - baseline.n_remote,
        visits_per_year=scenario.visits_per_year - baseline.visits_per_year,
        unserved_visits=scenario.unserved_visits - baseline.unserved_visits,
        to_full=_minus(scenario.to_full, baseline.to_full),
        to_any=_minus(scenario.to_any, baseline.to_any),
        travel=_minus(scenario.travel, baseline.travel),
        costs=_minus(scenario.costs, baseline.costs),
    )

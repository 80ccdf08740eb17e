"""What one network means for access, travel, emissions and annual costs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer._json import Record
from optimizer.errors import DataError
from optimizer.estimates._arrays import as_vector
from optimizer.estimates.access import AccessStats, CellAssignment, access_stats, assign_cells
from optimizer.estimates.demand import VisitWeights
from optimizer.estimates.travel import TravelParameters, TravelVolume, travel_volume

__all__ = [
    "AnnualCosts",
    "EstimateDifference",
    "NetworkEstimate",
    "SiteLoad",
    "compare_estimates",
    "estimate_network",
]


@dataclass(frozen=True)
class SiteLoad(Record):
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


@dataclass(frozen=True)
class AnnualCosts(Record):
    """Annual costs in €: sites, value of travel time, CO2, and their total."""

    sites_eur: float
    travel_time_eur: float
    co2_eur: float
    total_eur: float


@dataclass(frozen=True)
class _Headline(Record):
    """The headline figures of a network, shared by an estimate and a difference."""

    n_full: int
    n_remote: int
    residents: float
    visits_per_year: float
    unserved_visits: float
    to_full: AccessStats
    to_any: AccessStats
    travel: TravelVolume
    costs: AnnualCosts


@dataclass(frozen=True)
class NetworkEstimate(_Headline):
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

    sites: tuple[SiteLoad, ...]


def estimate_network(
    population: ArrayLike,
    visits: VisitWeights,
    minutes: ArrayLike | None = None,
    km: ArrayLike | None = None,
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
    assignment: CellAssignment | None = None,
    n_sites: int | None = None,
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
    assignment
        The cells' assignment to this network when already computed with
        :func:`assign_cells` (then ``minutes``, ``km``, ``assign_full`` and
        ``assign_any`` are not needed); computed here otherwise.
    n_sites
        Number of candidate sites, needed only when ``minutes`` is not given.

    Returns
    -------
    NetworkEstimate
        The estimates.

    Raises
    ------
    DataError
        If shapes disagree or inputs are negative or NaN.
    """
    if assignment is None:
        if minutes is None or km is None:
            raise DataError("estimate_network needs minutes and km, or an assignment")
        assignment = assign_cells(
            minutes, km, full=full, remote=remote, assign_full=assign_full, assign_any=assign_any
        )
    a = assignment
    n_cells = a.full_site.shape[0]
    if minutes is not None:
        n_sites = np.asarray(minutes).shape[1]
    elif n_sites is None:
        raise DataError("estimate_network needs n_sites when minutes are not given")
    pop = as_vector(population, "population", n_cells)
    w_full = as_vector(visits.in_person_only, "in-person-only visits", n_cells)
    w_remote = as_vector(visits.remote_eligible, "remote-eligible visits", n_cells)
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
    volume = travel_volume(person_km, person_hours, travel)
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


@dataclass(frozen=True)
class EstimateDifference(_Headline):
    """Scenario minus baseline, field by field (same meaning, in differences)."""


def _minus(a: Any, b: Any) -> Any:
    if is_dataclass(a):
        return type(a)(
            **{f.name: _minus(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)}
        )
    if isinstance(a, Mapping):
        zero = next(iter({**a, **b}.values()), 0.0)
        empty = type(zero)(**{f.name: 0.0 for f in fields(zero)}) if is_dataclass(zero) else 0.0
        return {k: _minus(a.get(k, empty), b.get(k, empty)) for k in {**a, **b}}
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
        **{
            f.name: _minus(getattr(scenario, f.name), getattr(baseline, f.name))
            for f in fields(EstimateDifference)
        }
    )

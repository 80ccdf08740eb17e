"""Demand: agencies' visit rates turned into walk-in visits per cell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.estimates._arrays import as_vector

__all__ = ["AgencyLike", "VisitWeights", "visit_weights"]


class _AgeRatesLike(Protocol):
    age_0_14: float
    age_15_64: float
    age_65_plus: float


class AgencyLike(Protocol):
    """What :func:`visit_weights` needs of an agency (e.g. :class:`optimizer.scenario.Agency`)."""

    @property
    def visits_per_resident(self) -> float:
        """Walk-in visits per resident per year."""
        ...

    @property
    def remote_share(self) -> float:
        """Share of visits a remote-service point can serve."""
        ...

    @property
    def age_rates(self) -> _AgeRatesLike | None:
        """Visits per resident per year by age group, or ``None``."""
        ...


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
    agency_in_person, agency_remote
        The same per agency (rows in the order of ``per_agency``), shape
        ``(n_agencies, n_cells)``; ``None`` when not computed.
    """

    in_person_only: NDArray[np.float64]
    remote_eligible: NDArray[np.float64]
    per_agency: Mapping[str, float]
    agency_in_person: NDArray[np.float64] | None = None
    agency_remote: NDArray[np.float64] | None = None

    @property
    def total(self) -> NDArray[np.float64]:
        """All visits per cell."""
        return self.in_person_only + self.remote_eligible


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
    pop = as_vector(population, "population")
    n = pop.shape[0]
    age = None
    if ages is not None:
        age = np.asarray(ages, dtype=np.float64)
        if age.shape != (n, 3):
            raise DataError(f"ages must have shape ({n}, 3), got {age.shape}")
        if (age[np.isfinite(age)] < 0).any() or np.isinf(age).any():
            raise DataError("age counts must be non-negative and finite (NaN = unknown)")
    known = np.isfinite(age).all(axis=1) if age is not None else np.zeros(n, dtype=bool)
    by_in_person = np.zeros((len(agencies), n))
    by_remote = np.zeros((len(agencies), n))
    totals: dict[str, float] = {}
    for k, (key, agency) in enumerate(agencies.items()):
        visits = agency.visits_per_resident * pop
        rates = agency.age_rates
        if rates is not None and age is not None and known.any():
            r = np.array([rates.age_0_14, rates.age_15_64, rates.age_65_plus])
            visits[known] = age[known] @ r
        by_in_person[k] = visits * (1.0 - agency.remote_share)
        by_remote[k] = visits * agency.remote_share
        totals[key] = float(visits.sum())
    return VisitWeights(
        in_person_only=by_in_person.sum(axis=0),
        remote_eligible=by_remote.sum(axis=0),
        per_agency=totals,
        agency_in_person=by_in_person,
        agency_remote=by_remote,
    )

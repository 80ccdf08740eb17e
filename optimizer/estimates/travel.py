"""How people travel to service points: a table of travel modes, and what travel costs.

A trip's person-km split over the modes by their shares of visits. A mode
whose own vehicle makes the trip for the visit (car, taxi) adds vehicle-km =
person-km / occupancy and emits per vehicle-km; public transport (bus, train)
emits per passenger-km and adds no vehicle-km of its own. A new mode is one
more :class:`TravelMode` in :attr:`TravelParameters.modes`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer._json import Record
from optimizer.errors import DataError
from optimizer.estimates._arrays import as_matrix

__all__ = [
    "ModeVolume",
    "TravelMode",
    "TravelParameters",
    "TravelVolume",
    "cost_per_visit",
    "travel_volume",
]


def _finite_non_negative(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise DataError(f"travel parameter {name} must be finite and >= 0, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class TravelMode:
    """One travel mode: its share of visits and its emissions.

    Attributes
    ----------
    name
        Mode name, e.g. ``"car"``, ``"bus"``, ``"taxi"``.
    share
        Share of visits made with the mode, in [0, 1].
    kg_co2_per_person_km
        Emissions per person-km (per vehicle-km / occupancy for vehicle modes).
    occupancy
        Persons per vehicle for modes whose vehicle makes the trip (their
        vehicle-km are counted); ``None`` for public transport.
    """

    name: str
    share: float
    kg_co2_per_person_km: float
    occupancy: float | None = None

    def __post_init__(self) -> None:
        _finite_non_negative(f"{self.name}.share", self.share)
        if self.share > 1:
            raise DataError(f"the share of mode {self.name!r} must lie in [0, 1], got {self.share}")
        _finite_non_negative(f"{self.name}.kg_co2_per_person_km", self.kg_co2_per_person_km)
        if self.occupancy is not None and not (
            math.isfinite(self.occupancy) and self.occupancy >= 1
        ):
            raise DataError(
                f"the occupancy of mode {self.name!r} must be >= 1, got {self.occupancy}"
            )

    @classmethod
    def vehicle(
        cls, name: str, *, share: float, kg_co2_per_vehicle_km: float, occupancy: float
    ) -> TravelMode:
        """Make a mode whose own vehicle makes the trip (car, taxi)."""
        if not (math.isfinite(occupancy) and occupancy >= 1):
            raise DataError(f"the occupancy of mode {name!r} must be >= 1, got {occupancy}")
        per_vehicle = _finite_non_negative(f"{name}.kg_co2_per_vehicle_km", kg_co2_per_vehicle_km)
        return cls(name, share, per_vehicle / occupancy, float(occupancy))

    @classmethod
    def public(cls, name: str, *, share: float, kg_co2_per_passenger_km: float) -> TravelMode:
        """Make a public-transport mode, charged per passenger-km (bus, train)."""
        return cls(name, share, kg_co2_per_passenger_km, None)


@dataclass(frozen=True)
class TravelParameters:
    """How people travel and what travel costs.

    Give the modes as :attr:`modes`; the older car/bus fields build the same
    table (a car mode and a bus mode) when ``modes`` is empty.

    Attributes
    ----------
    car_kg_co2_per_vehicle_km, bus_kg_co2_per_passenger_km
        Emission factors of the car/bus form.
    value_of_time_eur_per_hour
        Value of a person's travel time.
    co2_price_eur_per_tonne
        Price of a tonne of CO2.
    car_share, bus_share
        Mode split of the car/bus form (sum to 1).
    car_occupancy
        Persons per car (>= 1) of the car/bus form.
    round_trip
        Count the way back too.
    modes
        The travel modes; their shares sum to 1.
    """

    car_kg_co2_per_vehicle_km: float = 0.0
    bus_kg_co2_per_passenger_km: float = 0.0
    value_of_time_eur_per_hour: float = 0.0
    co2_price_eur_per_tonne: float = 0.0
    car_share: float = 1.0
    bus_share: float = 0.0
    car_occupancy: float = 1.0
    round_trip: bool = True
    modes: tuple[TravelMode, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("value_of_time_eur_per_hour", "co2_price_eur_per_tonne"):
            _finite_non_negative(name, getattr(self, name))
        modes = tuple(self.modes)
        if not modes:
            for name in (
                "car_kg_co2_per_vehicle_km",
                "bus_kg_co2_per_passenger_km",
                "car_share",
                "bus_share",
            ):
                _finite_non_negative(name, getattr(self, name))
            if self.car_share > 1 or self.bus_share > 1:
                raise DataError("car_share and bus_share must lie in [0, 1]")
            if not self.car_occupancy >= 1:
                raise DataError(f"car_occupancy must be >= 1, got {self.car_occupancy}")
            if abs(self.car_share + self.bus_share - 1.0) > 1e-6:
                raise DataError(
                    f"car_share + bus_share must be 1, got {self.car_share} + {self.bus_share}"
                )
            modes = (
                TravelMode.vehicle(
                    "car",
                    share=self.car_share,
                    kg_co2_per_vehicle_km=self.car_kg_co2_per_vehicle_km,
                    occupancy=self.car_occupancy,
                ),
                TravelMode.public(
                    "bus",
                    share=self.bus_share,
                    kg_co2_per_passenger_km=self.bus_kg_co2_per_passenger_km,
                ),
            )
        names = [m.name for m in modes]
        if len(set(names)) != len(names):
            raise DataError(f"travel modes must have distinct names, got {names}")
        total = sum(m.share for m in modes)
        if abs(total - 1.0) > 1e-6:
            raise DataError(f"the shares of the travel modes {names} must sum to 1, got {total:g}")
        object.__setattr__(self, "modes", modes)

    @classmethod
    def from_travel(cls, travel: Any) -> TravelParameters:
        """Build from a scenario's ``travel`` section (:class:`optimizer.scenario.Travel`)."""
        modes = []
        for name, mode in travel.mode_table().items():
            if mode.kg_co2_per_vehicle_km is not None:
                modes.append(
                    TravelMode.vehicle(
                        name,
                        share=mode.share,
                        kg_co2_per_vehicle_km=mode.kg_co2_per_vehicle_km,
                        occupancy=mode.occupancy,
                    )
                )
            else:
                modes.append(
                    TravelMode.public(
                        name, share=mode.share, kg_co2_per_passenger_km=mode.kg_co2_per_passenger_km
                    )
                )
        return cls(
            value_of_time_eur_per_hour=travel.value_of_time_eur_per_hour,
            co2_price_eur_per_tonne=travel.co2_price_eur_per_tonne,
            round_trip=travel.round_trip,
            modes=tuple(modes),
        )

    @property
    def trip_factor(self) -> float:
        """2 for round trips, 1 for one-way trips."""
        return 2.0 if self.round_trip else 1.0

    @property
    def kg_co2_per_person_km(self) -> float:
        """Mode-weighted kg CO2 per person-km."""
        return sum(m.share * m.kg_co2_per_person_km for m in self.modes)


def cost_per_visit(
    minutes: ArrayLike, km: ArrayLike, travel: TravelParameters
) -> NDArray[np.float64]:
    """Return the € cost of one visit from each cell to each site.

    ``cost = f x (minutes / 60 x value_of_time + km x kg_co2_per_person_km / 1000
    x co2_price)`` with ``f = 2`` for round trips. This is the per-visit cost of
    the ``annual_cost`` objective (site costs are added separately). It is
    affine in minutes and km, so it keeps the grouped structure of a travel-time
    matrix (a per-row constant stays a per-row constant).

    Parameters
    ----------
    minutes, km
        One-way travel time and road distance, same shape (a matrix, or a
        vector of per-row constants).
    travel
        Travel parameters.

    Returns
    -------
    ndarray
        € per visit, ``inf`` where the pair is unreachable.
    """
    t = np.asarray(minutes, dtype=np.float64)
    d = np.asarray(km, dtype=np.float64)
    if t.ndim == 2:
        t, d = as_matrix(t, "minutes"), as_matrix(d, "km")
    if t.shape != d.shape:
        raise DataError(f"minutes {t.shape} and km {d.shape} must have the same shape")
    reachable = np.isfinite(t) & np.isfinite(d)
    eur_per_km = travel.kg_co2_per_person_km / 1000.0 * travel.co2_price_eur_per_tonne
    with np.errstate(invalid="ignore"):
        cost = travel.trip_factor * (t / 60.0 * travel.value_of_time_eur_per_hour + d * eur_per_km)
    return np.where(reachable, cost, np.inf)


@dataclass(frozen=True)
class ModeVolume:
    """Travel of one mode in a year: person-km, vehicle-km (0 for public transport), t CO2."""

    person_km: float
    vehicle_km: float
    t_co2: float


@dataclass(frozen=True)
class TravelVolume(Record):
    """Travel caused by the visits in a year.

    ``person_km`` and ``t_co2`` are sums over the modes in ``by_mode``;
    ``vehicle_km`` are the vehicle-km of the vehicle modes; ``person_hours``
    is time spent travelling; CO2 in tonnes.
    """

    person_km: float
    vehicle_km: float
    person_hours: float
    t_co2: float
    by_mode: Mapping[str, ModeVolume]

    def _mode(self, name: str) -> ModeVolume:
        return self.by_mode.get(name, ModeVolume(0.0, 0.0, 0.0))

    @property
    def person_km_car(self) -> float:
        """Person-km by car."""
        return self._mode("car").person_km

    @property
    def person_km_bus(self) -> float:
        """Person-km by bus."""
        return self._mode("bus").person_km

    @property
    def t_co2_car(self) -> float:
        """Tonnes of CO2 from cars."""
        return self._mode("car").t_co2

    @property
    def t_co2_bus(self) -> float:
        """Tonnes of CO2 from buses."""
        return self._mode("bus").t_co2


def travel_volume(person_km: float, person_hours: float, travel: TravelParameters) -> TravelVolume:
    """Split a year's person-km over the travel modes.

    Parameters
    ----------
    person_km, person_hours
        Person-km and hours travelled in a year (all modes, round trips counted).
    travel
        Travel parameters with the mode table.

    Returns
    -------
    TravelVolume
        Totals and the volume of each mode.
    """
    by_mode = {}
    for mode in travel.modes:
        pkm = mode.share * person_km
        vkm = pkm / mode.occupancy if mode.occupancy is not None else 0.0
        by_mode[mode.name] = ModeVolume(
            person_km=pkm, vehicle_km=vkm, t_co2=pkm * mode.kg_co2_per_person_km / 1000.0
        )
    return TravelVolume(
        person_km=person_km,
        vehicle_km=sum(v.vehicle_km for v in by_mode.values()),
        person_hours=person_hours,
        t_co2=sum(v.t_co2 for v in by_mode.values()),
        by_mode=by_mode,
    )

"""The ``[travel]`` section: travel modes, the door-to-door car model, the value of time."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from optimizer.scenario._base import _Cited, _LocatedError, _Model

__all__ = ["CarTrip", "ModeSplit", "Travel", "TravelMode"]


class ModeSplit(_Model):
    """Shares of visits made by car and by bus (the older form of ``[travel.modes]``)."""

    car: float = Field(ge=0, le=1)
    bus: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _check_sum(self) -> ModeSplit:
        total = self.car + self.bus
        if abs(total - 1.0) > 1e-6:
            raise _LocatedError(
                f"the mode shares must sum to 1, got car {self.car:g} + bus {self.bus:g} = "
                f"{total:g}; adjust them"
            )
        return self


class TravelMode(_Model):
    """One way of travelling to a service point (a row of ``[travel.modes]``).

    Attributes
    ----------
    share
        Share of visits made with this mode, in [0, 1]; the shares sum to 1.
    occupancy
        Persons per vehicle, for modes whose vehicle makes the trip for the
        visit (car, taxi): their vehicle-km are person-km / occupancy.
    kg_co2_per_vehicle_km
        Emissions per vehicle-km (with ``occupancy``).
    kg_co2_per_passenger_km
        Emissions per passenger-km, for public transport (no vehicle-km of its own).
    """

    share: float = Field(ge=0, le=1)
    occupancy: float | None = Field(default=None, ge=1)
    kg_co2_per_vehicle_km: float | None = Field(default=None, ge=0)
    kg_co2_per_passenger_km: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_emissions(self) -> TravelMode:
        per_vehicle = self.kg_co2_per_vehicle_km is not None
        if per_vehicle == (self.kg_co2_per_passenger_km is not None):
            raise _LocatedError(
                "give either kg_co2_per_vehicle_km (with occupancy) or "
                "kg_co2_per_passenger_km, not both and not neither"
            )
        if per_vehicle and self.occupancy is None:
            raise _LocatedError(
                "a mode with kg_co2_per_vehicle_km needs occupancy (persons per vehicle, >= 1)",
                ("occupancy",),
            )
        return self


class CarTrip(_Model):
    """How a car trip's door-to-door time is modelled (:class:`optimizer.traveltimes.CarModel`).

    With ``door_to_door = true`` (the default) a trip is the walk from the cell
    to the car, driving at realistic speeds with junction delays, parking search
    and the walk to the door; every other key overrides one default of
    ``CarModel``, whose docstring cites its source. ``door_to_door = false``
    gives plain driving times at the roads' speeds (for comparison only).
    Zones are ``centre``, ``dense`` and ``other``; speed factors are keyed by
    the posted speed in km/h. ``snap_threshold_m`` sets how far from the roads
    a cell may lie and still be reached (default: the travel-time engine's).
    """

    door_to_door: bool = True
    snap_threshold_m: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    walk_speed_kmh: float | None = Field(default=None, gt=0)
    walk_to_car_m: dict[str, float] | None = None
    walk_from_parking_m: dict[str, float] | None = None
    parking_search_min: dict[str, float] | None = None
    speed_factors: dict[str, float] | None = None
    junction_delay_s: dict[str, float] | None = None

    def car_model(self) -> Any:
        """Return the :class:`~optimizer.traveltimes.CarModel`, or ``None`` for drive-only times.

        Raises
        ------
        DataError
            If a value is out of range (the message names it).
        """
        if not self.door_to_door:
            return None
        from optimizer.traveltimes import CarModel

        given: dict[str, Any] = {
            k: v
            for k, v in self.model_dump(exclude={"door_to_door", "snap_threshold_m"}).items()
            if v is not None
        }
        if "speed_factors" in given:
            try:
                given["speed_factors"] = {float(k): v for k, v in given["speed_factors"].items()}
            except ValueError as exc:
                raise _LocatedError(
                    'speed_factors are keyed by the posted speed in km/h, e.g. "50" = 0.83',
                    ("speed_factors",),
                ) from exc
        return CarModel(**given)

    @model_validator(mode="after")
    def _check_model(self) -> CarTrip:
        from optimizer.errors import DataError

        try:
            self.car_model()
        except DataError as exc:
            raise _LocatedError(str(exc)) from exc
        return self


class Travel(_Cited):
    """How people travel to service points, and what travel costs.

    Attributes
    ----------
    round_trip
        Count the way back too (doubles km, CO2 and travel-time cost; the
        reported access times stay one-way).
    modes
        The travel modes by name (``car``, ``bus``, ``taxi``, ...), their shares
        of visits and emission factors.
    mode_split, car_occupancy, car_kg_co2_per_vehicle_km, bus_kg_co2_per_passenger_km
        The older form of ``modes`` (car and bus only), still read.
    value_of_time_eur_per_hour
        Value of a person's travel time.
    co2_price_eur_per_tonne
        Price put on a tonne of CO2.
    car
        How car trip times are modelled (door to door by default).
    """

    _CITED: ClassVar[tuple[str, ...]] = (
        "round_trip",
        "modes",
        "mode_split",
        "car_occupancy",
        "car_kg_co2_per_vehicle_km",
        "bus_kg_co2_per_passenger_km",
        "value_of_time_eur_per_hour",
        "co2_price_eur_per_tonne",
        "car",
    )
    _LEGACY: ClassVar[tuple[str, ...]] = (
        "mode_split",
        "car_occupancy",
        "car_kg_co2_per_vehicle_km",
        "bus_kg_co2_per_passenger_km",
    )

    round_trip: bool = True
    modes: dict[str, TravelMode] | None = None
    mode_split: ModeSplit | None = None
    car_occupancy: float | None = Field(default=None, ge=1)
    car_kg_co2_per_vehicle_km: float | None = Field(default=None, ge=0)
    bus_kg_co2_per_passenger_km: float | None = Field(default=None, ge=0)
    value_of_time_eur_per_hour: float = Field(ge=0)
    co2_price_eur_per_tonne: float = Field(ge=0)
    car: CarTrip = Field(default_factory=CarTrip)

    @model_validator(mode="after")
    def _check_modes(self) -> Travel:
        legacy = [k for k in self._LEGACY if getattr(self, k) is not None]
        if self.modes is not None:
            if legacy:
                raise _LocatedError(
                    f"give the modes either as [travel.modes] or in the older form "
                    f"({', '.join(legacy)}), not both",
                    (legacy[0],),
                )
            if not self.modes:
                raise _LocatedError("list at least one mode", ("modes",))
            total = sum(m.share for m in self.modes.values())
            if abs(total - 1.0) > 1e-6:
                shares = " + ".join(f"{k} {m.share:g}" for k, m in self.modes.items())
                raise _LocatedError(
                    f"the mode shares must sum to 1, got {shares} = {total:g}; adjust them",
                    ("modes",),
                )
            return self
        missing = [k for k in self._LEGACY if getattr(self, k) is None]
        if missing:
            raise _LocatedError(
                "give the travel modes as [travel.modes.<name>] tables (share and emission "
                f"factor each), or all of {', '.join(self._LEGACY)}; missing {', '.join(missing)}",
                (missing[0],),
            )
        return self

    def mode_table(self) -> dict[str, TravelMode]:
        """Return the modes by name, also when the file used the older car/bus form."""
        if self.modes is not None:
            return dict(self.modes)
        assert self.mode_split is not None
        return {
            "car": TravelMode(
                share=self.mode_split.car,
                occupancy=self.car_occupancy,
                kg_co2_per_vehicle_km=self.car_kg_co2_per_vehicle_km,
            ),
            "bus": TravelMode(
                share=self.mode_split.bus,
                kg_co2_per_passenger_km=self.bus_kg_co2_per_passenger_km,
            ),
        }

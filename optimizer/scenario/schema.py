"""The scenario schema: every section and key of a scenario file, validated with pydantic.

Unknown keys are errors; :func:`optimizer.scenario.parse_scenario` turns every
validation error into a message that names the key path and its line.

Sections
--------
``name``, ``description``, ``region``
    The scenario name (defaults to the file name; it names the output folder,
    so it must be a safe name: letters, digits, ``_``, ``.``, ``-``) and the
    region bundle, by name (``"pohjois-karjala"``) or path (relative paths are
    resolved against the scenario file's folder).
``[agencies.<id>]``
    Walk-in visits per resident per year (``visits_per_resident``), the share
    of them that can be served at a remote-service point (``remote_share``),
    optional per-age-group rates (``[agencies.<id>.age_rates]`` with
    ``age_0_14``, ``age_15_64``, ``age_65_plus``), and either a ``source``
    citing where the figures come from or ``assumption = true``.
``[network]``
    ``model`` (which location model designs the network, see :data:`MODEL_NAMES`;
    default ``"two_tier"``), ``full_points`` and ``remote_points`` (a whole
    number or ``[min, max]``), and/or ``budget_eur`` with
    ``full_point_annual_cost_eur`` and ``remote_point_annual_cost_eur``;
    ``required_sites`` (site ids or names, kept open as full points),
    ``required_remote_sites``, ``forbidden_sites``; ``objective``
    (``"travel_time"`` or ``"annual_cost"``); an optional
    ``[network.access_standard]`` with ``minutes`` and ``hard``.
``[travel]``
    ``round_trip``, the travel modes as a table ``[travel.modes.<name>]`` (each
    with ``share`` of visits, and either ``kg_co2_per_vehicle_km`` with
    ``occupancy`` for modes whose vehicles make the trip for the visit (car,
    taxi) or ``kg_co2_per_passenger_km`` for public transport), and
    ``value_of_time_eur_per_hour``, ``co2_price_eur_per_tonne``. The older form
    ``[travel.mode_split]`` (``car`` and ``bus``) with ``car_occupancy``,
    ``car_kg_co2_per_vehicle_km`` and ``bus_kg_co2_per_passenger_km`` is still
    read.
``[baseline]``
    The network to compare with: a named ``rule`` (see :data:`BASELINE_RULES`)
    or a list of ``sites`` with tiers.
``[solver]``
    ``name`` (``"highs"`` or ``"cbc"``), ``time_limit`` (s) and ``mip_gap``.

``[network]`` and ``[travel]`` may carry ``sources`` (figure name to citation)
and ``assumptions`` (names of figures that are assumptions the user should set).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, model_validator

from optimizer._names import SAFE_NAME_PATTERN, fold
from optimizer.errors import ScenarioError
from optimizer.scenario._base import CountRange, _Cited, _LocatedError, _Model
from optimizer.scenario._positions import KeyPath, line_of, located
from optimizer.scenario.travel import ModeSplit, Travel, TravelMode

__all__ = [
    "BASELINE_RULES",
    "MODEL_NAMES",
    "AccessStandard",
    "AgeRates",
    "Agency",
    "Baseline",
    "BaselineSite",
    "CountRange",
    "ModeSplit",
    "Network",
    "Scenario",
    "SolverOptions",
    "Travel",
    "TravelMode",
]

#: Named baseline networks:
#: ``full_point_in_every_municipal_centre`` (a full point at every site of kind
#: ``municipal_centre``, plus the required sites), ``existing_offices`` (a full
#: point at every ``existing_office`` site, plus the required sites) and
#: ``required_sites_only``.
BASELINE_RULES = (
    "full_point_in_every_municipal_centre",
    "existing_offices",
    "required_sites_only",
)

#: Location models a scenario can use (``[network] model``). ``two_tier``
#: designs full and remote points; the others design one tier of full points
#: that serve every visit: ``p_median``, ``p_center`` and ``mclp`` open exactly
#: ``full_points`` sites, ``lscp`` the fewest sites that put everyone within
#: the access standard, ``fixed_charge`` trades the points' annual cost against
#: travel, and the ``capacitated_`` variants respect each site's ``capacity``
#: (visits per year, from the sites layer).
MODEL_NAMES = (
    "two_tier",
    "agency_two_tier",
    "p_median",
    "mclp",
    "lscp",
    "p_center",
    "fixed_charge",
    "capacitated_p_median",
    "capacitated_fixed_charge",
)
_FIXED_P = ("p_median", "mclp", "p_center", "capacitated_p_median")
_NEEDS_STANDARD = ("mclp", "lscp")
_NO_COUNT = ("lscp", "fixed_charge", "capacitated_fixed_charge")


class AgeRates(_Model):
    """Walk-in visits per resident per year by age group."""

    age_0_14: float = Field(ge=0)
    age_15_64: float = Field(ge=0)
    age_65_plus: float = Field(ge=0)


class Agency(_Model):
    """One agency's demand for walk-in service.

    Attributes
    ----------
    name
        Display name.
    visits_per_resident
        Walk-in visits per resident per year (all ages). Used for every cell,
        or for cells without age counts when ``age_rates`` is given.
    remote_share
        Share of the visits, in [0, 1], that can be served at a remote-service
        point (video connection); the rest needs a full (staffed) point.
    age_rates
        Optional visits per resident per year by age group.
    source, assumption
        Where the figures come from, or ``assumption = true`` when they are
        placeholders the user should set. One of the two is required.
    visits_per_fte
        Visits one official (FTE) serves a year, at a desk or in the remote
        pool. With it, every run reports the agency's staffing.
    desk_annual_cost_eur, staff_annual_cost_eur
        Annual fixed cost of one desk of the agency at a full point, and of one FTE.
    presence
        Where the agency must keep a desk: ``"all"`` full points (default), a
        number of them, or ``[min, max]``.
    staffing_source
        Where the three staffing figures come from; without it they are
        listed as assumptions.
    """

    name: str = Field(min_length=1)
    visits_per_resident: float = Field(ge=0)
    remote_share: float = Field(ge=0, le=1)
    age_rates: AgeRates | None = None
    source: str | None = None
    assumption: bool = False
    visits_per_fte: float | None = Field(default=None, gt=0)
    desk_annual_cost_eur: float = Field(default=0.0, ge=0)
    staff_annual_cost_eur: float = Field(default=0.0, ge=0)
    presence: Literal["all"] | int | tuple[int, int] = "all"
    staffing_source: str | None = None

    @model_validator(mode="after")
    def _check_cited(self) -> Agency:
        if not (self.source and self.source.strip()) and not self.assumption:
            raise _LocatedError(
                "give a 'source' citing where the figures come from, "
                "or mark them 'assumption = true'",
                ("source",),
            )
        return self


class AccessStandard(_Model):
    """Every resident within ``minutes`` of some open point (hard or soft).

    When the standard is soft (``hard = false``), every visit from a cell left
    outside it adds ``penalty`` to the objective (minutes with the travel-time
    objective, € with the annual-cost objective). ``None`` charges the cost of
    ``minutes`` of travel, i.e. such a visit counts as if it took the standard
    twice.
    """

    minutes: float = Field(gt=0)
    hard: bool = True
    penalty: float | None = Field(default=None, ge=0)


class Network(_Cited):
    """The network to design: counts or budget, costs, required sites, access standard."""

    _CITED: ClassVar[tuple[str, ...]] = (
        "full_points",
        "remote_points",
        "budget_eur",
        "full_point_annual_cost_eur",
        "remote_point_annual_cost_eur",
        "access_standard",
    )

    model: Literal[MODEL_NAMES] = "two_tier"  # type: ignore[valid-type]
    objective: Literal["travel_time", "annual_cost"] = "travel_time"
    full_points: CountRange | None = None
    remote_points: CountRange | None = None
    budget_eur: float | None = Field(default=None, gt=0)
    full_point_annual_cost_eur: float = Field(ge=0)
    remote_point_annual_cost_eur: float = Field(ge=0)
    required_sites: list[str] = Field(default_factory=list)
    required_remote_sites: list[str] = Field(default_factory=list)
    forbidden_sites: list[str] = Field(default_factory=list)
    access_standard: AccessStandard | None = None

    @model_validator(mode="after")
    def _check_network(self) -> Network:
        if self.model not in ("two_tier", "agency_two_tier"):
            return self._check_single_tier()
        if self.full_points is None and self.budget_eur is None:
            raise _LocatedError(
                "give the number of full points (a whole number or [min, max]) "
                "or a budget_eur with the annual costs of the points",
                ("full_points",),
            )
        if self.full_points is not None and self.full_points[1] < 1:
            raise _LocatedError(
                "at least one full point is needed: in-person-only visits can only be "
                "served at full points",
                ("full_points",),
            )
        self._check_site_lists()
        # whether the required sites fit the counts is the model's check (with the bundle's
        # own required sites counted too); the run translates it to this file and line
        n_full, n_remote = len(self.required_sites), len(self.required_remote_sites)
        if self.budget_eur is not None:
            low_full = max(n_full, self.full_points[0] if self.full_points else 1)
            low_remote = max(n_remote, self.remote_points[0] if self.remote_points else 0)
            cheapest = (
                low_full * self.full_point_annual_cost_eur
                + low_remote * self.remote_point_annual_cost_eur
            )
            if cheapest > self.budget_eur:
                raise _LocatedError(
                    f"the smallest allowed network ({low_full} full and {low_remote} remote "
                    f"points) costs {cheapest:,.0f} € a year, more than the budget "
                    f"{self.budget_eur:,.0f} €; raise the budget or lower the minimum counts",
                    ("budget_eur",),
                )
        return self

    def _check_site_lists(self) -> None:
        seen: dict[str, tuple[str, int]] = {}
        for key in ("required_sites", "required_remote_sites", "forbidden_sites"):
            for i, ref in enumerate(getattr(self, key)):
                folded = fold(ref)
                if folded in seen:
                    other, j = seen[folded]
                    raise _LocatedError(
                        f"site {ref!r} is also listed as network.{other}[{j}]; list each site once",
                        (key, i),
                    )
                seen[folded] = (key, i)

    def _check_single_tier(self) -> Network:
        """Keys that a one-tier model (every point full) can and cannot take."""
        self._check_site_lists()
        model = self.model
        if self.remote_points not in (None, (0, 0)) or self.required_remote_sites:
            key = (
                "remote_points"
                if self.remote_points not in (None, (0, 0))
                else "required_remote_sites"
            )
            raise _LocatedError(
                f'model {model!r} designs full points only; drop {key} or use model = "two_tier"',
                (key,),
            )
        if self.budget_eur is not None:
            raise _LocatedError(
                f'model {model!r} takes no budget; use model = "two_tier" for a budget',
                ("budget_eur",),
            )
        if model in _FIXED_P:
            if self.full_points is None or self.full_points[0] != self.full_points[1]:
                raise _LocatedError(
                    f"model {model!r} opens an exact number of points: give full_points as one "
                    "whole number",
                    ("full_points",),
                )
            if self.full_points[0] < 1:
                raise _LocatedError("at least one point is needed", ("full_points",))
            if len(self.required_sites) > self.full_points[0]:
                raise _LocatedError(
                    f"{len(self.required_sites)} required sites but at most "
                    f"{self.full_points[0]} full points are allowed (network.full_points); "
                    "raise full_points or drop required sites",
                    ("required_sites",),
                )
        elif model in _NO_COUNT and self.full_points is not None:
            raise _LocatedError(
                f"model {model!r} chooses the number of points itself; drop full_points",
                ("full_points",),
            )
        if model in _NEEDS_STANDARD and self.access_standard is None:
            raise _LocatedError(
                f"model {model!r} needs [network.access_standard] minutes (the coverage radius)",
                ("access_standard",),
            )
        return self

    def count_bounds(self, n_sites: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Return ``((min_full, max_full), (min_remote, max_remote))`` for ``n_sites`` sites.

        Counts not given are bounded only by the number of sites (and the budget). The
        minimum rises to the number of required sites, never above the maximum: more
        required sites than the maximum is the model's infeasibility to report.
        """

        def bounds(given: tuple[int, int], required: int) -> tuple[int, int]:
            high = min(given[1], n_sites)
            return min(max(given[0], required), high), high

        return (
            bounds(self.full_points or (1, n_sites), len(self.required_sites)),
            bounds(self.remote_points or (0, n_sites), len(self.required_remote_sites)),
        )


class BaselineSite(_Model):
    """One site of the baseline network."""

    site: str = Field(min_length=1)
    tier: Literal["full", "remote"] = "full"


class Baseline(_Model):
    """The network to compare with: a named ``rule`` or explicit ``sites``."""

    description: str = ""
    rule: Literal[BASELINE_RULES] | None = None  # type: ignore[valid-type]
    sites: list[BaselineSite] | None = None

    @model_validator(mode="after")
    def _check_one(self) -> Baseline:
        if (self.rule is None) == (self.sites is None):
            raise _LocatedError(
                f"give either a rule (one of {', '.join(BASELINE_RULES)}) or a list of "
                "sites with tiers, not both and not neither"
            )
        if self.sites is not None and not self.sites:
            raise _LocatedError("the baseline needs at least one site", ("sites",))
        return self


class Plan(_Model):
    """A planner's own network, evaluated beside the optimum and the baseline (no solver).

    ``full`` and ``remote`` name candidate sites (ids or names). ``desks`` maps
    an agency key to the full points where it keeps a desk (default: all of them).
    """

    name: str = Field(pattern=SAFE_NAME_PATTERN)
    description: str = ""
    full: list[str] = Field(min_length=1)
    remote: list[str] = Field(default_factory=list)
    desks: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_sites(self) -> Plan:
        both = {fold(s) for s in self.full} & {fold(s) for s in self.remote}
        if both:
            raise _LocatedError(
                f"sites listed as both full and remote: {', '.join(sorted(both))}", ("remote",)
            )
        for agency, sites in self.desks.items():
            outside = [s for s in sites if fold(s) not in {fold(f) for f in self.full}]
            if outside:
                raise _LocatedError(
                    f"desks of {agency!r} at {', '.join(map(repr, outside))}, which are not "
                    "full points of this plan; a desk needs a full point",
                    ("desks", agency),
                )
        return self


class SolverOptions(_Model):
    """Solver choice and limits; ``name = None`` uses the settings' default solver."""

    name: Literal["highs", "cbc"] | None = None
    time_limit: float | None = Field(default=60.0, gt=0)
    mip_gap: float | None = Field(default=None, ge=0, lt=1)


class Scenario(_Model):
    """A validated scenario (see the module docstring for the file format)."""

    name: str = Field(pattern=SAFE_NAME_PATTERN)
    description: str = ""
    region: str = Field(min_length=1)
    agencies: dict[str, Agency] = Field(min_length=1)
    network: Network
    travel: Travel
    baseline: Baseline
    solver: SolverOptions = Field(default_factory=SolverOptions)
    plans: list[Plan] = Field(default_factory=list)

    _path: Path | None = PrivateAttr(default=None)
    _lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_plans(self) -> Scenario:
        seen: set[str] = set()
        for i, plan in enumerate(self.plans):
            if plan.name in seen:
                raise _LocatedError(f"two plans are named {plan.name!r}", ("plans", i, "name"))
            seen.add(plan.name)
            unknown = sorted(set(plan.desks) - set(self.agencies))
            if unknown:
                raise _LocatedError(
                    f"desks for unknown agencies {', '.join(map(repr, unknown))}; the "
                    f"scenario's agencies are {', '.join(self.agencies)}",
                    ("plans", i, "desks", unknown[0]),
                )
        return self

    @property
    def path(self) -> Path | None:
        """The file the scenario was loaded from, or ``None``."""
        return self._path

    def line_of(self, *key: str | int) -> int | None:
        """Return the line of ``key`` (or of its nearest enclosing table) in the file."""
        return line_of(self._lines, tuple(key))

    def region_ref(self) -> str | Path:
        """Return the region as a bundle name or as a path resolved against the file."""
        ref = self.region
        if not any(sep in ref for sep in ("/", "\\")) and not ref.startswith("."):
            return ref
        path = Path(ref).expanduser()
        if not path.is_absolute() and self._path is not None:
            path = self._path.parent / path
        return path

    def with_changes(self, changes: Mapping[str, Any]) -> Scenario:
        """Return a validated copy with some keys changed, e.g. in a notebook.

        Parameters
        ----------
        changes
            Dotted key paths to new values, as in the file:
            ``{"network.model": "agency_two_tier", "network.full_points": 3}``.

        Raises
        ------
        ScenarioError
            If the changed scenario does not validate (the message names the key).
        """
        data = self.model_dump(exclude_unset=True)
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = data
            for name in parents:
                node = node.setdefault(name, {})
            node[last] = value
        from pydantic import ValidationError

        from optimizer.scenario._messages import format_errors

        try:
            copy = type(self).model_validate(data)
        except ValidationError as exc:
            raise ScenarioError(
                format_errors(exc, data, self._lines, self._path, root=type(self))
            ) from None
        copy._path, copy._lines = self._path, self._lines
        return copy

    def with_drive_only(self) -> Scenario:
        """Return a copy that uses plain driving times (``[travel.car] door_to_door = false``)."""
        return self.with_changes({"travel.car.door_to_door": False})

    def assumptions(self) -> list[str]:
        """Return the key paths of figures marked as assumptions the user should set."""
        out = [f"agencies.{key}" for key, a in self.agencies.items() if a.assumption]
        out += [
            f"agencies.{key}.staffing"
            for key, a in self.agencies.items()
            if a.visits_per_fte is not None and not a.staffing_source
        ]
        out += [f"network.{name}" for name in self.network.assumptions]
        out += [f"travel.{name}" for name in self.travel.assumptions]
        return out

    def error(self, key: KeyPath, message: str) -> ScenarioError:
        """Build a :class:`ScenarioError` for ``key`` that names the file and line."""
        return ScenarioError(located(self._path, self._lines, key, message))

"""Scenarios: which network to design, for which demand, under which travel assumptions.

A scenario is a TOML file validated with pydantic. Unknown keys are errors, and
every error names the key path and the line in the file. Its sections:

``name``, ``description``, ``region``
    The scenario name (defaults to the file name; used in output file names) and
    the region bundle, by name (``"pohjois-karjala"``) or path (relative paths
    are resolved against the scenario file's folder).
``[agencies.<id>]``
    Walk-in visits per resident per year (``visits_per_resident``), the share
    of them that can be served at a remote-service point (``remote_share``),
    optional per-age-group rates (``[agencies.<id>.age_rates]`` with
    ``age_0_14``, ``age_15_64``, ``age_65_plus``), and either a ``source``
    citing where the figures come from or ``assumption = true``.
``[network]``
    ``full_points`` and ``remote_points`` (a whole number or ``[min, max]``),
    and/or ``budget_eur`` with ``full_point_annual_cost_eur`` and
    ``remote_point_annual_cost_eur``; ``required_sites`` (site ids or names,
    kept open as full points), ``required_remote_sites``, ``forbidden_sites``;
    ``objective`` (``"travel_time"`` or ``"annual_cost"``); an optional
    ``[network.access_standard]`` with ``minutes`` and ``hard``.
``[travel]``
    ``round_trip``, ``[travel.mode_split]`` (``car`` and ``bus`` shares
    summing to 1), ``car_occupancy``, ``car_kg_co2_per_vehicle_km``,
    ``bus_kg_co2_per_passenger_km``, ``value_of_time_eur_per_hour``,
    ``co2_price_eur_per_tonne``.
``[baseline]``
    The network to compare with: a named ``rule`` (see :data:`BASELINE_RULES`)
    or a list of ``sites`` with tiers.
``[solver]``
    ``name`` (``"highs"`` or ``"cbc"``), ``time_limit`` (s) and ``mip_gap``.

``[network]`` and ``[travel]`` may carry ``sources`` (figure name to citation)
and ``assumptions`` (names of figures that are assumptions the user should set).
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import json
import logging
import os
import time
import tomllib
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from optimizer._io import atomic_path, write_text_atomic
from optimizer.errors import InfeasibleError, OutputError, ScenarioError
from optimizer.estimates import (
    EstimateDifference,
    NetworkEstimate,
    TravelParameters,
    VisitWeights,
    _clean,
    assign_cells,
    compare_estimates,
    cost_per_visit,
    estimate_network,
    visit_weights,
)
from optimizer.settings import Settings, get_settings

if typing.TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = [
    "BASELINE_RULES",
    "CELLS_LAYER",
    "SITES_LAYER",
    "AccessStandard",
    "AgeRates",
    "Agency",
    "Baseline",
    "BaselineSite",
    "ModeSplit",
    "Network",
    "OutputPaths",
    "Scenario",
    "ScenarioResult",
    "SolverOptions",
    "SweepResult",
    "Travel",
    "default_scenario_path",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "run_scenario",
    "scenarios_dir",
    "sweep",
    "write_outputs",
]

logger = logging.getLogger(__name__)

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

KeyPath = tuple[str | int, ...]


# --------------------------------------------------------------------------------------
# Locating keys in the TOML text (tomllib reports no positions)
# --------------------------------------------------------------------------------------

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _KeyScanner:
    """Walk a valid TOML text once and record the first line of every key path.

    Paths have the shape of pydantic error locations: names are strings and
    array elements (``[[table]]`` entries, items of inline arrays) are integers.
    """

    def __init__(self, text: str) -> None:
        self.s = text
        self.n = len(text)
        self.pos = 0
        self.lines: dict[KeyPath, int] = {}
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._array_tables: dict[KeyPath, int] = {}

    def _record(self, path: KeyPath, pos: int) -> None:
        line = bisect.bisect_left(self._newlines, pos) + 1
        for k in range(1, len(path) + 1):
            self.lines.setdefault(path[:k], line)

    def _peek(self) -> str:
        return self.s[self.pos] if self.pos < self.n else ""

    def _skip_blank(self) -> None:
        while self._peek() in (" ", "\t"):
            self.pos += 1

    def _skip_blank_lines(self) -> None:
        while self.pos < self.n:
            c = self.s[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#":
                self._skip_to_eol()
            else:
                return

    def _skip_to_eol(self) -> None:
        end = self.s.find("\n", self.pos)
        self.pos = self.n if end < 0 else end

    def _skip_string(self) -> None:
        s = self.s
        for quote in ('"""', "'''"):
            if s.startswith(quote, self.pos):
                self.pos += 3
                while self.pos < self.n:
                    if quote == '"""' and s[self.pos] == "\\":
                        self.pos += 2
                    elif s.startswith(quote, self.pos):
                        self.pos += 3
                        while self._peek() == quote[0]:  # up to two quotes may close it
                            self.pos += 1
                        return
                    else:
                        self.pos += 1
                return
        quote = s[self.pos]
        self.pos += 1
        while self.pos < self.n and s[self.pos] != quote:
            self.pos += 2 if (quote == '"' and s[self.pos] == "\\") else 1
        self.pos += 1

    def _read_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self._skip_blank()
            start = self.pos
            if self._peek() in ('"', "'"):
                self._skip_string()
                parts.append(tomllib.loads(f"k = {self.s[start : self.pos]}")["k"])
            else:
                while self._peek() and self._peek() in _BARE_KEY_CHARS:
                    self.pos += 1
                parts.append(self.s[start : self.pos])
            self._skip_blank()
            if self._peek() != ".":
                return parts
            self.pos += 1

    def _resolve(self, parts: Sequence[str]) -> KeyPath:
        out: list[str | int] = []
        for part in parts:
            out.append(part)
            if tuple(out) in self._array_tables:
                out.append(self._array_tables[tuple(out)])
        return tuple(out)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._skip_string()
        elif c == "[":
            self.pos += 1
            index = 0
            while True:
                self._skip_blank_lines()
                if self._peek() in ("]", ""):
                    self.pos += 1
                    return
                self._record((*path, index), self.pos)
                self._value((*path, index))
                index += 1
                self._skip_blank_lines()
                if self._peek() == ",":
                    self.pos += 1
        elif c == "{":
            self.pos += 1
            while True:
                self._skip_blank()
                if self._peek() in ("}", ""):
                    self.pos += 1
                    return
                start = self.pos
                key = (*path, *self._read_key())
                self._record(key, start)
                self.pos += 1  # the "="
                self._skip_blank()
                self._value(key)
                self._skip_blank()
                if self._peek() == ",":
                    self.pos += 1
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self.pos += 1

    def run(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while True:
            self._skip_blank_lines()
            if self.pos >= self.n:
                return self.lines
            start = self.pos
            if self.s.startswith("[[", self.pos):
                self.pos += 2
                parts = self._read_key()
                self.pos += 2
                head = (*self._resolve(parts[:-1]), parts[-1])
                index = self._array_tables.get(head, -1) + 1
                self._array_tables[head] = index
                table = (*head, index)
                self._record(table, start)
            elif self._peek() == "[":
                self.pos += 1
                table = self._resolve(self._read_key())
                self.pos += 1
                self._record(table, start)
            else:
                key = (*table, *self._read_key())
                self._record(key, start)
                self.pos += 1  # the "="
                self._skip_blank()
                self._value(key)
            self._skip_to_eol()


def _key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path of a valid TOML text (and each prefix) to its first line."""
    return _KeyScanner(text).run()


def _line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """Return the line of ``path``, or of its longest prefix present in the file."""
    for k in range(len(path), 0, -1):
        if path[:k] in lines:
            return lines[path[:k]]
    return None


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------


class _LocatedError(ValueError):
    """A validation problem located at a key below the model that raised it."""

    def __init__(self, message: str, key: KeyPath = ()) -> None:
        super().__init__(message)
        self.key = key


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _count_range(value: Any) -> tuple[int, int]:
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if whole(value):
        low = high = value
    elif isinstance(value, list | tuple) and len(value) == 2 and all(whole(v) for v in value):
        low, high = value
    else:
        raise ValueError(
            f"must be a whole number or a [min, max] pair of whole numbers, got {value!r}"
        )
    if low < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    if low > high:
        raise ValueError(f"the minimum {low} is larger than the maximum {high}")
    return (low, high)


#: A count given as a whole number (fixed) or ``[min, max]``; stored as ``(min, max)``.
CountRange = Annotated[tuple[int, int], BeforeValidator(_count_range)]


class _Cited(_Model):
    """A section whose figures may carry ``sources`` and ``assumptions``."""

    _CITED: ClassVar[tuple[str, ...]] = ()

    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_cited_names(self) -> _Cited:
        allowed = ", ".join(self._CITED)
        for name in self.sources:
            if name not in self._CITED:
                raise _LocatedError(
                    f"'{name}' is not a figure of this section; sources may be given for: "
                    f"{allowed}",
                    ("sources", name),
                )
        for i, name in enumerate(self.assumptions):
            if name not in self._CITED:
                raise _LocatedError(
                    f"'{name}' is not a figure of this section; assumptions may name: {allowed}",
                    ("assumptions", i),
                )
        return self


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
    """

    name: str = Field(min_length=1)
    visits_per_resident: float = Field(ge=0)
    remote_share: float = Field(ge=0, le=1)
    age_rates: AgeRates | None = None
    source: str | None = None
    assumption: bool = False

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
        seen: dict[str, tuple[str, int]] = {}
        for key in ("required_sites", "required_remote_sites", "forbidden_sites"):
            for i, ref in enumerate(getattr(self, key)):
                folded = _fold(ref)
                if folded in seen:
                    other, j = seen[folded]
                    raise _LocatedError(
                        f"site {ref!r} is also listed as network.{other}[{j}]; list each site once",
                        (key, i),
                    )
                seen[folded] = (key, i)
        n_full, n_remote = len(self.required_sites), len(self.required_remote_sites)
        if self.full_points is not None and n_full > self.full_points[1]:
            raise _LocatedError(
                f"{n_full} required sites but at most {self.full_points[1]} full points are "
                f"allowed (network.full_points); raise full_points or drop required sites",
                ("required_sites",),
            )
        if self.remote_points is not None and n_remote > self.remote_points[1]:
            raise _LocatedError(
                f"{n_remote} required remote sites but at most {self.remote_points[1]} remote "
                "points are allowed (network.remote_points); raise remote_points or drop "
                "required remote sites",
                ("required_remote_sites",),
            )
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

    def count_bounds(self, n_sites: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """Return ``((min_full, max_full), (min_remote, max_remote))`` for ``n_sites`` sites.

        Counts not given are bounded only by the number of sites (and the budget).
        """
        full = self.full_points or (1, n_sites)
        remote = self.remote_points or (0, n_sites)
        full = (max(full[0], len(self.required_sites)), min(full[1], n_sites))
        remote = (max(remote[0], len(self.required_remote_sites)), min(remote[1], n_sites))
        return full, remote


class ModeSplit(_Model):
    """Shares of visits made by car and by bus; they must sum to 1."""

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


class Travel(_Cited):
    """How people travel to service points, and what travel costs.

    Attributes
    ----------
    round_trip
        Count the way back too (doubles km, CO2 and travel-time cost; the
        reported access times stay one-way).
    mode_split
        Car and bus shares of visits.
    car_occupancy
        Persons per car on these trips (>= 1).
    car_kg_co2_per_vehicle_km, bus_kg_co2_per_passenger_km
        Emission factors.
    value_of_time_eur_per_hour
        Value of a person's travel time.
    co2_price_eur_per_tonne
        Price put on a tonne of CO2.
    """

    _CITED: ClassVar[tuple[str, ...]] = (
        "round_trip",
        "mode_split",
        "car_occupancy",
        "car_kg_co2_per_vehicle_km",
        "bus_kg_co2_per_passenger_km",
        "value_of_time_eur_per_hour",
        "co2_price_eur_per_tonne",
    )

    round_trip: bool = True
    mode_split: ModeSplit
    car_occupancy: float = Field(ge=1)
    car_kg_co2_per_vehicle_km: float = Field(ge=0)
    bus_kg_co2_per_passenger_km: float = Field(ge=0)
    value_of_time_eur_per_hour: float = Field(ge=0)
    co2_price_eur_per_tonne: float = Field(ge=0)


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


class SolverOptions(_Model):
    """Solver choice and limits; ``name = None`` uses the settings' default solver."""

    name: Literal["highs", "cbc"] | None = None
    time_limit: float | None = Field(default=60.0, gt=0)
    mip_gap: float | None = Field(default=None, ge=0, lt=1)


class Scenario(_Model):
    """A validated scenario (see the module docstring for the file format)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    region: str = Field(min_length=1)
    agencies: dict[str, Agency] = Field(min_length=1)
    network: Network
    travel: Travel
    baseline: Baseline
    solver: SolverOptions = Field(default_factory=SolverOptions)

    _path: Path | None = PrivateAttr(default=None)
    _lines: dict[KeyPath, int] = PrivateAttr(default_factory=dict)

    @property
    def path(self) -> Path | None:
        """The file the scenario was loaded from, or ``None``."""
        return self._path

    def line_of(self, *key: str | int) -> int | None:
        """Return the line of ``key`` (or of its nearest enclosing table) in the file."""
        return _line_of(self._lines, tuple(key))

    def region_ref(self) -> str | Path:
        """Return the region as a bundle name or as a path resolved against the file."""
        ref = self.region
        if not any(sep in ref for sep in ("/", "\\")) and not ref.startswith("."):
            return ref
        path = Path(ref).expanduser()
        if not path.is_absolute() and self._path is not None:
            path = self._path.parent / path
        return path

    def assumptions(self) -> list[str]:
        """Return the key paths of figures marked as assumptions the user should set."""
        out = [f"agencies.{key}" for key, a in self.agencies.items() if a.assumption]
        out += [f"network.{name}" for name in self.network.assumptions]
        out += [f"travel.{name}" for name in self.travel.assumptions]
        return out

    def error(self, key: KeyPath, message: str) -> ScenarioError:
        """Build a :class:`ScenarioError` for ``key`` that names the file and line."""
        return ScenarioError(_located(self._path, self._lines, key, message))


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _located(path: Path | None, lines: dict[KeyPath, int], key: KeyPath, message: str) -> str:
    where = str(path) if path is not None else "<scenario>"
    line = _line_of(lines, key)
    if line is not None:
        where += f", line {line}"
    return f"{where}: {_dotted(key)}: {message}"


def _unwrap(tp: Any) -> Any:
    """Strip ``Optional``/``Annotated`` from a type annotation."""
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """Return the schema model that holds the keys at ``path`` (``None`` if none)."""
    tp: Any = Scenario
    for part in path:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        elif origin is list:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _clean_loc(loc: Sequence[str | int], data: Any) -> KeyPath:
    """Drop pydantic's union tags from an error location, keeping real keys."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif i == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
            out.append(part)  # a missing key
            node = None
        # else: a union-member tag such as "int" or "tuple[int, int]"
    return tuple(out)


_MESSAGES = {
    "greater_than_equal": "must be >= {ge:g}",
    "greater_than": "must be > {gt:g}",
    "less_than_equal": "must be <= {le:g}",
    "less_than": "must be < {lt:g}",
    "missing": "is required but missing",
    "finite_number": "must be a finite number",
}


def _describe(err: dict[str, Any], path: KeyPath, data: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        allowed = sorted(model.model_fields) if model is not None else []
        if model is not None and issubclass(model, _Cited):
            allowed = [a for a in allowed if a not in ("sources", "assumptions")] + [
                "sources",
                "assumptions",
            ]
        hint = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
        message = f"unknown key {str(path[-1])!r}"
        if hint:
            message += f"; did you mean {hint[0]!r}?"
        if allowed:
            message += f" Allowed keys here: {', '.join(allowed)}"
        return message
    if kind == "value_error" and isinstance(ctx.get("error"), _LocatedError):
        return str(ctx["error"])
    template = _MESSAGES.get(kind)
    message = template.format(**ctx) if template else str(err["msg"]).removeprefix("Value error, ")
    if kind != "missing":
        message += f", got {err.get('input')!r}"
    if path and path[-1] == "remote_share" and kind in ("greater_than_equal", "less_than_equal"):
        message += " (a share of visits, between 0 and 1)"
    is_rate = bool(path) and (path[-1] == "visits_per_resident" or path[-2:-1] == ("age_rates",))
    if is_rate and kind == "greater_than_equal":
        message += " (visits per resident per year cannot be negative)"
    return message


def _format_errors(
    exc: ValidationError, data: dict[str, Any], lines: dict[KeyPath, int], path: Path | None
) -> str:
    problems: list[tuple[int, str]] = []
    seen: set[KeyPath] = set()
    for err in exc.errors():
        key = _clean_loc(err["loc"], data)
        ctx = err.get("ctx") or {}
        if err["type"] == "value_error" and isinstance(ctx.get("error"), _LocatedError):
            key = (*key, *ctx["error"].key)
        if key in seen:
            continue
        seen.add(key)
        line = _line_of(lines, key)
        problems.append((line or 0, _located(path, lines, key, _describe(err, key, data))))
    problems.sort(key=lambda p: p[0])
    if len(problems) == 1:
        return problems[0][1]
    return f"{len(problems)} problems in the scenario:\n" + "\n".join(p for _, p in problems)


def parse_scenario(text: str, *, path: str | os.PathLike[str] | None = None) -> Scenario:
    """Validate a scenario given as TOML text.

    Parameters
    ----------
    text
        The TOML text.
    path
        The file the text came from: used in messages, as the default
        ``name`` (its stem) and to resolve a relative region path.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the text is not TOML or does not fit the schema; the message names
        every offending key path and its line.
    """
    file = Path(path) if path is not None else None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"{file or '<scenario>'}: not valid TOML: {exc}; fix the syntax at that position"
        ) from None
    if file is not None:
        data.setdefault("name", file.stem)
    lines = _key_lines(text)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_errors(exc, data, lines, file)) from None
    scenario._path = file.resolve() if file is not None else None
    scenario._lines = lines
    return scenario


def scenarios_dir(*, settings: Settings | None = None) -> Path:
    """Return the folder that holds the shipped scenarios."""
    return (settings or get_settings()).data_dir / "scenarios"


def default_scenario_path(*, settings: Settings | None = None) -> Path:
    """Return the path of the default scenario (``<data_dir>/scenarios/default.toml``)."""
    return scenarios_dir(settings=settings) / "default.toml"


def list_scenarios(*, settings: Settings | None = None) -> list[str]:
    """Return the names of the shipped scenarios (``*.toml`` in the scenarios folder)."""
    folder = scenarios_dir(settings=settings)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_scenario(
    path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None
) -> Scenario:
    """Load and validate a scenario file.

    Parameters
    ----------
    path
        A TOML file, or the name of a shipped scenario (``"default"``).
        ``None`` loads the default scenario.
    settings
        Where the shipped scenarios live; ``None`` reads the environment.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the file does not exist, is not TOML, or does not fit the schema
        (unknown keys, negative rates, shares outside [0, 1] or not summing to 1,
        more required sites than allowed, ...). The message names the key path
        and the line.
    """
    if path is None:
        file = default_scenario_path(settings=settings)
    else:
        file = Path(path).expanduser()
        if not file.is_file() and file.suffix == "" and file.name == str(path):
            shipped = scenarios_dir(settings=settings) / f"{file.name}.toml"
            if shipped.is_file():
                file = shipped
    if not file.is_file():
        known = ", ".join(list_scenarios(settings=settings)) or "none"
        raise ScenarioError(
            f"scenario file {file} does not exist; give a path to a TOML file or the name "
            f"of a shipped scenario ({known})"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {file}: {exc}") from exc
    scenario = parse_scenario(text, path=file)
    logger.debug("loaded scenario %s from %s", scenario.name, file)
    return scenario


# --------------------------------------------------------------------------------------
# Running a scenario
# --------------------------------------------------------------------------------------

#: Name of the per-cell layer and of the per-site layer in ``results.gpkg``.
CELLS_LAYER, SITES_LAYER = "cells", "sites"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class _Choice:
    """The network a model chose, in site indices (``-1`` = no site)."""

    full: tuple[int, ...]
    remote: tuple[int, ...]
    assign_full: NDArray[np.int64] | None
    assign_any: NDArray[np.int64] | None
    status: str
    objective: float
    bound: float
    gap: float
    seconds: float
    solution: Any


@dataclass(frozen=True, eq=False)
class _Problem:
    """Everything a run needs once the region and travel times are in memory."""

    scenario: Scenario
    region: Any
    minutes: NDArray[np.float64]
    km: NDArray[np.float64]
    population: NDArray[np.float64]
    visits: VisitWeights
    travel: TravelParameters
    required: tuple[int, ...]
    required_remote: tuple[int, ...]
    forbidden: tuple[int, ...]
    site_ids: tuple[str, ...]
    site_names: tuple[str, ...]
    groups: NDArray[np.int64]
    seconds: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """The outcome of :func:`run_scenario`.

    Attributes
    ----------
    scenario
        The scenario that was run.
    region
        The region's slug (used in file names).
    cells
        Grid cells (EPSG:3067) with population, visits, assigned sites, minutes
        and km for both kinds of visits, and the same for the baseline.
    sites
        Candidate sites with their role in the scenario and the baseline and
        their load.
    summary
        JSON-ready summary (what ``summary.json`` holds).
    solution
        The model's :class:`~optimizer.models.Solution`.
    estimate, baseline, difference
        Estimates of the scenario network, of the baseline, and their difference.
    """

    scenario: Scenario
    region: str
    cells: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    summary: Mapping[str, Any]
    solution: Any
    estimate: NetworkEstimate
    baseline: NetworkEstimate
    difference: EstimateDifference

    @property
    def map_filename(self) -> str:
        """File name of the map: ``<region>-<scenario>.html``."""
        return f"{self.region}-{self.scenario.name}.html"

    def headline(self) -> dict[str, str]:
        """Headline figures for the map's title panel and the terminal."""
        e, d = self.estimate, self.difference
        return {
            "Full / remote points": f"{e.n_full} / {e.n_remote}",
            "Mean time to nearest point": f"{e.to_any.mean_minutes:.1f} min "
            f"({d.to_any.mean_minutes:+.1f} vs baseline)",
            "Mean time to nearest full point": f"{e.to_full.mean_minutes:.1f} min",
            "Residents within 60 min": f"{100 * e.to_any.share_within_60:.1f} %",
            "CO2 from trips": f"{e.travel.t_co2:,.0f} t/a ({d.travel.t_co2:+,.0f})",
            "Annual cost": f"{e.costs.total_eur / 1e6:,.2f} M€ ({d.costs.total_eur / 1e6:+,.2f})",
        }

    def map(
        self, *, m: Any = None, links: bool = False, tiles: str | None = "OpenStreetMap"
    ) -> Any:
        """Draw the result with :func:`optimizer.maps.map_solution` and return the map."""
        from optimizer.maps import map_solution

        return map_solution(
            self.cells,
            self.sites,
            m=m,
            title=f"{self.summary['region']['name']}: {self.scenario.name}",
            headline=self.headline(),
            minutes_column="minutes",
            assignment_column="site_id",
            links=links,
            tiles=tiles,
        )

    def _repr_html_(self) -> str:
        return str(self.map()._repr_html_())


def _report(progress: Progress | None, step: str) -> None:
    logger.info(step)
    if progress is not None:
        progress(step)


def _resolve_sites(
    scenario: Scenario, key: KeyPath, refs: Sequence[str], ids: Sequence[str], names: Sequence[str]
) -> list[int]:
    """Turn site ids or names from the scenario into site indices."""
    by_id = {_fold(i): k for k, i in enumerate(ids)}
    by_name: dict[str, list[int]] = {}
    for k, name in enumerate(names):
        by_name.setdefault(_fold(name), []).append(k)
    out = []
    for i, ref in enumerate(refs):
        folded = _fold(ref)
        hits = [by_id[folded]] if folded in by_id else by_name.get(folded, [])
        if len(hits) == 1:
            out.append(hits[0])
            continue
        if hits:
            raise scenario.error(
                (*key, i),
                f"site name {ref!r} matches several sites ({', '.join(ids[h] for h in hits)}); "
                "use a site id",
            )
        close = difflib.get_close_matches(ref, [*ids, *names], n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise scenario.error(
            (*key, i),
            f"no site {ref!r} among the region's {len(ids)} candidate sites{hint} "
            f"(sites: {', '.join(names)})",
        )
    return out


def _prepare(
    scenario: Scenario, settings: Settings, progress: Progress | None, region: Any = None
) -> _Problem:
    from optimizer.region import load_region
    from optimizer.traveltimes import travel_time_matrix

    seconds: dict[str, float] = {}
    if region is None:
        _report(progress, "loading region")
        start = time.perf_counter()
        region = load_region(scenario.region_ref(), settings=settings)
        seconds["load"] = time.perf_counter() - start
    pop_gdf = region.population
    population = pop_gdf["population"].to_numpy(dtype=np.float64)
    age_columns = ["age_0_14", "age_15_64", "age_65_plus"]
    ages = (
        pop_gdf[age_columns].to_numpy(dtype=np.float64)
        if set(age_columns) <= set(pop_gdf)
        else None
    )
    visits = visit_weights(population, scenario.agencies, ages=ages)
    ids = tuple(str(i) for i in region.sites.index)
    names = tuple(str(n) for n in region.sites["name"])
    net = scenario.network
    required = _resolve_sites(
        scenario, ("network", "required_sites"), net.required_sites, ids, names
    )
    flagged = [k for k, r in enumerate(region.sites["required"].to_numpy(dtype=bool)) if r]
    required = sorted(set(required) | set(flagged))
    required_remote = _resolve_sites(
        scenario, ("network", "required_remote_sites"), net.required_remote_sites, ids, names
    )
    forbidden = _resolve_sites(
        scenario, ("network", "forbidden_sites"), net.forbidden_sites, ids, names
    )
    clash = sorted(set(required) & (set(required_remote) | set(forbidden)))
    if clash:
        raise scenario.error(
            (
                "network",
                "required_remote_sites" if set(clash) & set(required_remote) else "forbidden_sites",
            ),
            f"site(s) {', '.join(ids[k] for k in clash)} must stay open as full points "
            "(required in the scenario or in the region bundle)",
        )
    (_, max_full), _ = net.count_bounds(len(ids))
    if len(required) > max_full:
        raise scenario.error(
            ("network", "full_points"),
            f"{len(required)} sites must stay open as full points "
            f"({', '.join(ids[k] for k in required)}; required in the scenario or flagged "
            f"required in the region bundle) but at most {max_full} full points are allowed",
        )
    _report(progress, "computing travel times")
    start = time.perf_counter()
    tt = travel_time_matrix(region, region.population, region.sites, settings=settings)
    seconds["travel_times"] = time.perf_counter() - start
    if net.access_standard is not None and net.access_standard.hard:
        allowed = np.setdiff1d(np.arange(len(ids)), forbidden)
        best = (
            tt.minutes[:, allowed].min(axis=1) if allowed.size else np.full(len(population), np.inf)
        )
        bad = np.flatnonzero((best > net.access_standard.minutes) & (population > 0))
        if bad.size:
            cells = ", ".join(str(c) for c in pop_gdf.index[bad[:10]])
            more = f" and {bad.size - 10} more" if bad.size > 10 else ""
            raise InfeasibleError(
                f"no network can meet the access standard of {net.access_standard.minutes:g} min "
                f"({scenario.path or '<scenario>'}, line "
                f"{scenario.line_of('network', 'access_standard', 'minutes')}): "
                f"{bad.size} populated cells are farther from every allowed site: "
                f"{cells}{more}; raise the standard, make it soft (hard = false) or add sites"
            )
    return _Problem(
        scenario=scenario,
        region=region,
        minutes=tt.minutes,
        km=tt.km,
        population=population,
        visits=visits,
        travel=TravelParameters.from_travel(scenario.travel),
        required=tuple(required),
        required_remote=tuple(required_remote),
        forbidden=tuple(forbidden),
        site_ids=ids,
        site_names=names,
        groups=tt.origin_groups,
        seconds=seconds,
    )


def _baseline_network(problem: _Problem) -> tuple[list[int], list[int]]:
    scenario, sites = problem.scenario, problem.region.sites
    base = scenario.baseline
    if base.sites is not None:
        full, remote = [], []
        for i, entry in enumerate(base.sites):
            (k,) = _resolve_sites(
                scenario,
                ("baseline", "sites", i, "site"),
                [entry.site],
                problem.site_ids,
                problem.site_names,
            )
            (full if entry.tier == "full" else remote).append(k)
        if set(full) & set(remote):
            raise scenario.error(("baseline", "sites"), "a site is listed as both full and remote")
        if not full:
            raise scenario.error(
                ("baseline", "sites"), "the baseline needs at least one full point"
            )
        return sorted(set(full)), sorted(set(remote))
    kind = sites["kind"].to_numpy()
    wanted = {
        "full_point_in_every_municipal_centre": kind == "municipal_centre",
        "existing_offices": kind == "existing_office",
        "required_sites_only": np.zeros(len(kind), dtype=bool),
    }[base.rule]
    full = sorted(set(np.flatnonzero(wanted).tolist()) | set(problem.required))
    if not full:
        raise scenario.error(
            ("baseline", "rule"),
            f"rule {base.rule!r} selects no site in this region; choose another rule or list sites",
        )
    return full, []


def _solve(
    problem: _Problem,
    *,
    full_points: tuple[int, int] | None = None,
    remote_points: tuple[int, int] | None = None,
    settings: Settings,
) -> _Choice:
    """Build and solve the two-tier model (:class:`optimizer.models.TwoTier`).

    ``full_points``/``remote_points`` override the scenario's count bounds
    (the sweep fixes them per grid point). The objective is the visit-weighted
    travel time, or with ``objective = "annual_cost"`` the annual cost: site
    costs plus the value of travel time and the CO2 price of every trip. The
    access standard is measured in minutes either way.
    """
    from optimizer.models import TwoTier

    scenario = problem.scenario
    net = scenario.network
    n_sites = len(problem.site_ids)
    (f_lo, f_hi), (r_lo, r_hi) = net.count_bounds(n_sites)
    full = full_points or (f_lo, f_hi)
    remote = remote_points or (r_lo, r_hi)
    if net.objective == "annual_cost":
        cost = cost_per_visit(problem.minutes, problem.km, problem.travel)
        site_cost_full = net.full_point_annual_cost_eur
        site_cost_remote = net.remote_point_annual_cost_eur
    else:
        cost = problem.minutes
        site_cost_full = site_cost_remote = None
    standard = net.access_standard
    penalty = None
    if standard is not None and not standard.hard:
        per_visit = standard.penalty
        if per_visit is None:  # default: each visit outside the standard costs `minutes` more
            per_visit = (
                standard.minutes
                if net.objective == "travel_time"
                else float(
                    cost_per_visit(
                        np.array([[standard.minutes]]), np.zeros((1, 1)), problem.travel
                    )[0, 0]
                )
            )
        penalty = per_visit * problem.visits.total
    if net.budget_eur is not None and full_points is None and remote_points is None:
        return _solve_budget(problem, settings=settings)
    model = TwoTier.from_cost_matrix(
        cost,
        w_full=problem.visits.in_person_only,
        w_remote=problem.visits.remote_eligible,
        n_full=full,
        n_remote=remote,
        site_cost_full=site_cost_full,
        site_cost_remote=site_cost_remote,
        coverage_minutes=standard.minutes if standard is not None else None,
        coverage_matrix=problem.minutes if standard is not None else None,
        coverage="hard" if standard is None or standard.hard else "soft",
        coverage_penalty=penalty,
        required=list(problem.required),
        required_remote=list(problem.required_remote),
        forbidden=list(problem.forbidden),
        site_ids=list(problem.site_ids),
        origin_groups=problem.groups,
    )
    options = scenario.solver
    solution = model.solve(
        solver=options.name or settings.solver,
        time_limit=options.time_limit,
        mip_gap=options.mip_gap,
    )
    tiers = dict(zip(solution.open_sites, solution.tiers, strict=True))
    return _Choice(
        full=tuple(sorted(k for k, t in tiers.items() if t == "full")),
        remote=tuple(sorted(k for k, t in tiers.items() if t == "remote")),
        assign_full=np.asarray(solution.assignment, dtype=np.int64),
        assign_any=np.asarray(solution.assignment_any, dtype=np.int64),
        status=solution.status,
        objective=solution.objective,
        bound=solution.bound,
        gap=solution.gap,
        seconds=solution.seconds,
        solution=solution,
    )


def _solve_budget(problem: _Problem, *, settings: Settings) -> _Choice:
    """Best network within ``network.budget_eur``: every affordable (full, remote) count.

    A point of a tier costs the same everywhere in a scenario, so the budget
    allows exactly the count pairs with ``n_full * cost_full + n_remote *
    cost_remote <= budget``. With the travel-time objective more points never
    hurt, so only the largest affordable remote count per full count is solved.
    """
    net = problem.scenario.network
    assert net.budget_eur is not None
    (f_lo, f_hi), (r_lo, r_hi) = net.count_bounds(len(problem.site_ids))
    pairs = [
        (nf, nr)
        for nf in range(f_lo, f_hi + 1)
        for nr in range(r_lo, min(r_hi, len(problem.site_ids) - nf) + 1)
        if nf * net.full_point_annual_cost_eur + nr * net.remote_point_annual_cost_eur
        <= net.budget_eur + 1e-9
    ]
    if net.objective == "travel_time":
        top = {nf: max(nr for f, nr in pairs if f == nf) for nf, _ in pairs}
        pairs = sorted(top.items())
    if not pairs:
        raise problem.scenario.error(
            ("network", "budget_eur"), "no allowed number of points fits in the budget"
        )
    choices = [
        _solve(problem, full_points=(nf, nf), remote_points=(nr, nr), settings=settings)
        for nf, nr in pairs
    ]
    best = min(choices, key=lambda c: c.objective)
    if any(c.status != "optimal" for c in choices):  # the comparison is only as good as each
        return dataclasses.replace(best, status="time_limit")
    return best


def _site_labels(ids: Sequence[str], index: NDArray[np.int64]) -> NDArray[Any]:
    labels = np.asarray(ids, dtype=object)
    return np.where(index >= 0, labels[np.clip(index, 0, None)], None)


def _result(problem: _Problem, choice: _Choice, settings: Settings) -> ScenarioResult:
    import geopandas as gpd

    scenario, region = problem.scenario, problem.region
    net = scenario.network
    common = {
        "travel": problem.travel,
        "full_point_cost": net.full_point_annual_cost_eur,
        "remote_point_cost": net.remote_point_annual_cost_eur,
        "site_ids": problem.site_ids,
        "site_names": problem.site_names,
    }
    args = (problem.population, problem.visits, problem.minutes, problem.km)
    estimate = estimate_network(
        *args,
        full=choice.full,
        remote=choice.remote,
        assign_full=choice.assign_full,
        assign_any=choice.assign_any,
        **common,
    )
    base_full, base_remote = _baseline_network(problem)
    baseline = estimate_network(*args, full=base_full, remote=base_remote, **common)
    difference = compare_estimates(estimate, baseline)

    a = assign_cells(
        problem.minutes,
        problem.km,
        full=choice.full,
        remote=choice.remote,
        assign_full=choice.assign_full,
        assign_any=choice.assign_any,
    )
    b = assign_cells(problem.minutes, problem.km, full=base_full, remote=base_remote)
    ids = problem.site_ids
    pop = region.population
    keep = [c for c in ("municipality", "population") if c in pop.columns]
    cells = gpd.GeoDataFrame(pop[keep].copy(), geometry=pop.geometry, crs=pop.crs)
    cells["visits_in_person_only"] = problem.visits.in_person_only
    cells["visits_remote_eligible"] = problem.visits.remote_eligible
    cells["site_id"] = _site_labels(ids, a.any_site)
    cells["any_minutes"] = a.any_minutes
    cells["any_km"] = a.any_km
    cells["full_site_id"] = _site_labels(ids, a.full_site)
    cells["full_minutes"] = a.full_minutes
    cells["full_km"] = a.full_km
    cells["minutes"] = a.nearest_any_minutes
    cells["nearest_full_minutes"] = a.nearest_full_minutes
    cells["baseline_site_id"] = _site_labels(ids, b.any_site)
    cells["baseline_minutes"] = b.nearest_any_minutes
    cells["baseline_full_minutes"] = b.nearest_full_minutes

    role = np.full(len(ids), "unused", dtype=object)
    role[list(choice.full)] = "full"
    role[list(choice.remote)] = "remote"
    base_role = np.full(len(ids), "unused", dtype=object)
    base_role[base_full] = "full"
    base_role[base_remote] = "remote"
    src = region.sites
    keep = [c for c in ("name", "municipality", "kind", "required") if c in src.columns]
    sites = gpd.GeoDataFrame(src[keep].copy(), geometry=src.geometry, crs=src.crs)
    sites["role"] = role
    sites["baseline_role"] = base_role
    loads = {s.site_id: s for s in estimate.sites}
    for column in (
        "visits",
        "visits_in_person_only",
        "visits_remote_eligible",
        "residents_served",
        "mean_minutes",
    ):
        sites[column] = [
            getattr(loads[i], column) if i in loads else np.nan for i in problem.site_ids
        ]

    meta = getattr(region, "meta", None)
    synthetic = sorted(k for k, v in getattr(meta, "synthetic", {}).items() if v)
    summary = {
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "file": str(scenario.path) if scenario.path else None,
            "objective": net.objective,
        },
        "region": {
            "slug": region.slug,
            "name": region.name,
            "code": region.code,
            "year": region.year,
            "cells": len(cells),
            "candidate_sites": len(ids),
            "synthetic_layers": synthetic,
        },
        "solution": {
            "solver": scenario.solver.name or settings.solver,
            "status": choice.status,
            "objective": choice.objective,
            "bound": choice.bound,
            "gap": choice.gap,
            "seconds": choice.seconds,
        },
        "assumptions": scenario.assumptions(),
        "visits_per_agency": dict(problem.visits.per_agency),
        "scenario_network": estimate.to_dict(),
        "baseline_network": {"description": scenario.baseline.description, **baseline.to_dict()},
        "difference": difference.to_dict(),
        "seconds": {**problem.seconds, "solve": choice.seconds},
    }
    return ScenarioResult(
        scenario=scenario,
        region=region.slug,
        cells=cells,
        sites=sites,
        summary=_clean(summary),
        solution=choice.solution,
        estimate=estimate,
        baseline=baseline,
        difference=difference,
    )


def _as_scenario(scenario: Scenario | str | os.PathLike[str], settings: Settings) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    return load_scenario(scenario, settings=settings)


def run_scenario(
    scenario: Scenario | str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Design the network of a scenario and estimate it against the baseline.

    Loads the region, computes cell-to-site travel times, turns the agencies'
    visit rates into per-cell demand, solves the two-tier model
    (:class:`optimizer.models.TwoTier`) and estimates access, travel, CO2 and
    costs of the chosen network and of the baseline.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a scenario file, or a shipped scenario's name.
    settings
        Environment defaults; read from the environment when ``None``.
    progress
        Called with the name of each long step ("loading region", "computing
        travel times", "solving", "estimating"); quiet when ``None``.

    Returns
    -------
    ScenarioResult
        Cells and sites GeoDataFrames, the summary, the solution and the
        estimates; renders its map inline in Jupyter.

    Raises
    ------
    ScenarioError
        If the scenario is invalid or names sites the region lacks.
    InfeasibleError
        If no network can meet a hard access standard (the message names the
        cells) or the model is infeasible.
    """
    settings = settings or get_settings()
    scenario = _as_scenario(scenario, settings)
    problem = _prepare(scenario, settings, progress)
    _report(progress, "solving")
    choice = _solve(problem, settings=settings)
    _report(progress, "estimating")
    return _result(problem, choice, settings)


@dataclass(frozen=True)
class OutputPaths:
    """Files written by :func:`write_outputs`."""

    folder: Path
    summary: Path
    results: Path
    map: Path


def _writable_folder(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {folder}: {exc}; choose a writable folder"
        ) from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable; choose another folder")
    return folder


def _for_gpkg(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for column in out.columns:
        if column != out.geometry.name and out[column].dtype.kind == "f":
            out[column] = out[column].where(np.isfinite(out[column]))  # unreachable -> null
    return out.reset_index()


def write_outputs(
    result: ScenarioResult,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    assets: Literal["auto", "cdn", "inline"] = "auto",
    settings: Settings | None = None,
) -> OutputPaths:
    """Write ``summary.json``, ``results.gpkg`` and ``maps/<region>-<scenario>.html``.

    Each file is written under a temporary name beside its target and renamed
    into place when complete (:mod:`optimizer._io`), so no output is ever left
    half-written.

    Parameters
    ----------
    result
        The result of :func:`run_scenario`.
    out_dir
        Output folder; default ``settings.output_dir``.
    assets
        Map assets (see :func:`optimizer.maps.map_html`): ``"inline"`` embeds
        Leaflet so the map opens offline (needs ``<data_dir>/vendor``),
        ``"cdn"`` links folium's CDNs, ``"auto"`` inlines when the local copy
        exists and falls back to the CDN with a warning.
    settings
        Environment defaults.

    Returns
    -------
    OutputPaths
        Paths of the written files.

    Raises
    ------
    OutputError
        If the folder cannot be created or written.
    """
    from optimizer.maps import map_html

    settings = settings or get_settings()
    folder = _writable_folder(Path(out_dir) if out_dir is not None else settings.output_dir)
    if assets == "auto":
        vendor = settings.data_dir / "vendor"
        assets = "inline" if (vendor / "leaflet.js").is_file() else "cdn"
        if assets == "cdn":
            logger.warning(
                "no local Leaflet copy in %s: the map will load Leaflet from a CDN", vendor
            )
    final = OutputPaths(
        folder=folder,
        summary=folder / "summary.json",
        results=folder / "results.gpkg",
        map=folder / "maps" / result.map_filename,
    )
    write_text_atomic(
        final.summary,
        json.dumps(result.summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
    )
    with atomic_path(final.results) as gpkg:
        try:
            _for_gpkg(result.cells).to_file(gpkg, layer=CELLS_LAYER, driver="GPKG")
            _for_gpkg(result.sites).to_file(gpkg, layer=SITES_LAYER, driver="GPKG", mode="a")
        except OSError as exc:
            raise OutputError(f"cannot write {final.results}: {exc}") from exc
    write_text_atomic(final.map, map_html(result.map(), assets=assets, settings=settings))
    logger.info("wrote %s, %s and %s", final.summary, final.results, final.map)
    return final


# --------------------------------------------------------------------------------------
# Sweeps over the number of points
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A table of networks over a grid of full x remote counts.

    ``table`` has one row per grid point: ``full_points``, ``remote_points``,
    ``status``, ``gap``, ``seconds``, access figures (``mean_minutes_any``,
    ``mean_minutes_full``, ``p90_minutes_any``, ``share_within_60``), travel
    (``person_km``, ``t_co2``) and annual costs (``site_cost_eur``,
    ``travel_time_cost_eur``, ``co2_cost_eur``, ``total_cost_eur``).
    """

    scenario: Scenario
    region: str
    region_name: str
    table: pd.DataFrame

    def plot(self) -> Figure:
        """Plot mean travel time and CO2 against the number of points and the cost."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 8), layout="constrained")
        axes = fig.subplots(2, 2)
        ok = self.table[self.table["status"].isin(["optimal", "time_limit"])]
        ok = ok.assign(points=ok["full_points"] + ok["remote_points"])
        for full, group in ok.groupby("full_points"):
            group = group.sort_values("remote_points")
            label = f"{full} full point{'s' if full != 1 else ''}"
            for row, column, ylabel in (
                (0, "mean_minutes_any", "mean travel time to nearest point (min)"),
                (1, "t_co2", "CO2 from trips (t / year)"),
            ):
                axes[row, 0].plot(group["points"], group[column], marker="o", label=label)
                axes[row, 1].plot(
                    group["total_cost_eur"] / 1e6, group[column], marker="o", label=label
                )
                axes[row, 0].set_ylabel(ylabel)
        for ax in axes[1]:
            ax.set_xlabel("")
        axes[1, 0].set_xlabel("service points (full + remote)")
        axes[1, 1].set_xlabel("annual cost: sites + travel time + CO2 (M€)")
        for ax in axes.flat:
            ax.grid(alpha=0.3)
        axes[0, 0].legend(title="remote points added along each line")
        fig.suptitle(f"{self.region_name}: {self.scenario.name} — trade-off of the network size")
        return fig

    def write(self, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``sweep.csv`` and ``sweep.png`` atomically into ``out_dir``."""
        folder = _writable_folder(Path(out_dir))
        csv_path, png_path = folder / "sweep.csv", folder / "sweep.png"
        with atomic_path(csv_path) as tmp:
            self.table.to_csv(tmp, index=False)
        with atomic_path(png_path) as tmp:
            self.plot().savefig(tmp, dpi=150)
        return csv_path, png_path


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    *,
    full_points: Sequence[int] | None = None,
    remote_points: Sequence[int] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Solve a scenario for every combination of full and remote counts.

    The region and travel times are computed once. Combinations that cannot
    hold the required sites are listed with status ``"infeasible"``.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a file, or a shipped scenario's name.
    full_points, remote_points
        Counts to try (default: 1..3 full x 0..8 remote points).
    settings
        Environment defaults.
    progress
        Called with a description of each step.

    Returns
    -------
    SweepResult
        The table; ``.plot()`` draws the trade-off, ``.write(folder)`` saves
        ``sweep.csv`` and ``sweep.png``.
    """
    import pandas as pd

    settings = settings or get_settings()
    scenario = _as_scenario(scenario, settings)
    problem = _prepare(scenario, settings, progress)
    fulls = list(full_points) if full_points is not None else [1, 2, 3]
    remotes = list(remote_points) if remote_points is not None else list(range(9))
    n_sites = len(problem.site_ids)
    net = scenario.network
    rows = []
    for nf in fulls:
        for nr in remotes:
            _report(progress, f"solving {nf} full + {nr} remote points")
            row: dict[str, Any] = {"full_points": nf, "remote_points": nr}
            too_many = nf + nr > n_sites - len(problem.forbidden)
            if (
                nf < len(problem.required)
                or nr < len(problem.required_remote)
                or too_many
                or nf < 1
            ):
                rows.append({**row, "status": "infeasible"})
                continue
            try:
                choice = _solve(
                    problem, full_points=(nf, nf), remote_points=(nr, nr), settings=settings
                )
            except InfeasibleError:
                rows.append({**row, "status": "infeasible"})
                continue
            est = estimate_network(
                problem.population,
                problem.visits,
                problem.minutes,
                problem.km,
                full=choice.full,
                remote=choice.remote,
                assign_full=choice.assign_full,
                assign_any=choice.assign_any,
                travel=problem.travel,
                full_point_cost=net.full_point_annual_cost_eur,
                remote_point_cost=net.remote_point_annual_cost_eur,
            )
            rows.append(
                {
                    **row,
                    "status": choice.status,
                    "gap": choice.gap,
                    "seconds": choice.seconds,
                    "mean_minutes_any": est.to_any.mean_minutes,
                    "mean_minutes_full": est.to_full.mean_minutes,
                    "p90_minutes_any": est.to_any.p90_minutes,
                    "share_within_60": est.to_any.share_within_60,
                    "person_km": est.travel.person_km,
                    "t_co2": est.travel.t_co2,
                    "site_cost_eur": est.costs.sites_eur,
                    "travel_time_cost_eur": est.costs.travel_time_eur,
                    "co2_cost_eur": est.costs.co2_eur,
                    "total_cost_eur": est.costs.total_eur,
                    "full_sites": ";".join(problem.site_ids[k] for k in choice.full),
                    "remote_sites": ";".join(problem.site_ids[k] for k in choice.remote),
                }
            )
    return SweepResult(
        scenario=scenario,
        region=problem.region.slug,
        region_name=problem.region.name,
        table=pd.DataFrame(rows),
    )

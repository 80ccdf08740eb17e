"""The base class of the location models: shared parameters, constructors and ``solve``.

Each model is a keyword-only dataclass: it declares its own parameters as
fields, and the base declares the ones every model shares (the cost matrix,
required and forbidden sites, ids, row groups). So ``inspect.signature`` of a
model class lists exactly what it accepts, and the three constructors
(:meth:`~LocationModel.from_cost_matrix`, :meth:`~LocationModel.from_travel_times`,
:meth:`~LocationModel.from_region`) are written once, here.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError, InfeasibleError, SolverError
from optimizer.models._backends import write_milp
from optimizer.models._inputs import (
    TravelTimeParts,
    TravelTimesLike,
    as_cost_matrix,
    as_ids,
    as_weights,
    check_p_value,
    check_required_forbidden,
    demand_names,
    region_site_column,
    region_weights_and_required,
    resolve_sites,
    site_names,
    travel_time_parts,
)
from optimizer.models._milp import Milp
from optimizer.models.solution import DEFAULT_MIP_GAP, Solution, relative_gap, status_of

__all__ = ["LocationModel", "Method", "SolverName"]

logger = logging.getLogger(__name__)

SolverName = Literal["highs", "cbc"]
#: Exact engine of :meth:`LocationModel.solve`.
Method = Literal["auto", "compact", "benders"]
_METHODS = ("auto", "compact", "benders")

#: Rows or sites listed in an :class:`InfeasibleError` at most.
_MAX_LISTED = 1000

#: Site parameters read from ``region.sites`` for which a missing value means "unlimited".
_UNLIMITED_IF_MISSING = frozenset({"capacities"})


@dataclass
class SolveContext:
    """Per-call solve settings and clock."""

    solver: SolverName
    time_limit: float | None
    mip_gap: float
    warm_start: bool
    method: Method = "auto"
    t0: float = field(default_factory=time.perf_counter)

    def elapsed(self) -> float:
        """Seconds since the call started."""
        return time.perf_counter() - self.t0

    def remaining(self) -> float | None:
        """Seconds left (``None`` without a limit)."""
        if self.time_limit is None:
            return None
        return max(self.time_limit - self.elapsed(), 0.0)

    def out_of_time(self) -> bool:
        """Whether the time limit has passed."""
        rem = self.remaining()
        return rem is not None and rem <= 0.0


@dataclass
class Outcome:
    """A model's raw result before it becomes a :class:`Solution`.

    ``proven`` records whether the method claims optimality; the status of the
    :class:`Solution` is decided from the recomputed objective and the bound.
    """

    x_sites: NDArray[np.float64]
    bound: float
    proven: bool


@dataclass(eq=False, repr=False, kw_only=True)
class LocationModel:
    """Base class of all location models.

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` non-negative costs (minutes, or money); ``np.inf``
        marks pairs that cannot be served.
    required
        Sites that must be open: column indices, a boolean mask, or ids from
        ``site_ids``.
    forbidden
        Sites that must stay closed (same forms as ``required``).
    site_ids, demand_ids
        Optional ids (unique), reported in the solution and in error messages.
    origin_groups
        Optional label per demand row; rows with the same label must differ by
        a constant (e.g. cells snapped to one road node, as the travel-time
        engine reports them). The claim is verified and such rows are merged.

    Notes
    -----
    Every model adds its own parameters (see its docstring);
    :meth:`parameters` lists them all. A model is built with its class (the
    same as :meth:`from_cost_matrix`), from a travel-time result
    (:meth:`from_travel_times`) or for a region bundle (:meth:`from_region`),
    and solved with :meth:`solve`.
    """

    #: Human-readable model name, set by subclasses.
    name: ClassVar[str] = "model"
    #: Whether the objective is maximised.
    maximize: ClassVar[bool] = False
    #: Exact engines besides ``"auto"`` that :meth:`solve` accepts.
    methods: ClassVar[tuple[str, ...]] = ("compact",)
    #: Site parameters that :meth:`from_region` may read from ``region.sites``:
    #: parameter name -> default column (``None``: only when given as a column name).
    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType({})
    #: The result type of :meth:`solve` (a model with more results returns a subclass).
    solution_type: ClassVar[type[Solution]] = Solution

    cost: ArrayLike = field(kw_only=False)
    required: ArrayLike | None = None
    forbidden: ArrayLike | None = None
    site_ids: Sequence[Any] | None = None
    demand_ids: Sequence[Any] | None = None
    origin_groups: ArrayLike | None = None

    def __post_init__(self) -> None:
        self.cost = as_cost_matrix(self.cost)
        n, m = self.cost.shape
        self.n_demand, self.n_sites = n, m
        self.site_ids = as_ids(self.site_ids, m, name="site_ids")
        self.demand_ids = as_ids(self.demand_ids, n, name="demand_ids")
        self.required = resolve_sites(self.required, m, self.site_ids, name="required")
        self.forbidden = resolve_sites(self.forbidden, m, self.site_ids, name="forbidden")
        check_required_forbidden(self.required, self.forbidden, self.site_ids)
        if self.origin_groups is not None:
            groups = np.asarray(self.origin_groups).reshape(-1)
            if groups.shape != (n,):
                raise DataError(f"origin_groups must have one label per demand row ({n})")
            self.origin_groups = groups
        allowed = np.ones(m, dtype=bool)
        allowed[self.forbidden] = False
        self.allowed = allowed
        self.allowed_cols = np.nonzero(allowed)[0]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.n_demand} demand rows x {self.n_sites} sites)"

    # constructors ------------------------------------------------------------------------

    @classmethod
    def parameters(cls) -> Mapping[str, inspect.Parameter]:
        """Return the keyword parameters of the model (all but ``cost``), by name.

        A parameter whose ``default`` is ``inspect.Parameter.empty`` must be given.
        """
        params = inspect.signature(cls).parameters
        return MappingProxyType({k: v for k, v in params.items() if k != "cost"})

    @classmethod
    def from_cost_matrix(cls, cost: ArrayLike, **params: Any) -> Self:
        """Build the model from a demand x site cost matrix.

        Parameters
        ----------
        cost
            ``n_demand x n_sites`` non-negative costs; ``np.inf`` marks pairs
            that cannot be served.
        **params
            The model's parameters (see the class docstring and :meth:`parameters`).

        Returns
        -------
        LocationModel
            The model, of the class it is called on.
        """
        return cls(cost, **params)

    @classmethod
    def from_travel_times(cls, matrix: TravelTimesLike, **params: Any) -> Self:
        """Build the model from a travel-time result.

        ``matrix`` needs ``minutes`` (demand x sites, ``inf`` = unreachable),
        ``origin_ids`` and ``destination_ids``, and may have ``origin_groups``;
        the ids become ``demand_ids`` and ``site_ids``, so sites in
        ``required``/``forbidden`` may be given as destination ids.

        Parameters
        ----------
        matrix
            The travel-time result (e.g. from
            :func:`~optimizer.traveltimes.travel_time_matrix`).
        **params
            The model's parameters except the ids and groups (see the class
            docstring).

        Returns
        -------
        LocationModel
        """
        parts = travel_time_parts(matrix)
        cost = cls._travel_time_cost(parts, params)
        return cls(
            cost,
            site_ids=parts.destination_ids,
            demand_ids=parts.origin_ids,
            origin_groups=parts.groups,
            **params,
        )

    @classmethod
    def from_region(cls, region: Any, matrix: TravelTimesLike, **params: Any) -> Self:
        """Build the model for a region bundle and a travel-time result for it.

        The demand of each matrix row is the population of that cell
        (``region.population["population"]``); sites flagged ``required`` in
        ``region.sites`` are required (with any given in ``required``). Site
        parameters listed in the class's ``site_columns`` may be given as the
        name of a column of ``region.sites`` and default to the column named
        there. See the class docstring for the other region options.

        Parameters
        ----------
        region
            A :class:`~optimizer.region.Region` (anything with ``population``
            and ``sites`` tables and a ``name``).
        matrix
            Travel times from the region's cells (rows) to its sites (columns).
        **params
            The model's parameters, as in :meth:`from_travel_times`.

        Returns
        -------
        LocationModel
        """
        parts = travel_time_parts(matrix)
        population, required = region_weights_and_required(
            region, parts.origin_ids, parts.destination_ids
        )
        extra = params.pop("required", None)
        params["required"] = list(dict.fromkeys([*required, *list(extra or [])]))
        for key, default_column in cls.site_columns.items():
            column = params.get(key, default_column)
            if isinstance(column, str):
                params[key] = _site_column(region, parts.destination_ids, column, key)
        cls._region_demand(population, params)
        return cls.from_travel_times(matrix, **params)

    @classmethod
    def _travel_time_cost(cls, parts: TravelTimeParts, params: dict[str, Any]) -> Any:
        """Cost matrix from a travel-time result (hook; may consume options in ``params``)."""
        return parts.minutes

    @classmethod
    def _region_demand(cls, population: NDArray[np.float64], params: dict[str, Any]) -> None:
        """Set the demand parameters in ``params`` from the population per row (hook)."""
        raise NotImplementedError  # pragma: no cover - overridden

    # solving -----------------------------------------------------------------------------

    def solve(
        self,
        *,
        solver: SolverName | None = None,
        time_limit: float | None = None,
        mip_gap: float | None = None,
        warm_start: bool = True,
        method: Method = "auto",
    ) -> Solution:
        """Solve the model.

        Parameters
        ----------
        solver
            ``"highs"`` (highspy) or ``"cbc"`` (bundled with PuLP); ``None``
            uses ``optimizer.settings.get_settings().solver``.
        time_limit
            Wall-clock seconds for the whole call, including heuristics. When
            it runs out, the best solution found so far is returned with its
            gap and status ``"time_limit"``.
        mip_gap
            Relative optimality gap at which to stop (default
            :data:`~optimizer.models.solution.DEFAULT_MIP_GAP` = ``1e-4``). A
            solve that stops there with a positive gap reports status
            ``"gap_limit"``; ``"optimal"`` means the gap closed to zero. Pass
            ``0`` to ask for a proof of optimality.
        warm_start
            Run the construction and local-search heuristics and give their
            solution to the solver as a start (and, on the HiGHS path, use it
            to remove sites that cannot be in a better solution).
        method
            ``"auto"`` (default: the engine that suits the instance),
            ``"compact"`` (one MILP of the whole formulation, with either
            solver) or ``"benders"`` (Benders decomposition with HiGHS; only
            for the models whose ``methods`` include it: the median models
            :class:`~optimizer.models.PMedian`,
            :class:`~optimizer.models.FixedCharge` and
            :class:`~optimizer.models.TwoTier`).

        Returns
        -------
        Solution
            The best solution found, its proven bound and status.

        Raises
        ------
        DataError
            If an option is not allowed (e.g. ``method="benders"`` for a model
            without that engine, or with CBC).
        InfeasibleError
            If the model has no feasible solution.
        SolverError
            If the solver fails or finds no solution within the time limit.
        """
        if solver is None:
            from optimizer.settings import get_settings

            solver = get_settings().solver
        if solver not in ("highs", "cbc"):
            raise SolverError(f"unknown solver {solver!r}; allowed: 'highs', 'cbc'")
        if time_limit is not None and not time_limit > 0:
            raise DataError(f"time_limit must be > 0 seconds; got {time_limit}")
        gap = DEFAULT_MIP_GAP if mip_gap is None else float(mip_gap)
        if not 0 <= gap < 1:
            raise DataError(f"mip_gap must be in [0, 1); got {mip_gap}")
        self._check_method(method, solver)
        ctx = SolveContext(solver, time_limit, gap, warm_start, method)
        self._check_feasible()
        outcome = self._solve(ctx)
        return self._finish(outcome, ctx)

    def _check_method(self, method: str, solver: str) -> None:
        if method not in _METHODS:
            raise DataError(f"method must be one of {_METHODS}; got {method!r}")
        if method not in ("auto", *self.methods):
            allowed = ", ".join(repr(m) for m in ("auto", *self.methods))
            raise DataError(f"{self.name} has no {method!r} engine; use method = {allowed}")
        if method == "benders" and solver != "highs":
            raise DataError("method='benders' needs solver='highs'; use method='compact' with CBC")

    def write_mps(self, path: str | os.PathLike[str]) -> None:
        """Write the full MILP (compact formulation) to an MPS file."""
        self._write(path, ".mps")

    def write_lp(self, path: str | os.PathLike[str]) -> None:
        """Write the full MILP (compact formulation) to a CPLEX LP file."""
        self._write(path, ".lp")

    def _write(self, path: str | os.PathLike[str], suffix: str) -> None:
        p = os.fspath(path)
        if not p.endswith(suffix):
            raise DataError(f"file name {p!r} must end in {suffix}")
        self._check_feasible()
        write_milp(self._full_milp(), p)

    # feasibility checks ------------------------------------------------------------------

    def _infeasible(
        self,
        message: str,
        *,
        parameter: str | None,
        rows: ArrayLike = (),
        sites: ArrayLike = (),
    ) -> InfeasibleError:
        """Build the :class:`InfeasibleError` for ``message`` (prefixed with the model name)."""
        return InfeasibleError(
            f"{self.name}: {message}",
            parameter=parameter,
            rows=tuple(np.asarray(rows, dtype=np.int64).reshape(-1)[:_MAX_LISTED].tolist()),
            sites=tuple(np.asarray(sites, dtype=np.int64).reshape(-1)[:_MAX_LISTED].tolist()),
        )

    def _check_count(self, p: int, *, parameter: str = "p") -> None:
        """``p`` sites must hold the required ones and fit among the allowed ones."""
        if self.required.size > p:
            raise self._infeasible(
                f"{self.required.size} required sites but {parameter} = {p}; raise {parameter} "
                f"to at least {self.required.size} or drop required sites "
                f"({site_names(self.required, self.site_ids)})",
                parameter=parameter,
                sites=self.required,
            )
        if self.allowed_cols.size < p:
            raise self._infeasible(
                f"{parameter} = {p} but only {self.allowed_cols.size} sites are not "
                f"forbidden; lower {parameter} or allow more sites",
                parameter=parameter,
                sites=self.forbidden,
            )

    def _check_reachable(self, demand: NDArray[np.bool_]) -> None:
        """Every row in ``demand`` must reach some allowed site (a finite cost)."""
        cols = self.allowed_cols
        reach = np.isfinite(self.cost[:, cols]).any(axis=1) if cols.size else ~demand
        bad = np.nonzero(demand & ~reach)[0]
        if bad.size == 0:
            return
        # blame the forbidden sites when they are what the rows could reach
        blamed = "forbidden" if np.isfinite(self.cost[bad]).any() else "cost"
        raise self._infeasible(
            f"{demand_names(bad, self.demand_ids)} cannot reach any allowed site (all their "
            "travel costs to sites that are not forbidden are inf); drop these rows, give "
            "them zero demand, or allow a site they can reach",
            parameter=blamed,
            rows=bad,
        )

    # hooks -------------------------------------------------------------------------------

    def _check_feasible(self) -> None:  # pragma: no cover - overridden
        """Raise :class:`InfeasibleError` for infeasibility found before solving."""

    def _solve(self, ctx: SolveContext) -> Outcome:  # pragma: no cover - overridden
        raise NotImplementedError

    def _full_milp(self) -> Milp:  # pragma: no cover - overridden
        raise NotImplementedError

    def _solution_fields(self, x_sites: NDArray[np.float64]) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def _finish(self, outcome: Outcome, ctx: SolveContext) -> Solution:
        fields = self._solution_fields(outcome.x_sites)
        objective = float(fields.pop("objective"))
        if not math.isfinite(objective):
            raise SolverError(
                f"{self.name}: the solver returned a solution that leaves demand unserved; "
                "this is a bug, please report it"
            )
        bound = float(outcome.bound)
        if self.maximize:
            bound = max(bound, objective) if math.isfinite(bound) else math.inf
        else:
            bound = min(bound, objective) if math.isfinite(bound) else -math.inf
        sol = self._solution(
            fields,
            objective=objective,
            bound=bound,
            seconds=ctx.elapsed(),
            solver=ctx.solver,
            mip_gap=ctx.mip_gap,
        )
        logger.info(
            "%s: %s objective=%.6g bound=%.6g gap=%.3g%% in %.2fs (%s)",
            self.name,
            sol.status,
            objective,
            bound,
            100 * sol.gap if math.isfinite(sol.gap) else math.inf,
            sol.seconds,
            ctx.solver,
        )
        return sol

    def _solution(
        self,
        fields: dict[str, Any],
        *,
        objective: float,
        bound: float,
        seconds: float,
        solver: str,
        mip_gap: float = 0.0,
        model: str | None = None,
    ) -> Solution:
        """Return a :attr:`solution_type` of ``fields`` (from :meth:`_solution_fields`).

        The gap follows from ``objective`` and ``bound``, the status from the
        gap and the ``mip_gap`` asked for; ``model`` defaults to the model's name.
        """
        gap = relative_gap(objective, bound)
        return self.solution_type(
            model=self.name if model is None else model,
            status=status_of(gap, mip_gap),
            objective=objective,
            bound=bound,
            gap=gap,
            seconds=seconds,
            solver=solver,
            site_ids=self.site_ids,
            demand_ids=self.demand_ids,
            **fields,
        )

    def _site_fields(
        self, cols: NDArray[np.int64], *, tiers: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """``open_sites``, ``open_site_ids`` and ``tiers`` of the open columns ``cols``.

        ``tiers`` gives the tier of each of the sorted ``cols`` (default: all ``"full"``).
        """
        cols = np.sort(np.asarray(cols, dtype=np.int64))
        return {
            "open_sites": tuple(int(j) for j in cols),
            "open_site_ids": None
            if self.site_ids is None
            else tuple(self.site_ids[j] for j in cols),
            "tiers": tuple("full" for _ in cols) if tiers is None else tiers,
        }


@dataclass(eq=False, repr=False, kw_only=True)
class SingleTierModel(LocationModel):
    """A model with one demand weight per row (every model but the two-tier one).

    Parameters
    ----------
    weights
        Demand per row (default 1 each), finite and ``>= 0``. Rows with zero
        weight do not count in the objective but are still assigned.
    """

    weights: ArrayLike | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.weights = as_weights(self.weights, self.n_demand)

    def _check_feasible(self) -> None:
        if self.allowed_cols.size == 0:
            raise self._infeasible(
                "every site is forbidden; allow at least one site",
                parameter="forbidden",
                sites=self.forbidden,
            )
        self._check_reachable(self.weights > 0)

    @classmethod
    def _region_demand(cls, population: NDArray[np.float64], params: dict[str, Any]) -> None:
        """Weights are the population times ``weight_scale`` (default 1)."""
        scale = float(params.pop("weight_scale", 1.0))
        if not (math.isfinite(scale) and scale >= 0):
            raise DataError(f"weight_scale must be finite and >= 0; got {scale}")
        params.setdefault("weights", population * scale)


@dataclass(eq=False, repr=False, kw_only=True)
class FixedCountModel(SingleTierModel):
    """A single-tier model that opens exactly ``p`` sites.

    Parameters
    ----------
    p
        Number of sites to open (exactly).
    """

    p: int

    def __post_init__(self) -> None:
        super().__post_init__()
        self.p = check_p_value(self.p)

    def _check_feasible(self) -> None:
        self._check_count(self.p)
        super()._check_feasible()


def _site_column(
    region: Any, destination_ids: tuple[Any, ...], column: str, parameter: str
) -> NDArray[np.float64]:
    """Read ``region.sites[column]`` for the matrix destinations as a model parameter."""
    if column not in region.sites.columns:
        raise DataError(
            f"region {region.name!r}: {parameter}={column!r} names no column of sites; "
            f"columns are {list(region.sites.columns)}"
        )
    values = region_site_column(region, destination_ids, column)
    if parameter not in _UNLIMITED_IF_MISSING and not np.isfinite(values).all():
        unknown = [d for d, v in zip(destination_ids, values, strict=True) if not np.isfinite(v)]
        raise DataError(
            f"region {region.name!r}: {column} is unknown for sites {unknown[:5]}; "
            f"fill it in the region's sites or pass numeric {parameter}="
        )
    return values


def raise_no_solution(name: str, ctx: SolveContext) -> None:
    """Raise the error for a run that found no feasible solution at all."""
    limit = f" within the time limit of {ctx.time_limit:g} s" if ctx.time_limit else ""
    raise SolverError(
        f"{name}: {ctx.solver} found no feasible solution{limit}; "
        "raise time_limit or keep warm_start=True"
    )


def raise_solver_infeasible(name: str, detail: str = "") -> None:
    """Raise the error for a model the solver proved infeasible."""
    raise InfeasibleError(
        f"{name}: the solver proved the model infeasible{detail}; check the counts, "
        "budgets, required sites and coverage standard"
    )


def nearest_open(
    cost: NDArray[np.float64], open_cols: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest open column per row (lowest index on ties) and its cost (-1/inf if none)."""
    n = cost.shape[0]
    if open_cols.size == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    cols = np.sort(open_cols)
    sub = cost[:, cols]
    k = np.argmin(sub, axis=1)
    d = sub[np.arange(n), k]
    a = np.where(np.isfinite(d), cols[k], -1).astype(np.int64)
    return a, d

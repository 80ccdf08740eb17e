"""Shared pieces of the location models: solution type, input checks, MILP container.

Every model builds its mixed-integer program as plain numpy/scipy arrays in a
:class:`_Milp` and hands it to one of two back ends:

* HiGHS through ``highspy``: the arrays go straight into ``Highs.passModel``
  (no Python-level model building), and
* CBC through PuLP, the portable path, which builds a PuLP model from the same
  arrays.

The same arrays are written to MPS/LP files by ``write_mps``/``write_lp``.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError, InfeasibleError, SolverError

__all__ = [
    "LocationModel",
    "Solution",
    "SolverName",
    "Status",
    "TravelTimesLike",
]

logger = logging.getLogger(__name__)

Status = Literal["optimal", "time_limit", "infeasible"]
SolverName = Literal["highs", "cbc"]

#: Relative tolerance used when comparing objective values and bounds.
_REL_TOL = 1e-9


@runtime_checkable
class TravelTimesLike(Protocol):
    """What the geographic constructors need from a travel-time result.

    Any object with these attributes works (the travel-time engine's result
    type is one). ``origin_groups`` is optional: when present it labels the
    demand rows that share a road node; such rows differ only by a constant,
    which lets the models aggregate them exactly.
    """

    minutes: NDArray[np.float64]
    origin_ids: Sequence[Any]
    destination_ids: Sequence[Any]


@dataclass(frozen=True, eq=False)
class Solution:
    """The result of :meth:`LocationModel.solve`.

    Attributes
    ----------
    model
        Name of the model, e.g. ``"p-median"``.
    status
        ``"optimal"`` when the gap is within the requested ``mip_gap``;
        ``"time_limit"`` when the time limit stopped the search first (the best
        solution found is returned with its gap); ``"infeasible"`` is reserved
        for infeasible models, for which ``solve`` raises
        :class:`~optimizer.errors.InfeasibleError` instead of returning.
    objective
        Objective value of the returned solution, recomputed from the input
        data (not the solver's internal value).
    bound
        Best proven bound on the optimal objective (a lower bound when
        minimising, an upper bound when maximising).
    gap
        ``|objective - bound| / |objective|`` (0 when both are 0).
    seconds
        Wall-clock seconds spent in ``solve``.
    solver
        ``"highs"`` or ``"cbc"``.
    open_sites
        Column indices of the open sites, ascending.
    open_site_ids
        Ids of the open sites when the model was given ``site_ids``.
    tiers
        Tier of each open site (aligned with ``open_sites``): ``"full"`` or
        ``"remote"``. Single-tier models report ``"full"`` for every site.
    assignment
        For each demand row, the column index of the site that serves it:
        the nearest open site (for :class:`~optimizer.models.TwoTier` the
        nearest open *full* site, which takes the in-person visits; for the
        capacitated models the assigned site). ``-1`` when no open site can
        reach the row.
    assignment_any
        For each demand row, the nearest open site of any tier (equals
        ``assignment`` for single-tier models).
    covered
        For coverage models, whether each demand row is within the standard
        of an open site; ``None`` otherwise.
    breakdown
        Objective components, e.g. ``{"travel": ..., "site_cost": ...}``.
    site_ids, demand_ids
        The ids the model was built with, if any.
    """

    model: str
    status: Status
    objective: float
    bound: float
    gap: float
    seconds: float
    solver: str
    open_sites: tuple[int, ...]
    open_site_ids: tuple[Any, ...] | None
    tiers: tuple[str, ...]
    assignment: NDArray[np.int64]
    assignment_any: NDArray[np.int64]
    covered: NDArray[np.bool_] | None = None
    breakdown: Mapping[str, float] = field(default_factory=dict)
    site_ids: tuple[Any, ...] | None = None
    demand_ids: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("assignment", "assignment_any", "covered"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.array(arr, copy=True)
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)
        object.__setattr__(self, "breakdown", MappingProxyType(dict(self.breakdown)))

    @property
    def is_optimal(self) -> bool:
        """Whether the solution is proven optimal within the requested gap."""
        return self.status == "optimal"

    def sites_of_tier(self, tier: str) -> tuple[int, ...]:
        """Column indices of the open sites of one tier (``"full"`` or ``"remote"``)."""
        return tuple(j for j, t in zip(self.open_sites, self.tiers, strict=True) if t == tier)

    def assigned_ids(self, *, any_tier: bool = False) -> list[Any]:
        """Site id serving each demand row (``None`` where unassigned).

        Parameters
        ----------
        any_tier
            Use ``assignment_any`` instead of ``assignment``.
        """
        if self.site_ids is None:
            raise DataError("assigned_ids() needs site ids; build the model with site_ids=...")
        arr = self.assignment_any if any_tier else self.assignment
        return [self.site_ids[j] if j >= 0 else None for j in arr]


def relative_gap(objective: float, bound: float) -> float:
    """Return ``|objective - bound| / |objective|`` with the conventions of :class:`Solution`."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(objective - bound)
    if diff <= 1e-12 * max(1.0, abs(objective)):
        return 0.0
    if objective == 0:
        return math.inf
    return diff / abs(objective)


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def as_cost_matrix(cost: ArrayLike, *, name: str = "cost") -> NDArray[np.float64]:
    """Validate a demand x site cost matrix (non-negative, ``np.inf`` = unreachable)."""
    arr = np.asarray(cost, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(
            f"{name} must be a non-empty 2-D array (demand rows x site columns); "
            f"got shape {arr.shape}"
        )
    if np.isnan(arr).any():
        rows = np.unique(np.nonzero(np.isnan(arr))[0])[:5].tolist()
        raise DataError(
            f"{name} contains NaN (first rows {rows}); use np.inf for unreachable pairs"
        )
    if (arr < 0).any():
        rows = np.unique(np.nonzero(arr < 0)[0])[:5].tolist()
        raise DataError(f"{name} must be >= 0 (negative values in rows {rows})")
    return np.ascontiguousarray(arr)


def as_weights(weights: ArrayLike | None, n: int, *, name: str = "weights") -> NDArray[np.float64]:
    """Validate per-demand weights (finite, ``>= 0``); ``None`` means all ones."""
    if weights is None:
        return np.ones(n)
    arr = np.asarray(weights, dtype=np.float64).reshape(-1)
    if arr.shape != (n,):
        raise DataError(f"{name} must have one value per demand row ({n}); got {arr.shape[0]}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        bad = np.nonzero(~np.isfinite(arr) | (arr < 0))[0][:5].tolist()
        raise DataError(f"{name} must be finite and >= 0 (bad rows {bad})")
    return arr


def as_site_values(
    values: ArrayLike | float | None,
    m: int,
    *,
    name: str,
    default: float = 0.0,
    allow_inf: bool = False,
) -> NDArray[np.float64]:
    """Validate a per-site array (a scalar is broadcast)."""
    if values is None:
        return np.full(m, float(default))
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(m, float(arr))
    arr = arr.reshape(-1)
    if arr.shape != (m,):
        raise DataError(f"{name} must have one value per site ({m}); got {arr.shape[0]}")
    ok = np.isfinite(arr) | (allow_inf & np.isposinf(arr))
    if not ok.all() or (arr < 0).any():
        bad = np.nonzero(~ok | (arr < 0))[0][:5].tolist()
        allowed = "finite or inf" if allow_inf else "finite"
        raise DataError(f"{name} must be {allowed} and >= 0 (bad sites {bad})")
    return arr


def as_ids(ids: Sequence[Any] | None, size: int, *, name: str) -> tuple[Any, ...] | None:
    """Validate optional ids (one per row/column, unique)."""
    if ids is None:
        return None
    out = tuple(ids)
    if len(out) != size:
        raise DataError(f"{name} must have {size} entries; got {len(out)}")
    if len(set(out)) != len(out):
        raise DataError(f"{name} must be unique")
    return out


def resolve_sites(
    spec: ArrayLike | None,
    m: int,
    site_ids: tuple[Any, ...] | None,
    *,
    name: str,
) -> NDArray[np.int64]:
    """Turn a site selection into sorted unique column indices.

    ``spec`` may be ``None``, a boolean mask of length ``m``, column indices,
    or (when the model has ``site_ids``) site ids.
    """
    if spec is None:
        return np.zeros(0, dtype=np.int64)
    items = list(spec.tolist() if isinstance(spec, np.ndarray) else spec)
    if not items:
        return np.zeros(0, dtype=np.int64)
    if len(items) == m and all(isinstance(v, bool | np.bool_) for v in items):
        return np.nonzero(np.asarray(items, dtype=bool))[0].astype(np.int64)
    if site_ids is not None and all(v in _id_index(site_ids) for v in items):
        index = _id_index(site_ids)
        cols = [index[v] for v in items]
    elif all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items):
        cols = [int(v) for v in items]
        bad = [c for c in cols if not 0 <= c < m]
        if bad:
            raise DataError(f"{name}: column indices {bad[:5]} are outside 0..{m - 1}")
    else:
        unknown = [v for v in items if site_ids is None or v not in _id_index(site_ids)]
        raise DataError(
            f"{name}: unknown sites {unknown[:5]}; pass column indices, a boolean mask, "
            "or ids from site_ids"
        )
    return np.unique(np.asarray(cols, dtype=np.int64))


def _id_index(ids: tuple[Any, ...]) -> dict[Any, int]:
    return {v: i for i, v in enumerate(ids)}


def demand_names(
    rows: NDArray[np.int64], demand_ids: tuple[Any, ...] | None, limit: int = 10
) -> str:
    """Format demand rows for an error message (ids when known)."""
    shown = rows[:limit].tolist()
    names = [demand_ids[r] for r in shown] if demand_ids is not None else shown
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    label = "demand ids" if demand_ids is not None else "demand rows"
    return f"{label} {names}{more}"


def site_names(cols: NDArray[np.int64], site_ids: tuple[Any, ...] | None, limit: int = 10) -> str:
    """Format site columns for an error message (ids when known)."""
    shown = np.asarray(cols)[:limit].tolist()
    names = [site_ids[c] for c in shown] if site_ids is not None else shown
    more = f" and {len(cols) - limit} more" if len(cols) > limit else ""
    label = "site ids" if site_ids is not None else "site columns"
    return f"{label} {names}{more}"


def check_required_forbidden(
    required: NDArray[np.int64], forbidden: NDArray[np.int64], site_ids: tuple[Any, ...] | None
) -> None:
    """Raise if a site is both required and forbidden."""
    both = np.intersect1d(required, forbidden)
    if both.size:
        raise DataError(
            f"{site_names(both, site_ids)} are both required and forbidden; "
            "remove them from one of the two lists"
        )


def travel_time_parts(
    matrix: Any,
) -> tuple[NDArray[np.float64], tuple[Any, ...], tuple[Any, ...], NDArray[np.int64] | None]:
    """Read ``minutes``, ids and optional ``origin_groups`` from a travel-time result."""
    missing = [a for a in ("minutes", "origin_ids", "destination_ids") if not hasattr(matrix, a)]
    if missing:
        raise DataError(
            f"travel-time matrix lacks attribute(s) {missing}; expected an object with "
            "minutes (n_demand x n_sites), origin_ids, destination_ids and optional origin_groups"
        )
    minutes = as_cost_matrix(matrix.minutes, name="matrix.minutes")
    origin_ids = tuple(matrix.origin_ids)
    destination_ids = tuple(matrix.destination_ids)
    n, m = minutes.shape
    if len(origin_ids) != n or len(destination_ids) != m:
        raise DataError(
            f"matrix.minutes has shape {minutes.shape} but there are {len(origin_ids)} "
            f"origin_ids and {len(destination_ids)} destination_ids"
        )
    groups = getattr(matrix, "origin_groups", None)
    if groups is not None:
        groups = np.asarray(groups).reshape(-1)
        if groups.shape != (n,):
            raise DataError(f"matrix.origin_groups must have {n} labels; got {groups.shape[0]}")
        groups = np.unique(groups, return_inverse=True)[1].astype(np.int64)
    return minutes, origin_ids, destination_ids, groups


def region_weights_and_required(
    region: Any, origin_ids: tuple[Any, ...], destination_ids: tuple[Any, ...]
) -> tuple[NDArray[np.float64], list[Any]]:
    """Return the population per matrix row and the required site ids of a region."""
    pop = region.population["population"]
    missing = [o for o in origin_ids if o not in pop.index]
    if missing:
        raise DataError(
            f"matrix origin_ids {missing[:5]} are not cells of region {region.name!r}; "
            "compute the travel-time matrix from this region's population grid"
        )
    weights = pop.reindex(list(origin_ids)).to_numpy(dtype=np.float64)
    sites = region.sites
    unknown = [d for d in destination_ids if d not in sites.index]
    if unknown:
        raise DataError(
            f"matrix destination_ids {unknown[:5]} are not sites of region {region.name!r}"
        )
    required = list(sites.index[sites["required"].astype(bool)])
    absent = [s for s in required if s not in set(destination_ids)]
    if absent:
        raise DataError(
            f"required sites {absent[:5]} of region {region.name!r} are missing from the "
            "travel-time matrix destinations; include every required site"
        )
    return weights, required


def region_site_column(
    region: Any, destination_ids: tuple[Any, ...], column: str
) -> NDArray[np.float64]:
    """One numeric column of ``region.sites`` in matrix destination order."""
    return region.sites[column].reindex(list(destination_ids)).to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------------------
# row aggregation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowGroups:
    """Demand rows grouped so that each row equals its representative plus a constant.

    Attributes
    ----------
    rep
        Row index of each group's representative.
    inverse
        Group of each original row.
    offset
        ``cost[i] - cost[rep[inverse[i]]]`` (constant over the finite entries).
    """

    rep: NDArray[np.int64]
    inverse: NDArray[np.int64]
    offset: NDArray[np.float64]

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return int(self.rep.size)

    def sum_weights(self, w: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum per-row weights into per-group weights."""
        return np.bincount(self.inverse, weights=w, minlength=self.n_groups)


def group_rows(cost: NDArray[np.float64], groups: NDArray[np.int64] | None = None) -> RowGroups:
    """Group identical rows, and rows that differ by a constant within ``groups``.

    ``groups`` (the travel-time engine's ``origin_groups``) labels rows that
    share a road node; their cost rows differ only by a per-row constant. The
    claim is verified; groups that violate it are split back into rows.
    """
    n = cost.shape[0]
    if groups is not None:
        labels = np.unique(groups, return_inverse=True)[1]
        first = np.full(labels.max() + 1, n, dtype=np.int64)
        np.minimum.at(first, labels, np.arange(n))
        rep_row = first[labels]
        with np.errstate(invalid="ignore"):
            diff = cost - cost[rep_row]
        fin = np.isfinite(cost)
        same_pattern = (fin == fin[rep_row]).all(axis=1)
        with np.errstate(invalid="ignore"):
            dmin = np.where(fin, diff, np.inf).min(axis=1)
            dmax = np.where(fin, diff, -np.inf).max(axis=1)
        dmin = np.where(np.isfinite(dmin), dmin, 0.0)
        dmax = np.where(np.isfinite(dmax), dmax, 0.0)
        scale = np.maximum(1.0, np.abs(np.where(fin, cost, 0.0)).max(axis=1))
        ok = same_pattern & (dmax - dmin <= 1e-9 * scale)
        if not ok.all():
            logger.warning(
                "origin_groups: %d rows do not differ from their group by a constant; "
                "they are kept as separate rows",
                int((~ok).sum()),
            )
            labels = np.where(ok, labels, labels.max() + 1 + np.arange(n))
            labels = np.unique(labels, return_inverse=True)[1]
        k = int(labels.max()) + 1
        rep_of = np.full(k, n, dtype=np.int64)
        np.minimum.at(rep_of, labels, np.arange(n))
        rep_row = rep_of[labels]
        with np.errstate(invalid="ignore"):
            diff = cost - cost[rep_row]
            dmin = np.where(fin, diff, np.inf).min(axis=1)
            dmax = np.where(fin, diff, -np.inf).max(axis=1)
        offset = np.where(np.isfinite(dmin) & np.isfinite(dmax), (dmin + dmax) / 2, 0.0)
        return _merge_duplicates(cost, RowGroups(rep_of, labels.astype(np.int64), offset))
    ident = RowGroups(np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64), np.zeros(n))
    return _merge_duplicates(cost, ident)


def _merge_duplicates(cost: NDArray[np.float64], rg: RowGroups) -> RowGroups:
    """Merge groups whose representative rows are bitwise identical."""
    reps = np.ascontiguousarray(cost[rg.rep])
    keys = reps.view(np.dtype((np.void, reps.dtype.itemsize * reps.shape[1]))).reshape(-1)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    if first.size == rg.rep.size:
        return rg
    new_rep = rg.rep[first]
    return RowGroups(new_rep, inv.reshape(-1)[rg.inverse].astype(np.int64), rg.offset)


# --------------------------------------------------------------------------------------
# MILP container and back ends
# --------------------------------------------------------------------------------------


@dataclass
class Milp:
    """A mixed-integer program in arrays: ``min/max c.x + offset``, ``row_lb <= A x <= row_ub``."""

    col_cost: NDArray[np.float64]
    col_lb: NDArray[np.float64]
    col_ub: NDArray[np.float64]
    integer: NDArray[np.bool_]
    A: sp.csr_matrix
    row_lb: NDArray[np.float64]
    row_ub: NDArray[np.float64]
    offset: float = 0.0
    maximize: bool = False
    col_names: list[str] | None = None

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return int(self.col_cost.size)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.row_lb.size)


class MilpBuilder:
    """Collect columns and sparse rows block by block, then produce a :class:`Milp`."""

    def __init__(self) -> None:
        self._cost: list[NDArray[np.float64]] = []
        self._lb: list[NDArray[np.float64]] = []
        self._ub: list[NDArray[np.float64]] = []
        self._int: list[NDArray[np.bool_]] = []
        self._names: list[list[str]] = []
        self.n_cols = 0
        self._r: list[NDArray[np.int64]] = []
        self._c: list[NDArray[np.int64]] = []
        self._v: list[NDArray[np.float64]] = []
        self._rlb: list[NDArray[np.float64]] = []
        self._rub: list[NDArray[np.float64]] = []
        self.n_rows = 0
        self.offset = 0.0

    def add_cols(
        self,
        n: int,
        *,
        cost: ArrayLike = 0.0,
        lb: ArrayLike = 0.0,
        ub: ArrayLike = np.inf,
        integer: bool = False,
        name: str = "x",
    ) -> NDArray[np.int64]:
        """Add ``n`` columns; return their indices."""
        idx = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,)).copy())
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy())
        self._int.append(np.full(n, integer))
        self._names.append([f"{name}_{i}" for i in range(n)])
        self.n_cols += n
        return idx

    def add_rows(
        self,
        rows: ArrayLike,
        cols: ArrayLike,
        vals: ArrayLike,
        n_rows: int,
        *,
        lb: ArrayLike = -np.inf,
        ub: ArrayLike = np.inf,
    ) -> NDArray[np.int64]:
        """Add ``n_rows`` rows given as COO triplets with row numbers ``0..n_rows-1``."""
        idx = np.arange(self.n_rows, self.n_rows + n_rows, dtype=np.int64)
        r = np.asarray(rows, dtype=np.int64)
        self._r.append(r + self.n_rows)
        self._c.append(np.asarray(cols, dtype=np.int64))
        self._v.append(np.broadcast_to(np.asarray(vals, dtype=np.float64), r.shape).copy())
        self._rlb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n_rows,)).copy())
        self._rub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n_rows,)).copy())
        self.n_rows += n_rows
        return idx

    def add_row(
        self, cols: ArrayLike, vals: ArrayLike, *, lb: float = -np.inf, ub: float = np.inf
    ) -> int:
        """Add one row."""
        c = np.asarray(cols, dtype=np.int64)
        return int(self.add_rows(np.zeros(c.size), c, vals, 1, lb=lb, ub=ub)[0])

    def build(self, *, maximize: bool = False) -> Milp:
        """Return the assembled :class:`Milp`."""
        cat = np.concatenate
        r = cat(self._r) if self._r else np.zeros(0, dtype=np.int64)
        c = cat(self._c) if self._c else np.zeros(0, dtype=np.int64)
        v = cat(self._v) if self._v else np.zeros(0)
        mat = sp.csr_matrix((v, (r, c)), shape=(self.n_rows, self.n_cols))
        mat.sum_duplicates()
        return Milp(
            col_cost=cat(self._cost) if self._cost else np.zeros(0),
            col_lb=cat(self._lb) if self._lb else np.zeros(0),
            col_ub=cat(self._ub) if self._ub else np.zeros(0),
            integer=cat(self._int) if self._int else np.zeros(0, dtype=bool),
            A=mat,
            row_lb=cat(self._rlb) if self._rlb else np.zeros(0),
            row_ub=cat(self._rub) if self._rub else np.zeros(0),
            offset=self.offset,
            maximize=maximize,
            col_names=[s for names in self._names for s in names],
        )


@dataclass
class RawResult:
    """What a back end returns: status, primal values and bounds (model sense)."""

    status: Literal["optimal", "time_limit", "infeasible", "no_solution"]
    x: NDArray[np.float64] | None
    objective: float
    bound: float
    consistent: bool = True


def highs_model(milp: Milp) -> Any:
    """Create a ``highspy.Highs`` instance holding ``milp`` (silent)."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    lp = highspy.HighsLp()
    mat = milp.A.tocsc()
    mat.sort_indices()
    lp.num_col_ = milp.n_cols
    lp.num_row_ = milp.n_rows
    inf = highspy.kHighsInf
    lp.col_cost_ = milp.col_cost
    lp.col_lower_ = np.where(np.isneginf(milp.col_lb), -inf, milp.col_lb)
    lp.col_upper_ = np.where(np.isposinf(milp.col_ub), inf, milp.col_ub)
    lp.row_lower_ = np.where(np.isneginf(milp.row_lb), -inf, milp.row_lb)
    lp.row_upper_ = np.where(np.isposinf(milp.row_ub), inf, milp.row_ub)
    lp.offset_ = float(milp.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if milp.maximize else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data.astype(np.float64)
    if milp.integer.any():
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if f else kcont for f in milp.integer]
    if milp.col_names is not None:
        lp.col_names_ = milp.col_names
        lp.row_names_ = [f"r_{i}" for i in range(milp.n_rows)]
    status = h.passModel(lp)
    if status == highspy.HighsStatus.kError:
        raise SolverError("HiGHS rejected the model (passModel returned an error)")
    return h


def run_highs(
    milp: Milp,
    *,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
    options: Mapping[str, Any] | None = None,
) -> RawResult:
    """Solve ``milp`` with HiGHS.

    HiGHS can return a MIP start unchanged while reporting the objective of a
    better solution it found in presolved space (an inconsistency between the
    reported value and the returned vector). The result is checked, and the
    model is solved again without the start when that happens.
    """
    t0 = time.perf_counter()
    if milp.n_cols == 0:
        return RawResult("optimal", np.zeros(0), float(milp.offset), float(milp.offset))
    h = highs_model(milp)
    res = run_highs_instance(
        h,
        integer=bool(milp.integer.any()),
        time_limit=time_limit,
        mip_gap=mip_gap,
        start=start,
        options=options,
    )
    if res.x is not None:
        res.consistent = _consistent(milp, res)
    if not res.consistent and start is not None:
        logger.debug("HiGHS returned a vector that does not match its objective; solving again")
        left = None if time_limit is None else max(time_limit - (time.perf_counter() - t0), 0.01)
        h = highs_model(milp)
        res2 = run_highs_instance(
            h, integer=bool(milp.integer.any()), time_limit=left, mip_gap=mip_gap, options=options
        )
        if res2.x is not None:
            res2.consistent = _consistent(milp, res2)
            return res2
    return res


def _consistent(milp: Milp, res: RawResult) -> bool:
    assert res.x is not None
    value = float(milp.col_cost @ res.x + milp.offset)
    return abs(value - res.objective) <= 1e-6 * max(1.0, abs(value))


def run_highs_instance(
    h: Any,
    *,
    integer: bool,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
    options: Mapping[str, Any] | None = None,
) -> RawResult:
    """Run an already-built ``highspy.Highs`` instance and read the result."""
    import highspy

    if time_limit is not None:
        h.setOptionValue("time_limit", max(float(time_limit), 0.01))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("mip_abs_gap", 0.0)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    if start is not None and integer:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    info = h.getInfo()
    ms_enum = highspy.HighsModelStatus
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    objective = float(info.objective_function_value) if has_x else math.nan
    bound = float(info.mip_dual_bound) if integer else objective
    if ms == ms_enum.kModelEmpty:
        x = np.zeros(h.getNumCol())
        objective = bound = float(h.getObjectiveOffset()[1])
        return RawResult("optimal", x, objective, bound)
    if ms == ms_enum.kOptimal:
        status = "optimal" if has_x else "no_solution"
    elif ms in (ms_enum.kInfeasible, ms_enum.kUnboundedOrInfeasible):
        status = "infeasible"
    elif ms in (
        ms_enum.kTimeLimit,
        ms_enum.kInterrupt,
        ms_enum.kIterationLimit,
        ms_enum.kSolutionLimit,
        ms_enum.kObjectiveBound,
        ms_enum.kObjectiveTarget,
        ms_enum.kHighsInterrupt,
    ):
        status = "time_limit" if has_x else "no_solution"
    else:
        raise SolverError(f"HiGHS stopped with model status {h.modelStatusToString(ms)!r}")
    return RawResult(status, x, objective, bound)


_CBC_BOUND = re.compile(r"best possible\s+(-?[0-9.eE+-]+)")
_CBC_BOUND2 = re.compile(r"Objective bounds?\s*[:=]?\s*(-?[0-9.eE+-]+)")


def run_cbc(
    milp: Milp,
    *,
    time_limit: float | None,
    mip_gap: float,
    start: NDArray[np.float64] | None = None,
) -> RawResult:
    """Solve ``milp`` with CBC through PuLP (the portable path)."""
    if milp.n_cols == 0:
        return RawResult("optimal", np.zeros(0), float(milp.offset), float(milp.offset))
    import pulp
    from pulp.apis.coin_api import PULP_CBC_CMD

    prob = pulp.LpProblem("model", pulp.LpMaximize if milp.maximize else pulp.LpMinimize)
    xs = []
    for k in range(milp.n_cols):
        lb = None if np.isneginf(milp.col_lb[k]) else float(milp.col_lb[k])
        ub = None if np.isposinf(milp.col_ub[k]) else float(milp.col_ub[k])
        cat = "Integer" if milp.integer[k] else "Continuous"
        xs.append(prob.add_variable(f"x{k}", lb, ub, cat=cat))
    cost_terms = [(xs[k], float(c)) for k, c in enumerate(milp.col_cost) if c != 0]
    prob.setObjective(pulp.LpAffineExpression(cost_terms, constant=float(milp.offset)))
    mat = milp.A.tocsr()
    for r in range(milp.n_rows):
        lo, hi = mat.indptr[r], mat.indptr[r + 1]
        expr = pulp.LpAffineExpression(
            [(xs[j], float(v)) for j, v in zip(mat.indices[lo:hi], mat.data[lo:hi], strict=True)]
        )
        rl, ru = milp.row_lb[r], milp.row_ub[r]
        if np.isfinite(rl) and np.isfinite(ru) and rl == ru:
            prob.addConstraint(expr == float(rl), name=f"r{r}")
            continue
        if np.isfinite(rl):
            prob.addConstraint(expr >= float(rl), name=f"r{r}_lo")
        if np.isfinite(ru):
            prob.addConstraint(expr <= float(ru), name=f"r{r}_hi")
    if start is not None:
        for k, v in enumerate(start):
            xs[k].setInitialValue(round(float(v)) if milp.integer[k] else float(v))
    with tempfile.TemporaryDirectory() as tmp:
        log_path = os.path.join(tmp, "cbc.log")
        solver = pulp.COIN_CMD(
            path=PULP_CBC_CMD.pulp_cbc_path,
            msg=False,
            timeLimit=None if time_limit is None else max(1, math.ceil(time_limit)),
            gapRel=float(mip_gap),
            gapAbs=0.0,
            warmStart=start is not None,
            logPath=log_path,
            threads=None,
        )
        try:
            prob.solve(solver)
        except pulp.PulpSolverError as exc:
            raise SolverError(f"CBC failed: {exc}") from exc
        try:
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                log = fh.read()
        except OSError:
            log = ""
    sol = prob.sol_status
    if sol == pulp.LpSolutionInfeasible and prob.status == pulp.LpStatusInfeasible:
        return RawResult("infeasible", None, math.nan, math.nan)
    if sol not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
        if prob.status == pulp.LpStatusInfeasible:
            return RawResult("infeasible", None, math.nan, math.nan)
        return RawResult("no_solution", None, math.nan, math.nan)
    x = np.array([v.value() if v.value() is not None else 0.0 for v in xs], dtype=np.float64)
    objective = float(milp.col_cost @ x + milp.offset)
    if sol == pulp.LpSolutionOptimal:
        return RawResult("optimal", x, objective, objective)
    bound = math.nan
    found = _CBC_BOUND.findall(log) or _CBC_BOUND2.findall(log)
    if found:
        try:
            bound = float(found[-1])
        except ValueError:
            bound = math.nan
    if not math.isfinite(bound):
        bound = -math.inf if not milp.maximize else math.inf
    return RawResult("time_limit", x, objective, bound)


def write_milp(milp: Milp, path: str | os.PathLike[str]) -> None:
    """Write ``milp`` to an ``.mps`` or ``.lp`` file (format from the suffix)."""
    path = os.fspath(path)
    if not path.endswith((".mps", ".lp")):
        raise DataError(f"cannot write {path!r}: the file name must end in .mps or .lp")
    h = highs_model(milp)
    import highspy

    status = h.writeModel(path)
    if status == highspy.HighsStatus.kError:
        from optimizer.errors import OutputError

        raise OutputError(f"HiGHS could not write the model to {path!r}")


# --------------------------------------------------------------------------------------
# the model base class
# --------------------------------------------------------------------------------------


@dataclass
class SolveContext:
    """Per-call solve settings and clock."""

    solver: SolverName
    time_limit: float | None
    mip_gap: float
    warm_start: bool
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


class LocationModel:
    """Base class of all location models: the shared ``solve`` and file writers."""

    #: Human-readable model name, set by subclasses.
    name: str = "model"
    #: Whether the objective is maximised.
    maximize: bool = False

    # set by subclasses' constructors
    n_demand: int
    n_sites: int
    site_ids: tuple[Any, ...] | None
    demand_ids: tuple[Any, ...] | None

    def solve(
        self,
        *,
        solver: SolverName | None = None,
        time_limit: float | None = None,
        mip_gap: float | None = None,
        warm_start: bool = True,
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
            Relative optimality gap at which to stop (default ``1e-4``).
        warm_start
            Run the construction and local-search heuristics and give their
            solution to the solver as a start (and, on the HiGHS path, use it
            to remove sites that cannot be in a better solution).

        Returns
        -------
        Solution
            The best solution found, its proven bound and status.

        Raises
        ------
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
        gap = 1e-4 if mip_gap is None else float(mip_gap)
        if not 0 <= gap < 1:
            raise DataError(f"mip_gap must be in [0, 1); got {mip_gap}")
        ctx = SolveContext(solver, time_limit, gap, warm_start)
        self._check_feasible()
        outcome = self._solve(ctx)
        return self._finish(outcome, ctx)

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

    # hooks ---------------------------------------------------------------------------

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
        gap = relative_gap(objective, bound)
        status: Status = "optimal" if gap <= ctx.mip_gap + 1e-9 else "time_limit"
        seconds = ctx.elapsed()
        logger.info(
            "%s: %s objective=%.6g bound=%.6g gap=%.3g%% in %.2fs (%s)",
            self.name,
            status,
            objective,
            bound,
            100 * gap if math.isfinite(gap) else math.inf,
            seconds,
            ctx.solver,
        )
        return Solution(
            model=self.name,
            status=status,
            objective=objective,
            bound=bound,
            gap=gap,
            seconds=seconds,
            solver=ctx.solver,
            site_ids=self.site_ids,
            demand_ids=self.demand_ids,
            **fields,
        )


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

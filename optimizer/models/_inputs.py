"""Input checks, travel-time and region adapters, and row grouping for the models.

Everything a model does with its arguments before it builds a MILP: validate
the cost matrix, weights, site values, ids and site selections; read a
travel-time result and a region bundle; format rows and sites for error
messages; and merge demand rows that differ only by a constant.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError

__all__ = ["TravelTimesLike"]

logger = logging.getLogger(__name__)


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


def check_p_value(p: Any) -> int:
    """Validate ``p`` (a positive integer)."""
    if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 1:
        raise DataError(f"p must be a positive integer; got {p!r}")
    return int(p)


def unique_sets(cover: NDArray[np.bool_]) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """Distinct rows of a boolean matrix and the index of each row's distinct set."""
    if cover.shape[0] == 0:
        return cover, np.zeros(0, dtype=np.int64)
    packed = np.ascontiguousarray(np.packbits(cover, axis=1))
    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    return cover[first], inv.reshape(-1).astype(np.int64)


class TravelTimeParts(NamedTuple):
    """What the models read from a travel-time result."""

    minutes: NDArray[np.float64]
    origin_ids: tuple[Any, ...]
    destination_ids: tuple[Any, ...]
    groups: NDArray[np.int64] | None


def travel_time_parts(matrix: Any) -> TravelTimeParts:
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
    return TravelTimeParts(minutes, origin_ids, destination_ids, groups)


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
    if reps.shape[1] == 0:  # no allowed column: every row is alike
        if rg.rep.size <= 1:
            return rg
        return RowGroups(rg.rep[:1], np.zeros_like(rg.inverse), rg.offset)
    keys = reps.view(np.dtype((np.void, reps.dtype.itemsize * reps.shape[1]))).reshape(-1)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    if first.size == rg.rep.size:
        return rg
    new_rep = rg.rep[first]
    return RowGroups(new_rep, inv.reshape(-1)[rg.inverse].astype(np.int64), rg.offset)

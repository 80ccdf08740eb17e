"""Where each cell's visits go, and population-weighted access to the nearest point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer._json import Record
from optimizer.errors import DataError
from optimizer.estimates._arrays import as_matrix, as_vector

__all__ = [
    "ACCESS_THRESHOLDS",
    "PERCENTILES",
    "AccessStats",
    "CellAssignment",
    "access_stats",
    "assign_cells",
    "weighted_percentile",
]

#: Minutes for the "share of residents within" figures.
ACCESS_THRESHOLDS = (30, 60, 90)
#: Percentiles of the population-weighted travel time.
PERCENTILES = (50, 90, 99)


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
    t = as_matrix(minutes, "minutes")
    d = as_matrix(km, "km")
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
class AccessStats(Record):
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
    pop = as_vector(population, "population", t.shape[0])
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

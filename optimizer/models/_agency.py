"""Parts of the agency model: per-agency inputs, the rule parser, the result type.

:class:`~optimizer.models.agency.AgencyTwoTier` keeps its formulation; this
module holds what it needs around it: validating per-agency arrays and
presence rules, the :class:`AgencySolution` it returns (a :class:`Solution`
with the staffing figures), and the greedy desk choice used by its warm start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.models._base import nearest_open
from optimizer.models._inputs import site_names
from optimizer.models.solution import Solution

__all__ = ["AgencySolution", "Presence"]

#: An agency's presence rule: ``"all"`` (a desk at every full point), an int ``k``
#: (exactly ``k`` desks), a ``(min, max)`` pair (``max`` may be ``None``), or ``None``
#: (free; at least one desk when the agency has visits).
Presence = str | int | tuple[int, int | None] | None


def as_agency_matrix(values: ArrayLike, n: int, *, name: str) -> NDArray[np.float64]:
    """Validate an ``agencies x demand rows`` array of visits (finite, ``>= 0``)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != n or arr.shape[0] == 0:
        raise DataError(
            f"{name} must be an agencies x demand rows array with {n} columns; "
            f"got shape {np.shape(values)}"
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        bad = np.unique(np.nonzero(~np.isfinite(arr) | (arr < 0))[1])[:5].tolist()
        raise DataError(f"{name} must be finite and >= 0 (bad demand rows {bad})")
    return np.ascontiguousarray(arr)


def as_agency_values(
    values: ArrayLike | float | None,
    k: int,
    *,
    name: str,
    default: float | None,
    positive: bool = False,
    allow_inf: bool = False,
) -> NDArray[np.float64]:
    """Validate one value per agency (a scalar is broadcast)."""
    if values is None:
        if default is None:
            raise DataError(f"{name} must be given (one value per agency or a scalar)")
        return np.full(k, float(default))
    arr = np.asarray(values, dtype=np.float64)
    arr = np.full(k, float(arr)) if arr.ndim == 0 else arr.reshape(-1)
    if arr.shape != (k,):
        raise DataError(f"{name} must have one value per agency ({k}); got {arr.shape[0]}")
    ok = ~np.isnan(arr) & (np.isfinite(arr) | (allow_inf & np.isposinf(arr)))
    ok &= arr > 0 if positive else arr >= 0
    if not ok.all():
        bad = np.nonzero(~ok)[0].tolist()
        need = "> 0" if positive else ">= 0"
        raise DataError(
            f"{name} must be {'finite or inf' if allow_inf else 'finite'} and {need} "
            f"(bad agencies {bad})"
        )
    return arr


def parse_presence(
    presence: Presence | Sequence[Presence], k: int, m: int
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
    """Turn the presence rules into (at every full point, min desks, max desks) per agency."""
    if presence is None or isinstance(presence, str | int | tuple):
        rules: list[Presence] = [presence] * k  # type: ignore[list-item]
    else:
        rules = list(presence)
    if len(rules) != k:
        raise DataError(f"presence must have one rule per agency ({k}); got {len(rules)}")
    every = np.zeros(k, dtype=bool)
    lo = np.zeros(k, dtype=np.int64)
    hi = np.full(k, m, dtype=np.int64)
    for a, rule in enumerate(rules):
        if rule is None:
            continue
        if isinstance(rule, str):
            if rule != "all":
                raise DataError(f"presence[{a}] must be 'all', an int, a (min, max) pair or None")
            every[a] = True
            continue
        if isinstance(rule, int | np.integer) and not isinstance(rule, bool):
            lo[a] = hi[a] = int(rule)
        else:
            try:
                rmin, rmax = rule  # type: ignore[misc]
                lo[a] = int(rmin)
                hi[a] = m if rmax is None else int(rmax)
            except (TypeError, ValueError):
                raise DataError(
                    f"presence[{a}] must be 'all', an int, a (min, max) pair or None; got {rule!r}"
                ) from None
        if lo[a] < 0 or hi[a] < lo[a]:
            raise DataError(f"presence[{a}] must satisfy 0 <= min <= max; got {rule!r}")
        hi[a] = min(hi[a], m)
    return every, lo, hi


@dataclass(frozen=True, eq=False)
class AgencySolution(Solution):
    """A :class:`Solution` of :class:`~optimizer.models.AgencyTwoTier` with staffing figures.

    Attributes
    ----------
    agencies
        Agency names, in the order of the model's rows.
    desks
        For each agency, the column positions of the full points where it has
        a desk (ascending).
    desk_visits, desk_fte
        ``{(agency, site column): value}``: in-person visits a year served at
        each desk, and the staff it needs (visits / visits per FTE).
    pool_fte
        Remote-service pool of each agency in FTE (remote-eligible visits /
        visits per FTE).
    staff_cost
        Total annual staff cost (desks and pools), EUR.
    desk_assignment
        ``agencies x demand rows``: the desk column serving each row's
        in-person visits (the nearest desk; with desk capacity, the desk that
        takes the largest share); ``-1`` where the agency has no in-person
        visits from the row.
    """

    agencies: tuple[str, ...] = ()
    desks: tuple[tuple[int, ...], ...] = ()
    desk_visits: Mapping[tuple[str, int], float] = field(default_factory=dict)
    desk_fte: Mapping[tuple[str, int], float] = field(default_factory=dict)
    pool_fte: Mapping[str, float] = field(default_factory=dict)
    staff_cost: float = 0.0
    desk_assignment: NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("desk_visits", "desk_fte", "pool_fte"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))
        if self.desk_assignment is not None:
            arr = np.array(self.desk_assignment, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, "desk_assignment", arr)

    def staffing(self) -> list[dict[str, Any]]:
        """Return the staffing table: one record per agency and open full point.

        Returns
        -------
        list of dict
            Keys ``agency``, ``site`` (column), ``site_id`` (``None`` without
            ids), ``desk`` (bool), ``visits`` and ``fte``; then one record per
            agency with ``site = -1``, ``site_id = "remote pool"`` and its
            pool FTE.
        """
        out: list[dict[str, Any]] = []
        full = self.sites_of_tier("full")
        for a, name in enumerate(self.agencies):
            for j in full:
                has = j in self.desks[a]
                out.append(
                    {
                        "agency": name,
                        "site": j,
                        "site_id": None if self.site_ids is None else self.site_ids[j],
                        "desk": has,
                        "visits": float(self.desk_visits.get((name, j), 0.0)),
                        "fte": float(self.desk_fte.get((name, j), 0.0)),
                    }
                )
            out.append(
                {
                    "agency": name,
                    "site": -1,
                    "site_id": "remote pool",
                    "desk": False,
                    "visits": math.nan,
                    "fte": float(self.pool_fte[name]),
                }
            )
        return out


def greedy_desks(
    cost: NDArray[np.float64],
    w: NDArray[np.float64],
    full: NDArray[np.int64],
    *,
    desk_cost: float,
    lo: int,
    hi: int,
    every: bool,
    forced: NDArray[np.bool_],
) -> NDArray[np.int64] | None:
    """Desks of one agency among the full points ``full`` (greedy add).

    ``cost`` is the weighted travel cost per visit (rows x all site columns of
    the problem), ``w`` the agency's in-person visits per row. Desks are added
    while they pay for themselves (and until ``lo``, up to ``hi``). Returns the
    chosen columns, or ``None`` when the counts cannot be met.
    """
    if every:
        return full.copy()
    if full.size < lo:
        return None
    pos = w > 0
    c = cost[pos][:, full]
    wp = w[pos]
    big = float(np.where(np.isfinite(c), c, 0.0).max(initial=0.0)) * 10.0 + 1.0
    c = np.where(np.isfinite(c), c, big)
    chosen = forced[full].copy()
    dmin = c[:, chosen].min(axis=1) if chosen.any() else np.full(wp.size, np.inf)
    while int(chosen.sum()) < hi:
        if np.isinf(dmin).any():
            gain = np.where(chosen, -np.inf, -(wp @ c))  # first desk: least total travel
        else:
            gain = wp @ np.maximum(dmin[:, None] - c, 0.0) - desk_cost
            gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        if not np.isfinite(gain[j]) or (
            gain[j] <= 0 and int(chosen.sum()) >= lo and not np.isinf(dmin).any()
        ):
            break
        chosen[j] = True
        dmin = np.minimum(dmin, c[:, j])
    if int(chosen.sum()) < lo or (wp.size and not chosen.any()):
        return None
    return full[chosen]


def network_figures(
    self: Any,
    full: NDArray[np.int64],
    remote: NDArray[np.int64],
    desks: list[NDArray[np.int64]],
    shares: list[NDArray[np.float64]] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Objective, breakdown and staffing of a network, recomputed from the model's data.

    ``self`` is the :class:`~optimizer.models.AgencyTwoTier`; ``desks`` the desk
    columns per agency; ``shares`` (capacitated assignments only) per agency the
    ``demand rows x sites`` share of each row's in-person visits served at each
    desk; without it each row goes to the agency's nearest desk.
    """
    tw, n = self.travel_weight, self.n_demand
    open_all = np.sort(np.r_[full, remote]).astype(np.int64)
    tier_of = {int(j): "full" for j in full} | {int(j): "remote" for j in remote}
    found: dict[bytes, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}

    def nearest(cols: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        key = np.unique(cols).astype(np.int64).tobytes()  # agencies often share desk sets
        if key not in found:
            found[key] = nearest_open(self.cost, cols)
        return found[key]

    a_full, _ = nearest(full)
    a_any, d_any = nearest(open_all)
    er = self.visits_remote.sum(axis=0)
    travel_remote = tw * float(er[er > 0] @ d_any[er > 0]) if (er > 0).any() else 0.0
    travel_in = 0.0
    penalty = 0.0
    desk_visits: dict[tuple[str, int], float] = {}
    desk_fte: dict[tuple[str, int], float] = {}
    assign = np.full((self.n_agencies, n), -1, dtype=np.int64)
    for a, name in enumerate(self.agencies):
        v = self.visits_in_person[a]
        pos = v > 0
        if shares is None:
            asg, dist = nearest(desks[a])
            travel_in += tw * float(v[pos] @ dist[pos]) if pos.any() else 0.0
            per = np.bincount(np.maximum(asg[pos], 0), weights=v[pos], minlength=self.n_sites)
            assign[a, pos] = asg[pos]
        else:
            share = shares[a]
            per = v[pos] @ share[pos]
            with np.errstate(invalid="ignore"):
                cost_share = np.where(share > 0, self.cost * share, 0.0)
            travel_in += tw * float(v[pos] @ cost_share[pos].sum(axis=1))
            assign[a, pos] = np.argmax(share[pos], axis=1)
        for jj in desks[a]:
            desk_visits[(name, int(jj))] = float(per[jj])
            desk_fte[(name, int(jj))] = float(per[jj]) / float(self.visits_per_fte[a])
        t_a = self.access_minutes[a]
        if math.isfinite(t_a) and self.access == "soft" and pos.any():
            reach = nearest(desks[a])[1] <= t_a  # some desk within t_a: the nearest one is
            penalty += float(self.access_penalty[a] * v[pos & ~reach].sum())
    pool = {
        name: float(self.visits_remote[a].sum() / self.visits_per_fte[a])
        for a, name in enumerate(self.agencies)
    }
    sc_full = float(self.site_cost_full[full].sum())
    sc_remote = float(self.site_cost_remote[remote].sum())
    desk_total = float(sum(self.desk_cost[a] * desks[a].size for a in range(self.n_agencies)))
    staff = self.staff_total
    objective = travel_in + travel_remote + sc_full + sc_remote + desk_total + staff + penalty
    fields = {
        "objective": objective,
        "open_sites": tuple(int(j) for j in open_all),
        "open_site_ids": None
        if self.site_ids is None
        else tuple(self.site_ids[j] for j in open_all),
        "tiers": tuple(tier_of[int(j)] for j in open_all),
        "assignment": a_full,
        "assignment_any": a_any,
        "covered": None,
        "breakdown": {
            "travel_in_person": travel_in,
            "travel_remote": travel_remote,
            "site_cost_full": sc_full,
            "site_cost_remote": sc_remote,
            "desk_cost": desk_total,
            "staff_cost": staff,
            "access_penalty": penalty,
        },
    }
    extra = {
        "agencies": self.agencies,
        "desks": tuple(tuple(int(j) for j in np.sort(dk)) for dk in desks),
        "desk_visits": desk_visits,
        "desk_fte": desk_fte,
        "pool_fte": pool,
        "staff_cost": staff,
        "desk_assignment": assign,
    }
    return fields, extra


def check_budget(self: Any) -> None:
    """Raise ``InfeasibleError(parameter='budget')`` when no network fits the budget.

    Compares the budget with a lower bound on the cheapest network: the required
    sites, the cheapest further sites of each tier up to its minimum count (taken
    per tier), the fewest desks each presence rule allows, and the staff cost.
    """
    if self.budget is None:
        return
    lo_f, _ = self._full_range()
    lo_f = max(lo_f, int(self.desk_lo[self.every].max(initial=0)))
    lo_r = self.count_remote[0]
    free = self._free_sites()
    req_cost = float(
        self.site_cost_full[self.required].sum() + self.site_cost_remote[self.required_remote].sum()
    )
    n_f = max(lo_f, self.required.size)
    desks = np.where(self.every, n_f, self.desk_lo)
    fixed = self.staff_total + float(self.desk_cost @ desks)
    if req_cost + fixed > self.budget + 1e-9 * max(1.0, self.budget):
        req = np.r_[self.required, self.required_remote]
        raise self._infeasible(
            f"the required sites, the fewest desks and the staff cost {req_cost + fixed:g} "
            f"exceed budget = {self.budget:g} ({site_names(req, self.site_ids)})",
            parameter="budget",
            sites=req,
        )
    more_f = max(lo_f - self.required.size, 0)
    more_r = max(lo_r - self.required_remote.size, 0)
    # a lower bound: the cheapest free sites of each tier, chosen per tier
    extra_f = float(np.sort(self.site_cost_full[free])[:more_f].sum())
    extra_r = float(np.sort(self.site_cost_remote[free])[:more_r].sum())
    cheapest = req_cost + fixed + extra_f + extra_r
    if cheapest > self.budget + 1e-9 * max(1.0, self.budget):
        raise self._infeasible(
            f"the cheapest network ({lo_f} full, {lo_r} remote points, the fewest desks "
            f"and staff) costs {cheapest:g}, above budget = {self.budget:g}; raise the "
            "budget or lower the counts and presence rules",
            parameter="budget",
        )

"""The two-tier service-network model: full service points and remote-service points."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.models._base import nearest_open
from optimizer.models._inputs import (
    RowGroups,
    TravelTimeParts,
    as_cost_matrix,
    as_weights,
    demand_names,
    group_rows,
    site_names,
)
from optimizer.models._levels import RowSorts
from optimizer.models._milp import MilpBuilder
from optimizer.models._problem import Block, DistanceProblem
from optimizer.models._tiers import Count, TieredModel, count_range

__all__ = ["Count", "TwoTier"]


@dataclass(eq=False, repr=False, kw_only=True)
class TwoTier(TieredModel):
    r"""Choose full service points (staffed) and remote-service points (video).

    Each demand row :math:`i` has in-person-only visits :math:`a_i` (``w_full``),
    which go to the nearest open *full* point, and remote-eligible visits
    :math:`b_i` (``w_remote``), which go to the nearest open point of *either*
    tier. A site is closed, full, or remote, never both tiers.

    **Variables.** :math:`f_j, r_j \in \{0, 1\}`: site :math:`j` is a full /
    remote point; :math:`u_i \in [0, 1]`: row :math:`i` is outside the coverage
    standard (soft standard only).

    **Formulation.** With costs :math:`c_{ij}` (minutes, or money per visit;
    ``inf`` = cannot serve), annual site costs :math:`F_j` (full) and
    :math:`R_j` (remote), and coverage sets
    :math:`N_i = \{j : t_{ij} \le T\}` from the coverage matrix :math:`t`:

    .. math::

        \min\; & \sum_i a_i \min_{j: f_j = 1} c_{ij}
               + \sum_i b_i \min_{j: f_j + r_j = 1} c_{ij}
               + \sum_j (F_j f_j + R_j r_j) + \sum_i \pi_i u_i \\
        \text{s.t. } & f_j + r_j \le 1 && \forall j \\
        & L_F \le \textstyle\sum_j f_j \le U_F, \quad L_R \le \sum_j r_j \le U_R
          && \text{(counts, optional)} \\
        & \textstyle\sum_j F_j f_j \le B_F, \quad \sum_j R_j r_j \le B_R
          && \text{(budgets, optional)} \\
        & \textstyle\sum_{j \in N_i} (f_j + r_j) \ge 1 && \forall i
          \text{ (hard standard)} \\
        & u_i + \textstyle\sum_{j \in N_i} (f_j + r_j) \ge 1 && \forall i
          \text{ (soft standard)} \\
        & f_j = 1\ (j \in R_F),\; r_j = 1\ (j \in R_R),\; f_j = r_j = 0\ (j \in \text{forbidden}).

    The two nearest-point terms are linearised exactly as in
    :class:`~optimizer.models.PMedian` (Elloumi 2010): with the distinct costs
    :math:`D_i^1 < D_i^2 < \dots` of row :math:`i` and level sets
    :math:`S_i^k = \{j : c_{ij} \le D_i^k\}`,

    .. math::

        \min_{j: f_j=1} c_{ij} = D_i^1 + \sum_k (D_i^{k+1} - D_i^k)\, z_{ik}^F,
        \quad z_{ik}^F \ge 1 - \textstyle\sum_{j \in S_i^k} f_j,\; z^F \ge 0,

    and the same with :math:`z^A` and :math:`f_j + r_j` for the remote-eligible
    visits (the last finite level's :math:`z` is fixed to 0, so every row with
    visits reaches an open point). Rows that share a level set share its
    variable, and rows sharing a road node are merged. Large instances are
    solved by Benders decomposition of the same formulation (one ``theta`` per
    cluster and visit type), after a local-search warm start.

    The coverage standard applies to rows with visits (``w_full + w_remote > 0``).

    Parameters
    ----------
    cost
        ``n_demand x n_sites`` cost per visit: minutes, or money when the
        objective is an annual cost (``np.inf`` = cannot serve).
    w_full
        In-person-only visits per demand row (go to the nearest full point).
    w_remote
        Remote-eligible visits per demand row (go to the nearest point of
        either tier).
    n_full, n_remote
        Number of points per tier: an int (exact), a ``(min, max)`` pair, or
        ``None`` (free).
    budget_full, budget_remote
        Optional caps on the summed site costs of a tier (need the tier's
        site costs).
    site_cost_full, site_cost_remote
        Annual cost of running each site as a full / remote point, added to
        the objective (default 0). In :meth:`from_region` either may name a
        column of ``region.sites`` (e.g. ``"annual_cost"``).
    coverage_minutes
        Optional standard ``T``: every demand row with visits should be within
        ``T`` of some open point, measured on ``coverage_matrix``.
    coverage_matrix
        Matrix the standard is measured on (default: ``cost``; pass the
        minutes here when ``cost`` is money).
    coverage
        ``"hard"`` (a constraint) or ``"soft"`` (a penalty per uncovered row).
    coverage_penalty
        Soft standard only: penalty per uncovered demand row (scalar or one
        value per row, e.g. population x money per person).
    required
        Sites that must be full points.
    required_remote
        Sites that must be remote points.
    forbidden
        Sites that cannot be used for either tier.
    site_ids, demand_ids, origin_groups
        As in :class:`~optimizer.models.LocationModel`.

    Raises
    ------
    InfeasibleError
        From :meth:`solve`, before solving, with ``parameter``:

        * ``"n_full"``: more required full sites than ``n_full`` allows
          (``sites`` lists them), in-person visits but no full point allowed,
          or the minimum counts exceed the allowed sites;
        * ``"n_remote"``: more required remote sites than ``n_remote`` allows,
          or the minimum remote count does not fit beside the full points;
        * ``"budget_full"`` / ``"budget_remote"``: the required sites, or the
          cheapest sites that meet the tier's minimum count, cost more than
          the budget;
        * ``"coverage_minutes"``: with a hard standard, rows with visits that
          no allowed site reaches within the standard (``rows`` lists them);
        * ``"cost"`` / ``"forbidden"``: rows with visits that reach no allowed
          site.

    Notes
    -----
    :meth:`from_travel_times` also takes ``cost_per_minute`` (cost per visit
    = minutes x it) or ``visit_cost`` (a money matrix of the minutes' shape,
    e.g. value of travel time plus the CO2 price of a visit); with either the
    coverage standard is still measured on the minutes.
    :meth:`from_region` takes ``visits_per_capita`` (default 1) and
    ``remote_share`` (default 0): the visits of a row are its population times
    ``visits_per_capita``, of which ``remote_share`` are remote-eligible.
    Sites flagged ``required`` become required full points.
    """

    name = "two-tier"

    w_full: ArrayLike
    w_remote: ArrayLike
    n_full: Count = None
    n_remote: Count = None
    budget_full: float | None = None
    budget_remote: float | None = None
    site_cost_full: ArrayLike | float | None = None
    site_cost_remote: ArrayLike | float | None = None
    coverage_minutes: float | None = None
    coverage_matrix: ArrayLike | None = None
    coverage: Literal["hard", "soft"] = "hard"
    coverage_penalty: ArrayLike | float | None = None
    required_remote: ArrayLike | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        n = self.n_demand
        self.w_full = as_weights(self.w_full, n, name="w_full")
        self.w_remote = as_weights(self.w_remote, n, name="w_remote")
        given_full, given_remote = self.site_cost_full, self.site_cost_remote
        self._init_tiers()
        for label, budget, given in (
            ("budget_full", self.budget_full, given_full),
            ("budget_remote", self.budget_remote, given_remote),
        ):
            if budget is not None:
                if given is None:
                    raise DataError(
                        f"{label} needs site costs for that tier (site_cost_{label[7:]})"
                    )
                if not (math.isfinite(budget) and budget >= 0):
                    raise DataError(f"{label} must be finite and >= 0; got {budget}")
        self.budget_full = math.inf if self.budget_full is None else float(self.budget_full)
        self.budget_remote = math.inf if self.budget_remote is None else float(self.budget_remote)
        if self.coverage not in ("hard", "soft"):
            raise DataError(f"coverage must be 'hard' or 'soft'; got {self.coverage!r}")
        if self.coverage_minutes is not None:
            self.coverage_minutes = float(self.coverage_minutes)
            if not self.coverage_minutes >= 0:
                raise DataError(f"coverage_minutes must be >= 0; got {self.coverage_minutes}")
        if self.coverage_matrix is not None:
            self.coverage_matrix = as_cost_matrix(self.coverage_matrix, name="coverage_matrix")
            if self.coverage_matrix.shape != self.cost.shape:
                raise DataError(
                    f"coverage_matrix has shape {self.coverage_matrix.shape}; "
                    f"it must match the cost matrix {self.cost.shape}"
                )
        else:
            self.coverage_matrix = self.cost
        self.coverage_penalty = self._penalty(self.coverage_penalty)

    def _penalty(self, given: ArrayLike | float | None) -> NDArray[np.float64]:
        n = self.n_demand
        if self.coverage != "soft" or self.coverage_minutes is None:
            return np.zeros(n)
        if given is None:
            raise DataError("a soft coverage standard needs coverage_penalty")
        pen = np.asarray(given, dtype=np.float64)
        pen = np.full(n, float(pen)) if pen.ndim == 0 else pen.reshape(-1)
        if pen.shape != (n,) or not np.isfinite(pen).all() or (pen < 0).any():
            raise DataError(
                "coverage_penalty must be a finite scalar >= 0 or one such value per demand row"
            )
        return pen

    # constructor hooks -------------------------------------------------------------------

    @classmethod
    def _travel_time_cost(cls, parts: TravelTimeParts, params: dict[str, Any]) -> Any:
        """Cost per visit: the minutes, minutes x ``cost_per_minute``, or ``visit_cost``."""
        minutes = parts.minutes
        cost_per_minute = params.pop("cost_per_minute", None)
        visit_cost = params.pop("visit_cost", None)
        if cost_per_minute is not None and visit_cost is not None:
            raise DataError("give cost_per_minute or visit_cost, not both")
        if cost_per_minute is not None:
            if not (math.isfinite(cost_per_minute) and cost_per_minute > 0):
                raise DataError(f"cost_per_minute must be finite and > 0; got {cost_per_minute}")
            params.setdefault("coverage_matrix", minutes)
            return minutes * float(cost_per_minute)
        if visit_cost is not None:
            cost = as_cost_matrix(visit_cost, name="visit_cost")
            if cost.shape != minutes.shape:
                raise DataError(
                    f"visit_cost has shape {cost.shape}; it must match matrix.minutes "
                    f"{minutes.shape}"
                )
            params.setdefault("coverage_matrix", minutes)
            # origin_groups stay: group_rows verifies that the money rows of a road node
            # differ by a constant and splits the groups where they do not
            return cost
        return minutes

    @classmethod
    def _region_demand(cls, population: NDArray[np.float64], params: dict[str, Any]) -> None:
        """Visits from ``visits_per_capita`` and ``remote_share`` (see the class Notes)."""
        per_capita = float(params.pop("visits_per_capita", 1.0))
        share = float(params.pop("remote_share", 0.0))
        if not 0.0 <= share <= 1.0:
            raise DataError(f"remote_share must be in [0, 1]; got {share}")
        if not (math.isfinite(per_capita) and per_capita >= 0):
            raise DataError(f"visits_per_capita must be finite and >= 0; got {per_capita}")
        visits = population * per_capita
        params.setdefault("w_full", visits * (1.0 - share))
        params.setdefault("w_remote", visits * share)

    # checks ------------------------------------------------------------------------------

    def with_counts(self, *, n_full: Count, n_remote: Count) -> TwoTier:
        """Return the same model with other point counts, sharing its count-free setup.

        The grouped rows, their weights and the coverage sets do not depend on
        the counts; a sweep or a budget search that solves many count pairs
        builds them once.

        Parameters
        ----------
        n_full, n_remote
            Points per tier, as in the constructor.

        Returns
        -------
        TwoTier
            A new model; this one is unchanged.
        """
        other = copy.copy(self)
        other.n_full, other.n_remote = n_full, n_remote
        other.count_full = count_range(n_full, name="n_full", m=self.n_sites)
        other.count_remote = count_range(n_remote, name="n_remote", m=self.n_sites)
        other._cache = {k: v for k, v in self._cache.items() if k in ("rows", "cover")}
        return other

    def _check_feasible(self) -> None:
        self._check_tier_counts()
        hi_f = self.count_full[1]
        if (self.w_full > 0).any() and hi_f < 1:
            raise self._infeasible(
                "there are in-person visits (w_full > 0) but n_full allows no full point",
                parameter="n_full",
            )
        self._check_budgets()
        self._check_reachable((self.w_full > 0) | (self.w_remote > 0))
        if self.coverage_minutes is not None and self.coverage == "hard":
            rows = self._coverage_rows()
            cols = self.allowed_cols
            cov = (self.coverage_matrix[np.ix_(rows, cols)] <= self.coverage_minutes).any(axis=1)
            bad = rows[~cov]
            if bad.size:
                raise self._infeasible(
                    f"{demand_names(bad, self.demand_ids)} have no allowed site within the "
                    f"coverage standard of {self.coverage_minutes:g} minutes; relax the "
                    "standard, make it soft, or add a site that covers them",
                    parameter="coverage_minutes",
                    rows=bad,
                )

    def _check_budgets(self) -> None:
        """Check that the required sites, and the cheapest that meet each minimum count, fit."""
        free = self._free_sites()
        for label, costs, req, budget, (lo, _) in (
            ("full", self.site_cost_full, self.required, self.budget_full, self.count_full),
            (
                "remote",
                self.site_cost_remote,
                self.required_remote,
                self.budget_remote,
                self.count_remote,
            ),
        ):
            if not math.isfinite(budget):
                continue
            spent = float(costs[req].sum())
            if spent > budget + 1e-9:
                raise self._infeasible(
                    f"the required {label} sites cost {spent:g}, above budget_{label} = "
                    f"{budget:g} ({site_names(req, self.site_ids)})",
                    parameter=f"budget_{label}",
                    sites=req,
                )
            more = max(lo - req.size, 0)
            cheapest = np.sort(costs[free])[:more]
            if more and spent + float(cheapest.sum()) > budget + 1e-9 * max(1.0, budget):
                raise self._infeasible(
                    f"the cheapest {lo} {label} points (n_{label} needs at least {lo}) cost "
                    f"{spent + float(cheapest.sum()):g}, above budget_{label} = {budget:g}; "
                    f"raise budget_{label} or lower the minimum of n_{label}",
                    parameter=f"budget_{label}",
                )

    def _search_options(self) -> dict[str, Any]:
        cover, pen = self._cover_sets()
        return {
            "budget_full": self.budget_full,
            "budget_remote": self.budget_remote,
            "cover": cover if cover.shape[0] else None,
            "cover_pen": pen,
            "hard": self.coverage != "soft",
        }

    def _coverage_rows(self) -> NDArray[np.int64]:
        return np.nonzero((self.w_full > 0) | (self.w_remote > 0))[0]

    # engine data -------------------------------------------------------------------------

    def _rows(
        self,
    ) -> tuple[RowGroups, NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
        if "rows" not in self._cache:
            ca = self.cost[:, self.allowed_cols]
            rg = group_rows(ca, self.origin_groups)
            wf = rg.sum_weights(self.w_full)
            wr = rg.sum_weights(self.w_remote)
            const = float(((self.w_full + self.w_remote) * rg.offset).sum())
            self._cache["rows"] = (rg, np.ascontiguousarray(ca[rg.rep]), wf, wr, const)
        return self._cache["rows"]

    def _cover_sets(self) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
        """Distinct coverage sets (over allowed columns) with summed penalties."""
        if "cover" not in self._cache:
            ma = self.allowed_cols.size
            if self.coverage_minutes is None:
                self._cache["cover"] = (np.zeros((0, ma), dtype=bool), np.zeros(0))
            else:
                rows = self._coverage_rows()
                sub = self.coverage_matrix[np.ix_(rows, self.allowed_cols)]
                cover = sub <= self.coverage_minutes
                pen = self.coverage_penalty[rows]
                req = np.zeros(ma, dtype=bool)
                req[np.searchsorted(self.allowed_cols, self.required)] = True
                req[np.searchsorted(self.allowed_cols, self.required_remote)] = True
                keep = ~(cover & req[None, :]).any(axis=1)
                if self.coverage == "soft":
                    keep &= pen > 0
                cover, pen = cover[keep], pen[keep]
                if cover.shape[0]:
                    packed = np.ascontiguousarray(np.packbits(cover, axis=1))
                    keys = packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)
                    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
                    cover = cover[first]
                    pen = np.bincount(inv.reshape(-1), weights=pen, minlength=first.size)
                self._cache["cover"] = (cover, pen)
        return self._cache["cover"]

    def _problem(self) -> DistanceProblem:
        ma = self.allowed_cols.size
        cols = self.allowed_cols
        req_f, req_r = self._required_masks()
        cf = self.site_cost_full[cols]
        cr_ = self.site_cost_remote[cols]
        _, crows, wf, wr, const = self._rows()
        has_f, has_a = bool((wf > 0).any()), bool((wr > 0).any())
        lo_f, hi_f = self.count_full
        lo_r, hi_r = self.count_remote
        lo_f = max(lo_f, 1 if has_f else 0)
        hi_f, hi_r = min(hi_f, ma), min(hi_r, ma)
        min_any = max(lo_f + lo_r, 1 if (has_f or has_a) else 0)
        cover, pen = self._cover_sets()
        soft = self.coverage == "soft"

        b = MilpBuilder()
        f, r = self._tier_columns(b, count_full=(lo_f, hi_f), count_remote=(lo_r, hi_r))
        b.add_row(np.r_[f, r], np.ones(2 * ma), lb=min_any, ub=np.inf)
        if math.isfinite(self.budget_full):
            b.add_row(f, cf, ub=self.budget_full)
        if math.isfinite(self.budget_remote):
            b.add_row(r, cr_, ub=self.budget_remote)
        u = np.zeros(0, dtype=np.int64)
        if cover.shape[0]:
            gi, sj = np.nonzero(cover)
            k = cover.shape[0]
            if soft:
                u = b.add_cols(k, cost=pen, lb=0.0, ub=1.0, name="u")
                b.add_rows(
                    np.r_[gi, gi, np.arange(k)],
                    np.r_[f[sj], r[sj], u],
                    np.ones(2 * gi.size + k),
                    k,
                    lb=1.0,
                )
            else:
                b.add_rows(np.r_[gi, gi], np.r_[f[sj], r[sj]], 1.0, k, lb=1.0)
        b.offset = const
        base = b.build()
        sorts = RowSorts(crows)  # the blocks share the sort of the rows they keep
        blocks = [
            Block(crows, wf, [f], req_f, lo_f, "full", sorts=sorts),
            Block(crows, wr, [f, r], req_f | req_r, min_any, "any", sorts=sorts),
        ]
        search = self._tier_search(crows, wf, wr, ((lo_f, hi_f), (lo_r, hi_r)))
        nb = base.n_cols

        def state_to_x(t: NDArray[np.int64]) -> NDArray[np.float64]:
            x = np.zeros(nb)
            x[f] = t == 1
            x[r] = t == 2
            return complete(x)

        def complete(x: NDArray[np.float64]) -> NDArray[np.float64]:
            x = x.copy()
            if u.size:
                open_ = (x[f] > 0.5) | (x[r] > 0.5)
                x[u] = (cover @ open_) < 0.5
            return x

        def evaluate(x: NDArray[np.float64]) -> float:
            fo, ro = x[f] > 0.5, x[r] > 0.5
            t = np.where(fo, 1, np.where(ro, 2, 0))
            if (fo & ro).any() or not search.feasible(t):
                return math.inf
            open_ = fo | ro
            val = const + float(cf[fo].sum() + cr_[ro].sum())
            if cover.shape[0]:
                unc = (cover @ open_) < 0.5
                if unc.any():
                    if not soft:
                        return math.inf
                    val += float(pen[unc].sum())
            for w, mask in ((wf, fo), (wr, open_)):
                pos = w > 0
                if pos.any():
                    if not mask.any():
                        return math.inf
                    val += float(w[pos] @ crows[pos][:, mask].min(axis=1))
            return val

        return self._tier_problem(
            base, blocks, search, evaluate=evaluate, complete=complete, to_x=state_to_x
        )

    def _solution_fields(self, x_sites: NDArray[np.float64]) -> dict[str, Any]:
        ma = self.allowed_cols.size
        full = self.allowed_cols[np.nonzero(x_sites[:ma] > 0.5)[0]]
        remote = self.allowed_cols[np.nonzero(x_sites[ma : 2 * ma] > 0.5)[0]]
        open_all, site_fields = self._tier_fields(full, remote)
        a_full, d_full = nearest_open(self.cost, full)
        a_any, d_any = nearest_open(self.cost, open_all)
        pf, pr = self.w_full > 0, self.w_remote > 0
        travel_full = float(self.w_full[pf] @ d_full[pf]) if pf.any() else 0.0
        travel_remote = float(self.w_remote[pr] @ d_any[pr]) if pr.any() else 0.0
        sc_full = float(self.site_cost_full[full].sum())
        sc_remote = float(self.site_cost_remote[remote].sum())
        covered = None
        penalty = 0.0
        if self.coverage_minutes is not None:
            covered = (
                (self.coverage_matrix[:, open_all] <= self.coverage_minutes).any(axis=1)
                if open_all.size
                else np.zeros(self.n_demand, dtype=bool)
            )
            rows = self._coverage_rows()
            unc = rows[~covered[rows]]
            if self.coverage == "soft":
                penalty = float(self.coverage_penalty[unc].sum())
        objective = travel_full + travel_remote + sc_full + sc_remote + penalty
        return {
            "objective": objective,
            **site_fields,
            "assignment": a_full,
            "assignment_any": a_any,
            "covered": covered,
            "breakdown": {
                "travel_full": travel_full,
                "travel_remote": travel_remote,
                "site_cost_full": sc_full,
                "site_cost_remote": sc_remote,
                "coverage_penalty": penalty,
            },
        }

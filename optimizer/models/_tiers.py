"""What the two-tier models share: point counts, tier site costs and the tier columns.

:class:`~optimizer.models.TwoTier` and :class:`~optimizer.models.AgencyTwoTier`
both choose full and remote points. This module holds, once, what they do
alike: the count rules, the site costs and required sites of each tier, the
checks of required sites against the counts, the ``f``/``r`` columns of the
engine's base MILP, and the site fields of a solution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError
from optimizer.models._distance import DistanceModel
from optimizer.models._inputs import (
    as_site_values,
    check_required_forbidden,
    resolve_sites,
    site_names,
)
from optimizer.models._milp import Milp, MilpBuilder
from optimizer.models._problem import Block, DistanceProblem
from optimizer.models._tier_search import TwoTierSearch

__all__ = ["Count"]

#: Points of one tier: an int (exact), a ``(min, max)`` pair, or ``None`` (free).
Count = int | tuple[int, int] | None


def count_range(value: Count, *, name: str, m: int) -> tuple[int, int]:
    """Return ``(min, max)`` of a :data:`Count` over ``m`` sites.

    Raises
    ------
    DataError
        If ``value`` is not an int, a ``(min, max)`` pair or ``None``, or if
        ``0 <= min <= max`` does not hold.
    """
    if value is None:
        return 0, m
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        lo = hi = int(value)
    else:
        try:
            lo, hi = (int(v) for v in value)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise DataError(
                f"{name} must be an int, a (min, max) pair or None; got {value!r}"
            ) from None
    if lo < 0 or hi < lo:
        raise DataError(f"{name} must satisfy 0 <= min <= max; got {value!r}")
    return lo, min(hi, m)


class TieredModel(DistanceModel):
    """Base of the models that choose full and remote points.

    Not a dataclass itself: each subclass declares the fields below in the
    order of its own signature and calls :meth:`_init_tiers` from
    ``__post_init__``. Subclasses build their engine problem in ``_problem``.
    """

    methods: ClassVar[tuple[str, ...]] = ("compact", "benders")
    site_columns: ClassVar[Mapping[str, str | None]] = MappingProxyType(
        {"site_cost_full": None, "site_cost_remote": None}
    )

    n_full: Count
    n_remote: Count
    site_cost_full: Any
    site_cost_remote: Any
    required_remote: Any

    def _init_tiers(self) -> None:
        """Check and convert the counts, tier site costs and ``required_remote``."""
        m = self.n_sites
        self.count_full = count_range(self.n_full, name="n_full", m=m)
        self.count_remote = count_range(self.n_remote, name="n_remote", m=m)
        self.site_cost_full = as_site_values(self.site_cost_full, m, name="site_cost_full")
        self.site_cost_remote = as_site_values(self.site_cost_remote, m, name="site_cost_remote")
        self.required_remote = resolve_sites(
            self.required_remote, m, self.site_ids, name="required_remote"
        )
        check_required_forbidden(self.required_remote, self.forbidden, self.site_ids)
        both = np.intersect1d(self.required, self.required_remote)
        if both.size:
            raise DataError(
                f"{site_names(both, self.site_ids)} are required as both full and remote; "
                "a site has one tier"
            )
        self._cache: dict[str, Any] = {}

    # checks ------------------------------------------------------------------------------

    def _check_tier_counts(self) -> None:
        """Check the required sites against each tier's maximum, the minimums against the sites."""
        lo_f, hi_f = self.count_full
        lo_r, hi_r = self.count_remote
        ma = self.allowed_cols.size
        for tier, req, hi in (
            ("full", self.required, hi_f),
            ("remote", self.required_remote, hi_r),
        ):
            if req.size > hi:
                raise self._infeasible(
                    f"{req.size} required {tier} sites but at most {hi} {tier} points "
                    f"allowed ({site_names(req, self.site_ids)}); raise n_{tier}",
                    parameter=f"n_{tier}",
                    sites=req,
                )
        if lo_f + lo_r > ma:
            raise self._infeasible(
                f"at least {lo_f} full + {lo_r} remote points needed but only {ma} sites are "
                "not forbidden",
                parameter="n_full" if lo_f > ma or lo_r == 0 else "n_remote",
                sites=self.forbidden,
            )

    def _free_sites(self) -> NDArray[np.bool_]:
        """Sites that are neither forbidden nor required in either tier."""
        free = np.ones(self.n_sites, dtype=bool)
        free[self.forbidden] = False
        free[self.required] = False
        free[self.required_remote] = False
        return free

    # engine data -------------------------------------------------------------------------

    def _tier_columns(
        self, b: MilpBuilder, *, count_full: tuple[int, int], count_remote: tuple[int, int]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Add the ``f`` and ``r`` columns over the allowed sites, one tier each, and the counts.

        ``count_full`` and ``count_remote`` are the ``(min, max)`` the rows enforce.
        """
        cols = self.allowed_cols
        ma = cols.size
        req_f, req_r = self._required_masks()
        f, r = (
            b.add_cols(ma, cost=costs[cols], lb=req.astype(float), ub=1.0, integer=True, name=name)
            for name, costs, req in (
                ("f", self.site_cost_full, req_f),
                ("r", self.site_cost_remote, req_r),
            )
        )
        assert b.n_cols == 2 * ma, "the tier columns come first"
        ar = np.arange(ma)
        b.add_rows(np.r_[ar, ar], np.r_[f, r], 1.0, ma, lb=-np.inf, ub=1.0)
        b.add_row(f, np.ones(ma), lb=count_full[0], ub=count_full[1])
        b.add_row(r, np.ones(ma), lb=count_remote[0], ub=count_remote[1])
        return f, r

    def _required_masks(self) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """Return the required full and required remote sites as masks over the allowed sites."""
        cols = self.allowed_cols
        return np.isin(cols, self.required), np.isin(cols, self.required_remote)

    def _search_options(self) -> dict[str, Any]:
        """Budgets and coverage standard the local search keeps (default: none)."""
        return {}

    def _full_point_cost(self) -> float:
        """Cost the local search adds to every full point on top of its site cost."""
        return 0.0

    def _tier_search(
        self,
        crows: NDArray[np.float64],
        w_full: NDArray[np.float64],
        w_any: NDArray[np.float64],
        counts: tuple[tuple[int, int], tuple[int, int]],
    ) -> TwoTierSearch:
        """Local search over the allowed sites (rows ``crows``) within ``counts`` (full, remote)."""
        cols = self.allowed_cols
        req_f, req_r = self._required_masks()
        return TwoTierSearch(
            crows,
            w_full,
            w_any,
            cost_full=self.site_cost_full[cols] + self._full_point_cost(),
            cost_remote=self.site_cost_remote[cols],
            count_full=counts[0],
            count_remote=counts[1],
            req_full=req_f,
            req_remote=req_r,
            **self._search_options(),
        )

    def _tier_problem(
        self,
        base: Milp,
        blocks: list[Block],
        search: TwoTierSearch | None,
        *,
        evaluate: Callable[[NDArray[np.float64]], float],
        complete: Callable[[NDArray[np.float64]], NDArray[np.float64]],
        to_x: Callable[[NDArray[np.int64]], NDArray[np.float64] | None],
    ) -> DistanceProblem:
        """Return the engine problem, with the local search as heuristic and LP rounding.

        ``to_x`` turns site states (0 closed, 1 full, 2 remote) into base values
        (or ``None``); the ``f`` and ``r`` columns are the first of ``base``, as
        :meth:`_tier_columns` adds them. Without a ``search`` the engine starts
        without an incumbent.
        """
        ma = self.allowed_cols.size
        allowed = np.ones(ma, dtype=bool)

        def priced(x: NDArray[np.float64] | None) -> NDArray[np.float64] | None:
            return x if x is not None and math.isfinite(evaluate(x)) else None

        def heuristic() -> NDArray[np.float64] | None:
            if search is None:
                return None
            # construction and cheap moves only: the LP rounding does the rest
            return priced(to_x(search.improve(search.construct(allowed), allowed, swaps=False)))

        def improve(xf: NDArray[np.float64]) -> NDArray[np.float64] | None:
            if search is None:
                return None
            start = search.from_fractional(xf[:ma], xf[ma : 2 * ma], allowed)
            return priced(to_x(search.improve(start, allowed)))

        return DistanceProblem(
            base=base,
            blocks=blocks,
            evaluate=evaluate,
            complete=complete,
            heuristic=heuristic,
            improve=improve,
            name=self.name,
        )

    # results -----------------------------------------------------------------------------

    def _tier_fields(
        self, full: ArrayLike, remote: ArrayLike
    ) -> tuple[NDArray[np.int64], dict[str, Any]]:
        """Open sites of both tiers (sorted) and their ``open_sites``, ids and ``tiers`` fields."""
        full = np.asarray(full, dtype=np.int64)
        remote = np.asarray(remote, dtype=np.int64)
        open_all = np.sort(np.r_[full, remote]).astype(np.int64)
        tier_of = {int(j): "full" for j in full} | {int(j): "remote" for j in remote}
        tiers = tuple(tier_of[int(j)] for j in open_all)
        return open_all, self._site_fields(open_all, tiers=tiers)

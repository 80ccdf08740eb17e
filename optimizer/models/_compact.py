"""Base class of the models solved as one compact MILP (coverage, p-center, capacitated)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import InfeasibleError
from optimizer.models._base import (
    LocationModel,
    Milp,
    Outcome,
    SolveContext,
    as_cost_matrix,
    as_ids,
    as_weights,
    check_required_forbidden,
    demand_names,
    raise_no_solution,
    raise_solver_infeasible,
    resolve_sites,
    run_cbc,
    run_highs,
    site_names,
)

__all__: list[str] = []


class CompactModel(LocationModel):
    """A model whose MILP is built once from arrays and solved directly."""

    def __init__(
        self,
        cost: ArrayLike,
        *,
        weights: ArrayLike | None,
        required: ArrayLike | None,
        forbidden: ArrayLike | None,
        site_ids: Sequence[Any] | None,
        demand_ids: Sequence[Any] | None,
    ) -> None:
        self.cost = as_cost_matrix(cost)
        self.n_demand, self.n_sites = self.cost.shape
        self.weights = as_weights(weights, self.n_demand)
        self.site_ids = as_ids(site_ids, self.n_sites, name="site_ids")
        self.demand_ids = as_ids(demand_ids, self.n_demand, name="demand_ids")
        self.required = resolve_sites(required, self.n_sites, self.site_ids, name="required")
        self.forbidden = resolve_sites(forbidden, self.n_sites, self.site_ids, name="forbidden")
        check_required_forbidden(self.required, self.forbidden, self.site_ids)
        allowed = np.ones(self.n_sites, dtype=bool)
        allowed[self.forbidden] = False
        self.allowed = allowed
        self.allowed_cols = np.nonzero(allowed)[0]
        self._built: tuple[Milp, dict[str, Any]] | None = None

    # hooks -------------------------------------------------------------------------------

    def _build(self) -> tuple[Milp, dict[str, Any]]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _start(self, milp: Milp, info: dict[str, Any]) -> NDArray[np.float64] | None:
        return None

    # shared ------------------------------------------------------------------------------

    def _model(self) -> tuple[Milp, dict[str, Any]]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def _full_milp(self) -> Milp:
        return self._model()[0]

    def _solve(self, ctx: SolveContext) -> Outcome:
        milp, info = self._model()
        start = self._start(milp, info) if ctx.warm_start else None
        runner = run_highs if ctx.solver == "highs" else run_cbc
        res = runner(milp, time_limit=ctx.remaining(), mip_gap=ctx.mip_gap, start=start)
        if res.status == "infeasible":
            raise_solver_infeasible(self.name)
        if res.x is None:
            if start is not None:
                worst = math.inf if self.maximize else -math.inf
                return Outcome(start, res.bound if math.isfinite(res.bound) else worst, False)
            raise_no_solution(self.name, ctx)
        assert res.x is not None
        x = res.x.copy()
        x[milp.integer] = np.round(x[milp.integer])
        return Outcome(x, res.bound, res.status == "optimal")

    def _check_p(self, p: int) -> None:
        if self.required.size > p:
            raise InfeasibleError(
                f"{self.name}: {self.required.size} required sites but p = {p}; raise p to at "
                f"least {self.required.size} or drop required sites "
                f"({site_names(self.required, self.site_ids)})"
            )
        if self.allowed_cols.size < p:
            raise InfeasibleError(
                f"{self.name}: p = {p} but only {self.allowed_cols.size} sites are not "
                "forbidden; lower p or allow more sites"
            )

    def _check_reachable(self) -> None:
        reach = np.isfinite(self.cost[:, self.allowed_cols]).any(axis=1)
        bad = np.nonzero((self.weights > 0) & ~reach)[0]
        if bad.size:
            raise InfeasibleError(
                f"{self.name}: {demand_names(bad, self.demand_ids)} cannot reach any allowed "
                "site (all travel costs are inf); drop these rows, give them zero weight, or "
                "allow a site they can reach"
            )

    def _site_tuple(self, cols: NDArray[np.int64]) -> dict[str, Any]:
        cols = np.sort(np.asarray(cols, dtype=np.int64))
        return {
            "open_sites": tuple(int(j) for j in cols),
            "open_site_ids": None
            if self.site_ids is None
            else tuple(self.site_ids[j] for j in cols),
            "tiers": tuple("full" for _ in cols),
        }


def check_p_value(p: Any) -> int:
    """Validate ``p`` (a positive integer)."""
    from optimizer.errors import DataError

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

"""Base class of the models solved as one compact MILP (coverage, p-center, capacitated)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.models._backends import run_cbc, run_highs
from optimizer.models._base import (
    Outcome,
    SingleTierModel,
    SolveContext,
    raise_no_solution,
    raise_solver_infeasible,
)
from optimizer.models._milp import Milp

__all__: list[str] = []


@dataclass(eq=False, repr=False, kw_only=True)
class CompactModel(SingleTierModel):
    """A model whose MILP is built once from arrays and solved directly."""

    def __post_init__(self) -> None:
        super().__post_init__()
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

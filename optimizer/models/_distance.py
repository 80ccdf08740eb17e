"""Base of the models that the distance engine solves (:mod:`._engine`).

p-median, fixed charge and both two-tier models describe themselves as a
:class:`._problem.DistanceProblem`; this base solves it and writes its compact
MILP, so each model only builds the problem.
"""

from __future__ import annotations

from optimizer.models._base import LocationModel, Outcome, SolveContext
from optimizer.models._engine import compact_milp, solve_distance
from optimizer.models._milp import Milp
from optimizer.models._problem import DistanceProblem

__all__: list[str] = []


class DistanceModel(LocationModel):
    """A location model solved by the distance engine (not a dataclass: a base to mix in)."""

    def _problem(self) -> DistanceProblem:  # pragma: no cover - overridden
        raise NotImplementedError

    def _solve(self, ctx: SolveContext) -> Outcome:
        return solve_distance(self._problem(), ctx)

    def _full_milp(self) -> Milp:
        milp, _ = compact_milp(self._problem())
        return milp

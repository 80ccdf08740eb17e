"""Exceptions raised by the optimizer.

Every error the package raises on purpose is an :class:`OptimizerError`. Each
specific class also subclasses the matching built-in exception, so callers that
already catch ``ValueError`` or ``FileNotFoundError`` keep working.

Messages follow one rule: say what was received, what is allowed, and what to
do about it. Name the file, field, cells or sites at fault.
"""

from __future__ import annotations

__all__ = [
    "BundleNotFoundError",
    "CRSError",
    "DataError",
    "InfeasibleError",
    "NetworkError",
    "OptimizerError",
    "OutputError",
    "OutputLockedError",
    "ScenarioError",
    "SolverError",
    "SourceUnavailableError",
    "UnknownRegionError",
]


class OptimizerError(Exception):
    """Base class of every error raised on purpose by the package."""


class DataError(OptimizerError, ValueError):
    """Input data has the wrong schema, values or geometry."""


class CRSError(DataError):
    """A layer is in the wrong or a missing coordinate reference system."""


class NetworkError(DataError):
    """A road graph is empty, disconnected or lacks edge attributes."""


class BundleNotFoundError(OptimizerError, FileNotFoundError):
    """A region bundle folder or one of its files does not exist."""


class UnknownRegionError(OptimizerError, KeyError):
    """A region name or code matches no known region."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class InfeasibleError(OptimizerError, ValueError):
    """A model cannot have a feasible solution (found before or by the solver).

    Besides the message it records what is at fault, so that a caller that
    built the model from a file (a scenario) can point at the file and line:

    Attributes
    ----------
    parameter
        The model keyword at fault (e.g. ``"n_full"``, ``"required"``,
        ``"coverage_minutes"``, ``"budget"``), or ``None`` when the solver
        proved infeasibility without a simpler cause.
    rows
        Demand-row positions at fault (e.g. cells no allowed site can reach
        within the standard), possibly truncated; empty when not row-specific.
    sites
        Site positions at fault, possibly truncated.
    """

    def __init__(
        self,
        message: str,
        *,
        parameter: str | None = None,
        rows: tuple[int, ...] = (),
        sites: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.rows = tuple(int(r) for r in rows)
        self.sites = tuple(int(s) for s in sites)


class SolverError(OptimizerError, RuntimeError):
    """The solver failed, is not installed, or returned no usable solution."""


class SourceUnavailableError(OptimizerError, ConnectionError):
    """An online data source cannot be reached or answered with an error."""


class ScenarioError(OptimizerError, ValueError):
    """A scenario file is invalid: unknown keys, bad values or contradictions."""


class OutputError(OptimizerError, OSError):
    """Results cannot be written to the requested place."""


class OutputLockedError(OutputError):
    """Another run or batch holds the lock on the output folder."""

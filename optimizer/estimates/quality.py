"""Data quality of a run: residents the road graph does not reach, and unreachable ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from optimizer._json import jsonable
from optimizer.estimates._arrays import as_vector

__all__ = ["POOR_SHARE", "DataQuality", "data_quality"]

#: Share of residents beyond the snap threshold or unreachable above which the
#: data quality is called poor (and the map and report show it prominently).
POOR_SHARE = 0.01
_NAMED_CELLS = 20


@dataclass(frozen=True)
class DataQuality:
    """How far the run's numbers can be trusted.

    Attributes
    ----------
    residents
        Residents of the grid.
    far_residents, far_cells
        Residents (and the most populous of their cells) farther than the snap
        threshold from the road graph: they are counted as unreachable, never
        served by a straight-line leg.
    unreachable_residents, unreachable_cells
        Residents (and cells) that reach no point of the network at all: the
        far ones plus those whose road component reaches no open point.
    road_coverage_share
        Share of residents within the snap threshold of the road graph.
    snap_threshold_m
        The snap threshold in metres.
    """

    residents: float
    far_residents: float
    far_cells: tuple[str, ...]
    unreachable_residents: float
    unreachable_cells: tuple[str, ...]
    road_coverage_share: float
    snap_threshold_m: float

    @property
    def is_poor(self) -> bool:
        """Whether more than :data:`POOR_SHARE` of residents are far or unreachable."""
        if self.residents <= 0:
            return False
        worst = max(self.far_residents, self.unreachable_residents)
        return worst / self.residents > POOR_SHARE

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (with ``is_poor``)."""
        return {**jsonable(self), "is_poor": self.is_poor}


def _named(ids: Sequence[Any], population: np.ndarray, mask: np.ndarray) -> tuple[str, ...]:
    order = np.argsort(-population[mask], kind="stable")[:_NAMED_CELLS]
    return tuple(str(c) for c in np.asarray(ids, dtype=object)[mask][order])


def data_quality(
    population: ArrayLike,
    cell_ids: Sequence[Any],
    *,
    far: ArrayLike,
    nearest_any_minutes: ArrayLike,
    snap_threshold_m: float,
) -> DataQuality:
    """Summarise which residents the run could not route.

    Parameters
    ----------
    population
        Residents per cell.
    cell_ids
        Cell ids, aligned with ``population``.
    far
        Whether each cell lies farther than the snap threshold from the roads.
    nearest_any_minutes
        Minutes from each cell to the nearest open point (``inf`` = unreachable).
    snap_threshold_m
        The snap threshold in metres.

    Returns
    -------
    DataQuality
        The figures, naming the most populous cells at fault.
    """
    pop = as_vector(population, "population")
    far_mask = np.asarray(far, dtype=bool) & (pop > 0)
    unreachable = (~np.isfinite(np.asarray(nearest_any_minutes, dtype=np.float64)) | far_mask) & (
        pop > 0
    )
    total = float(pop.sum())
    far_residents = float(pop[far_mask].sum())
    return DataQuality(
        residents=total,
        far_residents=far_residents,
        far_cells=_named(cell_ids, pop, far_mask),
        unreachable_residents=float(pop[unreachable].sum()),
        unreachable_cells=_named(cell_ids, pop, unreachable),
        road_coverage_share=1.0 - far_residents / total if total > 0 else 1.0,
        snap_threshold_m=float(snap_threshold_m),
    )

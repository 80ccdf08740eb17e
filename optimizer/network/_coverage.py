"""How much of a population grid a road graph reaches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.network._model import RoadNetwork, as_road_network

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

__all__ = ["RoadCoverage", "road_coverage"]


@dataclass(frozen=True)
class RoadCoverage:
    """How much of a population grid the road graph reaches.

    A cell is *covered* when its centre lies within ``threshold_m`` of a node
    of the graph's largest strongly connected component (the nodes travel
    times snap to).

    Attributes
    ----------
    residents, covered_residents
        Residents of the grid, and of its covered cells.
    threshold_m
        The snap distance used.
    uncovered_cells
        Ids of the populated cells beyond the threshold, most populous first.
    uncovered_bounds
        ``(minx, miny, maxx, maxy)`` of the uncovered cells' centres (metres),
        or ``None`` when all are covered.
    uncovered_municipalities
        Municipality codes of the uncovered residents with their counts, most
        first (empty without a ``municipality`` column).
    """

    residents: float
    covered_residents: float
    threshold_m: float
    uncovered_cells: tuple[Any, ...]
    uncovered_bounds: tuple[float, float, float, float] | None
    uncovered_municipalities: tuple[tuple[str, float], ...]

    @property
    def share(self) -> float:
        """Share of residents covered (1 for an empty grid)."""
        return self.covered_residents / self.residents if self.residents > 0 else 1.0

    def describe(self) -> str:
        """Say where residents lack roads, in one line."""
        if self.uncovered_bounds is None:
            return "every populated cell lies near a road"
        minx, miny, maxx, maxy = self.uncovered_bounds
        where = ", ".join(
            f"{code} ({count:,.0f})" for code, count in self.uncovered_municipalities[:5]
        )
        cells = ", ".join(str(c) for c in self.uncovered_cells[:5])
        more = len(self.uncovered_cells) - 5
        return (
            f"{self.residents - self.covered_residents:,.0f} residents in "
            f"{len(self.uncovered_cells)} cells lie more than {self.threshold_m:,.0f} m from the "
            f"roads, within x {minx:,.0f}-{maxx:,.0f} m, y {miny:,.0f}-{maxy:,.0f} m"
            + (f", in municipalities {where}" if where else "")
            + f"; e.g. cells {cells}"
            + (f" and {more} more" if more > 0 else "")
        )


def road_coverage(
    roads: RoadNetwork | nx.MultiDiGraph,
    population: gpd.GeoDataFrame,
    *,
    threshold_m: float,
) -> RoadCoverage:
    """Measure which residents of a grid lie within ``threshold_m`` of the road core.

    Parameters
    ----------
    roads
        The road graph (same CRS as ``population``).
    population
        Grid cells with ``population`` (and optionally ``municipality``).
    threshold_m
        Largest distance from a cell centre to a node of the largest strongly
        connected component for the cell to count as covered.

    Returns
    -------
    RoadCoverage
        Residents covered and where the others are.
    """
    from scipy.spatial import cKDTree

    net = as_road_network(roads)
    pop = population["population"].to_numpy(dtype=np.float64)
    centres = population.geometry.centroid
    xy = np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()])
    n = net.number_of_nodes()
    if n == 0 or net.number_of_edges() == 0:
        dist = np.full(len(pop), np.inf)
    else:
        core = np.flatnonzero(net.largest_strong_component_mask())
        dist, _ = cKDTree(np.column_stack([net.x[core], net.y[core]])).query(xy, k=1)
    far = (dist > threshold_m) & (pop > 0)
    order = np.argsort(-pop[far], kind="stable")
    ids = population.index.to_numpy()[far][order]
    bounds = None
    munis: tuple[tuple[str, float], ...] = ()
    if far.any():
        fx, fy = xy[far, 0], xy[far, 1]
        bounds = (float(fx.min()), float(fy.min()), float(fx.max()), float(fy.max()))
        if "municipality" in population.columns:
            counts = (
                population.loc[far, ["municipality", "population"]]
                .groupby("municipality")["population"]
                .sum()
                .sort_values(ascending=False)
            )
            munis = tuple((str(k), float(v)) for k, v in counts.items())
    return RoadCoverage(
        residents=float(pop.sum()),
        covered_residents=float(pop[~far].sum()),
        threshold_m=float(threshold_m),
        uncovered_cells=tuple(ids.tolist()),
        uncovered_bounds=bounds,
        uncovered_municipalities=munis,
    )

"""The result of a location model: :class:`Solution` and its :data:`Status`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from optimizer.errors import DataError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["DEFAULT_MIP_GAP", "OPTIMAL_GAP", "Solution", "Status"]

#: What a solve proved; see :class:`Solution`.
Status = Literal["optimal", "gap_limit", "time_limit", "infeasible"]

#: Relative gap at which ``solve`` stops by default (``mip_gap=None``): a solve
#: may stop with a solution up to 0.01 % worse than the optimum; it then reports
#: status ``"gap_limit"``, not ``"optimal"``. Pass ``mip_gap=0`` for a proof.
DEFAULT_MIP_GAP = 1e-4

#: Largest relative gap still reported as ``"optimal"`` (float tolerance).
OPTIMAL_GAP = 1e-9


@dataclass(frozen=True, eq=False)
class Solution:
    """The result of :meth:`LocationModel.solve <optimizer.models.LocationModel.solve>`.

    Attributes
    ----------
    model
        Name of the model, e.g. ``"p-median"``.
    status
        What the solve proved:

        * ``"optimal"``: the objective equals the proven bound (the gap is
          zero within float tolerance, :data:`OPTIMAL_GAP` = 1e-9): no better
          solution exists;
        * ``"gap_limit"``: the search stopped at the requested relative gap
          ``mip_gap`` (default :data:`DEFAULT_MIP_GAP` = 1e-4, i.e. 0.01 %)
          before closing it: the objective is within ``gap`` of the optimum,
          but may not be the optimum itself;
        * ``"time_limit"``: the time limit stopped the search before the
          requested gap was reached (the best solution found is returned
          with its ``bound`` and ``gap``);
        * ``"infeasible"`` is reserved for infeasible models, for which
          ``solve`` raises :class:`~optimizer.errors.InfeasibleError`
          instead of returning.
    objective
        Objective value of the returned solution, recomputed from the input
        data (not the solver's internal value).
    bound
        Best proven bound on the optimal objective (a lower bound when
        minimising, an upper bound when maximising).
    gap
        ``|objective - bound| / |objective|`` (0 when both are 0).
    seconds
        Wall-clock seconds spent in ``solve``.
    solver
        ``"highs"`` or ``"cbc"``.
    open_sites
        Column indices of the open sites, ascending.
    open_site_ids
        Ids of the open sites when the model was given ``site_ids``.
    tiers
        Tier of each open site (aligned with ``open_sites``): ``"full"`` or
        ``"remote"``. Single-tier models report ``"full"`` for every site.
    assignment
        For each demand row, the column index of the site that serves it:
        the nearest open site (for :class:`~optimizer.models.TwoTier` the
        nearest open *full* site, which takes the in-person visits; for the
        capacitated models the assigned site). ``-1`` when no open site can
        reach the row.
    assignment_any
        For each demand row, the nearest open site of any tier (equals
        ``assignment`` for single-tier models).
    covered
        For coverage models, whether each demand row is within the standard
        of an open site; ``None`` otherwise.
    breakdown
        Objective components, e.g. ``{"travel": ..., "site_cost": ...}``.
    site_ids, demand_ids
        The ids the model was built with, if any.
    """

    model: str
    status: Status
    objective: float
    bound: float
    gap: float
    seconds: float
    solver: str
    open_sites: tuple[int, ...]
    open_site_ids: tuple[Any, ...] | None
    tiers: tuple[str, ...]
    assignment: NDArray[np.int64]
    assignment_any: NDArray[np.int64]
    covered: NDArray[np.bool_] | None = None
    breakdown: Mapping[str, float] = field(default_factory=dict)
    site_ids: tuple[Any, ...] | None = None
    demand_ids: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("assignment", "assignment_any", "covered"):
            arr = getattr(self, name)
            if arr is not None:
                arr = np.array(arr, copy=True)
                arr.setflags(write=False)
                object.__setattr__(self, name, arr)
        object.__setattr__(self, "breakdown", MappingProxyType(dict(self.breakdown)))

    @property
    def is_optimal(self) -> bool:
        """Whether the solution is proven optimal (status ``"optimal"``: zero gap).

        A solve stopped at the gap limit (``"gap_limit"``) is not; see
        :attr:`within_gap`.
        """
        return self.status == "optimal"

    @property
    def within_gap(self) -> bool:
        """Whether the solve reached the requested gap (``"optimal"`` or ``"gap_limit"``)."""
        return self.status in ("optimal", "gap_limit")

    def sites_of_tier(self, tier: str) -> tuple[int, ...]:
        """Column indices of the open sites of one tier (``"full"`` or ``"remote"``)."""
        return tuple(j for j, t in zip(self.open_sites, self.tiers, strict=True) if t == tier)

    def assigned_ids(self, *, any_tier: bool = False) -> list[Any]:
        """Site id serving each demand row (``None`` where unassigned).

        Parameters
        ----------
        any_tier
            Use ``assignment_any`` instead of ``assignment``.
        """
        if self.site_ids is None:
            raise DataError("assigned_ids() needs site ids; build the model with site_ids=...")
        arr = self.assignment_any if any_tier else self.assignment
        return [self.site_ids[j] if j >= 0 else None for j in arr]

    def to_geodataframes(
        self, region: Any, *, matrix: Any = None
    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Return the solution as the region's cells and sites, ready to map or save.

        The model must have been built for this region (``from_region``, or
        ``from_travel_times`` with its cell and site ids), so that the solution
        carries ``demand_ids`` (cell ids) and ``site_ids``.

        Parameters
        ----------
        region
            The :class:`~optimizer.region.Region` the model was built for.
        matrix
            Optional: the travel times the model was built from (a
            :class:`~optimizer.traveltimes.TravelTimeMatrix` or a cells x sites
            array in minutes); adds each cell's minutes to the sites serving it.

        Returns
        -------
        cells : geopandas.GeoDataFrame
            The region's grid cells (rows of the model, in its order) with
            ``population``, ``full_site_id`` (the site serving the cell: for
            two-tier models the nearest full point), ``any_site_id`` (the
            nearest open point of any tier), with ``matrix`` also
            ``nearest_full_minutes`` and ``nearest_any_minutes``, and for
            coverage models ``covered``.
        sites : geopandas.GeoDataFrame
            The model's candidate sites with ``role``: ``"full"``, ``"remote"``
            or ``"unused"``, and ``demand`` (the population they serve).

        Raises
        ------
        DataError
            If the solution has no ids, or they are not the region's cells and sites.
        """
        if self.site_ids is None or self.demand_ids is None:
            raise DataError(
                "to_geodataframes() needs cell and site ids: build the model with "
                "from_region(region, matrix) or pass origin and destination ids"
            )
        grid, candidates = region.population, region.sites
        missing = [c for c in self.demand_ids if c not in grid.index][:5]
        unknown = [s for s in self.site_ids if s not in candidates.index][:5]
        if missing or unknown:
            raise DataError(
                f"solution ids are not those of region {region.name!r}: cells {missing}, "
                f"sites {unknown}; pass the region the model was built for"
            )
        ids = np.asarray(self.site_ids, dtype=object)

        def labels(index: NDArray[np.int64]) -> NDArray[Any]:
            out = np.full(index.shape, None, dtype=object)
            out[index >= 0] = ids[index[index >= 0]]
            return out

        keep = [c for c in ("municipality", "population", "geometry") if c in grid.columns]
        cells = grid.loc[list(self.demand_ids), keep].copy()
        cells["full_site_id"] = labels(self.assignment)
        cells["any_site_id"] = labels(self.assignment_any)
        if self.covered is not None:
            cells["covered"] = np.asarray(self.covered, dtype=bool)
        if matrix is not None:
            minutes = np.asarray(getattr(matrix, "minutes", matrix), dtype=np.float64)
            if minutes.shape != (len(cells), len(ids)):
                raise DataError(
                    f"matrix has shape {minutes.shape}; the solution has {len(cells)} cells "
                    f"and {len(ids)} sites"
                )
            rows = np.arange(len(cells))
            for column, index in (
                ("nearest_full_minutes", self.assignment),
                ("nearest_any_minutes", self.assignment_any),
            ):
                picked = minutes[rows, np.maximum(index, 0)]
                cells[column] = np.where(index >= 0, picked, np.inf)
        sites = candidates.loc[list(self.site_ids)].copy()
        role = np.full(len(ids), "unused", dtype=object)
        for j, tier in zip(self.open_sites, self.tiers, strict=True):
            role[j] = tier
        sites["role"] = role
        population = (
            cells["population"].to_numpy(dtype=np.float64) if "population" in cells else None
        )
        if population is not None:
            served = np.bincount(
                self.assignment[self.assignment >= 0],
                weights=population[self.assignment >= 0],
                minlength=len(ids),
            )
            sites["demand"] = served
        return cells, sites

    def map(self, region: Any, *, matrix: Any, lang: str = "en", **options: Any) -> Any:
        """Draw the solution on a Folium map (:func:`optimizer.maps.map_solution`).

        Parameters
        ----------
        region
            The region the model was built for.
        matrix
            The travel times it was built from (see :meth:`to_geodataframes`).
        lang
            ``"en"``, ``"fi"`` or ``"sv"``.
        **options
            Passed to :func:`~optimizer.maps.map_solution` (``title``, ``tiles``, ...).
        """
        from optimizer.maps import map_solution

        cells, sites = self.to_geodataframes(region, matrix=matrix)
        options.setdefault("title", f"{region.name}: {self.model}")
        return map_solution(cells, sites, lang=lang, boundary=region.boundary, **options)


def relative_gap(objective: float, bound: float) -> float:
    """Return ``|objective - bound| / |objective|`` with the conventions of :class:`Solution`."""
    if not (math.isfinite(objective) and math.isfinite(bound)):
        return math.inf
    diff = abs(objective - bound)
    if diff <= 1e-12 * max(1.0, abs(objective)):
        return 0.0
    if objective == 0:
        return math.inf
    return diff / abs(objective)


def status_of(gap: float, mip_gap: float) -> Status:
    """Status for a solve that ended with relative ``gap`` when ``mip_gap`` was asked for.

    ``"optimal"`` only when the gap is zero within :data:`OPTIMAL_GAP`;
    ``"gap_limit"`` when it is positive but within ``mip_gap``; otherwise
    ``"time_limit"`` (the only other way a solve stops with a solution).
    """
    if gap <= OPTIMAL_GAP:
        return "optimal"
    if gap <= mip_gap + OPTIMAL_GAP:
        return "gap_limit"
    return "time_limit"

"""The result type: :class:`TravelTimeMatrix`, grouped by snapped node, dense and sparse views."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer.traveltimes._common import Direction
from optimizer.traveltimes._paths import csr_from_triplets, dense

__all__ = ["TravelTimeMatrix"]


@dataclass(frozen=True, eq=False)
class TravelTimeMatrix:
    """Travel times and road distances between origins and destinations.

    Rows are origins, columns destinations, whatever the ``direction``.
    Build it with :func:`travel_time_matrix`.

    Attributes
    ----------
    origin_ids, destination_ids
        Row and column labels (the input GeoDataFrames' indexes).
    direction
        ``"to_destinations"``, ``"from_destinations"`` or ``"round_trip"``.
    cutoff
        Minutes, or ``None``. Pairs beyond it are ``inf`` in the dense arrays
        and absent from the sparse ones.
    snap
        One row per origin and per destination, indexed by ``(role, id)`` with
        role ``"origin"`` or ``"destination"``; columns ``node`` (graph node
        label), ``snap_m`` (straight-line metres to it), ``access_minutes`` and
        ``access_km`` (one off-network leg) and ``far`` (snap distance above the
        threshold).
    origin_groups
        ``int64`` label per origin; origins that snap to the same node share a
        label. Labels index the rows of :attr:`group_minutes`.
    group_nodes
        Graph node label of each group.
    origin_offset_minutes, origin_offset_km
        Per-origin constant added to the group row: the access leg (twice for
        a round trip).
    access_speed_kmh, circuity, snap_threshold_m
        The parameters used.
    car
        The :class:`~optimizer.traveltimes.CarModel` of door-to-door times, or
        ``None``. With one, ``origin_offset_minutes`` also holds the origin's
        terminal time, the snap table has ``zone`` and ``terminal_minutes``,
        and the driving minutes of a pair are ``minutes`` minus the access,
        egress and terminal terms (:meth:`components`).
    """

    origin_ids: pd.Index
    destination_ids: pd.Index
    direction: Direction
    cutoff: float | None
    snap: pd.DataFrame = field(repr=False)
    origin_groups: NDArray[np.int64] = field(repr=False)
    group_nodes: NDArray[Any] = field(repr=False)
    origin_offset_minutes: NDArray[np.float64] = field(repr=False)
    origin_offset_km: NDArray[np.float64] = field(repr=False)
    access_speed_kmh: float
    circuity: float
    snap_threshold_m: float
    _group_table: tuple[Any, Any] = field(repr=False)
    car: Any = field(default=None, repr=False)

    # ------------------------------------------------------------------ shape

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_origins, n_destinations)``."""
        return (len(self.origin_ids), len(self.destination_ids))

    @property
    def origin_snap(self) -> pd.DataFrame:
        """Snap table rows of the origins, indexed by origin id."""
        return self.snap.xs("origin", level="role")

    @property
    def destination_snap(self) -> pd.DataFrame:
        """Snap table rows of the destinations, indexed by destination id."""
        return self.snap.xs("destination", level="role")

    # ------------------------------------------------------------------ group level

    @cached_property
    def group_minutes(self) -> NDArray[np.float64]:
        """Dense ``(n_groups, n_destinations)`` minutes without the origin access leg."""
        return dense(self._group_table[0])

    @cached_property
    def group_km(self) -> NDArray[np.float64]:
        """Dense ``(n_groups, n_destinations)`` km without the origin access leg."""
        return dense(self._group_table[1])

    # ------------------------------------------------------------------ dense

    @cached_property
    def minutes(self) -> NDArray[np.float64]:
        """Dense ``(n_origins, n_destinations)`` ``float64`` minutes; ``inf`` if unreachable."""
        return self._expanddense(0, self.origin_offset_minutes)

    @cached_property
    def km(self) -> NDArray[np.float64]:
        """Dense km along each fastest trip, access legs included; ``inf`` if unreachable."""
        return self._expanddense(1, self.origin_offset_km)

    def _expanddense(self, which: int, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
        table = self._group_table[which]
        if isinstance(table, np.ndarray):  # no cutoff: every pair is kept
            out = table[self.origin_groups]
            out += offsets[:, None]
            return out
        out = np.full(self.shape, np.inf)
        rows, cols, _ = self._sparse_parts
        out[rows, cols] = self._sparse_values(which, offsets)
        return out

    # ------------------------------------------------------------------ sparse

    @cached_property
    def _group_csr(self) -> tuple[sp.csr_array, sp.csr_array]:
        minutes, km = self._group_table
        if not isinstance(minutes, np.ndarray):
            return minutes, km
        rows, cols = np.nonzero(np.isfinite(minutes))
        return (
            csr_from_triplets(rows, cols, minutes[rows, cols], minutes.shape),
            csr_from_triplets(rows, cols, km[rows, cols], km.shape),
        )

    @cached_property
    def _sparse_parts(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """Origin row, destination column and group-table position of each kept pair."""
        table = self._group_csr[0]
        indptr = table.indptr.astype(np.int64)
        groups = self.origin_groups
        lengths = indptr[groups + 1] - indptr[groups]
        out_start = np.cumsum(lengths) - lengths
        positions = np.repeat(indptr[groups] - out_start, lengths) + np.arange(
            int(lengths.sum()), dtype=np.int64
        )
        rows = np.repeat(np.arange(len(groups), dtype=np.int64), lengths)
        values = table.data[positions] + self.origin_offset_minutes[rows]
        keep = np.isfinite(values)
        if self.cutoff is not None:
            keep &= values <= self.cutoff
        cols = table.indices[positions].astype(np.int64)
        return rows[keep], cols[keep], positions[keep]

    def _sparse_values(self, which: int, offsets: NDArray[np.float64]) -> NDArray[np.float64]:
        rows, _, positions = self._sparse_parts
        return self._group_csr[which].data[positions] + offsets[rows]

    def _sparse(self, which: int, offsets: NDArray[np.float64]) -> sp.csr_array:
        rows, cols, _ = self._sparse_parts
        indptr = np.zeros(self.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=self.shape[0]), out=indptr[1:])
        return sp.csr_array(
            (self._sparse_values(which, offsets), cols.copy(), indptr), shape=self.shape
        )

    def sparse_minutes(self) -> sp.csr_array:
        """Minutes as a CSR array holding only reachable pairs within the cutoff.

        Absent entries mean unreachable (or beyond the cutoff). Stored zeros
        are real zero-minute trips: do not call ``eliminate_zeros()`` on it.

        Returns
        -------
        scipy.sparse.csr_array
            ``(n_origins, n_destinations)``.
        """
        return self._sparse(0, self.origin_offset_minutes)

    def sparse_km(self) -> sp.csr_array:
        """Kilometres with the same sparsity structure as :meth:`sparse_minutes`.

        Returns
        -------
        scipy.sparse.csr_array
            ``(n_origins, n_destinations)``.
        """
        return self._sparse(1, self.origin_offset_km)

    # ------------------------------------------------------------------ tables

    @cached_property
    def unreachable(self) -> pd.DataFrame:
        """Pairs without a trip (within the cutoff), columns ``origin`` and ``destination``.

        Without a cutoff this is empty: all points snap into one strongly
        connected component. With a cutoff it lists the pairs beyond it and
        builds a dense mask, so prefer :meth:`sparse_minutes` for large inputs.
        """
        rows, cols = np.nonzero(~np.isfinite(self.minutes))
        return pd.DataFrame(
            {"origin": self.origin_ids[rows], "destination": self.destination_ids[cols]}
        )

    def to_frame(self, *, include_unreachable: bool = False) -> pd.DataFrame:
        """Long table for notebooks: one row per origin-destination pair.

        Parameters
        ----------
        include_unreachable
            Also list pairs without a trip (within the cutoff), with ``inf``.

        Returns
        -------
        pandas.DataFrame
            Columns ``origin``, ``destination``, ``minutes``, ``km``, ordered by
            origin then destination.
        """
        if include_unreachable:
            rows, cols = np.divmod(np.arange(self.shape[0] * self.shape[1]), self.shape[1])
            minutes = self.minutes.ravel()
            km = self.km.ravel()
        else:
            rows, cols, _ = self._sparse_parts
            minutes = self._sparse_values(0, self.origin_offset_minutes)
            km = self._sparse_values(1, self.origin_offset_km)
        return pd.DataFrame(
            {
                "origin": self.origin_ids[rows],
                "destination": self.destination_ids[cols],
                "minutes": minutes,
                "km": km,
            }
        )

    def components(
        self, destinations: NDArray[np.int64] | None = None
    ) -> dict[str, NDArray[np.float64]]:
        """Split trips' minutes into access, terminal and driving time.

        Parameters
        ----------
        destinations
            Optional: one destination position per origin (``-1`` for none).
            Then only those trips are split, without dense arrays.

        Returns
        -------
        dict of numpy.ndarray
            ``"access"`` (the off-network legs at both ends, twice for a round
            trip), ``"terminal"`` (walk to the car, parking search and walk to
            the door; zero without a car model), ``"network"`` (the rest:
            driving on the road graph) and ``"total"`` (= :attr:`minutes`).
            Dense ``(n_origins, n_destinations)`` arrays, or one value per
            origin with ``destinations``. Pairs without a trip are ``inf`` in
            ``"network"`` and ``"total"``.
        """
        legs = 2.0 if self.direction == "round_trip" else 1.0
        o_snap, d_snap = self.origin_snap, self.destination_snap
        terminal_known = "terminal_minutes" in self.snap.columns

        def ends(column: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
            return o_snap[column].to_numpy(), d_snap[column].to_numpy()

        if destinations is None:
            o_access, d_access = ends("access_minutes")
            access = legs * (o_access[:, None] + d_access[None, :])
            if terminal_known:
                o_term, d_term = ends("terminal_minutes")
                terminal = o_term[:, None] + d_term[None, :]
            else:
                terminal = np.zeros(self.shape)
            total = self.minutes
        else:
            cols = np.asarray(destinations, dtype=np.int64)
            reach = cols >= 0
            safe = np.where(reach, cols, 0)
            o_access, d_access = ends("access_minutes")
            access = legs * (o_access + d_access[safe])
            if terminal_known:
                o_term, d_term = ends("terminal_minutes")
                terminal = o_term + d_term[safe]
            else:
                terminal = np.zeros(cols.size)
            total = np.where(reach, self.minutes[np.arange(cols.size), safe], np.inf)
        return {
            "access": access,
            "terminal": terminal,
            "network": total - access - terminal,
            "total": total,
        }

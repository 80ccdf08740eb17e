"""Constants, parameter checks and message helpers shared by the travel-time modules."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pyproj
from numpy.typing import NDArray

from optimizer.errors import DataError

__all__ = [
    "DEFAULT_ACCESS_SPEED_KMH",
    "DEFAULT_CIRCUITY",
    "DEFAULT_SNAP_THRESHOLD_M",
    "Direction",
]

DEFAULT_ACCESS_SPEED_KMH: float = 20.0
"""Off-network speed (km/h) of the access legs of the pure network model (``car=None``)."""

DEFAULT_CIRCUITY: float = 1.3
"""Ratio of the off-network route length to the straight snap distance."""

DEFAULT_SNAP_THRESHOLD_M: float = 2000.0
"""Snap distance (m) beyond which a point is flagged as far from the roads."""

Direction = Literal["to_destinations", "from_destinations", "round_trip"]
DIRECTIONS: tuple[str, ...] = ("to_destinations", "from_destinations", "round_trip")
POLYGON_POINTS: tuple[str, ...] = ("centroid", "representative_point")


def _finite_positive(value: object, message: str) -> float:
    """``value`` as a finite float > 0, else a :class:`DataError` saying ``message``."""
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(message) from None
    if not (math.isfinite(out) and out > 0):
        raise DataError(message)
    return out


def check_cutoff(cutoff: float) -> float:
    """Return ``cutoff`` as minutes > 0 or raise a :class:`DataError`."""
    return _finite_positive(cutoff, f"cutoff={cutoff!r} is not allowed; use minutes > 0 or None")


def check_positive(name: str, value: float) -> float:
    """Return ``value`` as a finite float > 0 or raise a :class:`DataError` naming it."""
    return _finite_positive(value, f"{name}={value!r} is not allowed; use a finite number > 0")


def crs_name(crs: pyproj.CRS) -> str:
    """``"EPSG:3067"`` for a CRS with an authority code, else its full string."""
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_string()


def hash_labels(labels: NDArray[Any]) -> bytes:
    """Bytes that identify an array of node labels (for cache keys)."""
    if labels.dtype != object:
        return np.ascontiguousarray(labels).tobytes()
    return repr(labels.tolist()).encode()


def preview(values: Iterable[Any], limit: int = 5) -> str:
    """Up to ``limit`` values for a message, and how many more there are."""
    items = list(values)
    shown = ", ".join(repr(x.item() if isinstance(x, np.generic) else x) for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def preview_pairs(ids: Iterable[Any], metres: Iterable[float], limit: int = 5) -> str:
    """Up to ``limit`` ``id (distance)`` pairs for a message."""
    pairs = list(zip(ids, metres, strict=True))
    shown = ", ".join(f"{i!r} ({m:,.0f} m)" for i, m in pairs[:limit])
    return shown + (f" and {len(pairs) - limit} more" if len(pairs) > limit else "")

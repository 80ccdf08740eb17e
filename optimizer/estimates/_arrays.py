"""Input checks shared by the estimate functions."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from optimizer.errors import DataError

__all__ = ["as_matrix", "as_vector"]


def as_vector(values: ArrayLike, name: str, n: int | None = None) -> NDArray[np.float64]:
    """Check a per-cell vector: one-dimensional, finite, non-negative."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise DataError(f"{name} has {arr.shape[0]} entries but there are {n} cells")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{name} must be finite and non-negative; bad values at cells {idx}; "
            "fix or drop those cells"
        )
    return arr


def as_matrix(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """Check a cells x sites matrix: non-negative, ``inf`` for unreachable, no NaN."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(f"{name} must be a (cells x sites) matrix, got shape {arr.shape}")
    if np.isnan(arr).any() or (arr < 0).any():
        raise DataError(f"{name} must be non-negative (inf = unreachable), without NaN")
    return arr

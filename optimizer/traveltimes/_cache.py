"""The on-disk cache of network costs, with a key and a checksum inside every entry.

Each entry is an uncompressed ``.npz`` file named ``<key>.npz``, where the key
is a SHA-256 hash of the prepared graph (nodes, coordinates, CRS, edges,
routing weights and lengths), the snapped nodes, the direction, the cutoff and
the cache format version. Besides the arrays (``seconds`` and ``metres``, plus
``indptr``/``indices`` for a cutoff), the file holds:

``key``
    the key it was written under, so a file renamed or copied to another key
    is recognised;
``checksum``
    a SHA-256 of every array's name, dtype, shape and bytes.

On reading, a file that is not a readable npz, is truncated, fails zip's CRC
or the checksum, has another key, misses an array or has the wrong shape is
logged as a warning, deleted and recomputed: a damaged cache never crashes a
run and never returns wrong numbers. Writes go to a temporary file moved into
place (:func:`optimizer._io.atomic_path`); a cache that cannot be written is
a warning, not an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from optimizer._io import atomic_path
from optimizer.settings import get_settings

if TYPE_CHECKING:
    from optimizer.settings import Settings
    from optimizer.traveltimes._csr import CostQuery
    from optimizer.traveltimes._graph import RoadIndex

__all__ = ["CACHE_VERSION", "cache_folder", "cache_key", "read_cache", "write_cache"]

logger = logging.getLogger(__name__)

CACHE_VERSION = 2
"""Format version of cache entries; part of every key."""

_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


class _RejectedError(Exception):
    """A cache file that must not be used."""


def cache_folder(cache_dir: str | os.PathLike[str] | None, settings: Settings | None) -> Path:
    """Return the cache folder: ``cache_dir``, or ``settings.cache_dir / "traveltimes"``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return (settings or get_settings()).cache_dir / "traveltimes"


def cache_key(index: RoadIndex, query: CostQuery) -> str:
    """SHA-256 hex key of one network-cost computation on ``index``'s graph."""
    digest = hashlib.sha256()
    params = {"version": CACHE_VERSION, "legs": list(query.legs), "limit_s": query.limit_s}
    digest.update(json.dumps(params, sort_keys=True).encode())
    digest.update(index.fingerprint.encode())
    digest.update(np.int64(len(query.a)).tobytes())
    digest.update(np.ascontiguousarray(query.a, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(query.b, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _checksum(arrays: dict[str, NDArray[Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def _arrays(result: tuple[Any, Any]) -> dict[str, NDArray[Any]]:
    seconds, metres = result
    if isinstance(seconds, np.ndarray):
        return {"seconds": np.asarray(seconds), "metres": np.asarray(metres)}
    return {
        "indptr": seconds.indptr,
        "indices": seconds.indices,
        "seconds": seconds.data,
        "metres": metres.data,
    }


def _unpack(data: Any, key: str, shape: tuple[int, int], *, sparse: bool) -> tuple[Any, Any]:
    names = ("indptr", "indices", "seconds", "metres") if sparse else ("seconds", "metres")
    stored_key = str(data["key"]) if "key" in data.files else None
    if stored_key != key:
        raise _RejectedError(f"it was written for key {stored_key!r}")
    missing = [n for n in names if n not in data.files]
    if missing:
        raise _RejectedError(f"it lacks the array(s) {missing}")
    arrays = {name: data[name] for name in names}
    stored = str(data["checksum"]) if "checksum" in data.files else ""
    if stored != _checksum(arrays):
        raise _RejectedError("its checksum does not match its content")
    if sparse:
        indptr, indices = arrays["indptr"], arrays["indices"]
        if indptr.shape != (shape[0] + 1,) or len(indices) != len(arrays["seconds"]):
            raise _RejectedError(f"its sparse layout does not fit the shape {shape}")
        seconds = sp.csr_array((arrays["seconds"], indices, indptr), shape=shape)
        metres = sp.csr_array((arrays["metres"], indices.copy(), indptr.copy()), shape=shape)
        return seconds, metres
    seconds, metres = arrays["seconds"], arrays["metres"]
    if seconds.shape != shape or metres.shape != shape:
        raise _RejectedError(f"its shape {seconds.shape} is not the expected {shape}")
    return seconds, metres


def read_cache(
    path: Path, key: str, shape: tuple[int, int], *, sparse: bool
) -> tuple[Any, Any] | None:
    """Return the cached network costs, or ``None`` when absent or unusable (then deleted)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return _unpack(data, key, shape, sparse=sparse)
    except (_RejectedError, *_READ_ERRORS) as exc:
        reason = str(exc) or type(exc).__name__
        logger.warning(
            "ignoring unreadable or damaged travel-time cache file %s (%s); deleting it and "
            "recomputing",
            path,
            reason,
        )
        try:
            path.unlink()
        except OSError as unlink_error:
            logger.warning("could not delete the damaged cache file %s: %s", path, unlink_error)
        return None


def write_cache(path: Path, key: str, result: tuple[Any, Any]) -> None:
    """Write network costs with their key and checksum; a failure is only a warning."""
    arrays = _arrays(result)
    payload = {
        **arrays,
        "key": np.array(key),
        "checksum": np.array(_checksum(arrays)),
        "version": np.array(CACHE_VERSION),
    }
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as handle:
            np.savez(handle, **payload)
        logger.debug("travel-time network costs cached in %s", path)
    except OSError as exc:  # OutputError is an OSError too
        logger.warning("could not write travel-time cache %s: %s", path, exc)

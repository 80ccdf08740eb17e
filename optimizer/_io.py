"""Atomic file and folder writes: the one place the package writes outputs from.

A reader never sees a half-written file or folder: everything is written to a
temporary name beside the target and renamed into place only when complete.
A crash leaves at most a hidden ``.<name>.*`` temporary behind, never a
truncated output.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer.errors import OutputError

__all__ = ["atomic_dir", "atomic_path", "write_text_atomic"]


def _parent(path: Path) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {path.parent} for {path.name}: {exc}") from exc
    if not os.access(path.parent, os.W_OK):
        raise OutputError(f"the folder {path.parent} is not writable; choose another output folder")
    return path.parent


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place if the block succeeds.

    The temporary path does not exist yet, so writers that create their own
    file (GDAL, matplotlib, ``json.dump`` through ``open``) can use it. The
    final file is readable by everyone (0644), like a normally created file.

    Parameters
    ----------
    path
        The final file.

    Yields
    ------
    pathlib.Path
        Where to write; it has the same suffix as ``path`` (drivers care).
    """
    target = Path(path)
    folder = _parent(target)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=folder
    )
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        if tmp.is_file():
            tmp.chmod(0o644)
        os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


@contextmanager
def atomic_dir(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; rename it into place on success.

    Parameters
    ----------
    path
        The final folder.
    overwrite
        Replace an existing folder (it is swapped out, then deleted).

    Yields
    ------
    pathlib.Path
        An empty folder to fill.

    Raises
    ------
    OutputError
        If the folder exists and ``overwrite`` is false, or cannot be written.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; pass overwrite=True to replace it")
    folder = _parent(target)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=folder))
        staging.chmod(0o755)  # mkdtemp makes it private
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc}") from exc
    try:
        yield staging
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=folder))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)

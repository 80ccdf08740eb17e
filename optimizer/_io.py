"""Atomic file and folder writes: the one place the package writes outputs from.

A reader never sees a half-written file or folder: everything is written to a
temporary name beside the target and renamed into place only when complete.
A crash leaves at most a hidden ``.<name>.*`` temporary behind, never a
truncated output.

* :func:`atomic_path` / :func:`write_text_atomic`: one file.
* :func:`atomic_dir`: a folder written as one unit (a run's outputs). An
  existing folder is swapped for the new one with one atomic exchange
  (Linux ``renameat2(RENAME_EXCHANGE)``), so the folder always holds either
  the complete old set or the complete new set; where the exchange is not
  available, two renames are used and a leftover old set is restored on the
  next write.
* :func:`folder_lock`: a lock on an output folder, so that a second run or
  batch on the same folder fails at once instead of mixing files.
* :func:`inside`: an output path built from names, checked to stay inside its
  folder.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from optimizer._names import safe_name
from optimizer.errors import OutputError, OutputLockedError

__all__ = [
    "LOCK_NAME",
    "atomic_dir",
    "atomic_path",
    "file_sha256",
    "folder_lock",
    "inside",
    "logged_warnings",
    "tree_sha256",
    "writable_folder",
    "write_text_atomic",
]

logger = logging.getLogger(__name__)

#: Name of the lock file an output folder holds while a run or batch writes to it.
LOCK_NAME = ".optimizer.lock"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


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


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); ``False`` where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _restore_leftover(target: Path) -> None:
    """After a crash between two renames, put the complete old set back in place."""
    if target.exists():
        return
    for old in sorted(target.parent.glob(f".{target.name}.old.*")):
        candidate = old / target.name
        if candidate.is_dir():
            os.replace(candidate, target)
            shutil.rmtree(old, ignore_errors=True)
            return


@contextmanager
def logged_warnings(what: str) -> Iterator[None]:
    """Log the warnings raised while reading ``what`` (GDAL's, through pyogrio).

    A read that fails raises a project error naming the file; the warnings GDAL
    gave on the way are dropped then, so that the user sees one line. A read
    that succeeds logs them as warnings.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for warning in caught:
        logger.warning("%s: %s", what, warning.message)


@contextmanager
def atomic_dir(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; move it into place as one unit on success.

    Parameters
    ----------
    path
        The final folder.
    overwrite
        Replace an existing folder: the new folder and the old one are
        exchanged atomically, then the old one is deleted.

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
    folder = _parent(target)
    _restore_leftover(target)
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; pass overwrite=True to replace it")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file, not a folder; remove it or choose another folder")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=folder))
        staging.chmod(0o755)  # mkdtemp makes it private
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc}") from exc
    try:
        yield staging
        if not target.exists():
            os.replace(staging, target)
        elif _exchange(staging, target):
            shutil.rmtree(staging, ignore_errors=True)  # now holds the old set
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=folder))
            os.replace(target, old / target.name)
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def writable_folder(folder: str | os.PathLike[str]) -> Path:
    """Create ``folder`` if needed and check that it can be written.

    Raises
    ------
    OutputError
        If it cannot be created, is a file, or is not writable.
    """
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {path}: {exc}; choose a writable folder"
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {path} is not writable; choose another folder")
    return path


def inside(folder: str | os.PathLike[str], *names: str) -> Path:
    """Join ``names`` to ``folder`` and check the result stays inside ``folder``.

    Every name must pass :func:`optimizer._names.safe_name`; the joined path
    is resolved (symbolic links included) and must lie below the resolved folder.

    Raises
    ------
    DataError
        If a name is not a safe name.
    OutputError
        If the path would leave the folder (e.g. through a symbolic link).
    """
    base = Path(folder).resolve()
    for name in names:
        safe_name(name, what="output name")
    path = base.joinpath(*names)
    resolved = path.resolve()
    if resolved != base and not resolved.is_relative_to(base):
        raise OutputError(
            f"output path {path} resolves to {resolved}, outside the output folder {base}; "
            "remove the link or choose another folder"
        )
    return path


@contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the lock of an output folder while writing to it.

    The lock is an advisory ``flock`` on ``<folder>/.optimizer.lock``: the
    operating system releases it when the process ends, so a killed run never
    leaves a stale lock.

    Raises
    ------
    OutputLockedError
        If another run or batch holds the lock (the message gives its process id).
    OutputError
        If the folder cannot be created or the lock file written.
    """
    base = writable_folder(folder)
    lock_path = base / LOCK_NAME
    try:
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until released
    except OSError as exc:
        raise OutputError(f"cannot create the lock file {lock_path}: {exc}") from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise OutputLockedError(
                f"the output folder {base} is in use by {holder}; wait for it to finish or "
                "choose another output folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        yield base
    finally:
        handle.close()  # releases the lock


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: str | os.PathLike[str]) -> str:
    """Return one SHA-256 of every file below ``folder`` (names and contents, sorted)."""
    base = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()

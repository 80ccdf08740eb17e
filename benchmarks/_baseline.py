"""Run a benchmark function against this checkout and against a baseline of the package.

Each run happens in a child process whose ``sys.path`` starts with the chosen
checkout, so the two versions of ``optimizer`` never meet in one interpreter.
The baseline is the committed code of a git revision (default ``main``),
exported with ``git archive`` into a temporary folder, so that uncommitted
work in any worktree does not leak into it.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "REPO",
    "child_result",
    "competitor_in_child",
    "export_revision",
    "parse_or_run_child",
    "run_in_child",
]

REPO = Path(__file__).resolve().parents[1]


def parse_or_run_child(
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
    child: Callable[[dict], None],
) -> argparse.Namespace | None:
    """Parse ``argv`` with ``--json`` and ``--child`` added; in a child, run it and return None.

    ``--json PATH`` asks the benchmark to write its results there too. ``--child
    PAYLOAD`` is how :func:`run_in_child` starts the script: ``child`` gets the
    parsed payload and the caller should then exit with status 0.
    """
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return None
    return args


def export_revision(revision: str) -> Path:
    """Export ``revision`` of this repository into a temporary folder; return the folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"baseline-{revision.replace('/', '_')}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "optimizer"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def run_in_child(
    script: Path,
    checkout: Path,
    payload: dict,
    *,
    timeout: float,
    cpu: int | None = None,
) -> dict:
    """Run ``script --child PAYLOAD`` with ``checkout`` first on ``sys.path``; parse its result.

    The child prints one line ``RESULT <json>``. ``cpu`` pins the child to one
    core. A child that times out or crashes is reported, not raised.
    """
    env = {
        **os.environ,
        "PYTHONPATH": str(checkout),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [sys.executable, str(script), "--child", json.dumps(payload)]
    if cpu is not None:
        cmd = ["taskset", "-c", str(cpu), *cmd]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=str(checkout)
        )
    except subprocess.TimeoutExpired:
        return {"status": f"killed at {timeout:.0f} s", "seconds": time.perf_counter() - t0}
    return child_result(proc, t0)


def competitor_in_child(script: str | Path, payload: dict, *, limit: float, grace: float) -> dict:
    """Run ``script --child PAYLOAD`` (a competitor with its own ``limit``) in this checkout.

    The child gets ``limit + grace`` seconds of wall time before it is killed; a
    killed child is reported with how far it got (its ``BUILT <seconds>`` line, printed
    once its model is built), not raised.
    """
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(script), "--child", json.dumps(payload)],
            capture_output=True,
            text=True,
            timeout=limit + grace,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        built = [ln.split()[1] for ln in out.splitlines() if ln.startswith("BUILT ")]
        note = f", built in {float(built[0]):.0f} s" if built else ", still building"
        return {
            "status": f"killed at {limit + grace:.0f} s{note}",
            "seconds": time.perf_counter() - t0,
        }
    return child_result(proc, t0)


def child_result(proc: subprocess.CompletedProcess[str], t0: float) -> dict:
    """The ``RESULT <json>`` line of a finished child, or its crash (started at ``t0``)."""
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
    return {"status": f"crashed: {tail[0][:160]}", "seconds": time.perf_counter() - t0}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

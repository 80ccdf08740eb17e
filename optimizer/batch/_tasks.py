"""One region of a batch: the task a Dask worker runs, and its completion manifest.

A region's folder ``out_dir/<slug>-<scenario>/`` is written as one unit by
:func:`optimizer.outputs.write_outputs`; its ``manifest.json`` is added to the
staged set before it moves into place. The manifest records the input key
(scenario, bundle, settings and package version) and the SHA-256 of every
output file, so a rerun knows from the content, not from sizes, whether the
region is complete and up to date.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from optimizer._io import file_sha256, tree_sha256

if TYPE_CHECKING:
    from optimizer.scenario import Scenario
    from optimizer.settings import Settings

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "Outcome",
    "RegionStatus",
    "Task",
    "complete_summary",
    "describe_error",
    "input_key",
    "remove_leftovers",
    "run_region",
    "scenario_hash",
]

logger = logging.getLogger(__name__)

#: File name of a region's completion marker inside ``out_dir/<slug>-<scenario>/``.
MANIFEST_NAME = "manifest.json"
#: Version of the manifest layout.
FORMAT = "optimizer-batch/2"
PROGRESS_TOPIC = "optimizer-batch-progress"

RegionStatus = Literal["ok", "skipped", "failed"]


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one region."""

    slug: str
    bundle: Path
    out_dir: Path
    folder: str
    scenario: Scenario
    settings: Settings
    input_key: str
    scenario_hash: str
    bundle_hash: str
    version: str
    report: bool
    assets: Literal["inline", "cdn"]


@dataclass(frozen=True)
class Outcome:
    """What a worker reports back for one region."""

    slug: str
    status: RegionStatus
    error: str | None
    output: Path | None
    seconds: float


def describe_error(exc: BaseException) -> str:
    """Return ``"<ExceptionType>: <message>"`` on one line."""
    text = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {text}"


def scenario_hash(scenario: Scenario) -> str:
    """Hash of the scenario's content without its ``region`` key (the batch sets it)."""
    text = scenario.model_dump_json(exclude={"region"})
    return hashlib.sha256(text.encode()).hexdigest()


def input_key(scenario_digest: str, bundle_digest: str, settings: Settings, version: str) -> str:
    """Return the key a region's outputs are complete for."""
    parts = (FORMAT, version, settings.solver, settings.crs, scenario_digest, bundle_digest)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def bundle_hash(folder: Path) -> str:
    """Hash of every file of a bundle folder (names and contents)."""
    return tree_sha256(folder)


def _file_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): file_sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def complete_summary(folder: Path, key: str) -> dict[str, Any] | None:
    """Return the region's ``summary.json`` if its outputs are complete and current for ``key``.

    Complete means: the manifest has this input key, every file it lists has
    the recorded SHA-256, and no other file was added.
    """
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if not isinstance(manifest, Mapping) or manifest.get("input_key") != key:
            return None
        recorded = manifest["files"]
        if not isinstance(recorded, Mapping) or _file_hashes(folder) != dict(recorded):
            return None
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return summary if isinstance(summary, dict) else None


def remove_leftovers(out_dir: Path, folder: str) -> None:
    """Remove the hidden staging folders a killed batch left for ``out_dir/<folder>``."""
    for leftover in out_dir.glob(f".{folder}.*"):
        if leftover.is_dir():
            logger.info("removing %s left by an interrupted batch", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def _reporter(slug: str) -> Callable[[str], None]:
    def report(step: str) -> None:
        try:
            from distributed import get_worker

            get_worker().log_event(PROGRESS_TOPIC, {"region": slug, "step": step})
        except Exception:  # not on a worker, or the scheduler is gone: progress is optional
            logger.debug("%s: %s", slug, step)

    return report


def run_region(task: Task) -> Outcome:
    """Run the scenario for one region and move its outputs into place (on a worker)."""
    from optimizer.outputs import write_outputs
    from optimizer.scenario import run_scenario

    start = time.perf_counter()
    report = _reporter(task.slug) if task.report else None
    try:
        scenario = task.scenario.model_copy(update={"region": str(task.bundle)})
        result = run_scenario(scenario, settings=task.settings, progress=report)
        if report is not None:
            report("writing outputs")

        def add_manifest(stage: Path) -> None:
            manifest = {
                "format": FORMAT,
                "input_key": task.input_key,
                "scenario": scenario.name,
                "scenario_file": str(scenario.path) if scenario.path else None,
                "scenario_hash": task.scenario_hash,
                "bundle": str(task.bundle),
                "bundle_hash": task.bundle_hash,
                "package_version": task.version,
                "solver": task.settings.solver,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": time.perf_counter() - start,
                "files": _file_hashes(stage),
            }
            text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False)
            (stage / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")

        paths = write_outputs(
            result,
            task.out_dir,
            assets=task.assets,
            lock=False,  # the batch holds the lock of out_dir
            name=task.folder,
            on_staged=add_manifest,
            settings=task.settings,
        )
    except Exception as exc:
        logger.info("region %s failed: %s", task.slug, describe_error(exc))
        logger.debug("traceback of region %s", task.slug, exc_info=True)
        return Outcome(task.slug, "failed", describe_error(exc), None, time.perf_counter() - start)
    return Outcome(task.slug, "ok", None, paths.folder, time.perf_counter() - start)

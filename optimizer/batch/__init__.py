"""Batch runs: one scenario for many regions, one region per Dask task.

:func:`run_batch` resolves each region to a local bundle, runs
:func:`optimizer.scenario.run_scenario` for it on a Dask cluster
(:mod:`dask.distributed`) and writes, for every region, the same outputs
``optimizer run`` writes (``summary.json``, ``results.gpkg``, ``map.html``), plus
a national summary table (:mod:`.national`).

Cluster
    Without a scheduler address a :class:`~distributed.LocalCluster` of worker
    processes is started (one thread each, ``workers`` or one per core, no
    dashboard) and closed at the end. With an address (``"tcp://host:8786"``)
    the batch runs on that cluster; its workers must see the bundles and the
    output folder under the same paths (a shared file system) and have the
    package installed.

The scenario's ``region`` key is ignored: each task runs a copy of the scenario
whose region is the task's bundle. Site names in ``network.required_sites`` or
a baseline list of ``sites`` must therefore exist in every region (or the regions
that lack them fail with a message naming the site); a national scenario
usually leaves them out and relies on the sites flagged ``required`` in each
bundle and on a baseline ``rule``.

Output folder
-------------
::

    out_dir/
        <slug>-<scenario>/          summary.json, results.gpkg, map.html, report.html
        <slug>-<scenario>/manifest.json
                                    completion marker: input key and SHA-256 of each file
        national_summary.csv        one row per region + the total for Finland
        national_summary.json       the same rows, with column descriptions

The folder is named as a single run's (:func:`optimizer._names.run_name`), so
batches of different scenarios into one ``out_dir`` never overwrite each other.
Each region's outputs are staged in a hidden folder ``out_dir/.<slug>-<scenario>.*``
and moved into place as one unit (:func:`optimizer._io.atomic_dir`), so
``out_dir/<slug>-<scenario>`` is either absent, the previous complete result or the new
complete result, never half-written. The batch holds the lock of ``out_dir``
(:func:`optimizer._io.folder_lock`): a second batch or run on the same folder
fails at once. The national tables are written to temporary files and renamed
into place.

Resuming
--------
``manifest.json`` records a hash of the inputs: the scenario content (without
its ``region`` key), every file of the region's bundle (names and SHA-256 of
the contents), the solver and CRS settings and the package version, and the
SHA-256 of every output file. A rerun skips (status ``"skipped"``) each region
whose folder holds a manifest with the same input key and files with exactly
the recorded contents; other regions are recomputed. ``force=True`` recomputes
every region. Leftover staging folders of a killed batch are removed when the
next batch starts, so a killed batch resumes where it stopped.

Two requested regions with the same slug (so the same output folder) are an error
before anything starts.

National summary
----------------
See :mod:`optimizer.batch.national`: one row per region and a total row for
Finland, every numeric column a headline figure of
:data:`optimizer.estimates.FIGURES` for the scenario, the baseline
(``baseline_``) and their difference (``delta_``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer._io import folder_lock, writable_folder
from optimizer._names import run_name, safe_name
from optimizer.batch._dask import dask_client, quiet_dask
from optimizer.batch._tasks import (
    MANIFEST_NAME,
    PROGRESS_TOPIC,
    Outcome,
    RegionStatus,
    Task,
    bundle_hash,
    complete_summary,
    describe_error,
    input_key,
    remove_leftovers,
    run_region,
    scenario_hash,
)
from optimizer.batch.national import SUMMARY_COLUMNS, national_summary, write_national_summary
from optimizer.errors import BundleNotFoundError, OptimizerError, UnknownRegionError
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.scenario import Scenario

__all__ = [
    "MANIFEST_NAME",
    "SUMMARY_COLUMNS",
    "BatchProgress",
    "BatchResult",
    "RegionRun",
    "national_summary",
    "run_batch",
]

logger = logging.getLogger(__name__)

#: Called with a region's slug and what is happening to it (``"loading region"``,
#: ``"solving"``, ..., and finally ``"done"``, ``"skipped"`` or ``"failed"``).
BatchProgress = Callable[[str, str], None]


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionRun:
    """What happened to one region of a batch.

    Attributes
    ----------
    region
        The region's slug (the name of its output folder).
    name, code
        The region's name and maakunta code.
    status
        ``"ok"`` (computed now), ``"skipped"`` (outputs complete and inputs
        unchanged) or ``"failed"``.
    error
        Why the region failed (exception type and message), else ``None``.
    output
        The region's output folder, or ``None`` when it failed.
    seconds
        Wall-clock seconds of the region's task in this run (0 when skipped).
    bundle
        The bundle folder used, or ``None`` when none was found.
    """

    region: str
    name: str
    code: str
    status: RegionStatus
    error: str | None
    output: Path | None
    seconds: float
    bundle: Path | None


@dataclass(frozen=True, eq=False)
class BatchResult:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    regions
        One :class:`RegionRun` per region, in the order asked for.
    summary
        The national summary table: one row per region plus the total row
        (see the module docstring for the columns).
    summary_csv, summary_json
        Where the national summary was written.
    out_dir
        The batch's output folder.
    seconds
        Wall-clock seconds of the whole batch.
    """

    regions: tuple[RegionRun, ...]
    summary: pd.DataFrame
    summary_csv: Path
    summary_json: Path
    out_dir: Path
    seconds: float

    @property
    def failed(self) -> tuple[RegionRun, ...]:
        """The regions that failed (empty when every region succeeded)."""
        return tuple(r for r in self.regions if r.status == "failed")

    @property
    def computed(self) -> tuple[RegionRun, ...]:
        """The regions computed in this run."""
        return tuple(r for r in self.regions if r.status == "ok")

    @property
    def skipped(self) -> tuple[RegionRun, ...]:
        """The regions skipped because their outputs were complete and up to date."""
        return tuple(r for r in self.regions if r.status == "skipped")

    @property
    def total(self) -> pd.Series:
        """The national total row of :attr:`summary`."""
        return self.summary.iloc[-1]


# --------------------------------------------------------------------------------------
# Resolving regions to bundles
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    slug: str
    name: str
    code: str
    bundle: Path | None
    error: str | None = None


def _read_region_toml(folder: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((folder / "region.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _requested(regions: str | Sequence[str]) -> list[str] | None:
    """Return the requested region references, or ``None`` for all mainland regions."""
    if isinstance(regions, str):
        if regions.strip().lower() == "all":
            return None
        items = regions.split(",")
    else:
        items = [str(r) for r in regions]
    refs = [r.strip() for r in items if str(r).strip()]
    if not refs:
        raise UnknownRegionError(
            f"no regions given (got {regions!r}); pass 'all' or a list of region codes, "
            "names, slugs or bundle folders"
        )
    return refs


def _resolve_targets(
    regions: str | Sequence[str], *, bundles: Path | None, settings: Settings
) -> list[_Target]:
    """Resolve the requested regions through :func:`optimizer.region.resolve_region`.

    An unknown name stops the batch before anything starts; a known region
    without a bundle becomes a failed target that says how to build it.
    """
    from optimizer.bundles import resolve_region
    from optimizer.finland import MAINLAND_REGIONS

    if bundles is not None and not bundles.is_dir():
        raise BundleNotFoundError(
            f"bundle folder {bundles} does not exist; build the offline national set with "
            f"`optimizer synth --out {bundles}`"
        )
    search = {"bundles": (bundles,) if bundles is not None else (), "settings": settings}
    if bundles is not None:
        search["search_defaults"] = False
    refs = _requested(regions)
    wanted = [r.slug for r in MAINLAND_REGIONS] if refs is None else refs
    targets: list[_Target] = []
    for ref in wanted:
        try:
            folder = resolve_region(ref, **search)
        except BundleNotFoundError as exc:
            from optimizer.finland import find_region

            info = find_region(ref)
            targets.append(
                _Target(info.slug, info.name_fi, info.code, None, f"BundleNotFoundError: {exc}")
            )
            continue
        raw = _read_region_toml(folder)
        targets.append(
            _Target(
                str(raw.get("slug", folder.name)),
                str(raw.get("name", folder.name)),
                str(raw.get("code", "")),
                folder.resolve(),
            )
        )
    # the same region asked twice runs once; two bundles with one slug fail in _check_unique
    unique: dict[tuple[str, Path | None], _Target] = {}
    for target in targets:
        unique.setdefault((target.slug, target.bundle), target)
    return list(unique.values())


# --------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("service-network-optimizer")
    except PackageNotFoundError:  # pragma: no cover - bare checkout
        return "0.0.0"


def _map_assets(settings: Settings) -> Any:
    """Decide once how the maps get Leaflet (as ``write_outputs(assets="auto")`` would)."""
    return "inline" if (settings.data_dir / "vendor" / "leaflet.js").is_file() else "cdn"


def _check_unique(targets: Sequence[_Target]) -> None:
    seen: dict[str, _Target] = {}
    for target in targets:
        safe_name(target.slug, what=f"region slug of {target.bundle or target.name}")
        other = seen.get(target.slug)
        if other is not None and other.bundle != target.bundle:
            raise OptimizerError(
                f"two requested regions have the slug {target.slug!r} (so one output folder): "
                f"{other.bundle} and {target.bundle}; give each bundle its own slug in "
                "region.toml or run them in separate batches"
            )
        seen[target.slug] = target


def run_batch(
    *,
    regions: str | Sequence[str],
    scenario: Scenario | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    scheduler: str | None = None,
    workers: int | None = None,
    bundles: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: BatchProgress | None = None,
    verbose: bool = False,
    settings: Settings | None = None,
) -> BatchResult:
    """Run one scenario for many regions, one region per Dask task.

    Parameters
    ----------
    regions
        ``"all"`` (the 18 mainland regions), or region codes, names, slugs or
        bundle folders (a list, or one comma-separated string such as ``"12,19"``).
    scenario
        A :class:`~optimizer.scenario.Scenario`, a scenario file or a shipped
        scenario's name. Its ``region`` key is ignored (see the module docstring).
    out_dir
        Output folder: ``out_dir/<slug>-<scenario>/`` per region and the national summary.
    scheduler
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
        ``None`` starts a local cluster of worker processes.
    workers
        Worker processes of the local cluster, >= 1 (default: one per core);
        never more than there are regions to compute. Ignored with ``scheduler``.
    bundles
        Folder whose sub-folders are region bundles (e.g. the offline national
        set written by ``optimizer synth``). ``None`` looks in the data and
        cache folders of ``settings``.
    force
        Recompute regions whose outputs are complete and up to date.
    progress
        Called with ``(slug, step)`` as regions progress (the command line
        draws it); ``None`` for none.
    verbose
        Let Dask log at its own levels (by default its INFO chatter is silenced
        while the batch runs).
    settings
        Environment defaults (solver, folders); read from the environment
        when ``None``. They are sent to the workers with each task.

    Returns
    -------
    BatchResult
        Per-region outcomes and the national summary; ``.failed`` lists the
        regions that failed. A failing region never stops the others.

    Raises
    ------
    ScenarioError
        If the scenario cannot be loaded.
    UnknownRegionError
        If a requested region matches no mainland region, local bundle or
        bundle folder.
    BundleNotFoundError
        If ``bundles`` is not a folder.
    OutputLockedError
        If another batch or run is writing to ``out_dir``.
    OutputError
        If ``out_dir`` or the national summary cannot be written.
    OptimizerError
        If ``workers`` < 1, two regions share a slug, or the scheduler cannot
        be reached.

    Examples
    --------
    >>> result = run_batch(regions=["18", "16"], scenario="national.toml",
    ...                    out_dir="batch", bundles="national")  # doctest: +SKIP
    >>> result.summary[["region", "status", "mean_minutes_any", "t_co2"]]  # doctest: +SKIP
    """
    from optimizer.scenario import Scenario as _Scenario
    from optimizer.scenario import load_scenario

    start = time.perf_counter()
    settings = settings or get_settings()
    if workers is not None and workers < 1:
        raise OptimizerError(f"workers must be at least 1, got {workers}")
    loaded = (
        scenario if isinstance(scenario, _Scenario) else load_scenario(scenario, settings=settings)
    )
    root = Path(bundles).expanduser().resolve() if bundles is not None else None
    targets = _resolve_targets(regions, bundles=root, settings=settings)
    _check_unique(targets)
    out = writable_folder(Path(out_dir).expanduser()).resolve()
    with folder_lock(out), quiet_dask(verbose=verbose):
        return _run_locked(
            targets,
            loaded,
            out,
            scheduler=scheduler,
            workers=workers,
            force=force,
            progress=progress,
            settings=settings,
            start=start,
        )


def _run_locked(
    targets: Sequence[_Target],
    scenario: Scenario,
    out: Path,
    *,
    scheduler: str | None,
    workers: int | None,
    force: bool,
    progress: BatchProgress | None,
    settings: Settings,
    start: float,
) -> BatchResult:
    version = _package_version()
    digest = scenario_hash(scenario)
    assets = _map_assets(settings)
    runs: dict[str, RegionRun] = {}
    summaries: dict[str, dict[str, Any]] = {}
    tasks: list[Task] = []

    def note(slug: str, step: str) -> None:
        if progress is not None:
            progress(slug, step)

    for target in targets:
        if target.bundle is None:
            runs[target.slug] = RegionRun(
                target.slug, target.name, target.code, "failed", target.error, None, 0.0, None
            )
            note(target.slug, "failed")
            continue
        name = run_name(target.slug, scenario.name)
        remove_leftovers(out, name)
        try:
            bundle_digest = bundle_hash(target.bundle)
        except OSError as exc:
            runs[target.slug] = RegionRun(
                target.slug,
                target.name,
                target.code,
                "failed",
                f"BundleNotFoundError: cannot read bundle {target.bundle}: {exc}",
                None,
                0.0,
                target.bundle,
            )
            note(target.slug, "failed")
            continue
        key = input_key(digest, bundle_digest, settings, version)
        folder = out / name
        done = None if force else complete_summary(folder, key)
        if done is not None:
            logger.info("%s: outputs complete and inputs unchanged, skipped", target.slug)
            runs[target.slug] = RegionRun(
                target.slug, target.name, target.code, "skipped", None, folder, 0.0, target.bundle
            )
            summaries[target.slug] = done
            note(target.slug, "skipped")
            continue
        tasks.append(
            Task(
                slug=target.slug,
                bundle=target.bundle,
                out_dir=out,
                folder=name,
                scenario=scenario,
                settings=settings,
                input_key=key,
                scenario_hash=digest,
                bundle_hash=bundle_digest,
                version=version,
                report=progress is not None,
                assets=assets,
            )
        )
    if tasks and assets == "cdn":
        logger.warning(
            "no local Leaflet copy in %s: the maps will load Leaflet from a CDN",
            settings.data_dir / "vendor",
        )
    by_slug = {t.slug: t for t in targets}
    keys = {t.slug: t.input_key for t in tasks}
    for outcome in _execute(tasks, scheduler=scheduler, workers=workers, progress=progress):
        target = by_slug[outcome.slug]
        run = RegionRun(
            outcome.slug,
            target.name,
            target.code,
            outcome.status,
            outcome.error,
            outcome.output,
            outcome.seconds,
            target.bundle,
        )
        if outcome.status == "ok":
            written = complete_summary(outcome.output, keys[outcome.slug])
            if written is None:  # pragma: no cover - replaced under our feet
                run = replace(
                    run,
                    status="failed",
                    error=f"OutputError: the outputs in {outcome.output} are incomplete after "
                    "the run; was the folder changed meanwhile?",
                    output=None,
                )
            else:
                summaries[outcome.slug] = written
        runs[outcome.slug] = run
        note(outcome.slug, {"ok": "done", "failed": "failed"}.get(run.status, run.status))

    ordered = tuple(runs[t.slug] for t in targets)
    table = national_summary(ordered, summaries)
    csv_path, json_path = write_national_summary(table, out, scenario=scenario, version=version)
    failed = [r.region for r in ordered if r.status == "failed"]
    if failed:
        logger.warning("%d of %d regions failed: %s", len(failed), len(ordered), ", ".join(failed))
    return BatchResult(
        regions=ordered,
        summary=table,
        summary_csv=csv_path,
        summary_json=json_path,
        out_dir=out,
        seconds=time.perf_counter() - start,
    )


def _warm_up() -> None:
    """Import the heavy modules on a worker, so that no region's time includes them."""
    import optimizer.maps
    import optimizer.outputs
    import optimizer.region
    import optimizer.scenario
    import optimizer.traveltimes  # noqa: F401


def _execute(
    tasks: Sequence[Task],
    *,
    scheduler: str | None,
    workers: int | None,
    progress: BatchProgress | None,
) -> Iterator[Outcome]:
    """Submit one task per region and yield the outcomes as they finish."""
    if not tasks:
        return
    from distributed import as_completed

    def relay(event: Any) -> None:
        with contextlib.suppress(Exception):
            message = event[1]
            assert progress is not None
            progress(str(message["region"]), str(message["step"]))

    n = min(len(tasks), workers or os.cpu_count() or 1) if scheduler is None else workers
    with dask_client(scheduler, n) as client:
        try:
            client.run(_warm_up)
        except Exception as exc:  # a worker without the package fails its tasks anyway
            logger.warning("could not prepare the Dask workers: %s", describe_error(exc))
        if progress is not None:
            client.subscribe_topic(PROGRESS_TOPIC, relay)
        futures = {
            client.submit(
                run_region, task, key=f"optimizer-batch-{task.slug}-{uuid.uuid4().hex[:12]}"
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # worker died (KilledWorker), cancelled, ...
                    yield Outcome(task.slug, "failed", describe_error(exc), None, math.nan)
        finally:
            for future in futures:
                future.cancel()
            if progress is not None:
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(PROGRESS_TOPIC)

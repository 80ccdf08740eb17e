"""Batch runs: one scenario for many regions, one region per Dask task.

:func:`run_batch` resolves each region to a local bundle, runs
:func:`optimizer.scenario.run_scenario` for it on a Dask cluster
(:mod:`dask.distributed`) and writes, for every region, the same output folder
``optimizer run`` writes (``summary.json``, ``results.gpkg``, ``maps/``), plus a
national summary table.

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
        <slug>/summary.json, results.gpkg, maps/<slug>-<scenario>.html
        <slug>/manifest.json        completion marker, written last
        national_summary.csv        one row per region + the total for Finland
        national_summary.json       the same rows, with column descriptions

Each region is computed in a hidden temporary folder ``out_dir/.<slug>.partial-*``
and renamed into place when complete, so ``out_dir/<slug>`` is either absent,
the previous complete result or the new complete result, never half-written.
The national tables are written to temporary files and renamed into place.

Resuming
--------
``manifest.json`` records a hash of the inputs: the scenario content (without
its ``region`` key), every file of the region's bundle (names, sizes and
SHA-256 of the contents), the solver and CRS settings and the package version.
A rerun skips (status ``"skipped"``) each region whose folder holds a manifest
with the same input hash and all the files it lists; other regions are
recomputed. ``force=True`` recomputes every region. Leftover temporary folders of
a killed batch are removed when the next batch starts, so a killed batch resumes
where it stopped.

National summary
----------------
Columns of a region row (the numbers come from the region's ``summary.json``):

identity
    ``region`` (slug), ``name``, ``code``, ``status`` (``ok``, ``skipped``,
    ``failed``), ``error``, ``synthetic`` (some layer of the bundle is
    synthetic), ``seconds`` (of the region's task in this run; 0 when skipped;
    the total row sums them), ``output``.
summed in the total row
    ``full_points``, ``remote_points``, ``residents``, ``unreachable_residents``,
    ``visits_per_year``, ``unserved_visits``, ``person_km``, ``vehicle_km``,
    ``person_hours``, ``t_co2``, ``site_cost_eur``, ``travel_time_cost_eur``,
    ``co2_cost_eur``, ``total_cost_eur`` and the ``baseline_`` and ``delta_``
    versions of the counts, km, CO2 and total cost.
population-weighted means in the total row
    ``mean_minutes_any`` and ``mean_minutes_full`` (weighted by the residents
    who can reach a point of that tier, which makes the total the exact
    national population-weighted mean), ``share_within_30/60/90`` (weighted by
    all residents, which makes the total the exact national share),
    ``baseline_mean_minutes_any`` and ``delta_mean_minutes_any`` (likewise).
empty in the total row
    ``p90_minutes_any`` (percentiles cannot be combined from regional figures),
    ``solver_status`` and ``mip_gap``.

The total row has ``region = "total"`` and ``name = "Finland"``. It adds up the
regions that have numbers (``ok`` or ``skipped``); when some region failed its
``status`` is ``"partial"`` and its ``error`` names the missing regions.
``delta_`` columns are scenario minus baseline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from optimizer._io import atomic_path, write_text_atomic
from optimizer.errors import (
    BundleNotFoundError,
    OptimizerError,
    OutputError,
    UnknownRegionError,
)
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.scenario import Scenario

__all__ = [
    "MANIFEST_NAME",
    "SUMMARY_COLUMNS",
    "BatchResult",
    "RegionRun",
    "national_summary",
    "run_batch",
]

logger = logging.getLogger(__name__)

#: File name of a region's completion marker inside ``out_dir/<slug>/``.
MANIFEST_NAME = "manifest.json"
_SUMMARY_STEM = "national_summary"
_PROGRESS_TOPIC = "optimizer-batch-progress"
_FORMAT = "optimizer-batch/1"
_PARTIAL = ".partial-"
_OLD = ".old-"

RegionStatus = Literal["ok", "skipped", "failed"]

#: Columns of the national summary and what the total row holds for each:
#: ``"sum"``, ``("mean", weight column)`` or ``None`` (empty in the total row).
_NUMBERS: dict[str, Any] = {
    "full_points": "sum",
    "remote_points": "sum",
    "residents": "sum",
    "unreachable_residents": "sum",
    "visits_per_year": "sum",
    "unserved_visits": "sum",
    "mean_minutes_any": ("mean", "_w_any"),
    "mean_minutes_full": ("mean", "_w_full"),
    "p90_minutes_any": None,
    "share_within_30": ("mean", "residents"),
    "share_within_60": ("mean", "residents"),
    "share_within_90": ("mean", "residents"),
    "person_km": "sum",
    "vehicle_km": "sum",
    "person_hours": "sum",
    "t_co2": "sum",
    "site_cost_eur": "sum",
    "travel_time_cost_eur": "sum",
    "co2_cost_eur": "sum",
    "total_cost_eur": "sum",
    "baseline_full_points": "sum",
    "baseline_remote_points": "sum",
    "baseline_mean_minutes_any": ("mean", "_w_base_any"),
    "baseline_person_km": "sum",
    "baseline_vehicle_km": "sum",
    "baseline_t_co2": "sum",
    "baseline_total_cost_eur": "sum",
    "delta_mean_minutes_any": None,  # recomputed from the two weighted means
    "delta_person_km": "sum",
    "delta_t_co2": "sum",
    "delta_total_cost_eur": "sum",
    "solver_status": None,
    "mip_gap": None,
}
_IDENTITY = ("region", "name", "code", "status", "error", "synthetic", "seconds", "output")
_WEIGHTS = ("_w_any", "_w_full", "_w_base_any")

#: Columns of the national summary table, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (*_IDENTITY, *_NUMBERS)

_DESCRIPTIONS = {
    "region": "region slug (output folder name); 'total' for Finland",
    "name": "region name",
    "code": "maakunta code",
    "status": "ok, skipped (outputs up to date), failed; total row: ok or partial",
    "error": "why the region failed; total row: the regions left out",
    "synthetic": "the bundle has synthetic layers: do not use the numbers for decisions",
    "seconds": "wall-clock seconds of the region's task in this run (0 when skipped; "
    "total: their sum)",
    "output": "the region's output folder",
    "full_points": "open full service points (sum)",
    "remote_points": "open remote-service points (sum)",
    "residents": "residents (sum)",
    "unreachable_residents": "residents who cannot reach any point by road (sum)",
    "visits_per_year": "walk-in visits per year (sum)",
    "unserved_visits": "visits from cells that cannot reach the tier they need (sum)",
    "mean_minutes_any": "mean one-way minutes to the nearest point of any tier "
    "(total: weighted by residents who reach one)",
    "mean_minutes_full": "mean one-way minutes to the nearest full point "
    "(total: weighted by residents who reach one)",
    "p90_minutes_any": "90th percentile of minutes to the nearest point (total: empty)",
    "share_within_30": "share of residents within 30 min of a point (total: weighted by residents)",
    "share_within_60": "share of residents within 60 min of a point (total: weighted by residents)",
    "share_within_90": "share of residents within 90 min of a point (total: weighted by residents)",
    "person_km": "person-km per year travelled to the points (sum)",
    "vehicle_km": "car vehicle-km per year (sum)",
    "person_hours": "hours per year spent travelling (sum)",
    "t_co2": "tonnes of CO2 per year from the trips (sum)",
    "site_cost_eur": "annual cost of the open points, EUR (sum)",
    "travel_time_cost_eur": "annual value of the travel time, EUR (sum)",
    "co2_cost_eur": "annual cost of the CO2 at the scenario's price, EUR (sum)",
    "total_cost_eur": "sites + travel time + CO2, EUR per year (sum)",
    "baseline_full_points": "full points of the baseline network (sum)",
    "baseline_remote_points": "remote points of the baseline network (sum)",
    "baseline_mean_minutes_any": "baseline: mean minutes to the nearest point "
    "(total: weighted by residents who reach one)",
    "baseline_person_km": "baseline: person-km per year (sum)",
    "baseline_vehicle_km": "baseline: car vehicle-km per year (sum)",
    "baseline_t_co2": "baseline: tonnes of CO2 per year (sum)",
    "baseline_total_cost_eur": "baseline: EUR per year (sum)",
    "delta_mean_minutes_any": "scenario minus baseline mean minutes "
    "(total: difference of the weighted means)",
    "delta_person_km": "scenario minus baseline person-km (sum)",
    "delta_t_co2": "scenario minus baseline t CO2 (sum)",
    "delta_total_cost_eur": "scenario minus baseline EUR per year (sum)",
    "solver_status": "solver status (total: empty)",
    "mip_gap": "relative MIP gap of the solution (total: empty)",
}


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


def _same_code(a: str, b: str) -> bool:
    return a.strip().lstrip("0") == b.strip().lstrip("0") and a.strip() != ""


def _read_region_toml(folder: Path) -> dict[str, Any]:
    try:
        return tomllib.loads((folder / "region.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _bundles_under(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    return [
        (toml.parent, _read_region_toml(toml.parent)) for toml in sorted(root.glob("*/region.toml"))
    ]


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
    from optimizer import sources
    from optimizer.region import list_regions

    refs = _requested(regions)
    local: list[tuple[Path, dict[str, Any]]]
    if bundles is not None:
        if not bundles.is_dir():
            raise BundleNotFoundError(
                f"bundle folder {bundles} does not exist; build the offline national set with "
                f"`optimizer synth --finland-dir DIR --out {bundles}`"
            )
        local = _bundles_under(bundles)
    else:
        local = [
            (e.path, {"slug": e.slug, "name": e.name, "code": e.code})
            for e in list_regions(settings=settings)
            if e.path is not None
        ]
    where = (
        f"under {bundles}"
        if bundles is not None
        else f"in {settings.regions_dir} or {settings.cache_dir / 'regions'}"
    )

    def bundle_of(info: Any) -> _Target:
        hits = [p for p, raw in local if str(raw.get("slug", p.name)) == info.slug]
        hits += [p for p, raw in local if _same_code(str(raw.get("code", "")), info.code)]
        if hits:
            return _Target(info.slug, info.name_fi, info.code, hits[0])
        fix = (
            f"`optimizer synth --regions {int(info.code)} --out {bundles} --finland-dir DIR` "
            "(synthetic, offline)"
            if bundles is not None
            else f"`optimizer fetch {info.slug}` (online)"
        )
        return _Target(
            info.slug,
            info.name_fi,
            info.code,
            None,
            f"BundleNotFoundError: no bundle for {info.name_fi} ({info.code}) {where}; "
            f"build it with {fix} and rerun the batch",
        )

    if refs is None:
        return [bundle_of(info) for info in sources.MAINLAND_REGIONS]

    targets: list[_Target] = []
    for ref in refs:
        path = Path(ref).expanduser()
        if (path / "region.toml").is_file():
            raw = _read_region_toml(path)
            targets.append(
                _Target(
                    str(raw.get("slug", path.name)),
                    str(raw.get("name", path.name)),
                    str(raw.get("code", "")),
                    path.resolve(),
                )
            )
            continue
        try:
            info = sources.find_region(ref)
        except UnknownRegionError:
            key = ref.strip().casefold()
            hits = [
                (p, raw)
                for p, raw in local
                if key
                in {
                    str(raw.get("slug", p.name)).casefold(),
                    str(raw.get("name", "")).casefold(),
                    str(raw.get("code", "")).casefold(),
                }
            ]
            if not hits:
                raise
            p, raw = hits[0]
            targets.append(
                _Target(
                    str(raw.get("slug", p.name)),
                    str(raw.get("name", p.name)),
                    str(raw.get("code", "")),
                    p,
                )
            )
            continue
        targets.append(bundle_of(info))
    unique: dict[str, _Target] = {}
    for target in targets:
        unique.setdefault(target.slug, target)
    return list(unique.values())


# --------------------------------------------------------------------------------------
# Input hashes and manifests
# --------------------------------------------------------------------------------------


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("service-network-optimizer")
    except PackageNotFoundError:  # pragma: no cover - bare checkout
        return "0.0.0"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bundle_hash(folder: Path) -> str:
    """Hash every visible file of a bundle folder (names, sizes and contents)."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
            digest.update(_file_sha256(path).encode())
    return digest.hexdigest()


def _scenario_hash(scenario: Scenario) -> str:
    text = scenario.model_dump_json(exclude={"region"})
    return hashlib.sha256(text.encode()).hexdigest()


def _input_key(scenario_hash: str, bundle_hash: str, settings: Settings, version: str) -> str:
    parts = (_FORMAT, version, settings.solver, settings.crs, scenario_hash, bundle_hash)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _listing(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME
    }


def _complete_summary(folder: Path, key: str) -> dict[str, Any] | None:
    """Return the region's ``summary.json`` if its outputs are complete for ``key``."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        if manifest.get("input_key") != key:
            return None
        for name, size in manifest["files"].items():
            if (folder / name).stat().st_size != size:
                return None
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return summary if isinstance(summary, dict) else None


def _write_json_atomic(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_text_atomic(path, text)


def _remove_leftovers(out_dir: Path, slug: str) -> None:
    """Remove temporary folders a killed batch left for ``slug``."""
    for prefix in (f".{slug}{_PARTIAL}", f".{slug}{_OLD}"):
        for leftover in out_dir.glob(f"{prefix}*"):
            if leftover.is_dir():
                logger.info("removing %s left by an interrupted batch", leftover)
                shutil.rmtree(leftover, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The task run on a Dask worker
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    slug: str
    bundle: Path
    out_dir: Path
    scenario: Scenario
    settings: Settings
    input_key: str
    scenario_hash: str
    bundle_hash: str
    version: str
    report: bool
    assets: Literal["inline", "cdn"]


@dataclass(frozen=True)
class _Outcome:
    slug: str
    status: RegionStatus
    error: str | None
    output: Path | None
    seconds: float


def _reporter(slug: str) -> Callable[[str], None]:
    def report(step: str) -> None:
        try:
            from distributed import get_worker

            get_worker().log_event(_PROGRESS_TOPIC, {"region": slug, "step": step})
        except Exception:  # not on a worker, or the scheduler is gone: progress is optional
            logger.debug("%s: %s", slug, step)

    return report


def _describe_error(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"


def _swap_into_place(staging: Path, final: Path) -> None:
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}{_OLD}", dir=final.parent))
        old.rmdir()
        final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(final)


def _warm_up() -> None:
    """Import the heavy modules on a worker, so that no region's time includes them."""
    import optimizer.maps
    import optimizer.region
    import optimizer.scenario
    import optimizer.traveltimes  # noqa: F401


def _run_region(task: _Task) -> _Outcome:
    """Run the scenario for one region and move its outputs into place (on a worker)."""
    from optimizer.scenario import run_scenario, write_outputs

    start = time.perf_counter()
    report = _reporter(task.slug) if task.report else None
    final = task.out_dir / task.slug
    try:
        scenario = task.scenario.model_copy(update={"region": str(task.bundle)})
        result = run_scenario(scenario, settings=task.settings, progress=report)
        if report is not None:
            report("writing outputs")
        staging = Path(tempfile.mkdtemp(prefix=f".{task.slug}{_PARTIAL}", dir=task.out_dir))
        try:
            staging.chmod(0o755)  # mkdtemp makes it private
            write_outputs(result, staging, assets=task.assets, settings=task.settings)
            seconds = time.perf_counter() - start
            manifest = {
                "format": _FORMAT,
                "input_key": task.input_key,
                "scenario": scenario.name,
                "scenario_file": str(scenario.path) if scenario.path else None,
                "scenario_hash": task.scenario_hash,
                "bundle": str(task.bundle),
                "bundle_hash": task.bundle_hash,
                "package_version": task.version,
                "solver": task.settings.solver,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "seconds": seconds,
                "files": _listing(staging),
            }
            _write_json_atomic(staging / MANIFEST_NAME, manifest)
            _swap_into_place(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except Exception as exc:
        logger.info("region %s failed: %s", task.slug, _describe_error(exc))
        logger.debug("traceback of region %s", task.slug, exc_info=True)
        return _Outcome(
            task.slug, "failed", _describe_error(exc), None, time.perf_counter() - start
        )
    return _Outcome(task.slug, "ok", None, final, time.perf_counter() - start)


# --------------------------------------------------------------------------------------
# National summary
# --------------------------------------------------------------------------------------


def _get(data: Mapping[str, Any], *keys: str) -> float:
    node: Any = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return math.nan
        node = node[key]
    return math.nan if node is None else float(node)


def _numbers(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Pick a region's national-summary figures out of its ``summary.json``."""
    s, b, d = (summary.get(k, {}) for k in ("scenario_network", "baseline_network", "difference"))
    residents = _get(s, "residents")
    solution = summary.get("solution", {})
    return {
        "full_points": _get(s, "n_full"),
        "remote_points": _get(s, "n_remote"),
        "residents": residents,
        "unreachable_residents": _get(s, "to_any", "unreachable_residents"),
        "visits_per_year": _get(s, "visits_per_year"),
        "unserved_visits": _get(s, "unserved_visits"),
        "mean_minutes_any": _get(s, "to_any", "mean_minutes"),
        "mean_minutes_full": _get(s, "to_full", "mean_minutes"),
        "p90_minutes_any": _get(s, "to_any", "p90_minutes"),
        "share_within_30": _get(s, "to_any", "share_within_30"),
        "share_within_60": _get(s, "to_any", "share_within_60"),
        "share_within_90": _get(s, "to_any", "share_within_90"),
        "person_km": _get(s, "travel", "person_km"),
        "vehicle_km": _get(s, "travel", "vehicle_km"),
        "person_hours": _get(s, "travel", "person_hours"),
        "t_co2": _get(s, "travel", "t_co2"),
        "site_cost_eur": _get(s, "costs", "sites_eur"),
        "travel_time_cost_eur": _get(s, "costs", "travel_time_eur"),
        "co2_cost_eur": _get(s, "costs", "co2_eur"),
        "total_cost_eur": _get(s, "costs", "total_eur"),
        "baseline_full_points": _get(b, "n_full"),
        "baseline_remote_points": _get(b, "n_remote"),
        "baseline_mean_minutes_any": _get(b, "to_any", "mean_minutes"),
        "baseline_person_km": _get(b, "travel", "person_km"),
        "baseline_vehicle_km": _get(b, "travel", "vehicle_km"),
        "baseline_t_co2": _get(b, "travel", "t_co2"),
        "baseline_total_cost_eur": _get(b, "costs", "total_eur"),
        "delta_mean_minutes_any": _get(d, "to_any", "mean_minutes"),
        "delta_person_km": _get(d, "travel", "person_km"),
        "delta_t_co2": _get(d, "travel", "t_co2"),
        "delta_total_cost_eur": _get(d, "costs", "total_eur"),
        "solver_status": solution.get("status"),
        "mip_gap": _get(solution, "gap"),
        "_w_any": residents - _get(s, "to_any", "unreachable_residents"),
        "_w_full": residents - _get(s, "to_full", "unreachable_residents"),
        "_w_base_any": _get(b, "residents") - _get(b, "to_any", "unreachable_residents"),
    }


def national_summary(
    runs: Sequence[RegionRun], summaries: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """Build the national summary table from the regions' ``summary.json`` contents.

    Parameters
    ----------
    runs
        The regions of the batch, in order.
    summaries
        The parsed ``summary.json`` of each region that has numbers, by slug.

    Returns
    -------
    pandas.DataFrame
        One row per region plus the total row for Finland (``region == "total"``),
        with the columns :data:`SUMMARY_COLUMNS` (see the module docstring).
    """
    import numpy as np
    import pandas as pd

    rows = []
    for run in runs:
        summary = summaries.get(run.region)
        synthetic = bool(summary and summary.get("region", {}).get("synthetic_layers"))
        row: dict[str, Any] = {
            "region": run.region,
            "name": run.name,
            "code": run.code,
            "status": run.status,
            "error": run.error,
            "synthetic": synthetic,
            "seconds": run.seconds,
            "output": str(run.output) if run.output else None,
        }
        if summary is not None:
            row.update(_numbers(summary))
        rows.append(row)
    table = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *_WEIGHTS])
    numeric = [c for c in (*_NUMBERS, *_WEIGHTS) if c != "solver_status"]
    table[numeric] = table[numeric].astype(float)
    table["seconds"] = table["seconds"].astype(float)

    have = table[table["status"].isin(["ok", "skipped"])]
    missing = [r.region for r in runs if r.status == "failed"]
    total: dict[str, Any] = {
        "region": "total",
        "name": "Finland",
        "code": "",
        "status": "partial" if missing else "ok",
        "error": f"excludes failed region(s): {', '.join(missing)}" if missing else None,
        "synthetic": bool(have["synthetic"].any()),
        "seconds": float(table["seconds"].sum()),
        "output": None,
    }
    for column, rule in _NUMBERS.items():
        if rule == "sum":
            total[column] = float(have[column].sum()) if len(have) else math.nan
        elif isinstance(rule, tuple):
            weights = have[rule[1]].to_numpy(dtype=float)
            values = have[column].to_numpy(dtype=float)
            ok = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
            total[column] = (
                float((values[ok] * weights[ok]).sum() / weights[ok].sum())
                if ok.any()
                else math.nan
            )
        else:
            total[column] = None if column == "solver_status" else math.nan
    total["delta_mean_minutes_any"] = total["mean_minutes_any"] - total["baseline_mean_minutes_any"]
    out = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return out.drop(columns=list(_WEIGHTS))[list(SUMMARY_COLUMNS)]


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _json_value(value.item())
    return value


def _write_summary(
    table: pd.DataFrame, out_dir: Path, *, scenario: Scenario, version: str
) -> tuple[Path, Path]:
    csv_path = out_dir / f"{_SUMMARY_STEM}.csv"
    json_path = out_dir / f"{_SUMMARY_STEM}.json"
    records = [
        {k: _json_value(v) for k, v in row.items()} for row in table.to_dict(orient="records")
    ]
    document = {
        "scenario": scenario.name,
        "scenario_file": str(scenario.path) if scenario.path else None,
        "package_version": version,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": {c: _DESCRIPTIONS[c] for c in SUMMARY_COLUMNS},
        "regions": records[:-1],
        "total": records[-1],
    }
    try:
        with atomic_path(csv_path) as tmp:
            table.to_csv(tmp, index=False)
        _write_json_atomic(json_path, document)
    except OSError as exc:
        raise OutputError(f"cannot write the national summary into {out_dir}: {exc}") from exc
    return csv_path, json_path


# --------------------------------------------------------------------------------------
# Progress display
# --------------------------------------------------------------------------------------


class _Display:
    """Per-region progress rows (rich), or nothing when disabled."""

    def __init__(self, targets: Sequence[_Target], *, enabled: bool) -> None:
        self._progress: Any = None
        self._rows: dict[str, Any] = {}
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("{task.description:<22}"),
            BarColumn(bar_width=12),
            MofNCompleteColumn(),
            TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._overall = self._progress.add_task("all regions", total=len(targets), step="")
        for target in targets:
            self._rows[target.slug] = self._progress.add_task(
                target.slug, total=1, step="waiting", start=False
            )

    def __enter__(self) -> _Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def step(self, slug: str, text: str) -> None:
        if self._progress is not None and slug in self._rows:
            self._progress.start_task(self._rows[slug])
            self._progress.update(self._rows[slug], step=text)

    def event(self, event: Any) -> None:
        """Handle a progress event ``(timestamp, {"region": ..., "step": ...})`` from a worker."""
        with contextlib.suppress(Exception):
            msg = event[1]
            self.step(str(msg["region"]), str(msg["step"]))

    def done(self, slug: str, status: RegionStatus, seconds: float) -> None:
        if self._progress is None:
            return
        text = {
            "ok": f"[green]done[/] in {seconds:.1f} s",
            "skipped": "[cyan]skipped[/] (up to date)",
            "failed": "[red]failed[/]",
        }[status]
        row = self._rows[slug]
        self._progress.start_task(row)
        self._progress.update(row, completed=1, step=text)
        self._progress.stop_task(row)
        self._progress.advance(self._overall)


# --------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """Yield a Dask client: on a new LocalCluster, or connected to ``scheduler``."""
    from distributed import Client

    if scheduler is not None:
        if workers is not None:
            logger.warning("workers=%d is ignored with a scheduler address", workers)
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError, ValueError) as exc:
            raise OptimizerError(
                f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}; check the "
                "address (e.g. tcp://host:8786) or leave the scheduler out to run on this machine"
            ) from exc
        try:
            yield client
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    try:
        cluster = _local_cluster(n)
    except Exception as exc:
        raise OptimizerError(
            f"cannot start a local Dask cluster of {n} worker process(es): "
            f"{_describe_error(exc)}; a script that calls run_batch must guard its main code "
            "with `if __name__ == '__main__':` (workers are started with spawn), or give the "
            "address of a running scheduler"
        ) from exc
    try:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


def _local_cluster(n: int) -> Any:
    """Start a quiet LocalCluster of ``n`` single-threaded worker processes."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        # no dashboard; the scheduler's small HTTP server (health, metrics) takes a free
        # port instead of trying 8787, which may be taken by another cluster
        scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"},
        silence_logs=logging.ERROR,
    )


def _map_assets(settings: Settings) -> Literal["inline", "cdn"]:
    """Decide once how the maps get Leaflet (as ``write_outputs(assets="auto")`` would)."""
    return "inline" if (settings.data_dir / "vendor" / "leaflet.js").is_file() else "cdn"


def _check_out_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the batch output folder {out_dir}: {exc}; choose a writable folder"
        ) from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"batch output folder {out_dir} is not writable; choose another folder")
    return out_dir.resolve()


def run_batch(
    *,
    regions: str | Sequence[str],
    scenario: Scenario | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    scheduler: str | None = None,
    workers: int | None = None,
    bundles: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool = False,
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
        Output folder: ``out_dir/<slug>/`` per region and the national summary.
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
        Show per-region progress (rich, on stderr). Off by default.
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
    OutputError
        If ``out_dir`` or the national summary cannot be written.
    OptimizerError
        If ``workers`` < 1 or the scheduler cannot be reached.

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
    out = _check_out_dir(Path(out_dir).expanduser())
    version = _package_version()
    scenario_hash = _scenario_hash(loaded)
    assets = _map_assets(settings)

    runs: dict[str, RegionRun] = {}
    summaries: dict[str, dict[str, Any]] = {}
    tasks: list[_Task] = []
    for target in targets:
        if target.bundle is None:
            runs[target.slug] = RegionRun(
                target.slug, target.name, target.code, "failed", target.error, None, 0.0, None
            )
            continue
        _remove_leftovers(out, target.slug)
        try:
            bundle_hash = _bundle_hash(target.bundle)
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
            continue
        key = _input_key(scenario_hash, bundle_hash, settings, version)
        folder = out / target.slug
        done = None if force else _complete_summary(folder, key)
        if done is not None:
            logger.info("%s: outputs complete and inputs unchanged, skipped", target.slug)
            runs[target.slug] = RegionRun(
                target.slug, target.name, target.code, "skipped", None, folder, 0.0, target.bundle
            )
            summaries[target.slug] = done
            continue
        tasks.append(
            _Task(
                slug=target.slug,
                bundle=target.bundle,
                out_dir=out,
                scenario=loaded,
                settings=settings,
                input_key=key,
                scenario_hash=scenario_hash,
                bundle_hash=bundle_hash,
                version=version,
                report=progress,
                assets=assets,
            )
        )

    if tasks and assets == "cdn":
        logger.warning(
            "no local Leaflet copy in %s: the maps will load Leaflet from a CDN",
            settings.data_dir / "vendor",
        )
    by_slug = {t.slug: t for t in targets}
    with _Display(targets, enabled=progress) as display:
        for slug, run in runs.items():
            display.done(slug, run.status, 0.0)
        if tasks:
            for outcome in _execute(tasks, scheduler=scheduler, workers=workers, display=display):
                target = by_slug[outcome.slug]
                runs[outcome.slug] = RegionRun(
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
                    written = _complete_summary(out / outcome.slug, _key_of(tasks, outcome.slug))
                    if written is None:  # pragma: no cover - replaced under our feet
                        runs[outcome.slug] = RegionRun(
                            outcome.slug,
                            target.name,
                            target.code,
                            "failed",
                            f"OutputError: the outputs in {out / outcome.slug} are incomplete "
                            "after the run; was the folder changed meanwhile?",
                            None,
                            outcome.seconds,
                            target.bundle,
                        )
                    else:
                        summaries[outcome.slug] = written
                display.done(outcome.slug, runs[outcome.slug].status, outcome.seconds)

    ordered = tuple(runs[t.slug] for t in targets)
    table = national_summary(ordered, summaries)
    csv_path, json_path = _write_summary(table, out, scenario=loaded, version=version)
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


def _key_of(tasks: Sequence[_Task], slug: str) -> str:
    return next(t.input_key for t in tasks if t.slug == slug)


def _execute(
    tasks: Sequence[_Task], *, scheduler: str | None, workers: int | None, display: _Display
) -> Iterator[_Outcome]:
    """Submit one task per region and yield the outcomes as they finish."""
    from distributed import as_completed

    n = min(len(tasks), workers or os.cpu_count() or 1) if scheduler is None else workers
    with _client(scheduler, n) as client:
        report = any(t.report for t in tasks)
        try:
            client.run(_warm_up)
        except Exception as exc:  # a worker without the package fails its tasks anyway
            logger.warning("could not prepare the Dask workers: %s", _describe_error(exc))
        if report:
            client.subscribe_topic(_PROGRESS_TOPIC, display.event)
        futures = {
            client.submit(
                _run_region, task, key=f"optimizer-batch-{task.slug}-{uuid.uuid4().hex[:12]}"
            ): task
            for task in tasks
        }
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # worker died (KilledWorker), cancelled, ...
                    yield _Outcome(task.slug, "failed", _describe_error(exc), None, math.nan)
        finally:
            for future in futures:
                future.cancel()
            if report:
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(_PROGRESS_TOPIC)

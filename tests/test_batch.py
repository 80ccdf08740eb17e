"""Batch runs on Dask over a few synthetic regions of the offline national set.

Three small mainland regions are generated from the real national tables packaged
in ``data/finland`` (Kainuu 18, Keski-Pohjanmaa 16, Etelä-Karjala 09). The first
batch runs on its own LocalCluster of two workers with one region broken; the
later batches run on a shared two-worker LocalCluster given by address.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from optimizer.batch import (
    MANIFEST_NAME,
    SUMMARY_COLUMNS,
    BatchResult,
    RegionRun,
    national_summary,
    run_batch,
)
from optimizer.errors import BundleNotFoundError, OptimizerError, UnknownRegionError
from optimizer.scenario import load_scenario
from optimizer.settings import get_settings

CODES = ("18", "16", "09")
SLUGS = ("kainuu", "keski-pohjanmaa", "etela-karjala")
BROKEN = "keski-pohjanmaa"

# A small national scenario: no region-specific site names, 1 full + 2 remote points.
SCENARIO = """
name = "national-test"
description = "One full and two remote points per region (batch tests)."
region = "not-used-by-the-batch"

[agencies.kela]
name = "Kela"
visits_per_resident = 0.36
remote_share = 0.7
assumption = true

[agencies.police]
name = "Police permits"
visits_per_resident = 0.08
remote_share = 0.0
assumption = true

[network]
full_points = 1
remote_points = 2
full_point_annual_cost_eur = 300000
remote_point_annual_cost_eur = 30000

[travel]
car_occupancy = 1.43
car_kg_co2_per_vehicle_km = 0.165
bus_kg_co2_per_passenger_km = 0.073
value_of_time_eur_per_hour = 10
co2_price_eur_per_tonne = 100
mode_split = { car = 0.93, bus = 0.07 }

[baseline]
rule = "full_point_in_every_municipal_centre"

[solver]
time_limit = 10
"""

SUMMED = [
    "full_points",
    "remote_points",
    "residents",
    "visits_per_year",
    "person_km",
    "vehicle_km",
    "person_hours",
    "t_co2",
    "site_cost_eur",
    "travel_time_cost_eur",
    "co2_cost_eur",
    "total_cost_eur",
    "baseline_t_co2",
    "baseline_total_cost_eur",
    "delta_t_co2",
    "delta_total_cost_eur",
]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three synthetic bundles, written once (kept untouched)."""
    from optimizer.sources.synthetic import write_national_bundles

    root = tmp_path_factory.mktemp("national")
    paths = write_national_bundles(out_root=root, codes=CODES)
    assert sorted(p.name for p in paths) == sorted(SLUGS)
    return root


@pytest.fixture(scope="module")
def bundles(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the bundles whose Keski-Pohjanmaa population layer is corrupt."""
    root = tmp_path_factory.mktemp("bundles")
    for slug in SLUGS:
        shutil.copytree(pristine / slug, root / slug)
    (root / BROKEN / "population.gpkg").write_bytes(b"this is not a GeoPackage\n" * 100)
    return root


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "national-test.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("settings")
    return get_settings(cache_dir=root / "cache", output_dir=root / "results")


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("batch") / "out"


def _folder(out_dir: Path, slug: str) -> Path:
    """A region's output folder: ``<slug>-<scenario>``, as a single run names it."""
    return out_dir / f"{slug}-national-test"


@pytest.fixture(scope="module")
def first_run(bundles: Path, scenario_file: Path, out_dir: Path, settings) -> dict:
    """The first batch: its own LocalCluster of 2 workers, one region broken."""
    result = run_batch(
        regions=list(CODES),
        scenario=scenario_file,
        out_dir=out_dir,
        bundles=bundles,
        workers=2,
        settings=settings,
    )
    return {
        "result": result,
        "csv": pd.read_csv(result.summary_csv),
        "json": json.loads(result.summary_json.read_text(encoding="utf-8")),
    }


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A shared LocalCluster of 2 workers, used by address for the later batches."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def batch(
    bundles: Path, scenario_file: Path, out_dir: Path, settings, scheduler: str
) -> Callable[..., BatchResult]:
    """``run_batch`` of the test scenario on the shared bundles, outputs and cluster."""

    def run(regions: Iterable[str] = CODES, **options) -> BatchResult:
        return run_batch(
            regions=list(regions),
            scenario=scenario_file,
            out_dir=out_dir,
            bundles=bundles,
            scheduler=scheduler,
            settings=settings,
            **options,
        )

    return run


def _repair(bundles: Path, pristine: Path) -> None:
    """Put the pristine population layer back into the broken region's bundle."""
    shutil.copy2(pristine / BROKEN / "population.gpkg", bundles / BROKEN / "population.gpkg")


def _mtimes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _by_region(result: BatchResult) -> dict[str, RegionRun]:
    return {r.region: r for r in result.regions}


# ----------------------------------------------------------------------------- no cluster


def _fake_summary(residents: float, minutes: float, unreachable: float, t_co2: float) -> dict:
    access = {
        "residents": residents,
        "unreachable_residents": unreachable,
        "mean_minutes": minutes,
        "p90_minutes": 2 * minutes,
        "share_within_30": 0.5,
        "share_within_60": 0.9 if residents > 1000 else 0.1,
        "share_within_90": 1.0,
    }
    network = {
        "n_full": 1,
        "n_remote": 2,
        "residents": residents,
        "visits_per_year": residents * 0.4,
        "unserved_visits": 0.0,
        "to_full": {**access, "mean_minutes": minutes + 10},
        "to_any": access,
        "travel": {"person_km": 10 * residents, "vehicle_km": 6 * residents, "t_co2": t_co2},
        "costs": {"sites_eur": 360000.0, "total_eur": 1e6},
    }
    return {
        "region": {"synthetic_layers": ["population"]},
        "solution": {"status": "optimal", "gap": 0.0},
        "scenario_network": network,
        "baseline_network": {**network, "n_full": 5},
        "difference": {"travel": {"t_co2": -1.0}, "to_any": {"mean_minutes": 1.5}},
    }


def test_national_summary_sums_and_weighted_means():
    runs = [
        RegionRun("a", "A", "01", "ok", None, Path("a"), 1.0, Path("ba")),
        RegionRun("b", "B", "02", "skipped", None, Path("b"), 0.0, Path("bb")),
        RegionRun("c", "C", "04", "failed", "DataError: broken", None, 2.0, Path("bc")),
    ]
    summaries = {
        "a": _fake_summary(3000.0, 20.0, 0.0, 5.0),
        "b": _fake_summary(1000.0, 40.0, 500.0, 7.0),
    }
    table = national_summary(runs, summaries)
    assert list(table.columns) == list(SUMMARY_COLUMNS)
    assert list(table["region"]) == ["a", "b", "c", "total"]
    total = table.iloc[-1]
    assert total["name"] == "Finland"
    assert total["status"] == "partial"
    assert "c" in total["error"]
    assert total["residents"] == pytest.approx(4000.0)
    assert total["t_co2"] == pytest.approx(12.0)
    assert total["baseline_full_points"] == pytest.approx(10.0)
    assert total["unreachable_residents"] == pytest.approx(500.0)
    # mean minutes weighted by the residents who reach a point: 3000 and 500
    assert total["mean_minutes_any"] == pytest.approx((3000 * 20 + 500 * 40) / 3500)
    # shares weighted by all residents
    assert total["share_within_60"] == pytest.approx((3000 * 0.9 + 1000 * 0.1) / 4000)
    assert total["delta_mean_minutes_any"] == pytest.approx(0.0)  # same baseline numbers
    assert math.isnan(total["p90_minutes_any"])
    assert bool(total["synthetic"])
    assert table.loc[2, "error"] == "DataError: broken"
    assert math.isnan(table.loc[2, "residents"])


def test_unknown_region_is_refused_before_starting(tmp_path: Path, scenario_file: Path, settings):
    with pytest.raises(UnknownRegionError, match="Kainu"):
        run_batch(
            regions=["Kainu"], scenario=scenario_file, out_dir=tmp_path / "o", settings=settings
        )
    assert not (tmp_path / "o").exists()


def test_bad_arguments(tmp_path: Path, scenario_file: Path, settings):
    with pytest.raises(OptimizerError, match="workers must be at least 1"):
        run_batch(
            regions="18", scenario=scenario_file, out_dir=tmp_path, workers=0, settings=settings
        )
    with pytest.raises(BundleNotFoundError, match="optimizer synth"):
        run_batch(
            regions="18",
            scenario=scenario_file,
            out_dir=tmp_path,
            bundles=tmp_path / "nowhere",
            settings=settings,
        )


def test_region_without_bundle_is_a_failed_row(
    tmp_path: Path, pristine: Path, scenario_file: Path, settings
):
    result = run_batch(
        regions="19",  # Lappi: not in the test set
        scenario=scenario_file,
        out_dir=tmp_path / "out",
        bundles=pristine,
        settings=settings,
    )
    (run,) = result.regions
    assert run.status == "failed"
    assert run.region == "lappi"
    assert "Lappi" in run.error and "(19) has no bundle" in run.error
    assert "optimizer synth" in run.error
    assert result.failed == (run,)
    assert result.summary_csv.is_file() and result.summary_json.is_file()
    assert result.total["status"] == "partial"


# ----------------------------------------------------------------------------- batches


@pytest.mark.slow
def test_broken_region_is_reported_and_the_others_finish(first_run: dict, out_dir: Path):
    result: BatchResult = first_run["result"]
    runs = _by_region(result)
    assert list(runs) == list(SLUGS)
    assert [r.region for r in result.failed] == [BROKEN]
    broken = runs[BROKEN]
    assert broken.output is None
    assert "population.gpkg" in broken.error
    assert not (_folder(out_dir, BROKEN)).exists()
    for slug in SLUGS:
        if slug != BROKEN:
            assert runs[slug].status == "ok", runs[slug].error
            assert runs[slug].output == _folder(out_dir, slug)
            assert runs[slug].seconds > 0
    row = first_run["csv"].set_index("region").loc[BROKEN]
    assert row["status"] == "failed"
    assert "population.gpkg" in row["error"]
    assert first_run["json"]["total"]["status"] == "partial"
    assert BROKEN in first_run["json"]["total"]["error"]


@pytest.mark.slow
def test_region_outputs_are_complete(first_run: dict, out_dir: Path):
    for slug in ("kainuu", "etela-karjala"):
        folder = _folder(out_dir, slug)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        assert summary["region"]["slug"] == slug
        assert summary["region"]["synthetic_layers"]  # marked synthetic
        assert summary["scenario_network"]["n_full"] == 1
        assert summary["scenario_network"]["n_remote"] == 2
        assert (folder / "results.gpkg").is_file()
        assert (folder / "map.html").is_file()
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        assert set(manifest["files"]) == {"summary.json", "results.gpkg", "map.html", "report.html"}
        assert manifest["scenario"] == "national-test"
    leftovers = [p for p in out_dir.iterdir() if p.name.startswith(".")]
    assert [p.name for p in leftovers] == [".optimizer.lock"]  # no staging folder left


@pytest.mark.slow
def test_national_totals_equal_the_sum_of_the_regions(first_run: dict, out_dir: Path):
    table = first_run["csv"]
    regions, total = table[table["region"] != "total"], table.iloc[-1]
    assert total["region"] == "total"
    assert len(regions) == len(SLUGS)
    done = regions[regions["status"] == "ok"]
    assert len(done) == 2
    for column in SUMMED:
        assert total[column] == pytest.approx(done[column].sum(), rel=1e-9), column
    # the sums are the regions' own summary.json figures
    residents = sum(
        json.loads((_folder(out_dir, s) / "summary.json").read_text())["scenario_network"][
            "residents"
        ]
        for s in done["region"]
    )
    assert total["residents"] == pytest.approx(residents)
    weights = done["residents"] - done["unreachable_residents"]
    assert total["mean_minutes_any"] == pytest.approx(
        (done["mean_minutes_any"] * weights).sum() / weights.sum()
    )
    assert total["share_within_60"] == pytest.approx(
        (done["share_within_60"] * done["residents"]).sum() / done["residents"].sum()
    )
    doc = first_run["json"]
    assert [r["region"] for r in doc["regions"]] == list(SLUGS)
    assert doc["total"]["t_co2"] == pytest.approx(total["t_co2"])
    assert set(doc["columns"]) == set(SUMMARY_COLUMNS)


@pytest.mark.slow
def test_rerun_after_fixing_recomputes_only_the_failed_region(
    first_run: dict, bundles: Path, pristine: Path, out_dir: Path, batch
):
    _repair(bundles, pristine)
    before = {s: _mtimes(_folder(out_dir, s)) for s in SLUGS if s != BROKEN}
    events: list[tuple[str, str]] = []
    result = batch(progress=lambda slug, step: events.append((slug, step)))
    runs = _by_region(result)
    assert runs[BROKEN].status == "ok", runs[BROKEN].error
    assert {s: runs[s].status for s in before} == dict.fromkeys(before, "skipped")
    for slug, mtimes in before.items():
        assert _mtimes(_folder(out_dir, slug)) == mtimes, f"{slug} was touched"
    assert not result.failed
    assert result.total["status"] == "ok"
    assert len(result.summary) == len(SLUGS) + 1
    # per-region progress on request
    assert (BROKEN, "done") in events and any(step == "skipped" for _, step in events)


@pytest.mark.slow
def test_resume_after_an_interrupted_run(bundles: Path, pristine: Path, out_dir: Path, batch):
    # Make sure every region is complete first (independent of the order of the tests).
    _repair(bundles, pristine)
    batch()
    # Killed while writing Kainuu: its folder never appeared, a temporary one is left.
    shutil.rmtree(_folder(out_dir, "kainuu"))
    partial = out_dir / ".kainuu-national-test.partial-killed"
    partial.mkdir()
    (partial / "summary.json").write_text('{"half": ', encoding="utf-8")
    # Etelä-Karjala lost its completion marker.
    (_folder(out_dir, "etela-karjala") / MANIFEST_NAME).unlink()
    untouched = _mtimes(_folder(out_dir, BROKEN))

    result = batch()
    runs = _by_region(result)
    assert runs["kainuu"].status == "ok"
    assert runs["etela-karjala"].status == "ok"
    assert runs[BROKEN].status == "skipped"
    assert _mtimes(_folder(out_dir, BROKEN)) == untouched
    assert not partial.exists()
    assert (_folder(out_dir, "kainuu") / MANIFEST_NAME).is_file()
    assert (_folder(out_dir, "etela-karjala") / MANIFEST_NAME).is_file()
    assert [p.name for p in out_dir.iterdir() if p.name.startswith(".")] == [".optimizer.lock"]


@pytest.mark.slow
def test_changed_inputs_and_force_recompute(bundles: Path, out_dir: Path, batch):
    batch()
    # A changed bundle file: only that region is recomputed.
    with (bundles / "etela-karjala" / "region.toml").open("a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    kainuu = _mtimes(_folder(out_dir, "kainuu"))
    result = batch(["09", "kainuu"])
    assert [(r.region, r.status) for r in result.regions] == [
        ("etela-karjala", "ok"),
        ("kainuu", "skipped"),
    ]
    assert _mtimes(_folder(out_dir, "kainuu")) == kainuu
    # force=True reruns a complete, unchanged region.
    result = batch(["kainuu"], force=True)
    assert result.regions[0].status == "ok"
    assert _mtimes(_folder(out_dir, "kainuu")) != kainuu


@pytest.mark.slow
def test_all_regions_and_scenario_object(
    bundles: Path, pristine: Path, scenario_file: Path, out_dir: Path, settings, batch
):
    # Independent of test order (xdist may run it alone): repair the broken bundle first.
    _repair(bundles, pristine)
    batch()
    # The scenario's own region key does not matter to the batch.
    scenario = load_scenario(scenario_file).model_copy(update={"region": "elsewhere"})
    result = run_batch(
        regions="all", scenario=scenario, out_dir=out_dir, bundles=bundles, settings=settings
    )
    assert len(result.regions) == 18
    status = {r.region: r.status for r in result.regions}
    assert {s for s, v in status.items() if v == "skipped"} == set(SLUGS)
    missing = [r for r in result.regions if r.status == "failed"]
    assert len(missing) == 15
    assert all(
        r.error.startswith("BundleNotFoundError:") and "has no bundle" in r.error for r in missing
    )
    assert [r.code for r in result.regions] == sorted(r.code for r in result.regions)
    assert result.summary.iloc[-1]["region"] == "total"

"""Bad bundles and batch faults: one named error (exit 2, one line), old outputs intact.

Each case breaks one thing in a copy of a valid tiny bundle, then runs the scenario on
it through the command line into an output folder that holds a complete earlier run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
from safetytools import batch_args, digest, one_line_error, run_cli, runner, write_scenario

from optimizer.cli import app


@pytest.fixture()
def bundle(shared_tiny_bundle) -> Path:
    return shared_tiny_bundle


# --------------------------------------------------------------------------------------
# Breaking a bundle: each function edits a copy in place
# --------------------------------------------------------------------------------------


def _edit_layer(name: str, change: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]):
    def edit(folder: Path) -> None:
        path = folder / f"{name}.gpkg"
        frame = change(gpd.read_file(path))
        path.unlink()
        frame.to_file(path, driver="GPKG")

    return edit


def _set_column(name: str, column: str, values: Callable[[gpd.GeoDataFrame], object]):
    def change(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame = frame.copy()
        frame[column] = values(frame)
        return frame

    return _edit_layer(name, change)


def _toml(old: str, new: str):
    def edit(folder: Path) -> None:
        path = folder / "region.toml"
        text = path.read_text(encoding="utf-8")
        assert old in text, (old, text)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return edit


def _garbage(name: str):
    def edit(folder: Path) -> None:
        (folder / name).write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)

    return edit


def _remove(name: str):
    def edit(folder: Path) -> None:
        (folder / name).unlink()

    return edit


def _not_toml(folder: Path) -> None:
    (folder / "region.toml").write_text("[[[ not toml", encoding="utf-8")


def _text_population(frame):
    return ["many"] * len(frame)


def _huge_population(frame):
    values = frame["population"].to_numpy(dtype=float).copy()
    values[0] = 6_000_000
    return values


def _negative_population(frame):
    values = frame["population"].to_numpy(dtype=float).copy()
    values[3] = -5
    return values


def _too_many_children(frame):
    values = frame["population"].to_numpy(dtype=float) + 10
    return values


def _no_roads_for_most(folder: Path) -> None:
    from optimizer.network import read_roads, write_roads

    roads = read_roads(folder / "roads.gpkg")
    pop = gpd.read_file(folder / "population.gpkg")
    # move the grid 200 km east: no resident is near a road any more
    pop["geometry"] = pop.geometry.translate(200_000, 0)
    (folder / "population.gpkg").unlink()
    pop.to_file(folder / "population.gpkg", driver="GPKG")
    (folder / "roads.gpkg").unlink()
    write_roads(roads, folder / "roads.gpkg")


BUNDLE_CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "population-missing": (_remove("population.gpkg"), ("population.gpkg",)),
    "population-corrupt": (_garbage("population.gpkg"), ("population.gpkg",)),
    "roads-corrupt": (_garbage("roads.gpkg"), ("roads.gpkg",)),
    "sites-corrupt": (_garbage("sites.gpkg"), ("sites.gpkg",)),
    "population-text": (_set_column("population", "population", _text_population), ("population",)),
    "population-negative": (
        _set_column("population", "population", _negative_population),
        ("population",),
    ),
    "population-more-than-finland": (
        _set_column("population", "population", _huge_population),
        ("population",),
    ),
    "ages-above-total": (
        _set_column("population", "age_0_14", _too_many_children),
        ("age_0_14",),
    ),
    "required-not-boolean": (
        _set_column("sites", "required", lambda f: ["maybe"] * len(f)),
        ("required", "sites"),
    ),
    "site-without-name": (
        _set_column("sites", "name", lambda f: [None] * len(f)),
        ("name",),
    ),
    "synthetic-flag-not-boolean": (
        _toml("population = true", 'population = "perhaps"'),
        ("region.toml", "synthetic"),
    ),
    "unknown-region-toml-key": (_toml('crs = "', 'colour = "blue"\ncrs = "'), ("colour",)),
    "layer-named-but-missing": (
        _toml('roads = "roads.gpkg"', 'roads = "no-roads.gpkg"'),
        ("no-roads.gpkg",),
    ),
    "region-toml-not-toml": (_not_toml, ("region.toml",)),
    "slug-escapes-folder": (_toml('slug = "tiny"', 'slug = "../../escape"'), ("slug",)),
    "roads-cover-too-few": (_no_roads_for_most, ("roads",)),
}


@pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
def test_bad_bundle_is_one_line_and_keeps_old_outputs(case, bundle, previous_outputs, tmp_path):
    broken = tmp_path / "tiny"
    shutil.copytree(bundle, broken)
    edit, expected = BUNDLE_CASES[case]
    edit(broken)
    out = tmp_path / "out"
    shutil.copytree(previous_outputs, out)
    before = digest(out)
    result = run_cli(write_scenario(tmp_path, broken), out)
    one_line_error(result, *expected)
    assert digest(out) == before
    assert not (tmp_path / "escape").exists()


# --------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------


def test_batch_with_two_bundles_of_one_slug_fails_before_starting(bundle, tmp_path):
    root = tmp_path / "bundles"
    shutil.copytree(bundle, root / "a")
    shutil.copytree(bundle, root / "b")
    scenario = write_scenario(tmp_path, bundle)
    out = tmp_path / "out"
    result = runner.invoke(app, batch_args(f"{root / 'a'},{root / 'b'}", scenario, out))
    assert result.exit_code == 2, result.output
    assert "slug 'tiny'" in result.output
    assert not any(p.name != ".optimizer.lock" for p in out.glob("*"))  # nothing started


def test_batch_reruns_a_region_whose_outputs_were_tampered_with(bundle, tmp_path):
    scenario = write_scenario(tmp_path, bundle)
    out = tmp_path / "out"
    args = batch_args(str(bundle), scenario, out)
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = next(out.glob("tiny*/summary.json"))
    good = summary.read_bytes()
    summary.write_bytes(good.replace(b'"schema_version"', b'"schema_versiom"'))
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert summary.read_bytes() != good.replace(b'"schema_version"', b'"schema_versiom"')
    assert b'"schema_version"' in summary.read_bytes()  # recomputed, not kept


def test_batch_with_an_unknown_region_is_one_line(bundle, tmp_path):
    scenario = write_scenario(tmp_path, bundle)
    result = runner.invoke(app, batch_args("atlantis", scenario, tmp_path / "out", workers=None))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "atlantis" in lines[0]


def test_batch_with_one_broken_region_writes_the_others_and_exits_1(bundle, tmp_path):
    good = tmp_path / "bundles" / "tiny"
    shutil.copytree(bundle, good)
    bad = tmp_path / "bundles" / "broken"
    shutil.copytree(bundle, bad)
    _toml('slug = "tiny"', 'slug = "broken"')(bad)
    _garbage("population.gpkg")(bad)
    scenario = write_scenario(tmp_path, bundle)
    result = runner.invoke(app, batch_args(f"{good},{bad}", scenario, tmp_path / "out"))
    assert result.exit_code == 1, result.output
    assert (tmp_path / "out" / "tiny-minimal" / "summary.json").is_file()
    assert not (tmp_path / "out" / "broken-minimal").exists()
    assert not (tmp_path / "out" / "broken").exists()


def test_batch_on_a_cluster_is_quiet(bundle, tmp_path):
    """Two workers: no Dask INFO lines, no solver banner, no traceback from closing."""
    import subprocess
    import sys

    root = tmp_path / "bundles"
    for name in ("one", "two"):
        shutil.copytree(bundle, root / name)
        _toml('slug = "tiny"', f'slug = "{name}"')(root / name)
    scenario = write_scenario(tmp_path, bundle)
    args = batch_args(f"{root / 'one'},{root / 'two'}", scenario, tmp_path / "out", workers=2)
    done = subprocess.run(
        [sys.executable, "-m", "optimizer.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "one-minimal" / "summary.json").is_file()
    noise = ("INFO", "Traceback", "CommClosedError", "distributed.", "Running HiGHS", "HiGHS")
    for stream in (done.stdout, done.stderr):
        for word in noise:
            assert word not in stream, f"{word!r} in the output:\n{stream}"

"""The command line: region listing, info and clear one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from optimizer.cli import app

runner = CliRunner()


def test_regions_lists_demo_and_fetchable():
    result = runner.invoke(app, ["regions"])
    assert result.exit_code == 0, result.output
    assert "pohjois-karjala" in result.output and "bundled" in result.output
    assert result.output.count("fetchable") == 17  # the 18 mainland regions less the demo
    assert "synthetic" in result.output


def test_info_prints_headline_figures():
    result = runner.invoke(app, ["info", "pohjois-karjala"])
    assert result.exit_code == 0, result.output
    for text in ("162,540", "road nodes", "road edges", "candidate sites", "Joensuu", "synthetic"):
        assert text in result.output


def test_unknown_region_is_one_clear_error():
    result = runner.invoke(app, ["info", "pohjois-karjla"])
    assert result.exit_code == 2
    assert "unknown region" in result.output and "pohjois-karjala" in result.output
    assert "Traceback" not in result.output


def _tiny_scenario(tiny_bundle, tmp_path):
    from pathlib import Path

    text = (Path(__file__).parent / "data" / "scenarios" / "minimal.toml").read_text()
    path = tmp_path / "plan.toml"
    path.write_text(text.replace('region = "tiny"', f'region = "{tiny_bundle.as_posix()}"'))
    return path


def test_run_prints_summary_and_writes_outputs(tiny_bundle, tmp_path):
    import json

    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", str(_tiny_scenario(tiny_bundle, tmp_path)), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for text in ("scenario", "baseline", "difference", "t CO2 per year", "Chosen service points"):
        assert text in result.output
    run = out / "tiny-minimal"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["solution"]["status"] == "optimal"
    assert (run / "results.gpkg").is_file() and (run / "map.html").is_file()


def test_run_with_unknown_key_names_key_and_line(tiny_bundle, tmp_path):
    path = _tiny_scenario(tiny_bundle, tmp_path)
    path.write_text(path.read_text().replace("car_occupancy = 1.2", "car_ocupancy = 1.2"))
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "line 25" in result.output and "car_ocupancy" in result.output
    assert not (tmp_path / "out").exists()


HEAVY = (
    "pandas",
    "geopandas",
    "shapely",
    "pyogrio",
    "folium",
    "dask",
    "osmnx",
    "networkx",
    "scipy",
)


@pytest.mark.parametrize("args", [["--help"], ["regions"], ["run", "--help"]])
def test_quick_commands_import_no_heavy_library(args):
    """`--help` and `regions` start without pandas, geopandas, folium, dask or osmnx."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from optimizer.cli import app\n"
        f"result = CliRunner().invoke(app, {args!r})\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "", f"{args} imported {done.stdout.strip()}"

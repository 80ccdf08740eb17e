"""The command line: region listing, info and clear one-line errors."""

from __future__ import annotations

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

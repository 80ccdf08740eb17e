"""Bad input and faults: each case gives one named project error (exit 2, one line) and
leaves a previous complete output set intact.

The cases run through the command line, as a planner would meet them. Bundle, cache,
batch and map cases live beside these in ``test_safety_*.py``.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from safetytools import digest, one_line_error, run_cli, scenario_text, write_scenario

# --------------------------------------------------------------------------------------
# Fixtures: the session's tiny bundle and a copy of its complete previous output set
# --------------------------------------------------------------------------------------


@pytest.fixture()
def bundle(shared_tiny_bundle) -> Path:
    return shared_tiny_bundle


@pytest.fixture
def out(previous_outputs, tmp_path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(previous_outputs, target)
    return target


# --------------------------------------------------------------------------------------
# Scenario files: each edit of the minimal scenario and the words its error must hold
# --------------------------------------------------------------------------------------

ScenarioEdit = Callable[[str], str]


def _sub(old: str, new: str) -> ScenarioEdit:
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _add(extra: str) -> ScenarioEdit:
    return lambda text: text + extra


def _set(key: str, old: str, new: str) -> tuple[ScenarioEdit, tuple[str, ...]]:
    """Change ``key = old`` to ``key = new``; the error must name ``key``."""
    return _sub(f"{key} = {old}", f"{key} = {new}"), (key,)


SCENARIO_CASES: dict[str, tuple[ScenarioEdit, tuple[str, ...]]] = {
    "toml-syntax": (_sub("[network]", "[network"), ("line 17",)),
    "unknown-key": (_sub("remote_points = 1", "remote_pionts = 1"), ("remote_pionts",)),
    "count-negative": _set("remote_points", "1", "-1"),
    "count-text": _set("remote_points", "1", '"one"'),
    "count-range-reversed": _set("full_points", "[1, 2]", "[2, 1]"),
    "share-above-one": _set("remote_share", "0.5", "1.5"),
    "visits-negative": _set("visits_per_resident", "0.4", "-0.4"),
    "visits-nan": _set("visits_per_resident", "0.4", "nan"),
    "visits-inf": _set("visits_per_resident", "0.4", "inf"),
    "visits-text": _set("visits_per_resident", "0.4", '"0,4"'),
    "name-escapes-folder": _set("name", '"minimal"', '"../../etc"'),
    "name-with-slash": _set("name", '"minimal"', '"a/b"'),
    "name-with-markup": (_sub('name = "minimal"', 'name = "[bold]x[/bold]"'), ("[bold]x[/bold]",)),
    "unknown-region": (_sub('region = "', 'region = "nowhere-land" #'), ("nowhere-land",)),
    "missing-bundle-folder": (
        _sub('region = "', 'region = "./no/such/bundle" #'),
        ("no/such/bundle",),
    ),
    "required-site-typo": (
        _sub('required_sites = ["Alpha"]', 'required_sites = ["Alhpa"]'),
        ("Alhpa", "Alpha"),
    ),
    "required-and-forbidden": (
        _sub(
            'required_sites = ["Alpha"]', 'required_sites = ["Alpha"]\nforbidden_sites = ["Alpha"]'
        ),
        ("forbidden_sites",),
    ),
    "baseline-rule-and-sites": (
        _sub("[baseline]", '[baseline]\nrule = "existing_offices"'),
        ("baseline",),
    ),
    "baseline-unknown-site": (
        _sub('{ site = "Beta", tier = "remote" }', '{ site = "Omega", tier = "remote" }'),
        ("Omega",),
    ),
    "baseline-bad-tier": _set("tier", '"remote"', '"video"'),
    "unknown-model": (_sub("[network]", '[network]\nmodel = "p_mediann"'), ("p_mediann",)),
    "unknown-objective": (_sub("[network]", '[network]\nobjective = "happiness"'), ("objective",)),
    "modes-not-summing": (_sub("car = 0.8, bus = 0.2", "car = 0.8, bus = 0.5"), ("mode_split",)),
    "occupancy-below-one": _set("car_occupancy", "1.2", "0.5"),
    "time-limit-zero": (_add("\n[solver]\ntime_limit = 0\n"), ("time_limit",)),
    "gap-above-one": (_add("\n[solver]\nmip_gap = 2\n"), ("mip_gap",)),
    "unknown-solver": (_add('\n[solver]\nname = "gurobi"\n'), ("gurobi",)),
    "network-not-a-table": (
        lambda t: (
            t.split("[network]")[0].replace('region = "', 'network = "all"\nregion = "')
            + "[travel]"
            + t.split("[travel]")[1]
        ),
        ("network",),
    ),
    "no-agencies": (
        lambda t: (
            t.split("[agencies.kela]")[0] + "agencies = {}\n[network]" + t.split("[network]")[1]
        ),
        ("agencies",),
    ),
    "budget-below-cheapest": (
        _sub("required_sites", 'budget_eur = 10\nobjective = "travel_time"\nrequired_sites'),
        ("budget",),
    ),
    "more-required-than-points": (
        _sub('required_sites = ["Alpha"]', 'required_sites = ["Alpha", "Beta", "Gamma"]'),
        ("required", "full point"),
    ),
    "access-standard-unreachable": (
        _add("\n[network.access_standard]\nminutes = 0.5\nhard = true\n"),
        ("access standard of 0.5 min", "minimal.toml, line"),
    ),
    "plan-unknown-site": (
        _add('\n[[plans]]\nname = "mine"\nfull = ["Nowhere"]\n'),
        ("plans[0].full[0]", "Nowhere"),
    ),
    "plan-duplicate-name": (
        _add('\n[[plans]]\nname = "mine"\nfull = ["Alpha"]\n' * 2),
        ("two plans are named 'mine'",),
    ),
}


@pytest.mark.parametrize("case", sorted(SCENARIO_CASES))
def test_bad_scenario_is_one_line_and_keeps_old_outputs(case, bundle, out, tmp_path):
    edit, expected = SCENARIO_CASES[case]
    path = tmp_path / "minimal.toml"
    path.write_text(edit(scenario_text(bundle)), encoding="utf-8")
    before = digest(out)
    result = run_cli(path, out)
    one_line_error(result, *expected)
    assert digest(out) == before


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("missing-file", lambda tmp: tmp / "nope.toml"),
        ("directory", lambda tmp: (tmp / "adir.toml").mkdir() or tmp / "adir.toml"),
        (
            "binary",
            lambda tmp: (tmp / "bin.toml").write_bytes(b"\xff\xfe\x00name") and tmp / "bin.toml",
        ),
        ("empty", lambda tmp: (tmp / "empty.toml").write_text("") or tmp / "empty.toml"),
        ("not-toml", lambda tmp: (tmp / "x.toml").write_text("<html>") and tmp / "x.toml"),
    ],
)
def test_unreadable_scenario_file(case, make, out, tmp_path):
    path = make(tmp_path)
    before = digest(out)
    result = run_cli(path, out)
    one_line_error(result, path.name)
    assert digest(out) == before


# --------------------------------------------------------------------------------------
# Output folders and faults while writing
# --------------------------------------------------------------------------------------


def test_out_is_a_file(bundle, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    result = run_cli(write_scenario(tmp_path, bundle), blocker)
    one_line_error(result, "blocker")
    assert blocker.read_text() == "keep me"


def test_out_locked_by_another_run(bundle, out, tmp_path):
    from optimizer._io import folder_lock

    before = digest(out)
    with folder_lock(out):
        result = run_cli(write_scenario(tmp_path, bundle), out)
    one_line_error(result, str(out))
    assert "lock" in result.output.lower()
    assert digest(out) == before


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_write_failure_keeps_the_old_set(code, bundle, out, tmp_path, monkeypatch):
    import pyogrio

    def broken(*args, **kwargs):
        raise OSError(code, "injected fault")

    monkeypatch.setattr(pyogrio, "write_dataframe", broken)
    before = digest(out)
    result = run_cli(write_scenario(tmp_path, bundle), out)
    one_line_error(result, "injected fault")
    assert digest(out) == before
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".optimizer")) == [
        "tiny-minimal"
    ]  # no staging folder left behind


def test_kill_while_writing_keeps_the_old_set(bundle, out, tmp_path, monkeypatch):
    import pyogrio

    real = pyogrio.write_dataframe

    def killed(*args, **kwargs):
        real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(pyogrio, "write_dataframe", killed)
    before = digest(out)
    run_cli(write_scenario(tmp_path, bundle), out)
    assert digest(out) == before
    # the next run clears the leftovers and writes a complete new set
    monkeypatch.setattr(pyogrio, "write_dataframe", real)
    result = run_cli(write_scenario(tmp_path, bundle), out)
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "tiny-minimal").iterdir())
    assert {"summary.json", "results.gpkg", "map.html"} <= set(names)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".optimizer")) == [
        "tiny-minimal"
    ]


def test_markup_in_user_strings_is_printed_literally(bundle, tmp_path):
    text = scenario_text(bundle).replace(
        'name = "minimal"',
        'name = "minimal"\ndescription = "[bold red]x[/] [/y] [link=file:///etc]z[/link]"',
    )
    path = tmp_path / "markup.toml"
    path.write_text(text, encoding="utf-8")
    result = run_cli(path, tmp_path / "o")
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "o" / "tiny-minimal" / "summary.json").read_text(encoding="utf-8")
    assert "[bold red]x[/] [/y] [link=file:///etc]z[/link]" in summary


def test_info_shows_markup_in_site_names_literally(bundle, tmp_path):
    import geopandas as gpd

    copy = tmp_path / "tiny"
    shutil.copytree(bundle, copy)
    sites = gpd.read_file(copy / "sites.gpkg")
    sites.loc[0, "name"] = "[b]A[/b][/x]"
    (copy / "sites.gpkg").unlink()
    sites.to_file(copy / "sites.gpkg", driver="GPKG")
    from typer.testing import CliRunner

    from optimizer.cli import app

    result = CliRunner().invoke(app, ["info", str(copy)])
    assert result.exit_code == 0, result.output
    assert "[b]A[/b][/x]" in result.output

"""Bad input and faults: each case gives one named project error (exit 2, one line) and
leaves a previous complete output set intact.

The cases run through the command line, as a planner would meet them. Bundle, cache,
batch and map cases live beside these in ``test_safety_*.py``.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optimizer.cli import app

DATA = Path(__file__).parent / "data" / "scenarios"
MINIMAL = (DATA / "minimal.toml").read_text(encoding="utf-8")
runner = CliRunner()


# --------------------------------------------------------------------------------------
# Fixtures: one tiny bundle and one complete previous output set per module
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    from optimizer.region import Region, RegionMeta, save_region
    from optimizer.synthetic import generate_region, load_facts

    facts = load_facts(Path(__file__).parent / "data" / "facts_tiny.toml")
    gen = generate_region(facts)
    region = Region(
        name=facts.name,
        slug=facts.slug,
        code=facts.code,
        year=facts.year,
        crs="EPSG:3067",
        population=gen.population,
        roads=gen.roads,
        sites=gen.sites,
        boundary=gen.boundary,
        meta=RegionMeta(synthetic={"population": True, "roads": True, "sites": True}),
    )
    return save_region(region, tmp_path_factory.mktemp("bundle") / "tiny")


def _scenario_text(bundle: Path) -> str:
    return MINIMAL.replace('region = "tiny"', f'region = "{bundle.as_posix()}"')


@pytest.fixture(scope="module")
def previous(bundle, tmp_path_factory) -> Path:
    """An output folder holding one complete earlier run of the same scenario name."""
    out = tmp_path_factory.mktemp("previous") / "out"
    path = out.parent / "minimal.toml"
    path.write_text(_scenario_text(bundle), encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".optimizer.lock"
    }


@pytest.fixture
def out(previous, tmp_path) -> Path:
    target = tmp_path / "out"
    shutil.copytree(previous, target)
    return target


def _one_line_error(result, *expected: str) -> str:
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


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


SCENARIO_CASES: dict[str, tuple[ScenarioEdit, tuple[str, ...]]] = {
    "toml-syntax": (_sub("[network]", "[network"), ("line 17",)),
    "unknown-key": (_sub("remote_points = 1", "remote_pionts = 1"), ("remote_pionts",)),
    "count-negative": (_sub("remote_points = 1", "remote_points = -1"), ("remote_points",)),
    "count-text": (_sub("remote_points = 1", 'remote_points = "one"'), ("remote_points",)),
    "count-range-reversed": (
        _sub("full_points = [1, 2]", "full_points = [2, 1]"),
        ("full_points",),
    ),
    "share-above-one": (_sub("remote_share = 0.5", "remote_share = 1.5"), ("remote_share",)),
    "visits-negative": (
        _sub("visits_per_resident = 0.4", "visits_per_resident = -0.4"),
        ("visits_per_resident",),
    ),
    "visits-nan": (
        _sub("visits_per_resident = 0.4", "visits_per_resident = nan"),
        ("visits_per_resident",),
    ),
    "visits-inf": (
        _sub("visits_per_resident = 0.4", "visits_per_resident = inf"),
        ("visits_per_resident",),
    ),
    "visits-text": (
        _sub("visits_per_resident = 0.4", 'visits_per_resident = "0,4"'),
        ("visits_per_resident",),
    ),
    "name-escapes-folder": (_sub('name = "minimal"', 'name = "../../etc"'), ("name",)),
    "name-with-slash": (_sub('name = "minimal"', 'name = "a/b"'), ("name",)),
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
    "baseline-bad-tier": (_sub('tier = "remote"', 'tier = "video"'), ("tier",)),
    "unknown-model": (_sub("[network]", '[network]\nmodel = "p_mediann"'), ("p_mediann",)),
    "unknown-objective": (_sub("[network]", '[network]\nobjective = "happiness"'), ("objective",)),
    "modes-not-summing": (_sub("car = 0.8, bus = 0.2", "car = 0.8, bus = 0.5"), ("mode_split",)),
    "occupancy-below-one": (_sub("car_occupancy = 1.2", "car_occupancy = 0.5"), ("car_occupancy",)),
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
    path.write_text(edit(_scenario_text(bundle)), encoding="utf-8")
    before = _digest(out)
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    _one_line_error(result, *expected)
    assert _digest(out) == before


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
    before = _digest(out)
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    _one_line_error(result, path.name)
    assert _digest(out) == before


# --------------------------------------------------------------------------------------
# Output folders and faults while writing
# --------------------------------------------------------------------------------------


def _good(bundle: Path, tmp_path: Path) -> Path:
    path = tmp_path / "minimal.toml"
    path.write_text(_scenario_text(bundle), encoding="utf-8")
    return path


def test_out_is_a_file(bundle, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("keep me")
    result = runner.invoke(app, ["run", str(_good(bundle, tmp_path)), "--out", str(blocker)])
    _one_line_error(result, "blocker")
    assert blocker.read_text() == "keep me"


def test_out_locked_by_another_run(bundle, out, tmp_path):
    from optimizer._io import folder_lock

    before = _digest(out)
    with folder_lock(out):
        result = runner.invoke(app, ["run", str(_good(bundle, tmp_path)), "--out", str(out)])
    _one_line_error(result, str(out))
    assert "lock" in result.output.lower()
    assert _digest(out) == before


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_write_failure_keeps_the_old_set(code, bundle, out, tmp_path, monkeypatch):
    import pyogrio

    def broken(*args, **kwargs):
        raise OSError(code, "injected fault")

    monkeypatch.setattr(pyogrio, "write_dataframe", broken)
    before = _digest(out)
    result = runner.invoke(app, ["run", str(_good(bundle, tmp_path)), "--out", str(out)])
    _one_line_error(result, "injected fault")
    assert _digest(out) == before
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
    before = _digest(out)
    runner.invoke(app, ["run", str(_good(bundle, tmp_path)), "--out", str(out)])
    assert _digest(out) == before
    # the next run clears the leftovers and writes a complete new set
    monkeypatch.setattr(pyogrio, "write_dataframe", real)
    result = runner.invoke(app, ["run", str(_good(bundle, tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (out / "tiny-minimal").iterdir())
    assert {"summary.json", "results.gpkg", "map.html"} <= set(names)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".optimizer")) == [
        "tiny-minimal"
    ]


def test_markup_in_user_strings_is_printed_literally(bundle, tmp_path):
    text = _scenario_text(bundle).replace(
        'name = "minimal"',
        'name = "minimal"\ndescription = "[bold red]x[/] [/y] [link=file:///etc]z[/link]"',
    )
    path = tmp_path / "markup.toml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "o")])
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
    result = runner.invoke(app, ["info", str(copy)])
    assert result.exit_code == 0, result.output
    assert "[b]A[/b][/x]" in result.output

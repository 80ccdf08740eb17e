"""Scenario files: the shipped default, the schema, and errors that name key and line."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from optimizer.errors import ScenarioError
from optimizer.scenario import (
    Scenario,
    default_scenario_path,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from optimizer.scenario._positions import key_lines
from optimizer.settings import get_settings

DATA = Path(__file__).parent / "data" / "scenarios"
MINIMAL = (DATA / "minimal.toml").read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    assert old in text, f"fixture changed: {old!r} not found"
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def error_of(text: str, name: str = "case.toml") -> str:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, path=name)
    return str(info.value)


# -- the shipped scenarios ------------------------------------------------------------


def test_default_scenario_path_is_in_the_data_folder():
    assert default_scenario_path() == get_settings().data_dir / "scenarios" / "default.toml"
    assert default_scenario_path().is_file()
    assert "default" in list_scenarios()


def test_default_scenario_loads_and_cites_or_flags_every_agency():
    s = load_scenario()
    assert s.name == "default"
    assert s.region == "pohjois-karjala"
    assert "Joensuu" in s.network.required_sites
    expected = {"kela", "police_permits", "dvv", "maanmittauslaitos", "te_services"}
    assert expected | {"verohallinto", "migri", "ely"} <= set(s.agencies)
    for agency in s.agencies.values():
        assert agency.source or agency.assumption
        assert 0 <= agency.remote_share <= 1
    assert s.travel.mode_split.car + s.travel.mode_split.bus == pytest.approx(1)
    # figures without a citation are listed as assumptions for the user to set
    assert "travel.value_of_time_eur_per_hour" in s.assumptions()
    assert "LIPASTO" in s.travel.sources["car_kg_co2_per_vehicle_km"]
    assert s.path == default_scenario_path().resolve()


def test_shipped_scenario_by_name_equals_default():
    assert load_scenario("default") == load_scenario(default_scenario_path())


def test_minimal_scenario_normalises_counts_and_baseline():
    s = load_scenario(DATA / "minimal.toml")
    assert s.network.full_points == (1, 2)
    assert s.network.remote_points == (1, 1)  # a fixed count is a [n, n] range
    assert [(b.site, b.tier) for b in s.baseline.sites] == [("Alpha", "full"), ("Beta", "remote")]
    assert s.solver.time_limit == 60
    assert s.assumptions() == ["agencies.police"]
    assert s.line_of("travel", "mode_split", "bus") == line_of(MINIMAL, "mode_split")
    assert s.network.count_bounds(5) == ((1, 2), (1, 1))


def test_name_defaults_to_file_stem_and_region_path_is_relative_to_file(tmp_path):
    text = edit(MINIMAL, 'name = "minimal"\n', "").replace('"tiny"', '"../regions/tiny"')
    path = tmp_path / "scen" / "my-plan.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    assert s.name == "my-plan"
    assert s.region_ref() == path.parent.resolve() / "../regions/tiny"
    assert load_scenario(DATA / "minimal.toml").region_ref() == "tiny"


def test_scenario_is_frozen():
    s = load_scenario(DATA / "minimal.toml")
    with pytest.raises(pydantic.ValidationError):
        s.region = "other"  # type: ignore[misc]


# -- errors name the key path and the line -------------------------------------------------


def test_unknown_key_names_key_line_and_suggestion():
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "unknown_key.toml")
    message = str(info.value)
    assert "unknown_key.toml, line 9" in message
    assert "agencies.kela.remote_shares" in message
    assert "did you mean 'remote_share'" in message
    assert isinstance(info.value, ValueError)


#: Each edit of the minimal scenario: (old, new), the text on the line the first
#: words must be reported at (``None``: no line is checked) and the words.
EDIT_ERRORS: dict[str, tuple[tuple[str, str], str | None, tuple[str, ...]]] = {
    "unknown-top-level-key": (
        ('region = "tiny"', 'region = "tiny"\nregoin = "tiny"'),
        "regoin",
        ("regoin: unknown key", "did you mean 'region'"),
    ),
    "unknown-key-in-inline-table": (
        ("{ car = 0.8, bus = 0.2 }", "{ car = 0.8, bus = 0.2, train = 0 }"),
        "train",
        ("travel.mode_split.train: unknown key",),
    ),
    "negative-visit-rate": (
        ("visits_per_resident = 0.1", "visits_per_resident = -0.1"),
        "= -0.1",
        ("agencies.police.visits_per_resident: must be >= 0", "got -0.1"),
    ),
    "negative-age-group-rate": (
        (
            "[agencies.police]",
            "[agencies.kela.age_rates]\nage_0_14 = 0.1\nage_15_64 = -0.5\nage_65_plus = 1\n\n"
            "[agencies.police]",
        ),
        "age_15_64",
        ("agencies.kela.age_rates.age_15_64: must be >= 0",),
    ),
    "remote-share-above-one": (
        ("remote_share = 0.5", "remote_share = 1.5"),
        "remote_share = 1.5",
        ("agencies.kela.remote_share: must be <= 1", "between 0 and 1"),
    ),
    "mode-shares-not-summing-to-one": (
        ("bus = 0.2", "bus = 0.3"),
        "mode_split",
        ("travel.mode_split:", "sum to 1", "1.1"),
    ),
    "site-both-required-and-forbidden": (
        ('required_sites = ["Alpha"]', 'required_sites = ["Alpha"]\nforbidden_sites = ["alpha"]'),
        "forbidden_sites",
        ("network.forbidden_sites[0]",),
    ),
    "budget-below-the-smallest-network": (
        ("remote_points = 1", "remote_points = 1\nbudget_eur = 500"),
        "budget_eur",
        ("network.budget_eur:", "more than the budget"),
    ),
    "counts-or-budget-required": (
        ("full_points = [1, 2]\n", ""),
        None,
        ("network.full_points", "budget_eur"),
    ),
    "count-range-must-be-ordered": (
        ("full_points = [1, 2]", "full_points = [3, 1]"),
        None,
        ("minimum 3 is larger than the maximum 1",),
    ),
    "agency-needs-source-or-assumption": (
        ('source = "test figure"\n', ""),
        None,
        ("agencies.kela.source", "assumption = true"),
    ),
    "baseline-site-tier-in-array-of-inline-tables": (
        ('{ site = "Beta", tier = "remote" }', '{ site = "Beta", tier = "middle" }'),
        "middle",
        ("baseline.sites[1].tier:",),
    ),
    "baseline-needs-rule-or-sites": (
        ("[baseline]\n", '[baseline]\nrule = "existing_offices"\n'),
        None,
        ("either a rule",),
    ),
    "non-finite-numbers-are-rejected": (
        ("co2_price_eur_per_tonne = 100", "co2_price_eur_per_tonne = inf"),
        None,
        ("travel.co2_price_eur_per_tonne: must be a finite number",),
    ),
}


@pytest.mark.parametrize("case", sorted(EDIT_ERRORS))
def test_bad_edit_names_key_path_and_line(case):
    (old, new), on_line, words = EDIT_ERRORS[case]
    text = edit(MINIMAL, old, new)
    message = error_of(text)
    if on_line is not None:
        assert f"case.toml, line {line_of(text, on_line)}: {words[0]}" in message
    for word in words:
        assert word in message


def test_several_problems_are_all_reported_in_line_order():
    text = edit(MINIMAL, "remote_share = 0.5", "remote_share = 1.5")
    text = edit(text, "car_occupancy = 1.2", "car_occupancy = 0.5")
    message = error_of(text)
    assert message.startswith("2 problems")
    assert message.index("remote_share") < message.index("car_occupancy")


def test_invalid_toml_names_the_position():
    message = error_of(edit(MINIMAL, "remote_points = 1", "remote_points = "))
    assert "not valid TOML" in message and f"line {line_of(MINIMAL, 'remote_points')}" in message


def test_missing_file_lists_the_shipped_scenarios(tmp_path):
    with pytest.raises(ScenarioError, match=r"does not exist.*default"):
        load_scenario(tmp_path / "nope.toml")


# -- the key locator --------------------------------------------------------------------------


def test_key_lines_handles_array_tables_dotted_keys_and_multiline_strings():
    text = (
        'a.b = "x"\n'  # 1
        'note = """two\n'  # 2
        'c = 1"""\n'  # 3
        "[[baseline.sites]]\n"  # 4
        'site = "A"\n'  # 5
        "[[baseline.sites]]\n"  # 6
        'site = "B"  # comment with = sign\n'  # 7
        "tier = 'remote'\n"  # 8
        '[t."quoted.key"]\n'  # 9
        "v = [1,\n"  # 10
        "  2]\n"  # 11
    )
    lines = key_lines(text)
    assert lines[("a", "b")] == 1
    assert ("c",) not in lines  # inside a string
    assert lines[("baseline", "sites", 0, "site")] == 5
    assert lines[("baseline", "sites", 1, "tier")] == 8
    assert lines[("t", "quoted.key", "v", 1)] == 11


def test_scenario_model_can_be_built_in_python():
    data = {
        "name": "py",
        "region": "tiny",
        "agencies": {
            "a": {"name": "A", "visits_per_resident": 1, "remote_share": 0, "assumption": True}
        },
        "network": {
            "full_points": 1,
            "full_point_annual_cost_eur": 1,
            "remote_point_annual_cost_eur": 1,
        },
        "travel": {
            "mode_split": {"car": 1, "bus": 0},
            "car_occupancy": 1,
            "car_kg_co2_per_vehicle_km": 0.1,
            "bus_kg_co2_per_passenger_km": 0.1,
            "value_of_time_eur_per_hour": 1,
            "co2_price_eur_per_tonne": 1,
        },
        "baseline": {"rule": "required_sites_only"},
    }
    s = Scenario.model_validate(data)
    assert s.path is None and s.line_of("network") is None
    assert "network.full_points" in str(s.error(("network", "full_points"), "x"))


# -- running a scenario on the tiny bundle ------------------------------------------------------

import itertools  # noqa: E402
import json  # noqa: E402

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402

from optimizer import scenario as scenario_module  # noqa: E402
from optimizer.errors import InfeasibleError, OutputError  # noqa: E402
from optimizer.scenario import run_scenario, sweep, write_outputs  # noqa: E402


def exhaustive_choice(problem, *, full_points=None, remote_points=None, settings=None):
    """Enumerate every network: the oracle for the travel-time objective.

    objective = sum(in-person visits x minutes to nearest full point)
              + sum(remote-eligible visits x minutes to nearest point of any tier)
    """
    n = len(problem.site_ids)
    bounds = problem.scenario.network.count_bounds(n)
    (f_lo, f_hi), (r_lo, r_hi) = full_points or bounds[0], remote_points or bounds[1]
    w_f, w_r, t = problem.visits.in_person_only, problem.visits.remote_eligible, problem.minutes
    best = None
    allowed = [k for k in range(n) if k not in problem.forbidden]
    for nf in range(f_lo, f_hi + 1):
        for full in itertools.combinations(allowed, nf):
            if not set(problem.required) <= set(full):
                continue
            rest = [k for k in allowed if k not in full]
            for nr in range(r_lo, min(r_hi, len(rest)) + 1):
                for remote in itertools.combinations(rest, nr):
                    if not set(problem.required_remote) <= set(remote):
                        continue
                    near_full = t[:, list(full)].min(axis=1)
                    near_any = t[:, list(full + remote)].min(axis=1)
                    with np.errstate(invalid="ignore"):
                        obj = np.nansum(w_f * near_full) + np.nansum(w_r * near_any)
                    if best is None or obj < best[0] - 1e-9:
                        best = (obj, full, remote)
    if best is None:
        raise InfeasibleError("no network fits")
    obj, full, remote = best
    return scenario_module.Choice(
        full=full,
        remote=remote,
        assign_full=None,
        assign_any=None,
        status="optimal",
        objective=float(obj),
        bound=float(obj),
        gap=0.0,
        seconds=0.0,
        solution=None,
    )


@pytest.fixture
def tiny_scenario(tiny_bundle, tmp_path):
    text = edit(MINIMAL, 'region = "tiny"', f'region = "{tiny_bundle.as_posix()}"')
    path = tmp_path / "tiny-plan.toml"
    path.write_text(text, encoding="utf-8")
    return load_scenario(path)


def test_two_tier_solve_matches_exhaustive_enumeration(tiny_scenario):
    from optimizer.settings import get_settings

    settings = get_settings()
    problem = scenario_module.prepare(tiny_scenario, settings=settings)
    for counts in [None, ((1, 1), (0, 0)), ((1, 1), (2, 2)), ((2, 2), (1, 1))]:
        kwargs = {} if counts is None else {"full_points": counts[0], "remote_points": counts[1]}
        real = scenario_module.solve_network(problem, settings=settings, **kwargs)
        brute = exhaustive_choice(problem, **kwargs)
        assert real.status == "optimal"
        assert real.objective == pytest.approx(brute.objective, rel=1e-9), counts


def test_run_scenario_builds_cells_sites_and_summary(tiny_scenario):
    steps = []
    result = run_scenario(tiny_scenario, progress=steps.append)
    assert steps == ["loading region", "computing travel times", "solving", "estimating"]
    cells, sites = result.cells, result.sites
    assert cells.crs == "EPSG:3067" and len(cells) == 335
    for column in (
        "any_site_id",
        "nearest_any_minutes",
        "full_site_id",
        "full_km",
        "baseline_any_minutes",
    ):
        assert column in cells
    assert set(sites["role"]) <= {"full", "remote", "unused"}
    assert sites.loc["001-alpha", "role"] == "full"  # required
    assert (sites["role"] == "remote").sum() == 1  # remote_points = 1
    assert sites.loc["002-beta", "baseline_role"] == "remote"
    assert sites["residents_served"].sum() == pytest.approx(cells["population"].sum())
    s = result.summary
    assert s["region"]["slug"] == "tiny" and s["scenario"]["name"] == "minimal"
    assert s["solution"]["status"] == "optimal"
    json.dumps(s, allow_nan=False)
    assert s["difference"]["n_full"] == result.estimate.n_full - result.baseline.n_full
    assert result.name == "tiny-minimal"
    assert "snopt-legend" in result._repr_html_() or "iframe" in result._repr_html_()


def test_write_outputs_atomically(tiny_scenario, tmp_path):
    result = run_scenario(tiny_scenario)
    paths = write_outputs(result, tmp_path / "out", assets="cdn")
    folder = tmp_path / "out" / "tiny-minimal"
    assert paths.folder == folder
    assert json.loads(paths.summary.read_text(encoding="utf-8"))["region"]["slug"] == "tiny"
    assert paths.map == folder / "map.html"
    assert paths.map.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    cells = gpd.read_file(paths.results, layer="cells")
    sites = gpd.read_file(paths.results, layer="sites")
    assert len(cells) == 335 and {
        "cell_id",
        "any_site_id",
        "nearest_any_minutes",
        "full_km",
    } <= set(cells)
    assert {"site_id", "role", "visits", "residents_served"} <= set(sites)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".optimizer.lock",
        "tiny-minimal",
    ]  # no staging folder left behind
    assert sorted(p.name for p in folder.iterdir()) == [
        "map.html",
        "report.html",
        "results.gpkg",
        "summary.json",
    ]
    write_outputs(result, tmp_path / "out", assets="cdn")  # rewriting replaces the files


def test_write_outputs_to_an_unwritable_folder(tiny_scenario, tmp_path):
    result = run_scenario(tiny_scenario)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create output folder"):
        write_outputs(result, blocker / "out")


def test_unknown_site_names_point_at_the_scenario_line(tiny_bundle, tmp_path):
    text = edit(MINIMAL, 'region = "tiny"', f'region = "{tiny_bundle.as_posix()}"')
    text = edit(text, 'required_sites = ["Alpha"]', 'required_sites = ["Alhpa"]')
    path = tmp_path / "typo.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        run_scenario(path)
    message = str(info.value)
    assert f"line {line_of(text, 'Alhpa')}: network.required_sites[0]" in message
    assert "did you mean 'Alpha'" in message


def test_unreachable_access_standard_names_the_cells(tiny_bundle, tmp_path):
    text = edit(MINIMAL, 'region = "tiny"', f'region = "{tiny_bundle.as_posix()}"')
    text += "\n[network.access_standard]\nminutes = 0.5\nhard = true\n"
    path = tmp_path / "standard.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InfeasibleError) as info:
        run_scenario(path)
    message = str(info.value)
    assert "access standard of 0.5 min" in message
    assert "populated cells are farther" in message and "1km" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "words"),
    [
        (
            'required_sites = ["Alpha"]',
            'required_sites = ["Alpha", "Beta", "Gamma"]',
            "full_points",
            ("3 required full sites but at most 2 full points", "001-alpha"),
        ),
        (
            'required_sites = ["Alpha"]',
            'required_sites = ["Alpha"]\nrequired_remote_sites = ["Beta", "Gamma"]',
            "remote_points",
            ("2 required remote sites but at most 1 remote points", "002-beta"),
        ),
    ],
)
def test_more_required_sites_than_points_is_the_models_error_at_the_scenario_line(
    tiny_bundle, tmp_path, old, new, key, words
):
    text = edit(edit(MINIMAL, 'region = "tiny"', f'region = "{tiny_bundle.as_posix()}"'), old, new)
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)  # loads: the model decides what is feasible
    with pytest.raises(InfeasibleError) as info:
        run_scenario(scenario)
    message = str(info.value)
    assert f"case.toml, line {line_of(text, key)}" in message
    assert f"network.{key}" in message
    for word in words:
        assert word in message


def test_sweep_table_and_plot(tiny_scenario, tmp_path):
    result = sweep(tiny_scenario, full_points=[1, 2], remote_points=[0, 1, 2])
    table = result.table
    assert len(table) == 6
    # 3 sites, so 2 full + 2 remote cannot be built
    assert table.set_index(["full_points", "remote_points"]).loc[(2, 2), "status"] == "infeasible"
    ok = table[table["status"] == "optimal"]
    assert (ok["mean_minutes_any"] >= 0).all()
    # more points never lengthen the trip to the nearest point (optimal networks)
    one_full = ok[ok["full_points"] == 1].sort_values("remote_points")
    assert one_full["mean_minutes_any"].is_monotonic_decreasing
    csv, png = result.write(tmp_path / "sweep")
    assert csv.is_file() and png.stat().st_size > 10_000


def test_sweep_command_writes_the_run_and_a_report_with_the_chart(tiny_scenario, tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app
    from optimizer.i18n import message

    args = ["sweep", str(tiny_scenario.path), "--full", "1..2", "--remote", "0..1"]
    done = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--lang", "fi"])
    assert done.exit_code == 0, done.output
    (folder,) = tmp_path.glob("*-sweep")
    assert folder.name == f"tiny-{tiny_scenario.name}-sweep"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "map.html",
        "report.html",
        "results.gpkg",
        "summary.json",
        "sweep.csv",
        "sweep.png",
    ]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert page.count('<img class="chart"') == 1
    assert message("chart_alt", "fi") in page
    # the sweep's own run is the scenario's network, as a plain run finds it
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    plain = run_scenario(tiny_scenario)
    # (summary.json rounds to meaningful precision)
    assert summary["solution"]["objective"] == pytest.approx(plain.choice.objective, rel=1e-4)

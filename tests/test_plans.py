"""A scenario's own plans: evaluated with the same estimates as the optimum, no solver."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.cli import app
from optimizer.errors import ScenarioError
from optimizer.scenario import evaluate, load_scenario, prepare, run_scenario

DATA = Path(__file__).parent / "data" / "scenarios"
MINIMAL = (DATA / "minimal.toml").read_text(encoding="utf-8")

PLAN = """
[[plans]]
name = "gamma-only"
description = "Gamma full, Beta remote"
full = ["Gamma"]
remote = ["Beta"]
"""


def _scenario(tiny_bundle: Path, tmp_path: Path, extra: str) -> Path:
    text = MINIMAL.replace('region = "tiny"', f'region = "{tiny_bundle.as_posix()}"') + extra
    path = tmp_path / "planned.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_plan_is_evaluated_like_the_same_sites_by_hand(tiny_bundle, tmp_path):
    path = _scenario(tiny_bundle, tmp_path, PLAN)
    result = run_scenario(path)
    (plan,) = result.plans
    problem = result.problem
    ids = problem.site_ids
    assert [ids[k] for k in plan.plan.full] == ["002-gamma"]
    assert [ids[k] for k in plan.plan.remote] == ["002-beta"]
    _, by_hand = evaluate(problem, plan.plan.full, plan.plan.remote)
    assert plan.estimate.to_any.mean_minutes == pytest.approx(by_hand.to_any.mean_minutes)
    assert plan.estimate.n_full == 1 and plan.estimate.n_remote == 1
    assert plan.difference.travel.t_co2 == pytest.approx(
        plan.estimate.travel.t_co2 - result.baseline.travel.t_co2
    )
    # the optimum is never worse than the plan on the model's own objective (travel time)
    assert result.estimate.to_any.mean_minutes <= plan.estimate.to_any.mean_minutes + 1e-9
    summary = result.summary
    assert summary["plans"][0]["name"] == "gamma-only"
    assert summary["plans"][0]["full_sites"] == ["002-gamma"]
    json.dumps(summary, allow_nan=False)


def test_plan_with_a_misspelt_site_names_the_line(tiny_bundle, tmp_path):
    path = _scenario(tiny_bundle, tmp_path, PLAN.replace('["Gamma"]', '["Gamma", "Gammma"]'))
    with pytest.raises(ScenarioError, match=r"plans\[0\]\.full\[1\].*did you mean 'Gamma'"):
        prepare(load_scenario(path))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (PLAN + PLAN, "two plans are named 'gamma-only'"),
        (PLAN.replace('remote = ["Beta"]', 'remote = ["Gamma"]'), "both full and remote"),
        (PLAN + 'desks = { kela = ["Beta"] }\n', "not full points of this plan"),
        (PLAN + 'desks = { nosuch = ["Gamma"] }\n', "desks for unknown agencies 'nosuch'"),
        (PLAN.replace('name = "gamma-only"', 'name = "../up"'), "plans"),
        (PLAN.replace('full = ["Gamma"]', "full = []"), "plans"),
    ],
)
def test_bad_plans_are_rejected(tiny_bundle, tmp_path, extra, message):
    path = _scenario(tiny_bundle, tmp_path, extra)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_cli_prints_the_plan_beside_the_optimum(tiny_bundle, tmp_path):
    path = _scenario(tiny_bundle, tmp_path, PLAN)
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "plan gamma-only" in result.output
    assert "optimum" in result.output


def test_plan_is_a_switchable_layer_on_the_map(tiny_bundle, tmp_path):
    result = run_scenario(_scenario(tiny_bundle, tmp_path, PLAN))
    page = result.map(lang="fi", tiles=None).get_root().render()
    assert "Suunnitelma gamma-only: matka-aika" in page
    (plan,) = result.plans
    # the layer shows the plan's own minutes, not the optimum's
    minutes = plan.assignment.nearest_full_minutes
    assert not np.allclose(minutes, result.assignment.nearest_full_minutes)

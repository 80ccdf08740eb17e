"""Agencies and staffing in a scenario: desks, officials, remote pools; the agency model."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from optimizer.errors import InfeasibleError
from optimizer.scenario import load_scenario, run_scenario, write_outputs

MINIMAL = (Path(__file__).parent / "data" / "scenarios" / "minimal.toml").read_text("utf-8")
STAFF = {
    "kela": "visits_per_fte = 50\ndesk_annual_cost_eur = 500\nstaff_annual_cost_eur = 900\n",
    "police": "visits_per_fte = 20\ndesk_annual_cost_eur = 700\nstaff_annual_cost_eur = 800\n"
    "presence = [1, 2]\n",
}


def _scenario(bundle: Path, tmp_path: Path, *, network: str = "", presence: str = "") -> Path:
    text = MINIMAL.replace('region = "tiny"', f'region = "{bundle.as_posix()}"')
    for key, figures in STAFF.items():
        if presence and key == "police":
            figures = figures.replace("presence = [1, 2]", f"presence = {presence}")
        head = f"[agencies.{key}]\n"
        text = text.replace(head, head + figures, 1)
    text = text.replace("[network]\n", "[network]\n" + network, 1)
    path = tmp_path / "staffed.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_staffing_of_the_chosen_network_adds_up(tiny_bundle, tmp_path):
    result = run_scenario(_scenario(tiny_bundle, tmp_path))
    staffing = result.staffing
    assert staffing is not None and result.baseline_staffing is not None
    full_ids = {result.problem.site_ids[k] for k in result.choice.full}
    visits = result.problem.served_visits
    for k, (key, agency) in enumerate(result.scenario.agencies.items()):
        rows = [r for r in staffing.rows if r.agency == key]
        desks = {r.site_id for r in rows if r.desk}
        assert desks == full_ids  # a desk at every full point of a two-tier optimum
        in_person = sum(r.visits for r in rows if r.desk)
        assert in_person == pytest.approx(visits.agency_in_person[k].sum())
        pool = next(r for r in rows if r.site_id == "remote pool")
        assert pool.fte == pytest.approx(visits.agency_remote[k].sum() / agency.visits_per_fte)
        total = sum(r.fte for r in rows)
        assert total == pytest.approx(visits.per_agency[key] / agency.visits_per_fte)
    fte = {
        key: visits.per_agency[key] / a.visits_per_fte
        for key, a in result.scenario.agencies.items()
    }
    staff_cost = sum(fte[k] * a.staff_annual_cost_eur for k, a in result.scenario.agencies.items())
    assert staffing.staff_cost_eur == pytest.approx(staff_cost)
    assert staffing.desks == 2 * len(full_ids)
    assert staffing.desk_cost_eur == pytest.approx(len(full_ids) * (500 + 700))


def test_agency_model_is_never_worse_than_pricing_the_two_tier_network(tiny_bundle, tmp_path):
    network = 'model = "agency_two_tier"\nobjective = "annual_cost"\n'
    path = _scenario(tiny_bundle, tmp_path, network=network)
    optimum = run_scenario(path)
    solution = optimum.choice.solution
    assert optimum.choice.status in ("optimal", "gap_limit")
    from optimizer.scenario.staffing import agency_model

    model = agency_model(optimum.problem)
    # every network the two-tier model could choose is a feasible plan of the agency model
    for full, remote in [((0,), (1,)), ((0, 1), (2,)), ((0, 2), (1,))]:
        priced = model.evaluate_plan(full=list(full), remote=list(remote))
        assert solution.objective <= priced.objective * (1 + 1e-6)
    # police may keep a single desk: its desks are a subset of the full points
    police = [r for r in optimum.staffing.rows if r.agency == "police" and r.desk]
    assert 1 <= len(police) <= len(optimum.choice.full)


def test_impossible_presence_names_the_agencies(tiny_bundle, tmp_path):
    path = _scenario(
        tiny_bundle, tmp_path, network='model = "agency_two_tier"\n', presence="[3, 3]"
    )
    with pytest.raises(InfeasibleError) as info:
        run_scenario(path)
    message = str(info.value)
    assert "agencies" in message and "police" in message.lower()


def test_staffing_is_written_to_summary_and_gpkg(tiny_bundle, tmp_path):
    result = run_scenario(_scenario(tiny_bundle, tmp_path))
    paths = write_outputs(result, tmp_path / "out", assets="cdn")
    summary = json.loads(paths.summary.read_text(encoding="utf-8"))
    assert summary["staffing"]["desks"] == result.staffing.desks
    assert summary["baseline_staffing"]["fte"] == pytest.approx(
        result.baseline_staffing.fte, rel=1e-3
    )
    layer = gpd.read_file(paths.results, layer="staffing")
    assert set(layer["agency"]) == {"kela", "police"}
    assert np.isclose(layer["fte"].sum(), result.staffing.fte, rtol=1e-6)
    assert (layer.loc[layer["site_id"] == "remote pool"].geometry.isna()).all()


def test_without_visits_per_fte_there_is_no_staffing(tiny_bundle, tmp_path):
    text = MINIMAL.replace('region = "tiny"', f'region = "{tiny_bundle.as_posix()}"')
    path = tmp_path / "plain.toml"
    path.write_text(text, encoding="utf-8")
    assert run_scenario(load_scenario(path)).staffing is None


@pytest.mark.parametrize(("lang", "words"), [("en", "Remote pool"), ("fi", "Etäpalvelun pooli")])
def test_report_shows_staffing_and_plans(tiny_bundle, tmp_path, lang, words):
    from optimizer.report import result_report

    extra = '\n[[plans]]\nname = "gamma-only"\nfull = ["Gamma"]\nremote = ["Beta"]\n'
    path = _scenario(tiny_bundle, tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")
    result = run_scenario(path)
    page = result_report(result, lang=lang)
    assert words in page and 'id="staffing"' in page
    assert "gamma-only" in page  # the plan's column in the comparison table
    kela = next(
        r for r in result.staffing.rows if r.agency == "kela" and r.site_id == "remote pool"
    )
    shown = f"{kela.fte:,.1f}" if lang == "en" else f"{kela.fte:.1f}".replace(".", ",")
    assert shown in page

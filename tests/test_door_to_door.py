"""Door-to-door car times in a scenario run: ``[travel.car]`` and ``--drive-only``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import ScenarioError
from optimizer.scenario import load_scenario, prepare

MINIMAL = (Path(__file__).parent / "data" / "scenarios" / "minimal.toml").read_text("utf-8")


def _scenario(bundle: Path, tmp_path: Path, extra: str = "") -> Path:
    text = MINIMAL.replace('region = "tiny"', f'region = "{bundle.as_posix()}"')
    text = text.replace("[travel]\n", f"[travel]\n{extra}", 1) if extra else text
    path = tmp_path / "car.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_door_to_door_adds_the_terminal_times_to_every_trip(tiny_bundle, tmp_path):
    scenario = load_scenario(_scenario(tiny_bundle, tmp_path))
    assert scenario.travel.car.door_to_door  # the default
    door = prepare(scenario)
    drive = prepare(scenario.with_drive_only())
    parts = door.travel_times.components()
    # what the model minimises is the door-to-door total, part by part
    np.testing.assert_allclose(door.minutes, parts["total"])
    np.testing.assert_allclose(
        parts["total"], parts["access"] + parts["terminal"] + parts["network"]
    )
    car = scenario.travel.car.car_model()
    least_terminal = (
        min(car.walk_to_car_m.values()) / (car.walk_speed_kmh * 1000 / 60)
        + min(car.walk_from_parking_m.values()) / (car.walk_speed_kmh * 1000 / 60)
        + min(car.parking_search_min.values())
    )
    finite = np.isfinite(drive.minutes)
    assert (parts["terminal"][finite] >= least_terminal - 1e-9).all()
    # realistic speeds and terminal times make no trip shorter than plain driving
    assert (door.minutes[finite] >= drive.minutes[finite] + least_terminal - 1e-9).all()


def test_car_keys_override_the_defaults(tiny_bundle, tmp_path):
    extra = "[travel.car]\nparking_search_min = { centre = 5.0, dense = 5.0, other = 5.0 }\n"
    text = MINIMAL.replace('region = "tiny"', f'region = "{tiny_bundle.as_posix()}"') + "\n" + extra
    path = tmp_path / "slow-parking.toml"
    path.write_text(text, encoding="utf-8")
    slow = prepare(load_scenario(path))
    base = prepare(load_scenario(_scenario(tiny_bundle, tmp_path)))
    finite = np.isfinite(base.minutes)
    delta = slow.minutes[finite] - base.minutes[finite]
    assert delta.min() > 4.5 and delta.max() <= 5.0  # 5 min instead of 0.16-0.42 min


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("[travel.car]\nwalk_speed_kmh = -1\n", "walk_speed_kmh"),
        ("[travel.car]\nspeed_factors = { fast = 0.9 }\n", "speed_factors"),
        ("[travel.car]\nparking_search_min = { centre = -1.0 }\n", "parking_search_min"),
        ("[travel.car]\nno_such_key = 1\n", "no_such_key"),
    ],
)
def test_bad_car_keys_name_the_key(tiny_bundle, tmp_path, extra, words):
    text = MINIMAL.replace('region = "tiny"', f'region = "{tiny_bundle.as_posix()}"') + "\n" + extra
    path = tmp_path / "bad-car.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=words) as info:
        load_scenario(path)
    assert "travel.car" in str(info.value)


def test_summary_records_the_car_model(tiny_bundle, tmp_path):
    from optimizer.scenario import run_scenario

    result = run_scenario(_scenario(tiny_bundle, tmp_path))
    summary = json.loads(json.dumps(result.summary, allow_nan=False))
    assert summary["travel_times"]["door_to_door"] is True
    assert summary["travel_times"]["car_model"]["walk_speed_kmh"] == pytest.approx(4.2)


def test_trip_parts_add_up_in_the_results(tiny_bundle, tmp_path):
    from optimizer.scenario import run_scenario

    result = run_scenario(_scenario(tiny_bundle, tmp_path))
    cells = result.cells
    ok = np.isfinite(cells["nearest_full_minutes"])
    summed = (
        cells["full_access_minutes"] + cells["full_terminal_minutes"] + cells["full_drive_minutes"]
    )
    np.testing.assert_allclose(summed[ok], cells["nearest_full_minutes"][ok])
    assert (cells.loc[ok, "full_terminal_minutes"] > 0).all()
    parts = result.summary["travel_times"]["trip_to_full_point_minutes"]
    assert set(parts) == {"access", "terminal", "drive"}
    assert parts["drive"] > 0 and parts["terminal"] > 0


def test_cli_car_options_override_the_scenario(tiny_bundle, tmp_path):
    from typer.testing import CliRunner

    from optimizer.cli import app

    path = _scenario(tiny_bundle, tmp_path)
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--parking-search-min", "7", "--walk-m", "0"]
    result = CliRunner().invoke(app, [*args, "--snap-threshold-m", "5000"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "tiny-minimal" / "summary.json").read_text(encoding="utf-8"))
    car = summary["travel_times"]["car_model"]
    assert car["parking_search_min"] == {"centre": 7.0, "dense": 7.0, "other": 7.0}
    assert car["walk_to_car_m"]["other"] == 0
    assert summary["travel_times"]["snap_threshold_m"] == 5000
    # terminal time = 7 min parking + no walking, for every reachable cell
    parts = summary["travel_times"]["trip_to_full_point_minutes"]
    assert parts["terminal"] == pytest.approx(7.0, abs=0.01)
    bad = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--speed-factor", "-1"])
    assert bad.exit_code == 2 and "speed_factors" in bad.output


def test_components_of_chosen_pairs_equal_the_dense_split(tiny_bundle, tmp_path):
    problem = prepare(load_scenario(_scenario(tiny_bundle, tmp_path)))
    matrix = problem.travel_times
    dense = matrix.components()
    rng = np.random.default_rng(3)
    cols = rng.integers(-1, matrix.shape[1], size=matrix.shape[0])
    picked = matrix.components(cols)
    rows = np.flatnonzero(cols >= 0)
    for part in ("access", "terminal", "network", "total"):
        np.testing.assert_allclose(picked[part][rows], dense[part][rows, cols[rows]])
    assert np.isinf(picked["total"][cols < 0]).all()

"""Estimates checked against a tiny region worked out on paper.

The region (one-way minutes and km, cells x sites A, B, C):

    cell  pop   A: min/km   B: min/km   C: min/km
    0     200   10 / 8      40 / 30     inf
    1     100   30 / 25     20 / 15     50 / 40
    2      50   inf         70 / 60     15 / 12

One agency, 1 visit per resident per year, remote share 0.4, so
in-person-only visits w_f = 0.6 x pop = [120, 60, 30] and
remote-eligible visits w_r = 0.4 x pop = [80, 40, 20].

Scenario: A is a full point, C a remote point, B unused.
Travel: round trip, car 0.8 / bus 0.2, 1.25 persons per car, 0.15 kg CO2 per
car-km, 0.05 kg per bus passenger-km, 12 €/h, 100 €/t; a full point costs
1000 €/a and a remote point 100 €/a.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from optimizer.errors import DataError
from optimizer.estimates import (
    TravelParameters,
    VisitWeights,
    access_stats,
    assign_cells,
    compare_estimates,
    cost_per_visit,
    estimate_network,
    visit_weights,
    weighted_percentile,
)

INF = math.inf
POP = np.array([200.0, 100.0, 50.0])
MINUTES = np.array([[10.0, 40.0, INF], [30.0, 20.0, 50.0], [INF, 70.0, 15.0]])
KM = np.array([[8.0, 30.0, INF], [25.0, 15.0, 40.0], [INF, 60.0, 12.0]])
IDS = ["a", "b", "c"]
NAMES = ["A", "B", "C"]
TRAVEL = TravelParameters(
    car_kg_co2_per_vehicle_km=0.15,
    bus_kg_co2_per_passenger_km=0.05,
    value_of_time_eur_per_hour=12.0,
    co2_price_eur_per_tonne=100.0,
    car_share=0.8,
    bus_share=0.2,
    car_occupancy=1.25,
    round_trip=True,
)


def agency(rate: float, share: float, ages: tuple[float, float, float] | None = None):
    rates = None
    if ages is not None:
        rates = SimpleNamespace(age_0_14=ages[0], age_15_64=ages[1], age_65_plus=ages[2])
    return SimpleNamespace(visits_per_resident=rate, remote_share=share, age_rates=rates)


@pytest.fixture
def visits() -> VisitWeights:
    return visit_weights(POP, {"all": agency(1.0, 0.4)})


def one_full_one_remote(visits: VisitWeights, **options):
    """The estimate with A as the full point and C as the remote point."""
    options = {"full": [0], "remote": [2], "travel": TRAVEL, **options}
    return estimate_network(POP, visits, MINUTES, KM, **options)


@pytest.fixture
def scenario(visits):
    return one_full_one_remote(
        visits, full_point_cost=1000.0, remote_point_cost=100.0, site_ids=IDS, site_names=NAMES
    )


def test_visit_weights_split_by_remote_share(visits):
    np.testing.assert_allclose(visits.in_person_only, [120, 60, 30])
    np.testing.assert_allclose(visits.remote_eligible, [80, 40, 20])
    assert visits.per_agency == {"all": pytest.approx(350.0)}


def test_visit_weights_use_age_rates_where_ages_are_known():
    # Cell 0 has ages 20/60/20: agency "a" gives 20x0.1 + 60x0.5 + 20x1.0 = 52 visits;
    # cell 1's ages are suppressed (NaN), so it uses 0.5 x 20 residents = 10 visits.
    # Remote share 0.25: in-person [39, 7.5], remote [13, 2.5].
    # Agency "b" (no age rates): 0.2 x [100, 20] = [20, 4], all remote-eligible.
    ages = np.array([[20.0, 60.0, 20.0], [np.nan, np.nan, np.nan]])
    w = visit_weights(
        [100.0, 20.0],
        {"a": agency(0.5, 0.25, (0.1, 0.5, 1.0)), "b": agency(0.2, 1.0)},
        ages=ages,
    )
    np.testing.assert_allclose(w.in_person_only, [39.0, 7.5])
    np.testing.assert_allclose(w.remote_eligible, [33.0, 6.5])
    assert w.per_agency == {"a": pytest.approx(62.0), "b": pytest.approx(24.0)}


def test_visit_weights_reject_negative_population():
    with pytest.raises(DataError, match="non-negative"):
        visit_weights([1.0, -2.0], {"a": agency(1.0, 0.0)})


def test_weighted_percentile_inverted_cdf():
    # sorted values 1 (w1), 3 (w2), 5 (w1); cumulative 1, 3, 4 of 4.
    assert weighted_percentile([5, 1, 3], [1, 1, 2], 25) == 1  # 1 >= 0.25 x 4
    assert weighted_percentile([5, 1, 3], [1, 1, 2], 50) == 3  # 3 >= 2
    assert weighted_percentile([5, 1, 3], [1, 1, 2], 75) == 3  # 3 >= 3
    assert weighted_percentile([5, 1, 3], [1, 1, 2], 100) == 5
    assert weighted_percentile([0, 7], [0, 1], 0) == 7  # zero weights are ignored
    assert math.isnan(weighted_percentile([1.0], [0.0], 50))


def test_assignment_nearest_by_tier():
    a = assign_cells(MINUTES, KM, full=[0], remote=[2])
    # in-person: cells 0, 1 -> A; cell 2 cannot reach A.
    np.testing.assert_array_equal(a.full_site, [0, 0, -1])
    np.testing.assert_allclose(a.full_km, [8, 25, INF])
    # remote-eligible: cell 0 -> A (10 < inf), cell 1 -> A (30 < 50), cell 2 -> C (15).
    np.testing.assert_array_equal(a.any_site, [0, 0, 2])
    np.testing.assert_allclose(a.any_minutes, [10, 30, 15])


def test_access_to_full_points(scenario):
    s = scenario.to_full
    # reachable: 200 residents at 10 min, 100 at 30 min; 50 unreachable.
    assert s.residents == 350
    assert s.unreachable_residents == 50
    assert s.mean_minutes == pytest.approx((200 * 10 + 100 * 30) / 300)  # 16.667
    assert s.p50_minutes == 10  # cumulative 200 >= 150
    assert s.p90_minutes == 30  # cumulative 300 >= 270
    assert s.p99_minutes == 30
    assert s.share_within_30 == pytest.approx(300 / 350)
    assert s.share_within_90 == pytest.approx(300 / 350)  # unreachable never within


def test_access_to_any_point(scenario):
    s = scenario.to_any
    # times 10 (200), 30 (100), 15 (50): mean = (2000 + 3000 + 750) / 350.
    assert s.unreachable_residents == 0
    assert s.mean_minutes == pytest.approx(5750 / 350)  # 16.4286
    assert s.p50_minutes == 10  # cumulative 200 of 350 >= 175
    assert s.p90_minutes == 30  # sorted 10, 15, 30: cumulative 200, 250, 350 >= 315
    assert s.share_within_30 == pytest.approx(1.0)


def test_travel_volume_and_emissions(scenario):
    t = scenario.travel
    # one-way person-km: in-person 120x8 + 60x25 = 2460 (cell 2 unserved),
    # remote 80x8 + 40x25 + 20x12 = 1880; total 4340, round trip 8680.
    assert t.person_km == pytest.approx(8680)
    assert t.person_km_car == pytest.approx(0.8 * 8680)  # 6944
    assert t.person_km_bus == pytest.approx(0.2 * 8680)  # 1736
    assert t.vehicle_km == pytest.approx(6944 / 1.25)  # 5555.2
    # minutes: 120x10 + 60x30 + 80x10 + 40x30 + 20x15 = 5300, x2 = 10600 min.
    assert t.person_hours == pytest.approx(10600 / 60)  # 176.667
    assert t.t_co2_car == pytest.approx(5555.2 * 0.15 / 1000)  # 0.83328
    assert t.t_co2_bus == pytest.approx(1736 * 0.05 / 1000)  # 0.0868
    assert t.t_co2 == pytest.approx(0.92008)
    assert scenario.unserved_visits == pytest.approx(30)  # cell 2's in-person visits
    assert scenario.visits_per_year == pytest.approx(350)


def test_annual_costs(scenario):
    c = scenario.costs
    assert c.sites_eur == pytest.approx(1100)  # 1 x 1000 + 1 x 100
    assert c.travel_time_eur == pytest.approx(10600 / 60 * 12)  # 2120
    assert c.co2_eur == pytest.approx(92.008)  # 0.92008 t x 100
    assert c.total_eur == pytest.approx(3312.008)


def test_site_loads(scenario):
    a, c = scenario.sites
    assert (a.site_id, a.name, a.tier) == ("a", "A", "full")
    assert a.visits_in_person_only == pytest.approx(180)  # 120 + 60
    assert a.visits_remote_eligible == pytest.approx(120)  # 80 + 40
    assert a.visits == pytest.approx(300)
    assert a.residents_served == pytest.approx(300)  # cells 0 and 1
    # (120x10 + 60x30 + 80x10 + 40x30) / 300 = 5000 / 300
    assert a.mean_minutes == pytest.approx(5000 / 300)
    assert (c.tier, c.visits, c.residents_served, c.mean_minutes) == ("remote", 20, 50, 15)


def test_one_way_trips_halve_km_and_time(visits):
    one_way = TravelParameters(**{**TRAVEL.__dict__, "round_trip": False})
    est = one_full_one_remote(visits, travel=one_way)
    assert est.travel.person_km == pytest.approx(4340)
    assert est.travel.person_hours == pytest.approx(5300 / 60)
    assert est.costs.sites_eur == 0


def test_model_assignment_overrides_nearest(visits):
    # The model sends cell 1's remote-eligible visits to C (40 km) instead of A (25 km):
    # remote person-km become 80x8 + 40x40 + 20x12 = 2480; with in-person 2460, x2 = 9880.
    est = one_full_one_remote(visits, assign_any=[0, 2, 2])
    assert est.travel.person_km == pytest.approx(9880)
    assert est.to_any.mean_minutes == pytest.approx(5750 / 350)  # access stays "nearest"


def test_assignment_to_a_closed_site_is_rejected():
    with pytest.raises(DataError, match="not open"):
        assign_cells(MINUTES, KM, full=[0], remote=[2], assign_full=[0, 1, -1])


def test_cost_per_visit():
    cost = cost_per_visit(MINUTES, KM, TRAVEL)
    # kg CO2 per person-km = 0.8 x 0.15 / 1.25 + 0.2 x 0.05 = 0.106 -> 0.0106 €/km at 100 €/t;
    # cell 1 -> B: 2 x (20/60 x 12 + 15 x 0.0106) = 2 x 4.159 = 8.318 €.
    assert cost[1, 1] == pytest.approx(8.318)
    assert math.isinf(cost[0, 2])


def test_difference_scenario_minus_baseline(visits, scenario):
    # Baseline: A and B full, no remote points. Every visit goes to its nearest full point:
    # cell 0 -> A (10 min, 8 km), cell 1 -> B (20, 15), cell 2 -> B (70, 60).
    # person-km = 2 x (200x8 + 100x15 + 50x60) = 12200; minutes 2 x 7500 = 15000 -> 250 h.
    # CO2: car 9760 pkm / 1.25 = 7808 vkm x 0.15 = 1171.2 kg, bus 2440 x 0.05 = 122 kg.
    baseline = estimate_network(
        POP, visits, MINUTES, KM, full=[0, 1], travel=TRAVEL, full_point_cost=1000.0
    )
    assert baseline.travel.person_km == pytest.approx(12200)
    assert baseline.travel.t_co2 == pytest.approx(1.2932)
    assert baseline.costs.total_eur == pytest.approx(2000 + 3000 + 129.32)
    diff = compare_estimates(scenario, baseline)
    assert (diff.n_full, diff.n_remote) == (-1, 1)
    assert diff.travel.person_km == pytest.approx(8680 - 12200)
    assert diff.to_any.mean_minutes == pytest.approx(-5.0)  # 16.4286 - 7500/350
    assert diff.unserved_visits == pytest.approx(30)
    assert diff.costs.total_eur == pytest.approx(3312.008 - 5129.32)


def test_to_dict_is_json_ready(scenario):
    data = scenario.to_dict()
    text = json.dumps(data, allow_nan=False)  # NaN/inf would raise
    assert json.loads(text)["sites"][0]["site_id"] == "a"
    assert data["to_full"]["unreachable_residents"] == 50


def test_access_stats_all_unreachable_gives_none_in_json():
    s = access_stats([INF, INF], [1.0, 2.0])
    assert s.unreachable_residents == 3
    assert s.to_dict()["mean_minutes"] is None
    assert s.share_within_60 == 0


def test_bad_matrices_are_rejected(visits):
    with pytest.raises(DataError, match="NaN"):
        estimate_network(
            POP, visits, np.where(MINUTES == 10, np.nan, MINUTES), KM, full=[0], travel=TRAVEL
        )
    with pytest.raises(DataError, match="both full and remote"):
        assign_cells(MINUTES, KM, full=[0], remote=[0])
    with pytest.raises(DataError, match=r"must be 1"):
        TravelParameters(0.1, 0.1, 1.0, 1.0, car_share=0.7, bus_share=0.2)

"""The synthetic generator and the embedded demo region against real data."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree

from optimizer import finland
from optimizer.errors import DataError
from optimizer.sources.synthetic import generate_region, iter_reference_pairs, load_facts

REPO = Path(__file__).resolve().parents[1]
FACTS = REPO / "data" / "facts" / "pohjois-karjala.toml"


@pytest.fixture(scope="module")
def facts():
    return load_facts(FACTS)


def test_facts_table_matches_real_populations_and_centres(facts):
    codes = finland.municipalities_of_region("12")
    assert {m.code for m in facts.municipalities} == set(codes)
    populations = finland.municipality_populations(2022, codes=codes)
    names = finland.municipality_key().set_index("kunta")["municipality_name_fi"]
    centres = finland.central_localities(codes).to_crs(4326)
    for m in facts.municipalities:
        assert m.population == populations[m.code], m.name
        assert m.name == names[m.code]
        assert m.lon == pytest.approx(centres.geometry[m.code].x, abs=1e-6)
        assert m.lat == pytest.approx(centres.geometry[m.code].y, abs=1e-6)


@pytest.mark.parametrize("seed", [1, 2])
def test_grid_totals_equal_facts_exactly(tiny_facts, seed):
    gen = generate_region(tiny_facts, seed=seed)
    totals = gen.population.groupby("municipality")["population"].sum()
    for m in tiny_facts.municipalities:
        assert totals[m.code] == m.population
    assert (gen.population["population"] > 0).all()
    # cells are whole-km squares aligned like Statistics Finland's grid
    b = gen.population.geometry.bounds
    assert np.allclose(b.minx % 1000, 0) and np.allclose(b.maxy - b.miny, 1000)
    # ages are suppressed below 10 residents, and add up where given
    small = gen.population["population"] < 10
    assert gen.population.loc[small, "age_0_14"].isna().all()
    big = gen.population[~small]
    assert np.allclose(big[["age_0_14", "age_15_64", "age_65_plus"]].sum(axis=1), big.population)


def test_generation_is_reproducible(tiny_facts):
    a = generate_region(tiny_facts, seed=3)
    b = generate_region(tiny_facts, seed=3)
    c = generate_region(tiny_facts, seed=4)
    pd.testing.assert_frame_equal(
        a.population.drop(columns="geometry"), b.population.drop(columns="geometry")
    )
    assert not a.population["population"].equals(c.population["population"])
    assert nx.utils.graphs_equal(a.roads, b.roads)


def test_generated_roads_are_strongly_connected(tiny_facts):
    g = generate_region(tiny_facts).roads
    assert nx.is_strongly_connected(g)
    for _, _, d in g.edges(data=True):
        assert d["travel_time"] > 0 and d["length"] > 0
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))


def test_demo_population_lies_in_real_municipal_boundaries(demo_region):
    real = finland.municipality_boundaries(finland.municipalities_of_region("12"))
    cells = demo_region.population
    pts = gpd.GeoDataFrame(
        cells[["population", "municipality"]], geometry=cells.geometry.centroid, crs=cells.crs
    )
    joined = gpd.sjoin(pts, real[["kunta", "geometry"]], how="left", predicate="within")
    inside = joined["kunta"] == joined["municipality"]
    share = (joined["population"] * inside).groupby(joined["municipality"]).sum() / (
        joined.groupby("municipality")["population"].sum()
    )
    assert set(share.index) == set(real["kunta"])
    # cells are placed inside the real boundaries: every resident is in their municipality
    assert (share == 1.0).all(), share[share < 1.0].to_dict()
    outline = demo_region.boundary.geometry.union_all()
    assert outline.equals_exact(real.geometry.union_all(), tolerance=1.0)
    assert not demo_region.meta.synthetic["boundary"]


def test_demo_population_equals_real_2022_totals(demo_region):
    real = finland.municipality_populations(2022, codes=finland.municipalities_of_region("12"))
    got = demo_region.population.groupby("municipality")["population"].sum()
    pd.testing.assert_series_equal(
        got.sort_index(), real.sort_index().astype(float), check_names=False
    )


def test_demo_driving_times_within_25_percent_of_real(demo_region, facts):
    g = demo_region.roads
    nodes = np.array(list(g.nodes))
    xy = np.array([(g.nodes[n]["x"], g.nodes[n]["y"]) for n in nodes])
    tree = cKDTree(xy)
    sites = demo_region.sites.set_index("name")

    def node_of(name: str):
        p = sites.at[name, "geometry"]
        return nodes[tree.query([p.x, p.y])[1]]

    pairs = list(iter_reference_pairs(facts))
    assert {(a, b) for a, b, _ in pairs} == {
        ("Joensuu", "Lieksa"),
        ("Joensuu", "Kitee"),
        ("Joensuu", "Nurmes"),
    }
    for a, b, real_min in pairs:
        got = nx.shortest_path_length(g, node_of(a), node_of(b), weight="travel_time") / 60
        assert abs(got - real_min) <= 0.25 * real_min, (a, b, got, real_min)


def test_facts_errors_name_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    text = (REPO / "tests" / "data" / "facts_tiny.toml").read_text()
    bad.write_text(text.replace('municipality = "002"', 'municipality = "777"'))
    with pytest.raises(DataError, match="777"):
        load_facts(bad)
    bad.write_text(text.replace("centre_share = 0.7", "centre_share = 1.4"))
    with pytest.raises(DataError, match=r"001.*sum"):
        load_facts(bad)
    bad.write_text(text.replace('via = ["Beta", "Gamma"]', 'via = ["Beta", "Delta"]'))
    with pytest.raises(DataError, match="Delta"):
        load_facts(bad)


def test_facts_from_finland_uses_the_packaged_tables():
    from optimizer.sources.synthetic import facts_from_finland

    facts = facts_from_finland("Kainuu", year=2022, seed=18)
    codes = finland.municipalities_of_region("18")
    assert (facts.slug, facts.code, facts.name) == ("kainuu", "18", "Kainuu")
    assert [m.code for m in facts.municipalities] == list(codes)
    assert sum(m.population for m in facts.municipalities) == int(
        finland.municipality_populations(2022, codes=codes).sum()
    )
    # every centre is the NLS central locality: Kajaani (205) at 27.73 E, 64.23 N
    kajaani = next(m for m in facts.municipalities if m.code == "205")
    assert (kajaani.lon, kajaani.lat) == pytest.approx((27.73, 64.23), abs=0.02)

"""Region bundles: loading, lookup, validation errors and atomic writing."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point

from optimizer import network
from optimizer.errors import (
    BundleNotFoundError,
    CRSError,
    DataError,
    NetworkError,
    OutputError,
    UnknownRegionError,
)
from optimizer.region import (
    bundle_from_files,
    list_regions,
    load_region,
    save_region,
)
from optimizer.settings import get_settings


def test_demo_loads_by_slug_name_code_and_path(demo_region):
    assert demo_region.slug == "pohjois-karjala"
    assert demo_region.code == "12"
    s = demo_region.summary()
    assert s["population"] == 162_540  # Sotkanet 2022 sum of the 13 municipalities
    assert s["municipalities"] == 13
    assert s["sites"] >= 13 and s["required_sites"] == 1
    assert "population" in s["synthetic_layers"] and "roads" in s["synthetic_layers"]
    required = demo_region.sites[demo_region.sites["required"]]
    assert list(required["name"]) == ["Joensuu"]
    for key in ("Pohjois-Karjala", "pohjois karjala", "12", str(demo_region.path)):
        assert load_region(key).summary() == s


def test_list_regions_has_demo_and_18_mainland(shared_data):
    import pandas as pd

    infos = list_regions()
    demo = [i for i in infos if i.slug == "pohjois-karjala"]
    assert len(demo) == 1 and demo[0].status == "bundled" and demo[0].synthetic
    key = pd.read_csv(shared_data / "finland" / "municipality_key_2023.csv")
    mainland = key.loc[key["maakunta_code"] != 21, ["maakunta_code", "maakunta_name_fi"]]
    real = {(f"{c:02d}", n) for c, n in mainland.drop_duplicates().itertuples(index=False)}
    assert len(real) == 18
    assert {(i.code, i.name) for i in infos} == real


def test_unknown_region_suggests_closest_names():
    with pytest.raises(UnknownRegionError, match="pohjois-karjala"):
        load_region("pohjois-karjla")
    with pytest.raises(UnknownRegionError, match="unknown region 'Atlantis'"):
        load_region("Atlantis")


def test_known_but_absent_region_points_to_fetch(tmp_path):
    settings = get_settings(cache_dir=tmp_path / "cache")
    with pytest.raises(BundleNotFoundError, match="optimizer fetch lappi"):
        load_region("Lappi", settings=settings)


def test_roundtrip_preserves_layers(tiny_bundle):
    region = load_region(tiny_bundle)
    assert region.name == "Tiny" and region.meta.synthetic["population"]
    assert region.population.index.name == "cell_id"
    assert region.population["population"].sum() == 6200
    assert region.sites.loc["001-alpha", "required"]
    assert nx.is_strongly_connected(region.roads)
    copy = save_region(region, tiny_bundle.parent / "copy")
    again = load_region(copy)
    assert again.summary()["population"] == region.summary()["population"]
    assert again.roads.number_of_edges() == region.roads.number_of_edges()


def test_missing_file_names_it(tiny_bundle):
    (tiny_bundle / "sites.gpkg").unlink()
    with pytest.raises(BundleNotFoundError, match=r"sites\.gpkg"):
        load_region(tiny_bundle)


def _rewrite_population(bundle: Path, fn) -> None:
    grid = gpd.read_file(bundle / "population.gpkg").set_index("cell_id")
    fn(grid).to_file(bundle / "population.gpkg", layer="population", index=True)


def test_grid_in_wgs84_is_rejected(tiny_bundle):
    _rewrite_population(tiny_bundle, lambda g: g.to_crs(4326))
    with pytest.raises(CRSError, match=r"population\.gpkg.*4326"):
        load_region(tiny_bundle)


@pytest.mark.parametrize("value", [-5.0, np.nan])
def test_negative_or_nan_population_names_cells(tiny_bundle, value):
    def poison(g):
        g = g.copy()
        g.iloc[3, g.columns.get_loc("population")] = value
        return g

    bad_cell = gpd.read_file(tiny_bundle / "population.gpkg")["cell_id"].iloc[3]
    _rewrite_population(tiny_bundle, poison)
    with pytest.raises(DataError, match=bad_cell) as info:
        load_region(tiny_bundle)
    assert "population.gpkg" in str(info.value)


def test_roads_without_travel_time_are_rejected(tiny_bundle):
    g = network.network_from_gpkg(tiny_bundle / "roads.gpkg")
    for _, _, d in g.edges(data=True):
        d.pop("travel_time")
    network.network_to_gpkg(g, tiny_bundle / "roads.gpkg")
    with pytest.raises(NetworkError, match=r"roads\.gpkg.*travel_time"):
        load_region(tiny_bundle)


def test_sites_outside_region_are_named(tiny_bundle):
    sites = gpd.read_file(tiny_bundle / "sites.gpkg")
    sites.loc[len(sites)] = {
        "site_id": "far-away",
        "name": "Far away",
        "municipality": "001",
        "kind": "other",
        "required": False,
        "annual_cost": np.nan,
        "capacity": np.nan,
        "geometry": Point(100_000, 6_600_000),
    }
    sites.to_file(tiny_bundle / "sites.gpkg", layer="sites")
    with pytest.raises(DataError, match=r"sites\.gpkg.*far-away \(Far away\)"):
        load_region(tiny_bundle)


def test_save_is_atomic_and_refuses_to_overwrite(tiny_bundle, tmp_path, monkeypatch):
    region = load_region(tiny_bundle)
    with pytest.raises(OutputError, match="already exists"):
        save_region(region, tiny_bundle)

    def broken_writer(*args, **kwargs):  # fails mid-write, after the population layer
        raise OSError("disk full")

    monkeypatch.setattr(network, "network_to_gpkg", broken_writer)
    target = tmp_path / "broken"
    with pytest.raises(Exception):  # noqa: B017 - whatever the writer raises
        save_region(region, target)
    assert not target.exists()
    assert not any(p.name.startswith(".broken") for p in tmp_path.iterdir())


def test_bundle_from_files(tiny_bundle, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(tiny_bundle / "sites.gpkg", own / "sites.gpkg")
    grid = gpd.read_file(tiny_bundle / "population.gpkg")
    grid.rename(columns={"population": "asukkaat"}).to_file(own / "population.gpkg")
    network.network_to_graphml(
        network.network_from_gpkg(tiny_bundle / "roads.gpkg"), own / "roads.graphml"
    )
    out = bundle_from_files(
        out_dir=tmp_path / "mine",
        name="Mine",
        code="77",
        year=2023,
        population_file=own / "population.gpkg",
        roads_file=own / "roads.graphml",
        sites_file=own / "sites.gpkg",
        population_columns={"population": "asukkaat"},
    )
    region = load_region(out)
    assert region.name == "Mine" and region.code == "77"
    assert region.population["population"].sum() == 6200

"""Region bundles: loading, lookup, validation errors and atomic writing."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
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
    Region,
    list_regions,
    load_region,
    resolve_region,
    save_region,
)
from optimizer.settings import get_settings
from optimizer.sources import bundle_from_files, osm

REPO = Path(__file__).resolve().parents[1]


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


def test_list_regions_has_demo_and_18_mainland(tmp_path):
    import pandas as pd

    infos = list_regions(settings=get_settings(cache_dir=tmp_path / "cache"))
    demo = [i for i in infos if i.slug == "pohjois-karjala"]
    assert len(demo) == 1 and demo[0].status == "bundled" and demo[0].synthetic
    key = pd.read_csv(REPO / "data" / "finland" / "municipality_key_2023.csv")
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

    monkeypatch.setattr(network, "write_roads", broken_writer)
    target = tmp_path / "broken"
    with pytest.raises(OutputError, match=r"cannot write a bundle to .*broken: disk full"):
        save_region(region, target)
    assert not target.exists()
    assert not any(p.name.startswith(".broken") for p in tmp_path.iterdir())


def test_bundle_from_files(tiny_bundle, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(tiny_bundle / "sites.gpkg", own / "sites.gpkg")
    grid = gpd.read_file(tiny_bundle / "population.gpkg")
    grid.rename(columns={"population": "asukkaat"}).to_file(own / "population.gpkg")
    osm.network_to_graphml(
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


# ----------------------------------------------------------------------------- resolve_region


def test_resolve_region_by_path_toml_slug_name_and_code(tmp_path):
    settings = get_settings(cache_dir=tmp_path / "cache")
    demo = REPO / "data" / "regions" / "pohjois-karjala"
    for key in (
        demo,
        demo / "region.toml",
        "pohjois-karjala",
        "Pohjois-Karjala",
        "12",
        "North Karelia",
        "norra karelen",
    ):
        assert resolve_region(key, settings=settings) == demo, key


def test_resolve_region_searches_extra_bundles_first(tiny_bundle, tmp_path):
    settings = get_settings(cache_dir=tmp_path / "cache")
    root = tiny_bundle.parent
    assert resolve_region("tiny", bundles=[root], settings=settings) == tiny_bundle
    entries = list_regions(bundles=[root], settings=settings, search_defaults=False)
    assert [(e.slug, e.status) for e in entries] == [("tiny", "extra")]
    with pytest.raises(UnknownRegionError, match=r"did you mean 'tiny'"):
        resolve_region("tinny", bundles=[root], settings=settings, search_defaults=False)
    with pytest.raises(BundleNotFoundError, match="optimizer synth --regions 18"):
        resolve_region("Kainuu", bundles=[root], settings=settings, search_defaults=False)
    with pytest.raises(BundleNotFoundError, match="does not exist"):
        resolve_region("tiny", bundles=[tmp_path / "nowhere"], settings=settings)


def test_resolve_region_lists_an_invalid_bundle_with_its_problem(tiny_bundle, tmp_path):
    toml = tiny_bundle / "region.toml"
    toml.write_text('colour = "blue"\n' + toml.read_text())
    entries = list_regions(bundles=[tiny_bundle.parent], search_defaults=False)
    assert entries[0].status == "invalid"
    assert "unknown key(s) 'colour'" in (entries[0].problem or "")


# ----------------------------------------------------------------------------- bundle safety


def test_unknown_key_in_region_toml_is_rejected(tiny_bundle):
    toml = tiny_bundle / "region.toml"
    toml.write_text(toml.read_text().replace("year = ", "yaer = 2022\nyear = ", 1))
    with pytest.raises(
        DataError, match=r"region\.toml: unknown key\(s\) 'yaer' \(did you mean 'year'"
    ):
        load_region(tiny_bundle)


def test_unknown_synthetic_layer_is_rejected(tiny_bundle):
    toml = tiny_bundle / "region.toml"
    toml.write_text(toml.read_text().replace("[synthetic]\n", "[synthetic]\nroadz = true\n"))
    with pytest.raises(DataError, match=r"\[synthetic\]: unknown key\(s\) 'roadz'"):
        load_region(tiny_bundle)


def test_layer_named_in_region_toml_but_missing_is_an_error(tiny_bundle):
    toml = tiny_bundle / "region.toml"
    text = toml.read_text()
    assert "[layers]" in text
    toml.write_text(text + "\n" if "boundary =" in text else text)
    (tiny_bundle / "boundary.gpkg").unlink()
    with pytest.raises(BundleNotFoundError, match=r"boundary\.gpkg: the boundary layer"):
        load_region(tiny_bundle)


@pytest.mark.parametrize("value", ['"maybe"', '"2"', "2"])
def test_synthetic_flag_must_be_a_boolean(tiny_bundle, value):
    toml = tiny_bundle / "region.toml"
    text = toml.read_text()
    assert "population = true" in text
    toml.write_text(text.replace("population = true", f"population = {value}", 1))
    with pytest.raises(
        DataError, match=r"region\.toml \[synthetic\] population = .* is not a boolean"
    ):
        load_region(tiny_bundle)


@pytest.mark.parametrize(("spelling", "expected"), [('"yes"', True), ('"No"', False), ("0", False)])
def test_synthetic_flag_spellings(tiny_bundle, spelling, expected):
    toml = tiny_bundle / "region.toml"
    toml.write_text(toml.read_text().replace("population = true", f"population = {spelling}", 1))
    assert load_region(tiny_bundle).meta.synthetic["population"] is expected


def test_required_site_flag_names_file_field_and_rows(tiny_bundle):
    sites = gpd.read_file(tiny_bundle / "sites.gpkg")
    sites["required"] = sites["required"].map({True: "yes", False: "no"}).astype(object)
    sites.loc[1, "required"] = "perhaps"
    bad_id = sites.loc[1, "site_id"]
    sites.to_file(tiny_bundle / "sites.gpkg", layer="sites")
    with pytest.raises(DataError) as info:
        load_region(tiny_bundle)
    message = str(info.value)
    assert "sites.gpkg" in message and "field 'required'" in message
    assert "'perhaps'" in message and bad_id in message


def test_cell_with_more_residents_than_finland_is_rejected(tiny_bundle):
    bad_cell = gpd.read_file(tiny_bundle / "population.gpkg")["cell_id"].iloc[0]

    def inflate(g):
        g = g.copy()
        g.loc[bad_cell, "population"] = 6_000_000.0
        return g

    _rewrite_population(tiny_bundle, inflate)
    with pytest.raises(
        DataError, match=rf"population\.gpkg.*more residents than the whole of Finland.*{bad_cell}"
    ):
        load_region(tiny_bundle)


@pytest.mark.parametrize("slug", ["../evil", "a/b", ".hidden", ""])
def test_unsafe_bundle_slug_is_refused(tiny_bundle, tmp_path, slug):
    region = load_region(tiny_bundle)
    with pytest.raises(DataError, match=r"slug of region 'Tiny'.*cannot be used in a file name"):
        Region(
            name=region.name,
            slug=slug,
            code=region.code,
            year=region.year,
            crs=region.crs,
            population=region.population,
            roads=region.road_network,
            sites=region.sites,
            boundary=region.boundary,
            meta=region.meta,
        )
    toml = tiny_bundle / "region.toml"
    toml.write_text(toml.read_text().replace('slug = "tiny"', f"slug = {slug!r}"))
    with pytest.raises(DataError, match=r"region\.toml: slug|bundle slug in .*region\.toml"):
        load_region(tiny_bundle)


def test_roads_that_miss_residents_fail_validation_naming_the_area(tiny_bundle, tmp_path):
    grid = gpd.read_file(tiny_bundle / "population.gpkg").set_index("cell_id")
    far = grid.iloc[[0]].copy()
    far.index = ["1kmN7000E0900"]
    far["geometry"] = [shapely.box(900_000, 7_000_000, 901_000, 7_001_000)]
    far["population"] = 1000.0  # 1,000 of 7,200 residents: 13.9 % beyond the roads
    far["municipality"] = "001"
    far[["age_0_14", "age_15_64", "age_65_plus"]] = np.nan
    grid = gpd.GeoDataFrame(pd.concat([grid, far]), crs=grid.crs)
    grid.index.name = "cell_id"
    grid.to_file(tiny_bundle / "population.gpkg", layer="population", index=True)
    with pytest.raises(NetworkError) as info:
        load_region(tiny_bundle, settings=get_settings(cache_dir=tmp_path / "c"))
    message = str(info.value)
    assert "13.9% of the residents uncovered (allowed 5%)" in message
    assert "1kmN7000E0900" in message and "municipalities 001 (1,000)" in message
    loose = get_settings(cache_dir=tmp_path / "c", max_uncovered_share=0.2)
    assert load_region(tiny_bundle, settings=loose).population["population"].sum() == 7200


# ----------------------------------------------------------------------------- real own files


def test_bundle_from_real_hsy_files_through_the_cli(tmp_path):
    """HSY grid (EPSG:3879, 250 m, 99 = suppressed), OSM roads and WGS84 addresses."""
    from typer.testing import CliRunner

    from optimizer.cli import app

    data = REPO / "tests" / "data"
    raw = gpd.read_file(data / "hsy" / "Vaestotietoruudukko_2015_kamppi.shp")
    out = tmp_path / "kamppi"
    args = [
        "bundle",
        str(out),
        "--from-files",
        "--name",
        "Kamppi",
        "--code",
        "01",
        "--year",
        "2015",
        "--population",
        str(data / "hsy" / "Vaestotietoruudukko_2015_kamppi.shp"),
        "--population-column",
        "ASUKKAITA",
        "--id-column",
        "INDEX",
        "--hsy-ages",
        "--roads",
        str(data / "osm" / "kamppi_overpass_2024.osm.pbf"),
        "--sites",
        str(data / "hsy" / "addresses.gpkg"),
        "--site-name-column",
        "address",
        "--synthetic",
        "sites",
    ]
    runner = CliRunner()
    result = runner.invoke(app, args, env={"OPTIMIZER_CACHE_DIR": str(tmp_path / "cache")})
    assert result.exit_code == 0, result.output
    region = load_region(out, settings=get_settings(cache_dir=tmp_path / "cache"))
    assert region.population["population"].sum() == raw["ASUKKAITA"].sum() == 140_848
    assert region.crs == "EPSG:3067" and region.population.crs.to_epsg() == 3067
    assert region.meta.synthetic == {"population": False, "roads": False, "sites": True}
    assert len(region.sites) == 34
    ages = region.population[["age_0_14", "age_15_64", "age_65_plus"]]
    assert (ages.fillna(0).sum(axis=1) <= region.population["population"]).all()
    # a 250 m grid is reported as such
    info = runner.invoke(app, ["info", str(out)])
    assert info.exit_code == 0, info.output
    assert "grid cells (250 m)" in info.output and "140,848" in info.output
    # without the column mapping the error names the option, on one line
    bad = runner.invoke(app, args[:11] + args[15:] + ["--overwrite"])
    assert bad.exit_code == 2
    assert "--population-column" in bad.output

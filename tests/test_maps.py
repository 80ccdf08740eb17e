"""Folium maps: layers, escaping, reprojection, composition, assets and atomic saving."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from optimizer.errors import CRSError, DataError, OutputError
from optimizer.maps import map_html, map_solution, save_map

VENDOR = Path(__file__).resolve().parents[1] / "data" / "vendor"
EVIL = "<img src=x onerror=alert(1)>`${alert(2)}`"
X0, Y0 = 640_000, 6_950_000  # EPSG:3067, near Joensuu


def make_layers(nx: int = 6, ny: int = 5) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    boxes = [
        shapely.box(X0 + i * 1000, Y0 + j * 1000, X0 + (i + 1) * 1000, Y0 + (j + 1) * 1000)
        for i in range(nx)
        for j in range(ny)
    ]
    n = len(boxes)
    rng = np.random.default_rng(7)
    cells = gpd.GeoDataFrame(
        {
            "population": rng.integers(0, 300, n).astype(float),
            "minutes": rng.uniform(0, 80, n),
            "site_id": ["s1" if k < n // 2 else "s2" for k in range(n)],
        },
        geometry=boxes,
        crs="EPSG:3067",
        index=[f"c{k}" for k in range(n)],
    )
    cells.loc["c3", ["minutes", "site_id"]] = [np.inf, None]
    sites = gpd.GeoDataFrame(
        {
            "name": ["Joensuu", EVIL, "Unused & co"],
            "role": ["full", "remote", "unused"],
            "residents_served": [1000.0, 200.0, np.nan],
            "visits": [500.0, 100.0, np.nan],
            "mean_minutes": [12.3, 20.0, np.nan],
        },
        geometry=[
            shapely.Point(X0 + 1500, Y0 + 1500),
            shapely.Point(X0 + 4500, Y0 + 3500),
            shapely.Point(X0 + 3000, Y0 + 500),
        ],
        crs="EPSG:3067",
        index=["s1", "s2", "s3"],
    )
    return cells, sites


def test_map_has_layers_legend_title_and_scale():
    cells, sites = make_layers()
    m = map_solution(cells, sites, title="North <Karelia>", headline={"Mean travel": "12 min"})
    page = map_html(m)
    for layer in (
        "Population grid (travel time)",
        "Catchment boundaries",
        "Full service points",
        "Remote service points",
        "Unused candidate sites",
    ):
        assert layer in page
    assert "L.control.layers" in page
    assert "L.control.scale()" in page
    assert "snopt-legend" in page and "Travel time to the nearest service point" in page
    assert "North &lt;Karelia&gt;" in page and "North <Karelia>" not in page
    assert page.count("snopt-marker snopt-") == 3


def test_names_are_escaped_everywhere():
    cells, sites = make_layers()
    page = map_html(map_solution(cells, sites, links=True))
    assert "<img src=x" not in page
    assert "${alert(2)}" not in page
    prefixes = re.findall(r"(.{4})img src=x", page)
    assert prefixes and all(p.endswith("lt;") for p in prefixes)  # only escaped forms


def test_sites_are_reprojected_to_wgs84():
    cells, sites = make_layers()
    m = map_solution(cells, sites)
    markers = [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    locations = [
        tuple(child.location)
        for group in markers
        for child in group._children.values()
        if isinstance(child, folium.Marker)
    ]
    lon, lat = pyproj.Transformer.from_crs(3067, 4326, always_xy=True).transform(
        X0 + 1500, Y0 + 1500
    )
    assert any(abs(a - lat) < 1e-6 and abs(b - lon) < 1e-6 for a, b in locations)
    assert 62 < lat < 63.5 and 29 < lon < 31


def test_composes_on_an_existing_map_with_one_layer_control():
    cells, sites = make_layers()
    base = folium.Map(location=[62.6, 29.8], zoom_start=9, tiles=None)
    m = map_solution(cells, sites, m=base)
    m = map_solution(cells, sites, m=m, catchments=False)
    assert m is base
    assert sum(isinstance(c, folium.LayerControl) for c in m._children.values()) == 1
    assert m.control_scale


def test_bad_inputs_are_rejected():
    cells, sites = make_layers()
    with pytest.raises(CRSError, match="no CRS"):
        map_solution(cells.set_crs(None, allow_override=True), sites)
    with pytest.raises(DataError, match="population"):
        map_solution(cells.drop(columns="population"), sites)
    with pytest.raises(DataError, match="unknown role"):
        map_solution(cells, sites.assign(role=["full", "remote", "closed"]))
    with pytest.raises(DataError, match="Polygon"):
        map_solution(sites.assign(population=1.0, minutes=1.0), sites)
    with pytest.raises(DataError, match="assignment column"):
        map_solution(cells.drop(columns="site_id"), sites)
    map_solution(cells.drop(columns="site_id"), sites, catchments=False)  # fine without


def test_inline_assets_make_the_page_self_contained():
    cells, sites = make_layers()
    page = map_html(map_solution(cells, sites), assets="inline", asset_dir=VENDOR)
    tags = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert tags == []  # every script and stylesheet is inline
    assert "Leaflet 1.9.3" in page
    assert "sourceMappingURL" not in page
    assert "url(images/layers.png)" not in page and "data:image/png;base64," in page
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()


def test_local_assets_point_at_the_given_url():
    cells, sites = make_layers()
    page = map_html(map_solution(cells, sites), assets="local", asset_url="vendor/")
    urls = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert sorted(urls) == ["vendor/leaflet.css", "vendor/leaflet.js"]
    with pytest.raises(OutputError, match="asset_url"):
        map_html(map_solution(cells, sites), assets="local")


def test_missing_local_assets_name_the_files(tmp_path):
    cells, sites = make_layers()
    with pytest.raises(OutputError, match=r"leaflet\.css.*leaflet\.js|leaflet\.js"):
        map_html(map_solution(cells, sites), assets="inline", asset_dir=tmp_path)


def test_awesome_marker_maps_keep_their_assets(tmp_path):
    m = folium.Map(tiles=None)
    folium.Marker([62.6, 29.8], icon=folium.Icon(icon="info-sign")).add_to(m)
    with pytest.raises(OutputError, match="awesome-markers"):
        map_html(m, assets="inline", asset_dir=VENDOR)


def test_save_map_is_atomic_and_reports_unwritable_targets(tmp_path):
    cells, sites = make_layers()
    m = map_solution(cells, sites)
    target = save_map(m, tmp_path / "maps" / "demo.html", assets="inline", asset_dir=VENDOR)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["demo.html"]  # no temp files left
    assert target.stat().st_mode & 0o777 == 0o644
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder"):
        save_map(m, blocker / "demo.html")

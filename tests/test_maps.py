"""Maps: layers and legends, cell images, symbols, labels, panel, banners, safety, assets."""

from __future__ import annotations

import math
import re
from pathlib import Path

import folium
import jinja2
import numpy as np
import pyproj
import pytest
import shapely
from maptools import (
    PAYLOADS,
    POOR,
    Quality,
    blobs,
    decode_png,
    hex_rgb,
    make_layers,
    scenario_map,
)

from optimizer.errors import CRSError, DataError, OutputError
from optimizer.i18n import message
from optimizer.maps import map_html, map_solution, save_map
from optimizer.maps._layers import CHANGE_BREAKS, CHANGE_COLOURS, TIME_BREAKS, TIME_COLOURS
from optimizer.maps._page import json_for_html
from optimizer.maps._raster import classify, rasterize_cells

VENDOR = Path(__file__).resolve().parents[1] / "data" / "vendor"


def draw(**kwargs):
    layers = make_layers()
    m = scenario_map(layers, **{"title": "North Karelia", **kwargs})
    page = map_html(m)
    (data,) = blobs(page)
    return layers, m, page, data


# --------------------------------------------------------------------------------------
# Layers, legends and the cell images
# --------------------------------------------------------------------------------------


def test_every_layer_is_there_with_its_own_legend():
    _, _, _, data = draw()
    keys = [layer["key"] for layer in data["layers"]]
    assert keys == ["full", "any", "change_full", "change_any", "catchments"]
    names = [layer["name"] for layer in data["layers"]]
    assert names == [
        message("layer_full_minutes"),
        message("layer_any_minutes"),
        message("layer_change_full"),
        message("layer_change_any"),
        message("layer_catchments"),
    ]
    assert data["default"] == "full"
    by_key = {layer["key"]: layer for layer in data["layers"]}
    # travel time: seven classes plus "unreachable" (the last cell has no road access)
    items = by_key["full"]["legend"]["items"]
    assert [c for c, _ in items] == [*TIME_COLOURS, "#969696"]
    assert items[0][1] == "≤ 10" or "10" in items[0][1]
    assert items[-1][1] == message("class_unreachable")
    # change: diverging, with a middle class "about the same"
    change = by_key["change_full"]["legend"]
    assert [c for c, _ in change["items"]][: len(CHANGE_COLOURS)] == list(CHANGE_COLOURS)
    assert change["title"] == message("legend_change")
    # catchments: one item per serving site by name, the unassigned cells, the boundary
    labels = [label for _, label in by_key["catchments"]["legend"]["items"]]
    assert labels == [
        "Joensuu",
        "Kontiolahti",
        message("class_unassigned"),
        message("legend_boundary"),
    ]
    assert [o["key"] for o in data["overlays"]] == ["boundaries"]


def test_cell_images_colour_each_cell_by_its_class():
    layers, _, _, data = draw()
    cells = layers.cells
    raster = rasterize_cells(cells.geometry)
    by_key = {layer["key"]: layer for layer in data["layers"]}
    for key, values, breaks, colours in (
        ("full", cells["nearest_full_minutes"], TIME_BREAKS, TIME_COLOURS),
        ("any", cells["nearest_any_minutes"], TIME_BREAKS, TIME_COLOURS),
        ("change_any", cells["change_any_minutes"], CHANGE_BREAKS, CHANGE_COLOURS),
    ):
        image = decode_png(by_key[key]["image"])
        assert image.shape[:2] == raster.index.shape
        codes = classify(np.asarray(values, dtype=float), breaks)
        inside = raster.index >= 0
        assert (image[~inside][:, 3] == 0).all()  # transparent outside the cells
        checked = 0
        for k, value in enumerate(np.asarray(values, dtype=float)):
            if not math.isfinite(value):
                continue
            pixels = image[raster.index == k]
            assert len(pixels)
            expected = hex_rgb(colours[codes[k] - 1])
            assert {tuple(p[:3]) for p in pixels} == {expected}, (key, k, value)
            checked += 1
        assert checked == len(cells) - (1 if key != "change_any" else 0) or checked > 0


def test_raster_cells_match_point_in_polygon():
    layers = make_layers(7, 4)
    geoms = layers.cells.geometry.to_crs("EPSG:3857")
    raster = rasterize_cells(layers.cells.geometry, oversample=4, min_side=40)
    x0, y1 = raster.origin
    rows, cols = raster.index.shape
    inner = [g.boundary for g in geoms]
    tested = 0
    for r in range(rows):
        for c in range(cols):
            point = shapely.Point(x0 + (c + 0.5) * raster.pixel_m, y1 - (r + 0.5) * raster.pixel_m)
            near = min(g.distance(point) for g in inner)
            if near < 1e-6 * raster.pixel_m:
                continue  # a centre exactly on an edge may go either way
            expected = [k for k, g in enumerate(geoms) if g.contains(point)]
            assert raster.index[r, c] == (expected[0] if expected else -1)
            tested += 1
    assert tested == rows * cols
    (south, west), _ = raster.bounds
    lon, lat = pyproj.Transformer.from_crs(3067, 4326, always_xy=True).transform(640_000, 6_950_000)
    assert abs(west - lon) < 1e-3 and abs(south - lat) < 1e-2


# --------------------------------------------------------------------------------------
# Points
# --------------------------------------------------------------------------------------


def test_a_point_that_changes_tier_is_converted_not_kept():
    layers = make_layers()
    layers.sites.loc["s5", "baseline_role"] = "full"  # remote now, a joint point before
    layers.sites.loc["s1", "baseline_role"] = "remote"  # joint now, a remote point before
    (data,) = blobs(map_html(scenario_map(layers, title="North Karelia")))
    sites = {s["id"]: s for s in data["sites"]}
    for site, kind, was in (("s5", "remote", "full"), ("s1", "full", "remote")):
        assert sites[site]["kind"] == kind
        assert "snopt-converted" in sites[site]["cls"] and "snopt-kept" not in sites[site]["cls"]
        popup = dict(map(tuple, sites[site]["popup"]))
        assert popup[message("popup_status")] == message("status_converted")
        assert popup[message("popup_baseline_tier")] == message(f"tier_{was}")
    legend = [s["label"] for s in data["symbols"]]
    lower = {t: message(f"tier_{t}").lower() for t in ("full", "remote")}
    assert message("symbol_converted", tier=message("tier_remote"), was=lower["full"]) in legend
    assert message("symbol_converted", tier=message("tier_full"), was=lower["remote"]) in legend
    assert not any("kept" in label for label in legend)


def test_points_have_symbols_for_full_remote_kept_new_closed_and_unused():
    _, _, _, data = draw()
    sites = {s["id"]: s for s in data["sites"]}
    assert sites["s1"]["kind"] == "full" and "snopt-kept" in sites["s1"]["cls"]
    assert sites["s2"]["kind"] == "remote" and "snopt-new" in sites["s2"]["cls"]
    assert sites["s3"]["kind"] == "closed" and "snopt-was-full" in sites["s3"]["cls"]
    assert sites["s4"]["kind"] == "unused"
    assert sites["s5"]["kind"] == "remote" and "snopt-kept" in sites["s5"]["cls"]
    classes = [s["cls"] for s in data["sites"]]
    assert len(set(classes)) == 5  # five different symbols
    legend = [s["label"] for s in data["symbols"]]
    assert legend == [
        message("symbol_kept", "en", tier=message("tier_full")),
        message("symbol_kept", "en", tier=message("tier_remote")),
        message("symbol_new", "en", tier=message("tier_remote")),
        message("symbol_closed"),
        message("tier_unused"),
    ]
    # chosen sites carry a permanent name label; closed and unused ones do not
    assert {s["id"] for s in data["sites"] if s["label"]} == {"s1", "s2", "s5"}
    # popups: tier, status, municipality, load, residents served and mean time
    popup = dict(map(tuple, sites["s1"]["popup"]))
    assert popup[message("popup_tier")] == message("tier_full")
    assert popup[message("popup_visits")] == "500"
    assert popup[message("popup_residents_served")] == "1,000"
    assert popup[message("popup_mean_minutes")] == "12.3"
    assert popup[message("popup_municipality")] == "Joensuu"
    lon, lat = pyproj.Transformer.from_crs(3067, 4326, always_xy=True).transform(641_500, 6_951_500)
    assert abs(sites["s1"]["lat"] - lat) < 1e-5 and abs(sites["s1"]["lon"] - lon) < 1e-5
    assert [g["kind"] for g in data["groups"]] == ["unused", "closed", "remote", "full"]


def test_closed_without_baseline_column_is_still_closed():
    layers = make_layers()
    m = map_solution(layers.cells, layers.sites.drop(columns="baseline_role"), title="t")
    (data,) = blobs(map_html(m))
    kinds = {s["id"]: s["kind"] for s in data["sites"]}
    assert kinds == {"s1": "full", "s2": "remote", "s3": "closed", "s4": "unused", "s5": "remote"}


# --------------------------------------------------------------------------------------
# Panel and banners
# --------------------------------------------------------------------------------------


def test_headline_gives_full_and_any_access_beside_the_baseline():
    _, _, _, data = draw(description="Two joint points")
    panel = data["panel"]
    assert panel["title"] == "North Karelia" and panel["description"] == "Two joint points"
    assert panel["columns"] == [message("scenario"), message("baseline")]
    rows = [(r["label"], r["values"], r["heading"]) for r in panel["rows"]]
    labels = [r[0] for r in rows]
    full_at, any_at = labels.index(message("head_full")), labels.index(message("head_any"))
    assert rows[full_at][2] and rows[any_at][2]
    assert rows[full_at + 1] == (message("head_mean"), ["22.1", "8.9"], False)
    assert rows[full_at + 2] == (
        message("head_within", "en", minutes=30),
        ["71.2%", "99.0%"],
        False,
    )
    assert rows[full_at + 3] == (
        message("head_within", "en", minutes=60),
        ["95.3%", "100.0%"],
        False,
    )
    assert rows[any_at + 1] == (message("head_mean"), ["8.9", "8.9"], False)
    assert rows[0] == (message("head_points"), ["2 / 3", "5 / 0"], False)


def test_headline_in_finnish_uses_finnish_numbers():
    _, _, _, data = draw(lang="fi")
    rows = [(r["label"], r["values"]) for r in data["panel"]["rows"]]
    within = [v for label, v in rows if label == message("head_within", "fi", minutes=30)]
    assert within == [["71,2\u00a0%", "99,0\u00a0%"], ["98,1\u00a0%", "99,0\u00a0%"]]
    assert data["panel"]["columns"] == ["Tämä skenaario", "Lähtötilanne"]
    assert data["layers"][0]["name"] == message("layer_full_minutes", "fi")


def test_synthetic_banner_and_quality_banner_only_when_poor():
    _, _, _, plain = draw(quality=Quality())
    assert plain["banners"] == []
    _, _, _, data = draw(synthetic_layers=("population", "roads"), quality=POOR)
    kinds = [b["kind"] for b in data["banners"]]
    assert kinds == ["synthetic", "quality"]
    synthetic, quality = data["banners"]
    assert synthetic["title"] == message("synthetic_title")
    assert synthetic["lines"] == [
        "These layers of this region are generated, not measured: population grid and road network."
    ]
    assert quality["lines"][:3] == [
        "1,234 residents live farther than 2,000 m from the road network.",
        "56 residents cannot reach a service point by road.",
        "The road network covers 90.0% of the residents.",
    ]
    assert quality["lines"][3] == "Cells far from the roads: c1, c2"


def test_cell_details_and_boundary():
    layers, _, _, data = draw(boundary=make_layers().boundary)
    cells = data["cells"]
    assert cells["id"] == list(layers.cells.index)
    assert cells["t_full"][0] == round(layers.cells["nearest_full_minutes"].iloc[0], 1)
    assert cells["t_any"][-1] is None  # unreachable
    assert cells["munis"] == ["Joensuu"]
    assert data["boundary"]["name"] == message("layer_region")
    ring = data["boundary"]["geometry"]["coordinates"][0]
    assert len(ring) == 5 and 29 < ring[0][0] < 31 and 62 < ring[0][1] < 63.5


# --------------------------------------------------------------------------------------
# Safety: user strings stay text
# --------------------------------------------------------------------------------------


def evil_layers():
    layers = make_layers(names=PAYLOADS)
    cells, sites = layers.cells, layers.sites
    cells["municipality"] = [PAYLOADS[k % len(PAYLOADS)] for k in range(len(cells))]
    cells.index = [f"{PAYLOADS[k % len(PAYLOADS)]}#{k}" for k in range(len(cells))]
    sites["municipality"] = list(PAYLOADS)
    ids = {old: new for old, new in zip(sites.index, PAYLOADS, strict=True)}
    sites.index = list(PAYLOADS)
    cells["any_site_id"] = cells["any_site_id"].map(ids)
    cells["full_site_id"] = cells["full_site_id"].map(ids)
    return layers


def assert_inert(page: str) -> None:
    for payload in PAYLOADS:
        assert payload not in page
    for fragment in ("{{", "{%", "<script>alert", "<img", "</script><script>alert"):
        assert fragment not in page
    # the page's own scripts, and nothing else
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert all(
        s in ("<script>", '<script src="') or "src=" in s or "application/json" in s
        for s in scripts
    )


def test_user_strings_are_never_markup_or_template():
    layers = evil_layers()
    quality = Quality(is_poor=True, far_cells=PAYLOADS, unreachable_cells=PAYLOADS[:2])
    title = " / ".join(PAYLOADS)
    m = scenario_map(
        layers,
        title=title,
        description=PAYLOADS[1],
        synthetic_layers=PAYLOADS[:2],
        quality=quality,
        headline={PAYLOADS[0]: PAYLOADS[2]},
    )
    page = map_html(m)
    assert_inert(page)
    (data,) = blobs(page)
    # ... yet every string comes back literally from the data
    assert data["panel"]["title"] == title
    assert data["panel"]["description"] == PAYLOADS[1]
    assert [s["name"] for s in data["sites"]] == list(PAYLOADS)
    assert [s["id"] for s in data["sites"]] == list(PAYLOADS)
    assert data["cells"]["id"] == list(layers.cells.index)
    assert sorted(data["cells"]["munis"]) == sorted(PAYLOADS)
    assert {tuple(r)[1] for s in data["sites"] for r in s["popup"]} >= set(PAYLOADS)
    catch = next(layer for layer in data["layers"] if layer["key"] == "catchments")
    assert {label for _, label in catch["legend"]["items"]} >= set(PAYLOADS[:2])
    assert PAYLOADS[0] in data["banners"][0]["lines"][0]
    assert all(p in data["banners"][1]["lines"][3] for p in PAYLOADS)
    assert {"label": PAYLOADS[0], "values": [PAYLOADS[2]], "heading": False} in data["panel"][
        "rows"
    ]


def test_rendering_twice_is_safe():
    layers = evil_layers()
    m = map_solution(layers.cells, layers.sites, title=PAYLOADS[0], tiles=None)
    first = m.get_root().render()
    second = m.get_root().render()
    assert first == second
    assert_inert(second)
    # the page rendered once more as a Jinja2 template is unchanged: nothing in it is a tag
    again = jinja2.Template(second).render()
    assert again.rstrip("\n") == second.rstrip("\n")
    assert blobs(again)[0]["panel"]["title"] == PAYLOADS[0]


def test_json_for_html_escapes_delimiters_but_keeps_values():
    text = json_for_html({"a": "</script>{{x}}{%y%}${z}`'&", "b": [1.5, None]})
    for bad in ("<", ">", "{{", "{%", "${", "`", "'", "&"):
        assert bad not in text.replace('{"', "").replace("]}", "")
    import json

    assert json.loads(text) == {"a": "</script>{{x}}{%y%}${z}`'&", "b": [1.5, None]}
    with pytest.raises(OutputError, match="JSON"):
        json_for_html({"a": float("nan")})


# --------------------------------------------------------------------------------------
# Composition and bad inputs
# --------------------------------------------------------------------------------------


def test_two_solutions_share_one_page_and_one_script():
    layers = make_layers()
    base = folium.Map(location=[62.6, 29.8], zoom_start=9, tiles=None)
    m = map_solution(layers.cells, layers.sites, m=base, title="A")
    m = map_solution(layers.cells, layers.sites, m=m, title="B", catchments=False)
    assert m is base
    page = map_html(m)
    assert [d["title"] for d in blobs(page)] == ["A", "B"]
    assert page.count("window.snopt = ") == 1
    assert page.count(f"snopt.draw({m.get_name()}, ") == 2
    with pytest.raises(CRSError, match="EPSG3857"):
        map_solution(layers.cells, layers.sites, m=folium.Map(crs="EPSG4326", tiles=None))


def test_bad_inputs_are_rejected_with_the_rows_named():
    layers = make_layers()
    cells, sites = layers.cells, layers.sites
    with pytest.raises(CRSError, match="no CRS"):
        map_solution(cells.set_crs(None, allow_override=True), sites)
    with pytest.raises(DataError, match="population"):
        map_solution(cells.drop(columns="population"), sites)
    with pytest.raises(DataError, match=r"unknown role.*'gone'.*s2"):
        map_solution(cells, sites.assign(role=["full", "gone", "closed", "none", "remote"]))
    with pytest.raises(DataError, match="Polygon"):
        map_solution(sites.assign(population=1.0, nearest_any_minutes=1.0), sites)
    with pytest.raises(DataError, match=r"any_site_id.*nowhere.*c0"):
        map_solution(cells.assign(any_site_id="nowhere"), sites)
    bad = cells.astype({"nearest_full_minutes": object})
    bad.loc["c2", "nearest_full_minutes"] = "ten"
    with pytest.raises(DataError, match=r"nearest_full_minutes.*c2"):
        map_solution(bad, sites)
    with pytest.raises(DataError, match="lang"):
        map_solution(cells, sites, lang="de")
    # no catchments without any_site_id, but the map still draws
    (data,) = blobs(map_html(map_solution(cells.drop(columns="any_site_id"), sites)))
    assert "catchments" not in [layer["key"] for layer in data["layers"]]


# --------------------------------------------------------------------------------------
# Assets and saving (offline use)
# --------------------------------------------------------------------------------------


def test_inline_assets_make_the_page_self_contained():
    layers = make_layers()
    m = map_solution(layers.cells, layers.sites, tiles=None, title="t")
    page = map_html(m, assets="inline", asset_dir=VENDOR)
    tags = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert tags == []  # every script and stylesheet is inline
    assert "Leaflet 1.9.3" in page
    assert "sourceMappingURL" not in page
    assert "url(images/layers.png)" not in page and "data:image/png;base64," in page
    assert "jquery" not in page.lower() and "bootstrap" not in page.lower()


def test_local_assets_point_at_the_given_url():
    layers = make_layers()
    m = map_solution(layers.cells, layers.sites)
    page = map_html(m, assets="local", asset_url="vendor/")
    urls = re.findall(r'<(?:script|link)\b[^>]*(?:src|href)="([^"]+)"', page)
    assert sorted(urls) == ["vendor/leaflet.css", "vendor/leaflet.js"]
    with pytest.raises(OutputError, match="asset_url"):
        map_html(m, assets="local")


def test_missing_local_assets_name_the_files(tmp_path):
    layers = make_layers()
    with pytest.raises(OutputError, match=r"leaflet\.(css|js)"):
        map_html(map_solution(layers.cells, layers.sites), assets="inline", asset_dir=tmp_path)


def test_site_named_like_jquery_does_not_pull_in_jquery():
    layers = make_layers(names=("$(document)", "jQuery"))
    page = map_html(map_solution(layers.cells, layers.sites), assets="local", asset_url="v/")
    assert "jquery" not in re.sub(r'<script type="application/json".*?</script>', "", page).lower()


def test_save_map_is_atomic_and_reports_unwritable_targets(tmp_path):
    layers = make_layers()
    m = map_solution(layers.cells, layers.sites)
    target = save_map(m, tmp_path / "maps" / "demo.html", assets="inline", asset_dir=VENDOR)
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["demo.html"]  # no temp files left
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder"):
        save_map(m, blocker / "demo.html")

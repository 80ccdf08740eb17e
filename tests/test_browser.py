"""The HTML map in a real browser: headless Debian Chromium driven by Selenium.

The page's JavaScript and CSS come from the local copy in ``data/vendor``
(served on 127.0.0.1, or inlined), because CDNs cannot be reached here. Every
other host name resolves to nothing, so any request that leaves the machine
shows up as a console error. These tests fail, never skip, when the browser or
its driver is missing.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from optimizer.maps import map_solution, save_map

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
VENDOR = Path(__file__).resolve().parents[1] / "data" / "vendor"
TILE_HOST = "tile.openstreetmap.org"
EVIL = "<b>bold</b> & <script>window.hacked = 1</script>"
X0, Y0 = 640_000, 6_950_000

COUNT_JS = """
const map = window[arguments[0]];
if (typeof L === 'undefined' || !map) { return null; }
const out = {markers: 0, cells: 0, catchments: 0, roles: {}};
map.eachLayer(layer => {
  if (layer instanceof L.Marker) {
    out.markers += 1;
    const role = layer.options.icon.options.className.split('snopt-').pop();
    out.roles[role] = (out.roles[role] || 0) + 1;
  }
  const kind = layer.feature && layer.feature.properties.kind;
  if (kind === 'cell') { out.cells += 1; }
  if (kind === 'catchment') { out.catchments += 1; }
});
out.domMarkers = document.querySelectorAll('.leaflet-marker-icon.snopt-marker').length;
out.controls = document.querySelectorAll('.leaflet-control-layers').length;
out.scale = document.querySelectorAll('.leaflet-control-scale').length;
out.legend = document.querySelectorAll('.snopt-legend').length;
out.title = (document.querySelector('.snopt-title') || {}).innerText || '';
return out;
"""


def make_layers() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    boxes = [
        shapely.box(X0 + i * 1000, Y0 + j * 1000, X0 + (i + 1) * 1000, Y0 + (j + 1) * 1000)
        for i in range(8)
        for j in range(6)
    ]
    n = len(boxes)
    rng = np.random.default_rng(3)
    cells = gpd.GeoDataFrame(
        {
            "population": rng.integers(1, 400, n).astype(float),
            "minutes": rng.uniform(0, 95, n),
            "site_id": ["s1" if k < 20 else ("s2" if k < 36 else "s3") for k in range(n)],
        },
        geometry=boxes,
        crs="EPSG:3067",
        index=[f"cell-{k}" for k in range(n)],
    )
    cells.loc["cell-5", "minutes"] = np.inf
    points = [(1.5, 1.5), (4.5, 3.5), (7.5, 5.5), (2.5, 5.5), (6.5, 0.5)]
    sites = gpd.GeoDataFrame(
        {
            "name": ["Joensuu", EVIL, "Lieksa", "Unused A", "Unused B"],
            "role": ["full", "remote", "remote", "unused", "unused"],
            "residents_served": [5000.0, 800.0, 300.0, np.nan, np.nan],
            "visits": [2400.0, 310.0, 120.0, np.nan, np.nan],
            "mean_minutes": [14.2, 22.5, 31.0, np.nan, np.nan],
        },
        geometry=[shapely.Point(X0 + x * 1000, Y0 + y * 1000) for x, y in points],
        crs="EPSG:3067",
        index=["s1", "s2", "s3", "s4", "s5"],
    )
    return cells, sites


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[object]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.fail(
            f"the browser test needs Debian's chromium ({CHROMIUM}) and chromium-driver "
            f"({CHROMEDRIVER}); install them with `apt-get install chromium chromium-driver`"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    shutil.copytree(VENDOR, root / "vendor")
    (root / "favicon.ico").write_bytes(b"")  # the browser asks for one; a 404 would be logged

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def wait_for_map(browser, name: str) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 30).until(lambda d: d.execute_script(COUNT_JS, name))


def severe(browser, *, allow: str | None = None) -> list[str]:
    entries = browser.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e["level"] == "SEVERE" and not (allow and allow in e["message"])
    ]


def check_map(browser, name: str, cells: gpd.GeoDataFrame, sites: gpd.GeoDataFrame) -> None:
    counts = wait_for_map(browser, name)
    assert counts["markers"] == len(sites) == counts["domMarkers"]
    assert counts["roles"] == {"full": 1, "remote": 2, "unused": 2}
    assert counts["cells"] == len(cells)
    assert counts["catchments"] == cells["site_id"].nunique()
    assert counts["controls"] == 1 and counts["scale"] == 1 and counts["legend"] == 1
    assert "Mean travel time" in counts["title"]


def test_map_served_from_local_assets(driver, server, tmp_path):
    base, root = server
    cells, sites = make_layers()
    m = map_solution(cells, sites, title="Demo <network>", headline={"Mean travel time": "14 min"})
    save_map(m, root / "map.html", assets="local", asset_url=f"{base}/vendor/")

    driver.get(f"{base}/map.html")
    check_map(driver, m.get_name(), cells, sites)

    # open the popup of the site with an HTML-laden name: it shows as text, runs nothing
    driver.execute_script(
        "const map = window[arguments[0]];"
        "map.eachLayer(l => { if (l instanceof L.Marker && l.getTooltip() &&"
        " l.getTooltip().getContent().includes('bold')) { l.openPopup(); } });",
        m.get_name(),
    )
    popup = driver.execute_script(
        "const p = document.querySelector('.leaflet-popup-content');"
        "return p ? {text: p.innerText, bold: p.querySelectorAll('b b, script').length} : null;"
    )
    assert popup is not None and "<b>bold</b> & <script>" in popup["text"]
    assert popup["bold"] == 0
    assert driver.execute_script("return window.hacked === undefined")
    assert "Demo <network>" in driver.execute_script(
        "return document.querySelector('.snopt-title').innerText"
    )

    shot = tmp_path / "map.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    # basemap tiles cannot load here; anything else failing is a bug
    assert severe(driver, allow=TILE_HOST) == []


def test_inline_map_opens_offline_from_a_file(driver, tmp_path):
    cells, sites = make_layers()
    m = map_solution(cells, sites, tiles=None, headline={"Mean travel time": "14 min"})
    path = save_map(m, tmp_path / "offline.html", assets="inline", asset_dir=VENDOR)

    driver.get(path.as_uri())
    check_map(driver, m.get_name(), cells, sites)
    driver.save_screenshot(str(tmp_path / "offline.png"))
    assert severe(driver) == []  # no request left the file

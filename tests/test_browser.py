"""The HTML map and report in a real browser: headless Debian Chromium driven by Selenium.

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

import pytest
from maptools import BASELINE, PAYLOADS, POOR, SCENARIO, make_layers, scenario_map

from optimizer.i18n import message
from optimizer.maps import save_map

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
VENDOR = Path(__file__).resolve().parents[1] / "data" / "vendor"
TILE_HOST = "tile.openstreetmap.org"
TITLE = "Service map"

#: Installed before any page script runs: records alerts and injected nodes.
TRAP_JS = """
window.__alerts = [];
window.alert = function (m) { window.__alerts.push(String(m)); };
window.__injected = [];
new MutationObserver(function (records) {
  records.forEach(function (r) {
    r.addedNodes.forEach(function (n) {
      if (n.nodeType === 1 && (n.tagName === 'IMG' && n.getAttribute('src') === 'x'
          || n.tagName === 'SCRIPT' && n.type !== 'application/json'
          && /alert/.test(n.textContent))) {
        window.__injected.push(n.outerHTML);
      }
    });
  });
}).observe(document, {childList: true, subtree: true});
"""

STATE_JS = """
const map = window[arguments[0]];
if (typeof L === 'undefined' || !map || !map._snopt) { return null; }
const out = {markers: 0, kinds: {}, labels: [], tooltips: []};
map.eachLayer(layer => {
  if (layer instanceof L.Marker) {
    out.markers += 1;
    const cls = layer.options.icon.options.className;
    const kind = ['full', 'remote', 'closed', 'unused']
      .find(k => cls.split(' ').includes('snopt-' + k));
    out.kinds[kind] = (out.kinds[kind] || 0) + 1;
  }
});
out.labels = Array.from(document.querySelectorAll('.snopt-label')).map(e => e.textContent);
out.layers = Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))
  .map(e => e.textContent.trim());
out.overlays = Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
  .map(e => e.textContent.trim());
out.legend = (document.querySelector('.snopt-legend') || {}).innerText || '';
out.panel = (document.querySelector('.snopt-panel') || {}).innerText || '';
out.heading = (document.querySelector('.snopt-heading') || {}).textContent || '';
out.banners = Array.from(document.querySelectorAll('.snopt-banner')).map(e => e.className);
out.bannerText = (document.querySelector('.snopt-banners') || {}).innerText || '';
out.title = document.title;
out.alerts = window.__alerts || null;
out.injected = window.__injected || null;
const tiles = Array.from(document.querySelectorAll('.snopt-raster canvas'));
out.paintedTiles = tiles.filter(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { return true; } }
  return false;
}).length;
out.tiles = tiles.length;
out.size = [map.getSize().x, map.getSize().y];
out.zoom = map.getZoom();
return out;
"""


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
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAP_JS})
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
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    last: list[object] = [None]

    def ready(d):
        state = last[0] = d.execute_script(STATE_JS, name)
        return state if state and state["paintedTiles"] > 0 else None

    # 120 s is a ceiling for a loaded machine, not a speed test
    try:
        return WebDriverWait(browser, 120).until(ready)
    except TimeoutException:
        state = last[0]
        seen = (
            {k: state[k] for k in ("markers", "paintedTiles", "tiles", "size", "zoom")}
            if state
            else state
        )
        raise AssertionError(f"the map {name} was not drawn in 120 s; last state: {seen}") from None


def severe(browser, *, allow: str | None = None) -> list[str]:
    entries = browser.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e["level"] == "SEVERE" and not (allow and allow in e["message"])
    ]


def evil_map():
    layers = make_layers(names=PAYLOADS)
    layers.cells["municipality"] = PAYLOADS[3]
    m = scenario_map(
        layers,
        title=PAYLOADS[0],
        description=PAYLOADS[1],
        synthetic_layers=(PAYLOADS[2],),
        tiles=None,
    )
    return m, layers


def test_user_strings_show_literally_and_nothing_runs(driver, server):
    base, root = server
    m, _ = evil_map()
    m.get_root().render()  # a first rendering must not change the second
    save_map(m, root / "map.html", assets="local", asset_url=f"{base}/vendor/")
    (root / "map.html").write_text(
        (root / "map.html")
        .read_text(encoding="utf-8")
        .replace("<head>", f"<head><title>{TITLE}</title>", 1),
        encoding="utf-8",
    )
    driver.get(f"{base}/map.html")
    state = wait_for_map(driver, m.get_name())

    assert state["alerts"] == [] and state["injected"] == []
    assert state["title"] == TITLE
    # chosen sites' permanent labels: the names, literally
    assert sorted(state["labels"]) == sorted([PAYLOADS[0], PAYLOADS[1], PAYLOADS[4]])
    assert state["heading"] == PAYLOADS[0]
    assert PAYLOADS[1] in state["panel"]
    assert PAYLOADS[2] in state["bannerText"]
    # the catchment legend and the popup of a site show the names as text
    driver.execute_script(
        "const map = window[arguments[0]]; map.eachLayer(l => {"
        " if (l instanceof L.Marker && l.getTooltip() &&"
        " l.getTooltip().getContent().textContent === arguments[1]) { l.openPopup(); } });",
        m.get_name(),
        PAYLOADS[1],
    )
    popup = driver.execute_script(
        "const p = document.querySelector('.leaflet-popup-content');"
        "return p ? {title: p.querySelector('.snopt-popup-title').textContent,"
        " text: p.innerText, scripts: p.querySelectorAll('script, img').length} : null;"
    )
    assert popup["title"] == PAYLOADS[1]
    assert popup["scripts"] == 0
    # a click on a cell shows its municipality as text
    driver.execute_script(
        "const map = window[arguments[0]]; const b = map._snopt && map.getBounds();"
        "map.fire('click', {latlng: map.containerPointToLatLng(map.latLngToContainerPoint("
        "L.latLng(arguments[1], arguments[2])))});",
        m.get_name(),
        *_cell_centre(),
    )
    cell = driver.execute_script(
        "const p = document.querySelector('.snopt-cell-popup');"
        "return p ? Array.from(p.querySelectorAll('td')).map(td => td.textContent) : null;"
    )
    assert cell is not None and PAYLOADS[3] in cell
    final = driver.execute_script(STATE_JS, m.get_name())
    assert final["alerts"] == [] and final["injected"] == [] and final["title"] == TITLE
    assert severe(driver) == []


def _cell_centre() -> tuple[float, float]:
    import pyproj

    lon, lat = pyproj.Transformer.from_crs(3067, 4326, always_xy=True).transform(640_500, 6_950_500)
    return lat, lon


def test_inline_map_works_offline_without_tiles(driver, tmp_path):
    layers = make_layers()
    m = scenario_map(
        layers,
        title="North Karelia",
        synthetic_layers=("population", "roads"),
        quality=POOR,
        boundary=layers.boundary,
    )  # default OpenStreetMap tiles, which cannot load here
    path = save_map(m, tmp_path / "offline.html", assets="inline", asset_dir=VENDOR)

    driver.get(path.as_uri())
    state = wait_for_map(driver, m.get_name())
    assert state["markers"] == 5
    assert state["kinds"] == {"full": 1, "remote": 2, "closed": 1, "unused": 1}
    assert sorted(state["labels"]) == ["Joensuu", "Kontiolahti", "Liperi"]
    assert state["layers"] == [
        message("layer_full_minutes"),
        message("layer_any_minutes"),
        message("layer_change_full"),
        message("layer_change_any"),
        message("layer_catchments"),
        message("layer_none"),
    ]
    assert message("layer_region") in state["overlays"]
    assert message("layer_boundaries") in state["overlays"]
    assert state["legend"].startswith(message("layer_full_minutes"))
    assert message("symbol_closed") in state["legend"]
    assert [b.split()[-1] for b in state["banners"]] == [
        "snopt-banner-synthetic",
        "snopt-banner-quality",
    ]
    assert message("head_full") in state["panel"] and message("head_any") in state["panel"]
    assert "22.1" in state["panel"] and "8.9" in state["panel"]

    # switching layers switches the legend
    driver.execute_script(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-base label'))"
        ".find(l => l.textContent.trim() === arguments[0]).querySelector('input').click();",
        message("layer_change_any"),
    )
    legend = driver.execute_script("return document.querySelector('.snopt-legend').innerText")
    assert legend.startswith(message("layer_change_any"))
    assert message("class_same", "en", a="−1", b="+1").split()[0] in legend

    shot = tmp_path / "offline.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert severe(driver, allow=TILE_HOST) == []  # only the basemap is missing


def report_file(tmp_path: Path, lang: str) -> tuple[Path, object]:
    """A report of the test layers, written to ``tmp_path``; returns it and its map."""
    from optimizer.maps import map_html
    from optimizer.report import report_html, write_report

    layers = make_layers()
    m = scenario_map(
        layers,
        title="Pohjois-Karjala",
        lang=lang,
        tiles=None,
    )
    page = report_html(
        title="Pohjois-Karjala",
        estimate=SCENARIO,
        baseline=BASELINE,
        sites=layers.sites,
        quality=POOR,
        synthetic_layers=("population",),
        map_page=map_html(m, assets="inline", asset_dir=VENDOR),
        lang=lang,
    )
    return write_report(tmp_path / "report.html", page), m


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_report_opens_offline_in_each_language(driver, tmp_path, lang):
    path, m = report_file(tmp_path, lang)
    driver.get(path.as_uri())
    headings = driver.execute_script(
        "return Array.from(document.querySelectorAll('h2, table.headline th'))"
        ".map(e => e.textContent)"
    )
    for key in ("section_headline", "section_map", "section_comparison", "head_full", "head_any"):
        assert message(key, lang) in headings, key
    assert driver.execute_script("return document.documentElement.lang") == lang
    frame = driver.find_element("css selector", "iframe.map")
    # Chromium pauses drawing in frames outside the viewport: bring the map into view
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", frame)
    driver.switch_to.frame(frame)
    state = wait_for_map(driver, m.get_name())
    assert state["markers"] == 5 and state["layers"][0] == message("layer_full_minutes", lang)
    assert message("head_full", lang) in state["panel"]
    driver.switch_to.default_content()
    shot = tmp_path / f"report-{lang}.png"
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    assert severe(driver) == []


def test_report_map_laid_out_late_is_fitted_to_the_region(driver, tmp_path):
    # A map whose frame has no size when it starts (here: hidden, then shown) must
    # still open on the region, not on the whole world at zoom 0 with cells too
    # small to paint.
    from selenium.webdriver.support.ui import WebDriverWait

    path, m = report_file(tmp_path, "en")
    html = path.read_text(encoding="utf-8")
    assert html.count('<iframe class="map"') == 1
    path.write_text(html.replace('<iframe class="map"', '<iframe class="map" hidden'), "utf-8")
    driver.get(path.as_uri())
    frame = driver.find_element("css selector", "iframe.map")
    driver.switch_to.frame(frame)
    WebDriverWait(driver, 60).until(
        lambda d: d.execute_script(f"return !!(window.{m.get_name()} || {{}})._snopt")
    )
    assert driver.execute_script(f"return {m.get_name()}.getContainer().clientWidth") == 0
    driver.switch_to.default_content()
    driver.execute_script("arguments[0].hidden = false", frame)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", frame)
    driver.switch_to.frame(frame)
    state = wait_for_map(driver, m.get_name())
    assert state["zoom"] >= 6  # North Karelia fills the frame
    assert state["paintedTiles"] > 0

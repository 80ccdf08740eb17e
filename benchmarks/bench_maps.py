"""Benchmark the map at national scale: cells as images against one GeoJSON polygon per cell.

Builds a seeded synthetic grid shaped like Finland's populated 1 km cells
(about 86,500 cells in clusters over the country's extent in EPSG:3067, with
293 candidate sites), then draws it twice:

- **new**: :func:`optimizer.maps.map_solution` (cells as one PNG per layer,
  data as one JSON blob; five cell layers, boundaries, points, panel);
- **old**: the per-cell GeoJSON map of ``optimizer/maps.py`` as it was at
  commit ``cf2781e`` (one polygon per cell with a style function, one layer),
  loaded from git history into a temporary module.

For each it prints the time to build and render the page, the HTML size and,
unless ``--no-browser``, the time from opening the saved page (Leaflet
inlined, no basemap) in headless Chromium to a finished screenshot, and the
ratios old / new.

Run from the repository root: ``PYTHONPATH=. python benchmarks/bench_maps.py`` (a few
minutes, the old map's browser load dominates); ``--cells 5000`` checks the
script in seconds.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from maptools import map_cells  # the cells layer the map draws, shared with the map tests

from optimizer.maps import map_html, map_solution

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "data" / "vendor"
OLD_COMMIT = "cf2781e"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def national_grid(
    n_cells: int, n_sites: int, seed: int = 1
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Clustered 1 km cells over Finland's extent, with sites at cluster centres."""
    rng = np.random.default_rng(seed)
    x0, x1, y0, y1 = 80_000, 740_000, 6_620_000, 7_770_000
    centres = np.column_stack([rng.uniform(x0, x1, 400), rng.uniform(y0, y1, 400)])
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < n_cells:
        k = rng.integers(0, len(centres), 20_000)
        spread = rng.exponential(12_000, 20_000)
        angle = rng.uniform(0, 2 * np.pi, 20_000)
        xs = (centres[k, 0] + spread * np.cos(angle)) // 1000
        ys = (centres[k, 1] + spread * np.sin(angle)) // 1000
        for x, y in zip(xs.astype(int), ys.astype(int), strict=True):
            if x0 // 1000 <= x < x1 // 1000 and y0 // 1000 <= y < y1 // 1000:
                chosen.add((x, y))
                if len(chosen) == n_cells:
                    break
    ij = np.array(sorted(chosen)) * 1000
    geoms = shapely.box(ij[:, 0], ij[:, 1], ij[:, 0] + 1000, ij[:, 1] + 1000)
    site_xy = centres[:n_sites]
    d = np.hypot(
        (ij[:, None, 0] + 500 - site_xy[None, :, 0]), (ij[:, None, 1] + 500 - site_xy[None, :, 1])
    )
    roles = np.where(np.arange(n_sites) < n_sites // 10, "full", "remote").astype(object)
    roles[n_sites // 2 :] = "none"
    base = np.where(np.arange(n_sites) < n_sites // 5, "full", "none").astype(object)
    open_now = np.flatnonzero(roles != "none")
    full_now = np.flatnonzero(roles == "full")
    any_minutes = d[:, open_now].min(axis=1) / 1000
    full_minutes = d[:, full_now].min(axis=1) / 1000
    base_minutes = d[:, base == "full"].min(axis=1) / 1000
    ids = np.array([f"s{k}" for k in range(n_sites)], dtype=object)
    cells = map_cells(
        geoms,
        [f"{x // 1000}:{y // 1000}" for x, y in ij],
        population=rng.integers(1, 500, n_cells).astype(float),
        minutes=(full_minutes, any_minutes),
        baseline_minutes=(base_minutes, base_minutes),
        full_site_id=ids[full_now[d[:, full_now].argmin(axis=1)]],
        any_site_id=ids[open_now[d[:, open_now].argmin(axis=1)]],
        municipality="Suomi",
    )
    sites = gpd.GeoDataFrame(
        {
            "name": [f"Site {k}" for k in range(n_sites)],
            "role": roles,
            "baseline_role": base,
            "visits": 100.0,
            "residents_served": 1000.0,
            "mean_minutes": 10.0,
        },
        geometry=shapely.points(site_xy),
        crs="EPSG:3067",
        index=ids,
    )
    return cells, sites


def old_module():
    """``optimizer/maps.py`` at :data:`OLD_COMMIT`, imported from git history."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{OLD_COMMIT}:optimizer/maps.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_maps.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_maps", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def build_new(cells, sites) -> tuple[str, float]:
    start = time.perf_counter()
    m = map_solution(cells, sites, title="Suomi", tiles=None)
    page = map_html(m, assets="inline", asset_dir=VENDOR)
    return page, time.perf_counter() - start


def build_old(old, cells, sites) -> tuple[str, float]:
    legacy_cells = cells.rename(
        columns={"nearest_any_minutes": "minutes", "any_site_id": "site_id"}
    )[["population", "minutes", "site_id", "geometry"]]
    legacy_sites = sites.assign(role=sites["role"].replace({"none": "unused"}))[
        ["name", "role", "visits", "residents_served", "mean_minutes", "geometry"]
    ]
    start = time.perf_counter()
    m = old.map_solution(legacy_cells, legacy_sites, title="Suomi", tiles=None)
    page = old.map_html(m, assets="inline", asset_dir=VENDOR)
    return page, time.perf_counter() - start


def browser_seconds(path: Path, shot: Path) -> float:
    """Seconds from opening the page to a finished screenshot in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(600)
    driver.set_script_timeout(600)
    try:
        start = time.perf_counter()
        driver.get(path.as_uri())
        # wait until every cell tile is painted (vector layers are drawn before load ends)
        driver.execute_async_script(
            "const done = arguments[0];"
            "function ready() {"
            "  if (!document.querySelector('.snopt-raster')) { return true; }"
            "  const tiles = document.querySelectorAll('.snopt-raster canvas');"
            "  return tiles.length > 0 && tiles.length === "
            "    document.querySelectorAll('.snopt-raster canvas.leaflet-tile-loaded').length;"
            "}"
            "(function poll() { if (ready()) {"
            "  requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(done, 0)));"
            "} else { setTimeout(poll, 20); } })();"
        )
        driver.save_screenshot(str(shot))
        return time.perf_counter() - start
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=86_519)
    parser.add_argument("--sites", type=int, default=293)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    print(f"Python {platform.python_version()} on {platform.machine()}, {args.cells} cells")
    cells, sites = national_grid(args.cells, args.sites)
    folder = Path(tempfile.mkdtemp(prefix="bench-maps-"))
    rows = {}
    old = old_module()
    for name, build in (("new", build_new), ("old", lambda c, s: build_old(old, c, s))):
        page, seconds = build(cells, sites)
        path = folder / f"{name}.html"
        path.write_text(page, encoding="utf-8")
        size = path.stat().st_size / 2**20
        print(f"{name}: build+render {seconds:.1f} s, HTML {size:.1f} MiB", flush=True)
        browser = None
        if not args.no_browser:
            try:
                browser = browser_seconds(path, folder / f"{name}.png")
                print(f"{name}: open to screenshot {browser:.1f} s", flush=True)
            except Exception as exc:  # selenium's client gives up after 120 s
                print(f"{name}: the browser gave up ({type(exc).__name__}): over 120 s")
        rows[name] = (seconds, size, browser)
    (s_new, m_new, b_new), (s_old, m_old, b_old) = rows["new"], rows["old"]
    print(f"ratios old/new: build {s_old / s_new:.1f}x, size {m_old / m_new:.1f}x", end="")
    if b_new and b_old:
        print(f", browser {b_old / b_new:.1f}x")
    else:
        print()
    print(f"pages and screenshots in {folder}")


if __name__ == "__main__":
    sys.exit(main())

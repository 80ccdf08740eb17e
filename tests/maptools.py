"""Shared inputs for the map, report and browser tests: a small grid, sites and figures."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from PIL import Image

from optimizer.estimates import AccessStats, AnnualCosts, ModeVolume, TravelVolume

X0, Y0 = 640_000, 6_950_000  # EPSG:3067, near Joensuu

#: Names that would run as template, markup or script if any layer evaluated them.
PAYLOADS = (
    "{{ self.__init__.__globals__ }}",
    "{% if 1 %}x{% endif %}",
    "<script>alert(1)</script>",
    "a</script><script>alert(2)</script>",
    "<img src=x onerror=alert(3)>`${alert(4)}`",
)


def access(*figures: float) -> AccessStats:
    """The real access record of 10,000 reachable residents: mean, p50/90/99, shares."""
    return AccessStats(10_000.0, 0.0, *figures)


def travel(person_km: float, vehicle_km: float, t_co2: float) -> TravelVolume:
    """The real travel record, all by car at 50 km/h."""
    car = ModeVolume(person_km, vehicle_km, t_co2)
    return TravelVolume(person_km, vehicle_km, person_km / 50.0, t_co2, {"car": car})


@dataclass(frozen=True)
class Network:
    n_full: int
    n_remote: int
    to_full: AccessStats
    to_any: AccessStats
    travel: TravelVolume
    costs: AnnualCosts


@dataclass(frozen=True)
class Quality:
    residents: float = 10_000.0
    far_residents: float = 0.0
    unreachable_residents: float = 0.0
    road_coverage_share: float = 1.0
    snap_threshold_m: float = 2000.0
    far_cells: tuple[object, ...] = ()
    unreachable_cells: tuple[object, ...] = ()
    is_poor: bool = False


SCENARIO = Network(
    2,
    3,
    access(22.1, 20.0, 41.0, 60.0, 0.712, 0.953, 1.0),
    access(8.9, 7.0, 18.0, 30.0, 0.981, 1.0, 1.0),
    travel(1.0e6, 8.0e5, 1234.0),
    AnnualCosts(1.0e6, 2.0e6, 1.0e5, 3.1e6),
)
BASELINE = Network(
    5,
    0,
    access(8.9, 8.0, 17.0, 28.0, 0.99, 1.0, 1.0),
    access(8.9, 8.0, 17.0, 28.0, 0.99, 1.0, 1.0),
    travel(9.0e5, 7.0e5, 1100.0),
    AnnualCosts(2.0e6, 1.8e6, 0.9e5, 3.9e6),
)
POOR = Quality(
    far_residents=1234.0,
    unreachable_residents=56.0,
    road_coverage_share=0.9,
    far_cells=("c1", "c2"),
    is_poor=True,
)


@dataclass
class Layers:
    cells: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame
    names: dict[str, str] = field(default_factory=dict)


def map_cells(
    geometry: Any,
    index: Any,
    *,
    population: Any,
    minutes: tuple[Any, Any],
    baseline_minutes: tuple[Any, Any],
    **labels: Any,
) -> gpd.GeoDataFrame:
    """The cells layer ``map_solution`` draws, in EPSG:3067.

    ``minutes`` and ``baseline_minutes`` are (to the nearest full point, to the
    nearest point of any tier); the changes are scenario minus baseline. ``labels``
    are the text columns: ``full_site_id``, ``any_site_id`` and ``municipality``.
    """
    (full, anyt), (base_full, base_any) = minutes, baseline_minutes
    return gpd.GeoDataFrame(
        {
            "population": population,
            "nearest_full_minutes": full,
            "nearest_any_minutes": anyt,
            "baseline_full_minutes": base_full,
            "baseline_any_minutes": base_any,
            "change_full_minutes": full - base_full,
            "change_any_minutes": anyt - base_any,
            **labels,
        },
        geometry=geometry,
        crs="EPSG:3067",
        index=index,
    )


def make_layers(nx: int = 6, ny: int = 5, *, names: tuple[str, ...] = ()) -> Layers:
    """A grid of 1 km cells and five sites: full kept, remote new, closed, unused, remote kept."""
    boxes = [
        shapely.box(X0 + i * 1000, Y0 + j * 1000, X0 + (i + 1) * 1000, Y0 + (j + 1) * 1000)
        for i in range(nx)
        for j in range(ny)
    ]
    n = len(boxes)
    rng = np.random.default_rng(7)
    full = rng.uniform(0, 100, n)
    anyt = np.minimum(full, rng.uniform(0, 50, n))
    base_full = rng.uniform(0, 100, n)
    base_any = np.minimum(base_full, rng.uniform(0, 50, n))
    serving = np.where(np.arange(n) < n // 2, "s1", "s2")
    cells = map_cells(
        boxes,
        [f"c{k}" for k in range(n)],
        population=rng.integers(0, 300, n).astype(float),
        minutes=(full, anyt),
        baseline_minutes=(base_full, base_any),
        full_site_id="s1",
        any_site_id=serving.astype(object),
        municipality="Joensuu",
    )
    site_names = ["Joensuu", "Kontiolahti", "Outokumpu", "Polvijärvi", "Liperi"]
    for k, name in enumerate(names[: len(site_names)]):
        site_names[k] = name
    sites = gpd.GeoDataFrame(
        {
            "name": site_names,
            "role": ["full", "remote", "closed", "none", "remote"],
            "baseline_role": ["full", "none", "full", "none", "remote"],
            "municipality": ["Joensuu", "Kontiolahti", "Outokumpu", "Polvijärvi", "Liperi"],
            "visits": [500.0, 100.0, 0.0, 0.0, 50.0],
            "residents_served": [1000.0, 200.0, 0.0, 0.0, 80.0],
            "mean_minutes": [12.3, 20.0, np.nan, np.nan, 9.5],
        },
        geometry=[
            shapely.Point(X0 + 1500, Y0 + 1500),
            shapely.Point(X0 + 4500, Y0 + 3500),
            shapely.Point(X0 + 3000, Y0 + 500),
            shapely.Point(X0 + 500, Y0 + 4500),
            shapely.Point(X0 + 5500, Y0 + 500),
        ],
        crs="EPSG:3067",
        index=["s1", "s2", "s3", "s4", "s5"],
    )
    # s5 serves nobody in the cells; the last cell is unreachable and unassigned
    cells.loc[cells.index[-1], ["nearest_any_minutes", "nearest_full_minutes", "any_site_id"]] = [
        np.inf,
        np.inf,
        None,
    ]
    boundary = gpd.GeoDataFrame(
        {"name": ["Pohjois-Karjala"]},
        geometry=[shapely.box(X0, Y0, X0 + nx * 1000, Y0 + ny * 1000)],
        crs="EPSG:3067",
    )
    return Layers(cells, sites, boundary)


_BLOB = re.compile(
    r'<script type="application/json" id="(snopt-data-[^"]+)">(.*?)</script>', re.DOTALL
)


def blobs(page: str) -> list[dict[str, Any]]:
    """The JSON data blobs of a map page, parsed."""
    return [json.loads(m.group(2)) for m in _BLOB.finditer(page)]


def decode_png(uri: str) -> np.ndarray:
    """An RGBA array of a ``data:image/png;base64,`` URI."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))
    return np.asarray(image.convert("RGBA"))


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def scenario_map(layers: Layers, **options: Any):
    """``map_solution`` of ``layers`` with the SCENARIO estimate beside the BASELINE."""
    from optimizer.maps import map_solution

    options = {"estimate": SCENARIO, "baseline": BASELINE, **options}
    return map_solution(layers.cells, layers.sites, **options)

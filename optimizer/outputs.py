"""A run's outputs: one folder per region and scenario, written as one unit.

:func:`write_outputs` writes ``OUT/<region>-<scenario>/``::

    summary.json    schema version, tool version, time of the run, input hashes,
                    units table, data quality, the scenario's and the baseline's
                    figures and their difference (rounded to meaningful precision)
    results.gpkg    layers ``cells`` (per-cell minutes and change against the
                    baseline), ``sites`` (roles and loads), ``catchments`` (one
                    area per serving site) and ``boundary``; each layer carries
                    a description in the file's metadata
    map.html        the Folium map (works offline but for basemap tiles)
    report.html     the report (:mod:`optimizer.report`): headline, map, tables, notes

A sweep (``optimizer sweep``) writes the same set for the scenario's own
network into ``OUT/<region>-<scenario>-sweep/``, plus ``sweep.csv`` and
``sweep.png``, and its report carries the trade-off chart.

The files are staged in a hidden folder and moved into place together
(:func:`optimizer._io.atomic_dir`), under a lock on ``OUT``
(:func:`optimizer._io.folder_lock`), so the folder always holds a complete
set and two runs never mix their files.

The flat tables all use one column specification, :data:`optimizer.estimates.FIGURES`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from optimizer._io import atomic_dir, folder_lock, inside, writable_folder
from optimizer.errors import OutputError
from optimizer.scenario.views import (
    SCHEMA_VERSION,
    cells_frame,
    result_map,
    sites_frame,
    summary_of,
)
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import geopandas as gpd

    from optimizer.scenario.run import ScenarioResult
    from optimizer.scenario.sweep import SweepResult

__all__ = [
    "CELLS_LAYER",
    "SCHEMA_VERSION",
    "SITES_LAYER",
    "OutputPaths",
    "cells_frame",
    "result_map",
    "sites_frame",
    "summary_of",
    "write_outputs",
]

logger = logging.getLogger(__name__)

#: Layers of ``results.gpkg``.
CELLS_LAYER, SITES_LAYER, CATCHMENTS_LAYER, BOUNDARY_LAYER, STAFFING_LAYER = (
    "cells",
    "sites",
    "catchments",
    "boundary",
    "staffing",
)
_LAYER_DESCRIPTIONS = {
    CELLS_LAYER: (
        "Population grid cells: residents, walk-in visits per year, the site serving the "
        "cell's in-person-only visits (full_site_id) and its remote-eligible visits "
        "(any_site_id), one-way minutes to the nearest full point and to the nearest point of "
        "any kind, the same for the baseline, and the change (scenario minus baseline, "
        "minutes). far = farther than the snap threshold from the roads (unreachable)."
    ),
    SITES_LAYER: (
        "Candidate sites: role in the scenario and in the baseline (full, remote, unused), "
        "visits per year handled, residents served and their mean one-way minutes."
    ),
    CATCHMENTS_LAYER: "Catchment of each open site: the cells whose visits it serves.",
    BOUNDARY_LAYER: "The region's outline.",
    STAFFING_LAYER: (
        "Agency by full point: desk (yes/no), in-person visits a year at the desk and "
        "officials (FTE); rows with site_id 'remote pool' (no geometry) hold each "
        "agency's remote-service pool in FTE."
    ),
}


@dataclass(frozen=True)
class OutputPaths:
    """Files written by :func:`write_outputs`."""

    folder: Path
    summary: Path
    results: Path
    map: Path
    report: Path | None = None
    sweep_table: Path | None = None
    sweep_chart: Path | None = None


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


def _for_gpkg(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for column in out.columns:
        if column != out.geometry.name and out[column].dtype.kind == "f":
            out[column] = out[column].where(np.isfinite(out[column]))  # unreachable -> null
    return out.reset_index()


def _catchments(cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import shapely

    served = cells[cells["any_site_id"].notna()]
    groups = served.groupby("any_site_id").indices
    names = sorted(groups)
    geoms = [shapely.coverage_union_all(served.geometry.values[groups[k]]) for k in names]
    frame = gpd.GeoDataFrame({"site_id": names}, geometry=geoms, crs=cells.crs)
    frame["residents"] = [float(served["population"].iloc[groups[k]].sum()) for k in names]
    return frame


def _staffing(result: ScenarioResult) -> gpd.GeoDataFrame:
    import geopandas as gpd

    assert result.staffing is not None
    rows = [row.to_dict() for row in result.staffing.rows]
    points = result.region.sites.geometry.to_crs(result.region.population.crs)
    geometry = [points.get(r["site_id"]) for r in rows]
    return gpd.GeoDataFrame(rows, geometry=geometry, crs=result.region.population.crs)


def _boundary(result: ScenarioResult) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import shapely

    region = result.region
    if region.boundary is not None:
        outline = region.boundary.to_crs(region.population.crs).geometry.union_all()
    else:
        outline = shapely.coverage_union_all(region.population.geometry.values)
    return gpd.GeoDataFrame(
        {"name": [region.name], "code": [region.code]},
        geometry=[outline],
        crs=region.population.crs,
    )


def _write_layer(frame: gpd.GeoDataFrame, path: Path, layer: str, *, append: bool) -> None:
    import pyogrio

    try:
        pyogrio.write_dataframe(
            frame,
            path,
            layer=layer,
            driver="GPKG",
            append=append,
            use_arrow=True,
            layer_options={"DESCRIPTION": _LAYER_DESCRIPTIONS[layer]},
        )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise OutputError(f"cannot write layer {layer!r} of {path.name}: {exc}") from exc


def _map_assets(settings: Settings) -> Literal["inline", "cdn"]:
    vendor = settings.data_dir / "vendor"
    if (vendor / "leaflet.js").is_file():
        return "inline"
    logger.warning("no local Leaflet copy in %s: the map will load Leaflet from a CDN", vendor)
    return "cdn"


def write_outputs(
    result: ScenarioResult,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    assets: Literal["auto", "cdn", "inline"] = "auto",
    lang: str = "en",
    lock: bool = True,
    name: str | None = None,
    on_staged: Callable[[Path], None] | None = None,
    settings: Settings | None = None,
    sweep: SweepResult | None = None,
) -> OutputPaths:
    """Write a run's summary, results, map and report as one unit.

    Parameters
    ----------
    result
        The result of :func:`optimizer.scenario.run_scenario`.
    out_dir
        The output folder ``OUT``; the files go to ``OUT/<region>-<scenario>/``.
        Default: ``settings.output_dir``.
    assets
        Map assets (see :func:`optimizer.maps.map_html`): ``"inline"`` embeds
        Leaflet so the map opens offline, ``"cdn"`` links folium's CDNs,
        ``"auto"`` inlines when the local copy exists.
    lang
        Language of the map's labels: ``"en"``, ``"fi"`` or ``"sv"``.
    lock
        Hold the lock of ``OUT`` while writing (a batch that already holds it
        passes ``False``).
    name
        Name of the run's folder inside ``OUT`` (default ``<region>-<scenario>``);
        it must be a safe name.
    on_staged
        Called with the staging folder once every output is in it, before the
        set is moved into place (a batch adds its manifest there).
    settings
        Environment defaults.
    sweep
        A sweep of the same scenario (:func:`optimizer.scenario.sweep`): its
        ``sweep.csv`` and ``sweep.png`` join the set and the report shows the
        trade-off chart.

    Returns
    -------
    OutputPaths
        The run's folder and files.

    Raises
    ------
    OutputLockedError
        If another run or batch is writing to ``OUT``.
    OutputError
        If the folder cannot be created or written; the previous complete set
        of outputs, if any, is left as it was.
    """
    from optimizer.maps import map_html
    from optimizer.report import result_report

    settings = settings or get_settings()
    root = writable_folder(Path(out_dir) if out_dir is not None else settings.output_dir)
    target = inside(root, name or result.name)
    chosen = _map_assets(settings) if assets == "auto" else assets
    summary_text = json.dumps(summary_of(result), indent=2, ensure_ascii=False, allow_nan=False)
    page = map_html(result.map(lang=lang), assets=chosen, settings=settings)
    chart = sweep.png if sweep is not None else None
    report = result_report(result, map_page=page, lang=lang, chart_png=chart)
    cells = result.cells
    guard = folder_lock(root) if lock else contextlib.nullcontext(root)
    with guard, atomic_dir(target, overwrite=True) as stage:
        (stage / "summary.json").write_text(summary_text + "\n", encoding="utf-8")
        gpkg = stage / "results.gpkg"
        _write_layer(_for_gpkg(cells), gpkg, CELLS_LAYER, append=False)
        _write_layer(_for_gpkg(result.sites), gpkg, SITES_LAYER, append=True)
        _write_layer(_catchments(cells), gpkg, CATCHMENTS_LAYER, append=True)
        _write_layer(_boundary(result), gpkg, BOUNDARY_LAYER, append=True)
        if result.staffing is not None:
            _write_layer(_staffing(result), gpkg, STAFFING_LAYER, append=True)
        (stage / "map.html").write_text(page, encoding="utf-8")
        (stage / "report.html").write_text(report, encoding="utf-8")
        if sweep is not None:
            sweep.write(stage)
        if on_staged is not None:
            on_staged(stage)
    logger.info("wrote %s", target)
    return OutputPaths(
        folder=target,
        summary=target / "summary.json",
        results=target / "results.gpkg",
        map=target / "map.html",
        report=target / "report.html",
        sweep_table=target / "sweep.csv" if sweep is not None else None,
        sweep_chart=target / "sweep.png" if sweep is not None else None,
    )

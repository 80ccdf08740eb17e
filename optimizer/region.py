"""Region bundles: load, validate, find and write them.

A region *bundle* is a folder::

    region.toml        name, slug, code, year, CRS, layer files, sources,
                       licences, and which layers are synthetic
    population.gpkg    1 km grid cells (polygons), ``population`` and, where known,
                       ``age_0_14``, ``age_15_64``, ``age_65_plus``, ``municipality``
    roads.gpkg         directed road graph with ``length`` (m) and
                       ``travel_time`` (s) on every edge, as GeoPackage layers
                       ``nodes`` and ``edges`` (or roads.graphml, named in
                       region.toml [layers])
    sites.gpkg         candidate sites (points): ``name``, ``municipality``,
                       ``kind``, ``required``, optional ``annual_cost``, ``capacity``
    boundary.gpkg      optional region outline; sites must lie inside it

:func:`load_region` validates every layer on load (CRS, schema, finite
non-negative population, a strongly connected road core, sites inside the
region) and raises an :mod:`optimizer.errors` exception naming the file and
field at fault.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import tomli_w

from optimizer import network, population, sources
from optimizer._io import atomic_dir
from optimizer.errors import (
    BundleNotFoundError,
    CRSError,
    DataError,
    OutputError,
    UnknownRegionError,
)
from optimizer.settings import Settings, get_settings
from optimizer.sources import osm

__all__ = [
    "SITE_KINDS",
    "Region",
    "RegionEntry",
    "RegionMeta",
    "bundle_from_files",
    "list_regions",
    "load_region",
    "save_region",
    "validate_sites",
]

logger = logging.getLogger(__name__)

SITE_KINDS = ("municipal_centre", "existing_office", "other")
LAYERS = ("population", "roads", "sites")
_DEFAULT_FILES = {
    "population": "population.gpkg",
    "roads": "roads.gpkg",
    "sites": "sites.gpkg",
    "boundary": "boundary.gpkg",
}


@dataclass(frozen=True)
class RegionMeta:
    """What ``region.toml`` says about a bundle besides its layers."""

    sources: Mapping[str, str] = field(default_factory=dict)
    licences: Mapping[str, str] = field(default_factory=dict)
    synthetic: Mapping[str, bool] = field(default_factory=dict)
    notes: str = ""

    @property
    def is_synthetic(self) -> bool:
        """Whether any layer of the bundle is synthetic."""
        return any(self.synthetic.values())


@dataclass(frozen=True, init=False, eq=False)
class Region:
    """A loaded, validated region bundle.

    Attributes
    ----------
    name, slug, code, year, crs
        Identity of the region (``code`` is the maakunta code, e.g. ``"12"``).
    population
        Grid cells indexed by ``cell_id``.
    road_network
        Directed road graph as arrays (:class:`optimizer.network.RoadNetwork`),
        what travel times use.
    roads
        The same graph as an osmnx-style ``networkx.MultiDiGraph``, built on
        first access (costly for large graphs; the constructor also takes one).
    sites
        Candidate service-point sites indexed by ``site_id``.
    boundary
        Region outline, or ``None`` when the bundle has none.
    meta
        Sources, licences and synthetic flags.
    path
        The bundle folder, or ``None`` for a region built in memory.
    """

    name: str
    slug: str
    code: str
    year: int
    crs: str
    population: gpd.GeoDataFrame
    road_network: network.RoadNetwork
    sites: gpd.GeoDataFrame
    boundary: gpd.GeoDataFrame | None
    meta: RegionMeta
    path: Path | None

    def __init__(
        self,
        *,
        name: str,
        slug: str,
        code: str,
        year: int,
        crs: str,
        population: gpd.GeoDataFrame,
        roads: network.RoadNetwork | nx.MultiDiGraph,
        sites: gpd.GeoDataFrame,
        boundary: gpd.GeoDataFrame | None = None,
        meta: RegionMeta | None = None,
        path: Path | None = None,
    ) -> None:
        values = {
            "name": name,
            "slug": slug,
            "code": code,
            "year": year,
            "crs": crs,
            "population": population,
            "road_network": network.as_road_network(roads),
            "sites": sites,
            "boundary": boundary,
            "meta": meta if meta is not None else RegionMeta(),
            "path": path,
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)
        if isinstance(roads, nx.Graph):
            self.__dict__["roads"] = roads  # keep the caller's graph as the networkx view

    @cached_property
    def roads(self) -> nx.MultiDiGraph:
        """The road graph as an osmnx-style ``networkx.MultiDiGraph`` (built once)."""
        return self.road_network.to_networkx()

    def summary(self) -> dict[str, Any]:
        """Return the headline figures of the region (for ``optimizer info``)."""
        return {
            "name": self.name,
            "slug": self.slug,
            "code": self.code,
            "year": self.year,
            "crs": self.crs,
            "population": round(float(self.population["population"].sum())),
            "cells": len(self.population),
            "municipalities": int(self.population["municipality"].nunique())
            if "municipality" in self.population
            else 0,
            "road_nodes": self.road_network.number_of_nodes(),
            "road_edges": self.road_network.number_of_edges(),
            "sites": len(self.sites),
            "required_sites": int(self.sites["required"].sum()),
            "synthetic_layers": sorted(k for k, v in self.meta.synthetic.items() if v),
            "path": str(self.path) if self.path else None,
        }


@dataclass(frozen=True)
class RegionEntry:
    """A region that can be loaded or fetched (a row of ``optimizer regions``)."""

    slug: str
    name: str
    code: str
    status: str  # "bundled", "cached" or "fetchable"
    synthetic: bool
    path: Path | None


def _fold(text: str) -> str:
    """Lower-case, accent-free form of a name or code for matching ("01" == "1")."""
    norm = unicodedata.normalize("NFKD", text.strip().lower())
    folded = "".join(c for c in norm if not unicodedata.combining(c)).replace(" ", "-")
    return folded.lstrip("0") or folded if folded.isdigit() else folded


def _bundle_dirs(settings: Settings) -> list[Path]:
    roots = [settings.regions_dir, settings.cache_dir / "regions"]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            found.extend(sorted(p.parent for p in root.glob("*/region.toml")))
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleNotFoundError(
            f"{path} does not exist; a bundle folder needs region.toml "
            "(build one with `optimizer bundle --from-files`)"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: invalid TOML: {exc}") from exc


def list_regions(*, settings: Settings | None = None) -> list[RegionEntry]:
    """List the bundles found locally and the mainland regions that can be fetched.

    Parameters
    ----------
    settings
        Environment defaults; read from the environment when ``None``.

    Returns
    -------
    list of RegionEntry
        Local bundles first (``bundled`` in the data folder, ``cached`` in the
        cache folder), then each of the 18 mainland regions without a local
        bundle as ``fetchable``.
    """
    settings = settings or get_settings()
    infos: list[RegionEntry] = []
    for folder in _bundle_dirs(settings):
        raw = _read_toml(folder / "region.toml")
        status = "bundled" if folder.is_relative_to(settings.regions_dir) else "cached"
        infos.append(
            RegionEntry(
                slug=str(raw.get("slug", folder.name)),
                name=str(raw.get("name", folder.name)),
                code=str(raw.get("code", "")),
                status=status,
                synthetic=any(bool(v) for v in raw.get("synthetic", {}).values()),
                path=folder,
            )
        )
    have = {i.slug for i in infos}
    for reg in sources.MAINLAND_REGIONS:
        if reg.slug not in have:
            infos.append(RegionEntry(reg.slug, reg.name_fi, reg.code, "fetchable", False, None))
    return infos


def _resolve(name_or_path: str | os.PathLike[str], settings: Settings) -> Path:
    candidate = Path(name_or_path)
    if candidate.is_dir():
        return candidate
    if candidate.suffix == ".toml" and candidate.is_file():
        return candidate.parent
    key = _fold(str(name_or_path))
    local = list_regions(settings=settings)
    for info in local:
        if info.path is not None and key in {_fold(info.slug), _fold(info.name), _fold(info.code)}:
            return info.path
    for info in local:
        if info.path is None and key in {_fold(info.slug), _fold(info.name), _fold(info.code)}:
            raise BundleNotFoundError(
                f"region {info.name!r} ({info.code}) has no bundle on this machine; "
                f"build it with `optimizer fetch {info.slug}` (online) or "
                "`optimizer bundle --from-files` from your own grid, roads and sites"
            )
    names = sorted({i.slug for i in local} | {i.name for i in local})
    close = difflib.get_close_matches(str(name_or_path), names, n=3, cutoff=0.5)
    close += [n for n in difflib.get_close_matches(key, names, n=3, cutoff=0.5) if n not in close]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise UnknownRegionError(
        f"unknown region {str(name_or_path)!r}: not a bundle folder nor a known region name, "
        f"slug or code{hint} (`optimizer regions` lists them)"
    )


def load_region(
    name_or_path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
) -> Region:
    """Load and validate a region bundle.

    Parameters
    ----------
    name_or_path
        A bundle folder (or its ``region.toml``), or the slug, name or code of
        a local bundle, e.g. ``"pohjois-karjala"``, ``"Pohjois-Karjala"``, ``"12"``.
    settings
        Environment defaults; read from the environment when ``None``.

    Returns
    -------
    Region
        The validated region.

    Raises
    ------
    UnknownRegionError
        If the name matches no region; the message suggests the closest names.
    BundleNotFoundError
        If the region is known but not on this machine, or a file is missing.
    DataError
        If a layer fails validation; the message names the file and field.
    """
    settings = settings or get_settings()
    folder = _resolve(name_or_path, settings)
    toml_path = folder / "region.toml"
    raw = _read_toml(toml_path)
    for key in ("name", "code", "year"):
        if key not in raw:
            raise DataError(f"{toml_path}: missing key {key!r}")
    crs = str(raw.get("crs", settings.crs))
    if crs.upper() != settings.crs.upper():
        raise CRSError(
            f"{toml_path}: crs = {crs!r}, but layers must be in {settings.crs}; "
            "reproject the layers and update region.toml"
        )
    files = {**_DEFAULT_FILES, **raw.get("layers", {})}
    paths = {k: folder / v for k, v in files.items()}
    for layer in LAYERS:
        if not paths[layer].exists():
            raise BundleNotFoundError(
                f"{paths[layer]}: the {layer} layer of bundle {folder} is missing "
                f"(region.toml [layers] {layer} = {files[layer]!r})"
            )
    grid = gpd.read_file(paths["population"])
    if "cell_id" in grid.columns:
        grid = grid.set_index("cell_id")
    pop = population.validate_population(grid, source=str(paths["population"]), crs=settings.crs)
    roads = network.validate_roads(
        osm.network_from_file(paths["roads"]), source=str(paths["roads"])
    )
    boundary = gpd.read_file(paths["boundary"]) if paths["boundary"].exists() else None
    sites = validate_sites(
        _read_sites(paths["sites"]),
        source=str(paths["sites"]),
        boundary=boundary,
        population_grid=pop,
        crs=settings.crs,
    )
    meta = RegionMeta(
        sources=dict(raw.get("sources", {})),
        licences=dict(raw.get("licences", {})),
        synthetic={k: bool(v) for k, v in raw.get("synthetic", {}).items()},
        notes=str(raw.get("notes", "")),
    )
    region = Region(
        name=str(raw["name"]),
        slug=str(raw.get("slug", folder.name)),
        code=str(raw["code"]),
        year=int(raw["year"]),
        crs=crs,
        population=pop,
        roads=roads,
        sites=sites,
        boundary=boundary,
        meta=meta,
        path=folder,
    )
    logger.info("loaded region %s from %s", region.name, folder)
    return region


def _read_sites(path: Path) -> gpd.GeoDataFrame:
    sites = gpd.read_file(path)
    if "site_id" in sites.columns:
        sites = sites.set_index("site_id")
    sites.index = sites.index.astype(str)
    sites.index.name = "site_id"
    return sites


def validate_sites(
    sites: gpd.GeoDataFrame,
    *,
    source: str,
    boundary: gpd.GeoDataFrame | None = None,
    population_grid: gpd.GeoDataFrame | None = None,
    crs: str = "EPSG:3067",
) -> gpd.GeoDataFrame:
    """Check a candidate-site layer and return it with normalised columns.

    Parameters
    ----------
    sites
        Sites indexed by ``site_id`` with ``name``, ``municipality``, ``kind``,
        ``required`` and optional ``annual_cost``, ``capacity``.
    source
        The file the sites came from (named in error messages).
    boundary
        Region outline; every site must lie inside it.
    population_grid
        Used as the outline (cells buffered by 10 km) when ``boundary`` is ``None``.
    crs
        The CRS the sites must be in.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites with ``required`` as bool and ``annual_cost``/``capacity`` as float.

    Raises
    ------
    DataError, CRSError
        Naming the file, the field and the sites at fault.
    """
    if len(sites) == 0:
        raise DataError(f"{source}: no candidate sites; add at least one point")
    if sites.crs is None or not sites.crs.equals(crs):
        raise CRSError(
            f"{source}: sites are in {sites.crs}, expected {crs}; reproject with to_crs({crs!r})"
        )
    missing = [c for c in ("name", "municipality", "kind", "required") if c not in sites.columns]
    if missing:
        raise DataError(
            f"{source}: sites lack the field(s) {missing}; required: name, municipality, "
            "kind, required"
        )
    if sites.index.has_duplicates:
        dup = sorted(set(sites.index[sites.index.duplicated()]))[:10]
        raise DataError(f"{source}: duplicate site_id values {dup}")
    if not (sites.geom_type == "Point").all():
        bad = list(sites.index[sites.geom_type != "Point"][:10])
        raise DataError(f"{source}: field geometry: sites {bad} are not points")
    kinds = set(sites["kind"].unique())
    if not kinds <= set(SITE_KINDS):
        raise DataError(
            f"{source}: field kind has {sorted(kinds - set(SITE_KINDS))}; allowed: {SITE_KINDS}"
        )
    out = sites.copy()
    out["required"] = out["required"].astype(bool)
    out["municipality"] = out["municipality"].astype(str).str.zfill(3)
    for col in ("annual_cost", "capacity"):
        out[col] = pd.to_numeric(out[col], errors="raise") if col in out else np.nan
        out[col] = out[col].astype(float)
        if (out[col] < 0).any():
            bad = list(out.index[out[col] < 0][:10])
            raise DataError(f"{source}: field {col} is negative for sites {bad}")
    if boundary is not None:
        outline = boundary.to_crs(crs).geometry.union_all()
    elif population_grid is not None:
        outline = population_grid.geometry.union_all().buffer(10_000.0)
    else:
        outline = None
    if outline is not None:
        outside = ~out.geometry.within(outline)
        if outside.any():
            names = [f"{i} ({out.at[i, 'name']})" for i in out.index[outside][:10]]
            raise DataError(
                f"{source}: {int(outside.sum())} site(s) lie outside the region: "
                f"{', '.join(names)}; move or remove them"
            )
    return out


def _write_vector(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    gdf.to_file(path, layer=layer, driver="GPKG", index=True)


def save_region(
    region: Region,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a region as a bundle folder, atomically.

    The bundle is written to a temporary folder beside ``path`` and renamed
    into place, so a crash never leaves a half-written bundle.

    Parameters
    ----------
    region
        The region to write.
    path
        The bundle folder to create.
    overwrite
        Replace an existing folder.

    Returns
    -------
    pathlib.Path
        The bundle folder.

    Raises
    ------
    OutputError
        If the folder exists (and ``overwrite`` is false) or cannot be written.
    """
    target = Path(path)
    meta: dict[str, Any] = {
        "name": region.name,
        "slug": region.slug,
        "code": region.code,
        "year": region.year,
        "crs": region.crs,
        "layers": {
            k: v
            for k, v in _DEFAULT_FILES.items()
            if k != "boundary" or region.boundary is not None
        },
        "synthetic": dict(region.meta.synthetic),
        "sources": dict(region.meta.sources),
        "licences": dict(region.meta.licences),
    }
    if region.meta.notes:
        meta["notes"] = region.meta.notes
    with atomic_dir(target, overwrite=overwrite) as tmp:
        try:
            _write_vector(region.population, tmp / _DEFAULT_FILES["population"], "population")
            network.network_to_gpkg(region.roads, tmp / _DEFAULT_FILES["roads"])
            _write_vector(region.sites, tmp / _DEFAULT_FILES["sites"], "sites")
            if region.boundary is not None:
                _write_vector(region.boundary, tmp / _DEFAULT_FILES["boundary"], "boundary")
            (tmp / "region.toml").write_text(tomli_w.dumps(meta), encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot write a bundle to {target}: {exc}") from exc
    logger.info("wrote bundle %s", target)
    return target


def bundle_from_files(
    *,
    out_dir: str | os.PathLike[str],
    name: str,
    code: str,
    year: int,
    population_file: str | os.PathLike[str],
    roads_file: str | os.PathLike[str],
    sites_file: str | os.PathLike[str],
    slug: str | None = None,
    boundary_file: str | os.PathLike[str] | None = None,
    population_columns: Mapping[str, str] | None = None,
    sources_text: Mapping[str, str] | None = None,
    licences: Mapping[str, str] | None = None,
    synthetic: Mapping[str, bool] | None = None,
    overwrite: bool = False,
    settings: Settings | None = None,
) -> Path:
    """Build a bundle from your own grid, roads and sites files.

    Parameters
    ----------
    out_dir
        The bundle folder to write.
    name, code, year
        Region name, maakunta code (or your own code) and data year.
    population_file
        Grid cells (GeoPackage, GeoJSON, shapefile); see
        :func:`optimizer.population.read_population` for accepted fields.
    roads_file
        ``.graphml``, ``.gpkg`` (nodes and edges) or ``.osm.pbf``.
    sites_file
        Candidate sites with ``name``, ``municipality``, ``kind``, ``required``.
    slug
        Short name used on the command line (defaults to the folder name).
    boundary_file
        Optional region outline.
    population_columns
        Maps bundle field names to your grid file's column names, e.g.
        ``{"population": "pop_total"}`` (see :func:`optimizer.population.read_population`).
    sources_text, licences, synthetic
        Provenance written to ``region.toml``.
    overwrite
        Replace an existing bundle.
    settings
        Environment defaults.

    Returns
    -------
    pathlib.Path
        The written bundle folder.
    """
    settings = settings or get_settings()
    out = Path(out_dir)
    pop = population.validate_population(
        population.read_population(population_file, columns=population_columns),
        source=str(population_file),
        crs=settings.crs,
    )
    roads = osm.network_from_file(roads_file)
    if not any("travel_time" in d for _, _, d in roads.edges(data=True)):
        roads = network.add_travel_times(roads)
    roads = network.validate_roads(roads, source=str(roads_file))
    boundary = gpd.read_file(boundary_file) if boundary_file else None
    sites = validate_sites(
        _read_sites(Path(sites_file)),
        source=str(sites_file),
        boundary=boundary,
        population_grid=pop,
        crs=settings.crs,
    )
    region = Region(
        name=name,
        slug=slug or out.name,
        code=str(code),
        year=int(year),
        crs=settings.crs,
        population=pop,
        roads=roads,
        sites=sites,
        boundary=boundary,
        meta=RegionMeta(
            sources=dict(
                sources_text
                or {
                    "population": str(population_file),
                    "roads": str(roads_file),
                    "sites": str(sites_file),
                }
            ),
            licences=dict(licences or {}),
            synthetic=dict(synthetic or {"population": False, "roads": False, "sites": False}),
        ),
    )
    return save_region(region, out, overwrite=overwrite)

"""The static catalogue of Finland: regions, municipalities and national facts.

Pure data, no network. Everything here comes from the real public tables
shipped with the package in ``data/finland/`` (installed as
``optimizer/data/finland``; their sources, years and licences are in the
README beside them):

=====================================  ===============================================
file                                   what
=====================================  ===============================================
``municipality_key_2023.csv``          Statistics Finland municipality -> region key,
                                       2023 division (309 municipalities)
``municipalities_2023.gpkg``           municipality boundaries 1:4 500 000, 2019
                                       polygons merged to the 2023 division, simplified
``municipality_population_sotkanet.csv``  residents by municipality and year (THL Sotkanet)
``municipality_central_localities.csv``   National Land Survey label point of each
                                       municipality's central locality (WGS84)
=====================================  ===============================================

The regions themselves (:data:`MAINLAND_REGIONS`) are a fixed catalogue: the
18 mainland regions (maakunta) with their Finnish, Swedish and English names
and the slug used for bundle folders. Åland (21) is left out: its islands are
linked by ferries, which a drive network does not hold.

Names and codes are matched with :func:`optimizer._names.fold`, the package's
one name-matching rule. The 2023 division did not change between 2021 and
2024, so the key holds for population grids of 2021-2023. Before 2021 Valtimo
(911) and Honkajoki (099) still existed and Heinävesi (090) belonged to
Etelä-Savo.
"""

from __future__ import annotations

import difflib
import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from optimizer._files import read_csv, read_vector
from optimizer._names import fold
from optimizer.errors import BundleNotFoundError, DataError, UnknownRegionError
from optimizer.settings import default_data_dir

if TYPE_CHECKING:  # the national tables import geopandas when first read
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "KEY_YEAR",
    "MAINLAND_REGIONS",
    "RegionInfo",
    "central_localities",
    "facts_dir",
    "find_region",
    "municipalities_of_region",
    "municipality_boundaries",
    "municipality_key",
    "municipality_populations",
]

logger = logging.getLogger(__name__)

KEY_YEAR = 2023
"""Year of the municipal division of the packaged key and boundaries."""

_KEY_FILE = "municipality_key_2023.csv"
_BOUNDARY_FILE = "municipalities_2023.gpkg"
_POPULATION_FILE = "municipality_population_sotkanet.csv"
_LOCALITY_FILE = "municipality_central_localities.csv"


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """A mainland region (maakunta) of Finland.

    Attributes
    ----------
    code
        Two-digit Statistics Finland code, e.g. ``"12"`` (``MK12``).
    name_fi, name_sv, name_en
        Names in Finnish, Swedish and English.
    slug
        Lower-case ASCII name used for bundle folders, e.g. ``"pohjois-karjala"``.
    """

    code: str
    name_fi: str
    name_sv: str
    name_en: str
    slug: str


MAINLAND_REGIONS: tuple[RegionInfo, ...] = (
    RegionInfo("01", "Uusimaa", "Nyland", "Uusimaa", "uusimaa"),
    RegionInfo(
        "02", "Varsinais-Suomi", "Egentliga Finland", "Southwest Finland", "varsinais-suomi"
    ),
    RegionInfo("04", "Satakunta", "Satakunta", "Satakunta", "satakunta"),
    RegionInfo("05", "Kanta-Häme", "Egentliga Tavastland", "Kanta-Häme", "kanta-hame"),
    RegionInfo("06", "Pirkanmaa", "Birkaland", "Pirkanmaa", "pirkanmaa"),
    RegionInfo("07", "Päijät-Häme", "Päijänne-Tavastland", "Päijät-Häme", "paijat-hame"),
    RegionInfo("08", "Kymenlaakso", "Kymmenedalen", "Kymenlaakso", "kymenlaakso"),
    RegionInfo("09", "Etelä-Karjala", "Södra Karelen", "South Karelia", "etela-karjala"),
    RegionInfo("10", "Etelä-Savo", "Södra Savolax", "South Savo", "etela-savo"),
    RegionInfo("11", "Pohjois-Savo", "Norra Savolax", "North Savo", "pohjois-savo"),
    RegionInfo("12", "Pohjois-Karjala", "Norra Karelen", "North Karelia", "pohjois-karjala"),
    RegionInfo("13", "Keski-Suomi", "Mellersta Finland", "Central Finland", "keski-suomi"),
    RegionInfo(
        "14", "Etelä-Pohjanmaa", "Södra Österbotten", "South Ostrobothnia", "etela-pohjanmaa"
    ),
    RegionInfo("15", "Pohjanmaa", "Österbotten", "Ostrobothnia", "pohjanmaa"),
    RegionInfo(
        "16",
        "Keski-Pohjanmaa",
        "Mellersta Österbotten",
        "Central Ostrobothnia",
        "keski-pohjanmaa",
    ),
    RegionInfo(
        "17", "Pohjois-Pohjanmaa", "Norra Österbotten", "North Ostrobothnia", "pohjois-pohjanmaa"
    ),
    RegionInfo("18", "Kainuu", "Kajanaland", "Kainuu", "kainuu"),
    RegionInfo("19", "Lappi", "Lappland", "Lapland", "lappi"),
)
"""The 18 mainland regions (maakunta), in code order (Åland, 21, excluded)."""

_ALAND = RegionInfo("21", "Ahvenanmaa", "Åland", "Åland", "ahvenanmaa")
_CODE_RE = re.compile(r"^(?:mk)?-?0*(\d{1,2})$")


def facts_dir() -> Path:
    """Return the folder of the packaged national tables (``data/finland``)."""
    return default_data_dir() / "finland"


# --------------------------------------------------------------------------- regions


def _region_names(region: RegionInfo) -> tuple[str, ...]:
    return (region.name_fi, region.name_sv, region.name_en, region.slug)


def find_region(name_or_code: str | int | RegionInfo) -> RegionInfo:
    """Find a mainland region by code or name.

    Parameters
    ----------
    name_or_code
        A code (``"12"``, ``12``, ``"MK12"``), or a Finnish, Swedish or English
        name or slug, in any case and with or without accents
        (``"Pohjois-Karjala"``, ``"pohjois karjala"``, ``"Norra Karelen"``,
        ``"North Karelia"``).

    Returns
    -------
    RegionInfo
        The region.

    Raises
    ------
    UnknownRegionError
        If nothing matches; the message suggests the closest names. Åland (21)
        is not a mainland region and is refused with its own message.
    """
    if isinstance(name_or_code, RegionInfo):
        return name_or_code
    text = str(name_or_code)
    folded = fold(text)
    match = _CODE_RE.match(folded)
    if match:
        code = f"{int(match.group(1)):02d}"
        for region in MAINLAND_REGIONS:
            if region.code == code:
                return region
        if code == _ALAND.code:
            raise _aland_error(text)
        raise UnknownRegionError(
            f"no mainland region has code {text!r}; codes are "
            f"{', '.join(r.code for r in MAINLAND_REGIONS)} (01 Uusimaa ... 19 Lappi)"
        )
    for region in MAINLAND_REGIONS:
        if folded in {fold(n) for n in _region_names(region)}:
            return region
    if folded in {fold(n) for n in _region_names(_ALAND)} | {"aland"}:
        raise _aland_error(text)
    candidates = {fold(n): r for r in MAINLAND_REGIONS for n in _region_names(r)}
    close = difflib.get_close_matches(folded, list(candidates), n=5, cutoff=0.5)
    suggestions: list[RegionInfo] = []
    for name in close:
        if candidates[name] not in suggestions:
            suggestions.append(candidates[name])
    if suggestions:
        hint = (
            "did you mean "
            + " or ".join(f"{r.name_fi} ({r.code}, '{r.slug}')" for r in suggestions[:3])
            + "?"
        )
    else:
        hint = "known regions: " + ", ".join(r.slug for r in MAINLAND_REGIONS)
    raise UnknownRegionError(f"unknown region {text!r}; {hint}")


def _aland_error(text: str) -> UnknownRegionError:
    return UnknownRegionError(
        f"region {text!r} is Åland (Ahvenanmaa, 21), which is not supported: only the 18 "
        "mainland regions can be fetched (Åland's islands are linked by ferries, not roads)"
    )


# --------------------------------------------------------------------------- the key


def _codes(values: Iterable[object], *, source: str, field: str, width: int = 3) -> list[str]:
    """Format codes as zero-padded text, naming the file and field on failure."""
    from optimizer.population import format_municipality_code

    out = []
    for value in values:
        try:
            code = format_municipality_code(value)
        except DataError as exc:
            raise DataError(f"{source}: field {field!r}: {exc}") from None
        if code is None:
            raise DataError(f"{source}: field {field!r} has a missing value")
        out.append(code[-width:])
    return out


def _read_key(path: Path) -> pd.DataFrame:
    key = read_csv(path, what="municipality key", dtype=str)
    missing = sorted({"kunta", "maakunta_code"} - set(key.columns))
    if missing:
        raise DataError(
            f"municipality key {path} lacks column(s) {', '.join(missing)}; expected "
            "'kunta' (municipality code) and 'maakunta_code' (region code)"
        )
    regions = []
    for value in key["maakunta_code"]:
        try:
            regions.append(f"{int(float(value)):02d}")
        except (TypeError, ValueError):
            raise DataError(
                f"municipality key {path}: field 'maakunta_code': {value!r} is not a region "
                "code; expected numbers like 12"
            ) from None
    key["maakunta_code"] = regions
    key["kunta"] = _codes(key["kunta"], source=f"municipality key {path}", field="kunta")
    return key


@functools.cache
def _packaged_members() -> Mapping[str, tuple[str, ...]]:
    """Region code -> sorted municipality codes of the packaged key (read once)."""
    key = _read_key(facts_dir() / _KEY_FILE)
    groups = key.groupby("maakunta_code")["kunta"]
    return MappingProxyType({code: tuple(sorted(set(g))) for code, g in groups})


def municipality_key() -> pd.DataFrame:
    """Return the packaged municipality -> region key (2023 division).

    Returns
    -------
    pandas.DataFrame
        One row per municipality (309, Åland included): ``kunta`` (3-digit
        code), ``municipality_name_fi``, ``municipality_name_sv``,
        ``municipality_name_en``, ``maakunta_code`` (2-digit code),
        ``maakunta_name_fi``, ``maakunta_name_sv``, ``maakunta_name_en``.
    """
    return _read_key(facts_dir() / _KEY_FILE)


def municipalities_of_region(
    code: str | int | RegionInfo, *, key_csv: str | Path | None = None
) -> tuple[str, ...]:
    """Return the 3-digit codes of a region's municipalities (2023 division).

    Parameters
    ----------
    code
        The region: anything :func:`find_region` accepts.
    key_csv
        A Statistics Finland municipality key CSV with columns ``kunta`` and
        ``maakunta_code`` (e.g. a later year's key) to use instead of the
        packaged 2023 key.

    Returns
    -------
    tuple of str
        Sorted municipality codes, e.g. ``("090", "146", "167", ...)``.

    Raises
    ------
    UnknownRegionError
        If the region is unknown.
    BundleNotFoundError
        If ``key_csv`` does not exist.
    DataError
        If ``key_csv`` lacks the columns or lists no municipality for the region.
    """
    region = find_region(code)
    if key_csv is None:
        return _packaged_members()[region.code]
    path = Path(key_csv)
    if not path.exists():
        raise BundleNotFoundError(f"municipality key {path} does not exist")
    key = _read_key(path)
    codes = tuple(sorted(set(key.loc[key["maakunta_code"] == region.code, "kunta"])))
    if not codes:
        raise DataError(
            f"municipality key {path} lists no municipality for region {region.code} "
            f"({region.name_fi})"
        )
    return codes


def _wanted(codes: Iterable[object] | None) -> set[str] | None:
    if codes is None:
        return None
    wanted = set(_codes(codes, source="municipalities=", field="code"))
    if not wanted:
        raise DataError("municipalities= is empty; give at least one municipality code")
    return wanted


def _check_known(wanted: set[str] | None, have: Iterable[str], *, what: str) -> None:
    if wanted is None:
        return
    unknown = sorted(wanted - set(have))
    if unknown:
        raise DataError(
            f"no {what} for municipality code(s) {', '.join(unknown)} in the packaged "
            f"{KEY_YEAR} division; see optimizer.finland.municipality_key()"
        )


# --------------------------------------------------------------------------- facts


def municipality_boundaries(codes: Iterable[object] | None = None) -> gpd.GeoDataFrame:
    """Return municipality boundaries of the 2023 division (EPSG:3067).

    The polygons are Statistics Finland's 1:4 500 000 boundaries of 2019,
    merged to the 2023 division (Valtimo into Nurmes, Honkajoki into
    Kankaanpää) and simplified without gaps or overlaps (no vertex moved more
    than about 120 m; see ``data/finland/README.md``).

    Parameters
    ----------
    codes
        Only these municipality codes (``"167"``, ``167``); default all 309.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``kunta`` (3-digit code), ``nimi``, ``namn``; (multi)polygons in
        EPSG:3067, sorted by code.

    Raises
    ------
    DataError
        If a code is not a municipality of the 2023 division.
    """
    wanted = _wanted(codes)
    path = facts_dir() / _BOUNDARY_FILE
    gdf = read_vector(path, what="municipality boundaries")
    gdf["kunta"] = _codes(gdf["kunta"], source=str(path), field="kunta")
    _check_known(wanted, gdf["kunta"], what="boundary")
    if wanted is not None:
        gdf = gdf[gdf["kunta"].isin(wanted)]
    return gdf.sort_values("kunta").reset_index(drop=True)


def municipality_populations(
    year: int = 2022, *, codes: Iterable[object] | None = None
) -> pd.Series:
    """Return residents by municipality on 31 December of ``year`` (THL Sotkanet).

    Parameters
    ----------
    year
        The year; the packaged table covers 2000-2022.
    codes
        Only these municipality codes; default all municipalities of the table.

    Returns
    -------
    pandas.Series
        Residents (``int64``) indexed by 3-digit municipality code, named
        ``population``. For 2022 the whole country sums to 5,563,970.

    Raises
    ------
    DataError
        If the year is not in the table or a code has no figure.
    """
    import numpy as np
    import pandas as pd

    path = facts_dir() / _POPULATION_FILE
    table = read_csv(path, what="municipal populations")
    years = sorted(int(y) for y in table["year"].unique())
    if isinstance(year, bool) or int(year) not in years:
        raise DataError(
            f"{path} has no populations for {year!r}; years available: {years[0]}-{years[-1]}"
        )
    rows = table[table["year"] == int(year)]
    series = pd.Series(
        rows["population"].to_numpy(dtype=np.int64),
        index=pd.Index(_codes(rows["municipality_code"], source=str(path), field="code")),
        name="population",
    ).sort_index()
    wanted = _wanted(codes)
    _check_known(wanted, series.index, what=f"{year} population")
    return series if wanted is None else series[sorted(wanted)]


def central_localities(codes: Iterable[object] | None = None) -> gpd.GeoDataFrame:
    """Return the central locality of each municipality (EPSG:3067 points).

    The points are the National Land Survey's place-name label points of each
    municipality's central locality (the municipal centre). Two municipalities
    of the 2023 division have none in the table (Pertunmaa 588 and Tuusula
    858); they are left out, so callers fall back to a point inside the
    municipality.

    Parameters
    ----------
    codes
        Only these municipality codes; default all.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by 3-digit ``kunta``, with ``name`` (the municipality's Finnish
        name from the key) and ``label`` (the NLS label text, upper case).
    """
    import geopandas as gpd
    import pandas as pd

    path = facts_dir() / _LOCALITY_FILE
    table = read_csv(path, what="central localities")
    table["kunta"] = _codes(table["kuntatunnus"], source=str(path), field="kuntatunnus")
    names = municipality_key().set_index("kunta")["municipality_name_fi"]
    table = table[table["kunta"].isin(names.index)].drop_duplicates("kunta")
    wanted = _wanted(codes)
    if wanted is not None:
        unknown = sorted(wanted - set(names.index))
        _check_known(set(unknown) or None, (), what="municipality")
        table = table[table["kunta"].isin(wanted)]
    points = gpd.GeoDataFrame(
        {"name": table["kunta"].map(names).to_numpy(), "label": table["teksti"].to_numpy()},
        geometry=gpd.points_from_xy(table["X"], table["Y"]),
        index=pd.Index(table["kunta"].to_numpy(), name="kunta"),
        crs="EPSG:4326",
    ).to_crs(3067)
    return points.sort_index()

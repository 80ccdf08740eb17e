"""The schema of ``region.toml``: read and check it, and write it back.

A bundle's ``region.toml`` holds these keys, and no others::

    name = "Pohjois-Karjala"      # display name (text)
    slug = "pohjois-karjala"      # folder and command-line name: passes safe_name
    code = "12"                   # region code (text or integer)
    year = 2022                   # data year (integer, 1900-2100)
    crs = "EPSG:3067"             # must be the settings' CRS
    notes = "..."                 # optional text

    [layers]                      # file of each layer, inside the bundle folder
    population = "population.gpkg"
    roads = "roads.gpkg"
    sites = "sites.gpkg"
    boundary = "boundary.gpkg"    # optional

    [synthetic]                   # which layers are synthetic (booleans)
    [sources]                     # where each layer comes from (text)
    [licences]                    # the licence of each layer (text)

An unknown key is an error with the closest allowed key as a hint (as in
scenario files). A layer named in ``[layers]`` must exist; without a
``[layers]`` table, or for a layer it leaves out, the default file names above
are used (the boundary only when ``boundary.gpkg`` exists). Booleans follow
:mod:`optimizer._fields`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from optimizer._fields import parse_bool
from optimizer._names import safe_name
from optimizer.errors import BundleNotFoundError, CRSError, DataError

__all__ = ["DEFAULT_FILES", "LAYERS", "TOP_KEYS", "BundleSpec", "dump_region_toml", "parse"]

LAYERS: tuple[str, ...] = ("population", "roads", "sites", "boundary")
"""The layers of a bundle; all but ``boundary`` are required."""

DEFAULT_FILES: Mapping[str, str] = {layer: f"{layer}.gpkg" for layer in LAYERS}
"""File of each layer when ``[layers]`` does not name one."""

TOP_KEYS: tuple[str, ...] = (
    "name",
    "slug",
    "code",
    "year",
    "crs",
    "notes",
    "layers",
    "synthetic",
    "sources",
    "licences",
)
"""The keys allowed at the top of ``region.toml``."""

_TABLES = ("layers", "synthetic", "sources", "licences")


@dataclass(frozen=True)
class BundleSpec:
    """What a checked ``region.toml`` says."""

    name: str
    slug: str
    code: str
    year: int
    crs: str
    notes: str
    files: Mapping[str, Path]
    synthetic: Mapping[str, bool]
    sources: Mapping[str, str]
    licences: Mapping[str, str]


def _unknown(keys: list[str], allowed: tuple[str, ...], where: str) -> DataError:
    hints = []
    for key in keys:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return DataError(f"{where}: unknown key(s) {', '.join(hints)}; allowed: {', '.join(allowed)}")


def _text(raw: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    if key not in raw:
        if required:
            raise DataError(f"{where}: missing key {key!r}")
        return None
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key} = {value!r} must be non-empty text")
    return value


def _table(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, Mapping):
        raise DataError(f"{where}: {key} must be a table ([{key}]), got {value!r}")
    return value


def _texts(raw: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    table = _table(raw, key, where)
    bad = [k for k, v in table.items() if not isinstance(v, str)]
    if bad:
        raise DataError(f"{where}: [{key}] {', '.join(bad)} must be text")
    return dict(table)


def parse(raw: Mapping[str, Any], *, path: Path, crs: str) -> BundleSpec:
    """Check the contents of a ``region.toml`` and resolve its layer files.

    Parameters
    ----------
    raw
        The parsed TOML.
    path
        The ``region.toml`` file (its folder holds the layers).
    crs
        The CRS the bundle must declare.

    Returns
    -------
    BundleSpec
        The checked values; ``files`` holds the path of every layer present.

    Raises
    ------
    DataError
        If a key is unknown or missing, a value has the wrong type, a slug or
        file name is not a safe name, or a synthetic flag is not a boolean.
    CRSError
        If ``crs`` differs from the required CRS.
    BundleNotFoundError
        If a layer file is missing.
    """
    where = str(path)
    unknown = sorted(set(raw) - set(TOP_KEYS))
    if unknown:
        raise _unknown(unknown, TOP_KEYS, where)
    name = _text(raw, "name", where, required=True)
    assert name is not None
    slug = _text(raw, "slug", where, required=False) or path.parent.name
    safe_name(slug, what=f"bundle slug in {where}")
    code = raw.get("code")
    if isinstance(code, bool) or not isinstance(code, (str, int)) or not str(code).strip():
        raise DataError(f'{where}: code = {code!r} must be text such as "12" (missing or empty)')
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2100:
        raise DataError(f"{where}: year = {year!r} must be a whole year between 1900 and 2100")
    declared = raw.get("crs", crs)
    if not isinstance(declared, str) or declared.strip().upper() != crs.upper():
        raise CRSError(
            f"{where}: crs = {declared!r}, but layers must be in {crs}; "
            "reproject the layers and update region.toml"
        )
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise DataError(f"{where}: notes must be text")
    for key in _TABLES:
        _table(raw, key, where)
    layers = _texts(raw, "layers", where)
    for key, allowed in (("layers", LAYERS), ("synthetic", LAYERS)):
        extra = sorted(set(_table(raw, key, where)) - set(allowed))
        if extra:
            raise _unknown(extra, allowed, f"{where} [{key}]")
    synthetic = {
        k: parse_bool(v, where=f"{where} [synthetic] {k}")
        for k, v in _table(raw, "synthetic", where).items()
    }
    files: dict[str, Path] = {}
    for layer in LAYERS:
        named = layer in layers
        file_name = safe_name(
            layers.get(layer, DEFAULT_FILES[layer]), what=f"{where} [layers] {layer}"
        )
        file = path.parent / file_name
        if layer == "boundary" and not named and not file.exists():
            continue
        if not file.exists():
            raise BundleNotFoundError(
                f"{file}: the {layer} layer of bundle {path.parent} is missing "
                f"(region.toml [layers] {layer} = {file_name!r}); restore the file or "
                "rebuild the bundle"
            )
        files[layer] = file
    return BundleSpec(
        name=name,
        slug=slug,
        code=str(code),
        year=int(year),
        crs=declared,
        notes=notes,
        files=files,
        synthetic=synthetic,
        sources=_texts(raw, "sources", where),
        licences=_texts(raw, "licences", where),
    )


def dump_region_toml(
    *,
    name: str,
    slug: str,
    code: str,
    year: int,
    crs: str,
    layers: Mapping[str, str],
    synthetic: Mapping[str, bool],
    sources: Mapping[str, str],
    licences: Mapping[str, str],
    notes: str = "",
) -> str:
    """Return the text of a ``region.toml`` (the inverse of :func:`parse`)."""
    meta: dict[str, Any] = {
        "name": name,
        "slug": slug,
        "code": code,
        "year": int(year),
        "crs": crs,
        "layers": dict(layers),
        "synthetic": {k: bool(v) for k, v in synthetic.items()},
        "sources": dict(sources),
        "licences": dict(licences),
    }
    if notes:
        meta["notes"] = notes
    return tomli_w.dumps(meta)

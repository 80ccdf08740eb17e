"""Find region bundles: the folders that ``optimizer.region.load_region`` reads.

:func:`resolve_region` turns a bundle folder, a ``region.toml``, or a region's
slug, name (in any of its languages) or code into a bundle folder. It looks
in the extra ``bundles`` folders first, then in ``settings.regions_dir``
(bundled with the package) and ``settings.cache_dir / "regions"`` (fetched).
:func:`list_regions` lists what it finds and the mainland regions that can
still be fetched. Names are matched with :func:`optimizer._names.fold`.

This module reads only ``region.toml`` files and the static catalogue of
:mod:`optimizer.finland`, so ``optimizer regions`` starts without geopandas.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optimizer import _region_toml, finland
from optimizer._files import read_toml
from optimizer._names import fold
from optimizer.errors import BundleNotFoundError, OptimizerError, UnknownRegionError
from optimizer.settings import Settings, get_settings

__all__ = ["RegionEntry", "list_regions", "resolve_region"]


@dataclass(frozen=True)
class RegionEntry:
    """A region that can be loaded or fetched (a row of ``optimizer regions``).

    ``status`` is ``"extra"`` (in a ``bundles`` folder given by the caller),
    ``"bundled"`` (shipped in the data folder), ``"cached"`` (fetched into the
    cache), ``"fetchable"`` (a mainland region with no local bundle) or
    ``"invalid"`` (a bundle whose ``region.toml`` cannot be used; ``problem``
    says why).
    """

    slug: str
    name: str
    code: str
    status: str
    synthetic: bool
    path: Path | None
    problem: str | None = None


def _bundle_folders(root: Path) -> list[Path]:
    if (root / "region.toml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/region.toml"))


def _roots(
    bundles: Sequence[str | os.PathLike[str]], settings: Settings, search_defaults: bool
) -> list[tuple[Path, str]]:
    roots = []
    for extra in bundles:
        path = Path(extra).expanduser()
        if not path.is_dir():
            raise BundleNotFoundError(
                f"bundle folder {path} does not exist; give a folder of region bundles "
                "(e.g. written by `optimizer synth`)"
            )
        roots.append((path, "extra"))
    if search_defaults:
        roots += [(settings.regions_dir, "bundled"), (settings.cache_dir / "regions", "cached")]
    return roots


def _entry(folder: Path, status: str, settings: Settings) -> RegionEntry:
    try:
        spec = _region_toml.parse(
            read_toml(folder / "region.toml", what="bundle description"),
            path=folder / "region.toml",
            crs=settings.crs,
        )
    except OptimizerError as exc:
        return RegionEntry(folder.name, folder.name, "", "invalid", False, folder, str(exc))
    synthetic = any(spec.synthetic.values())
    return RegionEntry(spec.slug, spec.name, spec.code, status, synthetic, folder)


def list_regions(
    *,
    bundles: Sequence[str | os.PathLike[str]] = (),
    settings: Settings | None = None,
    search_defaults: bool = True,
) -> list[RegionEntry]:
    """List the bundles found locally and the mainland regions that can be fetched.

    Parameters
    ----------
    bundles
        Extra folders to search first: each is a bundle folder or holds bundle
        folders (e.g. the output of ``optimizer synth``).
    settings
        Environment defaults; read from the environment when ``None``.
    search_defaults
        Also search the data folder and the cache (and list the fetchable
        mainland regions); false lists only what ``bundles`` hold.

    Returns
    -------
    list of RegionEntry
        Local bundles first, in search order, then each of the 18 mainland
        regions without a local bundle as ``fetchable``.

    Raises
    ------
    BundleNotFoundError
        If a folder of ``bundles`` does not exist.
    """
    settings = settings or get_settings()
    entries = [
        _entry(folder, status, settings)
        for root, status in _roots(bundles, settings, search_defaults)
        for folder in _bundle_folders(root)
    ]
    if search_defaults:
        have = {e.slug for e in entries} | {fold(e.code) for e in entries if e.code}
        for reg in finland.MAINLAND_REGIONS:
            if reg.slug not in have and fold(reg.code) not in have:
                entries.append(
                    RegionEntry(reg.slug, reg.name_fi, reg.code, "fetchable", False, None)
                )
    return entries


def _keys(entry: RegionEntry) -> set[str]:
    keys = {fold(entry.slug), fold(entry.name)}
    if entry.code:
        keys.add(fold(entry.code))
    if entry.path is not None:
        keys.add(fold(entry.path.name))
    return keys


def resolve_region(
    name_or_path: str | os.PathLike[str],
    *,
    bundles: Sequence[str | os.PathLike[str]] = (),
    settings: Settings | None = None,
    search_defaults: bool = True,
) -> Path:
    """Find the bundle folder of a region.

    Parameters
    ----------
    name_or_path
        A bundle folder or its ``region.toml``; or the slug, name or code of a
        local bundle (``"pohjois-karjala"``, ``"Pohjois-Karjala"``, ``"12"``), or
        any name of a mainland region (``"Norra Karelen"``), matched with
        :func:`optimizer._names.fold`.
    bundles
        Extra folders searched first (see :func:`list_regions`).
    settings
        Environment defaults; read from the environment when ``None``.
    search_defaults
        Also search the data folder and the cache.

    Returns
    -------
    pathlib.Path
        The bundle folder (it holds ``region.toml``).

    Raises
    ------
    UnknownRegionError
        If the name matches no region; the message suggests the closest names.
    BundleNotFoundError
        If the region is known but has no bundle here; the message says how to
        build one.
    """
    settings = settings or get_settings()
    candidate = Path(name_or_path).expanduser()
    if (candidate / "region.toml").is_file():
        return candidate
    if candidate.name == "region.toml" and candidate.is_file():
        return candidate.parent
    entries = list_regions(bundles=bundles, settings=settings, search_defaults=search_defaults)
    key = fold(name_or_path)
    for entry in entries:
        if entry.path is not None and key in _keys(entry):
            return entry.path
    try:
        info: finland.RegionInfo | None = finland.find_region(str(name_or_path))
    except UnknownRegionError:
        info = None
    if info is not None:
        for entry in entries:
            if entry.path is not None and (
                entry.slug == info.slug or (entry.code and fold(entry.code) == fold(info.code))
            ):
                return entry.path
        if bundles and not search_defaults:
            fix = f"`optimizer synth --regions {int(info.code)} --out {Path(bundles[0])}`"
        else:
            fix = f"`optimizer fetch {info.slug}` (online)"
        raise BundleNotFoundError(
            f"region {info.name_fi!r} ({info.code}) has no bundle on this machine; build it "
            f"with {fix} or `optimizer bundle --from-files` from your own grid, roads and sites"
        )
    names = sorted({e.slug for e in entries} | {e.name for e in entries})
    folded = {fold(n): n for n in names}
    close = difflib.get_close_matches(key, list(folded), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(folded[c]) for c in close)}?" if close else ""
    raise UnknownRegionError(
        f"unknown region {str(name_or_path)!r}: not a bundle folder nor a known region name, "
        f"slug or code{hint} (`optimizer regions` lists them)"
    )

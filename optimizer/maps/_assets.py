"""Render a map to HTML and write it, with Leaflet from a CDN, inlined or from a local folder.

Folium loads Leaflet from a CDN; ``assets="inline"`` embeds local copies of the
scripts and stylesheets instead, so the file opens offline except for the
basemap tiles, and ``assets="local"`` points the page at a folder or URL that
serves those copies. Assets the map does not use (folium's jQuery, Bootstrap,
Font Awesome and awesome-markers, d3) are dropped in both modes.
"""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import folium

from optimizer._io import write_text_atomic
from optimizer.errors import OutputError
from optimizer.settings import Settings, get_settings

__all__ = ["AssetMode", "map_html", "save_map"]

logger = logging.getLogger(__name__)

#: How a saved map loads Leaflet and friends.
AssetMode = Literal["cdn", "inline", "local"]

_SCRIPT = re.compile(r'<script\b[^>]*?\bsrc="([^"]+)"[^>]*>\s*</script>', re.IGNORECASE)
_LINK = re.compile(r'<link\b[^>]*?\bhref="([^"]+)"[^>]*?/?>', re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_DATA_BLOB = re.compile(
    r"<script\b[^>]*\btype=\"application/json\"[^>]*>.*?</script>", re.IGNORECASE | re.DOTALL
)

#: Folium's default assets that a map may not use, with a test on the page's own code.
_OPTIONAL_ASSETS: tuple[tuple[str, Any], ...] = (
    ("jquery", lambda code: re.search(r"\$\(|\bjQuery\b", code) is not None),
    ("awesome", lambda code: "AwesomeMarkers" in code),
    ("fontawesome", lambda code: "AwesomeMarkers" in code or re.search(r"\bfa-", code)),
    ("glyphicons", lambda code: "AwesomeMarkers" in code or "glyphicon" in code),
    ("bootstrap", lambda code: "AwesomeMarkers" in code or "data-bs-" in code),
    ("/d3/", lambda code: re.search(r"\bd3\.", code) is not None),
)


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def _needed(url: str, code: str) -> bool:
    lower = url.lower()
    for marker, used in _OPTIONAL_ASSETS:
        if marker in lower:
            return bool(used(code))
    return True


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _inline_css(css: str, folder: Path, missing: list[str]) -> str:
    def replace(match: re.Match[str]) -> str:
        ref = match.group(1).strip()
        if ref.startswith(("data:", "#", "http://", "https://", "//")):
            return match.group(0)
        target = folder / ref.split("?")[0].split("#")[0]
        if not target.is_file():
            missing.append(str(target))
            return match.group(0)
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(replace, css)


def _default_asset_dir(settings: Settings | None) -> Path:
    return (settings or get_settings()).data_dir / "vendor"


def map_html(
    m: folium.Map,
    *,
    assets: AssetMode = "cdn",
    asset_dir: str | os.PathLike[str] | None = None,
    asset_url: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Render a map to a standalone HTML string.

    Parameters
    ----------
    m
        The map.
    assets
        ``"cdn"``: folium's CDN links, unchanged. ``"inline"``: embed local
        copies of the scripts and stylesheets (and the images they refer to)
        so the page opens offline except for basemap tiles. ``"local"``: point
        the links at ``asset_url`` + file name. Both drop folium's default
        assets the page does not use.
    asset_dir
        Folder with the local copies, looked up by file name (``leaflet.js``,
        ``leaflet.css``, ``images/...``); default ``<data_dir>/vendor``.
    asset_url
        Base URL or relative folder for ``"local"`` (e.g. ``"vendor/"``).
    settings
        Settings for the default ``asset_dir``.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    OutputError
        If a needed asset has no local copy (the message lists the files and
        the folder), or ``"local"`` is asked without ``asset_url``.
    """
    page = m.get_root().render()
    if assets == "cdn":
        return page
    if assets not in ("inline", "local"):
        raise OutputError(f"assets must be 'cdn', 'inline' or 'local', got {assets!r}")
    if assets == "local" and not asset_url:
        raise OutputError("assets='local' needs asset_url, the base URL of the local copies")
    folder = Path(asset_dir) if asset_dir is not None else _default_asset_dir(settings)
    # the page's own code, without its data (a site named "$(x)" must not pull in jQuery)
    code = _LINK.sub("", _SCRIPT.sub("", _DATA_BLOB.sub("", page)))
    missing: list[str] = []

    base = (asset_url or "").rstrip("/") + "/"

    def local_file(url: str) -> Path | None:
        name = Path(urlparse(url if not url.startswith("//") else "https:" + url).path).name
        path = folder / name
        if assets == "inline" and not path.is_file():
            missing.append(str(path))
            return None
        return path

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        if not _is_remote(url):
            return match.group(0)
        if not _needed(url, code):
            return ""
        path = local_file(url)
        if assets == "local":
            return f'<script src="{html.escape(base + Path(url).name)}"></script>'
        if path is None:
            return match.group(0)
        text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))
        return "<script>" + text.replace("</script", "<\\/script") + "</script>"

    def link(match: re.Match[str]) -> str:
        url = match.group(1)
        tag = match.group(0)
        if not _is_remote(url) or "stylesheet" not in tag.lower():
            return tag
        if not _needed(url, code):
            return ""
        path = local_file(url)
        if assets == "local":
            return tag.replace(url, html.escape(base + Path(url).name))
        if path is None:
            return tag
        css = _inline_css(path.read_text(encoding="utf-8"), path.parent, missing)
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    page = _SCRIPT.sub(script, page)
    page = _LINK.sub(link, page)
    if missing:
        raise OutputError(
            f"no local copy of {', '.join(sorted(set(missing)))} for an offline map; put the "
            f"files in {folder} (the package ships Leaflet in data/vendor) or save with "
            "assets='cdn'"
        )
    return page


def save_map(
    m: folium.Map,
    path: str | os.PathLike[str],
    *,
    assets: AssetMode = "cdn",
    asset_dir: str | os.PathLike[str] | None = None,
    asset_url: str | None = None,
    settings: Settings | None = None,
) -> Path:
    """Write a map to an HTML file atomically (temporary file, then rename).

    Parameters
    ----------
    m
        The map.
    path
        Target file; its folder is created if needed.
    assets, asset_dir, asset_url, settings
        See :func:`map_html`.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputError
        If the folder cannot be created or written, or an asset is missing.
    """
    page = map_html(m, assets=assets, asset_dir=asset_dir, asset_url=asset_url, settings=settings)
    target = write_text_atomic(path, page)
    logger.info("wrote map %s (%.1f MB)", target, len(page) / 1e6)
    return target

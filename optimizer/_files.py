"""Read input files so that every failure is a project error naming the file.

GDAL (through pyogrio), pandas, zipfile, tomllib and the operating system each
fail in their own way on a bad file: a corrupt GeoPackage, a broken zip or
shapefile, a permission problem, a folder where a file should be, text in an
unexpected encoding. The readers here turn each of these into
:class:`~optimizer.errors.BundleNotFoundError` (the file is not there) or
:class:`~optimizer.errors.DataError` (it cannot be read), with one line that
names the file and says what to do. Nothing else escapes as a traceback.
"""

from __future__ import annotations

import logging
import tomllib
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer._io import logged_warnings
from optimizer.errors import BundleNotFoundError, DataError

if TYPE_CHECKING:  # the readers import GDAL, pandas and pyproj when first called
    import geopandas as gpd
    import pandas as pd

__all__ = ["crs_label", "read_csv", "read_toml", "read_vector", "short_reason"]

logger = logging.getLogger(__name__)

_MAX_REASON = 200


def short_reason(exc: BaseException) -> str:
    """Return the first line of an exception's message, at most 200 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."


def crs_label(crs: object) -> str:
    """Name a CRS briefly for a message: ``"EPSG:3879"`` or its name, never a whole WKT.

    Parameters
    ----------
    crs
        Anything :class:`pyproj.CRS` reads, or ``None``.
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as PyprojCRSError

    if crs is None:
        return "no CRS"
    try:
        parsed = CRS.from_user_input(crs)
    except (PyprojCRSError, TypeError, ValueError):
        text = str(crs)
        return text if len(text) <= 60 else text[:57] + "..."
    code = parsed.to_epsg(min_confidence=50)
    if code is not None:
        return f"EPSG:{code} ({parsed.name})"
    return parsed.name or "an unnamed CRS"


def _check_path(path: Path, what: str) -> None:
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise DataError(f"{what} {path} is a folder, not a file; give the path of the file")
    if not path.exists():
        raise BundleNotFoundError(f"{what} {path} does not exist; check the path")


def _os_error(exc: OSError, path: Path, what: str) -> DataError:
    if isinstance(exc, PermissionError):
        return DataError(
            f"cannot read {what} {path}: permission denied; make the file readable "
            "(e.g. chmod u+r) or copy it somewhere you can read"
        )
    if isinstance(exc, IsADirectoryError):
        return DataError(f"{what} {path} is a folder, not a file; give the path of the file")
    return DataError(f"cannot read {what} {path}: {short_reason(exc)}")


def _encoding_error(exc: UnicodeDecodeError, path: Path, what: str) -> DataError:
    return DataError(
        f"cannot read {what} {path}: its text is not UTF-8 ({short_reason(exc)}); save it as "
        "UTF-8, or for a shapefile add a .cpg file that names its encoding (e.g. CP1252)"
    )


def read_vector(path: str | Path, *, what: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a GeoPackage, GeoJSON, shapefile (or zipped shapefile) with pyogrio.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages (e.g. ``"population grid"``).
    layer
        The layer of a multi-layer file; default the first (logged when the file
        has several).

    Returns
    -------
    geopandas.GeoDataFrame
        The layer, with its CRS as stored.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    DataError
        If it cannot be read (corrupt, wrong format, permission, encoding, a
        folder, a missing layer); the message names the file.
    """
    path = Path(path)
    _check_path(path, what)
    with logged_warnings(f"{what} {path}"):
        return _read_vector(path, what=what, layer=layer)


def _read_vector(path: Path, *, what: str, layer: str | None) -> gpd.GeoDataFrame:
    import geopandas as gpd
    import pyogrio
    import pyogrio.errors

    try:
        if layer is None:
            layers = pyogrio.list_layers(path)
            if len(layers) > 1:
                layer = str(layers[0][0])
                logger.info(
                    "%s %s has %d layers; reading the first, %r",
                    what,
                    path,
                    len(layers),
                    layer,
                )
        return gpd.read_file(path, layer=layer, engine="pyogrio")
    except pyogrio.errors.DataLayerError as exc:
        try:
            names = ", ".join(str(n) for n in pyogrio.list_layers(path)[:, 0])
        except pyogrio.errors.DataSourceError:
            names = "?"
        raise DataError(
            f"cannot read {what} {path}: layer {layer!r} not found ({short_reason(exc)}); "
            f"layers in the file: {names}"
        ) from None
    except (pyogrio.errors.DataSourceError, pyogrio.errors.FieldError) as exc:
        raise DataError(
            f"cannot read {what} {path}: {short_reason(exc)}. It is not a readable GeoPackage, "
            "GeoJSON or shapefile (or it is damaged); re-export it, e.g. with QGIS or ogr2ogr"
        ) from None
    except pyogrio.errors.GeometryError as exc:
        raise DataError(f"cannot read {what} {path}: bad geometry: {short_reason(exc)}") from None
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"cannot read {what} {path}: broken zip file ({short_reason(exc)})"
        ) from None
    except UnicodeDecodeError as exc:
        raise _encoding_error(exc, path, what) from None
    except OSError as exc:
        raise _os_error(exc, path, what) from None


def read_csv(path: str | Path, *, what: str, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV table with pandas, turning every failure into a project error.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages.
    **kwargs
        Passed to :func:`pandas.read_csv` (e.g. ``dtype=str``).

    Raises
    ------
    BundleNotFoundError, DataError
        As :func:`read_vector`.
    """
    import pandas as pd

    path = Path(path)
    _check_path(path, what)
    try:
        return pd.read_csv(path, **kwargs)
    except UnicodeDecodeError as exc:
        raise _encoding_error(exc, path, what) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"cannot read {what} {path} as CSV: {short_reason(exc)}") from None
    except OSError as exc:
        raise _os_error(exc, path, what) from None


def read_toml(path: str | Path, *, what: str) -> dict[str, Any]:
    """Read a TOML file, turning every failure into a project error.

    Raises
    ------
    BundleNotFoundError
        If the file does not exist.
    DataError
        If it cannot be read or is not valid TOML (with the parser's line and column).
    """
    path = Path(path)
    _check_path(path, what)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise _encoding_error(exc, path, what) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: invalid TOML: {short_reason(exc)}") from None
    except OSError as exc:
        raise _os_error(exc, path, what) from None

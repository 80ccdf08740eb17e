"""Environment defaults: where data, caches and outputs live, solver and CRS.

The settings are one frozen, validated object. Nothing in the package keeps
global mutable state: functions that need a default take an optional
``settings`` argument and call :func:`get_settings` when it is ``None``, which
reads the environment at call time.

Each field can be set with an environment variable ``OPTIMIZER_<FIELD>``
(for example ``OPTIMIZER_CACHE_DIR=/scratch/cache``). Unknown ``OPTIMIZER_``
variables are rejected, so a typo does not silently do nothing.

Fields
------
data_dir
    Folder that holds region bundles under ``regions/`` and scenarios under
    ``scenarios/``. Defaults to the data shipped with the package.
cache_dir
    Folder for downloads and travel-time matrices
    (default ``$XDG_CACHE_HOME/optimizer`` or ``~/.cache/optimizer``).
output_dir
    Folder where ``optimizer run`` writes results (default ``./results``):
    each run writes ``<output_dir>/<region>-<scenario>/`` with its summary,
    GeoPackage, map and report.
solver
    Default MILP solver: ``"highs"`` (highspy) or ``"cbc"`` (bundled with PuLP).
crs
    Projected CRS every layer is validated against (default ``EPSG:3067``,
    ETRS-TM35FIN).
http_timeout
    Seconds to wait for an online data source before failing.
max_uncovered_share
    Largest share of a bundle's residents that may lie farther than the snap
    threshold from its roads before the bundle fails validation (default 0.05).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from optimizer.errors import OptimizerError

__all__ = ["Settings", "default_data_dir", "get_settings"]


def default_data_dir() -> Path:
    """Return the data folder shipped with the package.

    A wheel carries the data inside the package (``optimizer/data``); a source
    checkout or editable install uses the repository's top-level ``data/``.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "data"
    if packaged.is_dir():
        return packaged
    return here.parent / "data"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "optimizer"


class Settings(BaseSettings):
    """Validated environment defaults (see the module docstring)."""

    model_config = SettingsConfigDict(
        env_prefix="OPTIMIZER_", frozen=True, extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    output_dir: Path = Path("results")
    solver: Literal["highs", "cbc"] = "highs"
    crs: str = "EPSG:3067"
    http_timeout: float = Field(default=60.0, gt=0)
    max_uncovered_share: float = Field(default=0.05, ge=0, le=1)

    @property
    def regions_dir(self) -> Path:
        """Folder holding the region bundles."""
        return self.data_dir / "regions"


def get_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with optional overrides.

    Parameters
    ----------
    **overrides
        Field values that take precedence over the environment.

    Returns
    -------
    Settings
        A frozen settings object.

    Raises
    ------
    OptimizerError
        If an environment variable or override is not a valid setting.
    """
    known = {f"OPTIMIZER_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith("OPTIMIZER_") and k not in known)
    if unknown:
        raise OptimizerError(
            f"unknown environment setting(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(known))}"
        )
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise OptimizerError(f"invalid settings: {exc}") from exc

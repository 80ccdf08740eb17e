"""Plan joint service points and remote-service points for Finnish regions."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from optimizer import errors, settings

try:
    __version__ = version("service-network-optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__", "errors", "settings"]

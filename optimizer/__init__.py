"""Plan joint service points and remote-service points for Finnish regions.

The package has one module per pipeline stage (``docs/architecture.md`` draws
the tree): :mod:`~optimizer.finland` (national facts), :mod:`~optimizer.sources`
(online data, your own files, synthetic bundles), :mod:`~optimizer.network`
(roads), :mod:`~optimizer.population` (grid), :mod:`~optimizer.region`
(bundles), :mod:`~optimizer.traveltimes`, :mod:`~optimizer.models`,
:mod:`~optimizer.estimates`, :mod:`~optimizer.scenario`,
:mod:`~optimizer.outputs`, :mod:`~optimizer.maps` and :mod:`~optimizer.batch`.
The names below are the everyday entry points.

Submodules and names are imported on first use (``lazy_loader`` reads them from
``__init__.pyi``, the one list of what the package offers), so ``import optimizer``
and the command line stay quick and do not load folium, dask or osmnx before they
are needed.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import lazy_loader

try:
    __version__ = version("service-network-optimizer")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
__all__ = [*__all__, "__version__"]

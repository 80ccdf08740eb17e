"""Deprecated alias of :mod:`optimizer.sources.synthetic` (kept for one release).

Import from :mod:`optimizer.sources.synthetic` instead. The alias re-exports
exactly that module's public names (its ``__all__``).
"""

from __future__ import annotations

from optimizer.sources.synthetic import *  # noqa: F403
from optimizer.sources.synthetic import __all__  # noqa: F401

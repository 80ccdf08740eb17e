"""Folium maps of a service network that show the decision, safe for any data.

:func:`map_solution` draws, on a new or a given Folium map:

- cell layers a planner switches between, each with its own legend: travel
  time to the nearest full (joint) service point, to the nearest point of any
  kind, the change of each against the baseline (diverging colours), and
  catchments filled in one colour per site with neighbours in different
  colours, plus catchment boundaries as an overlay;
- full, remote, kept, new, closed and unused points with distinct symbols, a
  name label beside each chosen site, and popups with the site's load,
  residents served and mean travel time; clicking a cell shows its figures;
- a panel with the headline access figures (to full and to any points) beside
  the baseline's, a banner when layers are synthetic, and the data-quality
  figures when they are poor.

Every label comes from the message catalogue (:mod:`optimizer.i18n`) in
English, Finnish or Swedish. Cells are drawn as images in the map's
projection, not as one polygon each, so a national grid opens in seconds.

No data ever becomes markup, template or code: it travels as one JSON blob
that the page's script reads and shows with ``textContent`` (see
:mod:`optimizer.maps._page`).

:func:`map_html` renders a map to a standalone page, with Leaflet from a CDN,
inlined (opens offline, except the basemap tiles) or from a local folder, and
:func:`save_map` writes it atomically.
"""

from __future__ import annotations

from optimizer.maps._assets import AssetMode, map_html, save_map
from optimizer.maps._figures import (
    AccessFigures,
    CostFigures,
    NetworkFigures,
    QualityFigures,
    TravelFigures,
)
from optimizer.maps._solution import SITE_ROLES, map_solution

__all__ = [
    "SITE_ROLES",
    "AccessFigures",
    "AssetMode",
    "CostFigures",
    "NetworkFigures",
    "QualityFigures",
    "TravelFigures",
    "map_html",
    "map_solution",
    "save_map",
]

"""The cell layers of the map: colour classes, legends and images.

Each layer is a dict for the page's data blob: its key, its name in the layer
control, a PNG data URI (see :mod:`optimizer.maps._raster`) and its legend
(title, note, and colour/label items). Classes are fixed and meaningful for a
planner: travel times break at 10, 20, 30, 45, 60 and 90 minutes (the shares
in the headline count up to 30 and 60), changes against the baseline at 1, 5,
15 and 30 minutes either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from optimizer.i18n import Lang, format_number, message
from optimizer.maps._raster import (
    CellRaster,
    catchment_borders,
    classify,
    colour_neighbours,
    png_data_uri,
)

__all__ = [
    "BORDER_COLOUR",
    "CATCHMENT_COLOURS",
    "boundary_layer",
    "catchment_layer",
    "change_layer",
    "minutes_layer",
]

TIME_BREAKS = (10.0, 20.0, 30.0, 45.0, 60.0, 90.0)
TIME_COLOURS = ("#1a9850", "#66bd63", "#a6d96a", "#fee08b", "#fdae61", "#f46d43", "#d73027")
CHANGE_BREAKS = (-15.0, -5.0, -1.0, 1.0, 5.0, 15.0, 30.0)
CHANGE_COLOURS = (
    "#2166ac",
    "#67a9cf",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
)
UNREACHABLE_COLOUR = "#969696"
LOST_COLOUR = "#40004b"
GAINED_COLOUR = "#00441b"
#: Qualitative fills for catchments, most distinct first (ColorBrewer Set3 without grey).
CATCHMENT_COLOURS = (
    "#fb8072",
    "#80b1d3",
    "#b3de69",
    "#fdb462",
    "#bebada",
    "#8dd3c7",
    "#fccde5",
    "#ffffb3",
    "#bc80bd",
    "#ccebc5",
)
BORDER_COLOUR = "#252525"
#: Catchment legends list the sites by name up to this many.
_LEGEND_SITES = 12


def _image(raster: CellRaster, cell_codes: NDArray[np.uint8], palette: Sequence[str]) -> str:
    lut = np.concatenate([np.zeros(1, np.uint8), cell_codes.astype(np.uint8)])
    return png_data_uri(lut[raster.index + 1], palette)


def _class_labels(breaks: Sequence[float], lang: Lang, *, signed: bool) -> list[str]:
    def num(x: float) -> str:
        return format_number(x, lang, signed=signed and x != 0)

    labels = [message("class_at_most", lang, a=num(breaks[0]))]
    for a, b in itertools.pairwise(breaks):
        key = "class_same" if signed and a < 0 < b else "class_range"
        labels.append(message(key, lang, a=num(a), b=num(b)))
    labels.append(message("class_over", lang, a=num(breaks[-1])))
    return labels


def _layer(
    key: str, name: str, image: str, title: str, items: list[list[str]], note: str | None = None
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "image": image,
        "legend": {"title": title, "note": note, "items": items},
    }


def minutes_layer(
    key: str, name: str, minutes: NDArray[np.float64], raster: CellRaster, lang: Lang
) -> dict[str, Any]:
    """Travel time classes; NaN and infinity (no road access) in grey."""
    codes = classify(minutes, TIME_BREAKS)
    unreachable = len(TIME_COLOURS) + 1
    codes[codes == 0] = unreachable
    items = [
        [c, label]
        for c, label in zip(
            TIME_COLOURS, _class_labels(TIME_BREAKS, lang, signed=False), strict=True
        )
    ]
    if (codes == unreachable).any():
        items.append([UNREACHABLE_COLOUR, message("class_unreachable", lang)])
    image = _image(raster, codes, (*TIME_COLOURS, UNREACHABLE_COLOUR))
    return _layer(key, name, image, message("legend_minutes", lang), items)


def change_layer(
    key: str, name: str, change: NDArray[np.float64], raster: CellRaster, lang: Lang
) -> dict[str, Any]:
    """Change in minutes against the baseline, diverging around "about the same".

    ``+inf`` means the cell loses road access, ``-inf`` that it gains it, NaN
    that it has none in either network.
    """
    codes = classify(change, CHANGE_BREAKS)
    n = len(CHANGE_COLOURS)
    lost, gained, none = n + 1, n + 2, n + 3
    codes[np.isposinf(change)] = lost
    codes[np.isneginf(change)] = gained
    codes[np.isnan(change)] = none
    items = [
        [c, label]
        for c, label in zip(
            CHANGE_COLOURS, _class_labels(CHANGE_BREAKS, lang, signed=True), strict=True
        )
    ]
    for code, colour, label in (
        (lost, LOST_COLOUR, "class_lost"),
        (gained, GAINED_COLOUR, "class_gained"),
        (none, UNREACHABLE_COLOUR, "class_unreachable"),
    ):
        if (codes == code).any():
            items.append([colour, message(label, lang)])
    image = _image(raster, codes, (*CHANGE_COLOURS, LOST_COLOUR, GAINED_COLOUR, UNREACHABLE_COLOUR))
    return _layer(key, name, image, message("legend_change", lang), items)


def catchment_layer(
    site_of_cell: NDArray[np.int64],
    site_names: Sequence[str],
    raster: CellRaster,
    lang: Lang,
) -> tuple[dict[str, Any], NDArray[np.bool_], NDArray[np.int64]]:
    """Catchments filled in one colour per site, neighbours in different colours.

    Parameters
    ----------
    site_of_cell
        Position of the serving site of each cell in ``site_names``, -1 if none.
    site_names
        Names of the sites.
    raster
        The cells' index raster.
    lang
        Language.

    Returns
    -------
    tuple
        The layer, the border pixels (for :func:`boundary_layer`) and the
        colour number of each site.
    """
    labels = np.where(raster.index >= 0, site_of_cell[np.maximum(raster.index, 0)], -1)
    colours = colour_neighbours(labels, len(site_names))
    k = len(CATCHMENT_COLOURS)
    unassigned, border_code = k + 1, k + 2
    cell_codes = np.where(site_of_cell >= 0, 1 + colours[site_of_cell] % k, unassigned)
    lut = np.concatenate([[0], cell_codes]).astype(np.uint8)
    pixels = lut[raster.index + 1]
    border = catchment_borders(labels)
    pixels[border] = border_code
    image = png_data_uri(pixels, (*CATCHMENT_COLOURS, UNREACHABLE_COLOUR, BORDER_COLOUR))

    serving = np.unique(site_of_cell[site_of_cell >= 0])
    items = [
        [CATCHMENT_COLOURS[colours[s] % k], str(site_names[s])]
        for s in sorted(serving[:_LEGEND_SITES], key=lambda s: str(site_names[s]))
    ]
    if len(serving) > _LEGEND_SITES:
        items.append(["", message("legend_more_sites", lang, n=len(serving) - _LEGEND_SITES)])
    if (site_of_cell < 0).any():
        items.append([UNREACHABLE_COLOUR, message("class_unassigned", lang)])
    items.append([BORDER_COLOUR, message("legend_boundary", lang)])
    layer = _layer(
        "catchments",
        message("layer_catchments", lang),
        image,
        message("layer_catchments", lang),
        items,
        note=message("legend_catchments", lang),
    )
    return layer, border, colours


def boundary_layer(border: NDArray[np.bool_], lang: Lang) -> dict[str, Any]:
    """Catchment boundaries alone, as an overlay on any cell layer."""
    image = png_data_uri(border.astype(np.uint8), (BORDER_COLOUR,))
    name = message("layer_boundaries", lang)
    return _layer(
        "boundaries", name, image, name, [[BORDER_COLOUR, message("legend_boundary", lang)]]
    )

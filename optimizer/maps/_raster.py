"""Grid cells as images: one small PNG per layer instead of one polygon per cell.

A national grid has about 90,000 cells; as GeoJSON polygons with a style each
the page is 30 MiB and takes a browser a minute to open. Here the cells are
drawn once into an index raster in Web Mercator (EPSG:3857, the map's own
projection, so the browser can stretch the image linearly): each pixel holds
the position of the cell it lies in, or -1. Every layer is then a palette PNG
made by looking up each pixel's cell in a per-cell array of colour classes,
which costs a fraction of a second for the whole country.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from numpy.typing import NDArray
from PIL import Image
from pyproj import Transformer

from optimizer.errors import DataError

__all__ = [
    "CellRaster",
    "catchment_borders",
    "classify",
    "colour_neighbours",
    "png_data_uri",
    "rasterize_cells",
]

_WEB_MERCATOR = "EPSG:3857"


@dataclass(frozen=True)
class CellRaster:
    """Cells drawn into a Web Mercator pixel grid.

    Attributes
    ----------
    index
        ``(height, width)`` array: position of the cell each pixel lies in,
        -1 outside every cell. Row 0 is the north edge.
    bounds
        ``((south, west), (north, east))`` of the image in degrees (EPSG:4326).
    pixel_m
        Pixel size in Web Mercator metres.
    origin
        Web Mercator ``(x, y)`` of the image's north-west corner.
    """

    index: NDArray[np.int32]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    pixel_m: float
    origin: tuple[float, float]


def rasterize_cells(
    geometry: gpd.GeoSeries,
    *,
    oversample: float = 2.0,
    min_side: int = 1024,
    max_pixels: int = 6_000_000,
) -> CellRaster:
    """Draw polygons into an index raster in EPSG:3857.

    Parameters
    ----------
    geometry
        Cell polygons in any CRS.
    oversample
        Pixels per side of the smallest cells (5th percentile), so that each
        cell covers at least a few pixels.
    min_side
        The longer side of the image has at least this many pixels, so that a
        small grid still has crisp cell edges when zoomed in.
    max_pixels
        Cap on width x height; the pixels grow to stay under it.

    Returns
    -------
    CellRaster
        The index raster and its placement.
    """
    merc = geometry.to_crs(_WEB_MERCATOR)
    geoms = np.asarray(merc.values)
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not valid.any():
        raise DataError("cells have no non-empty geometry to draw")
    x0, y0, x1, y1 = shapely.total_bounds(geoms[valid])
    sides = np.sqrt(shapely.area(geoms[valid]))
    pixel = min(float(np.quantile(sides, 0.05)) / oversample, max(x1 - x0, y1 - y0) / min_side)
    if not pixel > 0:
        raise DataError("cells have zero area; give polygons with an area")
    width = max(1, int(np.ceil((x1 - x0) / pixel)))
    height = max(1, int(np.ceil((y1 - y0) / pixel)))
    if width * height > max_pixels:
        pixel *= float(np.sqrt(width * height / max_pixels))
        width = max(1, int(np.ceil((x1 - x0) / pixel)))
        height = max(1, int(np.ceil((y1 - y0) / pixel)))

    index = _scanline_fill(geoms, x0, y1, pixel, width, height)

    to_degrees = Transformer.from_crs(_WEB_MERCATOR, "EPSG:4326", always_xy=True)
    west, north = to_degrees.transform(x0, y1)
    east, south = to_degrees.transform(x0 + width * pixel, y1 - height * pixel)
    return CellRaster(
        index=index,
        bounds=((float(south), float(west)), (float(north), float(east))),
        pixel_m=pixel,
        origin=(float(x0), float(y1)),
    )


def _scanline_fill(
    geoms: NDArray[np.object_], x0: float, y1: float, pixel: float, width: int, height: int
) -> NDArray[np.int32]:
    """Index raster of polygons: each pixel whose centre lies inside polygon ``k`` gets ``k``.

    An exact even-odd scanline fill over all rings at once (holes included):
    every edge is cut with the rows whose pixel centre it spans, the crossings
    are sorted per polygon part and row, and pixels between pairs of crossings
    are filled. Where polygons overlap, the later one wins.
    """
    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, part_of = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    # pixel coordinates: pixel (row r, column c) has its centre at (c, r)
    px = (coords[:, 0] - x0) / pixel - 0.5
    py = (y1 - coords[:, 1]) / pixel - 0.5
    same = ring_of[1:] == ring_of[:-1]  # consecutive vertices of one ring form an edge
    ax, ay, bx, by = px[:-1][same], py[:-1][same], px[1:][same], py[1:][same]
    edge_part = part_of[ring_of[:-1][same]]
    low, high = np.minimum(ay, by), np.maximum(ay, by)
    first = np.ceil(low).astype(np.int64)  # rows r with low <= r < high
    last = np.ceil(high).astype(np.int64)
    first, last = np.clip(first, 0, height), np.clip(last, 0, height)
    count = np.maximum(last - first, 0)
    edge = np.repeat(np.arange(len(ax)), count)
    row = np.repeat(first, count) + (
        np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    )
    t = (row - ay[edge]) / (by[edge] - ay[edge])
    x = ax[edge] + t * (bx[edge] - ax[edge])
    part = edge_part[edge]
    order = np.lexsort((x, row, part))
    x, row, part = x[order], row[order], part[order]
    # crossings come in pairs per (part, row): fill columns c with x_in <= c < x_out
    x_in, x_out, rows, span_part = x[0::2], x[1::2], row[0::2], part[0::2]
    c0 = np.clip(np.ceil(x_in).astype(np.int64), 0, width)
    c1 = np.clip(np.ceil(x_out).astype(np.int64), 0, width)
    length = np.maximum(c1 - c0, 0)
    span = np.repeat(np.arange(len(c0)), length)
    col = np.repeat(c0, length) + (
        np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
    )
    index = np.full((height, width), -1, dtype=np.int32)
    index[rows[span], col] = owner[span_part[span]].astype(np.int32)
    return index


def classify(
    values: NDArray[np.float64], breaks: Sequence[float], *, first: int = 1
) -> NDArray[np.uint8]:
    """Class codes of finite values: ``first`` for ``v <= breaks[0]``, then one per interval.

    Intervals are closed on the right (``10 < v <= 20``), as the "within 30
    minutes" shares count a cell at exactly 30. Non-finite values get 0.
    """
    v = np.asarray(values, dtype=np.float64)
    codes = np.zeros(v.shape, dtype=np.uint8)
    finite = np.isfinite(v)
    codes[finite] = first + np.searchsorted(np.asarray(breaks), v[finite], side="left")
    return codes


def catchment_borders(labels: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Pixels on the boundary between two different labels (both >= 0)."""
    border = np.zeros(labels.shape, dtype=bool)
    for a, b, mark in (
        (labels[:, :-1], labels[:, 1:], border[:, :-1]),
        (labels[:-1, :], labels[1:, :], border[:-1, :]),
    ):
        mark |= (a != b) & (a >= 0) & (b >= 0)
    return border


def colour_neighbours(labels: NDArray[np.int64], n_labels: int) -> NDArray[np.int64]:
    """Colour each label so that labels whose pixels touch get different colours.

    Greedy colouring in DSatur order (networkx) of the graph of labels whose
    pixels are side by side; catchments of service points form a near-planar
    graph, so a handful of colours suffice.

    Returns
    -------
    numpy.ndarray
        Colour number (0, 1, ...) per label.
    """
    pairs = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1, :], labels[1:, :])):
        touch = (a != b) & (a >= 0) & (b >= 0)
        pairs.append(np.column_stack([a[touch], b[touch]]))
    edges = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
    graph = nx.Graph()
    graph.add_nodes_from(range(n_labels))
    graph.add_edges_from(edges.tolist())
    colours = nx.coloring.greedy_color(graph, strategy="saturation_largest_first")
    return np.array([colours[k] for k in range(n_labels)], dtype=np.int64)


def png_data_uri(codes: NDArray[np.uint8], palette: Sequence[str]) -> str:
    """Encode class codes as a palette PNG data URI; code 0 is transparent.

    Parameters
    ----------
    codes
        ``(height, width)`` codes, 0 = transparent, ``k`` = ``palette[k - 1]``.
    palette
        ``#rrggbb`` colours.
    """
    if len(palette) > 255:
        raise DataError(f"a layer can have at most 255 colours, got {len(palette)}")
    height, width = codes.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(codes, np.uint8).tobytes())
    rgb = [0, 0, 0]
    for colour in palette:
        rgb += [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    image.putpalette(rgb)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

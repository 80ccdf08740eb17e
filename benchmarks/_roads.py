"""Synthetic road-like instances shared by the benchmarks: towns, a Delaunay road graph, points.

The random draws are made in one fixed order, so a benchmark's instances stay the
same for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import Delaunay, cKDTree


@dataclass
class RoadPoints:
    """A road graph and points snapped to its largest connected part."""

    towns: np.ndarray
    sizes: np.ndarray
    nodes: np.ndarray
    graph: sp.csr_matrix
    main: np.ndarray
    node_of: np.ndarray
    access: np.ndarray


def road_points(
    rng: np.random.Generator,
    *,
    n_nodes: int,
    n_points: int,
    n_towns: int,
    side_km: float,
    margin: float,
) -> RoadPoints:
    """Towns, a road graph over clustered nodes and points with their access minutes.

    Nodes and points cluster around towns (70 %) and spread at random (30 %);
    roads are the Delaunay edges but the longest 3 %, at 40-100 km/h; each
    point walks (30 km/h access) to its nearest node of the largest part.
    """
    towns = rng.uniform(margin, 1 - margin, (n_towns, 2)) * side_km
    sizes = rng.pareto(1.2, n_towns) + 1

    def sample(n: int) -> np.ndarray:
        k = int(n * 0.7)
        t = rng.choice(n_towns, size=k, p=sizes / sizes.sum())
        pts = towns[t] + rng.normal(0, 1, (k, 2)) * (3 + 2 * rng.random((k, 1)))
        pts = np.vstack([pts, rng.uniform(0, side_km, (n - k, 2))])
        return np.clip(pts, 0, side_km)

    nodes = sample(n_nodes)
    tri = Delaunay(nodes)
    e = np.vstack([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [2, 0]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(nodes[e[:, 0]] - nodes[e[:, 1]], axis=1)
    keep = length < np.quantile(length, 0.97)
    e, length = e[keep], length[keep]
    speed = rng.choice([40.0, 60.0, 80.0, 100.0], size=len(e), p=[0.4, 0.3, 0.2, 0.1])
    minutes = length / speed * 60.0
    graph = sp.coo_matrix(
        (np.r_[minutes, minutes], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
        shape=(n_nodes, n_nodes),
    ).tocsr()
    # keep to the largest connected part of the road graph
    _, label = connected_components(graph, directed=False)
    main = np.nonzero(label == np.bincount(label).argmax())[0]
    points = sample(n_points)
    dist, k = cKDTree(nodes[main]).query(points)
    return RoadPoints(towns, sizes, nodes, graph, main, main[k], dist / 30.0 * 60.0)


def road_instance(
    n_demand: int, n_sites: int, *, seed: int, side_km: float = 150.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Road-like travel minutes, integer weights and road-node groups."""
    rng = np.random.default_rng(seed)
    road = road_points(
        rng,
        n_nodes=max(200, n_demand // 2),
        n_points=n_demand,
        n_towns=12,
        side_km=side_km,
        margin=0.1,
    )
    site_nodes = rng.choice(road.main, size=n_sites, replace=False)
    sp_min = dijkstra(road.graph, directed=False, indices=site_nodes)
    cost = road.access[:, None] + sp_min[:, road.node_of].T
    weights = rng.integers(1, 100, n_demand).astype(float)
    return np.ascontiguousarray(cost), weights, road.node_of.astype(np.int64)

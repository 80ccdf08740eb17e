from __future__ import annotations

import io
import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import geopandas as gpd
import pandas as pd
import pyrosm
import pytest
import requests
import shapely
import urllib3
from nettools import OfflineAdapter, session_with
from rich.progress import Progress

from optimizer.errors import (
    BundleNotFoundError,
    DataError,
    NetworkError,
    OutputError,
    SourceUnavailableError,
    UnknownRegionError,
)
from optimizer.network import network_from_gpkg, validate_roads
from optimizer.population import read_population
from optimizer.settings import get_settings
from optimizer.sources import (
    AREAS_WFS_URL,
    CONNECT_TIMEOUT_S,
    MAINLAND_REGIONS,
    POPULATION_WFS_URL,
    RegionInfo,
    fetch_region,
    find_region,
    municipalities_from_wfs,
    municipalities_of_region,
    population_grid_from_wfs,
    regions_from_wfs,
    sites_from_municipalities,
    wfs_get_features,
)

WFS = Path(__file__).parent / "data" / "wfs"
TEST_PBF = Path(pyrosm.__file__).parent / "data" / "test.osm.pbf"


@pytest.fixture(scope="module")
def finland() -> Path:
    """The real national tables packaged with the repository (data/finland)."""
    path = Path(__file__).resolve().parents[1] / "data" / "finland"
    assert path.is_dir(), f"{path} is missing from the repository"
    return path


Answer = tuple[int, bytes, str]  # status, body, content type


def recorded(name: str, status: int = 200) -> Answer:
    kind = "application/xml" if name.endswith(".xml") else "application/json;charset=UTF-8"
    return status, (WFS / name).read_bytes(), kind


def answer(payload: Mapping, status: int = 200) -> Answer:
    return status, json.dumps(payload).encode(), "application/json;charset=UTF-8"


class RecordedWFS(requests.adapters.HTTPAdapter):
    """A transport adapter that answers WFS requests with recorded responses.

    ``routes`` maps ``(typeNames, startIndex)`` to an answer; a callable route gets the
    query and returns one. Every request is kept in ``self.calls`` with its timeout.
    """

    def __init__(self, routes: Mapping[tuple[str, str], Answer | Callable[[dict], Answer]]):
        super().__init__()
        self.routes = dict(routes)
        self.calls: list[tuple[str, dict[str, str], object]] = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        query = dict(parse_qsl(urlsplit(request.url).query))
        base = request.url.split("?")[0]
        self.calls.append((base, query, timeout))
        route = self.routes.get((query.get("typeNames", base), query.get("startIndex", "0")))
        if route is None:
            raise requests.ConnectionError(f"no recorded answer for {request.url}")
        status, body, kind = route(query) if callable(route) else route
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            status=status,
            headers={"Content-Type": kind},
            preload_content=False,
            decode_content=False,
        )
        return self.build_response(request, raw)

    def typenames(self) -> list[str]:
        return [q.get("typeNames", base) for base, q, _ in self.calls]


@pytest.fixture
def settings(tmp_path):
    return get_settings(cache_dir=tmp_path / "cache", http_timeout=42.0)


JOENSUU_PAGES = {
    ("vaestoruutu:vaki2021_1km", "0"): recorded("vaki2021_1km_page1.json"),
    ("vaestoruutu:vaki2021_1km", "3"): recorded("vaki2021_1km_page2.json"),
}


#: A WFS answer with no features, as GeoServer sends it.
EMPTY_PAGE = {
    "type": "FeatureCollection",
    "features": [],
    "totalFeatures": 0,
    "numberMatched": 0,
    "numberReturned": 0,
    "crs": None,
}


def joensuu_features(adapter: requests.adapters.BaseAdapter, settings, **options) -> dict:
    """``wfs_get_features`` on the 1 km grid layer, served by ``adapter``."""
    session = session_with(adapter)
    layer = "vaestoruutu:vaki2021_1km"
    return wfs_get_features(
        POPULATION_WFS_URL, layer, session=session, settings=settings, **options
    )


def joensuu_grid(adapter: requests.adapters.BaseAdapter, settings, **options) -> gpd.GeoDataFrame:
    """``population_grid_from_wfs`` for 2021 in pages of three, served by ``adapter``."""
    options = {"year": 2021, "page_size": 3, **options}
    return population_grid_from_wfs(session=session_with(adapter), settings=settings, **options)


# --------------------------------------------------------------------------- WFS paging


class TestPaging:
    def test_two_pages_follow_the_next_link(self, settings):
        adapter = RecordedWFS(JOENSUU_PAGES)
        collection = joensuu_features(adapter, settings, page_size=3, sort_by="grd_id")
        assert len(collection["features"]) == 5
        assert collection["numberMatched"] == 5
        assert collection["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::3067"
        assert [q["startIndex"] for _, q, _ in adapter.calls] == ["0", "3"]
        base, query, timeout = adapter.calls[0]
        assert base == POPULATION_WFS_URL
        assert query["service"] == "WFS"
        assert query["version"] == "2.0.0"
        assert query["request"] == "GetFeature"
        assert query["outputFormat"] == "application/json"
        assert query["srsName"] == "EPSG:3067"
        assert query["count"] == "3"
        assert query["sortBy"] == "grd_id ASC"
        assert timeout == (CONNECT_TIMEOUT_S, 42.0)

    def test_pages_until_number_matched_when_server_caps_count(self, settings):
        # we ask for 4 per page, the server gives 3 (its own maximum) but says 5 match
        adapter = RecordedWFS(JOENSUU_PAGES)
        collection = joensuu_features(adapter, settings, page_size=4)
        assert len(collection["features"]) == 5
        assert len(adapter.calls) == 2

    def test_without_counts_or_links_stops_at_a_short_page(self, settings):
        pages = {}
        for start, name in (("0", "vaki2021_1km_page1.json"), ("3", "vaki2021_1km_page2.json")):
            page = json.loads((WFS / name).read_text())
            page["totalFeatures"] = "unknown"
            del page["numberMatched"]
            del page["links"]
            pages[("vaestoruutu:vaki2021_1km", start)] = answer(page)
        adapter = RecordedWFS(pages)
        collection = joensuu_features(adapter, settings, page_size=3)
        assert len(collection["features"]) == 5
        assert [q["startIndex"] for _, q, _ in adapter.calls] == ["0", "3"]

    def test_server_ignoring_start_index_is_detected(self, settings):
        page = json.loads((WFS / "vaki2021_1km_page1.json").read_text())
        adapter = RecordedWFS({("vaestoruutu:vaki2021_1km", str(i)): answer(page) for i in (0, 3)})
        with pytest.raises(SourceUnavailableError, match="same features again at startIndex=3"):
            joensuu_features(adapter, settings, page_size=3)

    def test_empty_answer(self, settings):
        empty = EMPTY_PAGE | {"timeStamp": "2024-03-14T10:00:00.000Z"}
        adapter = RecordedWFS({("vaestoruutu:vaki2021_1km", "0"): answer(empty)})
        collection = joensuu_features(adapter, settings)
        assert collection["features"] == []
        with pytest.raises(DataError, match="no cells"):
            population_grid_from_wfs(year=2021, session=session_with(adapter), settings=settings)

    def test_bad_arguments(self, settings):
        with pytest.raises(DataError, match="not both"):
            wfs_get_features(POPULATION_WFS_URL, "x", bbox=(0, 0, 1, 1), cql_filter="kunta='1'")
        with pytest.raises(DataError, match="page_size"):
            wfs_get_features(POPULATION_WFS_URL, "x", page_size=0)
        with pytest.raises(DataError, match="min < max"):
            wfs_get_features(POPULATION_WFS_URL, "x", bbox=(5, 5, 1, 1), settings=settings)


class TestCache:
    def test_pages_are_cached_atomically_and_reused_offline(self, settings):
        online = RecordedWFS(JOENSUU_PAGES)
        first = joensuu_grid(online, settings)
        files = sorted((settings.cache_dir / "downloads").iterdir())
        assert len(files) == 2
        assert all(f.suffix == ".json" and len(f.stem) == 64 for f in files)
        offline = OfflineAdapter()
        again = joensuu_grid(offline, settings)
        assert offline.urls == []
        assert again.equals(first)

    def test_other_parameters_are_not_served_from_cache(self, settings):
        joensuu_grid(RecordedWFS(JOENSUU_PAGES), settings)
        with pytest.raises(SourceUnavailableError):
            joensuu_grid(OfflineAdapter(), settings, bbox=(641000, 6942000, 642000, 6943000))

    def test_unreadable_cache_file_is_replaced(self, settings):
        joensuu_grid(RecordedWFS(JOENSUU_PAGES), settings)
        for path in (settings.cache_dir / "downloads").iterdir():
            path.write_text("{truncated")
        adapter = RecordedWFS(JOENSUU_PAGES)
        grid = joensuu_grid(adapter, settings)
        assert len(grid) == 5 and len(adapter.calls) == 2


# --------------------------------------------------------------------------- population


class TestPopulationGrid:
    def test_grid_in_bundle_schema(self, settings):
        grid = joensuu_grid(RecordedWFS(JOENSUU_PAGES), settings)
        assert len(grid) == 5
        assert grid.index.name == "cell_id"
        assert grid.crs.to_epsg() == 3067
        assert grid["population"].sum() == 5946
        assert grid.loc["1kmN6942E642", ["age_0_14", "age_15_64", "age_65_plus"]].isna().all()
        assert (grid["municipality"] == "167").all()
        assert "vaki2021_1km" in grid.attrs["source"]

    def test_bbox_filter_is_sent(self, settings):
        adapter = RecordedWFS(JOENSUU_PAGES)
        joensuu_grid(adapter, settings, bbox=(640000, 6941000, 644000, 6945000))
        query = adapter.calls[0][1]
        assert query["bbox"] == "640000.0,6941000.0,644000.0,6945000.0,EPSG:3067"
        assert "CQL_FILTER" not in query

    def test_municipality_filter_is_sent(self, settings):
        adapter = RecordedWFS(JOENSUU_PAGES)
        joensuu_grid(adapter, settings, municipalities=[167, "91"])
        query = adapter.calls[0][1]
        assert query["CQL_FILTER"] == "kunta IN ('091','167','91')"
        assert "bbox" not in query

    def test_bbox_and_municipalities_clip_after_download(self, settings):
        adapter = RecordedWFS(JOENSUU_PAGES)
        grid = joensuu_grid(
            adapter, settings, municipalities=["167"], bbox=(641100, 6942100, 641900, 6943900)
        )
        assert sorted(grid.index) == ["1kmN6942E641", "1kmN6943E641"]
        assert "bbox" not in adapter.calls[0][1]
        with pytest.raises(DataError, match="no cell"):
            joensuu_grid(adapter, settings, municipalities=["167"], bbox=(0, 0, 10, 10))

    def test_point_and_5km_layers(self, settings):
        adapter = RecordedWFS(
            {
                ("vaestoruutu:vaki2021_1km_kp", "0"): recorded("vaki2021_1km_kp.json"),
                ("vaestoruutu:vaki2021_5km", "0"): recorded("vaki2021_5km.json"),
            }
        )
        session = session_with(adapter)
        points = population_grid_from_wfs(
            year=2021, layer="1km_kp", session=session, settings=settings
        )
        assert (points.geom_type == "Polygon").all()
        assert points.area.tolist() == [1e6] * 5
        coarse = population_grid_from_wfs(
            year=2021, layer="5km", session=session, settings=settings
        )
        assert coarse.area.tolist() == [25e6] * 2

    @pytest.mark.parametrize("status", [200, 400])
    def test_geoserver_exception_report(self, settings, status):
        adapter = RecordedWFS(
            {("vaestoruutu:vaki2030_1km", "0"): recorded("exception_unknown_layer.xml", status)}
        )
        with pytest.raises(SourceUnavailableError) as info:
            population_grid_from_wfs(year=2030, session=session_with(adapter), settings=settings)
        message = str(info.value)
        assert POPULATION_WFS_URL in message
        assert "Feature type vaestoruutu:vaki2030_1km unknown" in message

    def test_server_error(self, settings):
        adapter = RecordedWFS(
            {("vaestoruutu:vaki2021_1km", "0"): (503, b"Service Unavailable", "text/plain")}
        )
        with pytest.raises(SourceUnavailableError, match=r"answered HTTP 503.*Service Unavailable"):
            population_grid_from_wfs(year=2021, session=session_with(adapter), settings=settings)

    def test_answer_that_is_not_geojson(self, settings):
        adapter = RecordedWFS(
            {
                ("vaestoruutu:vaki2021_1km", "0"): (200, b"<html>maintenance</html>", "text/html"),
                ("vaestoruutu:vaki2022_1km", "0"): answer({"type": "Feature"}),
            }
        )
        session = session_with(adapter)
        with pytest.raises(SourceUnavailableError, match="did not answer JSON"):
            population_grid_from_wfs(year=2021, session=session, settings=settings)
        with pytest.raises(SourceUnavailableError, match="not a GeoJSON FeatureCollection"):
            population_grid_from_wfs(year=2022, session=session, settings=settings)

    def test_invalid_arguments(self, settings):
        with pytest.raises(DataError, match="layer must be one of 1km, 1km_kp, 5km"):
            population_grid_from_wfs(year=2021, layer="250m", settings=settings)
        with pytest.raises(DataError, match="year"):
            population_grid_from_wfs(year=1999, settings=settings)
        with pytest.raises(DataError, match="empty"):
            population_grid_from_wfs(year=2021, municipalities=[], settings=settings)

    def test_offline_names_the_endpoint(self, settings):
        adapter = OfflineAdapter()
        with pytest.raises(SourceUnavailableError) as info:
            population_grid_from_wfs(year=2021, session=session_with(adapter), settings=settings)
        assert len(adapter.urls) == 1  # fails at once: no retries
        message = str(info.value)
        assert POPULATION_WFS_URL in message
        assert "optimizer bundle --from-files" in message
        assert isinstance(info.value, ConnectionError)


# --------------------------------------------------------------------------- boundaries

KYMENLAAKSO = ("075", "285", "286", "489", "624", "935")


class TestBoundaries:
    def test_municipalities(self, settings):
        adapter = RecordedWFS(
            {
                ("tilastointialueet:kunta4500k_2022", "0"): recorded(
                    "kunta4500k_2022_kymenlaakso.json"
                )
            }
        )
        gdf = municipalities_from_wfs(
            year=2022,
            municipalities=KYMENLAAKSO,
            session=session_with(adapter),
            settings=settings,
        )
        assert tuple(gdf["kunta"]) == KYMENLAAKSO
        assert list(gdf.columns[:3]) == ["kunta", "nimi", "namn"]
        assert gdf.set_index("kunta").loc["285", "nimi"] == "Kotka"
        assert gdf.set_index("kunta").loc["075", "namn"] == "Fredrikshamn"
        assert gdf.crs.to_epsg() == 3067
        assert gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        base, query, _ = adapter.calls[0]
        assert base == AREAS_WFS_URL
        assert query["sortBy"] == "kunta ASC"
        assert query["CQL_FILTER"].startswith("kunta IN ('075',")

    def test_regions(self, settings):
        adapter = RecordedWFS(
            {("tilastointialueet:maakunta4500k_2022", "0"): recorded("maakunta4500k_2022.json")}
        )
        gdf = regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)
        assert gdf["maakunta"].tolist() == ["08", "09"]
        assert gdf["nimi"].tolist() == ["Kymenlaakso", "Etelä-Karjala"]
        assert gdf["namn"].tolist() == ["Kymmenedalen", "Södra Karelen"]
        for code, name in zip(gdf["maakunta"], gdf["nimi"], strict=True):
            assert find_region(code).name_fi == name

    def test_wgs84_answer_is_reprojected(self, settings):
        page = json.loads((WFS / "maakunta4500k_2022.json").read_text())
        gdf = gpd.GeoDataFrame.from_features(page["features"], crs=3067).to_crs(4326)
        page = json.loads(gdf.to_json())
        page["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}
        adapter = RecordedWFS({("tilastointialueet:maakunta4500k_2022", "0"): answer(page)})
        regions = regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)
        assert regions.crs.to_epsg() == 3067
        assert 300_000 < regions.geometry.iloc[0].centroid.x < 700_000

    def test_missing_crs_member_means_the_requested_crs(self, settings):
        page = json.loads((WFS / "maakunta4500k_2022.json").read_text())
        del page["crs"]
        adapter = RecordedWFS({("tilastointialueet:maakunta4500k_2022", "0"): answer(page)})
        regions = regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)
        assert regions.crs.to_epsg() == 3067

    def test_no_matching_municipality(self, settings):
        empty = EMPTY_PAGE
        adapter = RecordedWFS({("tilastointialueet:kunta4500k_2022", "0"): answer(empty)})
        with pytest.raises(DataError, match="no areas matched"):
            municipalities_from_wfs(
                year=2022, municipalities=["999"], session=session_with(adapter), settings=settings
            )

    def test_bad_code_field(self, settings):
        page = json.loads((WFS / "maakunta4500k_2022.json").read_text())
        page["features"][0]["properties"]["maakunta"] = "MK-eight"
        adapter = RecordedWFS({("tilastointialueet:maakunta4500k_2022", "0"): answer(page)})
        with pytest.raises(DataError, match="field 'maakunta'"):
            regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)

    def test_missing_fields(self, settings):
        page = json.loads((WFS / "maakunta4500k_2022.json").read_text())
        for feature in page["features"]:
            del feature["properties"]["namn"]
        adapter = RecordedWFS({("tilastointialueet:maakunta4500k_2022", "0"): answer(page)})
        with pytest.raises(DataError, match=r"field\(s\) namn missing"):
            regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)

    def test_unreadable_crs_member(self, settings):
        page = json.loads((WFS / "maakunta4500k_2022.json").read_text())
        page["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::0"}}
        adapter = RecordedWFS({("tilastointialueet:maakunta4500k_2022", "0"): answer(page)})
        with pytest.raises(DataError, match="unreadable crs member"):
            regions_from_wfs(year=2022, session=session_with(adapter), settings=settings)


# --------------------------------------------------------------------------- region catalogue


class TestFindRegion:
    def test_catalogue(self):
        assert len(MAINLAND_REGIONS) == 18
        assert isinstance(MAINLAND_REGIONS, tuple)
        assert len({r.slug for r in MAINLAND_REGIONS}) == 18
        assert "21" not in {r.code for r in MAINLAND_REGIONS}
        region = MAINLAND_REGIONS[0]
        with pytest.raises(AttributeError):
            region.code = "99"  # type: ignore[misc]
        assert all(r.slug.isascii() and r.slug == r.slug.lower() for r in MAINLAND_REGIONS)

    @pytest.mark.parametrize(
        "query",
        [
            "12",
            12,
            "MK12",
            "mk 12",
            "012",
            "Pohjois-Karjala",
            "pohjois-karjala",
            "POHJOIS KARJALA",
            "Norra Karelen",
            "north karelia",
            " pohjois_karjala ",
        ],
    )
    def test_matches_north_karelia(self, query):
        assert find_region(query).code == "12"

    def test_accent_tolerant(self):
        assert find_region("Paijat-Hame").name_fi == "Päijät-Häme"
        assert find_region("päijät-häme").slug == "paijat-hame"
        assert find_region("Sodra Osterbotten").code == "14"
        assert find_region("1").name_fi == "Uusimaa"
        region = find_region("lappi")
        assert find_region(region) is region

    def test_unknown_name_suggests_the_closest(self):
        with pytest.raises(UnknownRegionError) as info:
            find_region("Pohjois-Karjla")
        message = str(info.value)
        assert "Pohjois-Karjala (12, 'pohjois-karjala')" in message
        assert message.startswith("unknown region 'Pohjois-Karjla'")
        assert isinstance(info.value, KeyError)

    def test_unknown_name_without_close_match_lists_all(self):
        with pytest.raises(UnknownRegionError, match="known regions: uusimaa, varsinais-suomi"):
            find_region("qwxz")

    @pytest.mark.parametrize("query", ["21", "Ahvenanmaa", "Åland", "aland", "MK21"])
    def test_aland_is_refused(self, query):
        with pytest.raises(UnknownRegionError, match=r"Åland.*mainland"):
            find_region(query)

    @pytest.mark.parametrize("query", ["03", "20", "99"])
    def test_unused_codes(self, query):
        with pytest.raises(UnknownRegionError, match="no mainland region has code"):
            find_region(query)


# The 13 municipalities of Pohjois-Karjala (2023 division): residents on 31 Dec 2022
# (THL Sotkanet) and the NLS label point of the central locality (lon, lat).
NORTH_KARELIA = {
    "090": ("Heinävesi", 3061, 28.6320616, 62.4273832),
    "146": ("Ilomantsi", 4492, 30.9266539, 62.671321),
    "167": ("Joensuu", 77513, 29.7654035, 62.5997956),
    "176": ("Juuka", 4352, 29.2550397, 63.2396568),
    "260": ("Kitee", 9727, 30.1362366, 62.099445),
    "276": ("Kontiolahti", 15157, 29.8472955, 62.769344),
    "309": ("Outokumpu", 6457, 29.018516, 62.7247617),
    "422": ("Lieksa", 10372, 30.0408771, 63.3118386),
    "426": ("Liperi", 11962, 29.3874714, 62.5317616),
    "541": ("Nurmes", 9243, 29.1327363, 63.5443884),
    "607": ("Polvijärvi", 4084, 29.3731204, 62.8567694),
    "707": ("Rääkkylä", 1960, 29.6243742, 62.313144),
    "848": ("Tohmajärvi", 4160, 30.3314685, 62.223758),
}


class TestAgainstRealData:
    """The catalogue against the real tables packaged in data/finland."""

    @pytest.fixture(scope="class")
    def key(self, finland) -> pd.DataFrame:
        key = pd.read_csv(finland / "municipality_key_2023.csv", dtype=str)
        key["kunta3"] = key["kunta"].map(lambda v: f"{int(v):03d}")
        key["mk"] = key["maakunta_code"].map(lambda v: f"{int(v):02d}")
        return key

    @pytest.fixture(scope="class")
    def north_karelia(self, finland) -> gpd.GeoDataFrame:
        boundaries = gpd.read_file(finland / "municipalities_2023.gpkg")
        return boundaries[boundaries["kunta"].isin(NORTH_KARELIA)].reset_index(drop=True)

    def test_region_codes_and_names_match_the_key(self, key):
        names = key[["mk", "maakunta_name_fi", "maakunta_name_sv", "maakunta_name_en"]]
        names = names.drop_duplicates().set_index("mk").sort_index()
        mainland = names.drop(index="21")
        assert [r.code for r in MAINLAND_REGIONS] == list(mainland.index)
        for region in MAINLAND_REGIONS:
            row = mainland.loc[region.code]
            assert region.name_fi == row["maakunta_name_fi"]
            assert region.name_sv == row["maakunta_name_sv"]
            assert region.name_en == row["maakunta_name_en"]
            assert find_region(row["maakunta_name_fi"]) is region
            assert find_region(row["maakunta_name_sv"]) is region

    def test_packaged_key_matches_the_key_file(self, finland, key):
        for region in MAINLAND_REGIONS:
            expected = tuple(sorted(key.loc[key["mk"] == region.code, "kunta3"]))
            assert municipalities_of_region(region.code) == expected
            path = finland / "municipality_key_2023.csv"
            assert municipalities_of_region(region, key_csv=path) == expected

    def test_regions_partition_the_mainland(self, key):
        codes = [c for r in MAINLAND_REGIONS for c in municipalities_of_region(r)]
        assert len(codes) == len(set(codes))
        assert set(codes) == set(key.loc[key["mk"] != "21", "kunta3"])
        assert len(codes) == 309 - 16  # Åland has 16 municipalities

    def test_north_karelia_has_its_13_municipalities(self, north_karelia):
        assert municipalities_of_region("pohjois-karjala") == tuple(sorted(NORTH_KARELIA))
        assert len(municipalities_of_region("12")) == 13
        assert set(north_karelia["kunta"]) == set(municipalities_of_region("12"))
        # Heinävesi moved to Pohjois-Karjala in 2021; Valtimo merged into Nurmes in 2020
        assert "090" in municipalities_of_region("12")
        assert "911" not in municipalities_of_region("12")
        assert "090" not in municipalities_of_region("10")

    def test_population_consistent_with_sotkanet(self, finland):
        sotkanet = pd.read_csv(finland / "municipality_population_sotkanet.csv")
        pop2022 = sotkanet[sotkanet["year"] == 2022].set_index("municipality_code")
        pop2022 = pop2022["population"]
        pop2022.index = [f"{int(c):03d}" for c in pop2022.index]
        total = 5_563_970
        assert pop2022.sum() == total
        mainland = sum(pop2022[list(municipalities_of_region(r))].sum() for r in MAINLAND_REGIONS)
        aland = pop2022.drop(
            index=[c for r in MAINLAND_REGIONS for c in municipalities_of_region(r)]
        )
        assert len(aland) == 16
        assert mainland + aland.sum() == total
        assert 0 < aland.sum() < 0.01 * total
        codes = list(municipalities_of_region("12"))
        assert pop2022[codes].tolist() == [NORTH_KARELIA[c][1] for c in codes]

    def test_sites_at_central_localities(self, finland, north_karelia):
        sites = sites_from_municipalities(
            north_karelia, central_localities=finland / "municipality_central_localities.csv"
        )
        assert len(sites) == 13
        assert sites.index.name == "site_id"
        assert set(sites["kind"]) == {"municipal_centre"}
        assert not sites["required"].any()
        assert sites["annual_cost"].isna().all() and sites["capacity"].isna().all()
        polygons = north_karelia.set_index("kunta").geometry
        for code, point in zip(sites["municipality"], sites.geometry, strict=True):
            assert polygons[code].covers(point)
        lon, lat = NORTH_KARELIA["167"][2:]
        expected = gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).to_crs(3067)
        joensuu = sites.loc["centre-167"]
        assert joensuu["name"] == "Joensuu"
        assert joensuu.geometry.distance(expected.iloc[0]) < 2_000

    def test_sites_without_localities_fall_inside(self, north_karelia):
        sites = sites_from_municipalities(north_karelia)
        polygons = north_karelia.set_index("kunta").geometry
        for code, point in zip(sites["municipality"], sites.geometry, strict=True):
            assert polygons[code].contains(point)


@pytest.mark.parametrize(
    ("csv", "region", "error", "match"),
    [
        (None, "12", BundleNotFoundError, "does not exist"),
        ("kunta,region\n167,12\n", "12", DataError, "lacks column"),
        ("kunta,maakunta_code\n91,1\n", "12", DataError, "no municipality for region 12"),
        ("kunta,maakunta_code\n91,Uusimaa\n", "01", DataError, "field 'maakunta_code'"),
        ("kunta,maakunta_code\nHelsinki,1\n", "01", DataError, "field 'kunta'"),
    ],
)
def test_municipalities_of_region_key_errors(tmp_path, csv, region, error, match):
    key = tmp_path / "key.csv"
    if csv is not None:
        key.write_text(csv)
    with pytest.raises(error, match=match):
        municipalities_of_region(region, key_csv=key)


def test_municipalities_of_region_reads_a_key_file(tmp_path):
    key = tmp_path / "key.csv"
    key.write_text("kunta,maakunta_code\n91,1\n")
    assert municipalities_of_region("01", key_csv=key) == ("091",)
    with pytest.raises(UnknownRegionError):
        municipalities_of_region("Atlantis")


def test_sites_need_codes_names_and_crs():
    frame = gpd.GeoDataFrame(
        {"kunta": ["167"], "nimi": ["Joensuu"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326
    )
    with pytest.raises(DataError, match="to_crs"):
        sites_from_municipalities(frame)
    with pytest.raises(DataError, match="lack column"):
        sites_from_municipalities(frame.drop(columns="nimi").to_crs(3067))
    with pytest.raises(BundleNotFoundError):
        sites_from_municipalities(frame.to_crs(3067), central_localities="missing.csv")
    with pytest.raises(DataError, match="kuntatunnus"):
        sites_from_municipalities(frame.to_crs(3067), central_localities=pd.DataFrame({"X": [1]}))


def test_locality_outside_its_municipality_is_replaced():
    boundary = shapely.box(600_000, 6_900_000, 610_000, 6_910_000)
    frame = gpd.GeoDataFrame({"kunta": ["167"], "nimi": ["Joensuu"]}, geometry=[boundary], crs=3067)
    far = pd.DataFrame({"kuntatunnus": ["167"], "X": [24.94], "Y": [60.17]})  # Helsinki
    sites = sites_from_municipalities(frame, central_localities=far)
    assert boundary.contains(sites.geometry.iloc[0])


# --------------------------------------------------------------------------- fetch_region


def kymenlaakso_routes() -> dict:
    return {
        ("tilastointialueet:kunta4500k_2022", "0"): recorded("kunta4500k_2022_kymenlaakso.json"),
        ("vaestoruutu:vaki2022_1km", "0"): recorded("vaki2022_1km_kymenlaakso.json"),
    }


def fetch_kymenlaakso(out_dir: Path, settings, *, adapter=None, region="08", **options) -> Path:
    """``fetch_region`` of Kymenlaakso from the recorded WFS answers and pyrosm's roads."""
    session = session_with(adapter if adapter is not None else RecordedWFS(kymenlaakso_routes()))
    return fetch_region(
        region, out_dir=out_dir, session=session, settings=settings, roads_file=TEST_PBF, **options
    )


class TestFetchRegion:
    @pytest.fixture
    def settings(self, tmp_path):
        """The recorded grid has one cell in each municipality far from pyrosm's Kotka
        extract (35.8 % of its residents): allow that much uncovered."""
        return get_settings(
            cache_dir=tmp_path / "cache", http_timeout=42.0, max_uncovered_share=0.4
        )

    def test_roads_that_miss_the_residents_fail(self, tmp_path):
        strict = get_settings(cache_dir=tmp_path / "cache", http_timeout=42.0)
        assert strict.max_uncovered_share == 0.05
        out = tmp_path / "kymenlaakso"
        with pytest.raises(NetworkError) as info:
            fetch_kymenlaakso(out, strict)
        message = str(info.value)
        assert "35.8% of the residents uncovered" in message
        # the cells outside Kotka: Kouvola 286 (1,507) and Hamina 075 (1,120) first
        assert "286 (1,507), 075 (1,120)" in message
        assert not out.exists()

    def test_builds_a_bundle_offline_from_recorded_sources(self, tmp_path, settings):
        adapter = RecordedWFS(kymenlaakso_routes())
        out = tmp_path / "regions" / "kymenlaakso"
        path = fetch_kymenlaakso(out, settings, adapter=adapter, region="Kymenlaakso")
        assert path == out
        assert sorted(p.name for p in path.iterdir()) == [
            "boundary.gpkg",
            "population.gpkg",
            "region.toml",
            "roads.gpkg",
            "sites.gpkg",
        ]
        assert [p.name for p in out.parent.iterdir()] == ["kymenlaakso"]

        meta = tomllib.loads((path / "region.toml").read_text(encoding="utf-8"))
        assert meta["name"] == "Kymenlaakso"
        assert meta["slug"] == "kymenlaakso"
        assert meta["code"] == "08"
        assert meta["year"] == 2022
        assert meta["crs"] == "EPSG:3067"
        assert meta["layers"]["roads"] == "roads.gpkg"
        assert {"population", "roads", "sites"} <= set(meta["sources"])
        assert "vaki2022_1km" in meta["sources"]["population"]
        assert "test.osm.pbf" in meta["sources"]["roads"]
        assert meta["licences"]["roads"].startswith("ODbL")
        assert meta["licences"]["population"].startswith("CC BY 4.0")
        assert not any(meta["synthetic"].values())
        assert {"population", "roads", "sites"} <= set(meta["synthetic"])

        grid = read_population(path / "population.gpkg")
        assert len(grid) == 11
        assert set(grid["municipality"]) == set(KYMENLAAKSO)
        roads = network_from_gpkg(path / "roads.gpkg")
        validate_roads(roads, source=str(path / "roads.gpkg"))
        sites = gpd.read_file(path / "sites.gpkg").set_index("site_id")
        assert sorted(sites["municipality"]) == list(KYMENLAAKSO)
        assert sites.loc["centre-285", "name"] == "Kotka"
        boundaries = gpd.read_file(path / "boundary.gpkg").set_index("kunta")
        for code, point in zip(sites["municipality"], sites.geometry, strict=True):
            assert boundaries.geometry[code].covers(point)

        queried = {q.get("CQL_FILTER") for _, q, _ in adapter.calls}
        assert all(f"'{code}'" in f for f in queried for code in KYMENLAAKSO)
        assert set(adapter.typenames()) == {
            "tilastointialueet:kunta4500k_2022",
            "vaestoruutu:vaki2022_1km",
        }

    def test_bundle_loads_with_the_region_loader(self, tmp_path, settings):
        from optimizer.region import load_region

        path = fetch_kymenlaakso(tmp_path / "kymenlaakso", settings)
        region = load_region(path, settings=settings)
        assert region.code == "08"
        assert region.population["population"].sum() == pytest.approx(
            412 + 1288 + 865 + 2031 + 6 + 533 + 1507 + 1120 + 8 + 15 + 212
        )
        assert region.roads.number_of_edges() > 0
        assert len(region.sites) == 6
        assert not region.meta.is_synthetic

    def test_existing_bundle_needs_overwrite(self, tmp_path, settings):
        out = tmp_path / "kymenlaakso"
        out.mkdir()
        (out / "old.txt").write_text("old")
        adapter = RecordedWFS(kymenlaakso_routes())
        with pytest.raises(OutputError, match="already exists"):
            fetch_kymenlaakso(out, settings, adapter=adapter)
        assert adapter.calls == []
        with Progress(transient=True, disable=True) as bar:
            path = fetch_kymenlaakso(out, settings, adapter=adapter, overwrite=True, progress=bar)
            assert bar.tasks[0].completed == bar.tasks[0].total == 6
        assert not (path / "old.txt").exists()
        assert (path / "region.toml").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "kymenlaakso"]

    def test_unwritable_destination(self, tmp_path, settings):
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the bundle's parent folder should be")
        with pytest.raises(OutputError, match="cannot create the folder"):
            fetch_kymenlaakso(blocker / "kymenlaakso", settings)

    def test_progress_bar_flag(self, tmp_path, settings):
        path = fetch_kymenlaakso(tmp_path / "b", settings, progress=True)
        assert (path / "region.toml").exists()

    def test_own_sites_are_added_to_the_central_localities(self, tmp_path, settings):
        # an own site in WGS84 at the centre of a recorded Kotka cell
        cells = recorded("vaki2022_1km_kymenlaakso.json")[1]
        kotka = next(
            f["properties"]
            for f in json.loads(cells)["features"]
            if f["properties"]["kunta"] == "285"
        )
        centre = shapely.Point(kotka["xkoord"] + 500, kotka["ykoord"] + 500)
        own = gpd.GeoDataFrame(
            {"site_id": ["own-1"], "name": ["Kotka library"], "required": ["yes"]},
            geometry=[centre],
            crs=3067,
        ).to_crs(4326)
        own.to_file(tmp_path / "own.gpkg")
        path = fetch_kymenlaakso(tmp_path / "k", settings, sites_file=tmp_path / "own.gpkg")
        sites = gpd.read_file(path / "sites.gpkg").set_index("site_id")
        assert len(sites) == 7 and sites.loc["own-1", "name"] == "Kotka library"
        assert bool(sites.loc["own-1", "required"]) is True
        assert sites.loc["own-1", "geometry"].distance(centre) < 0.01
        assert "own.gpkg" in tomllib.loads((path / "region.toml").read_text())["sources"]["sites"]

    def test_offline_fails_fast_naming_the_endpoint(self, tmp_path, settings):
        adapter = OfflineAdapter()
        out = tmp_path / "regions" / "pohjois-karjala"
        with pytest.raises(SourceUnavailableError) as info:
            fetch_region(
                "pohjois-karjala", out_dir=out, session=session_with(adapter), settings=settings
            )
        message = str(info.value)
        assert AREAS_WFS_URL in message
        assert "optimizer bundle --from-files" in message
        assert len(adapter.urls) == 1
        assert not out.parent.exists() or list(out.parent.iterdir()) == []

    def test_unreachable_overpass_stops_before_the_population_download(self, tmp_path, settings):
        adapter = RecordedWFS(kymenlaakso_routes())  # WFS answers; Overpass is "offline"
        out = tmp_path / "regions" / "kymenlaakso"
        with pytest.raises(SourceUnavailableError) as info:
            fetch_region(
                "kymenlaakso", out_dir=out, session=session_with(adapter), settings=settings
            )
        message = str(info.value)
        assert "Overpass" in message and "/status" in message
        assert "optimizer bundle --from-files" in message
        assert "vaestoruutu:vaki2022_1km" not in adapter.typenames()
        assert not out.parent.exists() or list(out.parent.iterdir()) == []

    def test_unknown_region_before_any_request(self, tmp_path, settings):
        adapter = OfflineAdapter()
        with pytest.raises(UnknownRegionError, match="did you mean Kymenlaakso"):
            fetch_region(
                "Kymenlaaks",
                out_dir=tmp_path / "x",
                session=session_with(adapter),
                settings=settings,
            )
        with pytest.raises(UnknownRegionError, match="Åland"):
            fetch_region(
                "Åland", out_dir=tmp_path / "x", session=session_with(adapter), settings=settings
            )
        assert adapter.urls == []

    def test_region_info_is_accepted(self, tmp_path, settings):
        region = find_region("08")
        assert isinstance(region, RegionInfo)
        path = fetch_kymenlaakso(tmp_path / "k", settings, region=region)
        assert path.name == "k"

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.errors import BundleNotFoundError, CRSError, DataError
from optimizer.population import (
    AGE_COLUMNS,
    GRID_COLUMNS,
    HSY_AGE_BANDS,
    MAX_CELL_RESIDENTS,
    cell_size,
    format_municipality_code,
    grid_from_features,
    read_population,
    validate_population,
)

WFS = Path(__file__).parent / "data" / "wfs"


def recorded(name: str) -> dict:
    return json.loads((WFS / name).read_text(encoding="utf-8"))


@pytest.fixture
def joensuu_collection() -> dict:
    """Both recorded pages of vaki2021_1km merged into one collection."""
    first, second = recorded("vaki2021_1km_page1.json"), recorded("vaki2021_1km_page2.json")
    return {**first, "features": first["features"] + second["features"]}


def make_grid(n: int = 4, *, crs: str | None = "EPSG:3067") -> gpd.GeoDataFrame:
    cells = [shapely.box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(n)]
    return gpd.GeoDataFrame(
        {"population": [10.0 * (i + 1) for i in range(n)], "municipality": ["167"] * n},
        geometry=cells,
        index=pd.Index([f"c{i}" for i in range(n)], name="cell_id"),
        crs=crs,
    )


# --------------------------------------------------------------------------- conversion


class TestGridFromFeatures:
    def test_recorded_pages_convert_to_bundle_schema(self, joensuu_collection):
        grid = grid_from_features(joensuu_collection, year=2021, source="recorded")
        assert list(grid.columns[: len(GRID_COLUMNS)]) == list(GRID_COLUMNS)
        assert grid.index.name == "cell_id"
        assert list(grid.index) == [
            "1kmN6942E641",
            "1kmN6943E641",
            "1kmN6942E642",
            "1kmN6943E642",
            "1kmN6944E643",
        ]
        assert grid.crs.to_epsg() == 3067
        assert grid["population"].dtype == np.float64
        assert grid["population"].sum() == 1712 + 3265 + 7 + 958 + 4
        assert (grid["municipality"] == "167").all()
        assert grid.attrs["year"] == 2021

    def test_suppressed_cells_become_nan(self, joensuu_collection):
        grid = grid_from_features(joensuu_collection)
        small = grid.loc[["1kmN6942E642", "1kmN6944E643"]]
        assert small["population"].tolist() == [7.0, 4.0]
        assert small[list(AGE_COLUMNS)].isna().all().all()
        big = grid.loc["1kmN6942E641"]
        assert (big["age_0_14"], big["age_15_64"], big["age_65_plus"]) == (214, 1137, 361)

    def test_cells_are_1km_squares_from_lower_left_corner(self, joensuu_collection):
        grid = grid_from_features(joensuu_collection)
        minx, miny, maxx, maxy = grid.loc["1kmN6943E641"].geometry.bounds
        assert (minx, miny, maxx, maxy) == (641000, 6943000, 642000, 6944000)
        assert np.allclose(grid.area, 1e6)

    def test_point_layer_gives_the_same_cells(self, joensuu_collection):
        polygons = grid_from_features(joensuu_collection)
        points = grid_from_features(recorded("vaki2021_1km_kp.json"))
        assert list(points.index) == list(polygons.index)
        assert points.geom_equals(polygons.geometry).all()
        pd.testing.assert_frame_equal(
            pd.DataFrame(points.drop(columns="geometry")),
            pd.DataFrame(polygons.drop(columns="geometry")),
        )

    def test_5km_layer(self):
        grid = grid_from_features(recorded("vaki2021_5km.json"))
        assert np.allclose(grid.area, 25e6)
        assert grid.loc["5kmN6940E640"].geometry.bounds == (640000, 6940000, 645000, 6945000)
        assert math.isnan(grid.loc["5kmN6940E645", "age_0_14"])

    def test_list_of_features_and_geodataframe_inputs(self, joensuu_collection):
        from_list = grid_from_features(joensuu_collection["features"])
        gdf = gpd.GeoDataFrame.from_features(joensuu_collection["features"], crs=3067)
        from_gdf = grid_from_features(gdf)
        assert from_list.equals(from_gdf)

    def test_upper_case_fields_from_a_shapefile(self, joensuu_collection):
        gdf = gpd.GeoDataFrame.from_features(joensuu_collection["features"], crs=3067)
        gdf.columns = [c.upper() if c != "geometry" else c for c in gdf.columns]
        assert len(grid_from_features(gdf)) == 5

    def test_numeric_kunta_is_zero_padded(self, joensuu_collection):
        for feature in joensuu_collection["features"]:
            feature["properties"]["kunta"] = 91
        grid = grid_from_features(joensuu_collection)
        assert (grid["municipality"] == "091").all()

    def test_cells_without_grd_id_get_ids_from_coordinates(self, joensuu_collection):
        for feature in joensuu_collection["features"]:
            del feature["properties"]["grd_id"]
        grid = grid_from_features(joensuu_collection)
        assert "1kmN6943E641" in grid.index

    def test_polygons_without_coordinates_fields(self, joensuu_collection):
        for feature in joensuu_collection["features"]:
            del feature["properties"]["xkoord"]
            del feature["properties"]["ykoord"]
        grid = grid_from_features(joensuu_collection)
        assert np.allclose(grid.area, 1e6)

    def test_missing_municipality_field(self, joensuu_collection):
        for feature in joensuu_collection["features"]:
            del feature["properties"]["kunta"]
        grid = grid_from_features(joensuu_collection)
        assert grid["municipality"].isna().all()

    @given(
        st.lists(
            st.tuples(st.integers(1, 20_000), st.integers(0, 100), st.integers(0, 100)),
            min_size=1,
            max_size=30,
            unique_by=lambda t: (t[1], t[2]),
        )
    )
    @settings(max_examples=40, deadline=None)
    def test_totals_and_suppression_property(self, cells):
        features = []
        for vaesto, i, j in cells:
            young = vaesto // 5
            old = vaesto // 4
            ages = (young, vaesto - young - old, old) if vaesto >= 10 else (-1, -1, -1)
            features.append(
                {
                    "type": "Feature",
                    "geometry": None,
                    "properties": {
                        "grd_id": f"1kmN{7000 + j}E{300 + i}",
                        "xkoord": (300 + i) * 1000,
                        "ykoord": (7000 + j) * 1000,
                        "vaesto": vaesto,
                        "ika_0_14": ages[0],
                        "ika_15_64": ages[1],
                        "ika_65_": ages[2],
                        "kunta": "698",
                    },
                }
            )
        grid = grid_from_features(features)
        assert grid["population"].sum() == sum(c[0] for c in cells)
        suppressed = grid["population"] < 10
        assert grid.loc[suppressed, list(AGE_COLUMNS)].isna().all().all()
        known = grid.loc[~suppressed]
        assert np.allclose(known[list(AGE_COLUMNS)].sum(axis=1), known["population"])

    def test_empty_collection(self):
        empty = {"type": "FeatureCollection", "features": []}
        with pytest.raises(DataError, match="no cells"):
            grid_from_features(empty, source="wfs-answer")

    def test_missing_vaesto_names_the_field(self, joensuu_collection):
        for feature in joensuu_collection["features"]:
            del feature["properties"]["vaesto"]
        with pytest.raises(DataError, match=r"recorded: field 'vaesto'"):
            grid_from_features(joensuu_collection, source="recorded")

    def test_non_numeric_vaesto(self, joensuu_collection):
        joensuu_collection["features"][0]["properties"]["vaesto"] = "many"
        with pytest.raises(DataError, match="'vaesto' has 1 non-numeric"):
            grid_from_features(joensuu_collection)

    def test_points_without_coordinates_cannot_be_placed(self):
        collection = recorded("vaki2021_1km_kp.json")
        for feature in collection["features"]:
            del feature["properties"]["xkoord"]
        with pytest.raises(DataError, match="xkoord"):
            grid_from_features(collection)

    def test_missing_corner_coordinates(self, joensuu_collection):
        joensuu_collection["features"][2]["properties"]["ykoord"] = None
        with pytest.raises(DataError, match="'xkoord'/'ykoord' have missing values"):
            grid_from_features(joensuu_collection)

    def test_negative_vaesto_is_rejected(self, joensuu_collection):
        joensuu_collection["features"][1]["properties"]["vaesto"] = -5
        with pytest.raises(DataError, match=r"1kmN6943E641"):
            grid_from_features(joensuu_collection)

    def test_bad_kunta(self, joensuu_collection):
        joensuu_collection["features"][0]["properties"]["kunta"] = "Joensuu"
        with pytest.raises(DataError, match="field 'kunta'"):
            grid_from_features(joensuu_collection)

    def test_not_a_feature_collection(self):
        with pytest.raises(DataError, match="FeatureCollection"):
            grid_from_features({"type": "Feature"})
        with pytest.raises(DataError, match="expected a GeoDataFrame"):
            grid_from_features(42)  # type: ignore[arg-type]
        with pytest.raises(DataError, match="feature 0"):
            grid_from_features([{"type": "Feature"}])

    def test_bad_cell_size(self, joensuu_collection):
        with pytest.raises(DataError, match="cell_size"):
            grid_from_features(joensuu_collection, cell_size=0)


# --------------------------------------------------------------------------- validation


def rejection(grid, error: type[Exception] = DataError) -> str:
    """The message of the ``error`` that validating ``grid`` (from grid.gpkg) raises."""
    with pytest.raises(error) as info:
        validate_population(grid, source="grid.gpkg")
    return str(info.value)


class TestValidatePopulation:
    def test_valid_grid_is_normalised(self):
        grid = make_grid().reset_index()
        grid["population"] = grid["population"].astype(int)
        out = validate_population(grid, source="grid.gpkg")
        assert out.index.name == "cell_id"
        assert out["population"].dtype == np.float64
        assert all(c in out.columns for c in AGE_COLUMNS)
        assert out[list(AGE_COLUMNS)].isna().all().all()

    def test_not_a_geodataframe(self):
        with pytest.raises(DataError, match="not a GeoDataFrame"):
            validate_population(pd.DataFrame({"population": [1]}), source="grid.csv")

    def test_empty_grid(self):
        with pytest.raises(DataError, match=r"grid\.gpkg is empty"):
            validate_population(make_grid().iloc[:0], source="grid.gpkg")

    def test_missing_crs(self):
        with pytest.raises(CRSError, match=r"grid\.gpkg has no CRS.*set_crs"):
            validate_population(make_grid(crs=None), source="grid.gpkg")

    def test_wgs84_grid_says_to_reproject(self):
        grid = make_grid().to_crs(4326)
        message = rejection(grid, CRSError)
        assert "grid.gpkg" in message
        assert "EPSG:4326" in message
        assert "to_crs(3067)" in message

    def test_missing_population_column(self):
        grid = make_grid().rename(columns={"population": "pop"})
        with pytest.raises(DataError, match=r"no 'population' column; columns present: pop"):
            validate_population(grid, source="grid.gpkg")

    @pytest.mark.parametrize(
        ("value", "kind"),
        [(-3.0, "1 negative"), (np.nan, "1 missing"), (np.inf, "1 infinite"), ("x", "1 missing")],
    )
    def test_bad_population_values_name_the_cells(self, value, kind):
        grid = make_grid()
        grid["population"] = grid["population"].astype(object)
        grid.loc["c2", "population"] = value
        message = rejection(grid)
        assert "grid.gpkg" in message
        assert "field 'population'" in message
        assert "1 cell(s)" in message
        assert kind in message
        assert "c2" in message

    def test_many_bad_cells_are_counted_and_ten_named(self):
        grid = make_grid(25)
        grid["population"] = -1.0
        message = rejection(grid)
        assert "25 cell(s)" in message
        assert "c9" in message
        assert "c10," not in message
        assert "and 15 more" in message

    def test_negative_age_counts(self):
        grid = make_grid()
        grid["age_65_plus"] = [1.0, -1.0, 2.0, np.nan]
        with pytest.raises(DataError, match=r"'age_65_plus'.*c1"):
            validate_population(grid, source="grid.gpkg")

    def test_non_polygon_cells(self):
        grid = make_grid()
        grid.loc["c1", "geometry"] = shapely.Point(0, 0)
        with pytest.raises(DataError, match=r"must be polygons.*Point: c1"):
            validate_population(grid, source="grid.gpkg")

    def test_missing_geometry(self):
        grid = make_grid()
        grid.loc["c3", "geometry"] = None
        with pytest.raises(DataError, match=r"no geometry: c3"):
            validate_population(grid, source="grid.gpkg")

    def test_duplicate_cell_ids(self):
        grid = make_grid()
        grid.index = pd.Index(["a", "b", "a", "b"], name="cell_id")
        with pytest.raises(DataError, match=r"2 id\(s\) repeat: a, b"):
            validate_population(grid, source="grid.gpkg")

    def test_bad_municipality_code(self):
        grid = make_grid()
        grid["municipality"] = "Joensuu"
        with pytest.raises(DataError, match="field 'municipality'"):
            validate_population(grid, source="grid.gpkg")

    def test_invalid_expected_crs(self):
        with pytest.raises(CRSError, match="not a valid CRS"):
            validate_population(make_grid(), source="grid.gpkg", crs="EPSG:0")


# --------------------------------------------------------------------------- reading files


class TestReadPopulation:
    def test_missing_file(self, tmp_path):
        path = tmp_path / "nope.gpkg"
        with pytest.raises(BundleNotFoundError, match=r"nope\.gpkg does not exist") as info:
            read_population(path)
        assert isinstance(info.value, FileNotFoundError)

    def test_bundle_schema_round_trip(self, tmp_path):
        grid = validate_population(make_grid(), source="memory")
        path = tmp_path / "population.gpkg"
        grid.to_file(path, layer="population", driver="GPKG", index=True)
        back = read_population(path)
        assert list(back.index) == list(grid.index)
        assert back["population"].tolist() == grid["population"].tolist()
        assert (back["municipality"] == "167").all()

    def test_statistics_finland_geojson_file(self):
        grid = read_population(WFS / "vaki2021_5km.json")
        assert len(grid) == 2
        assert grid["population"].sum() == 25113 + 3

    def test_column_mapping(self, tmp_path):
        grid = make_grid().reset_index().rename(columns={"population": "pop2022", "cell_id": "id"})
        path = tmp_path / "own.geojson"
        grid.to_file(path, driver="GeoJSON")
        back = read_population(path, columns={"population": "pop2022", "cell_id": "id"})
        assert list(back.index) == ["c0", "c1", "c2", "c3"]
        assert back["population"].tolist() == [10.0, 20.0, 30.0, 40.0]

    def test_file_without_ids_is_numbered(self, tmp_path):
        grid = make_grid().reset_index(drop=True)
        path = tmp_path / "own.gpkg"
        grid.to_file(path, driver="GPKG")
        assert list(read_population(path).index) == ["cell-0", "cell-1", "cell-2", "cell-3"]

    def test_unknown_mapping_key(self, tmp_path):
        path = tmp_path / "own.gpkg"
        make_grid().to_file(path, driver="GPKG")
        with pytest.raises(DataError, match="unknown key"):
            read_population(path, columns={"people": "population"})

    def test_mapped_column_missing(self, tmp_path):
        path = tmp_path / "own.gpkg"
        make_grid().to_file(path, driver="GPKG")
        with pytest.raises(DataError, match="pop2022 named in columns= are not in the file"):
            read_population(path, columns={"population": "pop2022"})

    def test_unreadable_file(self, tmp_path):
        path = tmp_path / "broken.gpkg"
        path.write_text("not a geopackage")
        with pytest.raises(DataError, match="cannot read population file"):
            read_population(path)

    def test_wgs84_file(self, tmp_path):
        path = tmp_path / "wgs84.gpkg"
        make_grid().to_crs(4326).to_file(path, driver="GPKG", index=True)
        with pytest.raises(CRSError, match=r"wgs84\.gpkg.*to_crs\(3067\)"):
            read_population(path)


# --------------------------------------------------------------------------- real HSY grid

HSY = Path(__file__).parent / "data" / "hsy" / "Vaestotietoruudukko_2015_kamppi.shp"
HSY_COLUMNS = {"population": "ASUKKAITA", "cell_id": "INDEX"}


class TestRealHSYGrid:
    """The real HSY 250 m grid (EPSG:3879, age bands with 99 where suppressed)."""

    @pytest.fixture(scope="class")
    def raw(self) -> gpd.GeoDataFrame:
        return gpd.read_file(HSY)

    @pytest.fixture(scope="class")
    def grid(self) -> gpd.GeoDataFrame:
        return read_population(HSY, columns=HSY_COLUMNS, age_bands=HSY_AGE_BANDS, reproject=True)

    def test_wrong_crs_is_named_briefly(self):
        with pytest.raises(CRSError) as info:
            read_population(HSY, columns=HSY_COLUMNS)
        message = str(info.value)
        assert "EPSG:3879" in message and "expected EPSG:3067" in message
        assert "PROJCS" not in message and len(message) < 400

    def test_missing_residents_column_names_the_option(self):
        with pytest.raises(DataError, match=r"no 'population' column.*--population-column"):
            read_population(HSY, reproject=True)

    def test_residents_and_ids_are_kept(self, raw, grid):
        assert len(grid) == len(raw) == 210
        assert grid["population"].sum() == raw["ASUKKAITA"].sum() == 140_848
        assert set(grid.index) == {str(i) for i in raw["INDEX"]}

    def test_reprojection_moves_each_cell_to_its_place(self, raw, grid):
        from pyproj import Transformer

        to_3067 = Transformer.from_crs(3879, 3067, always_xy=True)
        centres = raw.set_index(raw["INDEX"].astype(str)).geometry.centroid
        x, y = to_3067.transform(centres.x.to_numpy(), centres.y.to_numpy())
        got = grid.geometry.centroid.loc[centres.index]
        assert np.abs(got.x.to_numpy() - x).max() < 1.0
        assert np.abs(got.y.to_numpy() - y).max() < 1.0
        assert grid.crs.to_epsg() == 3067
        assert cell_size(grid) == 250.0

    def test_suppressed_bands_become_missing_and_ages_fit_the_totals(self, raw, grid):
        bands = [b.column for b in HSY_AGE_BANDS]
        assert (raw[bands] == 99).any(axis=1).sum() > 0
        ages = grid[list(AGE_COLUMNS)]
        known = ages.notna().all(axis=1)
        assert (ages.fillna(0).sum(axis=1) <= grid["population"] + 1e-6).all()
        assert ages.isna().any(axis=1).sum() > 0 and known.sum() > 0

    def test_whole_bands_map_onto_the_age_groups(self, raw, grid):
        bands = [b.column for b in HSY_AGE_BANDS]
        clean = raw[~(raw[bands] == 99).any(axis=1)]
        clean = clean.set_index(clean["INDEX"].astype(str))
        assert len(clean) > 20
        got = grid.loc[clean.index]
        # 10-19 is split by years: 10-14 to the children, 15-19 to working age
        expected_young = clean["IKA0_9"] + clean["IKA10_19"] / 2
        expected_old = clean["IKA60_69"] / 2 + clean["IKA70_79"] + clean["IKA_YLI80"]
        np.testing.assert_allclose(got["age_0_14"], expected_young)
        np.testing.assert_allclose(got["age_65_plus"], expected_old)


def test_ages_above_the_total_are_rejected():
    grid = make_grid()
    grid["age_0_14"] = [1.0, 2.0, 50.0, 3.0]  # cell c2 holds 30 residents
    with pytest.raises(DataError, match=r"age_0_14 exceed the cell's residents.*c2: 50 of 30"):
        validate_population(grid, source="grid.gpkg")
    grid["age_0_14"] = [1.0, 2.0, 20.0, 3.0]
    grid["age_65_plus"] = [1.0, 2.0, 20.0, 3.0]
    with pytest.raises(DataError, match=r"age groups together exceed.*c2"):
        validate_population(grid, source="grid.gpkg")


def test_cell_with_more_residents_than_finland():
    grid = make_grid()
    grid.loc["c1", "population"] = float(MAX_CELL_RESIDENTS + 1)
    with pytest.raises(DataError, match=r"field|more residents than the whole of Finland.*c1"):
        validate_population(grid, source="grid.gpkg")


def test_wgs84_polygons_without_corner_fields_are_reprojected(joensuu_collection):
    frame = grid_from_features(joensuu_collection)
    polygons = gpd.GeoDataFrame(
        {"vaesto": frame["population"].to_numpy(), "kunta": frame["municipality"].to_numpy()},
        geometry=frame.geometry.to_crs(4326).to_numpy(),
        crs=4326,
    )
    again = grid_from_features(polygons)
    assert again.crs.to_epsg() == 3067
    np.testing.assert_allclose(
        np.sort(again.geometry.centroid.x), np.sort(frame.geometry.centroid.x), atol=1.0
    )
    assert cell_size(again) == 1000.0
    with pytest.raises(CRSError, match="declare no CRS"):
        grid_from_features(
            pd.DataFrame(polygons.drop(columns="geometry")).assign(geometry=list(polygons.geometry))
        )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("091", "091"),
        ("91", "091"),
        (91, "091"),
        (91.0, "091"),
        (np.int64(5), "005"),
        ("KU167", "167"),
        (" 167 ", "167"),
        (None, None),
        (float("nan"), None),
        ("", None),
    ],
)
def test_format_municipality_code(value, expected):
    assert format_municipality_code(value) == expected


@pytest.mark.parametrize("value", ["Joensuu", 91.5, 1000, -1, True])
def test_format_municipality_code_rejects(value):
    with pytest.raises(DataError):
        format_municipality_code(value)

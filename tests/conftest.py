from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real data beside the repository (CI provides it; never skipped)."""
    path = REPO.parent / "shared" / "data"
    assert path.is_dir(), f"{path} is missing: tests need ../shared/data beside the repository"
    return path


@pytest.fixture(scope="session")
def demo_region():
    from optimizer.region import load_region

    return load_region("pohjois-karjala")


@pytest.fixture(scope="session")
def tiny_facts():
    from optimizer.synthetic import load_facts

    return load_facts(TEST_DATA / "facts_tiny.toml")


@pytest.fixture()
def tiny_bundle(tmp_path: Path, tiny_facts) -> Path:
    """A freshly written tiny synthetic bundle (a few hundred cells)."""
    from optimizer.region import Region, RegionMeta, save_region
    from optimizer.synthetic import generate_region

    gen = generate_region(tiny_facts)
    region = Region(
        name=tiny_facts.name,
        slug=tiny_facts.slug,
        code=tiny_facts.code,
        year=tiny_facts.year,
        crs="EPSG:3067",
        population=gen.population,
        roads=gen.roads,
        sites=gen.sites,
        boundary=gen.boundary,
        meta=RegionMeta(synthetic={"population": True, "roads": True, "sites": True}),
    )
    return save_region(region, tmp_path / "tiny")

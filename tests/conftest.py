from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def demo_region():
    from optimizer.region import load_region

    return load_region("pohjois-karjala")


@pytest.fixture(scope="session")
def tiny_facts():
    from optimizer.sources.synthetic import load_facts

    return load_facts(TEST_DATA / "facts_tiny.toml")


def write_tiny_bundle(facts, folder: Path) -> Path:
    """Write the synthetic region of ``facts`` as the bundle ``folder / "tiny"``."""
    from optimizer.sources.synthetic import write_synthetic_bundle

    return write_synthetic_bundle(facts, folder / "tiny")


@pytest.fixture()
def tiny_bundle(tmp_path: Path, tiny_facts) -> Path:
    """A freshly written tiny synthetic bundle (a few hundred cells) a test may edit."""
    return write_tiny_bundle(tiny_facts, tmp_path)


@pytest.fixture(scope="session")
def shared_tiny_bundle(tmp_path_factory, tiny_facts) -> Path:
    """One tiny bundle per test session; read only (copy it before editing)."""
    return write_tiny_bundle(tiny_facts, tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def previous_outputs(shared_tiny_bundle, tmp_path_factory) -> Path:
    """An output folder holding one complete earlier run of the minimal scenario."""
    from safetytools import run_cli, write_scenario

    out = tmp_path_factory.mktemp("previous") / "out"
    scenario = write_scenario(out.parent, shared_tiny_bundle)
    result = run_cli(scenario, out)
    assert result.exit_code == 0, result.output
    return out

"""Location models against published optima (OR-Library) and against spopt."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from optimizer.models import LSCP, MCLP, PCenter, PMedian, TwoTier

#: Copies of a few OR-Library instances and their optima (see tests/data/orlib/README.md).
ORLIB_TEST = Path(__file__).resolve().parent / "data" / "orlib"


def load_orlib(name: str, folder: Path) -> tuple[np.ndarray, int]:
    """Parse an OR-Library p-median file into an all-pairs shortest-path matrix."""
    with open(folder / f"{name}.txt", encoding="ascii") as fh:
        n, _, p = (int(v) for v in fh.readline().split())
        edges: dict[tuple[int, int], float] = {}
        for line in fh:
            parts = line.split()
            if len(parts) < 3:
                continue
            i, j, c = int(parts[0]) - 1, int(parts[1]) - 1, float(parts[2])
            edges[(min(i, j), max(i, j))] = c  # the last cost of a repeated edge counts
    ij = np.array(list(edges), dtype=int)
    graph = sp.coo_matrix((list(edges.values()), (ij[:, 0], ij[:, 1])), shape=(n, n)).tocsr()
    return shortest_path(graph, directed=False), p


ORLIB_NAMES = ["pmed1", "pmed2", "pmed3", "pmed4", "pmed5", "pmed6", "pmed7", "pmed11"]


@pytest.mark.parametrize("name", ORLIB_NAMES)
def test_pmedian_reproduces_orlib_optimum(name: str) -> None:
    with open(ORLIB_TEST / "optima.csv", encoding="ascii") as fh:
        optimum = {row["instance"]: float(row["optimum"]) for row in csv.DictReader(fh)}[name]
    cost, p = load_orlib(name, ORLIB_TEST)
    sol = PMedian.from_cost_matrix(cost, p=p).solve(mip_gap=0, time_limit=300)
    assert sol.status == "optimal"
    assert sol.objective == optimum
    assert sol.bound == pytest.approx(optimum)
    assert len(sol.open_sites) == p
    # the compact MILP (another exact path) agrees on the smallest ones
    if cost.shape[0] <= 100:
        compact = PMedian.from_cost_matrix(cost, p=p).solve(mip_gap=0, method="compact")
        assert compact.status == "optimal" and compact.objective == optimum


def test_orlib_parser_keeps_the_last_duplicate_edge(tmp_path: Path) -> None:
    (tmp_path / "tiny.txt").write_text(" 3 3 1 \n 1 2 5 \n 2 3 1 \n 1 2 2 \n")
    cost, p = load_orlib("tiny", tmp_path)
    assert p == 1 and cost[0, 1] == 2 and cost[0, 2] == 3


# ----------------------------------------------------------------------------------------
# spopt (test-only dependency)
# ----------------------------------------------------------------------------------------


def instance(seed: int, n: int = 60, m: int = 15):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 100, (n, 2))
    sites = rng.uniform(0, 100, (m, 2))
    cost = np.round(np.linalg.norm(demand[:, None] - sites[None], axis=2))  # ties on purpose
    return cost, rng.integers(1, 20, n).astype(float)


@pytest.fixture(scope="module")
def spopt_locate():
    pytest.importorskip("spopt")
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt import locate
    return locate, pulp


def _spopt_value(model, pulp) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solved = model.solve(pulp.COIN_CMD(path=_cbc_path(), msg=False))
    return float(pulp.value(solved.problem.objective))


def _cbc_path() -> str:
    from pulp.apis.coin_api import PULP_CBC_CMD

    return PULP_CBC_CMD.pulp_cbc_path


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objectives_equal_spopt(spopt_locate, seed: int) -> None:
    locate, pulp = spopt_locate
    cost, w = instance(seed)
    p = 2 + seed
    radius = 25.0
    cover_all = float(cost.min(axis=1).max()) + 5

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_pm = locate.PMedian.from_cost_matrix(cost, w, p_facilities=p)
        ref_mclp = locate.MCLP.from_cost_matrix(cost, w, service_radius=radius, p_facilities=p)
        ref_lscp = locate.LSCP.from_cost_matrix(cost, service_radius=cover_all)
        ref_pc = locate.PCenter.from_cost_matrix(cost, p_facilities=p)

    assert PMedian.from_cost_matrix(cost, p=p, weights=w).solve(
        mip_gap=0
    ).objective == pytest.approx(_spopt_value(ref_pm, pulp))
    assert MCLP.from_cost_matrix(cost, radius=radius, p=p, weights=w).solve(
        mip_gap=0
    ).objective == pytest.approx(_spopt_value(ref_mclp, pulp))
    assert LSCP.from_cost_matrix(cost, radius=cover_all).solve(
        mip_gap=0
    ).objective == pytest.approx(_spopt_value(ref_lscp, pulp))
    assert PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0).objective == pytest.approx(
        _spopt_value(ref_pc, pulp)
    )


@pytest.mark.slow
def test_predefined_sites_match_spopt(spopt_locate) -> None:
    locate, pulp = spopt_locate
    cost, w = instance(5)
    pre = np.zeros(cost.shape[1], dtype=int)
    pre[[2, 7]] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = locate.PMedian.from_cost_matrix(
            cost, w, p_facilities=4, predefined_facilities_arr=pre
        )
    ours = PMedian.from_cost_matrix(cost, p=4, weights=w, required=[2, 7]).solve(mip_gap=0)
    assert ours.objective == pytest.approx(_spopt_value(ref, pulp))


# ----------------------------------------------------------------------------------------
# real data: the demo region bundle with the travel-time engine
# ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_region_end_to_end(demo_region) -> None:
    from optimizer.traveltimes import travel_time_matrix

    matrix = travel_time_matrix(demo_region, use_cache=False)
    required = set(demo_region.sites.index[demo_region.sites["required"]])
    sol = PMedian.from_region(demo_region, matrix, p=5).solve(mip_gap=0)
    assert sol.status == "optimal" and required <= set(sol.open_site_ids)
    weights = demo_region.population["population"].reindex(matrix.origin_ids).to_numpy()
    same = PMedian.from_cost_matrix(
        matrix.minutes,
        p=5,
        weights=weights,
        required=[list(matrix.destination_ids).index(s) for s in required],
    ).solve(mip_gap=0)
    assert sol.objective == pytest.approx(same.objective, rel=1e-9)
    assigned = sol.assigned_ids()
    assert len(assigned) == len(matrix.origin_ids) and set(assigned) <= set(sol.open_site_ids)
    two = TwoTier.from_region(
        demo_region,
        matrix,
        remote_share=0.3,
        n_full=(2, 5),
        n_remote=(0, 6),
        site_cost_remote=0.0,
        coverage_minutes=45.0,
        coverage="soft",
        coverage_penalty=1000.0,
    ).solve(mip_gap=1e-6)
    assert two.status == "optimal"
    assert required <= set(two.open_site_ids[k] for k, t in enumerate(two.tiers) if t == "full")
    assert two.objective == pytest.approx(sum(two.breakdown.values()))

"""PCenter (radius search): against enumeration of every p-subset, the compact MILP and spopt."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from sfdata import sf_cost

from optimizer.errors import InfeasibleError
from optimizer.models import PCenter
from optimizer.models._backends import run_highs
from optimizer.models._radius import radius_search


def brute_force(
    cost: np.ndarray,
    p: int,
    *,
    weights: np.ndarray | None = None,
    required: tuple[int, ...] = (),
    forbidden: tuple[int, ...] = (),
) -> float:
    """The optimal p-center radius by enumeration (``inf`` when no p sites reach every row)."""
    rows = np.ones(cost.shape[0], bool) if weights is None else weights > 0
    allowed = [j for j in range(cost.shape[1]) if j not in forbidden and j not in required]
    best = math.inf
    for extra in itertools.combinations(allowed, p - len(required)):
        sites = list(required) + list(extra)
        value = float(cost[rows][:, sites].min(axis=1).max()) if rows.any() else 0.0
        best = min(best, value)
    return best


def tied_instance(seed: int, n: int = 14, m: int = 7) -> np.ndarray:
    """Small integer costs (many ties) with a few unreachable pairs."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 6, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.15] = np.inf
    cost[np.arange(n), rng.integers(0, m, n)] = rng.integers(0, 6, n)  # every row reachable
    return cost


def plane_instance(seed: int, n: int = 25, m: int = 8) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    a, b = rng.uniform(0, 50, (n, 2)), rng.uniform(0, 50, (m, 2))
    return np.linalg.norm(a[:, None] - b[None], axis=2)


def check(sol, cost: np.ndarray, p: int, ref: float, weights: np.ndarray | None = None) -> None:
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert sol.bound == pytest.approx(ref, rel=1e-12, abs=1e-12)
    assert len(sol.open_sites) == p
    rows = np.ones(cost.shape[0], bool) if weights is None else weights > 0
    recomputed = float(cost[rows][:, list(sol.open_sites)].min(axis=1).max()) if rows.any() else 0
    assert recomputed == pytest.approx(ref, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_matches_enumeration_with_ties(seed: int, p: int) -> None:
    cost = tied_instance(seed)
    ref = brute_force(cost, p)
    if math.isinf(ref):
        with pytest.raises(InfeasibleError):
            PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0)
        return
    check(PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0), cost, p, ref)
    # without the heuristic start the search finds the same optimum
    check(PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0, warm_start=False), cost, p, ref)


@pytest.mark.parametrize("seed", range(6))
def test_matches_enumeration_with_required_forbidden_weights(seed: int) -> None:
    cost = plane_instance(seed)
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 3, cost.shape[0]).astype(float)  # zero-weight rows do not count
    w[0] = 1.0
    required, forbidden = (int(seed % 8),), (int((seed + 3) % 8), int((seed + 5) % 8))
    for p in (2, 3):
        ref = brute_force(cost, p, weights=w, required=required, forbidden=forbidden)
        sol = PCenter.from_cost_matrix(
            cost, p=p, weights=w, required=list(required), forbidden=list(forbidden)
        ).solve(mip_gap=0)
        check(sol, cost, p, ref, w)
        assert required[0] in sol.open_sites
        assert not set(forbidden) & set(sol.open_sites)


@pytest.mark.parametrize("seed", range(3))
def test_radius_search_agrees_with_compact_milp_and_cbc(seed: int) -> None:
    cost = plane_instance(seed, n=30, m=9)
    for p in (2, 4):
        ref = brute_force(cost, p)
        compact = PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0, method="compact")
        assert compact.objective == pytest.approx(ref)
        check(PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0, solver="cbc"), cost, p, ref)


def test_no_p_sites_reach_every_row_is_infeasible() -> None:
    # each row reaches one site of its own: three rows cannot be served by two sites
    cost = np.full((3, 3), np.inf)
    np.fill_diagonal(cost, 1.0)
    with pytest.raises(InfeasibleError):
        PCenter.from_cost_matrix(cost, p=2).solve()
    sol = PCenter.from_cost_matrix(cost, p=3).solve()
    assert sol.objective == 1.0 and sol.status == "optimal"


def test_no_weighted_rows_gives_zero() -> None:
    cost = plane_instance(0, n=5, m=4)
    sol = PCenter.from_cost_matrix(cost, p=2, weights=np.zeros(5), required=[3]).solve()
    assert sol.objective == 0.0 and sol.status == "optimal"
    assert len(sol.open_sites) == 2 and 3 in sol.open_sites


@pytest.mark.parametrize("stop_after", [0, 1, 2])
def test_stopped_search_brackets_the_optimum(stop_after: int) -> None:
    """A search cut short (the time limit) returns a valid bound and a valid solution."""
    cost = plane_instance(4, n=40, m=10)
    p = 3
    ref = brute_force(cost, p)
    calls = {"n": 0}

    def remaining() -> float:
        calls["n"] += 1
        return 1.0 if calls["n"] <= stop_after else 0.0

    def solve(milp, time_limit):
        return run_highs(milp, time_limit=time_limit, mip_gap=1.0)

    start = np.array([0, 1, 2])
    res = radius_search(cost, np.zeros(10, bool), p, start=start, solve=solve, remaining=remaining)
    assert res.sites is not None and res.sites.size <= p
    assert res.radius == float(cost[:, res.sites].min(axis=1).max())
    assert res.bound <= ref + 1e-12 <= res.radius + 1e-12
    assert res.bound >= float(cost.min(axis=1).max())
    if not res.proven:
        assert res.bound < res.radius


@pytest.mark.parametrize("p", [2, 3, 4, 5])
def test_san_francisco_matches_enumeration(p: int) -> None:
    cost = sf_cost()
    assert cost.shape == (205, 16)
    check(PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0), cost, p, brute_force(cost, p))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_spopt(seed: int) -> None:
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt.locate import PCenter as SPCenter

    cost = plane_instance(seed, n=30, m=8).round(1)  # rounded: ties between sites
    for p in (2, 3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SPCenter.from_cost_matrix(cost, p_facilities=p)
            ref = ref.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
        assert ref.problem.status == 1
        ours = PCenter.from_cost_matrix(cost, p=p).solve(mip_gap=0)
        assert ours.objective == pytest.approx(pulp.value(ref.problem.objective))
        assert ours.objective == pytest.approx(brute_force(cost, p))

"""MCLP (and the set-cover blocks it shares with LSCP): enumeration, the compact MILP, spopt."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

from optimizer.models import LSCP, MCLP
from optimizer.models._cover import dominated_sites, drop_dominated_rows, greedy_cover
from optimizer.models._inputs import unique_sets
from optimizer.models._mclp import swap_search


def covered_weight(cost: np.ndarray, w: np.ndarray, radius: float, sites) -> float:
    if len(sites) == 0:
        return 0.0
    return float(w[(cost[:, list(sites)] <= radius).any(axis=1)].sum())


def brute_mclp(
    cost: np.ndarray,
    w: np.ndarray,
    radius: float,
    p: int,
    *,
    required: tuple[int, ...] = (),
    forbidden: tuple[int, ...] = (),
) -> float:
    allowed = [j for j in range(cost.shape[1]) if j not in required and j not in forbidden]
    return max(
        covered_weight(cost, w, radius, [*required, *extra])
        for extra in itertools.combinations(allowed, p - len(required))
    )


def tied_instance(seed: int, n: int = 30, m: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Integer costs (ties at the radius) and integer weights, some zero."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(0, 10, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.1] = np.inf
    w = rng.integers(0, 5, n).astype(float)
    return cost, w


def uniform_instance(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 100, (n, 2)), rng.uniform(0, 100, (m, 2))
    cost = np.linalg.norm(a[:, None] - b[None], axis=2)
    return cost, rng.integers(1, 101, n).astype(float)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_matches_enumeration_with_ties(seed: int, p: int) -> None:
    cost, w = tied_instance(seed)
    radius = 3.0  # integer costs: many pairs exactly at the radius
    ref = brute_mclp(cost, w, radius, p)
    for kw in ({}, {"method": "compact"}, {"solver": "cbc"}, {"warm_start": False}):
        sol = MCLP.from_cost_matrix(cost, radius=radius, p=p, weights=w).solve(mip_gap=0, **kw)
        assert sol.status == "optimal", kw
        assert sol.objective == ref, kw
        assert sol.bound == pytest.approx(ref), kw
        assert len(sol.open_sites) == p
        assert covered_weight(cost, w, radius, sol.open_sites) == ref


@pytest.mark.parametrize("seed", range(4))
def test_mclp_matches_enumeration_with_required_and_forbidden(seed: int) -> None:
    cost, w = tied_instance(10 + seed, n=40, m=9)
    required, forbidden = (seed % 9,), ((seed + 4) % 9,)
    for p in (2, 3):
        ref = brute_mclp(cost, w, 4.0, p, required=required, forbidden=forbidden)
        sol = MCLP.from_cost_matrix(
            cost, radius=4.0, p=p, weights=w, required=list(required), forbidden=list(forbidden)
        ).solve(mip_gap=0)
        assert sol.objective == ref and sol.status == "optimal"
        assert required[0] in sol.open_sites and forbidden[0] not in sol.open_sites


@pytest.mark.parametrize("seed", range(2))
def test_mclp_medium_instance_agrees_with_a_cold_start(seed: int) -> None:
    """1,500 x 150 uniform points: the warm-started and the cold MILP prove one optimum."""
    cost, w = uniform_instance(seed, 1500, 150)
    fast = MCLP.from_cost_matrix(cost, radius=9.0, p=12, weights=w).solve(mip_gap=0)
    plain = MCLP.from_cost_matrix(cost, radius=9.0, p=12, weights=w).solve(
        mip_gap=0, warm_start=False
    )
    assert fast.status == plain.status == "optimal"
    assert fast.objective == plain.objective
    assert covered_weight(cost, w, 9.0, fast.open_sites) == fast.objective


def test_swap_search_improves_and_keeps_the_count() -> None:
    cost, w = uniform_instance(3, 400, 40)
    sets, inv = unique_sets(cost <= 12.0)
    weights = np.bincount(inv, weights=w)
    fixed = np.zeros(40, bool)
    fixed[5] = True
    start = np.zeros(40, bool)
    start[[5, 6, 7, 8]] = True  # a poor start
    better = swap_search(sets, weights, start, fixed)
    assert better.sum() == 4 and better[5]

    def value(mask: np.ndarray) -> float:
        return float(weights[sets[:, mask].any(axis=1)].sum())

    assert value(better) > value(start)
    # a local optimum: no single swap of a free open site improves it
    for a in np.nonzero(better & ~fixed)[0]:
        for k in np.nonzero(~better)[0]:
            trial = better.copy()
            trial[a], trial[k] = False, True
            assert value(trial) <= value(better) + 1e-9


def test_set_cover_blocks() -> None:
    rng = np.random.default_rng(5)
    sets = rng.random((60, 12)) < 0.25
    sets = sets[sets.any(axis=1)]
    distinct, _ = unique_sets(sets)
    reduced = drop_dominated_rows(distinct)
    # covering the kept rows covers every row
    for mask in itertools.product([False, True], repeat=6):
        pick = np.r_[np.array(mask), np.zeros(6, bool)]
        assert reduced[:, pick].any(axis=1).all() <= sets[:, pick].any(axis=1).all()
    cost = rng.integers(1, 3, 12).astype(float)
    dom = dominated_sites(reduced, cost)
    for a in np.nonzero(dom)[0]:  # each dominated site is within a kept, no dearer site
        within = (reduced[:, a][:, None] <= reduced[:, ~dom]).all(axis=0)
        assert (within & (cost[~dom] <= cost[a])).any()
    chosen = greedy_cover(reduced, cost, np.zeros(12, bool))
    assert chosen is not None and reduced[:, chosen].any(axis=1).all()
    for j in np.nonzero(chosen)[0]:  # no redundant site
        rest = chosen.copy()
        rest[j] = False
        assert not reduced[:, rest].any(axis=1).all()


@pytest.mark.parametrize("seed", range(4))
def test_lscp_matches_enumeration(seed: int) -> None:
    cost, _ = tied_instance(20 + seed, n=25, m=8)
    radius = 5.0
    reach = cost <= radius
    ref = math.inf
    for k in range(1, 9):
        if any(reach[:, list(s)].any(axis=1).all() for s in itertools.combinations(range(8), k)):
            ref = k
            break
    if math.isinf(ref):
        return
    sol = LSCP.from_cost_matrix(cost, radius=radius).solve(mip_gap=0)
    assert sol.objective == ref and sol.status == "optimal"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_mclp_matches_spopt(seed: int) -> None:
    import pulp

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from spopt.locate import MCLP as SMCLP

    cost, w = uniform_instance(40 + seed, 60, 12)
    for p in (2, 4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SMCLP.from_cost_matrix(cost, w, service_radius=20.0, p_facilities=p)
            ref = ref.solve(pulp.PULP_CBC_CMD(msg=False), results=False)
        assert ref.problem.status == 1
        ours = MCLP.from_cost_matrix(cost, radius=20.0, p=p, weights=w).solve(mip_gap=0)
        assert ours.objective == pytest.approx(pulp.value(ref.problem.objective))
        assert ours.objective == brute_mclp(cost, w, 20.0, p)

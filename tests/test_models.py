"""Location models: exhaustive-enumeration checks, errors, status honesty and API.

The reference optima (OR-Library) and the comparison with spopt live in
``test_models_reference.py``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from optimizer.errors import DataError, InfeasibleError, SolverError
from optimizer.models import (
    LSCP,
    MCLP,
    CapacitatedFixedCharge,
    CapacitatedPMedian,
    FixedCharge,
    PCenter,
    PMedian,
    Solution,
    TwoTier,
    _backends,
)

HYP = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HYP_CBC = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ----------------------------------------------------------------------------------------
# random small instances: integer costs 0..5 (many ties) and unreachable pairs
# ----------------------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn, max_n: int = 7, max_m: int = 6) -> dict:
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    cells = draw(
        st.lists(st.one_of(st.integers(0, 5), st.just(-1)), min_size=n * m, max_size=n * m)
    )
    cost = np.array(cells, dtype=float).reshape(n, m)
    cost[cost < 0] = np.inf
    w = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    perm = draw(st.permutations(range(m)))
    n_req = draw(st.integers(0, min(2, m)))
    n_forb = draw(st.integers(0, min(2, m - n_req)))
    required = sorted(perm[:n_req])
    forbidden = sorted(perm[n_req : n_req + n_forb])
    p = draw(st.integers(1, m))
    extra = np.array(draw(st.lists(st.integers(0, 6), min_size=m, max_size=m)), dtype=float)
    return {
        "cost": cost,
        "w": w,
        "required": required,
        "forbidden": forbidden,
        "p": p,
        "site_costs": extra,
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def _subsets(m: int, required: list[int], forbidden: list[int], sizes) -> list[list[int]]:
    allowed = [j for j in range(m) if j not in forbidden]
    out = []
    for k in sizes:
        for s in itertools.combinations(allowed, k):
            if set(required) <= set(s):
                out.append(list(s))
    return out


def _travel(cost: np.ndarray, w: np.ndarray, sites: list[int]) -> float:
    pos = w > 0
    if not pos.any():
        return 0.0
    if not sites:
        return math.inf
    d = cost[pos][:, sites].min(axis=1)
    return float(w[pos] @ d)


def enum_pmedian(inst: dict) -> float:
    cost, w, p = inst["cost"], inst["w"], inst["p"]
    vals = [
        _travel(cost, w, s)
        for s in _subsets(cost.shape[1], inst["required"], inst["forbidden"], [p])
    ]
    return min([v for v in vals if math.isfinite(v)], default=math.inf)


def enum_fixed_charge(inst: dict) -> float:
    cost, w, f = inst["cost"], inst["w"], inst["site_costs"]
    m = cost.shape[1]
    best = math.inf
    for s in _subsets(m, inst["required"], inst["forbidden"], range(1, m + 1)):
        best = min(best, _travel(cost, w, s) + float(f[s].sum()))
    return best


def solve_or_inf(model, sense: float = 1.0, **kw) -> float:
    try:
        return model.solve(mip_gap=0, **kw).objective
    except InfeasibleError:
        return sense * math.inf


def assert_same(got: float, ref: float) -> None:
    if math.isinf(ref):
        assert got == ref
    else:
        assert got == pytest.approx(ref, rel=1e-9, abs=1e-9)


def constraints(inst: dict) -> dict:
    """The demand weights and the required and forbidden sites of an instance."""
    return {"weights": inst["w"], "required": inst["required"], "forbidden": inst["forbidden"]}


def build_pmedian(inst: dict) -> PMedian:
    return PMedian.from_cost_matrix(inst["cost"], p=inst["p"], **constraints(inst))


def build_fixed_charge(inst: dict) -> FixedCharge:
    return FixedCharge.from_cost_matrix(
        inst["cost"], site_costs=inst["site_costs"], **constraints(inst)
    )


# ----------------------------------------------------------------------------------------
# enumeration checks
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["compact", "benders"])
@HYP
@given(inst=instances())
def test_pmedian_matches_enumeration(inst: dict, method: str) -> None:
    assert_same(solve_or_inf(build_pmedian(inst), method=method), enum_pmedian(inst))


@pytest.mark.parametrize("method", ["compact", "benders"])
@HYP
@given(inst=instances())
def test_fixed_charge_matches_enumeration(inst: dict, method: str) -> None:
    assert_same(solve_or_inf(build_fixed_charge(inst), method=method), enum_fixed_charge(inst))


@HYP
@given(inst=instances())
def test_mclp_matches_enumeration(inst: dict) -> None:
    cost, w = inst["cost"], inst["w"]
    radius = float(inst["seed"] % 6)
    ref = -math.inf
    for s in _subsets(cost.shape[1], inst["required"], inst["forbidden"], [inst["p"]]):
        covered = (cost[:, s] <= radius).any(axis=1)
        ref = max(ref, float(w[(w > 0) & covered].sum()))
    model = MCLP.from_cost_matrix(cost, radius=radius, p=inst["p"], **constraints(inst))
    assert_same(solve_or_inf(model, -1.0), ref)


@HYP
@given(inst=instances())
def test_lscp_matches_enumeration(inst: dict) -> None:
    cost, w, c = inst["cost"], inst["w"], inst["site_costs"]
    m = cost.shape[1]
    radius = float(inst["seed"] % 6)
    ref = math.inf
    for s in _subsets(m, inst["required"], inst["forbidden"], range(m + 1)):
        covered = (cost[:, s] <= radius).any(axis=1) if s else np.zeros(cost.shape[0], bool)
        if covered[w > 0].all():
            ref = min(ref, float(c[s].sum()))
    model = LSCP.from_cost_matrix(cost, radius=radius, site_costs=c, **constraints(inst))
    assert_same(solve_or_inf(model), ref)


@HYP
@given(inst=instances())
def test_pcenter_matches_enumeration(inst: dict) -> None:
    cost, w = inst["cost"], inst["w"]
    pos = w > 0
    ref = math.inf
    for s in _subsets(cost.shape[1], inst["required"], inst["forbidden"], [inst["p"]]):
        ref = min(ref, float(cost[pos][:, s].min(axis=1).max()) if pos.any() else 0.0)
    model = PCenter.from_cost_matrix(cost, p=inst["p"], **constraints(inst))
    assert_same(solve_or_inf(model), ref)


def enum_capacitated(inst: dict, caps: np.ndarray, p: int | None, multiple: bool) -> float:
    cost, w = inst["cost"], inst["w"]
    _n, m = cost.shape
    f = np.zeros(m) if p is not None else inst["site_costs"]
    rows = np.nonzero(w > 0)[0]
    sizes = [p] if p is not None else range(1, m + 1)
    best = math.inf
    for s in _subsets(m, inst["required"], inst["forbidden"], sizes):
        base = float(f[s].sum())
        if rows.size == 0:
            best = min(best, base)
            continue
        if not multiple:
            for a in itertools.product(s, repeat=rows.size):
                a = np.asarray(a)
                if not np.isfinite(cost[rows, a]).all():
                    continue
                load = np.zeros(m)
                np.add.at(load, a, w[rows])
                if (load <= caps + 1e-9).all():
                    best = min(best, base + float(w[rows] @ cost[rows, a]))
        else:
            k = len(s)
            c = np.array(
                [[w[i] * cost[i, j] if np.isfinite(cost[i, j]) else 0.0 for j in s] for i in rows]
            )
            bounds = [(0, 1) if np.isfinite(cost[i, j]) else (0, 0) for i in rows for j in s]
            a_eq = np.kron(np.eye(rows.size), np.ones(k))
            a_ub = np.zeros((k, rows.size * k))
            for col in range(k):
                a_ub[col, col::k] = w[rows]
            b_ub = np.array([caps[j] if np.isfinite(caps[j]) else 1e12 for j in s])
            res = linprog(
                c.ravel(),
                A_ub=a_ub,
                b_ub=b_ub,
                A_eq=a_eq,
                b_eq=np.ones(rows.size),
                bounds=bounds,
                method="highs",
            )
            if res.status == 0:
                best = min(best, base + float(res.fun))
    return best


@pytest.mark.parametrize("multiple", [False, True])
@HYP
@given(inst=instances(max_n=5, max_m=4))
def test_capacitated_matches_enumeration(inst: dict, multiple: bool) -> None:
    rng = np.random.default_rng(inst["seed"])
    caps = rng.integers(1, 8, inst["cost"].shape[1]).astype(float)
    caps[rng.random(caps.size) < 0.2] = np.inf
    options = {"capacities": caps, "multiple_sourcing": multiple, **constraints(inst)}
    cpm = CapacitatedPMedian.from_cost_matrix(inst["cost"], p=inst["p"], **options)
    assert_same(solve_or_inf(cpm), enum_capacitated(inst, caps, inst["p"], multiple))
    cfc = CapacitatedFixedCharge.from_cost_matrix(
        inst["cost"], site_costs=inst["site_costs"], **options
    )
    assert_same(solve_or_inf(cfc), enum_capacitated(inst, caps, None, multiple))


@st.composite
def two_tier_instances(draw: st.DrawFn) -> dict:
    inst = draw(instances(max_n=6, max_m=5))
    n, m = inst["cost"].shape
    rng = np.random.default_rng(inst["seed"])

    def count():
        kind = int(rng.integers(0, 3))
        if kind == 0:
            return None
        if kind == 1:
            return int(rng.integers(0, m + 1))
        lo = int(rng.integers(0, m + 1))
        return (lo, int(rng.integers(lo, m + 1)))

    req = inst["required"][:1]
    rest = [j for j in range(m) if j not in req and j not in inst["forbidden"]]
    return {
        **inst,
        "w_full": rng.integers(0, 4, n).astype(float),
        "w_remote": rng.integers(0, 4, n).astype(float),
        "cf": rng.integers(0, 5, m).astype(float),
        "cr": rng.integers(0, 3, m).astype(float),
        "n_full": count(),
        "n_remote": count(),
        "budget_full": None if rng.random() < 0.6 else float(rng.integers(0, 10)),
        "budget_remote": None if rng.random() < 0.6 else float(rng.integers(0, 6)),
        "T": None if rng.random() < 0.4 else float(rng.integers(1, 6)),
        "hard": bool(rng.random() < 0.5),
        "penalty": rng.integers(0, 10, n).astype(float),
        "required": req,
        "required_remote": rest[:1] if rng.random() < 0.3 else [],
    }


def enum_two_tier(d: dict) -> float:
    cost = d["cost"]
    _n, m = cost.shape

    def rng_of(c):
        return (0, m) if c is None else ((c, c) if isinstance(c, int) else c)

    lo_f, hi_f = rng_of(d["n_full"])
    lo_r, hi_r = rng_of(d["n_remote"])
    bf = math.inf if d["budget_full"] is None else d["budget_full"]
    br = math.inf if d["budget_remote"] is None else d["budget_remote"]
    rows = np.nonzero((d["w_full"] > 0) | (d["w_remote"] > 0))[0]
    best = math.inf
    for t in itertools.product([0, 1, 2], repeat=m):
        t = np.array(t)
        if (t[d["forbidden"]] != 0).any() or (t[d["required"]] != 1).any():
            continue
        if (t[d["required_remote"]] != 2).any():
            continue
        if not (lo_f <= (t == 1).sum() <= hi_f and lo_r <= (t == 2).sum() <= hi_r):
            continue
        if d["cf"][t == 1].sum() > bf or d["cr"][t == 2].sum() > br:
            continue
        full, open_ = t == 1, t > 0
        v = float(d["cf"][full].sum() + d["cr"][t == 2].sum())
        v += _travel(cost, d["w_full"], list(np.nonzero(full)[0]))
        v += _travel(cost, d["w_remote"], list(np.nonzero(open_)[0]))
        if not math.isfinite(v):
            continue
        if d["T"] is not None:
            cov = (
                (cost[rows][:, open_] <= d["T"]).any(axis=1)
                if open_.any()
                else np.zeros(rows.size, bool)
            )
            if d["hard"] and not cov.all():
                continue
            if not d["hard"]:
                v += float(d["penalty"][rows][~cov].sum())
        best = min(best, v)
    return best


def build_two_tier(d: dict) -> TwoTier:
    return TwoTier.from_cost_matrix(
        d["cost"],
        w_full=d["w_full"],
        w_remote=d["w_remote"],
        n_full=d["n_full"],
        n_remote=d["n_remote"],
        budget_full=d["budget_full"],
        budget_remote=d["budget_remote"],
        site_cost_full=d["cf"],
        site_cost_remote=d["cr"],
        coverage_minutes=d["T"],
        coverage="hard" if d["hard"] else "soft",
        coverage_penalty=d["penalty"],
        required=d["required"],
        required_remote=d["required_remote"],
        forbidden=d["forbidden"],
    )


@pytest.mark.parametrize("method", ["compact", "benders"])
@HYP
@given(d=two_tier_instances())
def test_two_tier_matches_enumeration(d: dict, method: str) -> None:
    model = build_two_tier(d)
    ref = enum_two_tier(d)
    try:
        sol = model.solve(mip_gap=0, method=method)
    except InfeasibleError:
        assert ref == math.inf
        return
    assert_same(sol.objective, ref)
    tiers = dict(zip(sol.open_sites, sol.tiers, strict=True))
    full = [j for j, t in tiers.items() if t == "full"]
    # the in-person assignment goes to the nearest full point, the other to the nearest point
    for i in range(d["cost"].shape[0]):
        if d["w_full"][i] > 0:
            assert tiers[int(sol.assignment[i])] == "full"
            assert d["cost"][i, sol.assignment[i]] == d["cost"][i, full].min()
        if sol.assignment_any[i] >= 0:
            assert d["cost"][i, sol.assignment_any[i]] == d["cost"][i, list(tiers)].min()


@HYP_CBC
@given(inst=instances(max_n=5, max_m=5))
def test_cbc_matches_enumeration(inst: dict) -> None:
    assert_same(solve_or_inf(build_pmedian(inst), solver="cbc"), enum_pmedian(inst))
    assert_same(solve_or_inf(build_fixed_charge(inst), solver="cbc"), enum_fixed_charge(inst))


@HYP_CBC
@given(d=two_tier_instances())
def test_two_tier_cbc_matches_enumeration(d: dict) -> None:
    assert_same(solve_or_inf(build_two_tier(d), solver="cbc"), enum_two_tier(d))


# ----------------------------------------------------------------------------------------
# larger instances: both exact paths agree, aggregation is exact
# ----------------------------------------------------------------------------------------


def plane_instance(n: int, m: int, seed: int, *, rounded: bool = True):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 50, (n, 2))
    sites = rng.uniform(0, 50, (m, 2))
    cost = np.linalg.norm(demand[:, None, :] - sites[None, :, :], axis=2)
    if rounded:
        cost = np.round(cost)
    return cost, rng.integers(1, 30, n).astype(float)


@pytest.mark.parametrize("seed", [0, 1])
def test_pmedian_paths_agree(seed: int) -> None:
    cost, w = plane_instance(300, 40, seed)
    values = []
    for method, warm in (("compact", True), ("benders", True), ("benders", False)):
        model = PMedian.from_cost_matrix(cost, p=5, weights=w)
        sol = model.solve(mip_gap=0, warm_start=warm, method=method)
        assert sol.status == "optimal" and sol.gap == 0
        values.append(sol.objective)
    assert values[0] == pytest.approx(values[1], rel=1e-12)
    assert values[0] == pytest.approx(values[2], rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_branch_and_bound_matches_enumeration(seed: int) -> None:
    # random integer costs leave a large LP gap, so the Benders engine must fix
    # sites, restrict the master to the survivors and branch: all of it checked
    # against enumeration of every site set
    rng = np.random.default_rng(100 + seed)
    n, m, p = 60, 14, 3 + seed % 2
    cost = rng.integers(1, 200, (n, m)).astype(float)
    w = rng.integers(1, 10, n).astype(float)
    best = min(float(w @ cost[:, list(c)].min(axis=1)) for c in itertools.combinations(range(m), p))
    for warm in (True, False):
        sol = PMedian.from_cost_matrix(cost, p=p, weights=w).solve(
            mip_gap=0, method="benders", warm_start=warm
        )
        assert sol.status == "optimal" and sol.objective == best == pytest.approx(sol.bound)
    fc = rng.integers(100, 400, m).astype(float)
    best_fc = min(
        float(fc[list(c)].sum()) + float(w @ cost[:, list(c)].min(axis=1))
        for k in range(1, m + 1)
        for c in itertools.combinations(range(m), k)
        if k <= 5
    )
    sol = FixedCharge.from_cost_matrix(cost, site_costs=fc, weights=w).solve(
        mip_gap=0, method="benders"
    )
    assert sol.status == "optimal"
    assert sol.objective <= best_fc + 1e-9  # enumeration up to 5 sites bounds it
    compact = FixedCharge.from_cost_matrix(cost, site_costs=fc, weights=w).solve(
        mip_gap=0, method="compact"
    )
    assert sol.objective == pytest.approx(compact.objective, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_two_tier_branch_and_bound_matches_enumeration(
    seed: int, caplog: pytest.LogCaptureFixture
) -> None:
    # random integer costs leave an LP gap: the two-tier Benders engine branches on
    # both tiers' columns (its own tree, cuts of both blocks at every node)
    rng = np.random.default_rng(300 + seed)
    n, m = 50, 8
    d = {
        "cost": rng.integers(1, 200, (n, m)).astype(float),
        "w_full": rng.integers(0, 10, n).astype(float),
        "w_remote": rng.integers(0, 10, n).astype(float),
        "cf": rng.integers(0, 300, m).astype(float),
        "cr": rng.integers(0, 100, m).astype(float),
        "n_full": 2,
        "n_remote": (1, 3),
        "budget_full": None,
        "budget_remote": None,
        "T": None if seed % 2 else 120.0,
        "hard": False,
        "penalty": rng.integers(0, 500, n).astype(float),
        "required": [],
        "required_remote": [],
        "forbidden": [],
    }
    with caplog.at_level("DEBUG", logger="optimizer.models"):
        sol = build_two_tier(d).solve(mip_gap=0, method="benders")
    assert sol.status == "optimal"
    assert_same(sol.objective, enum_two_tier(d))
    trees = [int(w) for w in re.findall(r"tree of (\d+) nodes", caplog.text)]
    assert trees and trees[0] > 1  # it branched


@pytest.mark.parametrize("seed", [200, 201, 202])
def test_restricted_benders_matches_compact(seed: int) -> None:
    # skewed road-like costs: root fixing closes most sites, the engine re-solves
    # over the survivors (seed 201) and maps back; the compact MILP is the check
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 100, (150, 2))
    stretch = rng.uniform(1, 1.6, (150, 40))
    cost = np.round(np.linalg.norm(pts[:, None] - pts[None, :40], axis=2) * stretch)
    w = rng.integers(1, 10, 150).astype(float)
    a = PMedian.from_cost_matrix(cost, p=4, weights=w).solve(mip_gap=0, method="benders")
    b = PMedian.from_cost_matrix(cost, p=4, weights=w).solve(mip_gap=0, method="compact")
    assert a.status == b.status == "optimal"
    assert a.objective == b.objective
    assert len(a.open_sites) == 4


@pytest.mark.parametrize("coverage", ["hard", "soft"])
def test_two_tier_paths_agree(coverage: str) -> None:
    cost, w = plane_instance(250, 30, 2)
    values = []
    for method in ("compact", "benders"):
        model = TwoTier.from_cost_matrix(
            cost,
            w_full=w,
            w_remote=0.5 * w,
            n_full=(2, 4),
            n_remote=(0, 6),
            site_cost_full=300.0,
            site_cost_remote=40.0,
            coverage_minutes=14.0,
            coverage=coverage,
            coverage_penalty=25.0,
            required=[3],
            forbidden=[7],
        )
        sol = model.solve(mip_gap=0, method=method)
        assert sol.status == "optimal"
        assert 3 in sol.sites_of_tier("full") and 7 not in sol.open_sites
        values.append(sol.objective)
    assert values[0] == pytest.approx(values[1], rel=1e-12)


def test_origin_groups_aggregation_is_exact() -> None:
    rng = np.random.default_rng(3)
    base, _ = plane_instance(60, 25, 3, rounded=False)
    groups = rng.integers(0, 60, 400)
    offset = rng.uniform(0, 3, 400)
    cost = base[groups] + offset[:, None]
    cost[groups == 7] = np.inf  # an unreachable road node
    cost[groups == 7, 3] = 5.0
    w = rng.integers(1, 20, 400).astype(float)
    a = PMedian.from_cost_matrix(cost, p=6, weights=w).solve(mip_gap=0)
    b = PMedian.from_cost_matrix(cost, p=6, weights=w, origin_groups=groups).solve(mip_gap=0)
    assert a.objective == pytest.approx(b.objective, rel=1e-12)
    model = TwoTier.from_cost_matrix(
        cost,
        w_full=w,
        w_remote=w / 2,
        n_full=3,
        n_remote=(0, 4),
        site_cost_remote=50.0,
        origin_groups=groups,
    )
    plain = TwoTier.from_cost_matrix(
        cost, w_full=w, w_remote=w / 2, n_full=3, n_remote=(0, 4), site_cost_remote=50.0
    )
    assert model.solve(mip_gap=0).objective == pytest.approx(plain.solve(mip_gap=0).objective)


def test_wrong_origin_groups_fall_back_to_rows() -> None:
    cost, w = plane_instance(50, 10, 4)
    groups = np.zeros(50, dtype=int)  # claims all rows share a node: false
    a = PMedian.from_cost_matrix(cost, p=3, weights=w, origin_groups=groups).solve(mip_gap=0)
    b = PMedian.from_cost_matrix(cost, p=3, weights=w).solve(mip_gap=0)
    assert a.objective == pytest.approx(b.objective)


# ----------------------------------------------------------------------------------------
# status honesty and solver failures
# ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_time_limited_run_is_not_labelled_optimal() -> None:
    cost, w = plane_instance(6000, 250, 11, rounded=False)
    sol = PMedian.from_cost_matrix(cost, p=12, weights=w).solve(time_limit=1.0, mip_gap=0)
    assert sol.status == "time_limit"
    assert sol.gap > 0
    assert sol.bound <= sol.objective
    assert sol.gap == pytest.approx(abs(sol.objective - sol.bound) / sol.objective)
    assert sol.seconds < 15


def test_status_follows_the_gap(monkeypatch: pytest.MonkeyPatch) -> None:
    cost, w = plane_instance(40, 8, 5)
    real = _backends.run_highs

    def weak(milp, **kw):
        res = real(milp, **kw)
        res.status, res.bound = "time_limit", res.objective * 0.5
        return res

    monkeypatch.setattr("optimizer.models._compact.run_highs", weak)
    sol = MCLP.from_cost_matrix(cost, radius=10, p=2, weights=w).solve()
    # maximisation: the bound is above the objective and the gap is reported
    assert sol.status in ("optimal", "gap_limit", "time_limit")
    assert sol.bound >= sol.objective
    if sol.gap > 1e-4:
        assert sol.status == "time_limit"


@pytest.mark.parametrize("method", ["compact", "benders"])
def test_gap_limit_is_not_labelled_optimal(method: str) -> None:
    # random integer costs: the LP bound is well below the optimum, so a solve
    # with a 5 % gap stops before closing it and must say so
    rng = np.random.default_rng(0)
    cost = rng.integers(1, 100, (40, 12)).astype(float)
    w = rng.integers(1, 10, 40).astype(float)
    best = min(
        float(w @ cost[:, list(c)].min(axis=1)) for c in itertools.combinations(range(12), 3)
    )
    model = PMedian.from_cost_matrix(cost, p=3, weights=w)
    sol = model.solve(mip_gap=0.05, method=method)
    assert sol.status == "gap_limit" and not sol.is_optimal and sol.within_gap
    assert sol.bound < best <= sol.objective
    assert 0 < sol.gap <= 0.05
    assert sol.gap == pytest.approx((sol.objective - sol.bound) / sol.objective)
    proven = model.solve(mip_gap=0, method=method)
    assert proven.status == "optimal" and proven.gap == 0
    assert proven.objective == best == pytest.approx(proven.bound)


def test_status_of_needs_a_zero_gap_for_optimal() -> None:
    from optimizer.models.solution import DEFAULT_MIP_GAP, OPTIMAL_GAP, status_of

    assert status_of(0.0, DEFAULT_MIP_GAP) == "optimal"
    assert status_of(OPTIMAL_GAP / 2, 0.0) == "optimal"
    assert status_of(2 * OPTIMAL_GAP, DEFAULT_MIP_GAP) == "gap_limit"
    # 24,190 against a bound of 24,188 (issue 13): within 1e-4, not optimal
    assert status_of((24_190 - 24_188) / 24_190, DEFAULT_MIP_GAP) == "gap_limit"
    assert status_of(2 * DEFAULT_MIP_GAP, DEFAULT_MIP_GAP) == "time_limit"
    assert status_of(math.inf, DEFAULT_MIP_GAP) == "time_limit"


def test_no_incumbent_raises_solver_error(monkeypatch: pytest.MonkeyPatch) -> None:
    cost, _w = plane_instance(30, 6, 6)

    def nothing(milp, **kw):
        return _backends.RawResult("no_solution", None, math.nan, -math.inf)

    monkeypatch.setattr("optimizer.models._compact.run_highs", nothing)
    with pytest.raises(SolverError, match="no feasible solution"):
        PCenter.from_cost_matrix(cost, p=2).solve(warm_start=False, time_limit=1, method="compact")
    # with a warm start the heuristic solution comes back, honestly labelled
    sol = PCenter.from_cost_matrix(cost, p=2).solve(time_limit=1, method="compact")
    assert sol.status == "time_limit" and math.isinf(sol.gap)


def test_solver_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    cost, w = plane_instance(20, 5, 7)
    monkeypatch.setenv("OPTIMIZER_SOLVER", "cbc")
    sol = PMedian.from_cost_matrix(cost, p=2, weights=w).solve()
    assert sol.solver == "cbc"
    monkeypatch.delenv("OPTIMIZER_SOLVER")
    assert PMedian.from_cost_matrix(cost, p=2, weights=w).solve().solver == "highs"


# ----------------------------------------------------------------------------------------
# infeasibility found before solving
# ----------------------------------------------------------------------------------------


def test_uncoverable_demand_is_named() -> None:
    cost = np.array([[1.0, 2.0], [30.0, 40.0], [2.0, np.inf]])
    ids = ["a", "b", "c"]
    with pytest.raises(InfeasibleError, match=r"\['b'\]"):
        LSCP.from_cost_matrix(cost, radius=10, demand_ids=ids).solve()
    with pytest.raises(InfeasibleError, match=r"\['b'\].*10 minutes"):
        TwoTier.from_cost_matrix(
            cost, w_full=[1, 1, 1], w_remote=[0, 0, 0], coverage_minutes=10, demand_ids=ids
        ).solve()


def test_capacity_below_demand() -> None:
    cost = np.ones((4, 3))
    w = np.array([3.0, 3.0, 3.0, 3.0])
    with pytest.raises(InfeasibleError, match="below the total demand"):
        CapacitatedPMedian.from_cost_matrix(cost, p=2, capacities=[5, 5, 5], weights=w).solve()
    with pytest.raises(InfeasibleError, match="below the total demand"):
        CapacitatedFixedCharge.from_cost_matrix(
            cost, site_costs=1, capacities=[3, 3, 3], weights=w, multiple_sourcing=True
        ).solve()
    far = cost.copy()
    far[0, 2] = np.inf  # row 0 reaches only the two small sites
    with pytest.raises(InfeasibleError, match=r"demand rows \[0\].*single sourcing"):
        CapacitatedFixedCharge.from_cost_matrix(
            far, site_costs=1, capacities=[2, 2, 20], weights=w
        ).solve()


def test_more_required_sites_than_p() -> None:
    cost = np.ones((3, 4))
    for cls in (PMedian, PCenter):
        with pytest.raises(InfeasibleError, match="required sites but p = 1"):
            cls.from_cost_matrix(cost, p=1, required=[0, 1]).solve()
    with pytest.raises(InfeasibleError, match="required sites but p = 1"):
        MCLP.from_cost_matrix(cost, radius=1, p=1, required=[0, 1]).solve()
    with pytest.raises(InfeasibleError, match="required sites but p = 1"):
        CapacitatedPMedian.from_cost_matrix(cost, p=1, capacities=9, required=[0, 1]).solve()
    with pytest.raises(InfeasibleError, match="required full sites"):
        TwoTier.from_cost_matrix(
            cost, w_full=[1, 1, 1], w_remote=[0, 0, 0], n_full=1, required=[0, 2]
        ).solve()


def test_solver_proven_infeasibility_raises() -> None:
    # each row has its own only site within the standard, but one point is allowed:
    # no single check sees it, the solver proves it
    cost = np.array([[1.0, 9.0], [9.0, 1.0]])
    model = TwoTier.from_cost_matrix(
        cost, w_full=[1, 1], w_remote=[0, 0], n_full=1, n_remote=0, coverage_minutes=5
    )
    with pytest.raises(InfeasibleError, match="proved the model infeasible") as info:
        model.solve()
    assert info.value.parameter is None


def test_invalid_input_is_rejected() -> None:
    with pytest.raises(DataError, match="NaN"):
        PMedian.from_cost_matrix([[1.0, np.nan]], p=1)
    with pytest.raises(DataError, match="weights"):
        PMedian.from_cost_matrix([[1.0, 2.0]], p=1, weights=[-1])
    with pytest.raises(DataError, match="both required and forbidden"):
        PMedian.from_cost_matrix([[1.0, 2.0]], p=1, required=[0], forbidden=[0])
    with pytest.raises(DataError, match="positive integer"):
        PMedian.from_cost_matrix([[1.0, 2.0]], p=0)
    with pytest.raises(DataError, match="unknown sites"):
        PMedian.from_cost_matrix([[1.0, 2.0]], p=1, site_ids=["x", "y"], required=["z"])
    with pytest.raises(DataError, match="one tier"):
        TwoTier.from_cost_matrix(
            [[1.0, 2.0]], w_full=[1], w_remote=[1], required=[0], required_remote=[0]
        )
    with pytest.raises(DataError, match="coverage_penalty"):
        TwoTier.from_cost_matrix(
            [[1.0]], w_full=[1], w_remote=[1], coverage_minutes=3, coverage="soft"
        )


# ----------------------------------------------------------------------------------------
# API: solution object, ids, constructors, writers
# ----------------------------------------------------------------------------------------


def test_solution_is_frozen_and_ids_are_reported() -> None:
    cost, w = plane_instance(30, 6, 8)
    sites = [f"s{j}" for j in range(6)]
    cells = [f"c{i}" for i in range(30)]
    sol = PMedian.from_cost_matrix(
        cost, p=2, weights=w, site_ids=sites, demand_ids=cells, required=["s3"]
    ).solve()
    assert isinstance(sol, Solution)
    assert 3 in sol.open_sites and "s3" in sol.open_site_ids
    assert sol.open_site_ids == tuple(sites[j] for j in sol.open_sites)
    assert sol.tiers == ("full", "full")
    assert set(sol.assigned_ids()) <= set(sol.open_site_ids)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.objective = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        sol.assignment[0] = 5
    assert sol.breakdown["travel"] == pytest.approx(sol.objective)


class FakeTravelTimes:
    def __init__(self, minutes, origin_ids, destination_ids, origin_groups=None):
        self.minutes = minutes
        self.origin_ids = origin_ids
        self.destination_ids = destination_ids
        if origin_groups is not None:
            self.origin_groups = origin_groups


def fake_region(cells, sites, population, required, annual_cost, capacity):
    import pandas as pd

    pop = pd.DataFrame({"population": population}, index=pd.Index(cells, name="cell_id"))
    st_ = pd.DataFrame(
        {"required": required, "annual_cost": annual_cost, "capacity": capacity},
        index=pd.Index(sites, name="site_id"),
    )
    return SimpleNamespace(name="test", population=pop, sites=st_)


def test_geographic_constructors() -> None:
    cost, _ = plane_instance(40, 6, 9)
    cells = [f"c{i}" for i in range(40)]
    sites = [f"s{j}" for j in range(6)]
    pop = np.arange(40, dtype=float)
    region = fake_region(
        cells[::-1],
        sites,
        pop[::-1],
        [False, True, False, False, False, False],
        [100.0] * 6,
        [np.nan] * 6,
    )
    tt = FakeTravelTimes(cost, cells, sites, origin_groups=np.arange(40))
    a = PMedian.from_region(region, tt, p=2).solve(mip_gap=0)
    b = PMedian.from_cost_matrix(cost, p=2, weights=pop, required=[1]).solve(mip_gap=0)
    assert a.objective == pytest.approx(b.objective)
    assert "s1" in a.open_site_ids and a.demand_ids == tuple(cells)
    fc = FixedCharge.from_region(region, tt, weight_scale=2.0).solve(mip_gap=0)
    ref = FixedCharge.from_cost_matrix(cost, site_costs=100.0, weights=2 * pop, required=[1]).solve(
        mip_gap=0
    )
    assert fc.objective == pytest.approx(ref.objective)
    cap = CapacitatedPMedian.from_region(region, tt, p=2).solve(mip_gap=0)
    assert cap.objective == pytest.approx(b.objective)  # NaN capacity = unlimited
    for cls, kw in ((MCLP, {"radius": 10, "p": 2}), (LSCP, {"radius": 40}), (PCenter, {"p": 2})):
        sol = cls.from_region(region, tt, **kw).solve()
        assert "s1" in sol.open_site_ids
    tw = TwoTier.from_region(
        region, tt, visits_per_capita=2.0, remote_share=0.25, n_full=1, n_remote=1
    ).solve(mip_gap=0)
    assert tw.sites_of_tier("full") == (1,)
    assert len(tw.sites_of_tier("remote")) == 1
    ref = TwoTier.from_cost_matrix(
        cost, w_full=1.5 * pop, w_remote=0.5 * pop, n_full=1, n_remote=1, required=[1]
    ).solve(mip_gap=0)
    assert tw.objective == pytest.approx(ref.objective)
    with pytest.raises(DataError, match="lacks attribute"):
        PMedian.from_travel_times(SimpleNamespace(minutes=cost), p=2)


def test_two_tier_money_objective_with_minutes_standard() -> None:
    cost, w = plane_instance(80, 12, 10)
    tt = FakeTravelTimes(cost, list(range(80)), list(range(12)))
    # 1 to 3 full points at 400, up to 5 remote points at 40, everyone within 15 minutes
    network = {
        "w_full": w,
        "w_remote": w,
        "n_full": (1, 3),
        "n_remote": (0, 5),
        "site_cost_full": 400.0,
        "site_cost_remote": 40.0,
        "coverage_minutes": 15.0,
    }
    sol = TwoTier.from_travel_times(tt, cost_per_minute=0.5, **network).solve(mip_gap=0)
    assert sol.covered is not None and sol.covered.all()
    parts = sol.breakdown
    assert sol.objective == pytest.approx(sum(parts.values()))
    assert parts["site_cost_full"] == 400.0 * len(sol.sites_of_tier("full"))
    money = TwoTier.from_travel_times(tt, visit_cost=0.5 * cost, **network).solve(mip_gap=0)
    assert money.objective == pytest.approx(sol.objective)
    soft = TwoTier.from_travel_times(
        tt, cost_per_minute=0.5, coverage="soft", coverage_penalty=0.0, **network
    ).solve(mip_gap=0)
    assert soft.objective <= sol.objective + 1e-9


@pytest.mark.parametrize("suffix", [".mps", ".lp"])
def test_written_model_solves_to_the_same_optimum(tmp_path, suffix: str) -> None:
    import highspy

    cost, w = plane_instance(60, 8, 12)
    models = [
        PMedian.from_cost_matrix(cost, p=3, weights=w, required=[1]),
        TwoTier.from_cost_matrix(
            cost,
            w_full=w,
            w_remote=w,
            n_full=2,
            n_remote=(1, 3),
            coverage_minutes=20,
            coverage="soft",
            coverage_penalty=50.0,
        ),
        MCLP.from_cost_matrix(cost, radius=12, p=2, weights=w),
        CapacitatedPMedian.from_cost_matrix(cost, p=3, capacities=w.sum() / 2, weights=w),
    ]
    for k, model in enumerate(models):
        path = tmp_path / f"m{k}{suffix}"
        getattr(model, f"write_{suffix[1:]}")(path)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.readModel(str(path))
        h.setOptionValue("mip_rel_gap", 0.0)
        h.run()
        assert h.getInfo().objective_function_value == pytest.approx(
            model.solve(mip_gap=0).objective, rel=1e-9
        )
    with pytest.raises(DataError, match=r"\.mps"):
        models[0].write_mps(tmp_path / "x.txt")

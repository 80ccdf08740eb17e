"""AgencyTwoTier against exhaustive enumeration, its staffing figures, and its errors.

The enumeration below is written from the problem statement only (it does not
use the model's code): every assignment of the sites to closed / full /
remote, and for each agency every desk set among the full points that its
presence rule allows, priced from the data.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from scipy.optimize import linprog

from optimizer.errors import DataError, InfeasibleError
from optimizer.models import MODELS, AgencySolution, AgencyTwoTier, TwoTier

# ---------------------------------------------------------------------------------------
# brute force
# ---------------------------------------------------------------------------------------


def _count_ok(k: int, count: Any, m: int) -> bool:
    if count is None:
        return True
    if isinstance(count, int):
        return k == count
    return count[0] <= k <= count[1]


def _rule_ok(rule: Any, desks: tuple[int, ...], full: tuple[int, ...], has_visits: bool) -> bool:
    if has_visits and not desks:
        return False
    if rule == "all":
        return set(desks) == set(full)
    if rule is None:
        return True
    if isinstance(rule, int):
        return len(desks) == rule
    lo, hi = rule
    return lo <= len(desks) <= (math.inf if hi is None else hi)


def _assign_capacitated(
    cost: np.ndarray, v: np.ndarray, desks: tuple[int, ...], cap: float
) -> float:
    """Cheapest split of the visits ``v`` over ``desks`` within ``cap`` each (an LP)."""
    rows = np.nonzero(v > 0)[0]
    if rows.size == 0:
        return 0.0
    if not desks:
        return math.inf
    sub = cost[np.ix_(rows, list(desks))]
    nr, nd = sub.shape
    c = np.where(np.isfinite(sub), sub * v[rows, None], 0.0).reshape(-1)
    ub = np.where(np.isfinite(sub), 1.0, 0.0).reshape(-1)
    a_eq = np.kron(np.eye(nr), np.ones(nd))
    a_ub = np.zeros((nd, nr * nd))
    for i in range(nr):
        for j in range(nd):
            a_ub[j, i * nd + j] = v[rows[i]]
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.full(nd, cap),
        A_eq=a_eq,
        b_eq=np.ones(nr),
        bounds=list(zip(np.zeros(c.size), ub, strict=True)),
        method="highs",
    )
    return float(res.fun) if res.status == 0 else math.inf


def brute_force(d: dict[str, Any]) -> float:
    """Exhaustive optimum of an AgencyTwoTier instance given as keyword dict ``d``."""
    cost = np.asarray(d["cost"], dtype=float)
    m = cost.shape[1]
    vi, vr = np.asarray(d["visits_in_person"], float), np.asarray(d["visits_remote"], float)
    k = vi.shape[0]
    vpf = np.broadcast_to(np.asarray(d["visits_per_fte"], float), (k,))
    staff = np.broadcast_to(np.asarray(d.get("staff_cost", 0.0), float), (k,))
    kd = np.broadcast_to(np.asarray(d.get("desk_cost", 0.0), float), (k,))
    cf = np.broadcast_to(np.asarray(d.get("site_cost_full", 0.0), float), (m,))
    cr = np.broadcast_to(np.asarray(d.get("site_cost_remote", 0.0), float), (m,))
    rules = d.get("presence")
    rules = [rules] * k if rules is None or isinstance(rules, str | int | tuple) else rules
    cap = np.broadcast_to(np.asarray(d.get("desk_capacity", math.inf), float), (k,))
    acc = np.broadcast_to(np.asarray(d.get("access_minutes", math.inf), float), (k,))
    pen = np.broadcast_to(np.asarray(d.get("access_penalty", 0.0), float), (k,))
    soft = d.get("access", "hard") == "soft"
    tw = float(d.get("travel_weight", 1.0))
    budget = d.get("budget")
    required = set(d.get("required", []))
    required_remote = set(d.get("required_remote", []))
    forbidden = set(d.get("forbidden", []))
    staff_total = float((staff * (vi + vr).sum(axis=1) / vpf).sum())
    er = vr.sum(axis=0)
    best = math.inf
    for states in itertools.product(range(3), repeat=m):
        full = tuple(j for j in range(m) if states[j] == 1)
        remote = tuple(j for j in range(m) if states[j] == 2)
        if any(states[j] != 1 for j in required) or any(states[j] != 2 for j in required_remote):
            continue
        if any(states[j] != 0 for j in forbidden):
            continue
        if not (_count_ok(len(full), d.get("n_full"), m)):
            continue
        if not _count_ok(len(remote), d.get("n_remote"), m):
            continue
        open_ = full + remote
        value = float(cf[list(full)].sum() + cr[list(remote)].sum()) + staff_total
        if (er > 0).any():
            if not open_:
                continue
            dist = cost[:, list(open_)].min(axis=1)
            if not np.isfinite(dist[er > 0]).all():
                continue
            value += tw * float(er[er > 0] @ dist[er > 0])
        options = []
        for a in range(k):
            opts = []
            for size in range(len(full) + 1):
                for desks in itertools.combinations(full, size):
                    if not _rule_ok(rules[a], desks, full, bool((vi[a] + vr[a]).sum() > 0)):
                        continue
                    pos = vi[a] > 0
                    val = kd[a] * len(desks)
                    if pos.any():
                        if not desks:
                            continue
                        sub = cost[:, list(desks)]
                        if math.isfinite(cap[a]):
                            val += tw * _assign_capacitated(cost, vi[a], desks, cap[a])
                        else:
                            val += tw * float(vi[a][pos] @ sub[pos].min(axis=1))
                        if math.isfinite(acc[a]):
                            near = (sub <= acc[a]).any(axis=1)
                            out = pos & ~near
                            if out.any():
                                if not soft:
                                    continue
                                val += pen[a] * float(vi[a][out].sum())
                    if math.isfinite(val):
                        opts.append((val, kd[a] * len(desks)))
            options.append(opts)
        if any(not o for o in options):
            continue
        if budget is None:
            total = value + sum(min(v for v, _ in o) for o in options)
        else:
            money0 = float(cf[list(full)].sum() + cr[list(remote)].sum()) + staff_total
            total = math.inf
            for combo in itertools.product(*options):
                if money0 + sum(mo for _, mo in combo) <= budget + 1e-9:
                    total = min(total, value + sum(v for v, _ in combo))
        best = min(best, total)
    return best


# ---------------------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------------------


def random_instance(
    seed: int, *, capacity: bool = False, budget: float | None = None
) -> dict[str, Any]:
    """A small random instance with many exact ties (integer minutes in 1..6)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 13))
    m = int(rng.integers(4, 6))
    k = int(rng.integers(2, 4)) if not (capacity or budget is not None) else 2
    cost = rng.integers(1, 7, size=(n, m)).astype(float)
    if seed % 3 == 0:
        cost[:, 1] = cost[:, 0]  # two identical sites
    if seed % 4 == 1:
        cost[rng.random((n, m)) < 0.15] = np.inf
        cost[:, 0] = np.minimum(cost[:, 0], 6.0)
    vi = rng.integers(0, 40, size=(k, n)).astype(float)
    vi[rng.random((k, n)) < 0.3] = 0.0
    vr = rng.integers(0, 30, size=(k, n)).astype(float)
    rules: list[Any] = [
        ["all", None, 1, (1, 2), (2, None)][int(rng.integers(0, 5))] for _ in range(k)
    ]
    d: dict[str, Any] = {
        "cost": cost,
        "visits_in_person": vi,
        "visits_remote": vr,
        "visits_per_fte": rng.integers(50, 200, size=k).astype(float),
        "staff_cost": rng.integers(100, 300, size=k).astype(float),
        "desk_cost": rng.integers(0, 120, size=k).astype(float),
        "site_cost_full": rng.integers(50, 250, size=m).astype(float),
        "site_cost_remote": rng.integers(10, 60, size=m).astype(float),
        "presence": rules,
        "n_full": [None, 2, (1, 3)][seed % 3],
        "n_remote": [None, (0, 2), 1][(seed // 3) % 3],
        "travel_weight": float(rng.choice([0.5, 1.0, 2.0])),
    }
    if seed % 5 == 2:
        d["access_minutes"] = rng.integers(4, 7, size=k).astype(float)
        d["access"] = "soft" if seed % 2 else "hard"
        d["access_penalty"] = 5.0
    if capacity:
        d["desk_capacity"] = float(vi.sum(axis=1).max()) * 0.6
        d["presence"] = [None, (1, 3)]
    if budget is not None:
        staff = float(d["staff_cost"] @ ((vi + vr).sum(1) / d["visits_per_fte"]))
        d["budget"] = staff + budget
    return d


def build(d: dict[str, Any]) -> AgencyTwoTier:
    return AgencyTwoTier(**d)


def check_against_brute(d: dict[str, Any], **solve: Any) -> AgencySolution | None:
    expected = brute_force(d)
    model = build(d)
    if not math.isfinite(expected):
        with pytest.raises(InfeasibleError):
            model.solve(**solve)
        return None
    sol = model.solve(**solve)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(expected, rel=1e-7, abs=1e-6)
    assert sol.bound <= sol.objective + 1e-6
    return sol


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(18))
def test_matches_enumeration(seed: int) -> None:
    sol = check_against_brute(random_instance(seed))
    if sol is not None:
        check_figures(random_instance(seed), sol)


@pytest.mark.parametrize("seed", [0, 4, 7])
def test_benders_matches_enumeration(seed: int) -> None:
    check_against_brute(random_instance(seed), method="benders")


@pytest.mark.parametrize("seed", [1, 2, 3, 5])
def test_capacity_matches_enumeration(seed: int) -> None:
    d = random_instance(seed, capacity=True)
    d["n_full"] = (1, 3)
    sol = check_against_brute(d)
    if sol is not None:
        for (name, _j), visits in sol.desk_visits.items():
            a = sol.agencies.index(name)
            assert visits <= d["desk_capacity"] + 1e-6
            assert sol.desk_fte[(name, _j)] == pytest.approx(visits / d["visits_per_fte"][a])


@pytest.mark.parametrize(("seed", "extra"), [(0, 250.0), (6, 250.0), (1, 500.0), (2, 250.0)])
def test_budget_matches_enumeration(seed: int, extra: float) -> None:
    """The budget binds in the first three (the optimum changes) and is infeasible in the last."""
    d = random_instance(seed, budget=extra)
    sol = check_against_brute(d)
    if sol is not None:
        money = sum(
            sol.breakdown[k]
            for k in ("site_cost_full", "site_cost_remote", "desk_cost", "staff_cost")
        )
        assert money <= d["budget"] + 1e-6


def check_figures(d: dict[str, Any], sol: AgencySolution) -> None:
    """Desks at open full points only; rules; FTE = visits / visits per FTE; totals."""
    vi, vr = d["visits_in_person"], d["visits_remote"]
    vpf = np.asarray(d["visits_per_fte"], float)
    full = set(sol.sites_of_tier("full"))
    rules = d["presence"]
    for a, name in enumerate(sol.agencies):
        desks = sol.desks[a]
        assert set(desks) <= full
        if rules[a] == "all":
            assert set(desks) == full
        elif isinstance(rules[a], int):
            assert len(desks) == rules[a]
        served = sum(sol.desk_visits[(name, j)] for j in desks)
        assert served == pytest.approx(vi[a].sum())
        for j in desks:
            assert sol.desk_fte[(name, j)] == pytest.approx(sol.desk_visits[(name, j)] / vpf[a])
        assert sol.pool_fte[name] == pytest.approx(vr[a].sum() / vpf[a])
        # uncapacitated: every row's in-person visits go to a nearest desk
        cost = d["cost"]
        for i in np.nonzero(vi[a] > 0)[0]:
            j = sol.desk_assignment[a, i]
            assert j in desks
            assert cost[i, j] == pytest.approx(cost[i, list(desks)].min())
    staff = float((np.asarray(d["staff_cost"]) * (vi + vr).sum(1) / vpf).sum())
    assert sol.staff_cost == pytest.approx(staff)
    assert sum(sol.breakdown.values()) == pytest.approx(sol.objective)


def test_staffing_table_and_ids() -> None:
    d = random_instance(3)
    d["presence"] = ["all"] * len(d["presence"])
    d["n_full"] = 2
    m = d["cost"].shape[1]
    d["site_ids"] = [f"S{j}" for j in range(m)]
    d["agencies"] = [f"A{a}" for a in range(d["visits_in_person"].shape[0])]
    sol = build(d).solve()
    table = sol.staffing()
    full = sol.sites_of_tier("full")
    assert len(table) == len(d["agencies"]) * (len(full) + 1)
    desk_rows = [t for t in table if t["site"] >= 0]
    assert all(t["desk"] for t in desk_rows)  # "all" rule: a desk at every full point
    assert {t["site_id"] for t in desk_rows} == {f"S{j}" for j in full}
    pools = {t["agency"]: t["fte"] for t in table if t["site"] < 0}
    assert pools == pytest.approx(dict(sol.pool_fte))
    assert MODELS["agency_two_tier"] is AgencyTwoTier


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_one_agency_reproduces_two_tier(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = 30, 7
    cost = rng.integers(1, 30, size=(n, m)).astype(float)
    wf = rng.integers(0, 50, size=n).astype(float)
    wr = rng.integers(0, 50, size=n).astype(float)
    common = {
        "n_full": (1, 3),
        "n_remote": (0, 2),
        "site_cost_full": rng.integers(100, 500, size=m).astype(float),
        "site_cost_remote": rng.integers(10, 100, size=m).astype(float),
    }
    tt = TwoTier(cost, w_full=wf, w_remote=wr, **common).solve()
    ag = AgencyTwoTier(
        cost,
        visits_in_person=wf[None, :],
        visits_remote=wr[None, :],
        visits_per_fte=100.0,
        **common,
    ).solve()
    assert ag.objective == pytest.approx(tt.objective, rel=1e-9)
    assert ag.status == tt.status == "optimal"


def test_grouped_rows_give_the_same_optimum() -> None:
    d = random_instance(8)
    cost = d["cost"]
    n = cost.shape[0]
    # every cell twice: the copy is the same road node plus 2 minutes
    d2 = dict(d)
    d2["cost"] = np.vstack([cost, cost + 2.0])
    d2["visits_in_person"] = np.hstack([d["visits_in_person"], d["visits_in_person"]])
    d2["visits_remote"] = np.hstack([d["visits_remote"], d["visits_remote"]])
    d2["origin_groups"] = np.r_[np.arange(n), np.arange(n)]
    d3 = dict(d2)
    d3.pop("origin_groups")
    a, b = build(d2).solve(), build(d3).solve()
    assert a.objective == pytest.approx(b.objective)
    assert a.objective == pytest.approx(brute_force(d3))


def test_time_limit_returns_best_with_gap() -> None:
    rng = np.random.default_rng(5)
    n, m, k = 400, 25, 4
    cost = rng.uniform(1, 60, size=(n, m))
    sol = AgencyTwoTier(
        cost,
        visits_in_person=rng.uniform(0, 10, (k, n)),
        visits_remote=rng.uniform(0, 10, (k, n)),
        visits_per_fte=100.0,
        n_full=(2, 6),
        n_remote=(0, 8),
        site_cost_full=2000.0,
        site_cost_remote=300.0,
        desk_cost=150.0,
        presence=["all", 1, (1, 3), None],
    ).solve(time_limit=2.0)
    assert sol.status in ("optimal", "time_limit")
    assert sol.bound <= sol.objective + 1e-6
    assert sol.gap >= 0
    if sol.status == "time_limit":
        assert math.isfinite(sol.objective)


# ---------------------------------------------------------------------------------------
# infeasible inputs
# ---------------------------------------------------------------------------------------


def _base(**kw: Any) -> dict[str, Any]:
    d = random_instance(0)
    d.update(kw)
    return d


def test_presence_above_n_full_raises() -> None:
    k = _base()["visits_in_person"].shape[0]
    d = _base(n_full=2, presence=[3] + [None] * (k - 1))
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "presence"
    assert "agency_0" in str(err.value)


def test_required_above_n_full_raises() -> None:
    with pytest.raises(InfeasibleError) as err:
        build(_base(n_full=1, required=[0, 2])).solve()
    assert err.value.parameter == "n_full"
    assert err.value.sites == (0, 2)


def test_budget_below_cheapest_network_raises() -> None:
    d = _base(n_full=2)
    vi, vr = d["visits_in_person"], d["visits_remote"]
    staff = float(d["staff_cost"] @ ((vi + vr).sum(1) / d["visits_per_fte"]))
    d["budget"] = staff + 10.0  # two full points cost at least 100
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "budget"
    d["budget"] = staff - 1.0
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "budget"


def test_impossible_access_standard_raises() -> None:
    d = _base()
    k = d["visits_in_person"].shape[0]
    d["visits_in_person"][0, 3] = 10.0
    d["cost"][3, :] = 50.0
    d["access_minutes"] = [30.0] + [math.inf] * (k - 1)
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "access_minutes"
    assert err.value.rows == (3,)
    d["access"] = "soft"
    d["access_penalty"] = 1.0
    assert build(d).solve().breakdown["access_penalty"] >= 10.0


def test_desk_capacity_too_small_raises() -> None:
    d = _base(n_full=2)
    k = d["visits_in_person"].shape[0]
    d["desk_capacity"] = 1.0
    d["presence"] = [None] * k
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "desk_capacity"


def test_unreachable_rows_raise() -> None:
    d = _base()
    d["cost"][2, :] = np.inf
    d["visits_remote"][:, 2] = 1.0
    with pytest.raises(InfeasibleError) as err:
        build(d).solve()
    assert err.value.parameter == "cost"
    assert err.value.rows == (2,)


# ---------------------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------------------


def test_plan_is_priced_from_the_data() -> None:
    d = random_instance(4)
    d["site_ids"] = [f"S{j}" for j in range(d["cost"].shape[1])]
    model = build(d)
    cost, vi, vr = d["cost"], d["visits_in_person"], d["visits_remote"]
    k = vi.shape[0]
    full, remote = [0, 2], [3]
    plan = model.evaluate_plan(full=["S0", "S2"], remote=["S3"])
    # by hand: every agency has a desk at both full points
    tw = d["travel_weight"]
    near_full = cost[:, full].min(axis=1)
    near_any = cost[:, full + remote].min(axis=1)
    staff = float((d["staff_cost"] * (vi + vr).sum(1) / d["visits_per_fte"]).sum())
    expected = (
        d["site_cost_full"][full].sum()
        + d["site_cost_remote"][remote].sum()
        + d["desk_cost"].sum() * len(full)
        + staff
        + tw * float(vi.sum(axis=0) @ near_full)
        + tw * float(vr.sum(axis=0) @ near_any)
    )
    assert plan.objective == pytest.approx(expected)
    assert plan.desks == ((0, 2),) * k
    assert plan.bound == -math.inf and plan.status == "time_limit" and plan.solver == "none"
    # one agency at S2 only
    one = model.evaluate_plan(full=[0, 2], remote=[3], desks={"agency_0": ["S2"]})
    moved = tw * float(vi[0] @ (cost[:, 2] - near_full))
    assert one.objective == pytest.approx(expected - d["desk_cost"][0] + moved)
    assert one.desk_visits[("agency_0", 2)] == pytest.approx(vi[0].sum())


def test_plan_of_the_optimum_has_the_optimal_objective() -> None:
    d = random_instance(5)
    model = build(d)
    sol = model.solve()
    plan = model.evaluate_plan(
        full=list(sol.sites_of_tier("full")),
        remote=list(sol.sites_of_tier("remote")),
        desks={name: list(sol.desks[a]) for a, name in enumerate(sol.agencies)},
    )
    assert plan.objective == pytest.approx(sol.objective)
    assert dict(plan.desk_fte) == pytest.approx(dict(sol.desk_fte))


def test_plan_errors() -> None:
    model = build(random_instance(4))
    with pytest.raises(DataError):
        model.evaluate_plan(full=[0], remote=[0])
    with pytest.raises(DataError):
        model.evaluate_plan(full=[0], desks={"agency_0": [1]})
    with pytest.raises(DataError):
        model.evaluate_plan(full=[0], desks={"nobody": [0]})


def test_from_travel_times_uses_ids_and_lists_parameters() -> None:
    from types import SimpleNamespace

    d = random_instance(9)
    cost = d.pop("cost")
    n, m = cost.shape
    matrix = SimpleNamespace(
        minutes=cost,
        origin_ids=[f"c{i}" for i in range(n)],
        destination_ids=[f"s{j}" for j in range(m)],
    )
    d["required"] = ["s1"]
    sol = AgencyTwoTier.from_travel_times(matrix, **d).solve()
    assert "s1" in sol.open_site_ids
    assert sol.tiers[sol.open_site_ids.index("s1")] == "full"
    assert sol.objective == pytest.approx(brute_force({**d, "cost": cost, "required": [1]}))
    params = AgencyTwoTier.parameters()
    for key in ("visits_in_person", "visits_remote", "visits_per_fte", "presence", "budget"):
        assert key in params


def test_from_region_splits_visits_per_agency() -> None:
    from types import SimpleNamespace

    import pandas as pd

    rng = np.random.default_rng(3)
    n, m = 15, 5
    cost = rng.integers(1, 20, size=(n, m)).astype(float)
    cells, sites = [f"c{i}" for i in range(n)], [f"s{j}" for j in range(m)]
    pop = rng.integers(0, 100, size=n).astype(float)
    region = SimpleNamespace(
        name="test",
        population=pd.DataFrame({"population": pop}, index=pd.Index(cells, name="cell_id")),
        sites=pd.DataFrame(
            {"required": [False, False, True, False, False], "annual_cost": np.arange(m) * 10.0},
            index=pd.Index(sites, name="site_id"),
        ),
    )
    matrix = SimpleNamespace(minutes=cost, origin_ids=cells, destination_ids=sites)
    common = {"visits_per_fte": [100.0, 50.0], "n_full": 2, "n_remote": (0, 2)}
    a = AgencyTwoTier.from_region(
        region,
        matrix,
        visits_per_capita=[0.5, 0.2],
        remote_share=[0.4, 0.0],
        site_cost_full="annual_cost",
        **common,
    ).solve()
    vi = np.vstack([0.5 * 0.6 * pop, 0.2 * pop])
    vr = np.vstack([0.5 * 0.4 * pop, 0.0 * pop])
    d = {"cost": cost, "visits_in_person": vi, "visits_remote": vr, "required": [2], **common}
    d["site_cost_full"] = np.arange(m) * 10.0
    assert a.objective == pytest.approx(brute_force(d))
    assert 2 in a.sites_of_tier("full")

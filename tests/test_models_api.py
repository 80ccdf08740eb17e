"""Location models: the registry, the engine keyword, structured infeasibility, quiet solvers."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import DataError, InfeasibleError
from optimizer.models import (
    LSCP,
    MCLP,
    MODELS,
    CapacitatedFixedCharge,
    CapacitatedPMedian,
    FixedCharge,
    LocationModel,
    PCenter,
    PMedian,
    TwoTier,
)

REPO = Path(__file__).resolve().parents[1]


def plane(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cost = np.round(
        np.linalg.norm(rng.uniform(0, 50, (n, 1, 2)) - rng.uniform(0, 50, (m, 2)), axis=2)
    )
    return cost, rng.integers(1, 30, n).astype(float)


# the smallest arguments that make each model valid (besides the cost matrix)
MINIMAL = {
    "two_tier": {"w_full": np.ones(12), "w_remote": np.ones(12), "n_full": 2},
    "p_median": {"p": 2},
    "mclp": {"p": 2, "radius": 15.0},
    "lscp": {"radius": 40.0},
    "p_center": {"p": 2},
    "fixed_charge": {"site_costs": 10.0},
    "capacitated_p_median": {"p": 2, "capacities": 50.0},
    "capacitated_fixed_charge": {"site_costs": 10.0, "capacities": 50.0},
    "agency_two_tier": {
        "visits_in_person": np.ones((2, 12)),
        "visits_remote": np.ones((2, 12)),
        "visits_per_fte": 100.0,
    },
}


# ----------------------------------------------------------------------------------------
# registry and parameters
# ----------------------------------------------------------------------------------------


def test_registry_is_read_only_and_complete() -> None:
    assert set(MODELS) == set(MINIMAL)
    assert all(issubclass(cls, LocationModel) for cls in MODELS.values())
    with pytest.raises(TypeError):
        MODELS["other"] = PMedian  # type: ignore[index]


@pytest.mark.parametrize("name", sorted(MINIMAL))
def test_every_model_builds_by_name_and_lists_its_parameters(name: str) -> None:
    cls = MODELS[name]
    params = cls.parameters()
    assert "cost" not in params
    assert {"required", "forbidden", "site_ids", "demand_ids"} <= set(params)
    assert set(MINIMAL[name]) <= set(params)
    # the parameters without a default are exactly the ones a model needs
    needed = {k for k, v in params.items() if v.default is inspect.Parameter.empty}
    assert needed <= set(MINIMAL[name])
    assert all(v.kind is inspect.Parameter.KEYWORD_ONLY for v in params.values())
    cost, _ = plane(12, 5, 0)
    sol = cls.from_cost_matrix(cost, **MINIMAL[name]).solve(mip_gap=0)
    assert sol.status == "optimal"
    # the class itself and from_cost_matrix are the same constructor
    assert cls(cost, **MINIMAL[name]).solve(mip_gap=0).objective == sol.objective
    with pytest.raises(TypeError, match="unexpected keyword"):
        cls(cost, **MINIMAL[name], no_such_option=1)


def test_missing_parameter_is_a_type_error() -> None:
    cost, _ = plane(5, 3, 1)
    with pytest.raises(TypeError, match="'p'"):
        PMedian(cost)  # type: ignore[call-arg]


# ----------------------------------------------------------------------------------------
# the engine keyword
# ----------------------------------------------------------------------------------------


def test_method_keyword() -> None:
    cost, w = plane(60, 8, 2)
    values = {
        method: PMedian(cost, p=3, weights=w).solve(mip_gap=0, method=method).objective
        for method in ("auto", "compact", "benders")
    }
    assert values["auto"] == values["compact"] == values["benders"]
    cbc = PMedian(cost, p=3, weights=w).solve(mip_gap=0, method="compact", solver="cbc")
    assert cbc.objective == values["auto"]
    with pytest.raises(DataError, match="method must be one of"):
        PMedian(cost, p=3).solve(method="fast")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs solver='highs'"):
        PMedian(cost, p=3).solve(method="benders", solver="cbc")
    for cls, kw in ((MCLP, {"p": 2, "radius": 10.0}), (LSCP, {"radius": 60.0})):
        with pytest.raises(DataError, match="no 'benders' engine"):
            cls(cost, **kw).solve(method="benders")
        assert cls(cost, **kw).solve(method="compact").status == "optimal"


# ----------------------------------------------------------------------------------------
# infeasibility found before solving: message, parameter, rows and sites
# ----------------------------------------------------------------------------------------


def infeasible(model: LocationModel) -> InfeasibleError:
    with pytest.raises(InfeasibleError) as info:
        model.solve()
    return info.value


def test_count_checks_name_p_and_the_sites() -> None:
    cost = np.ones((3, 4))
    for cls, kw in (
        (PMedian, {}),
        (PCenter, {}),
        (MCLP, {"radius": 1.0}),
        (CapacitatedPMedian, {"capacities": 9.0}),
    ):
        err = infeasible(cls(cost, p=1, required=[0, 2], **kw))
        assert err.parameter == "p" and err.sites == (0, 2) and err.rows == ()
        err = infeasible(cls(cost, p=3, forbidden=[1, 3], **kw))
        assert err.parameter == "p" and err.sites == (1, 3)
        assert "only 2 sites are not forbidden" in str(err)


def test_unreachable_rows_blame_the_cost_or_the_forbidden_sites() -> None:
    cost = np.array([[1.0, 2.0], [np.inf, np.inf], [np.inf, 3.0]])
    err = infeasible(PMedian(cost, p=1, demand_ids=["a", "b", "c"]))
    assert err.parameter == "cost" and err.rows == (1,) and "['b']" in str(err)
    err = infeasible(FixedCharge(cost, site_costs=1.0, weights=[1, 0, 1], forbidden=[1]))
    assert err.parameter == "forbidden" and err.rows == (2,)
    err = infeasible(FixedCharge(cost, site_costs=1.0, forbidden=[0, 1]))
    assert err.parameter == "forbidden" and err.sites == (0, 1)
    # zero-weight rows need not be reachable
    assert PMedian(cost, p=1, weights=[1, 0, 0]).solve().objective == 1.0


def test_coverage_checks_name_the_standard_and_the_rows() -> None:
    cost = np.array([[1.0, 2.0], [30.0, 40.0], [2.0, np.inf], [50.0, 1.0]])
    err = infeasible(LSCP(cost, radius=10.0))
    assert err.parameter == "radius" and err.rows == (1,)
    err = infeasible(
        TwoTier(cost, w_full=[1, 1, 1, 1], w_remote=[0, 0, 0, 0], coverage_minutes=10.0)
    )
    assert err.parameter == "coverage_minutes" and err.rows == (1,)
    # a soft standard is never infeasible
    soft = TwoTier(
        cost,
        w_full=[1, 1, 1, 1],
        w_remote=[0, 0, 0, 0],
        coverage_minutes=10.0,
        coverage="soft",
        coverage_penalty=5.0,
    )
    assert soft.solve(mip_gap=0).status == "optimal"


def test_two_tier_count_and_budget_checks() -> None:
    cost = np.ones((2, 4))
    base = {"w_full": [1, 1], "w_remote": [1, 0]}
    err = infeasible(TwoTier(cost, **base, n_full=1, required=[0, 1]))
    assert err.parameter == "n_full" and err.sites == (0, 1)
    err = infeasible(TwoTier(cost, **base, n_remote=(0, 1), required_remote=[2, 3]))
    assert err.parameter == "n_remote" and err.sites == (2, 3)
    err = infeasible(TwoTier(cost, **base, n_full=(0, 0)))
    assert err.parameter == "n_full"
    err = infeasible(TwoTier(cost, **base, n_full=2, n_remote=(3, 4)))
    assert err.parameter == "n_remote"
    costs = [5.0, 4.0, 7.0, 9.0]
    err = infeasible(TwoTier(cost, **base, site_cost_full=costs, budget_full=6.0, required=[2]))
    assert err.parameter == "budget_full" and err.sites == (2,)
    # the cheapest two full points cost 4 + 5 = 9 > 8: found before solving
    err = infeasible(TwoTier(cost, **base, n_full=2, site_cost_full=costs, budget_full=8.0))
    assert err.parameter == "budget_full" and "cheapest 2 full points" in str(err)
    assert TwoTier(cost, **base, n_full=2, site_cost_full=costs, budget_full=9.0).solve()
    err = infeasible(
        TwoTier(cost, **base, n_remote=(2, 4), site_cost_remote=costs, budget_remote=8.5)
    )
    assert err.parameter == "budget_remote"


def test_capacity_checks_name_capacities() -> None:
    cost = np.ones((4, 3))
    w = np.full(4, 3.0)
    err = infeasible(CapacitatedPMedian(cost, p=2, capacities=[5, 5, 5], weights=w))
    assert err.parameter == "capacities" and "below the total demand" in str(err)
    err = infeasible(CapacitatedFixedCharge(cost, site_costs=1, capacities=[2, 2, 2], weights=w))
    assert err.parameter == "capacities"
    far = cost.copy()
    far[1, 2] = np.inf
    err = infeasible(CapacitatedFixedCharge(far, site_costs=1, capacities=[2, 2, 20], weights=w))
    assert err.parameter == "capacities" and err.rows == (1,)


# ----------------------------------------------------------------------------------------
# region constructors: site parameters from the sites table
# ----------------------------------------------------------------------------------------


class Matrix:
    def __init__(self, minutes, origin_ids, destination_ids):
        self.minutes = minutes
        self.origin_ids = origin_ids
        self.destination_ids = destination_ids


def region(n: int, m: int, costs, capacity):
    from types import SimpleNamespace

    import pandas as pd

    pop = pd.DataFrame({"population": np.arange(1.0, n + 1)}, index=[f"c{i}" for i in range(n)])
    sites = pd.DataFrame(
        {"required": [False] * m, "annual_cost": costs, "capacity": capacity, "other": 1.0},
        index=[f"s{j}" for j in range(m)],
    )
    return SimpleNamespace(name="test", population=pop, sites=sites)


def test_region_site_columns_and_weight_scale() -> None:
    cost, _ = plane(10, 4, 3)
    reg = region(10, 4, [3.0, 1.0, 2.0, 5.0], [np.nan, 30.0, np.nan, 40.0])
    tt = Matrix(cost, list(reg.population.index), list(reg.sites.index))
    pop = np.arange(1.0, 11)
    lscp = LSCP.from_region(reg, tt, radius=60.0, site_costs="annual_cost").solve(mip_gap=0)
    assert lscp.objective == LSCP(cost, radius=60.0, site_costs=[3, 1, 2, 5]).solve().objective
    pm = PMedian.from_region(reg, tt, p=2, weight_scale=2.0, required=["s3"]).solve(mip_gap=0)
    ref = PMedian(cost, p=2, weights=2 * pop, required=[3]).solve(mip_gap=0)
    assert pm.objective == pytest.approx(ref.objective) and 3 in pm.open_sites
    cpm = CapacitatedPMedian.from_region(reg, tt, p=3).solve(mip_gap=0)
    ref = CapacitatedPMedian(cost, p=3, capacities=[np.inf, 30, np.inf, 40], weights=pop)
    assert cpm.objective == pytest.approx(ref.solve(mip_gap=0).objective)
    with pytest.raises(DataError, match="names no column"):
        FixedCharge.from_region(reg, tt, site_costs="no_such_column")
    reg.sites.loc["s2", "annual_cost"] = np.nan
    with pytest.raises(DataError, match=r"annual_cost is unknown for sites \['s2'\]"):
        FixedCharge.from_region(reg, tt)
    with pytest.raises(DataError, match="weight_scale"):
        PMedian.from_region(reg, tt, p=2, weight_scale=-1.0)


# ----------------------------------------------------------------------------------------
# nothing on standard output
# ----------------------------------------------------------------------------------------


def test_a_fresh_process_prints_nothing() -> None:
    # highspy prints a banner when the first Highs object of a process is made: only a
    # fresh interpreter can show it, so run one with stdout on a pipe (as in a notebook)
    script = textwrap.dedent(
        """
        import numpy as np
        from optimizer.models import PMedian, TwoTier
        cost = np.arange(30.0).reshape(6, 5) % 7
        PMedian(cost, p=2).solve(mip_gap=0, method="benders")
        TwoTier(cost, w_full=np.ones(6), w_remote=np.ones(6), n_full=1).solve(method="compact")
        PMedian(cost, p=2).solve(solver="cbc")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout == ""
    assert "HiGHS" not in out.stderr


def test_solving_writes_nothing_to_the_file_descriptors(capfd: pytest.CaptureFixture) -> None:
    cost, w = plane(40, 6, 4)
    capfd.readouterr()
    for name, kw in MINIMAL.items():
        model = MODELS[name](cost[:12], **kw)
        model.solve(mip_gap=0)
        model.solve(solver="cbc")
    PMedian(cost, p=2, weights=w).solve(method="benders")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_solution_to_geodataframes_for_any_model(tiny_bundle):
    """Any model's solution becomes the region's cells and sites, consistent with it."""
    import numpy as np

    from optimizer.models import PMedian, TwoTier
    from optimizer.region import load_region
    from optimizer.traveltimes import travel_time_matrix

    region = load_region(tiny_bundle)
    matrix = travel_time_matrix(region, region.population, region.sites)
    for model in (
        PMedian.from_region(region, matrix, p=2),
        TwoTier.from_region(region, matrix, n_full=1, n_remote=1, remote_share=0.5),
    ):
        solution = model.solve()
        cells, sites = solution.to_geodataframes(region)
        assert len(cells) == len(region.population) and cells.crs == region.population.crs
        open_ids = {solution.site_ids[j] for j in solution.open_sites}
        assert set(sites.index[sites["role"] != "unused"]) == open_ids
        assert set(cells["full_site_id"].dropna()) <= set(sites.index[sites["role"] == "full"])
        assert set(cells["any_site_id"].dropna()) <= open_ids
        # the cells' assigned sites are the solution's assignment, row by row
        ids = np.asarray(solution.site_ids, dtype=object)
        assert list(cells["full_site_id"]) == list(ids[solution.assignment])
        assert sites["demand"].sum() == pytest.approx(cells["population"].sum())
        # with the matrix, each cell's minutes are those to its assigned site
        cells, _ = solution.to_geodataframes(region, matrix=matrix)
        i = int(np.flatnonzero(solution.assignment >= 0)[0])
        assert cells["nearest_full_minutes"].iloc[i] == matrix.minutes[i, solution.assignment[i]]
        page = solution.map(region, matrix=matrix, tiles=None).get_root().render()
        assert "nearest" in page.lower() or "minutes" in page.lower()


def test_group_rows_with_no_allowed_column():
    """Rows of a cost matrix with no allowed column are all alike (one group), no IndexError."""
    from optimizer.models._inputs import group_rows

    rg = group_rows(np.zeros((4, 0)))
    assert rg.n_groups == 1 and list(rg.inverse) == [0, 0, 0, 0]
    assert group_rows(np.zeros((0, 0))).n_groups == 0


def test_group_rows_merges_exactly_the_bitwise_identical_rows():
    """Rows merge iff their bytes are equal: -0.0 is not 0.0, inf rows merge."""
    from optimizer.models._inputs import group_rows

    rng = np.random.default_rng(11)
    cost = rng.integers(0, 3, size=(400, 4)).astype(float)
    cost[[3, 9, 17]] = -0.0  # bitwise unlike the all-zero rows
    cost[[4, 8]] = np.inf
    rg = group_rows(cost)
    keys = [row.tobytes() for row in cost]
    assert rg.n_groups == len(set(keys)) < 400
    for i, key in enumerate(keys):
        assert keys[rg.rep[rg.inverse[i]]] == key
    zero = keys.index(np.zeros(4).tobytes())  # a row of +0.0
    assert rg.inverse[3] == rg.inverse[9] == rg.inverse[17] != rg.inverse[zero]
    assert rg.inverse[4] == rg.inverse[8]


def test_two_tier_with_counts_matches_a_fresh_model():
    """Reusing the count-free setup for new counts gives the fresh model's optimum."""
    from optimizer.models import TwoTier

    rng = np.random.default_rng(7)
    cost = rng.integers(1, 30, size=(40, 7)).astype(float)
    w_full, w_remote = rng.random(40), rng.random(40)
    base = TwoTier.from_cost_matrix(cost, w_full=w_full, w_remote=w_remote, n_full=1, n_remote=1)
    base.solve()  # fills the setup cache
    for nf, nr in [(1, 0), (2, 1), (2, 3), (3, 2)]:
        reused = base.with_counts(n_full=nf, n_remote=nr).solve(mip_gap=0)
        fresh = TwoTier.from_cost_matrix(
            cost, w_full=w_full, w_remote=w_remote, n_full=nf, n_remote=nr
        ).solve(mip_gap=0)
        assert reused.objective == pytest.approx(fresh.objective, rel=1e-9)
        assert len(reused.sites_of_tier("full")) == nf
        assert len(reused.sites_of_tier("remote")) == nr
    assert base.count_full == (1, 1)  # the original is unchanged

"""The shape of ``optimizer.models``: no import circle, small modules, shared pieces.

The models share their tier checks (:mod:`optimizer.models._tiers`) and their
local searches (:mod:`optimizer.models._heuristics`); these tests hold both
models to the same answers and the searches to brute force on small instances.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from optimizer.errors import InfeasibleError
from optimizer.models import AgencyTwoTier, TwoTier
from optimizer.models import _heuristics as heuristics
from optimizer.models._heuristics import Flow, greedy_add, local_search
from optimizer.models._levels import RowSorts
from optimizer.models._problem import Block

MODELS_DIR = Path(__file__).resolve().parents[1] / "optimizer" / "models"


def _imports_of(path: Path) -> set[str]:
    """Modules of ``optimizer.models`` that a file imports anywhere (type-only and local too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: from ._x import y
                out.add(f"optimizer.models.{node.module}")
            else:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m for m in out if m.startswith("optimizer.models.")}


def test_models_modules_import_each_other_without_a_circle() -> None:
    graph = {
        f"optimizer.models.{p.stem}": _imports_of(p)
        for p in MODELS_DIR.glob("*.py")
        if p.stem != "__init__"
    }
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(mod: str, path: list[str]) -> None:
        state[mod] = 1
        for dep in sorted(graph.get(mod, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[mod] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    # the check sees the engine's modules at all
    assert "optimizer.models._problem" in graph["optimizer.models._engine"]


def test_no_models_module_is_over_650_lines() -> None:
    sizes = {
        p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in MODELS_DIR.glob("*.py")
    }
    assert sizes, "no modules found"
    assert {name: n for name, n in sizes.items() if n > 650} == {}


# ----------------------------------------------------------------------------------------
# the two-tier models check their tiers alike
# ----------------------------------------------------------------------------------------


def _line(n: int, m: int) -> np.ndarray:
    cells = np.linspace(0.0, 10.0, n)
    sites = np.linspace(0.0, 10.0, m)
    return np.abs(cells[:, None] - sites[None, :])


def _both(cost: np.ndarray, **tiers: object) -> list[TwoTier | AgencyTwoTier]:
    n = cost.shape[0]
    return [
        TwoTier(cost, w_full=np.ones(n), w_remote=np.ones(n), **tiers),
        AgencyTwoTier(
            cost,
            visits_in_person=np.ones((1, n)),
            visits_remote=np.ones((1, n)),
            visits_per_fte=100.0,
            **tiers,
        ),
    ]


@pytest.mark.parametrize("tier", ["full", "remote"])
def test_too_many_required_sites_fail_alike_in_both_models(tier: str) -> None:
    cost = _line(6, 5)
    required = {"full": "required", "remote": "required_remote"}[tier]
    for model in _both(cost, **{required: [0, 3], f"n_{tier}": 1}):
        with pytest.raises(InfeasibleError, match=f"2 required {tier} sites") as info:
            model.solve()
        assert info.value.parameter == f"n_{tier}"
        assert info.value.sites == (0, 3)


def test_both_models_agree_on_one_full_point_when_only_travel_counts() -> None:
    # one agency with no remote visits: the agency model is the two-tier model
    cost = _line(9, 6)
    n = cost.shape[0]
    w = np.arange(1.0, n + 1.0)
    two = TwoTier(cost, w_full=w, w_remote=np.zeros(n), n_full=1, n_remote=0).solve(mip_gap=0)
    agency = AgencyTwoTier(
        cost,
        visits_in_person=w[None, :],
        visits_remote=np.zeros((1, n)),
        visits_per_fte=100.0,
        n_full=1,
        n_remote=0,
    ).solve(mip_gap=0)
    best = min(range(cost.shape[1]), key=lambda j: float(w @ cost[:, j]))
    assert two.open_sites == agency.open_sites == (best,)
    assert two.tiers == agency.tiers == ("full",)
    assert two.objective == pytest.approx(float(w @ cost[:, best]))
    assert agency.objective == pytest.approx(two.objective)


# ----------------------------------------------------------------------------------------
# the local search
# ----------------------------------------------------------------------------------------


def _value(cost: np.ndarray, w: np.ndarray, sites: np.ndarray, fc: np.ndarray | None) -> float:
    travel = float(w @ cost[:, sites].min(axis=1))
    return travel + (0.0 if fc is None else float(fc[sites].sum()))


def test_swap_search_with_one_site_finds_the_best_site() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(1.0, 20.0, size=(12, 7))
    w = rng.uniform(0.5, 2.0, size=12)
    allowed = np.ones(7, dtype=bool)
    for start in range(7):
        got = local_search(Flow(cost, w), np.array([start]), allowed, np.zeros(7, dtype=bool))
        best = min(range(7), key=lambda j: float(w @ cost[:, j]))
        assert got.tolist() == [best]


def test_add_drop_swap_search_ends_where_no_move_helps() -> None:
    rng = np.random.default_rng(11)
    n, m = 15, 8
    cost = rng.uniform(1.0, 30.0, size=(n, m))
    w = rng.uniform(0.5, 3.0, size=n)
    fc = rng.uniform(5.0, 40.0, size=m)
    allowed = np.ones(m, dtype=bool)
    start = np.array([0])
    got = local_search(Flow(cost, w), start, allowed, np.zeros(m, dtype=bool), site_cost=fc)
    value = _value(cost, w, got, fc)
    assert value <= _value(cost, w, start, fc) + 1e-9
    opened = set(got.tolist())
    closed = set(range(m)) - opened
    neighbours = [opened | {j} for j in closed]
    neighbours += [opened - {i} for i in opened if len(opened) > 1]
    neighbours += [(opened - {i}) | {j} for i, j in itertools.product(opened, closed)]
    for other in neighbours:
        assert value <= _value(cost, w, np.array(sorted(other)), fc) + 1e-9


@pytest.mark.parametrize("share", [0.0, 1.0])  # the dense sweep, then the gathered pairs
@pytest.mark.parametrize("n_open", [1, 2, 5])
def test_swap_deltas_match_direct_evaluation(
    share: float, n_open: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heuristics, "SPARSE_SHARE", share)
    rng = np.random.default_rng(20 + n_open)
    n, m = 40, 9
    cost = rng.integers(1, 60, size=(n, m)).astype(float)  # ties included
    w = rng.uniform(0.5, 3.0, size=n)
    flow = Flow(cost, w)
    sites = rng.choice(m, size=n_open, replace=False)
    got = flow.swap_delta(*flow.state(sites), n_open)
    base = _value(cost, w, sites, None)
    for pos, j in itertools.product(range(n_open), range(m)):
        if j in sites:
            continue
        swapped = sites.copy()
        swapped[pos] = j
        assert got[pos, j] == pytest.approx(_value(cost, w, swapped, None) - base, abs=1e-6)


def test_lazy_greedy_picks_what_the_eager_greedy_picks() -> None:
    rng = np.random.default_rng(5)
    n, m, count = 60, 25, 8
    cost = rng.integers(1, 40, size=(n, m)).astype(float)
    w = rng.integers(1, 5, size=n).astype(float)
    got = greedy_add(Flow(cost, w), np.zeros(0, dtype=np.int64), np.ones(m, dtype=bool), count)
    eager: list[int] = []
    for _ in range(count):  # every candidate priced at every step, ties to the lower column
        values = [
            _value(cost, w, np.array([*eager, j]), None) if j not in eager else np.inf
            for j in range(m)
        ]
        eager.append(int(np.argmin(values)))
    assert got.tolist() == eager


def test_distance_blocks_over_one_matrix_share_the_sort_of_the_rows_they_keep() -> None:
    rng = np.random.default_rng(3)
    cost = rng.uniform(1.0, 50.0, (12, 5))
    w = rng.uniform(1.0, 3.0, 12)
    cols, none = [np.arange(5)], np.zeros(5, dtype=bool)
    sorts = RowSorts(cost)
    first = Block(cost, w, cols, none, 1, "first", sorts=sorts)
    second = Block(cost, 2 * w, cols, none, 1, "second", sorts=sorts)
    assert first.sr is second.sr and first.cost is cost  # one sort, no copy of the rows
    fewer = w.copy()
    fewer[[2, 7]] = 0.0
    part = Block(cost, fewer, cols, none, 1, "part", sorts=sorts)
    alone = Block(cost, fewer, cols, none, 1, "alone")
    assert part.sr is not first.sr and part.n_rows == alone.n_rows == 10
    np.testing.assert_array_equal(part.cost, cost[fewer > 0])
    np.testing.assert_array_equal(part.sr.order, alone.sr.order)
    np.testing.assert_array_equal(part.sr.ds, np.sort(cost[fewer > 0], axis=1))
    # the two tiers of the two-tier model keep the same rows here: one sort for both
    blocks = TwoTier(cost, w_full=w, w_remote=w, n_full=(1, 2), n_remote=(0, 2))._problem().blocks
    assert [b.name for b in blocks] == ["full", "any"]
    assert blocks[0].sr is blocks[1].sr

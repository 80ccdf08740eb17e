"""Sweeps: a scenario solved over a grid of full x remote point counts.

The region, the travel times and the cost matrix are prepared once
(:func:`optimizer.scenario.prepare`); each grid point only builds and solves
the model with fixed counts.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer._io import atomic_path, writable_folder
from optimizer.errors import InfeasibleError
from optimizer.estimates import FIGURES, NetworkEstimate, figure_values
from optimizer.scenario.problem import Problem, Progress, prepare
from optimizer.scenario.run import ScenarioResult, evaluate, evaluate_choice, run_prepared
from optimizer.scenario.schema import Scenario
from optimizer.scenario.solve import build_model, solve_network
from optimizer.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

__all__ = ["SweepResult", "sweep"]

logger = logging.getLogger(__name__)

#: Statuses of grid points whose network was found (optimal or not proven optimal).
SOLVED = ("optimal", "gap_limit", "time_limit")


@dataclass(frozen=True, eq=False)
class SweepResult:
    """A table of networks over a grid of full x remote counts.

    ``table`` has one row per grid point: ``full_points``, ``remote_points``,
    ``status``, ``gap``, ``seconds``, every headline figure of
    :data:`optimizer.estimates.FIGURES` (``mean_minutes_any``,
    ``mean_minutes_full``, ``share_within_60_any``, ``t_co2``,
    ``total_cost_eur``, ...) and the chosen ``full_sites``/``remote_sites``.
    ``baseline`` is the scenario's baseline network, drawn as a reference.
    ``run`` is the scenario's own network (its configured counts), solved on
    the same prepared problem, when the sweep was asked for it: its outputs
    carry the trade-off chart (:func:`optimizer.outputs.write_outputs` with
    ``sweep=``).
    """

    scenario: Scenario
    region: str
    region_name: str
    table: pd.DataFrame
    baseline: NetworkEstimate
    run: ScenarioResult | None = None

    def plot(self) -> Figure:
        """Plot access to full and any points and CO2 against the network's size and cost."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 11), layout="constrained")
        axes = fig.subplots(3, 2)
        ok = self.table[self.table["status"].isin(SOLVED)]
        ok = ok.assign(points=ok["full_points"] + ok["remote_points"])
        rows = (
            ("mean_minutes_any", "mean time to the nearest point of any kind (min)"),
            ("mean_minutes_full", "mean time to the nearest full point (min)"),
            ("t_co2", "CO2 from trips (t / year)"),
        )
        for full, group in ok.groupby("full_points"):
            group = group.sort_values("remote_points")
            label = f"{full} full point{'s' if full != 1 else ''}"
            for row, (column, _) in enumerate(rows):
                axes[row, 0].plot(group["points"], group[column], marker="o", label=label)
                axes[row, 1].plot(
                    group["total_cost_eur"] / 1e6, group[column], marker="o", label=label
                )
        base = figure_values(self.baseline)
        base_points = base["full_points"] + base["remote_points"]
        for row, (column, ylabel) in enumerate(rows):
            axes[row, 0].set_ylabel(ylabel)
            for ax in axes[row]:
                ax.axhline(base[column], color="0.3", linestyle="--", linewidth=1)
            axes[row, 0].plot([base_points], [base[column]], "k*", markersize=11, label="baseline")
            axes[row, 1].plot([base["total_cost_eur"] / 1e6], [base[column]], "k*", markersize=11)
        axes[2, 0].set_xlabel("service points (full + remote)")
        axes[2, 1].set_xlabel("annual cost: sites + travel time + CO2 (M€)")
        for ax in axes.flat:
            ax.grid(alpha=0.3)
        axes[0, 0].legend(title="remote points added along each line; dashed: baseline")
        fig.suptitle(f"{self.region_name}: {self.scenario.name} — trade-off of the network size")
        return fig

    @cached_property
    def png(self) -> bytes:
        """The plot as PNG bytes, drawn once (the report and ``sweep.png`` share them)."""
        import io

        buffer = io.BytesIO()
        self.plot().savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()

    def write(self, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write ``sweep.csv`` and ``sweep.png`` atomically into ``out_dir``."""
        folder = writable_folder(Path(out_dir))
        csv_path, png_path = folder / "sweep.csv", folder / "sweep.png"
        with atomic_path(csv_path) as tmp:
            self.table.to_csv(tmp, index=False)
        with atomic_path(png_path) as tmp:
            tmp.write_bytes(self.png)
        return csv_path, png_path


def _grid_row(problem: Problem, nf: int, nr: int, settings: Settings, model: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"full_points": nf, "remote_points": nr}
    try:
        choice = solve_network(
            problem, full_points=(nf, nf), remote_points=(nr, nr), settings=settings, model=model
        )
    except InfeasibleError as exc:  # the model alone decides what is feasible
        logger.info("%d full + %d remote points: infeasible: %s", nf, nr, exc)
        return {**row, "status": "infeasible"}
    _, estimate = evaluate_choice(problem, choice)
    return {
        **row,
        "status": choice.status,
        "gap": choice.gap,
        "seconds": choice.seconds,
        **{k: v for k, v in figure_values(estimate).items() if k not in row},
        "full_sites": ";".join(problem.site_ids[k] for k in choice.full),
        "remote_sites": ";".join(problem.site_ids[k] for k in choice.remote),
    }


def sweep(
    scenario: Scenario | str | os.PathLike[str],
    *,
    full_points: Sequence[int] | None = None,
    remote_points: Sequence[int] | None = None,
    region: Any = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    with_run: bool = False,
) -> SweepResult:
    """Solve a scenario for every combination of full and remote counts.

    The region, travel times and cost matrix are computed once. Combinations
    that cannot hold the required sites are listed with status ``"infeasible"``.
    The sweep varies the two-tier model's counts; a scenario with another
    model is swept over ``full_points`` only.

    Parameters
    ----------
    scenario
        A :class:`Scenario`, a file, or a shipped scenario's name.
    full_points, remote_points
        Counts to try (default: 1..3 full x 0..8 remote points).
    region
        A region already loaded; default: the scenario's.
    settings
        Environment defaults.
    progress
        Called with a description of each step.
    with_run
        Also solve the scenario's own network (as :func:`run_scenario` does, on
        the same prepared problem) and keep it as ``run``, for its outputs.

    Returns
    -------
    SweepResult
        The table; ``.plot()`` draws the trade-off, ``.write(folder)`` saves
        ``sweep.csv`` and ``sweep.png``.
    """
    import pandas as pd

    settings = settings or get_settings()
    problem = prepare(scenario, region=region, settings=settings, progress=progress)
    fulls = list(full_points) if full_points is not None else [1, 2, 3]
    remotes = list(remote_points) if remote_points is not None else list(range(9))
    if problem.scenario.network.model != "two_tier":
        remotes = [0]
    # a two-tier model's row groups and cover sets are built once for the whole grid
    model = (
        build_model(problem, None, None) if problem.scenario.network.model == "two_tier" else None
    )
    rows = []
    for nf in fulls:
        for nr in remotes:
            message = f"solving {nf} full + {nr} remote points"
            logger.info(message)
            if progress is not None:
                progress(message)
            rows.append(_grid_row(problem, nf, nr, settings, model))
    run = run_prepared(problem, settings=settings, progress=progress) if with_run else None
    baseline = run.baseline if run is not None else _baseline(problem)
    columns = ["full_points", "remote_points", "status", "gap", "seconds"]
    columns += [f.key for f in FIGURES if f.key not in columns] + ["full_sites", "remote_sites"]
    return SweepResult(
        scenario=problem.scenario,
        region=problem.region.slug,
        region_name=problem.region.name,
        table=pd.DataFrame(rows, columns=columns),
        baseline=baseline,
        run=run,
    )


def _baseline(problem: Problem) -> NetworkEstimate:
    _, baseline = evaluate(problem, problem.baseline_full, problem.baseline_remote)
    return baseline

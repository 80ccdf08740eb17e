"""Scenarios: which network to design, for which demand, under which travel assumptions.

A scenario is a TOML file (the format is documented in :mod:`.schema`). This
package reads it (:mod:`.loading`, with error messages that name the key and
the line: :mod:`._messages`, :mod:`._positions`), runs it (:mod:`.run`:
prepare once, solve with the scenario's model, estimate against the baseline)
and sweeps it over network sizes (:mod:`.sweep`). Outputs are written by
:mod:`optimizer.outputs`.
"""

from __future__ import annotations

from optimizer.scenario.loading import (
    default_scenario_path,
    list_scenarios,
    load_scenario,
    parse_scenario,
    scenarios_dir,
)
from optimizer.scenario.problem import PlanSites, Problem, Progress, prepare
from optimizer.scenario.run import PlanResult, ScenarioResult, evaluate, run_scenario
from optimizer.scenario.schema import (
    BASELINE_RULES,
    MODEL_NAMES,
    AccessStandard,
    Agency,
    AgeRates,
    Baseline,
    BaselineSite,
    ModeSplit,
    Network,
    Plan,
    Scenario,
    SolverOptions,
    Travel,
    TravelMode,
)
from optimizer.scenario.solve import Choice, solve_network
from optimizer.scenario.sweep import SweepResult, sweep

__all__ = [
    "BASELINE_RULES",
    "MODEL_NAMES",
    "AccessStandard",
    "AgeRates",
    "Agency",
    "Baseline",
    "BaselineSite",
    "Choice",
    "ModeSplit",
    "Network",
    "OutputPaths",
    "Plan",
    "PlanResult",
    "PlanSites",
    "Problem",
    "Progress",
    "Scenario",
    "ScenarioResult",
    "SolverOptions",
    "SweepResult",
    "Travel",
    "TravelMode",
    "default_scenario_path",
    "evaluate",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "prepare",
    "run_scenario",
    "scenarios_dir",
    "solve_network",
    "sweep",
    "write_outputs",
]


def __getattr__(name: str) -> object:
    # ``write_outputs`` and ``OutputPaths`` live in optimizer.outputs; kept here for
    # callers of the first release (``from optimizer.scenario import write_outputs``).
    if name in ("write_outputs", "OutputPaths"):
        from optimizer import outputs

        return getattr(outputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The national summary: one row per region of a batch, and the total for Finland.

Every numeric column is a headline figure of :data:`optimizer.estimates.FIGURES`
(the one column specification), read from the region's ``summary.json`` for
the scenario's network, the baseline (``baseline_`` prefix) and their
difference (``delta_``). The total row adds the regions that have numbers
(``ok`` or ``skipped``):

* counts, residents, visits, km, hours, CO2 and euros are summed;
* mean minutes are weighted by the residents who reach a point of that tier,
  which makes the total the exact national population-weighted mean;
* shares are weighted by all residents (the exact national share);
* percentiles are left empty (they cannot be combined from regional figures);
* ``delta_`` means and shares are the total's value minus the baseline's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optimizer._io import atomic_path, write_text_atomic
from optimizer._json import jsonable
from optimizer.errors import OutputError
from optimizer.estimates import FIGURES, Figure

if TYPE_CHECKING:
    import pandas as pd

    from optimizer.batch import RegionRun

__all__ = ["SUMMARY_COLUMNS", "national_summary", "write_national_summary"]

_IDENTITY = ("region", "name", "code", "status", "error", "synthetic", "seconds", "output")
_NETWORKS = (("", "scenario_network"), ("baseline_", "baseline_network"), ("delta_", "difference"))
_SOLVER = ("solver_status", "mip_gap")
_STEM = "national_summary"

#: Columns of the national summary table, in order.
SUMMARY_COLUMNS: tuple[str, ...] = (
    *_IDENTITY,
    *(prefix + fig.key for prefix, _ in _NETWORKS for fig in FIGURES),
    *_SOLVER,
)

_IDENTITY_DESCRIPTIONS = {
    "region": "region slug (the output folder is <region>-<scenario>); 'total' for Finland",
    "name": "region name",
    "code": "maakunta code",
    "status": "ok, skipped (outputs up to date), failed; total row: ok or partial",
    "error": "why the region failed; total row: the regions left out",
    "synthetic": "the bundle has synthetic layers: do not use the numbers for decisions",
    "seconds": "wall-clock seconds of the region's task in this run (0 when skipped; "
    "total: their sum)",
    "output": "the region's output folder",
    "solver_status": "solver status (total: empty)",
    "mip_gap": "relative MIP gap of the solution (total: empty)",
}


def _tier(fig: Figure) -> str:
    return fig.path[0].removeprefix("to_") if fig.path[0].startswith("to_") else ""


def _rule(fig: Figure) -> str:
    """How the total row combines a figure: ``sum``, ``reach`` or ``residents`` mean, ``none``."""
    if fig.unit == "min":
        return "reach" if fig.path[-1] == "mean_minutes" else "none"
    if fig.unit == "share":
        return "residents"
    return "sum"


def _description(prefix: str, fig: Figure) -> str:
    what = {"": "", "baseline_": "baseline: ", "delta_": "scenario minus baseline: "}[prefix]
    how = {
        "sum": "sum",
        "reach": "weighted by residents who reach one",
        "residents": "weighted by residents",
        "none": "empty",
    }[_rule(fig)]
    if prefix == "delta_" and _rule(fig) in ("reach", "residents"):
        how = "difference of the weighted totals"
    return f"{what}{fig.label} [{fig.unit}] (total: {how})"


def _weights(record: Mapping[str, Any], tier: str) -> float:
    access = record.get(f"to_{tier}") if isinstance(record, Mapping) else None
    if not isinstance(access, Mapping):
        return math.nan
    residents, unreachable = access.get("residents"), access.get("unreachable_residents")
    if residents is None:
        residents = record.get("residents")
    if residents is None or unreachable is None:
        return math.nan
    return float(residents) - float(unreachable)


def _row_numbers(summary: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for prefix, section in _NETWORKS:
        record = summary.get(section, {})
        for fig in FIGURES:
            out[prefix + fig.key] = fig.value_in(record)
        if prefix != "delta_":
            for tier in ("any", "full"):
                out[f"_w{prefix}{tier}"] = _weights(record, tier)
            out[f"_r{prefix}"] = _residents(record)
    solution = summary.get("solution", {})
    out["solver_status"] = solution.get("status")
    gap = solution.get("gap")
    out["mip_gap"] = math.nan if gap is None else float(gap)
    return out


def _residents(record: Mapping[str, Any]) -> float:
    value = record.get("residents") if isinstance(record, Mapping) else None
    return math.nan if value is None else float(value)


def _weighted(values: Any, weights: Any) -> float:
    import numpy as np

    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    ok = np.isfinite(v) & np.isfinite(w) & (w > 0)
    return float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else math.nan


def national_summary(
    runs: Sequence[RegionRun], summaries: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """Build the national summary table from the regions' ``summary.json`` contents.

    Parameters
    ----------
    runs
        The regions of the batch, in order.
    summaries
        The parsed ``summary.json`` of each region that has numbers, by slug.

    Returns
    -------
    pandas.DataFrame
        One row per region plus the total row for Finland (``region == "total"``),
        with the columns :data:`SUMMARY_COLUMNS` (see the module docstring).
    """
    import pandas as pd

    rows = []
    for run in runs:
        summary = summaries.get(run.region)
        row: dict[str, Any] = {
            "region": run.region,
            "name": run.name,
            "code": run.code,
            "status": run.status,
            "error": run.error,
            "synthetic": bool(summary and summary.get("region", {}).get("synthetic_layers")),
            "seconds": run.seconds,
            "output": str(run.output) if run.output else None,
        }
        if summary is not None:
            row.update(_row_numbers(summary))
        rows.append(row)
    helpers = [f"_w{p}{t}" for p in ("", "baseline_") for t in ("any", "full")] + [
        "_r",
        "_rbaseline_",
    ]
    table = pd.DataFrame(rows, columns=[*SUMMARY_COLUMNS, *helpers])
    numeric = [c for c in (*SUMMARY_COLUMNS[len(_IDENTITY) :], *helpers) if c != "solver_status"]
    table[numeric] = table[numeric].astype(float)
    table["seconds"] = table["seconds"].astype(float)

    have = table[table["status"].isin(["ok", "skipped"])]
    missing = [r.region for r in runs if r.status == "failed"]
    total: dict[str, Any] = {
        "region": "total",
        "name": "Finland",
        "code": "",
        "status": "partial" if missing else "ok",
        "error": f"excludes failed region(s): {', '.join(missing)}" if missing else None,
        "synthetic": bool(have["synthetic"].any()),
        "seconds": float(table["seconds"].sum()),
        "output": None,
        "solver_status": None,
        "mip_gap": math.nan,
    }
    for prefix in ("", "baseline_"):
        for fig in FIGURES:
            column, rule = prefix + fig.key, _rule(fig)
            if rule == "sum":
                total[column] = float(have[column].sum()) if len(have) else math.nan
            elif rule == "reach":
                total[column] = _weighted(have[column], have[f"_w{prefix}{_tier(fig)}"])
            elif rule == "residents":
                total[column] = _weighted(have[column], have[f"_r{prefix}"])
            else:
                total[column] = math.nan
    for fig in FIGURES:
        column = "delta_" + fig.key
        if _rule(fig) == "sum":
            total[column] = float(have[column].sum()) if len(have) else math.nan
        else:
            total[column] = total[fig.key] - total["baseline_" + fig.key]
    out = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    return out.drop(columns=helpers)[list(SUMMARY_COLUMNS)]


def write_national_summary(
    table: pd.DataFrame, out_dir: Path, *, scenario: Any, version: str
) -> tuple[Path, Path]:
    """Write ``national_summary.csv`` and ``.json`` (with column descriptions) atomically."""
    csv_path = out_dir / f"{_STEM}.csv"
    json_path = out_dir / f"{_STEM}.json"
    records = jsonable(table.to_dict(orient="records"))
    columns = dict(_IDENTITY_DESCRIPTIONS)
    for prefix, _ in _NETWORKS:
        for fig in FIGURES:
            columns[prefix + fig.key] = _description(prefix, fig)
    document = {
        "scenario": scenario.name,
        "scenario_file": str(scenario.path) if scenario.path else None,
        "package_version": version,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": {c: columns[c] for c in SUMMARY_COLUMNS},
        "regions": records[:-1],
        "total": records[-1],
    }
    try:
        with atomic_path(csv_path) as tmp:
            table.to_csv(tmp, index=False)
        text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        write_text_atomic(json_path, text)
    except OSError as exc:
        raise OutputError(f"cannot write the national summary into {out_dir}: {exc}") from exc
    return csv_path, json_path

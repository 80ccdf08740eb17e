"""Shared helpers for the command-line safety cases (``test_safety*.py``).

Each case runs the minimal scenario on a tiny bundle through the command line and
checks that a fault gives one named error line and leaves earlier outputs intact.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

MINIMAL = (Path(__file__).parent / "data" / "scenarios" / "minimal.toml").read_text("utf-8")
runner = CliRunner()


def scenario_text(bundle: Path, extra: str = "") -> str:
    """The minimal scenario pointed at ``bundle``, with ``extra`` TOML appended."""
    return MINIMAL.replace('region = "tiny"', f'region = "{bundle.as_posix()}"') + extra


def write_scenario(folder: Path, bundle: Path, extra: str = "") -> Path:
    """Write :func:`scenario_text` to ``folder / "minimal.toml"`` and return the path."""
    path = folder / "minimal.toml"
    path.write_text(scenario_text(bundle, extra), encoding="utf-8")
    return path


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` (the run lock excluded), by relative path."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".optimizer.lock"
    }


def one_line_error(result, *expected: str) -> str:
    """Assert exit code 2 and a single ``error:`` line holding each of ``expected``."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error: "), output
    for text in expected:
        assert text in lines[0], (text, lines[0])
    return lines[0]


def batch_args(regions: str, scenario: Path, out: Path, *, workers: int | None = 1) -> list[str]:
    """Command-line arguments of ``optimizer batch`` (``workers=None`` leaves the default)."""
    args = ["batch", "--regions", regions, "--scenario", str(scenario), "--out", str(out)]
    return args if workers is None else [*args, "--workers", str(workers)]


def run_cli(scenario: Path, out: Path):
    """``optimizer run SCENARIO --out OUT`` through the Typer test runner."""
    from optimizer.cli import app

    return runner.invoke(app, ["run", str(scenario), "--out", str(out)])

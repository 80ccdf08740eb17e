"""Reading scenario files: parse, validate and find the shipped scenarios."""

from __future__ import annotations

import logging
import os
import tomllib
from pathlib import Path

from pydantic import ValidationError

from optimizer.errors import ScenarioError
from optimizer.scenario._messages import format_errors
from optimizer.scenario._positions import key_lines
from optimizer.scenario.schema import Scenario
from optimizer.settings import Settings, get_settings

__all__ = [
    "default_scenario_path",
    "list_scenarios",
    "load_scenario",
    "parse_scenario",
    "scenarios_dir",
]

logger = logging.getLogger(__name__)


def parse_scenario(text: str, *, path: str | os.PathLike[str] | None = None) -> Scenario:
    """Validate a scenario given as TOML text.

    Parameters
    ----------
    text
        The TOML text.
    path
        The file the text came from: used in messages, as the default
        ``name`` (its stem) and to resolve a relative region path.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the text is not TOML or does not fit the schema; the message names
        every offending key path and its line.
    """
    file = Path(path) if path is not None else None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            f"{file or '<scenario>'}: not valid TOML: {exc}; fix the syntax at that position"
        ) from None
    if file is not None:
        data.setdefault("name", file.stem)
    lines = key_lines(text)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, data, lines, file, root=Scenario)) from None
    scenario._path = file.resolve() if file is not None else None
    scenario._lines = lines
    return scenario


def scenarios_dir(*, settings: Settings | None = None) -> Path:
    """Return the folder that holds the shipped scenarios."""
    return (settings or get_settings()).data_dir / "scenarios"


def default_scenario_path(*, settings: Settings | None = None) -> Path:
    """Return the path of the default scenario (``<data_dir>/scenarios/default.toml``)."""
    return scenarios_dir(settings=settings) / "default.toml"


def list_scenarios(*, settings: Settings | None = None) -> list[str]:
    """Return the names of the shipped scenarios (``*.toml`` in the scenarios folder)."""
    folder = scenarios_dir(settings=settings)
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def load_scenario(
    path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None
) -> Scenario:
    """Load and validate a scenario file.

    Parameters
    ----------
    path
        A TOML file, or the name of a shipped scenario (``"default"``).
        ``None`` loads the default scenario.
    settings
        Where the shipped scenarios live; ``None`` reads the environment.

    Returns
    -------
    Scenario
        The validated, frozen scenario.

    Raises
    ------
    ScenarioError
        If the file does not exist, is not TOML, or does not fit the schema
        (unknown keys, negative rates, shares outside [0, 1] or not summing to 1,
        more required sites than allowed, ...). The message names the key path
        and the line.
    """
    if path is None:
        file = default_scenario_path(settings=settings)
    else:
        file = Path(path).expanduser()
        if not file.is_file() and file.suffix == "" and file.name == str(path):
            shipped = scenarios_dir(settings=settings) / f"{file.name}.toml"
            if shipped.is_file():
                file = shipped
    if not file.is_file():
        known = ", ".join(list_scenarios(settings=settings)) or "none"
        raise ScenarioError(
            f"scenario file {file} does not exist; give a path to a TOML file or the name "
            f"of a shipped scenario ({known})"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario file {file}: {exc}") from exc
    scenario = parse_scenario(text, path=file)
    logger.debug("loaded scenario %s from %s", scenario.name, file)
    return scenario

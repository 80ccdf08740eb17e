"""The notebooks in notebooks/ execute without errors (offline) and are stored stripped."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = ("01-quickstart.ipynb", "02-scenarios.ipynb", "03-your-own-data.ipynb")
CELL_TIMEOUT_S = 300


def test_notebooks_are_present_and_stripped():
    assert sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        assert nb.cells[0].cell_type == "markdown"
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{name}: outputs not stripped"
                assert cell.execution_count is None, f"{name}: execution count not stripped"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS, ids=lambda n: n.removesuffix(".ipynb"))
def test_notebook_executes(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # A fresh cache and working folder: the notebook must not depend on earlier runs.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    nb = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors

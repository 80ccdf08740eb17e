"""docs/architecture.md lists every module of the package, with its docstring's first line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `(optimizer/[\w/]+\.py)` \| (\d+) \| (.*) \|$")


def _first_line(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def test_architecture_lists_every_module_with_its_docstring():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(3) for m in map(ROW.match, text.splitlines()) if m}
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "optimizer").rglob("*.py"))
    expected = "\n".join(
        f"| `{m}` | {len((ROOT / m).read_text(encoding='utf-8').splitlines())} | "
        f"{_first_line(ROOT / m)} |"
        for m in modules
    )
    assert sorted(rows) == modules, f"the module table should be:\n{expected}"
    for module in modules:
        assert rows[module] == _first_line(ROOT / module), f"{module}; the table:\n{expected}"

"""The core must stay headless: no Textual, Rich or click, ever (harlequin's rule)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).parent.parent / "inspector" / "core"
MODULES = sorted(p.stem for p in CORE.glob("*.py") if p.stem != "__init__")
FORBIDDEN = ("textual", "rich", "click", "inspector.tui", "inspector.cli")


def test_core_has_modules() -> None:
    assert {"locate", "store", "model", "scan", "recover", "journal", "live"} <= set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_importing_core_module_loads_no_ui(module: str) -> None:
    code = (
        "import sys, importlib; importlib.import_module('inspector.core.%s');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click')"
        " or m.startswith(('inspector.tui', 'inspector.cli'))]; print(','.join(bad))"
    ) % module
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"inspector.core.{module} pulled in {out.stdout.strip()}"


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_source_never_imports_ui(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_cli_does_not_load_textual_for_scan(fixture_db) -> None:
    db = fixture_db("stuck-bash")
    code = (
        "import sys; from click.testing import CliRunner; from inspector.cli import cli;"
        f"r = CliRunner().invoke(cli, ['--db', {str(db)!r}, 'scan', '--json']);"
        "print('textual' in sys.modules, r.exit_code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "1"]

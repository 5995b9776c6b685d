"""The core must stay headless: no Textual, Rich or click, ever (harlequin's rule)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CORE = Path(__file__).parent.parent / "inspector" / "core"
SOURCES = sorted(CORE.rglob("*.py"))  # recursive: the stage subpackages (db, diagnose, repair, …) too


def dotted(path: Path) -> str:
    """``inspector/core/db/store.py`` -> ``inspector.core.db.store`` (a package for ``__init__``)."""
    parts = path.relative_to(CORE).with_suffix("").parts
    return ".".join(("inspector", "core", *(parts[:-1] if parts[-1] == "__init__" else parts)))


MODULES = sorted(dotted(p) for p in SOURCES)
FORBIDDEN = ("textual", "rich", "click", "inspector.tui", "inspector.cli")


def test_core_has_modules() -> None:
    short = {m.removeprefix("inspector.core.") for m in MODULES}
    assert {
        "db.locate",
        "db.store",
        "model",
        "diagnose.scan",
        "repair.recover",
        "repair.journal",
        "opencode.live",
        "repair.operations",
        "db",
        "repair",
    } <= short


@pytest.mark.parametrize("module", MODULES)
def test_importing_core_module_loads_no_ui(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module('{module}');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click')"
        " or m.startswith(('inspector.tui', 'inspector.cli'))]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulled in {out.stdout.strip()}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_source_never_imports_ui(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            assert not name.startswith(FORBIDDEN), f"{path.relative_to(CORE)} imports {name}"


def test_cli_does_not_load_textual_for_scan(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    code = (
        "import sys; from click.testing import CliRunner; from inspector.cli import cli;"
        f"r = CliRunner().invoke(cli, ['--db', {str(db)!r}, 'scan', '--json']);"
        "print('textual' in sys.modules, r.exit_code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "1"]

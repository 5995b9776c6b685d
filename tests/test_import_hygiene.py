"""The core must stay headless: no Textual, Rich or click, ever (harlequin's rule)."""

from __future__ import annotations

import ast
import json
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


# One fresh interpreter imports every core module in turn and says what each import added that is
# UI. A module's imports only ever add to ``sys.modules``, so if nothing is UI once all of them are
# loaded, none of them loads UI alone. Only when something did is each module imported again in
# an interpreter of its own, so the failure names the module that pulls the UI in, not the first
# one imported after it. (Fresh interpreters because pytest's own has Textual loaded.)
UI_LOADED = (
    "import sys\n"
    "def ui():\n"
    "    return {m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'click')"
    " or m.startswith(('inspector.tui', 'inspector.cli'))}\n"
)
EACH_IN_TURN = (
    UI_LOADED + "import importlib, json\n"
    "pulled = {}\n"
    "for name in sys.argv[1:]:\n"
    "    before = ui()\n"
    "    importlib.import_module(name)\n"
    "    pulled[name] = sorted(ui() - before)\n"
    "print(json.dumps(pulled))\n"
)
ALONE = UI_LOADED + "import importlib; importlib.import_module(sys.argv[1]); print(','.join(sorted(ui())))\n"


@pytest.fixture(scope="module")
def imported_together() -> dict[str, list[str]]:
    out = subprocess.run([sys.executable, "-c", EACH_IN_TURN, *MODULES], capture_output=True, text=True, check=True)
    pulled: dict[str, list[str]] = json.loads(out.stdout)
    return pulled


def test_every_core_module_was_imported_together(imported_together: dict[str, list[str]]) -> None:
    assert sorted(imported_together) == MODULES


@pytest.mark.parametrize("module", MODULES)
def test_importing_core_module_loads_no_ui(module: str, imported_together: dict[str, list[str]]) -> None:
    if not any(imported_together.values()):
        return
    out = subprocess.run([sys.executable, "-c", ALONE, module], capture_output=True, text=True, check=True)
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

"""House rules of the TUI that a reviewer would otherwise check by hand."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from textual.binding import Binding

from inspector.core.diagnose.options import ScanOptions
from inspector.core.synth.demo import DemoSessions
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmRecovery, HelpScreen, SessionDetailScreen, SessionsScreen
from inspector.tui.widgets import SessionTable
from inspector.tui.widgets.session_table import Row, layout, visible_rows

TUI = Path(__file__).parent.parent.parent / "inspector" / "tui"
SQL = re.compile(r"\bSELECT\s.+\sFROM\b|\bUPDATE\s+\w+\s+SET\b|\bINSERT\s+INTO\b|\bPRAGMA\s+\w+", re.I | re.S)
OWNERS = (InspectorApp, SessionsScreen, SessionTable, SessionDetailScreen, ConfirmRecovery, HelpScreen)


def all_bindings() -> list[Binding]:
    return [b for owner in OWNERS for b in owner.BINDINGS if isinstance(b, Binding)]


@pytest.mark.parametrize("binding", all_bindings(), ids=lambda b: b.id or b.key)
def test_every_binding_has_an_id_and_a_tooltip(binding: Binding) -> None:
    assert binding.id and binding.id == binding.id.lower() and " " not in binding.id
    assert binding.tooltip.endswith(".")


def test_binding_ids_are_unique() -> None:
    ids = [b.id for b in all_bindings()]
    assert len(ids) == len(set(ids))


def test_the_issue_keys_are_bound() -> None:
    keys = {k.strip() for b in all_bindings() for k in b.key.split(",")}
    assert {
        "enter",
        "r",
        "R",
        "u",
        "ctrl+r",
        "f5",
        "a",
        "slash",
        "question_mark",
        "f1",
        "escape",
        "q",
        "y",
        "n",
    } <= keys


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: str(p.relative_to(TUI)))
def test_tui_writes_no_sql(path: Path) -> None:
    """The TUI is a thin layer: no sqlite3/sqlalchemy import, no SQL text of its own."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] in ("sqlite3", "sqlalchemy") for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in ("sqlite3", "sqlalchemy")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert not SQL.search(node.value), node.value


def test_no_inline_styles_in_python() -> None:
    """Layout and colour live in app.tcss (only component-class lookups in Python)."""
    for path in TUI.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "DEFAULT_CSS" not in text and ".styles." not in text, path


def test_layout_fits_and_adds_activity_when_wide(demo: tuple[Path, DemoSessions]) -> None:
    from inspector.core.db.store import open_store
    from inspector.core.diagnose.scan import scan
    from inspector.core.opencode.live import OFFLINE
    from tests.support.releases import NOW

    db, _ = demo
    rows = visible_rows(scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW)))
    for width in (80, 100, 160):
        columns = layout(width, rows)
        assert sum(c.width + 2 for c in columns) <= width - 2
        assert ("activity" in [c.key for c in columns]) == (width >= 110)
    assert all(isinstance(r, Row) for r in rows)


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in ``path``, TYPE_CHECKING blocks included."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize(
    "path",
    sorted([*(TUI / "screens").glob("*.py"), *(TUI / "widgets").glob("*.py")]),
    ids=lambda p: str(p.relative_to(TUI)),
)
def test_screens_and_widgets_never_import_the_app(path: Path) -> None:
    """Arrows point one way: app → screens/widgets → state/messages (harlequin's, posting's rule)."""
    for module, level in _imported_modules(path):
        absolute = module if level == 0 else None
        assert absolute != "inspector.tui.app" and not (level == 2 and module == "app"), f"{path.name} imports the app"
    assert "self.app.request_recovery" not in path.read_text(encoding="utf-8")


def test_no_error_is_classified_by_its_text() -> None:
    """The TUI switches on the core errors' typed ``kind``, never on words in the message."""
    source = (TUI / "app.py").read_text(encoding="utf-8")
    assert "_kind" not in source and '"2.x" in' not in source and '"legacy" in' not in source


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: str(p.relative_to(TUI)))
def test_no_private_textual_api(path: Path) -> None:
    """Textual's public API only: its private modules and the app's or a screen's private
    attributes change without notice between releases (SessionTable's row repaint is the one
    exception: DataTable has no public way to repaint a single changed cell)."""
    for module, level in _imported_modules(path):
        if level == 0 and module.split(".")[0] == "textual":
            assert not any(part.startswith("_") for part in module.split(".")), f"{path.name} imports {module}"
    assert not re.search(r"\b(app|screen)\._[a-z]", path.read_text(encoding="utf-8")), path.name

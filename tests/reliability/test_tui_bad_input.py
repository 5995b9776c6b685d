"""Issue 7.4, TUI side: the same bad inputs never crash the app. A database it cannot use shows
the explanatory screen (or a notification); keys that would write are refused; odd but valid
data is listed and opened; a failed recovery is a notification and nothing is written.

Pilot tests drive the real app (``make_app``) on real files; an exception inside the app fails
the test when ``run_test`` exits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from inspector.tui.app import InspectorApp
from inspector.tui.screens import SessionDetailScreen, UnsupportedScreen
from tests.support import tui
from tests.support.tui import notifications as notes
from tests.support.tui import settle

from .support import dump, full_run, sha256
from .test_bad_input import FILE_CASES, execute, first, small_db

pytestmark = pytest.mark.reliability

SIZE = (100, 30)


def app_for(db: Path, **kwargs: Any) -> InspectorApp:
    """The real clock: these files were not written for the fixtures' frozen ``NOW``."""
    return tui.app_for(db, now=None, **kwargs)


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


# The default run opens one case of each kind of failure; the full run opens them all.
TUI_DEFAULT = {
    "missing path",
    "random bytes",
    "truncated SQLite (half)",
    "SQLite without OpenCode tables",
    "OpenCode 2.x-only database",
    "legacy JSON directory",
    "legacy JSON beside an empty opencode.db",
    "WAL file without its database",
    "corrupt JSON in part.data",
    "invalid UTF-8 next to terminal escapes",
    "corrupt row with a newline and escapes in its id",
}


@pytest.mark.parametrize("name", sorted(FILE_CASES) if full_run() else sorted(TUI_DEFAULT))
async def test_unusable_database_in_the_tui(name: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    build, fragment = FILE_CASES[name]
    path = build(work)
    if name == "directory without a database":
        fragment = "is a directory"  # the CLI resolves a data directory before the TUI starts
    before = digests(work)
    app = app_for(path, journal_dir=tmp_path / "journal")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        explained = isinstance(app.screen, UnsupportedScreen) and fragment.lower() in app.screen.detail.lower()
        notified = any(fragment.lower() in n.lower() for n in notes(app))
        assert explained or notified, (type(app.screen).__name__, notes(app))
        for key in ("R", "u", "ctrl+r"):  # recover all, undo, rescan: none may write or crash
            await pilot.press(key)
            await settle(pilot)
            assert app.is_running, key
        # no notification or screen may carry raw terminal control characters
        for text in notes(app):
            assert not any(ord(c) < 0x20 and c not in "\n\t" for c in text), repr(text)
    assert digests(work) == before
    assert not (tmp_path / "journal").exists()


async def test_odd_but_valid_data_is_listed_and_opened(tmp_path: Path) -> None:
    """No state, unknown statuses, a 10 MB input, NUL bytes, markup and escapes together."""
    db = tmp_path / "opencode.db"
    layout = small_db(db, 10)
    orphans = [u[0] for u in layout.units if len(layout.stuck_parts[u[0]]) == 2]
    parts = [sorted(layout.stuck_parts[s]) for s in orphans]
    execute(db, "UPDATE part SET data = json_remove(data, '$.state') WHERE id = ?", parts[0][1])
    execute(db, "UPDATE part SET data = json_set(data, '$.state.status', 'Running') WHERE id = ?", parts[1][1])
    big = "x" * 10_000_000
    execute(
        db,
        "UPDATE part SET data = json_set(data, '$.state.input', json_object('command', ?)) WHERE id = ?",
        big,
        parts[2][0],
    )
    execute(db, "UPDATE session SET title = ? WHERE id = ?", "[bold red]boom[/] \x1b[2J nul\x00 \x07", orphans[3])
    execute(
        db,
        "UPDATE part SET data = json_set(data, '$.state.input', json_object('command', ?)) WHERE id = ?",
        "echo \x00 [red]x[/red] \x1b]0;pwned\x07",
        parts[3][0],
    )
    app = app_for(db, journal_dir=tmp_path / "journal")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not isinstance(app.screen, UnsupportedScreen)
        assert app.scan_result is not None
        assert {d.id for d in app.scan_result.stuck} == set(layout.stuck_sessions)
        await pilot.press("enter")  # the first row's detail, as a user opens it
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailScreen)
        await pilot.press("escape")
        await settle(pilot)
        for session in orphans[:4]:  # the odd ones: no state, unknown status, 10 MB input, NUL/markup
            app.open_session(session)
            await settle(pilot)
            assert isinstance(app.screen, SessionDetailScreen) and app.is_running
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.is_running
    state = json.loads(first(db, "SELECT data FROM part WHERE id = ?", parts[2][0])[0])["state"]
    assert state["status"] == "error" and state["input"]["command"] == big
    assert first(db, "SELECT title FROM session WHERE id = ?", orphans[3])[0].startswith("[bold red]boom[/]")


async def test_recovery_with_an_unwritable_journal_is_a_notification(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    small_db(db)
    before = dump(db)
    blocker = tmp_path / "journal-is-a-file"
    blocker.write_text("x")
    app = app_for(db, journal_dir=blocker / "runs")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.is_running
        assert any("journal" in n for n in notes(app)), notes(app)
    assert dump(db) == before


async def test_database_replaced_by_garbage_while_open(tmp_path: Path) -> None:
    """The file turns into random bytes under the app: the next scan explains, no crash."""
    db = tmp_path / "opencode.db"
    small_db(db)
    app = app_for(db, journal_dir=tmp_path / "journal")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.scan_result is not None
        db.write_bytes(os.urandom(8192))
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.is_running
        assert any("not a SQLite database" in n for n in notes(app)) or isinstance(app.screen, UnsupportedScreen)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.is_running

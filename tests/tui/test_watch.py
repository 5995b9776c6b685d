"""Watch mode beside a working OpenCode: a second process writes, the list follows (issue 12).

A real OpenCode fixture, and ``bench/busy_writer.py`` as the second process (it writes rows and
OpenCode's sync events exactly as OpenCode 1.18 does). The app must pick up a tool part that
becomes stuck and drop one that completes through the core's incremental refresh, without a
full deep scan. How fast is measured in ``bench/run.py`` (never a wall-clock assertion here).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.strip import Strip

from inspector.core.diagnose.incremental.refresh import Watched
from inspector.tui.app import InspectorApp
from inspector.tui.widgets import SessionTable
from tests.support.narrow import present
from tests.support.tui import SIZE, app_for, settle
from tests.support.tui import eventually as wait_for

ROOT = Path(__file__).resolve().parents[2]
WRITER = ROOT / "bench" / "busy_writer.py"
PART = "prt_ffffffffffffbz000000000001"
PART2 = "prt_ffffffffffffbz000000000002"
CLEAN_SESSION = "ses_df18a9797ffeSTSvheGr94bTfm"


def second_process(db: Path, *args: str) -> list[dict[str, Any]]:
    """Run the OpenCode stand-in as its own process; its commit log (one JSON line each)."""
    done = subprocess.run(
        [sys.executable, str(WRITER), str(db), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def shown_parts(app: InspectorApp) -> set[str]:
    result = app.scan_result
    return {p.id for d in result.stuck for p in d.stuck_parts} if result else set()


def in_wal_mode(db: Path) -> Path:
    with sqlite3.connect(db) as conn:  # like OpenCode's own file
        conn.execute("PRAGMA journal_mode=WAL").fetchall()
    return db


async def test_part_that_becomes_stuck_appears_and_leaves_when_completed(fixture_copy: Callable[..., Path]) -> None:
    db = in_wal_mode(fixture_copy("clean"))
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert shown_parts(app) == set()
        base: Watched | None = app.scans.watched
        assert base is not None

        (commit,) = second_process(db, "stuck", "--part", PART)
        assert commit["action"] == "insert"
        assert await wait_for(pilot, lambda: PART in shown_parts(app))
        (diag,) = present(app.scan_result).stuck
        assert diag.id == CLEAN_SESSION and diag.patterns == ("parts-in-finished-turn",)
        assert present(app.scans.watched).full_at == present(base).full_at  # an incremental refresh, no deep rescan

        second_process(db, "complete", "--part", PART)
        assert await wait_for(pilot, lambda: PART not in shown_parts(app))
        assert present(app.scan_result).stuck == ()
        assert present(app.scans.watched).full_at == present(base).full_at


async def test_a_row_that_changes_is_repainted(
    fixture_copy: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Watch mode updates changed cells only (``SessionTable.update_cell`` repaints just that
    row): the terminal must still receive the row with its new values. The changed session is
    not the highlighted one, so nothing else (the preview) repaints the table."""
    painted: list[str] = []
    original = SessionTable.render_line

    def spy(self: SessionTable, y: int) -> Strip:
        strip = original(self, y)
        painted.append(strip.text)
        return strip

    monkeypatch.setattr(SessionTable, "render_line", spy)
    db = in_wal_mode(fixture_copy("stuck-two"))
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        other = table.rows_shown[1].diag
        assert table.selected_id != other.id and len(other.stuck_parts) == 1
        painted.clear()
        second_process(db, "stuck", "--part", PART, "--message", other.unfinished_messages[0].id)
        assert await wait_for(pilot, lambda: PART in shown_parts(app))
        await pilot.pause()
        await pilot.pause()
        assert table.get_cell(other.id, "parts").plain.strip() == "2"
        assert any("Long running check" in line and " 2 " in line for line in painted), painted


async def test_busy_writer_is_followed_without_full_scans(fixture_copy: Callable[..., Path]) -> None:
    db = in_wal_mode(fixture_copy("clean"))
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        base = app.scans.watched
        commits = second_process(db, "work", "--seconds", "1.5", "--every", "0.1")
        assert len(commits) >= 6
        assert await wait_for(
            pilot,
            lambda: (
                shown_parts(app) == running_tools(db)
                and present(app.scans.watched).marks.tails["part"].rowid == max_rowid(db)
            ),
        )
        assert present(app.scans.watched).full_at == present(base).full_at


async def test_vacuum_falls_back_to_a_full_scan(fixture_copy: Callable[..., Path]) -> None:
    db = in_wal_mode(fixture_copy("clean"))
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        base = app.scans.watched
        second_process(db, "stuck", "--part", PART)
        assert await wait_for(pilot, lambda: PART in shown_parts(app))
        with sqlite3.connect(db) as conn:  # rowids may be renumbered: the watermarks are void
            conn.execute("DELETE FROM part WHERE rowid = (SELECT min(rowid) FROM part)")
        conn = sqlite3.connect(db)
        conn.execute("VACUUM")
        conn.close()
        assert await wait_for(
            pilot, lambda: app.scans.watched is not None and app.scans.watched.full_at != present(base).full_at
        )
        await settle(pilot)
        assert PART in shown_parts(app)


def running_tools(db: Path) -> set[str]:
    """What the file holds, read independently of ocinspect."""
    with sqlite3.connect(db) as conn:
        return {
            row[0]
            for row in conn.execute(
                "SELECT id FROM part WHERE json_extract(data, '$.state.status') IN ('pending', 'running')"
            )
        }


def max_rowid(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT max(rowid) FROM part").fetchone()[0])

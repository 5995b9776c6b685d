"""Recover, answer and undo are one flow (``inspector/tui/write_flow.py``): plan in a thread,
confirm in a dialog, apply in a thread, tell the result. All three from their keys, on one
database, checked in its rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inspector.tui.screens import ConfirmAnswer, ConfirmRecovery, ConfirmUndo, SessionsScreen
from inspector.tui.widgets import SessionTable
from tests.support.databases import rows as query
from tests.support.tui import SIZE, answering, app_for, notifications, press, settle
from tests.support.waiting_db import Waiting, part_state


def session_rows(db: Path, session_id: str) -> list[tuple[Any, ...]]:
    """The rows a recovery of ``session_id`` writes and its undo puts back."""
    return query(db, "SELECT id, time_updated, data FROM part WHERE session_id = ? ORDER BY id", session_id) + query(
        db, "SELECT id, time_updated, data FROM message WHERE session_id = ? ORDER BY id", session_id
    )


async def highlight(pilot: Any, session_id: str) -> None:
    table = pilot.app.screen.query_one(SessionTable)
    rows = [row.diag.id for row in table.rows_shown]
    await press(pilot, *["up"] * len(rows), *["down"] * rows.index(session_id))
    assert table.selected_id == session_id


async def test_recover_answer_then_undo_from_their_keys(waiting: tuple[Path, Waiting], tmp_path: Path) -> None:
    db, ids = waiting
    stale_before = session_rows(tmp_path / db, ids.stale)
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.stale)
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmRecovery)
        await press(pilot, "y")
        assert isinstance(app.screen, SessionsScreen)
        recovered = session_rows(tmp_path / db, ids.stale)
        assert recovered != stale_before
        assert any(n.startswith("Recovered: Run ") for n in notifications(app)), notifications(app)

        await highlight(pilot, ids.permission.session)
        await press(pilot, "w")
        assert isinstance(app.screen, ConfirmAnswer)
        await press(pilot, "y")
        assert server.answers == [(f"per_{ids.permission.session}", "reject")]
        assert part_state(tmp_path / db, ids.permission.part)["status"] == "error"

    # the core refuses an undo while OpenCode runs on the database: undo once it has quit
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo)
        assert session_rows(tmp_path / db, ids.stale) == recovered  # nothing before "yes"
        await press(pilot, "y")
        assert isinstance(app.screen, SessionsScreen)
        assert any(n.startswith("Undone: Run ") for n in notifications(app)), notifications(app)
    assert session_rows(tmp_path / db, ids.stale) == stale_before
    assert part_state(tmp_path / db, ids.permission.part)["status"] == "error"  # undo never un-answers

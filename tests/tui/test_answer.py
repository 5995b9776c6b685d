"""Answering a waiting session in the TUI: the ``w`` key, the answer dialog, and the database
after (a real loopback stand-in for) OpenCode acted on the answer. ocinspect writes no row: the
stand-in does what OpenCode 1.18.33 does on a reject (the tool part → error, the turn finished)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button

from inspector.core.repair.answer import REJECTED_ERROR
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmAnswer, ConfirmRecovery, SessionsScreen
from inspector.tui.widgets import SessionTable
from tests.support.tui import answering, dump, notifications, press, screen_text
from tests.support.waiting_db import Waiting, part_state, turn_completed


def footer_keys(app: InspectorApp) -> str:
    return screen_text(app).splitlines()[-1]


async def highlight(pilot: Pilot[Any], session_id: str) -> None:
    rows = [row.diag.id for row in pilot.app.screen.query_one(SessionTable).rows_shown]
    await press(pilot, *["down"] * rows.index(session_id))
    assert pilot.app.screen.query_one(SessionTable).selected_id == session_id


async def test_w_rejects_through_opencode_and_opencode_closes_the_tool(
    waiting: tuple[Path, Waiting], tmp_path: Path
) -> None:
    db, ids = waiting
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.permission.session)
        assert "w Answer" in footer_keys(app)
        await press(pilot, "w")
        assert isinstance(app.screen, ConfirmAnswer)
        text = screen_text(app)
        assert "asks bash: echo ok (asked 3m ago)" in text
        assert "→ reject: OpenCode closes the tool as an error and ends the turn" in text
        assert server.paths("POST") == []  # nothing is sent before the person confirms
        await press(pilot, "y")
        assert isinstance(app.screen, SessionsScreen)
        assert server.answers == [(f"per_{ids.permission.session}", "reject")]
        assert any(n.startswith("Rejected through OpenCode:") for n in notifications(app))
    state = part_state(tmp_path / db, ids.permission.part)  # written by "OpenCode", not by ocinspect
    assert (state["status"], state["error"]) == ("error", REJECTED_ERROR)
    assert turn_completed(tmp_path / db, ids.permission.message)


async def test_allow_once_is_a_deliberate_second_choice(waiting: tuple[Path, Waiting], tmp_path: Path) -> None:
    db, ids = waiting
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.permission.session)
        await press(pilot, "w")
        assert str(app.screen.query_one("#confirm", Button).label) == "Reject (y)"
        await press(pilot, "o")
        assert str(app.screen.query_one("#confirm", Button).label) == "Allow once (y)"
        assert "→ allow once: OpenCode runs the tool now" in screen_text(app)
        assert server.paths("POST") == []
        await press(pilot, "y")
        assert server.answers == [(f"per_{ids.permission.session}", "once")]
    assert part_state(tmp_path / db, ids.permission.part)["status"] == "running"  # it runs now


async def test_the_subagents_question_is_answered_from_its_parent(
    waiting: tuple[Path, Waiting], tmp_path: Path
) -> None:
    db, ids = waiting
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.chain_parent)
        await press(pilot, "w")
        assert "asks bash: rm -rf build" in screen_text(app)
        await press(pilot, "y")
        assert server.answers == [(f"per_{ids.child.session}", "reject")]
    assert part_state(tmp_path / db, ids.child.part)["status"] == "error"


async def test_no_answer_key_where_nothing_waits_and_cancel_sends_nothing(
    waiting: tuple[Path, Waiting], tmp_path: Path
) -> None:
    db, ids = waiting
    before = dump(tmp_path / db)
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.stale)
        assert "Answer" not in footer_keys(app)
        await press(pilot, "w")
        assert isinstance(app.screen, SessionsScreen)
        rows = [row.diag.id for row in app.screen.query_one(SessionTable).rows_shown]
        await press(pilot, *["up"] * len(rows))
        await highlight(pilot, ids.question.session)
        await press(pilot, "w")
        assert "asks question: Deploy to production?" in screen_text(app)
        assert not app.screen.query_one("#allow-once").display  # a question is only rejected
        await press(pilot, "n")
        assert isinstance(app.screen, SessionsScreen)
        await press(pilot, "r")  # recovery refuses it, and says which key answers it
        assert isinstance(app.screen, ConfirmRecovery)
        assert "Press w on it" in screen_text(app)
        assert server.paths("POST") == []
    assert dump(tmp_path / db) == before


async def test_read_only_answers_nothing(waiting: tuple[Path, Waiting], tmp_path: Path) -> None:
    db, ids = waiting
    async with answering(waiting, tmp_path, read_only=True) as (app, pilot, server):
        await highlight(pilot, ids.permission.session)
        await press(pilot, "w")
        assert isinstance(app.screen, SessionsScreen)
        assert any(n.startswith("Answer refused:") for n in notifications(app))
        assert server.paths("POST") == []


async def test_an_answer_that_fails_when_sent_is_titled_as_an_answer(
    waiting: tuple[Path, Waiting], tmp_path: Path
) -> None:
    """The apply step fails with the flow's own name: "Answer failed", not "Recovery failed"."""
    db, ids = waiting
    async with answering(waiting, tmp_path) as (app, pilot, server):
        await highlight(pilot, ids.permission.session)
        await press(pilot, "w")
        assert isinstance(app.screen, ConfirmAnswer)
        os.rename(tmp_path / db, tmp_path / "moved.db")  # gone between the plan and the "yes"
        await press(pilot, "y")
        said = notifications(app)
        assert any(n.startswith("Answer failed:") for n in said), said
        assert not any(n.startswith("Recovery") for n in said), said
        assert server.answers == []

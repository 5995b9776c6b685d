"""The TUI draws every field from the database escaped: no raw ESC, BEL, C1 or bidi character
reaches the screen (list, preview, detail, recovery dialog, notifications)."""

from __future__ import annotations

from pathlib import Path

from inspector.tui.screens import ConfirmRecovery, ConfirmUndo, SessionDetailScreen, SessionsScreen
from tests.support.hostile_db import build_hostile, unsafe_characters
from tests.support.tui import app_for, notifications, press, screen_text, settle

SIZE = (220, 150)


def check(text: str, *names: str) -> None:
    """No raw control or bidi character on the screen, and each named field is drawn on it."""
    assert unsafe_characters(text) == [], text[:3000]
    missing = [name for name in names if f"{name}<" not in text]
    assert not missing, (missing, text[:3000])


async def test_every_field_is_escaped_on_every_screen(tmp_path: Path) -> None:
    ids = build_hostile(tmp_path / "hostile.db")
    app = app_for(Path("hostile.db"), journal_dir=tmp_path / "journal")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert app.screen.selected_session_id == ids.parent
        # the table and the preview of the parent: title, id, directory, the stuck tools and input
        check(screen_text(app), "TITLE", "CHILD_TITLE", "ses_parent", "DIR", "TOOL", "DESCRIPTION")
        await press(pilot, "down")
        check(screen_text(app), "CHILD_TITLE", "ses_child", "CHILD_COMMAND")
        app.open_session(ids.parent)
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailScreen)
        check(
            screen_text(app),
            "TITLE",
            "ses_parent",
            "DIR",
            "msg_parent",
            "AGENT",
            "MODEL",
            "TOOL",
            "COMMAND",
            "PART_TITLE",
            "OUTPUT",
            "TASK_TITLE",
            "TASK_OUTPUT",
            "DESCRIPTION",
            "TASK_PROMPT",
            "prt_task",
            "prt_tool",
            "CHILD_TITLE",
        )
        await press(pilot, "escape")
        app.open_session(ids.child)
        await settle(pilot)
        check(
            screen_text(app),
            "CHILD_TITLE",
            "ses_child",
            "msg_child",
            "CHILD_PART_TITLE",
            "CHILD_COMMAND",
            "CHILD_OUTPUT",
            "prt_child",
            "TITLE",
        )
        await press(pilot, "escape", "R")
        assert isinstance(app.screen, ConfirmRecovery)
        check(screen_text(app), "TITLE", "CHILD_TITLE", "ses_parent", "ses_child", "prt_tool", "msg_parent")
        await press(pilot, "y")
        assert app.recovered_ids == frozenset({ids.parent, ids.child})
        check(screen_text(app))
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo)  # undo asks first: its dialog shows ids and titles too
        check(screen_text(app))
        await press(pilot, "y")
        check(screen_text(app))
        check("\n".join(notifications(app)))
        assert any(n.startswith("Undone") for n in notifications(app))

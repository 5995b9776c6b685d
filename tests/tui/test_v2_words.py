"""The TUI quotes the error the scanned file's OpenCode writes: on a copy of the real 2.1.2
``v2-stuck-bash`` fixture the help (its pattern table and recovery note) and the detail say
"Tool execution interrupted: <tool>", never 1.x's "Tool execution aborted"."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from inspector.tui.screens import SessionDetailScreen
from inspector.tui.screens.help import HelpScreen
from tests.support.tui import app_for, press, screen_text, settle

V2 = Path(__file__).parent.parent / "fixtures" / "v2"


async def test_help_and_detail_quote_opencode_2s_error(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(V2 / "v2-stuck-bash.db", tmp_path / "opencode.db")
    app = app_for(Path("opencode.db"))
    async with app.run_test(size=(120, 200)) as pilot:
        await settle(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = " ".join(screen_text(app).split())
        assert help_text.count('"Tool execution interrupted: <tool>"') == 2  # crash-orphan, the note
        assert "Tool execution aborted" not in help_text
        await press(pilot, "escape", "enter")
        assert isinstance(app.screen, SessionDetailScreen)
        detail = " ".join(screen_text(app).split())
        assert 'error "Tool execution interrupted: <tool>"' in detail
        assert "Tool execution aborted" not in detail and "MessageAbortedError" not in detail

"""A session that only ignores prompts (OpenCode ≤ 1.18.14 id wrap): the TUI calls it unfixable
and says what to do, instead of offering a recovery that would change nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from inspector.tui.screens import SessionDetailScreen
from tests.support.releases import RELEASES
from tests.support.tui import app_for, notifications, press, screen_text, settle

IGNORED = "ses_000029fecffe29eo5zwQ22TefS"
ADVICE = "ocinspect cannot fix it: upgrade OpenCode to 1.18.15 or newer, then send the prompt again"


async def test_unfixable_badge_detail_and_recover_all(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("id-wrap-loop", "1.18.14")
    app = app_for(db, now=RELEASES["1.18.14"].now)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        listed = screen_text(app)
        assert "(1 stale, 1 unfixable)" in listed and " unfixable " in listed
        app.open_session(IGNORED)
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailScreen)
        detail = " ".join(screen_text(app).split())
        assert "Verdict unfixable: ocinspect cannot fix it: nothing in the database is left to repair." in detail
        assert ADVICE in detail and "Press r" not in detail
        await press(pilot, "escape", "R", "y")  # the stale one is recovered; this one is left
        await press(pilot, "R")
        assert any(ADVICE in n for n in notifications(app)), notifications(app)
        assert "(2 unfixable)" in screen_text(app)

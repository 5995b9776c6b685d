"""The TUI picks the explanation of an unusable database by the core error's typed kind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.tui.screens import UnsupportedScreen
from tests.support.tui import SIZE, app_for, settle
from tests.support.unusable_db import foreign as _foreign
from tests.support.unusable_db import legacy_storage as _legacy
from tests.support.unusable_db import opencode_2x as _v2


# Names full of the words a text search would trip over.
@pytest.mark.parametrize(
    "make, kind",
    [
        (lambda: _legacy(Path("opencode-2.x")), "legacy"),
        (lambda: _v2(Path("legacy.db")), "v2"),
        (lambda: _foreign(Path("opencode-2.x.db")), "foreign"),
        (lambda: _foreign(Path("legacy-notes.db")), "foreign"),
        (lambda: Path("legacy-2.x.db"), "missing"),
    ],
    ids=["legacy-named-2.x", "v2-named-legacy", "foreign-named-2.x", "foreign-named-legacy", "missing"],
)
async def test_unsupported_screen_follows_the_error_kind(make: Callable[[], Path], kind: str) -> None:
    app = app_for(make())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnsupportedScreen)
        assert app.screen.kind == kind


async def test_a_fifo_as_database_is_explained_not_waited_on() -> None:
    """Reading a FIFO's header would block the scan worker forever: it is refused by its type."""
    import asyncio
    import os

    fifo = Path("pipe.db")
    os.mkfifo(fifo)
    app = app_for(fifo)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await asyncio.wait_for(settle(pilot), timeout=15)
            assert isinstance(app.screen, UnsupportedScreen)
            assert app.screen.kind == "foreign" and "not a regular file" in app.screen.detail
    finally:  # if a reader still waits on the pipe (the bug), let it go so the test can end
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

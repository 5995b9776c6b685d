"""Driving the real TUI in pilot and snapshot tests: the app on a real database with the clock
frozen and OpenCode pinned offline, waits that end when the app is idle, and what a user reads."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.synth.builder import DatabaseBuilder
from inspector.tui.app import InspectorApp, make_app
from inspector.tui.config import AppConfig, fixed_clock
from inspector.tui.widgets import SessionTable

from .databases import rows as query
from .releases import NOW
from .standin import StandIn
from .waiting_db import DIR, Waiting

SIZE = (100, 30)

# Sessions, parts and messages of the newest release's fixtures the TUI tests open.
BASH = "ses_df18eeb6dffeePv0iTauMoOxIU"
BASH_PART = "prt_20e711e21001KxiM1bR4EMS3Yv"
BASH_MESSAGE = "msg_20e711917001ax9SiMVHXTS6oC"
TWO = ("ses_df18ebf03ffecLn0zX09ai9ymn", "ses_df18ebe7cffeXWNiRuh4af1Ynr")
TASK_PARENT = "ses_df18eab18ffeF8zm5QUo7WX29g"
TASK_CHILD = "ses_df18ea478ffedUk3exGgsWE7Dw"
WEBAPP = "/home/dev/src/webapp"  # the project directory of every fixture session


def tool_status(path: Path, part_id: str) -> str:
    (data,) = query(path, "SELECT data FROM part WHERE id = ?", part_id)[0]
    return str(json.loads(data)["state"]["status"])


def dump(path: Path) -> list[tuple[Any, ...]]:
    """Every row OpenCode's UI reads, to prove a cancelled or undone recovery changed nothing."""
    return (
        query(path, "SELECT id, time_updated, data FROM part ORDER BY id")
        + query(path, "SELECT id, time_updated, data FROM message ORDER BY id")
        + query(path, "SELECT id, time_updated, time_compacting FROM session ORDER BY id")
    )


def app_for(db: Path, *, now: int | Callable[[], int] | None = NOW, **kwargs: Any) -> InspectorApp:
    """The real app on a real database, with the clock pinned (``now``: ms, or a clock; None: the
    wall clock) and OpenCode pinned offline; ``kwargs`` are ``AppConfig``'s fields."""
    kwargs.setdefault("live", OFFLINE)
    kwargs.setdefault("watch_interval", None)
    if now is not None:
        kwargs["clock"] = now if callable(now) else fixed_clock(now)
    return make_app(AppConfig(db, **kwargs))


def app_of(pilot: Pilot[Any]) -> InspectorApp:
    """The app a pilot drives (a ``snap_compare`` ``run_before`` gets the pilot only)."""
    assert isinstance(pilot.app, InspectorApp)
    return pilot.app


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until no worker runs and every message they posted has been handled."""
    app = app_of(pilot)
    for _ in range(100):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers) and not app.scanning:
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
    raise AssertionError("the app did not settle")


async def eventually(pilot: Pilot[Any], condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Let the app run until ``condition()`` holds, by the clock, not by a count of pauses: a
    machine under load (CI with both cores busy) gets the time it needs, a fast one no delay."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await pilot.pause(0.05)
    return True


async def press(pilot: Pilot[Any], *keys: str) -> None:
    """Press keys one at a time, letting workers finish after each (plan, apply, scan)."""
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def keys_then_settle(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """A ``run_before`` for ``snap_compare``: settle the first scan, press keys, settle again."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await press(pilot, *keys)

    return run_before


def listed(app: InspectorApp) -> list[str]:
    """The ids of the sessions table's rows, in the order shown."""
    return [row.diag.id for row in app.screen.query_one(SessionTable).rows_shown]


def screen_text(app: InspectorApp) -> str:
    """The plain text of the active screen as drawn (what a user reads), for literal checks."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app: InspectorApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


def busy_live(*sessions: str, port: int = 4096) -> LiveStatus:
    """OpenCode pinned running, listing ``sessions`` busy on ``port`` (a stand-in's, or none)."""
    return LiveStatus(
        running=True,
        busy=frozenset(sessions),
        owners=tuple((s, port) for s in sessions),
        detail=f"OpenCode is running on this database (port {port})",
    )


HOSTILE_TITLES = ("[bold red]x[/]", "\x1b[2J\x1b[31mwiped?", "[link=https://evil.example]click[/link] [/]")


def build_hostile_titles(path: Path) -> Path:
    """Titles, a command and tool output that would be markup or terminal escapes if interpreted."""
    with DatabaseBuilder(path, seed=3) as b:
        directory = "/home/dev/[red]proj[/red]"
        project = b.project(directory, created=NOW - 3_600_000)
        for offset, title in enumerate(HOSTILE_TITLES):
            t = NOW - 3_000_000 + offset * 60_000
            sid = b.session(project_id=project, title=title, directory=directory, created=t)
            user = b.user_message(sid, "go", created=t + 100)
            msg = b.assistant_message(sid, user, created=t + 200, directory=directory)
            b.tool_part(
                msg,
                sid,
                tool="bash",
                status="running",
                created=t + 300,
                started=t + 400,
                title="[b]not bold[/b]",
                tool_input={"command": "printf '\x1b[2J' && echo [red]hi[/red]"},
                output="line [i]one[/i]\n\x1b[31mred\x1b[0m\n[/]",
            )
    return path


@asynccontextmanager
async def answering(
    waiting: tuple[Path, Waiting], tmp_path: Path, **options: Any
) -> AsyncIterator[tuple[InspectorApp, Pilot[Any], StandIn]]:
    """The app on the waiting database, settled, with a stand-in OpenCode serving it."""
    db, ids = waiting
    with StandIn(tmp_path / db, directory=DIR) as server:
        ids.serve(server)
        app = app_for(db, live=ids.live(server.port), **options)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            yield app, pilot, server

"""TUI test fixtures: private database copies, the demo database, a frozen clock, pinned liveness.

Every app runs with ``cwd`` = ``tmp_path`` and a *relative* database path, so the path shown in
the status line is the same on every machine (snapshots must not contain ``/tmp/pytest-…``).
The journal goes to ``$XDG_STATE_HOME`` under ``tmp_path`` (see the root ``isolated_env``), the
theme and keymap files to ``$XDG_CONFIG_HOME`` there: snapshots never see the user's settings.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.repair import journal
from inspector.core.synth.demo import DemoSessions, build_demo_sessions
from inspector.tui import toasts
from inspector.tui.app import InspectorApp, make_app
from inspector.tui.config import AppConfig, fixed_clock
from tests.conftest import FIXTURES, NOW, copy_db, rows
from tests.standin import StandIn
from tests.waiting_db import DIR, Waiting, build_waiting

SIZE = (100, 30)

BASH = "ses_df18eeb6dffeePv0iTauMoOxIU"
BASH_PART = "prt_20e711e21001KxiM1bR4EMS3Yv"
BASH_MESSAGE = "msg_20e711917001ax9SiMVHXTS6oC"
TWO = ("ses_df18ebf03ffecLn0zX09ai9ymn", "ses_df18ebe7cffeXWNiRuh4af1Ynr")
TASK_PARENT = "ses_df18eab18ffeF8zm5QUo7WX29g"
TASK_CHILD = "ses_df18ea478ffedUk3exGgsWE7Dw"


copy_database = copy_db  # one backup-API copier for the whole suite (tests/conftest.py)
query = rows


def tool_status(path: Path, part_id: str) -> str:
    (data,) = query(path, "SELECT data FROM part WHERE id = ?", part_id)[0]
    return json.loads(data)["state"]["status"]


def dump(path: Path) -> list[tuple[Any, ...]]:
    """Every row OpenCode's UI reads, to prove a cancelled or undone recovery changed nothing."""
    return (
        query(path, "SELECT id, time_updated, data FROM part ORDER BY id")
        + query(path, "SELECT id, time_updated, data FROM message ORDER BY id")
        + query(path, "SELECT id, time_updated, time_compacting FROM session ORDER BY id")
    )


@pytest.fixture(autouse=True)
def toasts_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts expire by the wall clock (5 s, results 10 s): on a loaded machine a snapshot taken
    after several key presses lost the "Recovered" toast that a fast run still shows. In tests
    they stay up, so what is on screen depends on the keys pressed, not on the machine's speed."""
    monkeypatch.setattr(toasts, "RESULT_TIMEOUT", 3600.0)
    monkeypatch.setattr(InspectorApp, "NOTIFICATION_TIMEOUT", 3600.0)


@pytest.fixture(autouse=True)
def tui_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the user's theme or keymap
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[[str], Path]:
    """``fixture_copy("stuck-bash")`` -> relative path ``stuck-bash.db`` of a private copy
    (``fixture_copy("stuck-task", "1.2.27")``: the file written by that OpenCode release)."""

    def make(name: str, release: str = "1.18.33") -> Path:
        copy_database(FIXTURES / f"opencode-{release}-{name}.db", tmp_path / f"{name}.db")
        return Path(f"{name}.db")

    return make


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, DemoSessions]:
    """The ``--demo`` database, built for the frozen ``NOW``; relative path ``demo/opencode.db``."""
    (tmp_path / "demo").mkdir()
    path, ids = build_demo_sessions(tmp_path / "demo", now=NOW)
    return Path("demo") / path.name, ids


@pytest.fixture
def fixed_run_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin the random part of run ids so notifications in snapshots are stable."""
    monkeypatch.setattr(journal.secrets, "token_hex", lambda n=3: "c0ffee")
    return "20261124T170640000Z-c0ffee"


def app_for(db: Path, *, now: int | Callable[[], int] = NOW, **kwargs: Any) -> InspectorApp:
    """The real app on a real database, with the clock pinned (``now``: ms, or a clock) and
    OpenCode pinned offline; ``kwargs`` are ``AppConfig``'s fields."""
    kwargs.setdefault("live", OFFLINE)
    kwargs.setdefault("watch_interval", None)
    clock = now if callable(now) else fixed_clock(now)
    return make_app(AppConfig(db, clock=clock, **kwargs))


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until no worker runs and every message they posted has been handled."""
    app = pilot.app
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


HOSTILE_TITLES = ("[bold red]x[/]", "\x1b[2J\x1b[31mwiped?", "[link=https://evil.example]click[/link] [/]")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """Titles, a command and tool output that would be markup or terminal escapes if interpreted."""
    from inspector.core.synth.builder import DatabaseBuilder

    with DatabaseBuilder(tmp_path / "hostile.db", seed=3) as b:
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
    return Path("hostile.db")


def screen_text(app: InspectorApp) -> str:
    """The plain text of the active screen as drawn (what a user reads), for literal checks."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app: InspectorApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


WEBAPP = "/home/dev/src/webapp"  # the project directory of every fixture session


def busy_live(*sessions: str, port: int = 4096) -> LiveStatus:
    """OpenCode pinned running, listing ``sessions`` busy on ``port`` (a stand-in's, or none)."""
    return LiveStatus(
        running=True,
        busy=frozenset(sessions),
        owners=tuple((s, port) for s in sessions),
        detail=f"OpenCode is running on this database (port {port})",
    )


@pytest.fixture
def waiting(tmp_path: Path) -> tuple[Path, Waiting]:
    """Sessions waiting on a permission or a question, a stale one and a working one (waiting_db.py)."""
    ids = build_waiting(tmp_path / "waiting.db", NOW)
    return Path("waiting.db"), ids


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

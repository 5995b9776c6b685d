"""Regenerate the README screenshots from the real app on the demo database.

    python3 screenshots/make.py            # writes screenshots/*.svg
    python3 screenshots/make.py help       # only the named ones

Each shot drives the app headless with ``run_test`` (real keys, real workers, the real core on
a fresh database) and saves ``app.export_screenshot()``. The clock is frozen and OpenCode is
pinned (offline for the demo; for the live states, the status a running OpenCode would answer
with, as the TUI tests pin it) so the files only change when the UI does. The ``cli-*`` shots
are the CLI's output (click's runner) drawn by Rich as a terminal would show it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from click.testing import CliRunner  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.text import Text  # noqa: E402

from inspector.cli import cli  # noqa: E402
from inspector.core.model import LiveStatus, PendingRequest, ServerStatus  # noqa: E402
from inspector.core.opencode.live import OFFLINE  # noqa: E402
from inspector.core.repair import journal  # noqa: E402
from inspector.core.synth.demo import build_demo_sessions  # noqa: E402
from inspector.tui.app import make_app  # noqa: E402
from inspector.tui.config import AppConfig, fixed_clock  # noqa: E402
from inspector.tui.widgets import SessionTable  # noqa: E402

OUT = Path(__file__).resolve().parent
NOW = 1795540000000  # 2026-11-24 17:06:40 UTC
SIZE = (120, 36)
PLATFORM = {
    "os": "Linux",
    "os_release": "6.1.0",
    "machine": "x86_64",
    "python": "3.11.7",
    "sqlite": "3.40.1",
    "ocinspect": "0.1.0",
}  # the report's platform table, the same on every machine
V2_CRASH = 1796650273349  # 2026-12-07 13:31:13 UTC: the fixture's subagent tool started
V2_PARENT = "ses_daf4c7c10ffew1UjuuDtYnuYWw"
HUNG_AFTER_MS = 5 * 60_000  # the live states' --hung-after (the stalled model has been silent 8 min)


@dataclass(frozen=True)
class Built:
    """A database for one shot: its path, the liveness pinned for it, the app's options, and
    which session plays which role (``open`` steps name a role)."""

    db: Path
    live: LiveStatus
    roles: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)


def demo(data: Path) -> Built:
    db, ids = build_demo_sessions(data, now=NOW)
    return Built(
        db, OFFLINE, {"crash-orphan": ids.crash_orphan, "subagent-parent": ids.subagent_parent}, {"demo": True}
    )


def live_signals(data: Path) -> Built:
    """tests/hung_db.py's sessions a live OpenCode holds: one waits for a permission, one for a
    question (in a subagent), a model stream stalled (OpenCode retries: "SSE read timed out")."""
    from tests.support.hung_db import DIR, build_signals

    ids = build_signals(data / "opencode.db", NOW)
    timed_out = ServerStatus(
        type="retry",
        attempt=3,
        message="SSE read timed out",
        next=NOW + 2000,
        raw=json.dumps(
            {"type": "retry", "attempt": 3, "message": "SSE read timed out", "next": NOW + 2000}, separators=(",", ":")
        ),
    )
    asked = PendingRequest(
        id="per_1",
        session_id=ids.permission,
        kind="permission",
        port=4096,
        directory=DIR,
        permission="bash",
        patterns=("echo ok",),
        command="echo ok",
    )
    question = PendingRequest(
        id="que_1", session_id=ids.asking_child, kind="question", port=4096, question="Deploy to production now?"
    )
    live = ids.live(
        statuses=((ids.stalled, timed_out),),
        waiting=frozenset({ids.permission, ids.asking_child}),
        requests=(asked, question),
    )
    return Built(
        data / "opencode.db",
        live,
        {"permission": ids.permission, "stalled": ids.stalled},
        {"hung_after_ms": HUNG_AFTER_MS},
    )


def opencode_2(data: Path) -> Built:
    """A copy of the real OpenCode 2.1.2 fixture ``v2-stuck-task`` (a subagent crash, its turn
    claimed), with the clock eight hours after the crash."""
    shutil.copyfile(ROOT / "tests" / "fixtures" / "v2" / "v2-stuck-task.db", data / "opencode.db")
    return Built(
        data / "opencode.db", OFFLINE, {"v2-parent": V2_PARENT}, {"clock": fixed_clock(V2_CRASH + 8 * 3_600_000)}
    )


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers) and not pilot.app.scanning:
            return


def _environment(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }


async def shoot(
    name: str, steps: Sequence[str], *, size: tuple[int, int] = SIZE, source: Callable[[Path], Built] = demo
) -> Path:
    """Build a fresh database, press ``steps`` (``open:ROLE`` opens that session, ``select:ROLE``
    highlights it), save ``name``.svg."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        data = home / ".local" / "share" / "opencode"
        data.mkdir(parents=True)
        with mock.patch.dict(os.environ, _environment(home)):
            built = source(data)
            options = {"clock": fixed_clock(NOW), **built.options}
            config = AppConfig(built.db, live=built.live, watch_interval=None, **options)
            app = make_app(config)
            async with app.run_test(size=size, notifications=True) as pilot:
                await settle(pilot)
                for step in steps:
                    verb, _, role = step.partition(":")
                    if verb == "open" and role:
                        app.open_session(built.roles[role])
                    elif verb == "select" and role:
                        table = app.screen.query_one(SessionTable)
                        table.move_cursor(
                            row=[r.diag.id for r in table.rows_shown].index(built.roles[role]), animate=False
                        )
                    else:
                        await pilot.press(step)
                    await settle(pilot)
                await pilot.pause(0.2)
                svg = app.export_screenshot(title=f"ocinspect — {name}")
    path = OUT / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def shoot_cli(name: str, args: Sequence[str], role: str, *, width: int = 110) -> Path:
    """``ocinspect ARGS ROLE's-session`` on a fresh demo database (found where OpenCode keeps it,
    so no path of this machine is shown), its output drawn as a terminal shows it."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        data = home / ".local" / "share" / "opencode"
        data.mkdir(parents=True)
        with mock.patch.dict(os.environ, _environment(home)):
            os.environ.pop("OPENCODE_DB", None)
            built = demo(data)
            argv = [*args[:1], built.roles[role], *args[1:]]
            # the demo's project directories are not on this machine: say what would run there
            # and pin what this machine would change: OpenCode not running, the clock, the platform
            with (
                mock.patch("inspector.core.opencode.launch.directory_problem", return_value=None),
                mock.patch("inspector.core.opencode.live.detect", return_value=OFFLINE),
                mock.patch("inspector.core.diagnose.scan.detect", return_value=OFFLINE),
                mock.patch("inspector.core.report.build.now_ms", return_value=NOW),
                mock.patch("inspector.core.report.build.platform_info", return_value=PLATFORM),
            ):
                done = CliRunner().invoke(cli, argv, catch_exceptions=False)
    with open(os.devnull, "w") as sink:
        console = Console(record=True, width=width, file=sink, color_system="truecolor")
        console.print(Text("$ ocinspect " + " ".join([*args[:1], "ses_…", *args[1:]]), style="bold"))
        console.print(Text(done.output.rstrip("\n")))
        svg = console.export_svg(title=f"ocinspect — {name}")
    path = OUT / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


# name, keys pressed (``open:ROLE``/``select:ROLE`` act on a source's session), options of ``shoot``
SHOTS: list[tuple[str, list[str], dict[str, object]]] = [
    ("sessions", [], {}),
    ("sessions-narrow", [], {"size": (80, 24)}),
    ("all-sessions", ["a"], {}),
    ("detail-crash-orphan", ["open:crash-orphan", "end"], {"size": (120, 44)}),
    ("detail-subagent-chain", ["open:subagent-parent"], {"size": (120, 44)}),
    ("confirm-recover-all", ["R"], {}),
    ("after-recovery", ["a", "R", "y"], {}),
    ("confirm-undo", ["R", "y", "u"], {}),
    ("help", ["question_mark"], {"size": (120, 44)}),
    ("timeline-subagent-chain", ["open:subagent-parent", "t"], {}),
    ("timeline-part", ["open:crash-orphan", "t", "enter"], {}),
    ("open-in-opencode", ["select:crash-orphan", "o"], {}),
    ("live-waiting-and-hung", [], {"source": live_signals}),
    ("detail-waiting", ["open:permission"], {"source": live_signals}),
    ("confirm-answer", ["open:permission", "w"], {"source": live_signals}),
    ("detail-model-stalled", ["open:stalled"], {"source": live_signals}),
    ("opencode-2-detail", ["open:v2-parent"], {"size": (120, 44), "source": opencode_2}),
]
# name, the command's words (the role's session id goes after the first), the role (in ``demo``)
CLI_SHOTS: list[tuple[str, list[str], str]] = [
    ("cli-open", ["open", "--print"], "crash-orphan"),
    ("cli-report", ["report"], "crash-orphan"),
]


async def main() -> None:
    wanted = set(sys.argv[1:])  # names to regenerate; none: all of them
    shots = [shot for shot in SHOTS if not wanted or shot[0] in wanted]
    with mock.patch.object(journal.secrets, "token_hex", lambda n=3: "c0ffee"):  # stable run ids
        for name, steps, options in shots:
            path = await shoot(name, steps, **options)  # type: ignore[arg-type]
            print(f"wrote {path.relative_to(ROOT)}")
    for name, args, role in CLI_SHOTS:
        if not wanted or name in wanted:
            print(f"wrote {shoot_cli(name, args, role).relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())

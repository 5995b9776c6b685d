"""Regenerate the README screenshots from the real app on the demo database.

    python3 screenshots/make.py            # writes screenshots/*.svg
    python3 screenshots/make.py help       # only the named ones

Each shot drives the app headless with ``run_test`` (real keys, real workers, the real core on
a fresh demo database) and saves ``app.export_screenshot()``. The clock is frozen and OpenCode is
pinned offline so the files only change when the UI does.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inspector.core.opencode.live import OFFLINE  # noqa: E402
from inspector.core.repair import journal  # noqa: E402
from inspector.core.synth.demo import DemoSessions, build_demo_sessions  # noqa: E402
from inspector.tui.app import make_app  # noqa: E402

OUT = Path(__file__).resolve().parent
NOW = 1795540000000  # 2026-11-24 17:06:40 UTC
SIZE = (120, 36)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in pilot.app.workers) and not pilot.app.scanning:
            return


async def shoot(name: str, steps: Sequence[str], *, size: tuple[int, int] = SIZE, open_id: str | None = None) -> Path:
    """Build a fresh demo database, press ``steps`` (``open`` opens ``open_id``), save ``name``.svg."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        data = home / ".local" / "share" / "opencode"
        data.mkdir(parents=True)
        with mock.patch.dict(os.environ, {"HOME": str(home), "XDG_STATE_HOME": str(home / "state")}):
            db, _ = build_demo_sessions(data, now=NOW)
            app = make_app(db, demo=True, now=NOW, live=OFFLINE, watch_interval=None)
            async with app.run_test(size=size, notifications=True) as pilot:
                await settle(pilot)
                for step in steps:
                    if step == "open" and open_id:
                        app.open_session(open_id)
                    else:
                        await pilot.press(step)
                    await settle(pilot)
                await pilot.pause(0.2)
                svg = app.export_screenshot(title=f"ocinspect — {name}")
    path = OUT / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


def demo_ids() -> DemoSessions:
    with tempfile.TemporaryDirectory() as tmp:
        return build_demo_sessions(tmp, now=NOW)[1]



async def main() -> None:
    ids = demo_ids()
    shots: list[tuple[str, list[str], dict[str, object]]] = [
        ("sessions", [], {}),
        ("sessions-narrow", [], {"size": (80, 24)}),
        ("all-sessions", ["a"], {}),
        ("detail-crash-orphan", ["open", "end"], {"open_id": ids.crash_orphan, "size": (120, 44)}),
        ("detail-subagent-chain", ["open"], {"open_id": ids.subagent_parent, "size": (120, 44)}),
        ("confirm-recover-all", ["R"], {}),
        ("after-recovery", ["a", "R", "y"], {}),
        ("confirm-undo", ["R", "y", "u"], {}),
        ("help", ["question_mark"], {"size": (120, 44)}),
        ("timeline-subagent-chain", ["open", "t"], {"open_id": ids.subagent_parent}),
        ("timeline-part", ["open", "t", "enter"], {"open_id": ids.crash_orphan}),
    ]
    wanted = set(sys.argv[1:])  # names to regenerate; none: all of them
    shots = [shot for shot in shots if not wanted or shot[0] in wanted]
    with mock.patch.object(journal.secrets, "token_hex", lambda n=3: "c0ffee"):  # stable run ids
        for name, steps, options in shots:
            path = await shoot(name, steps, **options)  # type: ignore[arg-type]
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())

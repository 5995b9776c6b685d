"""Hung sessions in the TUI: the badge, the abort confirm modal, and r/R stopping them through
(a real loopback stand-in for) OpenCode. The real binary is proven in tests/e2e/test_hung.py."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from inspector.core.diagnose.options import ScanOptions
from inspector.core.model import LiveStatus
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmRecovery, SessionsScreen
from inspector.tui.screens.confirm_recovery import ABORT_HEADING
from inspector.tui.widgets import SessionTable
from tests.support.databases import execute
from tests.support.databases import rows as query
from tests.support.hung_db import Signals
from tests.support.narrow import present
from tests.support.standin import StandIn
from tests.support.tui import (
    BASH_PART,
    SIZE,
    TASK_CHILD,
    TASK_PARENT,
    TWO,
    WEBAPP,
    app_for,
    busy_live,
    dump,
    keys_then_settle,
    notifications,
    press,
    screen_text,
    settle,
    tool_status,
)


def badges(app: InspectorApp) -> dict[str, str]:
    return {row.diag.id: row.diag.verdict for row in app.screen.query_one(SessionTable).rows_shown}


def open_tools(db: Path, *sessions: str) -> list[str]:
    found = []
    for sid in sessions:
        for (data,) in query(db, "SELECT data FROM part WHERE session_id = ?", sid):
            if (json.loads(data).get("state") or {}).get("status") in ("pending", "running"):
                found.append(sid)
    return found


async def test_hung_badge_sorted_with_the_stuck(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db, live=busy_live(TWO[0]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert badges(app) == {TWO[0]: "hung", TWO[1]: "stale"}
        await press(pilot, "a")  # all sessions: the hung one stays among the stuck, before "ok"
        shown = [row.diag for row in app.screen.query_one(SessionTable).rows_shown]
        stuck = [d.is_stuck for d in shown]
        assert stuck == sorted(stuck, reverse=True) and shown[0].is_stuck
        assert "1 hung" in screen_text(app)


async def test_threshold_from_make_app(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db, live=busy_live(TWO[0]), hung_after_ms=24 * 3_600_000)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert badges(app)[TWO[0]] == "live"


async def test_r_aborts_the_chain_through_opencode(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_copy("stuck-task")
    with StandIn(tmp_path / db, directory=WEBAPP) as server:
        server.busy = {TASK_PARENT, TASK_CHILD}
        server.children = {TASK_PARENT: [TASK_CHILD]}
        app = app_for(db, live=busy_live(TASK_PARENT, TASK_CHILD, port=server.port))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert badges(app) == {TASK_PARENT: "hung", TASK_CHILD: "hung"}
            await press(pilot, "down", "r")  # on the child: the whole chain, rooted at the parent
            assert isinstance(app.screen, ConfirmRecovery)
            text = screen_text(app)
            assert ABORT_HEADING in text and "Abort 1 hung session through OpenCode?" in text
            assert server.paths("POST") == []  # nothing is sent before the user confirms
            await press(pilot, "y")
            assert isinstance(app.screen, SessionsScreen)
            assert server.paths("POST") == [f"/session/{TASK_PARENT}/abort"]
            assert any(n.startswith("Stopped through OpenCode:") for n in notifications(app))
            assert badges(app) == {}
    assert open_tools(tmp_path / db, TASK_PARENT, TASK_CHILD) == []


async def test_shift_r_aborts_hung_and_repairs_stale(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_copy("stuck-two")
    with StandIn(tmp_path / db, directory=WEBAPP) as server:
        server.busy = {TWO[0]}
        app = app_for(db, live=busy_live(TWO[0], port=server.port))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "R")
            modal = app.screen
            assert isinstance(modal, ConfirmRecovery)
            assert modal.plan.session_ids == (TWO[1],) and modal.plan.refused == ()
            assert [t.root for t in modal.aborts] == [TWO[0]]
            await press(pilot, "y")
            assert server.paths("POST") == [f"/session/{TWO[0]}/abort"]
            assert badges(app) == {}
    # the stale one was repaired by ocinspect (metadata.interrupted), the hung one by "OpenCode"
    states = {
        sid: json.loads(data)["state"]
        for sid, data in query(tmp_path / db, 'SELECT session_id, data FROM part WHERE data LIKE \'%"type":"tool"%\'')
    }
    assert states[TWO[1]]["metadata"].get("interrupted") is True
    assert states[TWO[0]]["status"] == "completed" and "interrupted" not in states[TWO[0]]["metadata"]


async def test_abort_that_does_not_settle_changes_nothing(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_copy("stuck-bash")
    before = dump(tmp_path / db)
    with StandIn(tmp_path / db, directory=WEBAPP) as server:
        server.busy = {"ses_df18eeb6dffeePv0iTauMoOxIU"}
        server.settle = False
        app = app_for(db, live=busy_live(*server.busy, port=server.port), abort_settle_s=0.3)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "r", "y")
            assert any(n.startswith("Not stopped:") and "rows left alone" in n for n in notifications(app))
            assert badges(app) == {"ses_df18eeb6dffeePv0iTauMoOxIU": "hung"}
    assert dump(tmp_path / db) == before
    assert tool_status(tmp_path / db, BASH_PART) == "running"


async def test_cancel_and_read_only_send_nothing(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_copy("stuck-bash")
    with StandIn(tmp_path / db, directory=WEBAPP) as server:
        server.busy = {"ses_df18eeb6dffeePv0iTauMoOxIU"}
        live = busy_live(*server.busy, port=server.port)
        app = app_for(db, live=live)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "r", "n")
            assert any("cancelled" in n for n in notifications(app))
        app = app_for(db, live=live, read_only=True)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "r")
            assert not isinstance(app.screen, ConfirmRecovery)
        assert server.paths("POST") == []
    assert tool_status(tmp_path / db, BASH_PART) == "running"


class TestHungSnapshots:
    def test_hung_badge(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db, live=busy_live(TWO[0])), terminal_size=SIZE, run_before=keys_then_settle())

    def test_hung_detail(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-task")
        live = busy_live(TASK_PARENT, TASK_CHILD)
        assert snap_compare(app_for(db, live=live), terminal_size=(100, 40), run_before=keys_then_settle("enter"))

    def test_abort_confirm_modal(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-task")
        live = busy_live(TASK_PARENT, TASK_CHILD)
        assert snap_compare(app_for(db, live=live), terminal_size=SIZE, run_before=keys_then_settle("r"))

    def test_abort_and_recover_all_modal(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db, live=busy_live(TWO[0])), terminal_size=SIZE, run_before=keys_then_settle("R"))


async def test_badge_turns_hung_by_itself_when_the_threshold_passes(fixture_copy: Callable[..., Path]) -> None:
    """A hung session writes nothing, so no file change triggers a rescan: a timer does."""
    from inspector.core.db.store import open_store
    from inspector.core.diagnose.scan import scan
    from tests.support.releases import NOW
    from tests.support.tui import BASH

    db = fixture_copy("stuck-bash")
    live = busy_live(BASH)
    idle = present(scan(open_store(db), ScanOptions(live=live, now=NOW, hung_after_ms=10**9)).get(BASH)).idle_ms
    clock = {"now": NOW}
    app = app_for(db, live=live, now=lambda: clock["now"], hung_after_ms=present(idle) + 300, watch_interval=60.0)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert badges(app) == {BASH: "live"}
        clock["now"] = NOW + 1000
        await pilot.pause(1.2)  # the timer fires ~0.8 s after the scan; nothing else rescans
        await settle(pilot)
        assert badges(app) == {BASH: "hung"}


def signals_db(tmp_path: Path) -> tuple[Path, Signals, LiveStatus]:
    """``tests/support/hung_db.build_signals`` with the liveness that makes a waiting and a stalled session."""
    from inspector.core.model import PendingRequest
    from tests.support.hung_db import DIR, build_signals
    from tests.support.releases import NOW
    from tests.test_live_signals import TIMED_OUT

    ids = build_signals(tmp_path / "signals.db", NOW)
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
    live = ids.live(
        statuses=((ids.stalled, TIMED_OUT),),
        waiting=frozenset({ids.permission, ids.asking_child}),
        requests=(
            asked,
            PendingRequest(
                id="que_1",
                session_id=ids.asking_child,
                kind="question",
                port=4096,
                question="Deploy <b>[red]now[/red]</b>?",
            ),
        ),
    )
    return Path("signals.db"), ids, live


def _open(session_id: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        table = pilot.app.screen.query_one(SessionTable)
        index = [row.diag.id for row in table.rows_shown].index(session_id)
        table.move_cursor(row=index, animate=False)
        await settle(pilot)
        await press(pilot, "enter")
        await settle(pilot)

    return run


class TestLiveSignalSnapshots:
    def test_waiting_and_stalled_badges(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        db, _, live = signals_db(tmp_path)
        assert snap_compare(
            app_for(db, live=live, hung_after_ms=5 * 60_000), terminal_size=(100, 30), run_before=keys_then_settle()
        )

    def test_waiting_detail(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        db, ids, live = signals_db(tmp_path)
        assert snap_compare(
            app_for(db, live=live, hung_after_ms=5 * 60_000), terminal_size=(100, 34), run_before=_open(ids.permission)
        )

    def test_model_stalled_detail(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        db, ids, live = signals_db(tmp_path)
        assert snap_compare(
            app_for(db, live=live, hung_after_ms=5 * 60_000), terminal_size=(100, 34), run_before=_open(ids.stalled)
        )


async def test_waiting_session_text_in_the_tui(tmp_path: Path) -> None:
    db, ids, live = signals_db(tmp_path)
    app = app_for(db, live=live, hung_after_ms=5 * 60_000)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert badges(app)[ids.permission] == "waiting" and badges(app)[ids.stalled] == "hung"
        assert badges(app)[ids.asking_parent] == "waiting"
        await _open(ids.asking_child)(pilot)
        text = screen_text(app)
        assert 'question: "Deploy <b>[red]now[/red]</b>?"' in text  # literal, never markup
        assert "Waiting for your answer" in text


async def test_an_opencode_2_resume_loop_is_hung_and_named_in_the_detail(tmp_path: Path) -> None:
    """A turn OpenCode 2's service re-ran three times, listed running: ``hung`` (resume loop)."""
    v2_db = Path(__file__).parent.parent / "fixtures" / "v2" / "v2-stuck-bash.db"
    db = tmp_path / "opencode.db"
    db.write_bytes(v2_db.read_bytes())
    sid = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"
    execute(db, "UPDATE session_v2 SET resume_attempts = 3 WHERE id = ?", sid)
    app = app_for(db, live=busy_live(sid))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert badges(app) == {sid: "hung"}
        await press(pilot, "enter")
        text = " ".join(screen_text(app).split())  # the reason wraps
        assert "Hung in a live OpenCode (resume loop)" in text
        assert "re-ran this turn 3 times after it died" in text

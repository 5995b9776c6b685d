"""Drive the real app with the real keys, then look at the database rows it changed (or did not).

No mocks under the TUI: every test runs the core on a private copy of a real OpenCode database.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from inspector.core.db.store import open_store
from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.repair import recover
from inspector.core.synth.demo import DemoSessions
from inspector.tui.screens import (
    ConfirmRecovery,
    ConfirmUndo,
    HelpScreen,
    SessionDetailScreen,
    SessionsScreen,
    UnsupportedScreen,
)
from inspector.tui.widgets import SessionTable
from tests.support.databases import log_problems
from tests.support.databases import rows as query
from tests.support.narrow import of_type
from tests.support.releases import NOW
from tests.support.standin import StandIn
from tests.support.tui import (
    BASH,
    BASH_MESSAGE,
    BASH_PART,
    HOSTILE_TITLES,
    SIZE,
    TASK_CHILD,
    TASK_PARENT,
    TWO,
    WEBAPP,
    app_for,
    busy_live,
    dump,
    eventually,
    listed,
    notifications,
    press,
    screen_text,
    settle,
    tool_status,
)


def message_completed(db: Path, message_id: str) -> int | None:
    (data,) = query(db, "SELECT data FROM message WHERE id = ?", message_id)[0]
    completed: int | None = json.loads(data).get("time", {}).get("completed")
    return completed


async def test_recover_one_with_r_then_y(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert listed(app) == [BASH]
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmRecovery)
        await press(pilot, "y")
        assert isinstance(app.screen, SessionsScreen)
        assert listed(app) == []
        assert "No stuck sessions" in screen_text(app)
        assert any("1 session recovered" in n and "Run 2026" in n for n in notifications(app))
    assert tool_status(db, BASH_PART) == "error"
    assert message_completed(db, BASH_MESSAGE) == NOW


async def test_recover_all_with_shift_r(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert sorted(listed(app)) == sorted(TWO)
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmRecovery)
        assert sorted(app.screen.plan.session_ids) == sorted(TWO)
        await press(pilot, "enter")
        assert listed(app) == []
    statuses = [
        json.loads(d)["state"]["status"] for (d,) in query(db, "SELECT data FROM part WHERE data LIKE '%\"tool\"%'")
    ]
    assert statuses == ["error", "error"]


async def test_recover_child_repairs_the_whole_subagent_chain(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-task")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert listed(app) == [TASK_PARENT, TASK_CHILD]
        await press(pilot, "down", "r")
        assert set(of_type(app.screen, ConfirmRecovery).plan.session_ids) == {TASK_PARENT, TASK_CHILD}
        await press(pilot, "y")
        assert listed(app) == []
    assert [
        json.loads(d)["state"]["status"]
        for (d,) in query(db, "SELECT data FROM part WHERE json_extract(data, '$.type') = 'tool'")
    ] == ["error", "error"]
    assert log_problems(db) == [] and query(db, "SELECT max(seq) FROM event GROUP BY aggregate_id ORDER BY 1") == [
        (13,),
        (14,),
    ]


async def test_cancel_changes_nothing(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    before = dump(db)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        await press(pilot, "n")
        assert isinstance(app.screen, SessionsScreen)
        await press(pilot, "r")
        await press(pilot, "escape")
        assert listed(app) == [BASH]
    assert dump(db) == before
    assert not (Path("state") / "ocinspect" / "runs").exists() or not any(
        (Path("state") / "ocinspect" / "runs").iterdir()
    )


async def test_undo_restores_every_row(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    before = dump(db)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "R", "y")
        assert dump(db) != before
        assert listed(app) == []
        await press(pilot, "u")
        modal = app.screen
        assert isinstance(modal, ConfirmUndo)  # asked first, like a recovery
        assert dump(db) != before  # nothing restored before the user says yes
        text = screen_text(app)
        assert "Undo run " in text and "4 rows of 2 sessions go back" in text
        assert all(sid in text for sid in TWO)
        await press(pilot, "y")
        assert sorted(listed(app)) == sorted(TWO)
        assert any("undone: 4 rows restored, 4 events logged" in n for n in notifications(app))
    assert dump(db) == before
    assert log_problems(db) == []


async def test_undo_cancelled_in_its_dialog_changes_nothing(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r", "y")
        repaired = dump(db)
        await press(pilot, "u", "n")
        assert isinstance(app.screen, SessionsScreen)
        assert any("Undo cancelled" in n for n in notifications(app))
    assert dump(db) == repaired


async def test_undo_is_refused_while_opencode_runs_on_the_database(
    fixture_copy: Callable[..., Path], tmp_path: Path
) -> None:
    """Exactly like ``ocinspect undo`` without --force: the core refuses, the TUI says why."""
    db = fixture_copy("stuck-bash")
    journal = tmp_path / "journal"
    first = app_for(db, journal_dir=journal)
    async with first.run_test(size=SIZE) as pilot:  # a recovery while OpenCode is not running
        await settle(pilot)
        await press(pilot, "r", "y")
    repaired = dump(db)
    with StandIn(db, directory=WEBAPP) as server:  # now an OpenCode serves the database
        app = app_for(db, journal_dir=journal, live=busy_live(port=server.port))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await press(pilot, "u")
            assert not isinstance(app.screen, ConfirmUndo)
            (note,) = [n for n in notifications(app) if n.startswith("Undo refused")]
            assert "OpenCode is running on this database" in note and "Quit OpenCode first" in note
            assert "--force" not in note.split("(or:")[0]  # the TUI's words, the CLI flag only as an aside
    assert dump(db) == repaired


async def test_undo_is_refused_for_a_session_that_moved_on(fixture_copy: Callable[..., Path]) -> None:
    """Like ``ocinspect undo`` without --force: a session that got a new prompt and its reply
    after the run is not put back; the notification names the newer messages and the CLI's way."""
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r", "y")
        user, reply, *_ = json.loads(
            subprocess.run(
                [
                    sys.executable,
                    str(Path(__file__).parents[1] / "opencode_writer.py"),
                    str(db),
                    "turn",
                    BASH,
                    str(NOW + 60_000),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )
        moved_on = dump(db)
        await press(pilot, "u")
        assert not isinstance(app.screen, ConfirmUndo)
        (note,) = [n for n in notifications(app) if n.startswith("Undo refused")]
        assert f"session {BASH} moved on after run" in note and user in note and reply in note, note
        assert "Nothing was restored" in note and "ocinspect undo --force" in note
    assert dump(db) == moved_on


async def test_undo_with_nothing_to_undo_is_a_notification(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    before = dump(db)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "u")
        assert any(n.startswith("Nothing to undo") and "holds no recovery run" in n for n in notifications(app))
        assert not any("failed" in n for n in notifications(app))
        assert app.is_running
    assert dump(db) == before


async def test_recover_from_the_detail_screen(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=(100, 40)) as pilot:  # the stuck tool's command on screen too
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, SessionDetailScreen)
        text = screen_text(app)
        assert "sleep 600" in text and "Crash orphan" in text and "long sleep" not in text.split("command")[0]
        await press(pilot, "r", "y")
        assert isinstance(app.screen, SessionDetailScreen)
        assert "Recovered: this session is no longer stuck" in screen_text(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, SessionsScreen)
    assert tool_status(db, BASH_PART) == "error"


async def test_read_only_refuses_recovery_and_undo(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    before = dump(db)
    app = app_for(db, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key in ("r", "R", "u"):  # each key says why it writes nothing (the core refuses)
            app.clear_notifications()
            await press(pilot, key)
            assert isinstance(app.screen, SessionsScreen)
            (note,) = notifications(app)
            assert note.endswith("opened read-only: recovery and undo are disabled"), note
        app.request_recovery(None)  # the command palette path
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert any("read-only" in n for n in notifications(app))
    assert dump(db) == before


async def test_unknown_liveness_needs_force(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    unsure = LiveStatus(running=None, detail="cannot inspect the opencode process")
    app = app_for(db, live=unsure)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        modal = app.screen
        assert isinstance(modal, ConfirmRecovery) and modal.plan.is_empty and modal.plan.refused
        await press(pilot, "y")  # refused plan: nothing happens
        assert app.screen is modal
        assert tool_status(db, BASH_PART) == "running"
        await press(pilot, "f")
        assert isinstance(modal, ConfirmRecovery) and modal.plan.forced and not modal.plan.is_empty
        await press(pilot, "y")
    assert tool_status(db, BASH_PART) == "error"


async def test_toggle_all_sessions_and_recovered_badge(demo: tuple[Path, DemoSessions]) -> None:
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert set(listed(app)) == set(ids.stuck)
        await press(pilot, "a")
        assert set(listed(app)) == set(ids.stuck) | set(ids.clean)
        await press(pilot, "r", "y")  # the first row: the pending placeholder
        assert ids.pending_placeholder in app.recovered_ids
        assert ids.pending_placeholder in listed(app)
        assert "recovered" in screen_text(app)
        await press(pilot, "a")
        assert ids.pending_placeholder not in listed(app)


async def test_filter_by_typing(demo: tuple[Path, DemoSessions]) -> None:
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"tsc")  # the child's command; its parent stays for context
        await settle(pilot)
        assert listed(app) == [ids.subagent_parent, ids.subagent_child]
        await pilot.press(*"zzz")
        await settle(pilot)
        assert listed(app) == []
        assert "No session matches the filter" in screen_text(app)
        await press(pilot, "escape")
        assert set(listed(app)) == set(ids.stuck)


async def test_help_opens_and_closes(demo: tuple[Path, DemoSessions]) -> None:
    db, _ = demo
    app = app_for(db)
    async with app.run_test(size=(100, 140)) as pilot:  # the whole help: keys (with ids), verdicts, patterns
        await settle(pilot)
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Crash orphan" in text and "Subagent chain" in text and "stale" in text
        await press(pilot, "escape")
        assert isinstance(app.screen, SessionsScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, SessionsScreen)


async def test_command_palette_recover_all(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await pilot.press(*"Recover all stale")
        assert await eventually(pilot, lambda: "Recover all stale sessions" in screen_text(app))
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmRecovery)
        await press(pilot, "y")
    assert query(db, "SELECT count(*) FROM part WHERE json_extract(data, '$.state.status') = 'error'") == [(2,)]


async def test_mouse_click_opens_and_confirms(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        second = listed(app)[1]
        await pilot.click(SessionTable, offset=(5, 2))  # header is row 0: this highlights the second
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert app.screen.selected_session_id == second
        await pilot.click(SessionTable, offset=(5, 2))  # clicking the highlighted row opens it
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailScreen) and app.screen.session_id == second
        await press(pilot, "r")
        await pilot.click("#confirm")
        await settle(pilot)
    assert query(db, "SELECT session_id FROM part WHERE json_extract(data, '$.state.status') = 'error'") == [(second,)]


async def test_titles_and_output_are_shown_literally(hostile: Path) -> None:
    app = app_for(hostile)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold red]x[/]" in text
        assert "\\x1b[2J\\x1b[31mwiped?" in text
        assert "[link=https://evil.example]click[/link] [/]" in text
        assert "\x1b" not in text
        await press(pilot, "enter")
        detail = screen_text(app)
        assert "[b]not bold[/b]" in detail and "echo [red]hi[/red]" in detail and "line [i]one[/i]" in detail
        assert "\\x1b[31mred\\x1b[0m" in detail
    assert len(HOSTILE_TITLES) == 3


async def test_watch_mode_refreshes_when_the_database_changes(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert sorted(listed(app)) == sorted(TWO)
        # Someone else (the CLI, or OpenCode itself) repairs one session behind the app's back.
        store = open_store(db)
        try:
            the_plan = recover.plan(store, [TWO[0]], live=OFFLINE, now=NOW)
        finally:
            store.dispose()
        recover.apply(the_plan, now=NOW)
        assert await eventually(pilot, lambda: listed(app) == [TWO[1]]), listed(app)


async def test_vanished_database_is_a_notification_not_a_crash(
    fixture_copy: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_copy("stuck-bash")
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        (tmp_path / db).rename(tmp_path / "moved.db")
        assert await eventually(pilot, lambda: any(n.startswith("Database vanished") for n in notifications(app)))
        await press(pilot, "ctrl+r")
        assert app.is_running and listed(app) == [BASH]
        assert any(n.startswith("Database vanished") for n in notifications(app))
        assert any("no such file" in n for n in notifications(app))
        (tmp_path / "moved.db").rename(tmp_path / db)
        assert await eventually(pilot, lambda: any("The database is back" in n for n in notifications(app)))
        await settle(pilot)
        assert listed(app) == [BASH]


async def test_escape_cancels_a_running_scan(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    gate = threading.Event()

    def clock() -> int:
        if threading.current_thread() is not threading.main_thread():
            gate.wait(10)  # hold the scan worker until the test has pressed escape
        return NOW

    app = app_for(db, now=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.scanning
        await pilot.press("escape")
        gate.set()
        await settle(pilot)
        assert not app.scanning
        assert app.scan_result is None
        assert any("Scan cancelled" in n for n in notifications(app))
        await press(pilot, "ctrl+r")
        assert listed(app) == [BASH]


async def test_unsupported_database_screen_then_retry(tmp_path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(tmp_path / "v2.db")
    conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY);")
    conn.close()
    app = app_for(Path("v2.db"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, UnsupportedScreen)
        assert "OpenCode 2.x" in screen_text(app)
        await press(pilot, "u", "r")
        assert isinstance(app.screen, UnsupportedScreen)
        await press(pilot, "ctrl+r")
        assert isinstance(app.screen, UnsupportedScreen)
        await press(pilot, "q")
    assert app.return_code == 0


async def test_locked_database_is_reported_and_nothing_changes(
    fixture_copy: Callable[..., Path], tmp_path: Path
) -> None:
    import sqlite3

    db = fixture_copy("stuck-bash")
    before = dump(db)
    app = app_for(db, busy_timeout_ms=100)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        holder = sqlite3.connect(tmp_path / db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer (OpenCode) holds the write lock
        try:
            await press(pilot, "y")
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert app.is_running and listed(app) == [BASH]
        assert any(n.startswith("Skipped") and "locked" in n for n in notifications(app))
    assert dump(db) == before


async def test_quick_tier_is_shown_before_the_deep_scan(demo: tuple[Path, DemoSessions]) -> None:
    from inspector.tui.messages import ScanFinished, ScanProgress

    db, ids = demo
    seen: list[object] = []
    app = app_for(db)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await settle(pilot)
    finished = [m for m in seen if isinstance(m, ScanFinished)]
    assert [(m.result.quick, m.final) for m in finished] == [(True, False), (False, True)]
    # the quick tier cannot see a tool left running inside a finished turn; the deep tier does
    assert finished[0].result.get(ids.parts_in_finished_turn) is None
    assert finished[1].result.get(ids.parts_in_finished_turn) is not None
    progress = [m for m in seen if isinstance(m, ScanProgress)]
    assert progress and all(m.generation == 1 for m in progress)  # the handler drops other generations


async def test_an_idle_app_holds_no_lock(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    import sqlite3

    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter", "escape")
        other = sqlite3.connect(tmp_path / db, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")  # fails at once if the app kept any lock or transaction
            other.execute("ROLLBACK")
        finally:
            other.close()


async def test_the_confirm_dialog_says_the_id_wrap_risk(fixture_copy: Callable[..., Path]) -> None:
    """Issue 11: before recovering a session OpenCode ≤ 1.18.14 will loop on, the user hears it."""
    db = fixture_copy("id-wrap-stuck", "1.18.14")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "R")
        assert isinstance(app.screen, ConfirmRecovery)
        assert [name for _, name in app.screen.plan.warnings] == ["id-wrap-risk"]
        from inspector.tui.widgets.plan_view import PlanView

        shown = app.screen.query_one(PlanView).render()
        assert "Upgrade OpenCode to 1.18.15 or newer" in str(shown)
        await press(pilot, "n")


async def test_header_says_when_the_scan_failed(fixture_copy: Callable[..., Path], tmp_path: Path) -> None:
    """Not "· scanning…" forever: the header says the scan failed (the empty state says why)."""
    db = fixture_copy("stuck-bash")
    conn = sqlite3.connect(tmp_path / db)
    conn.execute("""UPDATE part SET data = '{"type":"tool","state":{"status":"running"'
                    WHERE data LIKE '%"status":"running"%'""")
    conn.commit()
    conn.close()
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header = screen_text(app).splitlines()[1]
        assert "scan failed" in header and "scanning" not in header
        assert any(n.startswith("Scan failed") and "corrupt JSON" in n for n in notifications(app))

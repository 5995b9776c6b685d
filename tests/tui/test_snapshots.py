"""Snapshots of every screen (pytest-textual-snapshot), one class per screen, posting style.

Deterministic by construction: frozen clock (``NOW``), OpenCode pinned offline, fixed terminal
size, relative database paths, run ids pinned, no cursor blink (the app turns it off headless).
Review changes with ``pytest tests/tui --snapshot-update`` and the SVGs, never blindly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from inspector.core.opencode.live import LiveStatus
from inspector.core.synth.demo import DemoSessions
from inspector.tui.app import InspectorApp
from tests.support.releases import RELEASES
from tests.support.tui import SIZE, TASK_PARENT, app_for, app_of, keys_then_settle, settle


class TestSessionsList:
    def test_stuck_sessions(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=SIZE, run_before=keys_then_settle())

    def test_real_fixture_two_crash_orphans(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle())

    def test_empty_state(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("clean")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle())

    def test_all_sessions(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=SIZE, run_before=keys_then_settle("a"))

    def test_filter(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(
            app_for(db, demo=True), terminal_size=SIZE, press=("slash", *"webapp"), run_before=keys_then_settle()
        )

    def test_read_only(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, read_only=True), terminal_size=SIZE, run_before=keys_then_settle())

    def test_markup_and_escapes_are_literal(self, snap_compare: Callable[..., bool], hostile: Path) -> None:
        assert snap_compare(app_for(hostile), terminal_size=SIZE, run_before=keys_then_settle())

    def test_narrow_80x24(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=(80, 24), run_before=keys_then_settle())

    def test_wide_160x40(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=(160, 40), run_before=keys_then_settle())

    def test_sorted_by_stuck_for(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        """``s`` six times: Session, Project, Verdict, Pattern, Parts, Stuck for (longest first, ▼)."""
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=SIZE, run_before=keys_then_settle(*"ssssss"))

    def test_sorted_by_project_reversed_narrow(
        self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]
    ) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=(80, 24), run_before=keys_then_settle("s", "s", "S"))

    def test_light_theme(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(
            app_for(db, demo=True, theme="textual-light"), terminal_size=SIZE, run_before=keys_then_settle()
        )


class TestSessionDetail:
    def test_bash_crash_orphan(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-bash")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("enter"))

    def test_crash_orphan_with_output(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, ids = demo

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(ids.crash_orphan)
            await settle(pilot)
            await pilot.press("end")

        assert snap_compare(app_for(db, demo=True), terminal_size=(100, 40), run_before=run_before)

    def test_subagent_chain(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-task")

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(TASK_PARENT)
            await settle(pilot)
            await pilot.press("end")

        assert snap_compare(app_for(db), terminal_size=(100, 40), run_before=run_before)

    def test_markup_and_escapes_are_literal(self, snap_compare: Callable[..., bool], hostile: Path) -> None:
        assert snap_compare(app_for(hostile), terminal_size=(100, 40), run_before=keys_then_settle("enter"))

    def test_inferred_subagent_link_opencode_1_2(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-task", "1.2.27")

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session("ses_dd144065fffe2Ka5AunX4MqesF")
            await settle(pilot)
            await pilot.press("end")

        assert snap_compare(app_for(db, now=RELEASES["1.2.27"].now), terminal_size=(100, 40), run_before=run_before)

    def test_id_wrap_risk_is_said_first(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("id-wrap-stuck", "1.18.14")
        assert snap_compare(
            app_for(db, now=RELEASES["1.18.14"].now), terminal_size=(100, 40), run_before=keys_then_settle("enter")
        )

    def test_narrow_80x24(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-pending")
        assert snap_compare(app_for(db), terminal_size=(80, 24), run_before=keys_then_settle("enter"))


class TestTimeline:
    """The turn's story (``t`` on the detail screen) and one part whole (``enter`` there)."""

    def test_subagent_chain(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-task")

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(TASK_PARENT)
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)

        assert snap_compare(app_for(db), terminal_size=(100, 30), run_before=run_before)

    def test_crash_orphan_with_output(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, ids = demo

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(ids.crash_orphan)
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)

        assert snap_compare(app_for(db, demo=True), terminal_size=(100, 30), run_before=run_before)

    def test_expanded_part(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, ids = demo

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(ids.crash_orphan)
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)

        assert snap_compare(app_for(db, demo=True), terminal_size=(100, 30), run_before=run_before)

    def test_markup_and_escapes_are_literal(self, snap_compare: Callable[..., bool], hostile: Path) -> None:
        assert snap_compare(app_for(hostile), terminal_size=(100, 30), run_before=keys_then_settle("enter", "t"))


class TestConfirmRecovery:
    def test_one_session(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-bash")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("r"))

    def test_all_stale(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=SIZE, run_before=keys_then_settle("R"))

    def test_subagent_chain_is_one_unit(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-task")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("down", "r"))

    def test_unknown_liveness_is_refused(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-bash")
        unsure = LiveStatus(running=None, detail="an opencode process is running that ocinspect cannot inspect")
        assert snap_compare(app_for(db, live=unsure), terminal_size=SIZE, run_before=keys_then_settle("r"))

    def test_narrow_80x24(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=(80, 24), run_before=keys_then_settle("R"))


class TestAfterRecovery:
    def test_recovered_session_leaves_the_list(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path], fixed_run_id: str
    ) -> None:
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("r", "y"))

    def test_all_sessions_view_shows_recovered(
        self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions], fixed_run_id: str
    ) -> None:
        db, _ = demo
        run_before = keys_then_settle("a", "R", "y")
        assert snap_compare(app_for(db, demo=True), terminal_size=SIZE, run_before=run_before)

    def test_after_undo(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path], fixed_run_id: str
    ) -> None:
        db = fixture_copy("stuck-bash")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("r", "y", "u", "y"))


class TestConfirmUndo:
    def test_lists_what_is_restored(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path], fixed_run_id: str
    ) -> None:
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle("R", "y", "u"))


class TestRefusals:
    def test_read_only_key_says_why(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-bash")
        assert snap_compare(app_for(db, read_only=True), terminal_size=SIZE, run_before=keys_then_settle("r"))

    def test_failed_scan_header(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-bash")
        conn = sqlite3.connect(db)
        # cut-off JSON that still looks running: the quick tier reads it and refuses to guess
        conn.execute("""UPDATE part SET data = '{"type":"tool","state":{"status":"running"'
                        WHERE data LIKE '%"status":"running"%'""")
        conn.commit()
        conn.close()
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle())


class TestHelp:
    def test_help(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(
            app_for(db, demo=True), terminal_size=(100, 40), run_before=keys_then_settle("question_mark")
        )


class TestUnsupportedDatabase:
    def test_opencode_2x(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        conn = sqlite3.connect(tmp_path / "v2.db")
        conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY); CREATE TABLE event (id TEXT);")
        conn.close()
        assert snap_compare(app_for(Path("v2.db")), terminal_size=SIZE, run_before=keys_then_settle())

    def test_legacy_json_storage(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        (tmp_path / "legacy" / "storage" / "session").mkdir(parents=True)
        assert snap_compare(app_for(Path("legacy")), terminal_size=SIZE, run_before=keys_then_settle())

    def test_not_an_opencode_database(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        conn = sqlite3.connect(tmp_path / "notes.db")
        conn.executescript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        conn.close()
        assert snap_compare(app_for(Path("notes.db")), terminal_size=SIZE, run_before=keys_then_settle())


class TestConfirmAnswer:
    """The answer dialog on a bash behind a permission prompt: what is asked, since when, what
    rejecting does; then the same after the deliberate "allow once" choice."""

    @staticmethod
    def _app_and_keys(tmp_path: Path, *keys: str) -> tuple[InspectorApp, Callable[[Pilot[Any]], Awaitable[None]]]:
        from inspector.tui.widgets import SessionTable
        from tests.support.releases import NOW
        from tests.support.tui import press
        from tests.support.waiting_db import build_waiting

        ids = build_waiting(tmp_path / "waiting.db", NOW)

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            rows = [row.diag.id for row in pilot.app.screen.query_one(SessionTable).rows_shown]
            await press(pilot, *["down"] * rows.index(ids.permission.session), "w", *keys)

        return app_for(Path("waiting.db"), live=ids.live()), run_before

    def test_reject(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        app, run_before = self._app_and_keys(tmp_path)
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    def test_allow_once_chosen(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        app, run_before = self._app_and_keys(tmp_path, "o")
        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

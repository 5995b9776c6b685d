"""Every screen and state at 80×24, the smallest terminal we promise: the footer keeps ``q Quit``
and ``? Help``, columns show their words, wrapped lines keep their indent, no toast covers a
dialog's buttons. Snapshots (reviewed as images) plus literal checks of what a person reads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from inspector.core.synth.demo import DemoSessions
from inspector.tui.app import InspectorApp
from inspector.tui.screens import ConfirmUndo
from inspector.tui.widgets import SessionTable
from tests.support.releases import NOW
from tests.support.tui import (
    TASK_PARENT,
    app_for,
    app_of,
    eventually,
    keys_then_settle,
    notifications,
    press,
    screen_text,
    settle,
)

NARROW = (80, 24)


def footer_line(app: InspectorApp) -> str:
    return screen_text(app).splitlines()[-1]


class TestSnapshots80x24:
    def test_list_empty(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("clean")
        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=keys_then_settle())

    def test_list_filter_active(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(
            app_for(db, demo=True), terminal_size=NARROW, press=("slash", *"auth"), run_before=keys_then_settle()
        )

    def test_list_subagent_chain_row(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-task")
        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=keys_then_settle())

    def test_detail_subagent_chain(self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]) -> None:
        db = fixture_copy("stuck-task")

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(TASK_PARENT)
            await settle(pilot)

        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=run_before)

    def test_timeline(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, ids = demo

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(ids.crash_orphan)
            await settle(pilot)
            await press(pilot, "t")

        assert snap_compare(app_for(db, demo=True), terminal_size=NARROW, run_before=run_before)

    def test_part_pager(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, ids = demo

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            app_of(pilot).open_session(ids.crash_orphan)
            await settle(pilot)
            await press(pilot, "t", "enter")

        assert snap_compare(app_for(db, demo=True), terminal_size=NARROW, run_before=run_before)

    def test_help(self, snap_compare: Callable[..., bool], demo: tuple[Path, DemoSessions]) -> None:
        db, _ = demo
        assert snap_compare(app_for(db, demo=True), terminal_size=NARROW, run_before=keys_then_settle("question_mark"))

    def test_recovery_dialog_one_session(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path]
    ) -> None:
        db = fixture_copy("stuck-task")
        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=keys_then_settle("r"))

    def test_answer_dialog(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        from tests.support.waiting_db import build_waiting

        ids = build_waiting(tmp_path / "waiting.db", NOW)

        async def run_before(pilot: Pilot[Any]) -> None:
            await settle(pilot)
            rows = [row.diag.id for row in pilot.app.screen.query_one(SessionTable).rows_shown]
            await press(pilot, *["down"] * rows.index(ids.permission.session), "w")

        assert snap_compare(app_for(Path("waiting.db"), live=ids.live()), terminal_size=NARROW, run_before=run_before)

    def test_undo_dialog_after_a_recovery(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path], fixed_run_id: str
    ) -> None:
        """The "Recovered … press u" toast is up when ``u`` opens the dialog: it must not hide
        the dialog's buttons."""
        db = fixture_copy("stuck-two")
        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=keys_then_settle("r", "y", "u"))

    def test_after_undo(
        self, snap_compare: Callable[..., bool], fixture_copy: Callable[..., Path], fixed_run_id: str
    ) -> None:
        db = fixture_copy("stuck-bash")
        assert snap_compare(app_for(db), terminal_size=NARROW, run_before=keys_then_settle("r", "y", "u", "y"))


async def test_every_footer_at_80_columns_shows_help_and_a_way_out(demo: tuple[Path, DemoSessions]) -> None:
    """The list, the detail, the timeline: ``? Help`` and ``q Quit``; the part pager, where ``q``
    goes back: ``esc Back``; while the filter has the focus ``q`` types, and ``esc`` is offered."""
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        for keys, way_out in (
            ((), "q Quit"),
            (("enter",), "q Quit"),
            (("t",), "q Quit"),
            (("enter",), "esc Back"),
            (("escape", "escape", "escape", "slash"), "esc Back"),
        ):
            await press(pilot, *keys)
            assert await eventually(
                pilot,
                lambda w=way_out: w in footer_line(app) and "? Help" in footer_line(app),  # type: ignore[misc]
                seconds=5,
            ), (keys, footer_line(app))


async def test_no_toast_covers_a_dialog_and_undo_clears_the_recovered_toast(
    fixture_copy: Callable[..., Path], fixed_run_id: str
) -> None:
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await press(pilot, "r", "y")
        assert any("Recovered" in (n.title or "") for n in app._notifications)
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo)
        assert not notifications(app), "a toast is drawn over the dialog"
        await press(pilot, "y")
        titles = [n.title for n in app._notifications]
        assert "Undone" in titles and "Recovered" not in titles, titles


async def test_the_pattern_column_says_subagent_chain_at_80_columns(demo: tuple[Path, DemoSessions]) -> None:
    """The chain rows name the chain; single patterns up to "Subagent chain" are whole."""
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        cells = {row.diag.patterns: table.get_cell(row.diag.id, "patterns").plain for row in table.rows_shown}
        assert cells[("crash-orphan", "subagent-chain")] == "Subagent chain +1", cells
        assert cells[("crash-orphan",)] == "Crash orphan", cells
        assert cells[("interrupted-turn",)] == "Interrupted turn", cells
        header = next(line for line in screen_text(app).splitlines() if line.strip().startswith("Session"))
        assert "Stuck for" in header and "Pattern" in header, header


def continuation_of(app: InspectorApp, text: str) -> tuple[str, str]:
    """The drawn line that contains ``text`` and the line under it."""
    lines = screen_text(app).splitlines()
    index = next(i for i, line in enumerate(lines) if text in line)
    return lines[index], lines[index + 1]


def indent(line: str, inside: str = "") -> int:
    """Leading spaces, counted after the dialog frame's edge when ``inside`` is that edge."""
    if inside:
        line = line.split(inside, 1)[1] if inside in line else line
    return len(line) - len(line.lstrip(" "))


def test_hanging_lines_indent_every_continuation_under_the_text() -> None:
    from textual.content import Content

    from inspector.tui.widgets.hanging import hanging_lines

    line = Content.assemble("  ▸ ", ("bash · running for 22m 40s", "bold"), " and a long tail of words to wrap")
    wrapped = hanging_lines(line, 30).plain.splitlines()
    assert wrapped[0].startswith("  ▸ bash") and len(wrapped) > 2
    assert all(row.startswith("    ") and row[4] != " " for row in wrapped[1:]), wrapped
    assert hanging_lines(Content("short"), 30).plain == "short"


async def test_wrapped_lines_keep_their_indent_at_80_columns(
    demo: tuple[Path, DemoSessions], fixture_copy: Callable[..., Path]
) -> None:
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        first, then = continuation_of(app, "▸ edit · pending")  # the preview
        assert indent(then) == indent(first) + 2, (first, then)
        app.open_session(ids.crash_orphan)
        await settle(pilot)
        await press(pilot, "t")
        first, then = continuation_of(app, "stopped here:")  # the timeline's stop line
        assert indent(then) == indent(first) + 2, (first, then)
    app = app_for(fixture_copy("stuck-task"))
    async with app.run_test(size=NARROW) as pilot:
        await settle(pilot)
        await press(pilot, "r")  # the plan in the dialog: a change and its row id
        first, then = continuation_of(app, "task tool: running")
        assert indent(then, "│") == indent(first, "│") + 2, (first, then)


async def test_the_footer_fits_again_when_the_terminal_narrows(demo: tuple[Path, DemoSessions]) -> None:
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert await eventually(pilot, lambda: "R Recover all" in footer_line(app), seconds=5), footer_line(app)
        await pilot.resize_terminal(*NARROW)
        assert await eventually(pilot, lambda: footer_line(app).rstrip().endswith("q Quit"), seconds=5), footer_line(
            app
        )
        assert "R Recover all" not in footer_line(app)

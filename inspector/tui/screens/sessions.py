"""The main screen: sessions with a stale "Thinking" state, a status line, filter and preview."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input

from inspector.core.health.beside_scan import hang_notice
from inspector.core.model import ScanResult
from inspector.core.repair.answer import waits

from ..keys import keyed_text, namer
from ..messages import CancelScan, ContinueInOpenCode, OpenSession, RequestAnswer, RequestRecovery, ToggleAllSessions
from ..state import AppState, app_state
from ..widgets import EmptyState, HealthNotice, ScanProgress, SessionPreview, SessionTable, StatusLine, empty_state
from ..widgets.key_footer import KeyFooter

TICK_SECONDS = 1.0  # "Stuck for" is written to the second


class SessionsScreen(Screen[None]):
    """Everything here is drawn from the app's state (``scan_result`` & co), never from SQL;
    everything it asks for is a posted message the app handles."""

    BINDING_GROUP_TITLE = "Sessions"
    AUTO_FOCUS = "#sessions"  # Textual's "*" picked the hidden filter input once the list emptied: keys vanished
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "r",
            "recover_selected",
            "Recover",
            id="recover-session",
            tooltip="Recover the highlighted session (and its subagent chain) after a confirmation.",
        ),
        Binding(
            "o",
            "open_in_opencode",
            "OpenCode",
            id="open-in-opencode",
            tooltip="Quit ocinspect and continue the highlighted session in OpenCode, in its project directory.",
        ),
        Binding(
            "R",
            "recover_all",
            "Recover all",
            id="recover-all",
            tooltip="Recover every stale session after a confirmation that lists each change.",
        ),
        Binding(
            "w",
            "answer_selected",
            "Answer",
            id="answer-waiting",
            tooltip="Answer a waiting session through OpenCode (reject, or allow once), after a confirmation.",
        ),
        Binding(
            "a",
            "toggle_all",
            "All/stuck",
            id="toggle-all-sessions",
            tooltip="Switch between stuck sessions only and every session in the database.",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            id="filter",
            tooltip="Filter the list by title, project, session id, pattern or command.",
        ),
        Binding("escape", "back", "Back", id="back", tooltip="Clear the filter, or cancel a running scan."),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._drawn_result: ScanResult | None = None  # held, so identity checks are safe
        self._drawn: tuple[object, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield StatusLine(id="status")
        yield HealthNotice(id="health")
        yield ScanProgress(id="progress")
        yield Input(
            placeholder=keyed_text(
                "Filter: title, project, id, pattern, command…  (enter: back to the list, {back}: clear)",
                namer(self.app),
            ),
            id="filter",
            compact=True,
        )
        with Vertical(id="sessions-body"):
            yield SessionTable(id="sessions")
            yield EmptyState(id="empty")
        yield SessionPreview(id="preview")
        yield KeyFooter()

    def on_mount(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = False
        if (saved := self.state.saved_sort) is not None:
            self.query_one(SessionTable).sort_by(saved.column, saved.descending, announce=False)
        if self.app.is_headless:
            filter_input.cursor_blink = False  # deterministic snapshots
        self.watch(self.app, "scan_result", self._redraw)
        self.watch(self.app, "recovered_ids", self._redraw)
        self.watch(self.app, "deep_pending", self._redraw)
        self.watch(self.app, "load_error", self._redraw)
        self.watch(self.app, "db_health", self._redraw)
        self.watch(self.app, "scanning", self._scanning_changed)
        self.query_one(SessionTable).focus()
        self.set_interval(TICK_SECONDS, self.tick, name="stuck-for")

    def tick(self) -> None:
        """The list's "Stuck for" and the preview run on the same clock (no database read)."""
        if self.state.scan_result is None:
            return
        now = self.state.config.now()
        self.query_one(SessionTable).tick(now)
        self._update_preview(keep_height=True)

    @property
    def state(self) -> AppState:
        return app_state(self)

    # drawing ---------------------------------------------------------------------------
    @property
    def query_text(self) -> str:
        filter_input = self.query_one("#filter", Input)
        return filter_input.value if filter_input.display else ""

    @property
    def selected_session_id(self) -> str | None:
        return self.query_one(SessionTable).selected_id

    def _redraw(self, _value: object = None) -> None:
        state = self.state
        result = state.scan_result
        now = state.config.now()
        self.query_one(StatusLine).show(
            state.config, result, deep_running=state.deep_pending, failed=bool(state.load_error)
        )
        self.query_one(HealthNotice).show(hang_notice(result, state.db_health))
        table = self.query_one(SessionTable)
        empty = self.query_one(EmptyState)
        if result is None:
            table.display = False
            empty.display = True
            text = state.load_error
            empty.update(
                empty_state.failed(state.config.db_path, text, namer(self.app))
                if text
                else empty_state.scanning(state.config.db_path)
            )
            self.query_one(SessionPreview).display = False
            return
        drawn = (state.recovered_ids, self.query_text)
        if result is not self._drawn_result or drawn != self._drawn:
            # several reactives change per scan: rebuild the rows once per new result/filter
            self._drawn_result, self._drawn = result, drawn
            table.show(result, now=now, recovered=state.recovered_ids, query=self.query_text, refreshed=state.refreshed)
        has_rows = bool(table.rows_shown)
        table.display = has_rows
        empty.display = not has_rows
        if not has_rows:
            empty.update(
                empty_state.nothing_stuck(
                    state.config.db_path,
                    filtered=bool(self.query_text.strip()),
                    show_all=state.show_all,
                    key=namer(self.app),
                )
            )
        self._update_preview(keep_height=state.refreshed)
        self.refresh_bindings()

    def _update_preview(self, keep_height: bool = False) -> None:
        preview = self.query_one(SessionPreview)
        state = self.state
        result = state.scan_result
        selected = self.selected_session_id
        diag = result.get(selected) if (result is not None and selected) else None
        preview.display = diag is not None
        preview.show(diag, now=state.config.now(), recovered=state.recovered_ids, keep_height=keep_height)

    def _scanning_changed(self, scanning: bool) -> None:
        progress = self.query_one(ScanProgress)
        progress.display = scanning
        if scanning:
            progress.start("Deep scan…" if self.state.scan_result is not None else "Scanning…")
        self.refresh_bindings()

    def show_progress(self, phase: str, done: int, total: int) -> None:
        self.query_one(ScanProgress).advance(phase, done, total)

    # events ----------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#sessions")
    def _highlighted(self) -> None:
        self._update_preview()
        self.refresh_bindings()  # the answer key is offered on waiting sessions only

    @on(DataTable.RowSelected, "#sessions")
    def _selected(self, event: DataTable.RowSelected) -> None:
        session_id = self.selected_session_id
        if session_id:
            self.post_message(OpenSession(session_id))

    @on(Input.Changed, "#filter")
    def _filter_changed(self) -> None:
        self._redraw()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.query_one(SessionTable).focus()

    # actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return bool(self.query_one("#filter", Input).display or self.state.scanning)
        if action == "answer_selected":
            return self._selected_waits()
        if action in ("recover_selected", "recover_all"):  # not offered where core refuses every write
            result = self.state.scan_result
            return result is None or result.write_refusal is None
        return True

    def _selected_waits(self) -> bool:
        result, selected = self.state.scan_result, self.selected_session_id
        diag = result.get(selected) if (result is not None and selected) else None
        return diag is not None and result is not None and waits(diag, result)

    def action_answer_selected(self) -> None:
        session_id = self.selected_session_id
        if session_id is not None:
            self.post_message(RequestAnswer(session_id))

    def action_recover_selected(self) -> None:
        session_id = self.selected_session_id
        if session_id is None:
            self.notify("No session is selected.", severity="warning")
            return
        self.post_message(RequestRecovery((session_id,)))

    def action_open_in_opencode(self) -> None:
        session_id = self.selected_session_id
        if session_id is None:
            self.notify("No session is selected.", severity="warning")
            return
        self.post_message(ContinueInOpenCode(session_id))

    def action_recover_all(self) -> None:
        self.post_message(RequestRecovery(None))

    def action_toggle_all(self) -> None:
        self.post_message(ToggleAllSessions())

    def action_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        filter_input.display = True
        filter_input.focus()
        self.refresh_bindings()

    def action_back(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.display:
            filter_input.value = ""
            filter_input.display = False
            self.query_one(SessionTable).focus()  # the hidden input had it: the list's keys come back
        if (saved := self.state.saved_sort) is not None:
            self.query_one(SessionTable).sort_by(saved.column, saved.descending, announce=False)
            self._redraw()
        elif self.state.scanning:
            self.post_message(CancelScan())
        self.refresh_bindings()

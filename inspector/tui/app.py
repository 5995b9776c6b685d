"""The Textual app: state, workers and wiring. Every database call goes through ``inspector.core``.

Workers run in threads, call the core, and post the typed messages of ``messages.py``; handlers
on the main thread update the reactive state that the screens watch. No SQL is written here.

Watch mode: a timer stats the file (``inspector.core.db.filewatch``); when OpenCode wrote, the
core refreshes the last deep scan at O(changes) (``inspector.core.diagnose.incremental.refresh``), and decides
when a sweep or a full deep scan is due. The app only calls it and redraws when the result really changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from inspector.core.db.filewatch import Signature, file_signature, vanished
from inspector.core.db.store import open_store
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.core.diagnose.incremental.refresh import (
    FullScanNeeded,
    Watched,
    full_scan,
    liveness_stale,
    next_step,
    refresh,
    same_result,
)
from inspector.core.diagnose.incremental.resume import scan_resumed
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.patterns import REOPEN_HINT
from inspector.core.diagnose.scan import Cancelled
from inspector.core.errors import (
    DatabaseNotFound,
    InspectorError,
    NotADatabase,
    NothingToUndo,
    RepairRefused,
    SchemaUnsupported,
    WritesDisabled,
)
from inspector.core.model import ScanResult
from inspector.core.opencode.launch import Launch, continuation
from inspector.core.opencode.live import LiveStatus
from inspector.core.opencode.signals import Signals
from inspector.core.repair import operations
from inspector.core.repair.answer import asked
from inspector.core.repair.journal import JournalProblem
from inspector.core.text import printable

from . import keys, settings
from .config import AppConfig, wall_clock
from .format import display_path, events_note, plural
from .messages import (
    AnswerReady,
    CancelScan,
    ContinueInOpenCode,
    DatabaseUnsupported,
    OpenSession,
    OperationFailed,
    PlanReady,
    RecoveryFinished,
    Refreshed,
    RequestAnswer,
    RequestRecovery,
    ScanCancelled,
    ScanFailed,
    ScanFinished,
    ScanProgress,
    SortChanged,
    ToggleAllSessions,
    UndoFinished,
    UndoReady,
)
from .screens import (
    ConfirmAnswer,
    ConfirmRecovery,
    ConfirmUndo,
    HelpScreen,
    PartScreen,
    SessionDetailScreen,
    SessionsScreen,
    TimelineScreen,
    UnsupportedScreen,
)
from .screens.confirm_answer import ANSWER_KEY_HINT
from .screens.timeline import StoryList
from .widgets import SessionTable
from .widgets.session_table import SORT_COLUMNS

# How the TUI says what would get past a refusal (the core names no flag or key); ``{id}`` is
# the key of that binding (keys.py: the keymap file's, seen from the screen beneath).
TUI_HINTS = {
    ("Recovery", "force"): "Press {toggle-force} in the confirm dialog to force it, or quit OpenCode first.",
    ("Recovery", "abort-hung"): "Press {recover-session}: the confirm dialog stops hung sessions through OpenCode.",
    ("Recovery", "reject-waiting"): ANSWER_KEY_HINT,
    ("Undo", "force"): "Quit OpenCode first, then press {undo-last-run} again (or: ocinspect undo --force).",
    ("Undo", "force-moved-on"): (
        "Nothing was restored; {undo-last-run} never forces an undo. To put the old rows "
        "back anyway: ocinspect undo --force."
    ),
}
# Said before a stuck session is handed to OpenCode: its TUI would show it in "Thinking".
STUCK_OPEN_HINT = (
    'This session is still stuck: OpenCode will show it in "Thinking". Press '
    "{recover-session} to recover it first, or {open-in-opencode} again to open it anyway."
)
RESULT_TIMEOUT = 10.0  # seconds a recovery/undo result notification stays up
# Errors that mean "this is not a database ocinspect can diagnose": the app explains them on
# UnsupportedScreen, chosen by the error's typed ``kind`` (missing, foreign, v2, legacy).
UNSUPPORTED = (DatabaseNotFound, NotADatabase, SchemaUnsupported)


class InspectorApp(App[Launch | None]):
    """ocinspect's TUI; build it with :func:`make_app`. ``run()`` returns the OpenCode command
    to hand the terminal to ("open in OpenCode"), or None: the CLI ``exec``s it once Textual
    has restored the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "ocinspect"
    SUB_TITLE = 'stale "Thinking" sessions'
    BINDING_GROUP_TITLE = "Anywhere"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "u",
            "undo",
            "Undo",
            id="undo-last-run",
            tooltip="Undo the last recovery run on this database (restores the journaled rows).",
        ),
        Binding(
            "ctrl+r,f5",
            "refresh",
            "Refresh",
            show=False,
            id="refresh",
            tooltip="Scan the database again (it also refreshes by itself when OpenCode writes).",
        ),
        Binding(
            "question_mark,f1",
            "help",
            "Help",
            key_display="?",
            id="help",
            tooltip="Show every key and what the verdicts and patterns mean.",
        ),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit ocinspect."),
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            show=False,
            priority=True,
            id="quit-anywhere",
            tooltip="Quit ocinspect, even from a dialog.",
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "Commands",
            show=False,
            priority=True,
            id="command-palette",
            tooltip="Open the command palette: every action by name.",
        ),
    ]

    # State the screens watch and redraw from; the app itself draws nothing, so no repaint of
    # the whole screen when they change (only the widgets whose content changed redraw).
    scan_result: reactive[ScanResult | None] = reactive(None, init=False, always_update=True, repaint=False)
    scanning: reactive[bool] = reactive(False, init=False, repaint=False)
    deep_pending: reactive[bool] = reactive(False, init=False, repaint=False)
    recovered_ids: reactive[frozenset[str]] = reactive(frozenset(), init=False, repaint=False)
    load_error: reactive[str] = reactive("", init=False, repaint=False)

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        self.config = config
        self.show_all = False
        self._generation = 0
        self._result_all: bool | None = None
        self._scan_worker: Worker[None] | None = None
        self._scanned_signature: Signature | None = None
        self._watched: Watched | None = None
        self.refreshed = False  # the shown result came from an incremental refresh (see state.py)
        self._vanished = False
        self._runs: dict[str, tuple[str, ...]] = {}
        self._hung_timer: Timer | None = None
        self.keymap_overrides: dict[str, str] = {}  # from keymap.toml (settings.py), shown in the help
        self._bindings_by_id: dict[str, Binding] | None = None  # key_name's defaults
        self._stuck_open_said: str | None = None  # the stuck session ``o`` warned about: ``o`` again opens it
        self._saved_theme: str | None = None
        self.saved_sort: settings.SavedSort | None = None  # the list's sort, kept in settings.toml
        self._user_settings = self._read_user_settings()
        # watch mode follows each server's GET /event for progress rows do not show yet (a
        # streaming reply writes its text row only when it ends); pinned liveness needs none
        self._signals = Signals() if config.watch_interval and config.live is None else None
        if config.demo:
            self.sub_title = "demo database"
        elif config.read_only:
            self.sub_title = "read-only"

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast (screens' ``notify`` ends here too): its text goes through ``printable``,
        so a title, reason or error quoting the database cannot put escapes on the screen."""
        super().notify(
            printable(message),
            title=printable(title, single_line=True),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    # lifecycle -------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[None]:
        return SessionsScreen()

    def on_unmount(self) -> None:
        if self._signals is not None:
            self._signals.close()

    def on_mount(self) -> None:
        self._apply_user_settings()
        self.start_scan(resume=not self.config.full)
        if self.config.watch_interval:
            self.set_interval(self.config.watch_interval, self._poll_database, name="watch")

    # theme and keymap (settings.py) -------------------------------------------------------
    def _read_user_settings(self) -> settings.UserSettings:
        """Read before the first frame, so a saved theme is there from the start (no flash)."""
        config = self.config
        user = settings.UserSettings()
        if config.settings_dir is not None:
            user = settings.load(config.settings_dir, self.all_binding_groups(), SORT_COLUMNS)
        self.theme = config.theme or user.theme or self.theme
        self.keymap_overrides = dict(user.keymap)
        self._saved_theme = user.theme  # what the file says (--theme is this run's only)
        self.saved_sort = user.sort
        return user

    def _apply_user_settings(self) -> None:
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self.watch(self, "theme", self._save_theme, init=False)  # a later change (command palette) is kept
        for problem in self._user_settings.problems:
            self.notify(problem, title="Settings", severity="warning", timeout=RESULT_TIMEOUT, markup=False)

    def _save_theme(self, theme: str) -> None:
        self._saved_theme = theme
        self._save_settings("theme")

    @on(SortChanged)
    def _save_sort(self, event: SortChanged) -> None:
        self.saved_sort = settings.SavedSort(event.column, event.descending) if event.column else None
        self._save_settings("sort")

    def _save_settings(self, what: str) -> None:
        if self.config.settings_dir is None:
            return
        try:
            settings.save(self.config.settings_dir, theme=self._saved_theme, sort=self.saved_sort)
        except (OSError, ValueError) as exc:
            self.notify(f"The {what} is not saved: {exc}", title="Settings", severity="warning", markup=False)

    # scanning --------------------------------------------------------------------------
    def start_scan(self, *, resume: bool = False) -> None:
        """Scan in a thread: the quick tier first when nothing for this view is shown yet.
        ``resume``: from the state the last look kept (the first view); else a full pass (ctrl+r,
        the bounded interval, a start-over), which keeps the state for the next start."""
        self._generation += 1
        self._watched = None
        show_quick = self.scan_result is None or self._result_all != self.show_all
        self.scanning = True
        self._scan_worker = self._scan(self._generation, self.show_all, show_quick, resume)

    def cancel_scan(self) -> None:
        if self._scan_worker is not None and self._scan_worker.is_running:
            self._scan_worker.cancel()
            self._generation += 1
            self.scanning = False
            self.deep_pending = False
            self.notify("Scan cancelled; the list shows the last complete scan.", severity="warning")

    def toggle_all_sessions(self) -> None:
        self.show_all = not self.show_all
        self.start_scan(resume=not self.config.full)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False, description="scan the database")
    def _scan(self, generation: int, all_sessions: bool, show_quick: bool, resume: bool) -> None:  # noqa: C901
        worker = get_current_worker()
        config = self.config
        signature = file_signature(config.db_path)

        def progress(phase: str) -> Callable[[int, int], None]:
            def report(done: int, total: int) -> None:
                self.post_message(ScanProgress(phase, done, total, generation))

            return report

        try:
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
        except UNSUPPORTED as exc:
            self.post_message(DatabaseUnsupported(exc.kind, str(exc), generation))
            return
        except InspectorError as exc:
            self.post_message(ScanFailed(exc, generation))
            return
        try:
            if store.schema != "v1":
                try:
                    store.require_v1()
                except SchemaUnsupported as exc:
                    self.post_message(DatabaseUnsupported(exc.kind, str(exc), generation))
                return
            options = ScanOptions(
                full=not resume,
                all_sessions=all_sessions,
                live=config.live,
                cancel=worker.cancelled_event,
                hung_after_ms=config.hung_after_ms,
                follow_signals=self._signals,
            )
            if show_quick:
                result, how = scan_resumed(
                    store,
                    replace(options, quick=True, now=config.now(), progress=progress("Quick scan: unfinished turns")),
                )
                for problem in how.skipped:  # a FIFO or a symlink where a state file belongs
                    self.call_from_thread(
                        self.notify, f"skipped {problem}", title="State file skipped", severity="warning", markup=False
                    )
                if worker.is_cancelled:
                    return
                self.post_message(ScanFinished(result, signature, False, all_sessions, generation))
            watched = full_scan(
                store, replace(options, now=config.now(), progress=progress("Deep scan: every tool part"))
            )
            if worker.is_cancelled:
                return
            self.post_message(ScanFinished(watched.result, signature, True, all_sessions, generation, watched))
        except Cancelled:
            self.post_message(ScanCancelled(generation))
        except InspectorError as exc:
            self.post_message(ScanFailed(exc, generation))
        finally:
            store.dispose()

    @on(ScanProgress)
    def _scan_progress(self, event: ScanProgress) -> None:
        screen = self._sessions_screen()
        if screen is not None and event.generation == self._generation:
            screen.show_progress(event.phase, event.done, event.total)

    @on(ScanFinished)
    def _scan_finished(self, event: ScanFinished) -> None:
        if event.generation != self._generation:
            return
        self._dismiss_unsupported()
        self.load_error = ""
        self._result_all = event.all_sessions
        self.deep_pending = not event.final
        self.refreshed = False
        self.scan_result = event.result
        if event.final:
            self._scanned_signature = event.signature
            self._watched = event.watched
            self.scanning = False
            self._rescan_when_hung(event.result)

    def _rescan_when_hung(self, result: ScanResult) -> None:
        """A hung session writes nothing, so the file watch never fires: scan again when the
        first live session would cross ``--hung-after`` (its badge then turns hung)."""
        if self._hung_timer is not None:
            self._hung_timer.stop()
            self._hung_timer = None
        if not self.config.watch_interval:
            return
        waits = [
            self.config.hung_after_ms - d.idle_ms
            for d in result.sessions
            if d.verdict == "live" and d.idle_ms is not None and d.idle_ms < self.config.hung_after_ms
        ]
        if waits:
            self._hung_timer = self.set_timer(min(waits) / 1000 + 0.5, self.start_scan, name="hung")

    @on(ScanFailed)
    def _scan_failed(self, event: ScanFailed) -> None:
        if event.generation != self._generation:
            return
        self.scanning = False
        self.deep_pending = False
        if self.scan_result is None:
            self.load_error = str(event.error)
        self.notify(str(event.error), title="Scan failed", severity="error", markup=False)

    @on(ScanCancelled)
    def _scan_cancelled(self, event: ScanCancelled) -> None:
        if event.generation == self._generation:
            self.scanning = False
            self.deep_pending = False

    @on(DatabaseUnsupported)
    def _unsupported(self, event: DatabaseUnsupported) -> None:
        if event.generation != self._generation:
            return
        self.scanning = False
        self.deep_pending = False
        if self.scan_result is not None:  # it was fine a moment ago: keep the list, say what happened
            self.notify(event.detail, title="Database unavailable", severity="error", markup=False)
            return
        if not isinstance(self.screen, UnsupportedScreen):
            self.push_screen(UnsupportedScreen(event.kind, self.config.db_path, event.detail))

    def _dismiss_unsupported(self) -> None:
        while isinstance(self.screen, UnsupportedScreen):
            self.pop_screen()

    def _poll_database(self) -> None:
        """Cheap ``stat`` of the database and its WAL; when OpenCode (or anyone) wrote, refresh at
        O(changes), or run what the core says is due (a sweep, a full deep scan)."""
        signature = file_signature(self.config.db_path)
        if vanished(signature):
            if not self._vanished:
                self._vanished = True
                self.notify(
                    f"{display_path(self.config.db_path)} is gone (moved or deleted?)",
                    title="Database vanished",
                    severity="error",
                    markup=False,
                )
            return
        if self._vanished:
            self._vanished = False
            self.notify("The database is back; scanning again.", markup=False)
            self.start_scan()
            return
        if self._scanned_signature is None or self.scanning or self._refreshing():
            return
        clock = time.monotonic()
        live_due = self._watched is not None and liveness_stale(self._watched, clock)
        if signature == self._scanned_signature and not live_due:
            return
        step = next_step(self._watched, clock)
        if step == "full" or self._watched is None:
            self.start_scan()
        else:
            self._refresh(self._watched, signature, self._generation, sweep=step == "sweep", recheck_live=live_due)

    def _refreshing(self) -> bool:
        return any(w.group == "refresh" and w.is_running for w in self.workers)

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False, description="refresh the scan")
    def _refresh(
        self, watched: Watched, signature: Signature, generation: int, *, sweep: bool, recheck_live: bool
    ) -> None:
        config = self.config
        try:
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
        except InspectorError as exc:  # the full scan explains it (unsupported, unreadable, …)
            self.post_message(Refreshed(None, signature, True, generation, str(exc)))
            return
        try:
            new = refresh(
                store,
                watched,
                ScanOptions(live=config.live, now=config.now(), follow_signals=self._signals),
                sweep=sweep,
                recheck_live=recheck_live,
            )
        except FullScanNeeded as exc:
            self.post_message(Refreshed(None, signature, True, generation, str(exc)))
            return
        except InspectorError as exc:
            self.post_message(ScanFailed(exc, generation))
            return
        finally:
            store.dispose()
        self.post_message(Refreshed(new, signature, not same_result(watched.result, new.result), generation))

    @on(Refreshed)
    def _refreshed(self, event: Refreshed) -> None:
        if event.generation != self._generation or self.scanning:
            return
        if event.watched is None:
            self.start_scan()
            return
        self._watched = event.watched
        self._scanned_signature = event.signature
        if event.changed:
            self.refreshed = True
            self.scan_result = event.watched.result

    # recovery ------------------------------------------------------------------------
    # Every decision (read-only, live/unknown/hung, another workspace, undo while OpenCode runs)
    # is the core's (``operations``); the app plans and writes in workers and renders the result.
    def _unsupported_file(self) -> bool:
        if isinstance(self.screen, UnsupportedScreen):
            self.notify("ocinspect does not write to this database.", severity="warning")
            return True
        return False

    def _clear_toasts(self) -> None:
        """A new request makes the toasts before it old news ("Recovered … press u" once u is
        pressed); left up, they would cover the dialog's buttons at 80×24. Toasts the request
        itself raises (a skipped journal file, a refusal) come after and stay."""
        self.clear_notifications()

    def request_recovery(self, session_ids: list[str] | None) -> None:
        """Plan in a thread; the confirmation modal opens when the plan is ready."""
        if self._unsupported_file():
            return
        self._clear_toasts()
        config = self.config
        request = operations.Request(
            database=config.db_path,
            session_ids=None if session_ids is None else tuple(session_ids),
            abort_hung=True,  # the confirm dialog shows the hung chains it will stop through OpenCode
            read_only=config.read_only,
            hung_after_ms=config.hung_after_ms,
            busy_timeout_ms=config.busy_timeout_ms,
            journal_directory=config.journal_dir,
            settle_timeout_s=config.abort_settle_s,
            live=config.live,
            now=config.now(),
        )
        self._plan(request)

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False, description="plan a recovery")
    def _plan(self, request: operations.Request) -> None:
        try:
            prepared = operations.prepare(request)
        except InspectorError as exc:
            self.post_message(OperationFailed("Recovery", exc))
            return
        self.post_message(PlanReady(prepared))

    @on(PlanReady)
    def _plan_ready(self, event: PlanReady) -> None:
        if isinstance(self.screen, ConfirmRecovery):
            return  # a second key press planned again while the first modal is open
        prepared = event.prepared
        plan = prepared.plan
        if prepared.is_empty and not plan.refused:
            reasons = "; ".join(s.reason for s in plan.nothing_to_do) or "no stuck session found"
            self.notify(f"Nothing to recover: {reasons}.", severity="warning", markup=False)
            return
        self.push_screen(ConfirmRecovery(prepared, titles=self._titles()), callback=self._confirmed)

    def _titles(self) -> dict[str, str]:
        result = self.scan_result
        return {d.id: d.session.title for d in result.sessions} if result else {}

    def _confirmed(self, prepared: operations.Prepared | None) -> None:
        if prepared is None:
            self.notify("Recovery cancelled; nothing was changed.")
            return
        if self._writing():
            return
        self._apply(prepared)

    def request_answer(self, session_id: str) -> None:
        """Plan answering what ``session_id`` waits on (reject by default) in a thread; the
        answer dialog opens when the core says what it would send."""
        if self._unsupported_file():
            return
        self._clear_toasts()
        config = self.config
        self._plan_answer(
            operations.Request(
                database=config.db_path,
                session_ids=(session_id,),
                reject_waiting=True,
                read_only=config.read_only,
                hung_after_ms=config.hung_after_ms,
                busy_timeout_ms=config.busy_timeout_ms,
                journal_directory=config.journal_dir,
                settle_timeout_s=config.abort_settle_s,
                live=config.live,
                now=config.now(),
            )
        )

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False, description="plan an answer")
    def _plan_answer(self, request: operations.Request) -> None:
        try:
            prepared = operations.prepare(request)
        except InspectorError as exc:
            self.post_message(OperationFailed("Answer", exc))
            return
        self.post_message(AnswerReady(prepared))

    @on(AnswerReady)
    def _answer_ready(self, event: AnswerReady) -> None:
        if isinstance(self.screen, ConfirmAnswer):
            return
        prepared = event.prepared
        if not prepared.answers:
            reasons = "; ".join(s.reason for s in prepared.refused) or "it waits for no answer"
            self.notify(f"Nothing to answer: {reasons}.", severity="warning", markup=False)
            return
        self.push_screen(ConfirmAnswer(prepared, titles=self._titles()), callback=self._answer_confirmed)

    def _answer_confirmed(self, prepared: operations.Prepared | None) -> None:
        if prepared is None:
            self.notify("Nothing was answered.")
            return
        if not self._writing():
            self._apply(prepared)

    def _writing(self) -> bool:
        busy = any(w.group == "write" and w.is_running for w in self.workers)
        if busy:
            self.notify("A recovery or undo is still running.", severity="warning")
        return busy

    @work(thread=True, group="write", exit_on_error=False, description="apply a recovery")
    def _apply(self, prepared: operations.Prepared) -> None:
        try:
            outcome = operations.execute(prepared)
        except InspectorError as exc:
            self.post_message(OperationFailed("Recovery", exc))
            return
        self.post_message(RecoveryFinished(outcome))

    @on(RecoveryFinished)
    def _recovered(self, event: RecoveryFinished) -> None:
        outcome = event.outcome
        for answered in outcome.answered:
            request = answered.request
            title = self._titles().get(request.session_id) or request.session_id
            verb = "Allowed once through OpenCode" if answered.answer == "once" else "Rejected through OpenCode"
            self.notify(
                f"{title}: {asked(request)}: {answered.detail}.",
                title=verb if answered.settled else "Not answered",
                severity="information" if answered.settled else "error",
                timeout=RESULT_TIMEOUT,
                markup=False,
            )
        for aborted in outcome.aborted:
            target = aborted.target
            more = len(target.sessions) - 1
            chain = f" (+{plural(more, 'subagent session')})" if more else ""
            self.notify(
                f"{target.title or target.root}{chain}: {aborted.detail}.",
                title="Stopped through OpenCode" if aborted.stopped else "Not stopped",
                severity="information" if aborted.stopped else "error",
                timeout=RESULT_TIMEOUT,
                markup=False,
            )
        result = outcome.result
        if outcome.undo_run_id:
            self._runs[outcome.undo_run_id] = result.sessions
            self.recovered_ids = self.recovered_ids | frozenset(result.sessions)
            self.notify(
                f"Run {result.run_id}: {plural(len(result.sessions), 'session')} recovered, "
                f"{plural(result.parts_repaired, 'tool part')} aborted, "
                f"{plural(result.messages_completed, 'turn')} closed"
                f"{events_note(result.events_appended)}. "
                + keys.keyed_text("Press {undo-last-run} to undo.", keys.namer(self))
                + (f"\n{REOPEN_HINT}" if outcome.through_opencode else ""),
                title="Recovered",
                timeout=RESULT_TIMEOUT,
                markup=False,
            )
        elif not outcome.prepared.plan.is_empty:
            self.notify("Nothing was changed.", markup=False)
        if outcome.unforeseen:
            lines = "\n".join(f"{s.id}: {s.reason}" for s in outcome.unforeseen[:5])
            self.notify(
                f"Not recovered:\n{lines}", title="Skipped", severity="warning", timeout=RESULT_TIMEOUT, markup=False
            )
        self.start_scan()

    def action_undo(self) -> None:
        """Find the last run and ask first (like recovery); the core refuses while OpenCode runs."""
        if self._unsupported_file() or self._writing():
            return
        self._clear_toasts()
        config = self.config
        self._prepare_undo(
            operations.UndoRequest(
                database=config.db_path,
                read_only=config.read_only,
                busy_timeout_ms=config.busy_timeout_ms,
                journal_directory=config.journal_dir,
                live=config.live,
                now=config.now(),
            )
        )

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False, description="prepare an undo")
    def _prepare_undo(self, request: operations.UndoRequest) -> None:
        problems: list[JournalProblem] = []
        try:
            prepared = operations.prepare_undo(request, problems)
        except NothingToUndo as nothing:  # a statement, not a failure
            self.call_from_thread(
                self.notify, f"{str(nothing)[:1].upper()}{str(nothing)[1:]}.", title="Nothing to undo", markup=False
            )
            return
        except InspectorError as exc:
            self.post_message(OperationFailed("Undo", exc))
            return
        finally:
            for problem in problems:  # a damaged file beside the run: said, skipped
                self.call_from_thread(
                    self.notify, str(problem), title="Journal file skipped", severity="warning", markup=False
                )
        self.post_message(UndoReady(prepared))

    @on(UndoReady)
    def _undo_ready(self, event: UndoReady) -> None:
        if isinstance(self.screen, ConfirmUndo):
            return
        titles = {**event.prepared.titles, **self._titles()}
        self.push_screen(ConfirmUndo(event.prepared, titles=titles), callback=self._undo_confirmed)

    def _undo_confirmed(self, prepared: operations.UndoPrepared | None) -> None:
        if prepared is None:
            self.notify("Undo cancelled; nothing was changed.")
            return
        if not self._writing():
            self._undo(prepared)

    @work(thread=True, group="write", exit_on_error=False, description="undo the last recovery")
    def _undo(self, prepared: operations.UndoPrepared) -> None:
        try:
            result = operations.execute_undo(prepared)
        except InspectorError as exc:
            self.post_message(OperationFailed("Undo", exc))
            return
        self.post_message(UndoFinished(result))

    @on(UndoFinished)
    def _undone(self, event: UndoFinished) -> None:
        result = event.result
        sessions = self._runs.pop(result.run_id, ())
        self.recovered_ids = self.recovered_ids - frozenset(sessions)
        message = f"Run {result.run_id} undone: {plural(result.restored, 'row')} restored{events_note(result.events_appended)}."
        if result.skipped:
            message += f" {plural(len(result.skipped), 'row')} left as they are (changed since)."
        self.notify(
            message,
            title="Undone",
            severity="warning" if result.skipped else "information",
            timeout=RESULT_TIMEOUT,
            markup=False,
        )
        self.start_scan()

    @on(OperationFailed)
    def _operation_failed(self, event: OperationFailed) -> None:
        error = event.error
        hint = TUI_HINTS.get((event.action, getattr(error, "hint", None) or ""))
        refused = isinstance(error, (RepairRefused, WritesDisabled))
        if hint:
            hint = keys.keyed_text(hint, keys.namer(self))
        self.notify(
            f"{error}" + (f"\n{hint}" if hint else ""),
            title=f"{event.action} refused" if refused else f"{event.action} failed",
            severity="warning" if refused else "error",
            markup=False,
        )

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """Anything the workers did not expect still ends as a notification, never a crash."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if event.worker.group == "scan":
            self.scanning = False
            self.deep_pending = False
        if event.worker.group == "refresh":
            self._watched = None  # the next change runs a full deep scan instead
        self.notify(
            f"{type(error).__name__}: {error}",
            title=f"Could not {event.worker.description}",
            severity="error",
            markup=False,
        )

    # navigation ------------------------------------------------------------------------
    def open_session(self, session_id: str) -> None:
        self.push_screen(SessionDetailScreen(session_id))

    @on(OpenSession)
    def _open_session(self, event: OpenSession) -> None:
        self.open_session(event.session_id)

    @on(ContinueInOpenCode)
    def _continue_requested(self, event: ContinueInOpenCode) -> None:
        self.continue_in_opencode(event.session_id)

    def continue_in_opencode(self, session_id: str) -> None:
        """Quit and hand the terminal to OpenCode on ``session_id`` (the CLI ``exec``s it), or
        say in one toast why that cannot work (demo, an id or directory core refuses, OpenCode
        not installed). A session still stuck is said first; ``o`` again opens it anyway."""
        import shutil

        result = self.scan_result
        diag = result.get(session_id) if result is not None else None
        if diag is None:
            self.notify("That session is not in the last scan.", severity="warning", markup=False)
            return
        if self.config.demo:
            self.notify(
                "This is the demo database: its sessions do not exist in OpenCode.", severity="warning", markup=False
            )
            return
        try:
            plan = continuation(
                diag.session,
                diagnosis=diag,
                live=result.live if result is not None else None,
                database=self.config.opencode_db,
            )
        except InspectorError as exc:  # an id that is not OpenCode's shape, a relative directory
            self._open_refused(exc, None)
            return
        if plan.obstacles:
            self._open_refused(plan.obstacles[0], plan.launch.session_id)
            return
        launch = plan.launch
        if shutil.which(launch.argv[0]) is None:
            self.notify(
                f"{launch.argv[0]} is not on PATH: install OpenCode, or run it yourself:\n{launch.shell_line()}",
                title="Open in OpenCode",
                severity="error",
                markup=False,
            )
            return
        if plan.stuck and self._stuck_open_said != session_id:
            self._stuck_open_said = session_id
            self.notify(
                keys.keyed_text(STUCK_OPEN_HINT, keys.namer(self)),
                title="Open in OpenCode",
                severity="warning",
                markup=False,
            )
            return
        self.exit(launch)

    def _open_refused(self, error: InspectorError, session_id: str | None) -> None:
        """One toast: why core refused (its typed error) and, for a directory another user
        controls, the command that opens it anyway (only a valid ``session_id`` is quoted)."""
        import shlex

        hint = None
        if error.hint == "trust-directory" and session_id is not None:
            db = ["--db", str(self.config.opencode_db)] if self.config.opencode_db is not None else []
            command = " ".join(shlex.quote(w) for w in ["ocinspect", *db, "open", session_id, "--trust-directory"])
            hint = f"If you trust it, run: {command}"
        text = str(error)
        self.notify(
            text[:1].upper() + text[1:] + "." + (f"\n{hint}" if hint else ""),
            title="Open in OpenCode",
            severity="error",
            markup=False,
        )

    @on(RequestAnswer)
    def _answer_requested(self, event: RequestAnswer) -> None:
        self.request_answer(event.session_id)

    @on(RequestRecovery)
    def _recovery_requested(self, event: RequestRecovery) -> None:
        self.request_recovery(None if event.session_ids is None else list(event.session_ids))

    @on(ToggleAllSessions)
    def _toggle_all_requested(self) -> None:
        self.toggle_all_sessions()

    @on(CancelScan)
    def _cancel_requested(self) -> None:
        self.cancel_scan()

    def _sessions_screen(self) -> SessionsScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, SessionsScreen):
                return screen
        return None

    def all_binding_groups(self) -> list[tuple[str, list[BindingType]]]:
        """Every binding with an id, by where it works (a new screen adds its own here)."""
        return [
            ("Sessions list", [*SessionTable.BINDINGS, *SessionsScreen.BINDINGS]),
            ("Session detail", list(SessionDetailScreen.BINDINGS)),
            ("Timeline", [*StoryList.BINDINGS, *TimelineScreen.BINDINGS]),
            ("Part (whole)", list(PartScreen.BINDINGS)),
            ("Confirm recovery", list(ConfirmRecovery.BINDINGS)),
            ("Answer a waiting session", list(ConfirmAnswer.BINDINGS)),
            ("Confirm undo", list(ConfirmUndo.BINDINGS)),
            ("Help", list(HelpScreen.BINDINGS)),
            ("Anywhere", list(self.BINDINGS)),
        ]

    def key_name(self, binding_id: str) -> str:
        """The key a text names for ``binding_id``: the keymap file's (its first key), else the
        binding's own; ``KeyError`` for an id no binding has (a template's typo)."""
        override = self.keymap_overrides.get(binding_id)
        if override:
            return keys.label(override)
        if self._bindings_by_id is None:
            self._bindings_by_id = {
                b.id: b
                for _, bindings in self.all_binding_groups()
                for b in bindings
                if isinstance(b, Binding) and b.id
            }
        binding = self._bindings_by_id[binding_id]
        return binding.key_display or keys.label(binding.key)

    def help_groups(self) -> list[tuple[str, list[BindingType]]]:
        """The groups with the keys the keymap gives them (what the keys really are now)."""
        overrides = self.keymap_overrides
        return [
            (
                title,
                [
                    b.with_key(overrides[b.id], key_display=None) if isinstance(b, Binding) and b.id in overrides else b
                    for b in bindings
                ],
            )
            for title, bindings in self.all_binding_groups()
        ]

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.help_groups()))

    def action_refresh(self) -> None:
        self.start_scan()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo" and isinstance(self.screen, UnsupportedScreen):
            return False
        return True  # read-only: the keys stay, and the core's refusal says why they write nothing

    # command palette -------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        selected = getattr(screen, "selected_session_id", None)
        # read-only too: the core's refusal says why nothing is written
        if selected:
            yield SystemCommand(
                "Recover selected session",
                "Recover the selected session (and its subagent chain) after confirming",
                partial(self.request_recovery, [selected]),
            )
            yield SystemCommand(
                "Open selected session in OpenCode",
                "Quit ocinspect and continue the selected session in OpenCode",
                partial(self.continue_in_opencode, selected),
            )
            yield SystemCommand(
                "Answer selected waiting session",
                "Reject (or allow once) what the selected session is asked, through OpenCode",
                partial(self.request_answer, selected),
            )
        yield SystemCommand(
            "Recover all stale sessions",
            "Plan and confirm recovery of every stale session",
            partial(self.request_recovery, None),
        )
        yield SystemCommand("Undo last recovery", "Restore the rows changed by the last recovery run", self.action_undo)
        yield SystemCommand("Refresh", "Scan the database again", self.action_refresh)
        yield SystemCommand(
            "Show all sessions" if not self.show_all else "Show stuck sessions only",
            "Toggle between stuck sessions and every session",
            self.toggle_all_sessions,
        )
        if isinstance(screen, SessionsScreen):
            yield SystemCommand("Filter sessions", "Filter the list by typing", screen.action_filter)
        yield SystemCommand("Help", "Keys, verdicts and patterns", self.action_help)
        # Textual's "Keys" panel is a second, partial help: ours lists every key, by screen
        yield from (command for command in super().get_system_commands(screen) if command.title != "Keys")


def make_app(
    db_path: Path,
    *,
    read_only: bool = False,
    demo: bool = False,
    now: int | Callable[[], int] | None = None,
    live: LiveStatus | None = None,
    journal_dir: Path | None = None,
    watch_interval: float | None = 2.0,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    hung_after_ms: int = DEFAULT_HUNG_AFTER_MS,
    abort_settle_s: float = 10.0,
    full: bool = False,
    opencode_db: Path | None = None,
    settings_dir: Path | None = None,
    theme: str | None = None,
) -> InspectorApp:
    """Build the app without running it (the CLI calls ``.run()``, tests use ``run_test``).

    ``now`` pins the clock (an int in ms, or a callable), ``live`` pins OpenCode's liveness and
    ``journal_dir`` overrides the undo journal location; all three exist for tests/screenshots.
    ``busy_timeout_ms`` is the CLI's ``--busy-timeout`` (how long a write waits for OpenCode),
    ``hung_after_ms`` its ``--hung-after`` (when a busy session that does not move is hung);
    ``abort_settle_s`` bounds the wait for OpenCode after an abort (shortened in tests);
    ``full`` (the CLI's ``--full``, and the demo) makes the first view a full pass too.
    ``opencode_db`` is the file OpenCode must open when a session is continued there (``--db``).
    ``settings_dir`` is where the theme and keymap files are (the CLI passes
    ``settings.config_dir()``; None reads and saves nothing); ``theme`` is ``--theme`` (checked:
    ``settings.UnknownTheme``).
    """
    if now is None:
        clock: Callable[[], int] = wall_clock
    elif callable(now):
        clock = now
    else:
        fixed = int(now)
        clock = lambda: fixed  # noqa: E731
    config = AppConfig(
        db_path=Path(db_path),
        read_only=read_only,
        demo=demo,
        clock=clock,
        live=live,
        journal_dir=journal_dir,
        watch_interval=watch_interval,
        busy_timeout_ms=busy_timeout_ms,
        hung_after_ms=hung_after_ms,
        abort_settle_s=abort_settle_s,
        full=full or demo,
        opencode_db=opencode_db,
        settings_dir=settings_dir,
        theme=None if theme is None else settings.check_theme(theme),
    )
    return InspectorApp(config)


def binding_ids(groups: Iterable[tuple[str, list[BindingType]]]) -> list[str]:
    """The ids a keymap file may name, in the help's order."""
    return [b.id for _, bindings in groups for b in bindings if isinstance(b, Binding) and b.id]

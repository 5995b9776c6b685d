"""The Textual app: composition, bindings and routing. Every database call goes through ``inspector.core``.

The app owns the scan/refresh/watch state machine (``scanning.Scans``), the writes
(``writes.Writes``: recover, answer and undo, each one ``write_flow.WriteFlow``) and the hand-off
to OpenCode (``handoff.Handoff``); workers and screens post the typed messages of ``messages.py``
and the app routes them there. It holds the reactive state the screens watch (declared on its
base, ``host.Host``; screens read it as ``state.AppState``). No SQL is written here.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from inspector.core.text import printable

from . import keys, settings, toasts
from .config import AppConfig
from .handoff import Handoff
from .host import Host
from .messages import (
    CancelScan,
    ContinueInOpenCode,
    DatabaseUnsupported,
    HealthSeen,
    OpenSession,
    OperationFailed,
    Refreshed,
    RequestAnswer,
    RequestRecovery,
    ScanCancelled,
    ScanFailed,
    ScanFinished,
    ScanProgress,
    SortChanged,
    ToggleAllSessions,
    WriteStep,
)
from .scanning import Scans
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
from .screens.timeline import StoryList
from .widgets import SessionTable
from .widgets.session_table import SORT_COLUMNS
from .writes import Writes


class InspectorApp(Host):
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

    def __init__(self, config: AppConfig) -> None:
        super().__init__()
        self.config = config
        self.show_all = False
        self.refreshed = False  # the shown result came from an incremental refresh (see state.py)
        self.keymap_overrides: dict[str, str] = {}  # from keymap.toml (settings.py), shown in the help
        self._bindings_by_id: dict[str, Binding] | None = None  # key_name's defaults
        self._saved_theme: str | None = None
        self.saved_sort = None
        self._user_settings = self._read_user_settings()
        self.scans = Scans(self)
        self.writes = Writes(self, self.scans)
        self.handoff = Handoff(self)
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
        self.scans.close()

    def on_mount(self) -> None:
        self._apply_user_settings()
        self.scans.start(resume=not self.config.first_view_full)
        if self.config.watch_interval:
            self.set_interval(self.config.watch_interval, self.scans.poll, name="watch")

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
            self.notify(problem, title="Settings", severity="warning", timeout=toasts.RESULT_TIMEOUT, markup=False)

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

    # routing: what workers and screens post, to whoever handles it -------------------------
    @on(ScanProgress)
    def _scan_progress(self, event: ScanProgress) -> None:
        self.scans.progress(event)

    @on(ScanFinished)
    def _scan_finished(self, event: ScanFinished) -> None:
        self.scans.finished(event)

    @on(HealthSeen)
    def _health_seen(self, event: HealthSeen) -> None:
        if event.generation == self.scans.generation:
            self.db_health = event.health

    @on(ScanFailed)
    def _scan_failed(self, event: ScanFailed) -> None:
        self.scans.failed(event)

    @on(ScanCancelled)
    def _scan_cancelled(self, event: ScanCancelled) -> None:
        self.scans.cancelled(event)

    @on(DatabaseUnsupported)
    def _unsupported(self, event: DatabaseUnsupported) -> None:
        self.scans.unsupported(event)

    @on(Refreshed)
    def _refreshed(self, event: Refreshed) -> None:
        self.scans.refreshed(event)

    @on(WriteStep)
    def _write_step(self, event: WriteStep) -> None:
        event.step()

    @on(OperationFailed)
    def _operation_failed(self, event: OperationFailed) -> None:
        self.writes.failed(event)

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        """Anything the workers did not expect still ends as a notification, never a crash."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        self.scans.worker_crashed(event.worker)
        self.notify(
            f"{type(error).__name__}: {error}",
            title=f"Could not {event.worker.description}",
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
        self.scans.cancel()

    def request_recovery(self, session_ids: list[str] | None) -> None:
        """Plan in a thread; the confirmation dialog opens when the plan is ready."""
        self.writes.recover(None if session_ids is None else tuple(session_ids))

    def request_answer(self, session_id: str) -> None:
        """Plan answering what ``session_id`` waits on (reject by default) in a thread; the
        answer dialog opens when the core says what it would send."""
        self.writes.answer(session_id)

    def action_undo(self) -> None:
        """Find the last run and ask first (like recovery); the core refuses while OpenCode runs."""
        self.writes.undo()

    def toggle_all_sessions(self) -> None:
        self.show_all = not self.show_all
        self.scans.start(resume=not self.config.first_view_full)

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
        """Quit and hand the terminal to OpenCode on ``session_id``, or say why not (handoff.py)."""
        self.handoff.open(session_id)

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
        self.scans.start()

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


def make_app(config: AppConfig) -> InspectorApp:
    """Build the app without running it (the CLI calls ``.run()``, tests use ``run_test``);
    ``config.theme`` is checked first (``settings.UnknownTheme``)."""
    if config.theme is not None:
        settings.check_theme(config.theme)
    return InspectorApp(config)


def binding_ids(groups: Iterable[tuple[str, list[BindingType]]]) -> list[str]:
    """The ids a keymap file may name, in the help's order."""
    return [b.id for _, bindings in groups for b in bindings if isinstance(b, Binding) and b.id]

"""The one way the TUI writes: plan in a thread, confirm in a dialog, apply in a thread, say
what happened. Recover, answer and undo differ only in the :class:`WriteFlow` they pass, so a
fix to the sequence (a second key press, a write already running, a failure) is made once.

Every decision stays the core's (``operations``): a flow only names which core call plans,
which dialog confirms, which core call applies, and how the result is told.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from textual.app import App

from inspector.core.errors import InspectorError

from .messages import OperationFailed, WriteStep
from .screens.confirm_base import ConfirmScreen
from .screens.unsupported import UnsupportedScreen

P = TypeVar("P")  # what the core planned (shown in the dialog, then applied)
R = TypeVar("R")  # what the core did


@dataclass(frozen=True)
class WriteFlow(Generic[P, R]):
    """What one kind of write does at each step; the steps and their order are :class:`WriteFlows`'."""

    action: str  # "Recovery": the title of its refusals and failures ("Recovery refused")
    planning: str  # the plan worker's description ("Could not plan a recovery")
    applying: str  # the apply worker's description
    plan: Callable[[], P | None]  # in a thread; None: nothing to confirm, and it said why
    dialog: type[ConfirmScreen[Any]]  # open already: a second key press, nothing more to do
    confirm: Callable[[P], ConfirmScreen[P] | None]  # the dialog, or None when it said why not
    cancelled: str  # said when the dialog is dismissed
    apply: Callable[[P], R]  # in a thread, with what the dialog confirmed
    done: Callable[[R], None]  # tells the result (main thread)
    busy_first: bool = False  # refuse to plan while a write runs (else: refused when confirmed)


class WriteFlows:
    """Runs write flows for ``app``; one write at a time (the ``write`` worker group)."""

    def __init__(self, app: App[Any]) -> None:
        self.app = app

    def start(self, flow: WriteFlow[P, R]) -> None:
        """Plan in a thread; the dialog opens when the plan is ready."""
        if self._unsupported_file() or (flow.busy_first and self.writing()):
            return
        # A new request makes the toasts before it old news ("Recovered … press u" once u is
        # pressed); left up, they would cover the dialog's buttons at 80×24. Toasts the request
        # itself raises (a skipped journal file, a refusal) come after and stay.
        self.app.clear_notifications()
        self.app.run_worker(
            partial(self._plan, flow),
            thread=True,
            exclusive=True,
            group="plan",
            exit_on_error=False,
            description=flow.planning,
        )

    def writing(self) -> bool:
        """A recovery or undo is running (and the person is told so)."""
        busy = any(w.group == "write" and w.is_running for w in self.app.workers)
        if busy:
            self.app.notify("A recovery or undo is still running.", severity="warning")
        return busy

    def _unsupported_file(self) -> bool:
        if isinstance(self.app.screen, UnsupportedScreen):
            self.app.notify("ocinspect does not write to this database.", severity="warning")
            return True
        return False

    def _plan(self, flow: WriteFlow[P, R]) -> None:
        try:
            planned = flow.plan()
        except InspectorError as exc:
            self.app.post_message(OperationFailed(flow.action, exc))
            return
        if planned is not None:
            self.app.post_message(WriteStep(partial(self._planned, flow, planned)))

    def _planned(self, flow: WriteFlow[P, R], planned: P) -> None:
        if isinstance(self.app.screen, flow.dialog):
            return  # a second key press planned again while the first dialog is open
        dialog = flow.confirm(planned)
        if dialog is not None:
            self.app.push_screen(dialog, callback=partial(self._confirmed, flow))

    def _confirmed(self, flow: WriteFlow[P, R], confirmed: P | None) -> None:
        if confirmed is None:
            self.app.notify(flow.cancelled)
            return
        if self.writing():
            return
        self.app.run_worker(
            partial(self._apply, flow, confirmed),
            thread=True,
            group="write",
            exit_on_error=False,
            description=flow.applying,
        )

    def _apply(self, flow: WriteFlow[P, R], confirmed: P) -> None:
        try:
            result = flow.apply(confirmed)
        except InspectorError as exc:
            self.app.post_message(OperationFailed(flow.action, exc))
            return
        self.app.post_message(WriteStep(partial(flow.done, result)))

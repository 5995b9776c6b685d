"""What every confirmation dialog shares: the Yes/Cancel buttons and ``escape`` dismissing with
``None``; and, for the dialogs over the core's ``Prepared``, the one toggle that plans again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from textual import on, work
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button

from inspector.core.errors import InspectorError
from inspector.core.repair.operations import Prepared

T = TypeVar("T")


class ConfirmScreen(ModalScreen[T | None]):
    """A modal that dismisses with what to do, or ``None``; subclasses define ``action_confirm``."""

    def action_confirm(self) -> None:
        raise NotImplementedError

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self) -> None:
        self.action_confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


class ReplanningConfirm(ConfirmScreen[Prepared]):
    """A dialog over the core's ``Prepared`` whose one toggle (force, allow once) plans again in a
    thread worker: the core decides, never the dialog. Subclasses say how to plan again
    (:meth:`replanned`) and how to show a ``Prepared`` (:meth:`show`)."""

    REPLAN_FAILED: ClassVar[str] = "Could not plan"

    @dataclass
    class Replanned(Message):
        prepared: Prepared

    @dataclass
    class ReplanFailed(Message):
        error: Exception

    def __init__(self, prepared: Prepared, *, titles: Mapping[str, str]) -> None:
        super().__init__()
        self.prepared = prepared
        self.titles = dict(titles)

    def replanned(self, toggled: bool) -> Prepared:
        raise NotImplementedError

    def show(self, prepared: Prepared) -> None:
        raise NotImplementedError

    def replan(self, toggled: bool) -> None:
        """The toggle changed: no confirming until the new plan is shown."""
        self.query_one("#confirm", Button).disabled = True
        self._replan(toggled)

    @work(thread=True, exclusive=True, group="replan", exit_on_error=False)
    def _replan(self, toggled: bool) -> None:
        try:
            self.post_message(self.Replanned(self.replanned(toggled)))
        except InspectorError as exc:
            self.post_message(self.ReplanFailed(exc))

    @on(Replanned)
    def _replanned(self, event: Replanned) -> None:
        event.stop()
        self.prepared = event.prepared
        self.show(event.prepared)

    @on(ReplanFailed)
    def _replan_failed(self, event: ReplanFailed) -> None:
        event.stop()
        self.notify(str(event.error), title=self.REPLAN_FAILED, severity="error", markup=False)
        self.show(self.prepared)

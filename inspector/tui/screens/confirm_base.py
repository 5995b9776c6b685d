"""What every confirmation dialog shares: the Yes/Cancel buttons and ``escape`` dismissing with ``None``."""

from __future__ import annotations

from typing import TypeVar

from textual import on
from textual.screen import ModalScreen
from textual.widgets import Button

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

"""The answer dialog: exactly what a waiting session is asked, and what answering does.

It shows each pending permission or question the core's ``prepare`` would answer (what is asked,
since when, in which session) and what OpenCode then does. The default is to reject; allowing a
permission once is a deliberate second choice (``o``), which plans again in a worker
(``Prepared.allowing``: the core decides, never this screen). It dismisses with the core's
``Prepared`` to execute, or ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Checkbox, Label, Static

from inspector.core.model import Answer, PendingRequest
from inspector.core.repair.answer import asked, asked_ago
from inspector.core.repair.operations import Prepared

from .. import keys
from ..format import one_line, plural
from ..widgets.hanging import Hanging
from .confirm_base import ReplanningConfirm

ANSWER_KEY_HINT = "Press {answer-waiting} on it: the answer dialog rejects it through OpenCode (or allows it once)."
_WHAT_HAPPENS: dict[Answer, str] = {
    "reject": "reject: OpenCode closes the tool as an error and ends the turn",
    "once": "allow once: OpenCode runs the tool now (this time only)",
}


def answers_content(answers: tuple[tuple[PendingRequest, Answer], ...], titles: Mapping[str, str], now: int) -> Content:
    """Per request: the session asking, what it is asked and since when, and what will happen."""
    lines: list[Content] = []
    for request, answer in answers:
        name = one_line(titles.get(request.session_id) or "(untitled)")
        lines.append(Content.assemble("▸ ", (name, "bold"), "  ", (one_line(request.session_id), "$foreground-muted")))
        lines.append(
            Content.assemble("    asks ", (one_line(asked(request)), "bold $accent"), one_line(asked_ago(request, now)))
        )
        style = "bold $warning" if answer == "once" else "bold $error"
        lines.append(Content.assemble("    → ", (_WHAT_HAPPENS[answer], style)))
    return Content("\n").join(lines)


def dialog_title(prepared: Prepared) -> str:
    count = len({r.session_id for r, _ in prepared.answers})
    allow = any(a == "once" for _, a in prepared.answers)
    verb = "Allow once" if allow and all(a == "once" for _, a in prepared.answers) else "Answer"
    return f"{verb}: {plural(count, 'waiting session')} through OpenCode?"


class ConfirmAnswer(ReplanningConfirm):
    """``y``/``enter`` sends the answers shown, ``n``/``escape`` cancels, ``o`` switches the
    permissions to "allow once" (and back)."""

    BINDING_GROUP_TITLE = "Answer a waiting session"
    REPLAN_FAILED = "Could not plan the answer"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y,enter",
            "confirm",
            "Send",
            id="confirm-answer",
            tooltip="Send exactly these answers; OpenCode closes (or runs) the tool.",
        ),
        Binding("n,escape", "cancel", "Cancel", id="cancel-answer", tooltip="Close without answering anything."),
        Binding(
            "o",
            "toggle_allow",
            "Allow once",
            id="toggle-allow-once",
            tooltip="Allow the permissions once instead (a question is only rejected).",
        ),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(dialog_title(self.prepared), id="confirm-title", markup=False)
            with VerticalScroll(id="confirm-plan"):
                yield Static(id="answer-list")
            key = keys.namer(self.app)
            yield Checkbox(
                Content(keys.keyed_text("Allow once instead of rejecting ({toggle-allow-once})", key)),
                False,
                id="allow-once",
                compact=True,
            )
            yield Static(
                Content("ocinspect writes no row: OpenCode itself closes or runs the tool."), id="confirm-note"
            )
            with Horizontal(id="confirm-buttons"):
                yield Button(
                    Content(keys.keyed_text("Reject ({confirm-answer})", key)),
                    variant="error",
                    id="confirm",
                    compact=True,
                )
                yield Button(Content(keys.keyed_text("Cancel ({cancel-answer})", key)), id="cancel", compact=True)

    def on_mount(self) -> None:
        self._show(self.prepared)

    @property
    def allowing(self) -> bool:
        return any(a == "once" for _, a in self.prepared.answers)

    def _show(self, prepared: Prepared) -> None:
        self.prepared = prepared
        self.query_one("#confirm-title", Label).update(dialog_title(prepared))
        self.query_one("#answer-list", Static).update(
            Hanging(answers_content(prepared.answers, self.titles, prepared.plan.created))
        )
        allow = self.query_one("#allow-once", Checkbox)
        allow.display = any(r.kind == "permission" for r, _ in prepared.answers)
        if allow.value != self.allowing:
            with self.prevent(Checkbox.Changed):
                allow.value = self.allowing
        confirm = self.query_one("#confirm", Button)
        confirm.disabled = not prepared.answers
        confirm.label = Content(
            keys.keyed_text(
                "Allow once ({confirm-answer})" if self.allowing else "Reject ({confirm-answer})", keys.namer(self.app)
            )
        )
        confirm.variant = "warning" if self.allowing else "error"
        (self.query_one("#cancel") if confirm.disabled else confirm).focus()

    def action_confirm(self) -> None:
        if not self.prepared.answers or self.query_one("#confirm", Button).disabled:
            return
        self.dismiss(self.prepared)

    def action_toggle_allow(self) -> None:
        allow = self.query_one("#allow-once", Checkbox)
        if allow.display:
            allow.toggle()

    @on(Checkbox.Changed, "#allow-once")
    def _allow_changed(self, event: Checkbox.Changed) -> None:
        if event.value != self.allowing:
            self.replan(event.value)

    def replanned(self, toggled: bool) -> Prepared:
        return self.prepared.allowing(toggled)

    def show(self, prepared: Prepared) -> None:
        self._show(prepared)

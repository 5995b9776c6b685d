"""The confirmation modal: the exact plan (rows, from what to what), refusals, a force toggle,
and the hung sessions that will be aborted through OpenCode (the running tool is killed).

It dismisses with the core's ``Prepared`` recovery to execute, or ``None``. Toggling force
prepares again in a thread worker (``Prepared.forced``: the core plans, never this screen). The
aborts are shown, not chosen here: the core's ``execute`` sends them when the user confirms.
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

from inspector.core.model import Plan
from inspector.core.repair.abort import AbortTarget
from inspector.core.repair.operations import Prepared

from .. import keys
from ..format import one_line, plural
from ..widgets import PlanView
from ..widgets.hanging import Hanging
from ..widgets.plan_view import plan_summary
from .confirm_answer import ANSWER_KEY_HINT
from .confirm_base import ReplanningConfirm

ABORT_HEADING = "Abort through OpenCode: the running tool is killed"


def dialog_title(plan: Plan, all_sessions: bool, aborts: tuple[AbortTarget, ...] = ()) -> str:
    if aborts:
        hung = plural(len(aborts), "hung session")
        if plan.is_empty:
            return f"Abort {hung} through OpenCode?"
        return f"Abort {hung} through OpenCode and recover {plural(len(plan.session_ids), 'session')}?"
    if plan.is_empty and plan.refused:
        return "Recovery refused: OpenCode may still be working on this"
    if plan.is_empty:
        return "Nothing can be recovered"
    count = len(plan.session_ids)
    if all_sessions:
        return f"Recover all stale sessions ({count})?"
    return f"Recover {plural(count, 'session')}?"


def abort_content(aborts: tuple[AbortTarget, ...], titles: Mapping[str, str]) -> Content:
    """The heading, then per hung chain: its title, ids, and why it is called hung."""
    lines = [Content.styled(ABORT_HEADING, "bold $error")]
    for target in aborts:
        more = len(target.sessions) - 1
        chain = f" (+{plural(more, 'subagent session')})" if more else ""
        name = one_line(titles.get(target.root) or target.title or "(untitled)")
        lines.append(
            Content.assemble("  ▸ ", (name, "bold"), "  ", (one_line(target.root) + chain, "$foreground-muted"))
        )
        lines.append(Content.assemble("    ", one_line(target.reason)))
    return Content("\n").join(lines)


class ConfirmRecovery(ReplanningConfirm):
    """``y``/``enter`` applies, ``n``/``escape`` cancels, ``f`` toggles force."""

    BINDING_GROUP_TITLE = "Confirm recovery"
    REPLAN_FAILED = "Could not plan the recovery"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y,enter",
            "confirm",
            "Recover",
            id="confirm-recovery",
            tooltip="Write exactly this plan (one transaction per session chain, journaled for undo).",
        ),
        Binding("n,escape", "cancel", "Cancel", id="cancel-recovery", tooltip="Close without changing anything."),
        Binding(
            "f",
            "toggle_force",
            "Force",
            id="toggle-force",
            tooltip="Also recover sessions that are live or whose liveness is unknown (like --force).",
        ),
    ]

    def __init__(self, prepared: Prepared, *, titles: Mapping[str, str]) -> None:
        super().__init__(prepared, titles=titles)
        self.plan = prepared.plan
        self.all_sessions = prepared.request.session_ids is None
        self.aborts = prepared.aborts

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Label(dialog_title(self.plan, self.all_sessions, self.aborts), id="confirm-title", markup=False)
            if self.aborts:
                yield Static(Hanging(abort_content(self.aborts, self.titles)), id="confirm-abort")
            yield Static(Content(self._summary(self.plan)), id="confirm-summary")
            with VerticalScroll(id="confirm-plan"):
                yield PlanView(id="plan")
            key = keys.namer(self.app)
            yield Checkbox(
                Content(keys.keyed_text("Force: also recover live / unknown sessions ({toggle-force})", key)),
                self.plan.forced,
                id="force",
                compact=True,
            )
            yield Static(
                Content(keys.keyed_text("Each change is journaled first; {undo-last-run} undoes the last run.", key)),
                id="confirm-note",
            )
            yield Static(Content.styled(keys.keyed_text(ANSWER_KEY_HINT, key), "bold $warning"), id="confirm-hint")
            with Horizontal(id="confirm-buttons"):
                yield Button(
                    Content(keys.keyed_text("Recover ({confirm-recovery})", key)),
                    variant="warning",
                    id="confirm",
                    compact=True,
                )
                yield Button(Content(keys.keyed_text("Cancel ({cancel-recovery})", key)), id="cancel", compact=True)

    def on_mount(self) -> None:
        self._show(self.plan)

    def _show(self, plan: Plan) -> None:
        self.plan = plan
        self.query_one("#confirm-title", Label).update(dialog_title(plan, self.all_sessions, self.aborts))
        self.query_one("#confirm-summary", Static).update(Content(self._summary(plan)))
        self.query_one(PlanView).show(plan, self.titles)
        self.query_one("#confirm-plan").display = not (plan.is_empty and not plan.refused and not plan.nothing_to_do)
        self.query_one("#confirm-note").display = not (plan.is_empty and self.aborts)  # an abort writes no row
        self.query_one("#confirm-hint").display = any(s.hint == "reject-waiting" for s in plan.refused)
        force = self.query_one("#force", Checkbox)
        force.display = bool(plan.refused) or plan.forced
        if force.value != plan.forced:
            with self.prevent(Checkbox.Changed):
                force.value = plan.forced
        confirm = self.query_one("#confirm", Button)
        confirm.disabled = plan.is_empty and not self.aborts
        confirm.label = Content(
            keys.keyed_text(
                "Abort ({confirm-recovery})" if plan.is_empty and self.aborts else "Recover ({confirm-recovery})",
                keys.namer(self.app),
            )
        )
        (self.query_one("#cancel") if confirm.disabled else confirm).focus()

    def _summary(self, plan: Plan) -> str:
        if self.aborts and plan.is_empty and not plan.refused:
            return "ocinspect writes no rows: OpenCode closes the turns itself."
        return plan_summary(plan, keys.namer(self.app))

    def action_confirm(self) -> None:
        if self.plan.is_empty and not self.aborts:
            self.notify("Nothing in this plan can be recovered.", severity="warning")
            return
        self.dismiss(self.prepared)

    def action_toggle_force(self) -> None:
        if self.query_one("#force", Checkbox).display:
            self.query_one("#force", Checkbox).toggle()

    @on(Checkbox.Changed, "#force")
    def _force_changed(self, event: Checkbox.Changed) -> None:
        if event.value != self.plan.forced:
            self.replan(event.value)

    def replanned(self, toggled: bool) -> Prepared:
        return self.prepared.forced(toggled)

    def show(self, prepared: Prepared) -> None:
        self._show(prepared.plan)

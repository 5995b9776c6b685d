"""The undo confirmation: which run, when, and every row it puts back (like the recovery dialog).

Undo rewrites OpenCode's rows too, so it is asked for like a recovery. The core has already
refused what is unsafe (read-only, OpenCode running on the database) before this opens; this
screen only shows the run and dismisses with it, or with ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Label, Static

from inspector.core.repair.operations import UndoPrepared
from inspector.core.text import local_time

from .. import keys
from ..format import one_line, plural
from ..widgets.hanging import Hanging
from .confirm_base import ConfirmScreen

_TABLE_WORDS = {"part": "tool part", "message": "message", "session": "session"}


def undo_content(prepared: UndoPrepared, titles: Mapping[str, str]) -> Content:
    """Per session of the run: its title and id, then each row that goes back to its before-image."""
    lines: list[Content] = []
    for unit in prepared.run.units:
        for session_id in unit.get("sessions", ()):
            name = one_line(titles.get(session_id) or "(untitled)")
            lines.append(Content.assemble(("▸ " + name, "bold"), "  ", (one_line(session_id), "$foreground-muted")))
            for change in unit.get("changes", ()):
                if change.get("session_id") != session_id:
                    continue
                table = _TABLE_WORDS.get(str(change.get("table")), one_line(change.get("table")))
                lines.append(
                    Content.assemble(
                        "    restore ", (table, "$accent"), " ", (one_line(change.get("id")), "$foreground-muted")
                    )
                )
    return Content("\n").join(lines) if lines else Content("This run changed no rows.")


class ConfirmUndo(ConfirmScreen[UndoPrepared]):
    """``y``/``enter`` undoes the run, ``n``/``escape`` cancels."""

    BINDING_GROUP_TITLE = "Confirm undo"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "y,enter",
            "confirm",
            "Undo",
            id="confirm-undo",
            tooltip="Put back the journaled rows that still hold what this run wrote.",
        ),
        Binding("n,escape", "cancel", "Cancel", id="cancel-undo", tooltip="Close without changing anything."),
    ]

    def __init__(self, prepared: UndoPrepared, *, titles: Mapping[str, str]) -> None:
        super().__init__()
        self.prepared = prepared
        self.titles = dict(titles)

    def compose(self) -> ComposeResult:
        run = self.prepared.run
        sessions = plural(len(self.prepared.sessions), "session")
        with Vertical(id="confirm-dialog"):
            yield Label(f"Undo run {one_line(run.run_id)}?", id="confirm-title", markup=False)
            yield Static(
                Content(
                    f"Made {local_time(run.created)}: {plural(self.prepared.rows, 'row')} of "
                    f"{sessions} go back to what they held before. Rows changed since are "
                    "left as they are."
                ),
                id="undo-summary",
            )
            with VerticalScroll(id="confirm-plan"):
                yield Static(Hanging(undo_content(self.prepared, self.titles)))
            with Horizontal(id="confirm-buttons"):
                key = keys.namer(self.app)
                yield Button(
                    Content(keys.keyed_text("Undo ({confirm-undo})", key)),
                    variant="warning",
                    id="confirm",
                    compact=True,
                )
                yield Button(Content(keys.keyed_text("Cancel ({cancel-undo})", key)), id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(self.prepared)

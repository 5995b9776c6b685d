"""Shown instead of the sessions list when the database is not one ocinspect can diagnose."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Center, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Static

from ..format import display_path, one_line
from ..keys import KeyName, keyed, namer
from ..widgets.key_footer import KeyFooter

EXPLANATIONS = {
    "v2": (
        "This OpenCode 2.x database has a shape ocinspect does not know",
        "ocinspect reads OpenCode 2.x databases shaped the way OpenCode 2.1.2 writes them "
        "(session_v2, session_message, an execution claim). This file lacks what its reads "
        "need (details below), so it will not read or write it. Nothing was changed.",
    ),
    "legacy": (
        "This is legacy OpenCode storage (JSON files)",
        "OpenCode 1.1 and older kept sessions as JSON files, not in SQLite. Start a current "
        "OpenCode once: it migrates them into opencode.db, which ocinspect can then inspect.",
    ),
    "foreign": (
        "This is not an OpenCode database",
        "The file is not an OpenCode SQLite database (or it is damaged). Point ocinspect at "
        "opencode.db in OpenCode's data directory with --db, or set OPENCODE_DB.",
    ),
    "missing": (
        "No OpenCode database here",
        "There is no database at this path. Check --db / OPENCODE_DB, or try ocinspect --demo "
        "to see the app on a demo database.",
    ),
}


def explanation(kind: str, db_path: object, detail: str, key: KeyName) -> Content:
    title, text = EXPLANATIONS.get(kind, EXPLANATIONS["foreign"])
    return Content.assemble(
        (title, "bold $warning"),
        "\n\n",
        (display_path(str(db_path)), "bold"),
        "\n\n",
        text,
        "\n\n",
        ("Details: ", "bold"),
        one_line(detail),
        "\n\n",
        keyed("{refresh} checks again · {quit} quits", key),
    )


class UnsupportedScreen(Screen[None]):
    """Read-only by nature: the app refuses every write on such a database."""

    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, kind: str, db_path: object, detail: str) -> None:
        super().__init__()
        self.kind = kind
        self.db_path = db_path
        self.detail = detail

    def compose(self) -> ComposeResult:
        yield Header()
        with Center(id="unsupported-wrap"), Vertical(id="unsupported"):
            yield Static(explanation(self.kind, self.db_path, self.detail, namer(self.app)), id="unsupported-text")
        yield KeyFooter()

"""The friendly panel shown instead of an empty grid: nothing stuck, still scanning, or no data."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from ..format import display_path
from ..keys import KeyName, keyed


def nothing_stuck(db_path: object, *, filtered: bool, show_all: bool, key: KeyName) -> Content:
    if filtered:
        return Content.assemble(
            ("No session matches the filter", "bold"),
            "\n\n",
            keyed("Press {back} to clear the filter.", key, style=""),
        )
    if show_all:
        return Content.assemble(
            ("This database has no sessions", "bold"),
            "\n\n",
            display_path(str(db_path)),
        )
    return Content.assemble(
        ("✓ No stuck sessions", "bold $success"),
        "\n\n",
        "Nothing in ",
        (display_path(str(db_path)), "bold"),
        ' is stuck in a stale "Thinking" state.\n\n',
        keyed("{toggle-all-sessions} lists every session · {refresh} scans again", key),
    )


def scanning(db_path: object) -> Content:
    return Content.assemble(("Scanning…", "bold"), "\n\n", display_path(str(db_path)))


def failed(db_path: object, reason: str, key: KeyName) -> Content:
    return Content.assemble(
        ("Could not read the database", "bold $error"),
        "\n\n",
        display_path(str(db_path)),
        "\n",
        reason,
        "\n\n",
        keyed("{refresh} tries again", key),
    )


class EmptyState(Static):
    """Centred panel; its text is set by the sessions screen."""

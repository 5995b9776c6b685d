"""The footer that always shows how to get help and out: on a narrow terminal it leaves out the
keys that matter least instead of cutting off the right end, where ``? Help`` and ``q Quit`` are.

What it leaves out stays in the help (``?``) and the command palette.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# never left out: the way to every other key, and the way out
ESSENTIAL = frozenset({"help", "quit"})
# left out first, in this order, when the keys do not fit; then the rest from the right
DROP_FIRST = ("recover_all", "toggle_all", "cycle_sort", "open_in_opencode", "filter", "undo")


def key_width(key: FooterKey) -> int:
    """Cells one compact key takes: key, a space and its description, then a margin of 1."""
    words = cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)
    return words + 1


def fitting(keys: list[FooterKey], width: int) -> list[FooterKey]:
    """``keys`` without the least important ones, so that they fit in ``width`` cells."""
    kept = list(keys)
    order = [k for action in DROP_FIRST for k in kept if k.action == action]
    order += [k for k in reversed(kept) if k not in order and k.action not in ESSENTIAL]
    for key in order:
        if sum(map(key_width, kept)) <= width:
            break
        kept.remove(key)
    return kept


class KeyFooter(Footer):
    """Textual's compact footer, fitted to the terminal's width (Textual composes it again when
    the terminal is resized)."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)

    def compose(self) -> ComposeResult:
        widgets: Iterable[Widget] = super().compose()
        keys = list(widgets)
        if all(isinstance(k, FooterKey) for k in keys):  # no binding groups here
            keys = list(fitting([k for k in keys if isinstance(k, FooterKey)], self.app.size.width))
        yield from keys

"""The footer that always shows how to get help and out: on a narrow terminal it leaves out the
keys that matter least instead of cutting off the right end, where ``? Help`` and ``q Quit`` are.

What it leaves out stays in the help (``?``) and the command palette. Its keys are our own
widget (:class:`KeyLabel`), drawn from the screen's public ``active_bindings``: Textual's own
footer key is private to it, and choosing among its keys meant reading that private class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

# never left out: the way to every other key, and the way out
ESSENTIAL = frozenset({"help", "quit"})
# left out first, in this order, when the keys do not fit; then the rest from the right
DROP_FIRST = ("recover_all", "toggle_all", "cycle_sort", "open_in_opencode", "filter", "undo")


class KeyLabel(Widget):
    """One key of the footer and what it does (styled in app.tcss); a click presses the key."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"key-label--key", "key-label--description"}

    def __init__(self, binding: Binding, key_display: str, *, enabled: bool, tooltip: str) -> None:
        super().__init__(classes="" if enabled else "-disabled")
        self.key = binding.key
        self.key_display = key_display
        self.description = binding.description
        self.action = binding.action
        self.enabled = enabled
        self.set_reactive(Widget.shrink, False)
        if tooltip:
            self.tooltip = tooltip

    def render(self) -> Text:
        text = Text.assemble((self.key_display, self.get_component_rich_style("key-label--key")))
        if self.description:
            text.append(" " + self.description, self.get_component_rich_style("key-label--description"))
        text.stylize_before(self.rich_style)
        return text

    def on_mouse_down(self) -> None:
        if self.enabled:
            self.app.simulate_key(self.key)
        else:
            self.app.bell()


def key_width(key: KeyLabel) -> int:
    """Cells one key takes: key, a space and its description, then a margin of 1."""
    words = cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)
    return words + 1


def fitting(keys: list[KeyLabel], width: int) -> list[KeyLabel]:
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
    """A compact footer of the screen's shown keys (one per action, as Textual's), fitted to the
    terminal's width; Textual composes it again when the bindings change or the terminal is resized."""

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
        self._ready = False  # the screen said its bindings are settled (as Textual's footer waits)

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._ready = True
        super().bindings_changed(screen)

    def compose(self) -> ComposeResult:
        if self._ready:
            yield from fitting(list(self._keys()), self.app.size.width)

    def _keys(self) -> Iterable[KeyLabel]:
        shown: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.show and binding.action not in shown:
                shown.add(binding.action)
                yield KeyLabel(
                    binding, self.app.get_key_display(binding), enabled=active.enabled, tooltip=active.tooltip
                )

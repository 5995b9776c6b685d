"""Every key (read from the real ``BINDINGS``, so it cannot drift) and what verdicts and patterns mean."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Static

from inspector.core.db.generation import named
from inspector.core.diagnose.patterns import PATTERNS, VERDICTS, WARNINGS, describe

from ..keys import KeyName, keyed_text, namer
from ..state import app_state
from ..widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from inspector.core.model import Schema

KEY_WIDTH = 16
ID_WIDTH = 20
# templates: ``{binding-id}`` is that binding's key (keys.py)
KEYMAP_NOTE = (
    "Any key can be changed in $XDG_CONFIG_HOME/ocinspect/keymap.toml (default ~/.config/ocinspect/): "
    'a [keymap] table of binding-id = "keys", e.g. recover-session = "x". '
    "The theme is chosen in the command palette ({command-palette}, Theme) and kept."
)
WAY_OUT = "Back from any screen: {detail-back}. Quit: {quit}, or {quit-anywhere} even from a dialog."
RECOVERED = "This app recovered the session in this run; {undo-last-run} undoes the last recovery."
TOOL_ERROR = "TOOL_ERROR"  # replaced by the error the scanned file's generation writes
RECOVERY_NOTE = (
    "Recovery writes what OpenCode itself writes when you abort a turn: stuck tools become "
    f'errors ("{TOOL_ERROR}"), unfinished turns are closed as aborted. A tool is '
    "never marked completed. Every change is journaled outside OpenCode's database first, "
    "so {undo-last-run} restores the exact rows."
)


def key_names(app: App[object], binding: Binding) -> str:
    """Every key of the binding (the footer shows one, ``key_display``; the help says each way)."""
    return " / ".join(app.get_key_display(Binding(key.strip(), binding.action)) for key in binding.key.split(","))


def _table(rows: Iterable[tuple[str, str]], key_width: int = KEY_WIDTH) -> Table:
    """Two columns with a hanging indent; cells are ``Text`` so nothing is parsed as markup."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=key_width, no_wrap=True, style="bold")
    table.add_column(ratio=1)
    for key, text in rows:
        table.add_row(Text(key), Text(text))
    return table


def key_table(app: App[object], bindings: Iterable[BindingType]) -> Table:
    """Key, what it does, and the binding id a keymap file names (dim, last)."""
    table = Table.grid(padding=(0, 2), expand=True)
    table.add_column(width=KEY_WIDTH, no_wrap=True, style="bold")
    table.add_column(ratio=1)
    table.add_column(width=ID_WIDTH, no_wrap=True, style="dim")
    for binding in bindings:
        if isinstance(binding, Binding):
            table.add_row(
                Text(key_names(app, binding)), Text(binding.tooltip or binding.description), Text(binding.id or "")
            )
    return table


def verdict_rows(key: KeyName) -> list[tuple[str, str]]:
    return [*VERDICTS.items(), ("recovered", keyed_text(RECOVERED, key))]


def pattern_table(schema: Schema = "v1") -> Table:
    """Every pattern, in the words of the OpenCode that wrote the scanned file."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=KEY_WIDTH + 6, style="bold")
    table.add_column(ratio=1)
    for pattern in (describe(name, schema) for name in PATTERNS):
        table.add_row(Text(pattern.title), Text.assemble(("Why: ", "bold"), pattern.why))
        table.add_row(Text(""), Text.assemble(("Recovery: ", "bold"), pattern.repair))
    return table


def warning_table() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(width=KEY_WIDTH + 6, style="bold")
    table.add_column(ratio=1)
    for warning in WARNINGS.values():
        table.add_row(Text(warning.title), Text.assemble(("Why: ", "bold"), warning.why))
        table.add_row(Text(""), Text.assemble(("Advice: ", "bold"), warning.advice))
    return table


class HelpScreen(Screen[None]):
    """``?``/``f1`` again, ``escape`` or ``q`` closes it."""

    BINDING_GROUP_TITLE = "Help"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q,question_mark,f1",
            "app.pop_screen",
            "Close",
            key_display="esc",
            id="close-help",
            tooltip="Close the help and go back.",
        ),
    ]

    def __init__(self, groups: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        yield Header()
        key = namer(self.app)
        result = app_state(self).scan_result
        schema: Schema = result.schema if result is not None else "v1"
        with VerticalScroll(id="help"):
            yield Static(
                Content.assemble(("Close this help: ", "bold"), self._close_keys(), ". ", keyed_text(WAY_OUT, key)),
                classes="section help-note",
                id="way-out",
            )
            yield Static(Content("Keys"), classes="section-title")
            for title, bindings in self.groups:
                yield Static(Content(title), classes="help-group")
                yield Static(key_table(self.app, bindings), classes="section")
            yield Static(Content(keyed_text(KEYMAP_NOTE, key)), classes="section help-note")
            yield Static(Content("Verdicts"), classes="section-title")
            yield Static(_table(verdict_rows(key)), classes="section")
            yield Static(Content("Why a session is stuck, and what recovery does"), classes="section-title")
            yield Static(pattern_table(schema), classes="section")
            yield Static(Content("Warnings: risks to know before you continue a session"), classes="section-title")
            yield Static(warning_table(), classes="section")
            note = RECOVERY_NOTE.replace(TOOL_ERROR, named(schema).tool_error)
            yield Static(Content(keyed_text(note, key)), classes="section help-note")
        yield KeyFooter()

    def _close_keys(self) -> str:
        """Every key that closes the help, as the keymap has them (the footer shows only esc)."""
        for _, bindings in self.groups:
            for binding in bindings:
                if isinstance(binding, Binding) and binding.id == "close-help":
                    return key_names(self.app, binding).replace(" / ", ", ")
        return "esc"

    def on_mount(self) -> None:
        self.query_one("#help").focus()

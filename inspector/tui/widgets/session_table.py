"""The sessions grid: one row per session, subagent children indented under their parent.

Cells are ``rich.text.Text`` (a plain ``str`` cell would be parsed as markup by ``DataTable``).
Column widths follow the widget's width, so 80 columns stay readable and wide terminals get an
extra "last activity" column. Badge colours come from component classes styled in ``app.tcss``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from inspector.core.model import Diagnosis, ScanResult
from inspector.core.scan import depth_of
from inspector.core.text import shorten

from ..format import VERDICT_LABELS, elapsed, one_line, pattern_words, project_name, short_time, verdict_of

WIDE = 110  # from this width on, the table also shows "last activity"


@dataclass(frozen=True)
class Row:
    diag: Diagnosis
    depth: int


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


def matches(diag: Diagnosis, query: str) -> bool:
    """Case-insensitive match on what a user remembers: title, directory, id, pattern, command."""
    haystack = [diag.id, diag.session.title, diag.session.directory, *diag.patterns, pattern_words(diag.patterns)]
    haystack += [p.tool for p in diag.stuck_parts] + [p.input_summary for p in diag.stuck_parts]
    needle = query.casefold()
    return any(needle in text.casefold() for text in haystack if text)


def visible_rows(result: ScanResult, query: str = "") -> list[Row]:
    """Rows in the core's tree order; a filter keeps matches plus their ancestors (for context)."""
    rows = [Row(d, depth_of(d, result)) for d in result.sessions]
    if not query.strip():
        return rows
    keep: set[str] = set()
    for row in rows:
        if matches(row.diag, query.strip()):
            keep.add(row.diag.id)
            parent = row.diag.session.parent_id
            while parent and parent not in keep and result.get(parent) is not None:
                keep.add(parent)
                parent = result.get(parent).session.parent_id  # type: ignore[union-attr]
    return [r for r in rows if r.diag.id in keep]


def layout(width: int, rows: Iterable[Row], *, badge: int = 9) -> list[Column]:
    """Column widths for a table ``width`` cells wide (each column adds 2 cells of padding)."""
    rows = list(rows)
    wide = width >= WIDE
    fixed = [Column("verdict", "Verdict", badge), Column("parts", "Parts", 5), Column("stuck", "Stuck for", 9)]
    if wide:
        fixed.append(Column("activity", "Last activity", 13))
    count = len(fixed) + 3
    flexible = max(30, width - 2 - 2 * count - sum(c.width for c in fixed))
    longest_project = max((len(project_name(r.diag.session.directory)) for r in rows), default=7)
    project = min(max(longest_project, 7), 18 if wide else 12)
    longest_pattern = max((len(pattern_words(r.diag.patterns)) for r in rows), default=8)
    patterns = min(max(longest_pattern, 8), max(12, int((flexible - project) * (0.5 if wide else 0.3))))
    title = max(12, flexible - project - patterns)
    return [
        Column("title", "Session", title),
        Column("project", "Project", project),
        fixed[0],
        Column("patterns", "Pattern", patterns),
        *fixed[1:],
    ]


class SessionTable(DataTable[Text]):
    """Sessions with a stale "Thinking" state; ``enter`` (or a click) opens one."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "session-table--stale",
        "session-table--live",
        "session-table--hung",
        "session-table--unknown",
        "session-table--ok",
        "session-table--recovered",
        "session-table--muted",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="open-session",
                tooltip="Open the highlighted session: its stuck tools and what recovery will do."),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self._result: ScanResult | None = None
        self._now = 0
        self._recovered: frozenset[str] = frozenset()
        self._query = ""
        self._rows: list[Row] = []
        self._layout: list[Column] = []

    @property
    def rows_shown(self) -> list[Row]:
        return list(self._rows)

    @property
    def selected_id(self) -> str | None:
        if not self._rows or self.cursor_row < 0 or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row].diag.id

    def show(self, result: ScanResult, *, now: int, recovered: frozenset[str], query: str) -> None:
        """Replace the rows, keeping the cursor on the same session when it is still listed."""
        self._result, self._now, self._recovered, self._query = result, now, recovered, query
        self._rebuild()

    def _rebuild(self) -> None:
        selected = self.selected_id
        old_index = self.cursor_row
        self._rows = visible_rows(self._result, self._query) if self._result else []
        self._layout = layout(self.size.width or 80, self._rows, badge=self._badge_width())
        self.clear(columns=True)
        for column in self._layout:
            self.add_column(column.label, width=column.width, key=column.key)
        self.add_rows([self._cells(row) for row in self._rows])
        if not self._rows:
            return
        ids = [r.diag.id for r in self._rows]
        index = ids.index(selected) if selected in ids else min(max(old_index, 0), len(ids) - 1)
        self.move_cursor(row=index, animate=False)

    def _badge_width(self) -> int:
        labels = [VERDICT_LABELS.get(v, v) for v in (verdict_of(r.diag, self._recovered) for r in self._rows)]
        return max([len("Verdict"), *(len(label) + 2 for label in labels)]) if labels else 9

    def on_resize(self, event: events.Resize) -> None:
        if self._result is not None and layout(event.size.width, self._rows, badge=self._badge_width()) != self._layout:
            self._rebuild()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"session-table--{name}")

    def _cells(self, row: Row) -> list[Text]:
        diag = row.diag
        widths = {c.key: c.width for c in self._layout}
        verdict = verdict_of(diag, self._recovered)
        muted = self._style("muted")
        indent = "  " * (row.depth - 1) + "└ " if row.depth else ""
        title = one_line(diag.session.title) or "(untitled)"
        cells = {
            "title": Text(shorten(indent + title, widths["title"]), no_wrap=True),
            "project": Text(shorten(project_name(diag.session.directory), widths["project"]), no_wrap=True),
            "verdict": Text(f" {VERDICT_LABELS.get(verdict, verdict)} ", style=self._style(verdict)),
            "patterns": Text(shorten(pattern_words(diag.patterns), widths["patterns"]) or "-",
                             style=Style() if diag.is_stuck else muted, no_wrap=True),
            "parts": Text((str(len(diag.stuck_parts)) if diag.is_stuck else "-").rjust(widths["parts"]),
                          style=Style() if diag.stuck_parts else muted),
            "stuck": Text((elapsed(diag.stuck_since, self._now) if diag.is_stuck else "-").rjust(widths["stuck"]),
                          style=Style() if diag.is_stuck else muted),
            "activity": Text(short_time(diag.last_activity), style=muted),
        }
        if not diag.is_stuck:
            cells["title"].stylize(muted)
        return [cells[c.key] for c in self._layout]

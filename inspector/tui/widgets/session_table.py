"""The sessions grid: one row per session, subagent children indented under their parent.

Cells are ``rich.text.Text`` (a plain ``str`` cell would be parsed as markup by ``DataTable``).
Column widths follow the widget's width, so 80 columns stay readable (the "Parts" column gives
its room to the pattern there) and wide terminals get an extra "last activity" column. Badge colours come from component classes styled in ``app.tcss``.
Sorting (``s``/``S`` or a click on a header) sorts siblings and keeps each subagent session
under the session that started it; ties keep the core's order, and the sort outlives refreshes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from inspector.core.diagnose.patterns import describe
from inspector.core.diagnose.scan import depth_of
from inspector.core.model import Diagnosis, ScanResult
from inspector.core.text import shorten

from ..format import VERDICT_LABELS, elapsed, one_line, pattern_words, project_name, short_time, verdict_of
from ..messages import SortChanged

WIDE = 110  # from this width on, the table also shows "last activity"
NARROW = 90  # below this width the "Parts" column gives its room to the pattern (the preview counts parts)
CHAIN = "subagent-chain"
PATTERN_FLOOR = len("Subagent chain +1")  # the pattern column is never narrower (when a row needs it)
DESCENDING_FIRST = frozenset({"parts", "stuck", "activity"})  # most / longest / newest first
VERDICT_RANK = {"hung": 0, "stale": 1, "unknown": 2, "live": 3, "unfixable": 4, "recovered": 5, "ok": 6}


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
            while parent and parent not in keep and (up := result.get(parent)) is not None:
                keep.add(parent)
                parent = up.session.parent_id
    return [r for r in rows if r.diag.id in keep]


@dataclass(frozen=True)
class Sort:
    """``column`` None: the core's tree order. ``descending`` is about the values as shown."""

    column: str | None = None
    descending: bool = False

    @property
    def arrow(self) -> str:
        return "▼" if self.descending else "▲"


SortKey = Callable[[Row], tuple[object, ...]]


def sort_key(column: str, recovered: frozenset[str]) -> SortKey:
    """What a column sorts by: what it shows (a duration by its length, "-" below any value)."""
    keys: dict[str, SortKey] = {
        "title": lambda r: (one_line(r.diag.session.title).casefold() or "(untitled)",),
        "project": lambda r: (project_name(r.diag.session.directory).casefold(),),
        "verdict": lambda r: (VERDICT_RANK.get(verdict_of(r.diag, recovered), len(VERDICT_RANK)),),
        "patterns": lambda r: (
            bool(r.diag.is_stuck and r.diag.patterns),
            pattern_words(r.diag.patterns).casefold() if r.diag.is_stuck else "",
        ),
        "parts": lambda r: (len(r.diag.stuck_parts) if r.diag.is_stuck else -1,),
        "stuck": lambda r: (1, -r.diag.stuck_since) if r.diag.is_stuck and r.diag.stuck_since is not None else (0, 0),
        "activity": lambda r: (r.diag.last_activity or 0,),
    }
    return keys[column]


SORT_COLUMNS = ("title", "project", "verdict", "patterns", "parts", "stuck", "activity")  # sort_key's


def sort_rows(rows: list[Row], key: SortKey, descending: bool) -> list[Row]:
    """Sort siblings (stable: ties keep the given order); children stay right under their parent.

    The rows come in tree order; each row's parent is the nearest row above it that is less deep.
    Walked with a stack, not recursion: a subagent chain can be thousands of sessions deep."""
    children: dict[int, list[int]] = {-1: []}
    above: list[int] = []  # the rows the next one may hang under, shallowest first
    for i, row in enumerate(rows):
        while above and rows[above[-1]].depth >= row.depth:
            above.pop()
        children.setdefault(above[-1] if above else -1, []).append(i)
        above.append(i)
    ordered: list[Row] = []
    stack = [iter(sorted(children[-1], key=lambda i: key(rows[i]), reverse=descending))]
    while stack:
        at = next(stack[-1], None)
        if at is None:
            stack.pop()
            continue
        ordered.append(rows[at])
        if at in children:
            stack.append(iter(sorted(children[at], key=lambda c: key(rows[c]), reverse=descending)))
    return ordered


def mark_sorted(columns: list[Column], sort: Sort) -> list[Column]:
    """The sorted column's label gets its arrow; if it needs room, the title column gives it."""
    if sort.column is None:
        return columns
    out = list(columns)
    for index, column in enumerate(out):
        if column.key == sort.column:
            label = f"{column.label} {sort.arrow}"
            grow = max(0, len(label) - column.width)
            out[index] = replace(column, label=label, width=column.width + grow)
            if grow and index and out[0].key == "title":
                out[0] = replace(out[0], width=max(12, out[0].width - grow))
    return out


def layout(width: int, rows: Iterable[Row], *, badge: int = 9) -> list[Column]:
    """Column widths for a table ``width`` cells wide (each column adds 2 cells of padding)."""
    rows = list(rows)
    wide = width >= WIDE
    fixed = [Column("verdict", "Verdict", badge), Column("parts", "Parts", 5), Column("stuck", "Stuck for", 9)]
    if width < NARROW:
        del fixed[1]
    if wide:
        fixed.append(Column("activity", "Last activity", 13))
    count = len(fixed) + 3
    flexible = max(30, width - 2 - 2 * count - sum(c.width for c in fixed))
    longest_project = max((len(project_name(r.diag.session.directory)) for r in rows), default=7)
    project = min(max(longest_project, 7), 18 if wide else 12)
    longest_pattern = max((len(pattern_words(r.diag.patterns)) for r in rows), default=8)
    patterns = min(max(longest_pattern, 8), max(PATTERN_FLOOR, int((flexible - project) * (0.5 if wide else 0.3))))
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
        "session-table--waiting",
        "session-table--unknown",
        "session-table--unfixable",
        "session-table--ok",
        "session-table--recovered",
        "session-table--muted",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "select_cursor",
            "Open",
            id="open-session",
            tooltip="Open the highlighted session: its stuck tools and what recovery will do.",
        ),
        Binding(
            "s",
            "cycle_sort",
            "Sort",
            id="sort-column",
            tooltip="Sort by the next column (a click on a header sorts by it); after the last, "
            "back to the scan's order.",
        ),
        Binding(
            "S",
            "reverse_sort",
            "Reverse sort",
            show=False,
            id="sort-reverse",
            tooltip="Reverse the sort (a second click on the sorted header does the same).",
        ),
        # the timeline's and the part pager's keys, so one set of keys moves everywhere
        Binding("j", "cursor_down", "Down", show=False, id="list-down", tooltip="Next session."),
        Binding("k", "cursor_up", "Up", show=False, id="list-up", tooltip="Previous session."),
        Binding("home,g", "scroll_top", "First", show=False, id="list-first", tooltip="The first session."),
        Binding("end,G", "scroll_bottom", "Last", show=False, id="list-last", tooltip="The last session."),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, id=id)
        self._result: ScanResult | None = None
        self._now = 0
        self._recovered: frozenset[str] = frozenset()
        self._query = ""
        self._rows: list[Row] = []
        self._shown_cells: list[list[Text]] = []
        self._layout: list[Column] = []
        self._layout_width = 0
        self._cell_cache: dict[str, tuple[tuple[object, ...], list[Text]]] = {}
        self._sort = Sort()

    @property
    def sorting(self) -> Sort:
        return self._sort

    def sort_by(self, column: str | None, descending: bool | None = None, *, announce: bool = True) -> None:
        """Sort by ``column`` (None: the scan's order); ``descending`` None: the column's usual way.
        ``announce``: post ``SortChanged`` (the app saves it); not for the saved sort restored."""
        if descending is None:
            descending = column in DESCENDING_FIRST
        self._sort = Sort(column, descending)
        if announce:
            self.post_message(SortChanged(column, descending))
        if self._result is not None:
            self._rebuild()

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in self._layout] or ["title"]
        current = self._sort.column
        following = keys[keys.index(current) + 1] if current in keys and current != keys[-1] else None
        self.sort_by(keys[0] if current is None else following)

    def action_reverse_sort(self) -> None:
        if self._sort.column is None:
            self.sort_by(self._layout[0].key if self._layout else "title", descending=True)
        else:
            self.sort_by(self._sort.column, not self._sort.descending)

    @on(DataTable.HeaderSelected)
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        if column == self._sort.column:
            self.action_reverse_sort()
        else:
            self.sort_by(column)

    @property
    def rows_shown(self) -> list[Row]:
        return list(self._rows)

    @property
    def selected_id(self) -> str | None:
        if not self._rows or self.cursor_row < 0 or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row].diag.id

    def show(
        self, result: ScanResult, *, now: int, recovered: frozenset[str], query: str, refreshed: bool = False
    ) -> None:
        """Replace the rows, keeping the cursor on the same session when it is still listed.

        ``refreshed``: the same view brought up to date by watch mode; the column widths stay
        (a session whose pattern changes every few seconds must not make the table jitter).
        """
        same_view = refreshed and self._result is not None and (recovered, query) == (self._recovered, self._query)
        self._result, self._now, self._recovered, self._query = result, now, recovered, query
        self._rebuild(keep_layout=same_view)

    def tick(self, now: int) -> None:
        """The clock moved: only the "Stuck for" cells whose words changed are redrawn, O(rows),
        from the rows already shown (no scan, no re-sort: the order depends on no clock)."""
        self._now = now
        column = next((i for i, c in enumerate(self._layout) if c.key == "stuck"), None)
        if column is None:
            return
        for index, row in enumerate(self._rows):
            if not row.diag.is_stuck:
                continue
            cell = self._cached_cells(row, self._layout)[column]
            shown = self._shown_cells[index]
            if not _same(cell, shown[column]):
                self.update_cell(row.diag.id, "stuck", cell)
                # a copy: the shown list may be the cache's, and the title cell must stay the object shown
                self._shown_cells[index] = [*shown[:column], cell, *shown[column + 1 :]]

    def _rebuild(self, keep_layout: bool = False) -> None:
        """Show the current rows. A watch-mode refresh usually adds or drops a row or changes a
        few cells: then only those are touched, because a DataTable rebuilt from scratch measures
        every cell again (the difference between ~10 and ~60 ms per refresh on a big list)."""
        selected = self.selected_id
        old_index = self.cursor_row
        rows = visible_rows(self._result, self._query) if self._result else []
        if self._sort.column is not None:
            rows = sort_rows(rows, sort_key(self._sort.column, self._recovered), self._sort.descending)
        width = self.size.width or 80
        columns = mark_sorted(layout(width, rows, badge=self._badge_width(rows)), self._sort)
        if keep_layout and columns != self._layout and self._still_fits(width, rows):
            columns = self._layout
        cells = [self._cached_cells(row, columns) for row in rows]
        stored = self._patch(rows, cells) if columns == self._layout and self.columns else None
        if stored is None:
            self._layout, self._layout_width = columns, width
            self.clear(columns=True)
            for column in columns:
                self.add_column(column.label, width=column.width, key=column.key)
            for row, row_cells in zip(rows, cells, strict=True):
                self.add_row(*row_cells, key=row.diag.id)
            stored = cells
        self._rows, self._shown_cells = rows, stored
        if not rows:
            return
        ids = [r.diag.id for r in rows]
        index = ids.index(selected) if selected in ids else min(max(old_index, 0), len(ids) - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    def _patch(self, rows: list[Row], cells: list[list[Text]]) -> list[list[Text]] | None:
        """Turn the shown rows into ``rows`` in place: remove, add, update changed cells, reorder.

        Returns the cells the table now holds (unchanged ones are the objects already shown), or
        None when a rebuild is simpler (many rows come or go).
        """
        old = {r.diag.id: i for i, r in enumerate(self._rows)}
        keys = [r.diag.id for r in rows]
        gone = old.keys() - set(keys)
        if len(gone) + sum(1 for k in keys if k not in old) > max(8, len(keys) // 4):
            return None
        for key in gone:
            self.remove_row(key)
        stored: list[list[Text]] = []
        for key, row_cells in zip(keys, cells, strict=True):
            if key not in old:
                self.add_row(*row_cells, key=key)
                stored.append(row_cells)
                continue
            kept: list[Text] = []
            for column, cell, was in zip(self._layout, row_cells, self._shown_cells[old[key]], strict=True):
                if _same(cell, was):
                    kept.append(was)
                else:
                    self.update_cell(key, column.key, cell)
                    kept.append(cell)
            stored.append(kept)
        if self._order() != keys:
            # DataTable appends new rows and cannot insert: sort by where each title cell (the
            # very object the table holds) belongs
            position = {id(row_cells[0]): index for index, row_cells in enumerate(stored)}
            self.sort(self._layout[0].key, key=lambda title: position.get(id(title), len(position)))
            if self._order() != keys:
                return None
        return stored

    def _still_fits(self, width: int, rows: list[Row]) -> bool:
        """The shown columns suit ``rows`` too: same width and badge, and only a few rows come or
        go (otherwise a fresh layout is better). A longer title, project or pattern than before
        is shortened with "…" like any other (the preview and the detail show it in full)."""
        if not self._layout or width != self._layout_width:
            return False
        if self._badge_width(rows) != {c.key: c.width for c in self._layout}.get("verdict"):
            return False
        before = {r.diag.id for r in self._rows}
        return len(before.symmetric_difference(r.diag.id for r in rows)) <= max(8, len(rows) // 4)

    def update_cell(
        self, row_key: RowKey | str, column_key: ColumnKey | str, value: Text, *, update_width: bool = False
    ) -> None:
        """Like DataTable's, but repaint only that row: DataTable repaints every visible line
        (~40 lines of Rich rendering on a tall terminal) for one changed cell, and watch mode
        changes a few cells every couple of seconds. Falls back to DataTable's own otherwise."""
        try:
            index = self.get_row_index(row_key)
            self.get_column_index(column_key)
            if update_width:
                raise AttributeError
            row = RowKey(row_key) if isinstance(row_key, str) else row_key  # as DataTable.update_cell does
            column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
            self._data[row][column] = value
            self._update_count += 1  # the row caches are keyed by it
        except AttributeError:
            super().update_cell(row_key, column_key, value, update_width=update_width)
            return
        self.refresh_row(index)

    def _order(self) -> list[str]:
        return [str(row.key.value) for row in self.ordered_rows]

    def _badge_width(self, rows: list[Row]) -> int:
        labels = [VERDICT_LABELS.get(v, v) for v in (verdict_of(r.diag, self._recovered) for r in rows)]
        return max([len("Verdict"), *(len(label) + 2 for label in labels)])

    def on_resize(self, event: events.Resize) -> None:
        # the columns depend on the width only (the preview below may change the height)
        if self._result is not None and event.size.width != self._layout_width:
            self._rebuild()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"session-table--{name}")

    def _cached_cells(self, row: Row, columns: list[Column]) -> list[Text]:
        """A row's cells, reused while nothing they show changed (a refresh keeps most rows)."""
        diag = row.diag
        key = (
            diag,
            row.depth,
            verdict_of(diag, self._recovered),
            tuple(columns),
            elapsed(diag.stuck_since, self._now) if diag.is_stuck else "-",
        )
        cached = self._cell_cache.get(diag.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        cells = self._cells(row, columns)
        self._cell_cache[diag.id] = (key, cells)
        return cells

    def notify_style_update(self) -> None:
        self._cell_cache.clear()  # badge colours come from component classes (the theme)
        super().notify_style_update()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        """The cells hold their badge styles: a new theme builds them again, in its colours."""
        self._cell_cache.clear()
        if self._result is not None:
            self.clear(columns=True)
            self._layout = []
            self._rebuild()

    def _cells(self, row: Row, columns: list[Column]) -> list[Text]:
        diag = row.diag
        widths = {c.key: c.width for c in columns}
        verdict = verdict_of(diag, self._recovered)
        muted = self._style("muted")
        indent = "  " * (row.depth - 1) + "└ " if row.depth else ""
        title = one_line(diag.session.title) or "(untitled)"
        cells = {
            "title": Text(shorten(indent + title, widths["title"]), no_wrap=True),
            "project": Text(shorten(project_name(diag.session.directory), widths["project"]), no_wrap=True),
            "verdict": Text(f" {VERDICT_LABELS.get(verdict, verdict)} ", style=self._style(verdict)),
            "patterns": Text(
                pattern_text(diag.patterns, widths["patterns"]) or "-",
                style=Style() if diag.is_stuck else muted,
                no_wrap=True,
            ),
            "parts": Text(
                (str(len(diag.stuck_parts)) if diag.is_stuck else "-").rjust(widths.get("parts", 5)),
                style=Style() if diag.stuck_parts else muted,
            ),
            "stuck": Text(
                (elapsed(diag.stuck_since, self._now) if diag.is_stuck else "-").rjust(widths["stuck"]),
                style=Style() if diag.is_stuck else muted,
            ),
            "activity": Text(short_time(diag.last_activity), style=muted),
        }
        if not diag.is_stuck:
            cells["title"].stylize(muted)
        return [cells[c.key] for c in columns]


def pattern_text(patterns: tuple[str, ...], width: int) -> str:
    """The patterns' words in ``width`` cells. When several do not fit: the first and how many
    more, the subagent chain first (it says the row is recovered together with others)."""
    words = pattern_words(patterns)
    if len(words) <= width or len(patterns) < 2:
        return shorten(words, width)
    first = CHAIN if CHAIN in patterns else patterns[0]
    return shorten(f"{describe(first).title} +{len(patterns) - 1}", width)


def _same(a: Text, b: Text) -> bool:
    """Cells look the same (``Text.__eq__`` ignores the base style, which carries the badge)."""
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans

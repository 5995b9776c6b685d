"""The turn's story of one session and its subagent chain, one row per part, the stop marked.

Read in a worker through ``core.diagnose.timeline`` (two index reads per session), re-read when
the app's scan result changes and, in watch mode, when the file changes. ``enter`` on a part
opens ``PartScreen``, which fetches that part whole (only then). Every row is built from
``render_timeline``'s plain, sanitised lines wrapped in ``Content``: nothing is parsed as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, OptionList, Static
from textual.widgets.option_list import Option

from inspector.core.db.filewatch import Signature, file_signature
from inspector.core.db.store import open_store
from inspector.core.diagnose.timeline import (
    DEFAULT_TURNS,
    Entry,
    PartDetail,
    SessionTimeline,
    Timeline,
    TurnMessage,
    part_detail,
    read_timeline,
)
from inspector.core.errors import InspectorError
from inspector.core.text import humanize_ms, printable
from inspector.render_timeline import (
    STOP_MARK,
    clock,
    entry_details,
    entry_head,
    message_end,
    message_head,
    prompt_details,
    session_head,
    shown_entries,
    stop_line,
)

from ..format import one_line
from ..state import AppState, app_state
from ..widgets.hanging import Hanging
from ..widgets.key_footer import KeyFooter

PAGER_OUTPUT_CAP = 200_000  # characters of an output drawn in the pager (its tail)


@dataclass
class TimelineRead(Message):
    """A worker read the story (or could not: ``error``)."""

    timeline: Timeline | None
    signature: Signature | None
    error: str = ""


@dataclass
class PartRead(Message):
    detail: PartDetail | None
    error: str = ""


class StoryList(OptionList):
    """The rows; ``j``/``k`` move like the arrows, ``g``/``G`` like ``home``/``end`` (as in the list)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, id="timeline-down", tooltip="Next row."),
        Binding("k", "cursor_up", "Up", show=False, id="timeline-up", tooltip="Previous row."),
        Binding("home,g", "first", "First", show=False, id="timeline-first", tooltip="The first row."),
        Binding(
            "end,G", "last", "Last", show=False, id="timeline-last", tooltip="The last row (where the story ends)."
        ),
        Binding(
            "enter",
            "select",
            "Expand",
            id="timeline-expand",
            tooltip="Open the highlighted part whole: its full input and output.",
        ),
    ]


def _entry_content(entry: Entry, now: int, pad: str) -> Content:
    head = entry_head(entry, now)
    if entry.stuck:
        first = Content.styled(f"{pad}{STOP_MARK} {head}", "bold $text-error")
    elif entry.kind == "tool":
        style = "$text-error" if entry.status == "error" else ""
        first = Content.assemble(f"{pad}  ", Content.styled(head, style) if style else Content(head))
    elif entry.kind in ("step-start", "step-finish"):
        first = Content.styled(f"{pad}  {head}", "$text-muted")
    else:
        first = Content(f"{pad}  {head}")
    details = [Content.styled(f"{pad}      {t}", "$text-muted") for t in entry_details(entry)]
    return Content("\n").join([first, *details])


def _message_content(message: TurnMessage, pad: str) -> Content:
    head = message_head(message)
    if message.role == "user":
        lines = [
            Content.styled(f"{pad}{head}", "bold $accent"),
            *(Content(f"{pad}       {t}") for t in prompt_details(message)),
        ]
        return Content("\n").join(lines)
    return Content.styled(f"{pad}{head}", "bold")


def _row(content: Content, id: str) -> Option:
    """A row whose wrapped lines stay under its text (its depth and bullet)."""
    return Option(Hanging(content), id=id)


def story_options(timeline: Timeline) -> list[Option]:
    """One option per session head, message, part, message end and stop (ids say which)."""
    now = timeline.read_at
    options: list[Option] = []
    for story in timeline.sessions:
        pad = "  " * story.depth
        sid = story.session.id
        options.append(_row(Content.styled(pad + session_head(story), "bold $primary"), id=f"s:{sid}"))
        if story.truncated:
            options.append(
                _row(
                    Content.styled(f"{pad}  … older messages of this turn not shown", "$text-muted"),
                    id=f"n:{sid}:truncated",
                )
            )
        for index, turn in enumerate(story.turns):
            if turn.prompt is None:
                options.append(
                    _row(
                        Content.styled(f"{pad}  (the turn began before the messages shown)", "$text-muted"),
                        id=f"n:{sid}:{index}",
                    )
                )
            for message in turn.messages:
                options.append(_row(_message_content(message, pad + "  "), id=f"m:{message.id}"))
                for entry in shown_entries(message):
                    options.append(_row(_entry_content(entry, now, pad + "  "), id=f"p:{entry.id}"))
                end = message_end(message)
                if end:
                    style = "$text-warning" if message.unfinished or message.error_name else "$text-muted"
                    options.append(_row(Content.styled(f"{pad}    {end}", style), id=f"e:{message.id}"))
                if story.stop is not None and story.stop.message_id == message.id:
                    options.append(
                        _row(
                            Content.styled(
                                f"{pad}  {stop_line(story.stop, now)}", "bold $text-warning on $warning-muted"
                            ),
                            id=f"stop:{sid}",
                        )
                    )
        if story.stop is None and story.turns:
            options.append(
                _row(
                    Content.styled(f"{pad}  (the last turn finished: nothing is stuck here)", "$text-success"),
                    id=f"n:{sid}:done",
                )
            )
    return options


def stop_option(timeline: Timeline) -> str | None:
    """The row to start on: the main session's stuck part, else its stop line."""
    story: SessionTimeline = timeline.main
    if story.stop is None:
        return None
    if story.stop.part_ids:
        return f"p:{story.stop.part_ids[-1]}"
    return f"stop:{story.session.id}"


class TimelineScreen(Screen[None]):
    """``escape`` back to the detail; ``enter`` on a part opens it whole."""

    BINDING_GROUP_TITLE = "Timeline"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="timeline-back", tooltip="Return to the session detail."),
        Binding("s", "stop", "Stop point", id="timeline-stop", tooltip="Jump to where the session stopped."),
    ]

    def __init__(self, session_id: str, *, turns: int = DEFAULT_TURNS) -> None:
        super().__init__()
        self.session_id = session_id
        self.turns = turns
        self.timeline: Timeline | None = None
        self._signature: Signature | None = None
        self._first = True

    @property
    def selected_session_id(self) -> str:
        return self.session_id

    @property
    def state(self) -> AppState:
        return app_state(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Content("Reading the story…"), id="timeline-head")
        yield StoryList(id="timeline")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "scan_result", self._reload, init=False)
        interval = self.state.config.watch_interval
        if interval:
            self.set_interval(interval, self._poll, name="timeline-watch")
        self.query_one(StoryList).focus()
        self._reload()

    def _reload(self, _value: object = None) -> None:
        self._read()

    def _poll(self) -> None:
        if self._signature is not None and file_signature(self.state.config.db_path) != self._signature:
            self._read()

    @work(thread=True, exclusive=True, group="timeline", exit_on_error=False, description="read the timeline")
    def _read(self) -> None:
        config = self.state.config
        try:
            signature = file_signature(config.db_path)
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
            try:
                story = read_timeline(store, self.session_id, turns=self.turns, now=config.now())
            finally:
                store.dispose()
        except InspectorError as exc:
            self.post_message(TimelineRead(None, None, str(exc)))
            return
        self.post_message(TimelineRead(story, signature))

    @on(TimelineRead)
    def _show(self, event: TimelineRead) -> None:
        head = self.query_one("#timeline-head", Static)
        if event.timeline is None:
            head.update(Content.styled(printable(event.error), "$text-error"))
            return
        self._signature = event.signature
        if event.timeline == self.timeline:
            return
        self.timeline = event.timeline
        head.update(self._head(event.timeline))
        rows = self.query_one(StoryList)
        keep = rows.highlighted_option.id if rows.highlighted_option is not None and not self._first else None
        rows.clear_options()
        rows.add_options(story_options(event.timeline))
        target = keep or stop_option(event.timeline)
        self._first = False
        self._highlight(target)

    def _highlight(self, option_id: str | None) -> None:
        rows = self.query_one(StoryList)
        if rows.option_count == 0:
            return
        try:
            index = rows.get_option_index(option_id) if option_id else rows.option_count - 1
        except Exception:  # the row is gone after a re-read: the end of the story
            index = rows.option_count - 1
        rows.highlighted = index
        rows.scroll_to_highlight(top=False)

    def _head(self, timeline: Timeline) -> Content:
        story = timeline.main
        title = one_line(story.session.title) or "(untitled)"
        chain = f" · {len(timeline.sessions)} sessions in its subagent chain" if len(timeline.sessions) > 1 else ""
        if story.stop is None:
            where = Content.styled("its last turn finished", "$text-success")
        else:
            since = f" {humanize_ms(timeline.read_at - story.stop.since)} ago" if story.stop.since else ""
            where = Content.styled(f"{STOP_MARK} stopped{since}: {one_line(story.stop.reason)}", "bold $text-warning")
        return Content("\n").join(
            [
                Content.assemble(
                    (title, "bold"),
                    f"  · the last {timeline.turns} turn(s){chain} · read {clock(timeline.read_at)} UTC",
                ),
                where,
            ]
        )

    def action_stop(self) -> None:
        if self.timeline is not None:
            self._highlight(stop_option(self.timeline))

    def action_expand(self) -> None:
        rows = self.query_one(StoryList)
        option = rows.highlighted_option
        if option is None or option.id is None or not option.id.startswith("p:"):
            self.notify("Only a part opens whole: move to a tool, text or step row.", severity="warning", markup=False)
            return
        self.app.push_screen(PartScreen(option.id[2:]))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_expand()


class PartScreen(Screen[None]):
    """One part whole, like a pager: scroll with ``j``/``k``, ``home``/``end``, ``escape`` back."""

    BINDING_GROUP_TITLE = "Part"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q", "app.pop_screen", "Back", key_display="esc", id="part-back", tooltip="Return to the timeline."
        ),
        Binding("j", "scroll('down')", "Down", show=False, id="part-down", tooltip="Scroll down."),
        Binding("k", "scroll('up')", "Up", show=False, id="part-up", tooltip="Scroll up."),
        Binding("home,g", "scroll('home')", "Top", show=False, id="part-top", tooltip="The beginning."),
        Binding(
            "end,G", "scroll('end')", "End", show=False, id="part-end", tooltip="The end (the output's last lines)."
        ),
    ]

    def __init__(self, part_id: str) -> None:
        super().__init__()
        self.part_id = part_id

    @property
    def state(self) -> AppState:
        return app_state(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Static(Content("Reading the part…"), id="part-text"), id="part-pager")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#part-pager").focus()
        self._read()

    @work(thread=True, exclusive=True, group="part", exit_on_error=False, description="read the part")
    def _read(self) -> None:
        config = self.state.config
        try:
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
            try:
                detail = part_detail(store, self.part_id)
            finally:
                store.dispose()
        except InspectorError as exc:
            self.post_message(PartRead(None, str(exc)))
            return
        self.post_message(PartRead(detail, "" if detail else f"part {self.part_id} is gone"))

    @on(PartRead)
    def _show(self, event: PartRead) -> None:
        text = self.query_one("#part-text", Static)
        if event.detail is None:
            text.update(Content.styled(printable(event.error), "$text-error"))
            return
        text.update(pager_content(event.detail))

    def action_scroll(self, where: str) -> None:
        pager = self.query_one("#part-pager", VerticalScroll)
        {"down": pager.scroll_down, "up": pager.scroll_up, "home": pager.scroll_home, "end": pager.scroll_end}[where](
            animate=False
        )


def _section(title: str) -> Content:
    return Content.styled(title, "bold $primary")


def pager_content(detail: PartDetail) -> Content:
    """The part whole: what it is, its input, error, text and output (each sanitised)."""
    what = " ".join(one_line(v) for v in (detail.tool or detail.kind, detail.status) if v)
    lines: list[Content] = [
        Content.assemble((what, "bold"), ("  part " + one_line(detail.id), "$text-muted")),
        Content.styled(f"message {one_line(detail.message_id)} · session {one_line(detail.session_id)}", "$text-muted"),
    ]
    if detail.corrupt:
        lines.append(Content.styled("This part's JSON is corrupt: ocinspect shows nothing of it.", "$text-error"))
        return Content("\n").join(lines)
    if detail.title:
        lines.append(Content.assemble(("title  ", "bold"), one_line(detail.title)))
    if detail.input_json:
        cut = (
            f" (first {len(detail.input_json)} of {detail.input_chars} chars)"
            if detail.input_chars > len(detail.input_json)
            else ""
        )
        lines += [Content(""), _section("input" + cut), Content(printable(detail.input_json))]
    if detail.error:
        lines += [Content(""), _section("error"), Content.styled(printable(detail.error), "$text-error")]
    if detail.text:
        cut = (
            f" (first {len(detail.text)} of {detail.text_chars} chars)" if detail.text_chars > len(detail.text) else ""
        )
        lines += [Content(""), _section("text" + cut), Content(printable(detail.text))]
    if detail.output or detail.kind == "tool":
        output = detail.output[-PAGER_OUTPUT_CAP:]
        cut = f" (last {len(output)} of {detail.output_chars} chars)" if detail.output_chars > len(output) else ""
        lines += [Content(""), _section("output" + cut), Content(printable(output) or "(no output)")]
    return Content("\n").join(lines)

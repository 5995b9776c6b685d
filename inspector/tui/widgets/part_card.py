"""One stuck tool part in the detail screen: tool, status, times, input, title, last output."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from inspector.core.model import Part
from inspector.core.text import local_time, printable

from ..format import elapsed, one_line
from .session_link import SessionLink

OUTPUT_LINES = 12
INPUT_LINES = 14


def _tail(text: str, lines: int) -> str:
    rows = printable(text).rstrip("\n").splitlines()
    if len(rows) > lines:
        rows = ["…", *rows[-lines:]]
    return "\n".join(rows)


def part_header(part: Part, now: int) -> Content:
    started = part.started
    if started is None:
        when = f"created {local_time(part.time_created)} · never started (no start time)"
    else:
        when = f"started {local_time(started)} · for {elapsed(started, now)}"
    status_style = "bold $warning" if part.status == "running" else "bold $error"
    return Content.assemble(
        (one_line(part.tool), "bold"),
        "  ",
        (f" {one_line(part.status)} ", status_style),
        "  ",
        when,
    )


def shows_input_json(part: Part) -> bool:
    """Bash shows its command; other tools show their whole input (it is what they were doing)."""
    return bool(part.input_json) and not (part.tool == "bash" and part.input_summary)


def part_body(part: Part) -> Content:
    lines: list[Content] = []
    if part.title:
        lines.append(Content.assemble(("title   ", "bold"), one_line(part.title)))
    if part.tool == "bash" and part.input_summary:
        lines.append(Content.assemble(("command ", "bold"), ("$ " + one_line(part.input_summary), "$accent")))
    elif part.input_summary and not shows_input_json(part):
        lines.append(Content.assemble(("input   ", "bold"), one_line(part.input_summary)))
    elif part.status == "pending":
        lines.append(
            Content.assemble(
                ("input   ", "bold"),
                "none: OpenCode stopped while the model was still sending the arguments",
            )
        )
    if part.message_completed:
        lines.append(Content.assemble(("turn    ", "bold"), "already finished; only this tool is left open"))
    lines.append(
        Content.assemble(
            ("ids     ", "bold"),
            (f"part {one_line(part.id)} · message {one_line(part.message_id)}", "$foreground-muted"),
        )
    )
    return Content("\n").join(lines)


class PartCard(Vertical):
    """A bordered card; ``task`` parts link to their child session."""

    def __init__(self, part: Part, *, now: int, child_title: str | None = None) -> None:
        super().__init__(classes="part-card")
        self.part = part
        self.now = now
        self.child_title = child_title

    def compose(self) -> ComposeResult:
        part = self.part
        yield Static(part_header(part, self.now), classes="part-header")
        yield Static(part_body(part), classes="part-body")
        if shows_input_json(part):
            yield Static(Content("input"), classes="part-label")
            yield Static(Content(_tail(part.input_json, INPUT_LINES)), classes="part-input")
        if part.output_tail.strip():
            yield Static(Content("last output"), classes="part-label")
            yield Static(Content(_tail(part.output_tail, OUTPUT_LINES)), classes="part-output")
        if part.child_session_id:
            label = self.child_title or part.child_session_id
            inferred = " (inferred)" if part.child_inferred else ""
            yield SessionLink(part.child_session_id, f"→ subagent session: {label}{inferred}")

"""One session in full: why it is stuck, what recovery will do, the unfinished turns and tools."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Header, Static

from inspector.core.db.generation import named
from inspector.core.diagnose.asked import status_words
from inspector.core.diagnose.patterns import VERDICTS, describe, describe_warning
from inspector.core.errors import InspectorError
from inspector.core.model import Diagnosis, ScanResult, Schema
from inspector.core.repair.answer import waits
from inspector.core.text import local_time

from ..format import asked_lines, display_path, elapsed, one_line, plural, verdict_of
from ..keys import KeyName, keyed, keyed_text, namer
from ..messages import ContinueInOpenCode, RequestAnswer, RequestRecovery
from ..state import AppState, app_state
from ..widgets import PartCard, SessionLink
from ..widgets.hanging import Hanging
from ..widgets.key_footer import KeyFooter
from .timeline import TimelineScreen


def _section(title: str) -> Static:
    return Static(Content(title), classes="section-title")


def head_content(diag: Diagnosis, result: ScanResult, recovered: frozenset[str], *, stuck: bool = True) -> Content:
    """Title, badge and where the session lives; ``stuck=False`` once a rescan no longer lists it."""
    verdict = verdict_of(diag, recovered) if stuck else ("recovered" if diag.id in recovered else "ok")
    session = diag.session
    lines = [
        Content.assemble(
            (one_line(session.title) or "(untitled)", "bold"),
            "  ",
            (f" {verdict} ", f"bold reverse {_VERDICT_STYLE.get(verdict, '')}".strip()),
        ),
        Content.assemble(("session  ", "bold"), one_line(session.id)),
        Content.assemble(("project  ", "bold"), display_path(session.directory)),
        Content.assemble(
            ("created  ", "bold"),
            local_time(session.time_created),
            ("   last activity  ", "bold"),
            local_time(diag.last_activity),
        ),
    ]
    if session.parent_id:
        parent = result.get(session.parent_id)
        label = one_line(parent.session.title) if parent else one_line(session.parent_id)
        lines.append(Content.assemble(("parent   ", "bold"), f"{label} (this is a subagent session)"))
    return Content("\n").join(lines)


_VERDICT_STYLE = {
    "stale": "$warning",
    "live": "$success",
    "hung": "$error",
    "waiting": "$accent",
    "unknown": "$secondary",
    "unfixable": "$error",
    "recovered": "$success",
}


def why_content(diag: Diagnosis, now: int, schema: Schema = "v1") -> Content:
    lines: list[Content] = []
    hung = diag.verdict == "hung"
    waiting = diag.verdict == "waiting"
    if hung:  # OpenCode did not crash: the crash-shaped pattern texts would mislead here
        kind = {
            "model-stalled": " (model stalled)",
            "retry-loop": " (retry loop)",
            "resume-loop": " (resume loop)",
        }.get(diag.hang or "", "")
        lines.append(Content.assemble((f"● Hung in a live OpenCode{kind}", "bold"), "  ", one_line(diag.live_reason)))
    if waiting:
        lines.append(
            Content.assemble(
                ("● Waiting for your answer", "bold"),
                "  OpenCode asks a person and does nothing until someone answers (not hung, not crashed):",
            )
        )
        lines += [Content.assemble(("  ▸ ", "bold $accent"), text) for text in asked_lines(diag, now)]
        if not diag.waiting_on:
            lines.append(Content.assemble("  ", one_line(diag.live_reason)))
    if diag.opencode_status is not None and (hung or diag.opencode_status.type == "retry"):
        lines.append(Content.assemble(("OpenCode status  ", "bold"), one_line(status_words(diag.opencode_status, now))))
    for name in diag.patterns:
        if (hung or waiting) and name != "subagent-chain":
            continue
        pattern = describe(name, schema)
        lines.append(Content.assemble(("● " + pattern.title, "bold"), "  ", pattern.why))
    if diag.next_step:
        lines.append(Content.assemble(("Next  ", "bold"), one_line(diag.next_step)))
    if diag.stuck_since is not None:
        lines.append(Content(f"Stuck for {elapsed(diag.stuck_since, now)} (since {local_time(diag.stuck_since)})."))
    return Content("\n").join(lines)


HUNG_REMEDY = (
    "Abort through OpenCode: the running tool is killed, and OpenCode itself closes the turns "
    "of the whole subagent chain. ocinspect writes no row (nothing behind a live server's back)."
)
WAITING_REMEDY = (
    "answer it through OpenCode (reject, or allow once): OpenCode then finishes the turn "
    "itself. ocinspect never repairs a session that waits for a person."
)


def warnings_content(diag: Diagnosis) -> Content:
    """Risks of acting on the session, shown above the diagnosis so they are read first."""
    lines: list[Content] = []
    for name in diag.warnings:
        warning = describe_warning(name)
        lines.append(Content.assemble(("▲ " + warning.title, "bold $error"), "  ", warning.why))
        lines.append(Content.styled(warning.advice, "bold $warning"))
    return Content("\n").join(lines)


def recovery_content(
    diag: Diagnosis, read_only: bool, key: KeyName, schema: Schema = "v1", refusal: InspectorError | None = None
) -> Content:
    """What recovery would do, and how to start it; ``refusal``: core refuses every write of
    this file (said instead of the key)."""
    lines: list[Content] = []
    if diag.verdict == "hung":
        lines.append(Content.assemble(("Hung in a live OpenCode: ", "bold"), HUNG_REMEDY))
    elif diag.verdict == "waiting":
        lines.append(Content.assemble(("Waiting for your answer: ", "bold"), WAITING_REMEDY))
    else:
        for name in diag.patterns:
            pattern = describe(name, schema)
            style = "bold" if pattern.fixable else "bold $error"
            lines.append(Content.assemble((pattern.title + ": ", style), pattern.repair))
    if diag.repairable and diag.verdict not in ("hung", "waiting") and refusal is None:
        generation = named(schema)  # the words of the rows its repair writes
        chain = (
            " Its subagent chain is recovered with it, in the same transaction."
            if (diag.children or "subagent-chain" in diag.patterns)
            else ""
        )
        lines.append(
            Content.assemble(
                "In this session: ",
                plural(len(diag.stuck_parts), "tool part"),
                f' → error "{generation.tool_error}", ',
                plural(len(diag.unfinished_messages), "unfinished turn"),
                f" → {generation.turn_closed}.",
                chain,
                " Nothing else is written; every change is journaled so ",
                keyed("{undo-last-run} can undo it.", key, style=""),
            )
        )
    verdict = diag.verdict
    line = Content.assemble((f"Verdict {verdict}: ", "bold"), VERDICTS.get(verdict, ""))
    if verdict in ("live", "unknown", "unfixable"):  # a hung session's reason is already under "Why"
        line = Content.assemble(line, " ", (one_line(diag.live_reason), "$warning"))
    lines.append(line)
    if read_only:
        lines.append(Content.styled("Opened read-only: recovery is disabled.", "$warning"))
    elif refusal is not None:
        lines.append(Content.assemble(("Recovery is not offered: ", "bold $warning"), one_line(str(refusal))))
    elif verdict == "hung":
        lines.append(keyed("Press {detail-recover} to abort it through OpenCode (the running tool is killed).", key))
    elif diag.repairable and verdict != "waiting":
        lines.append(keyed("Press {detail-recover} to see the exact plan and confirm.", key))
    return Content("\n").join(lines)


def turns_content(diag: Diagnosis) -> Content:
    lines: list[Content] = []
    for message in diag.unfinished_messages:
        kind = "compaction summary" if message.is_summary else "assistant turn"
        extra = ", ".join(
            x
            for x in (
                f"agent {one_line(message.agent)}" if message.agent else "",
                f"model {one_line(message.model)}" if message.model else "",
            )
            if x
        )
        lines.append(
            Content.assemble(
                (f"{kind} ", "bold"),
                (one_line(message.id), "$foreground-muted"),
                f"  started {local_time(message.time_created)}",
                f"  ({extra})" if extra else "",
                ("  never finished", "$warning"),
            )
        )
    return Content("\n").join(lines)


class SessionDetailScreen(Screen[None]):
    """Drawn from the app's latest scan; after a recovery it says the session is no longer stuck."""

    # a hint about the list's key, shown over this screen, names this screen's (keys.py)
    KEY_ALIASES: ClassVar[dict[str, str]] = {
        "recover-session": "detail-recover",
        "answer-waiting": "detail-answer",
        "open-in-opencode": "detail-open-in-opencode",
    }

    BINDING_GROUP_TITLE = "Session detail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="detail-back", tooltip="Return to the sessions list."),
        Binding(
            "r",
            "recover_selected",
            "Recover",
            id="detail-recover",
            tooltip="Recover this session (and its subagent chain) after a confirmation.",
        ),
        Binding(
            "t",
            "timeline",
            "Timeline",
            id="detail-timeline",
            tooltip="The last turns' story up to where it stopped: prompts, tools, steps (any part opens whole).",
        ),
        Binding(
            "o",
            "open_in_opencode",
            "OpenCode",
            id="detail-open-in-opencode",
            tooltip="Quit ocinspect and continue this session in OpenCode, in its project directory.",
        ),
        Binding(
            "w",
            "answer_selected",
            "Answer",
            id="detail-answer",
            tooltip="Answer this waiting session through OpenCode (reject, or allow once).",
        ),
    ]

    def __init__(self, session_id: str) -> None:
        super().__init__()
        self.session_id = session_id
        self._shown: tuple[object, ...] | None = None
        self._last_seen: Diagnosis | None = None

    @property
    def selected_session_id(self) -> str:
        return self.session_id

    @property
    def state(self) -> AppState:
        return app_state(self)

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(id="detail")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "scan_result", self._redraw)
        self.watch(self.app, "recovered_ids", self._redraw)
        self.query_one("#detail").focus()

    def action_timeline(self) -> None:
        self.app.push_screen(TimelineScreen(self.session_id))

    def action_recover_selected(self) -> None:
        self.post_message(RequestRecovery((self.session_id,)))

    def action_open_in_opencode(self) -> None:
        self.post_message(ContinueInOpenCode(self.session_id))

    def action_answer_selected(self) -> None:
        self.post_message(RequestAnswer(self.session_id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "recover_selected":  # not offered where core refuses every write of the file
            result = self.state.scan_result
            return result is None or result.write_refusal is None
        if action == "answer_selected":  # offered on a waiting session only
            result = self.state.scan_result
            diag = result.get(self.session_id) if result is not None else None
            return diag is not None and result is not None and waits(diag, result)
        return True

    async def _redraw(self, _value: object = None) -> None:
        state = self.state
        result = state.scan_result
        diag = result.get(self.session_id) if result else None
        key = (diag, state.recovered_ids if diag is None or not diag.is_stuck else None)
        if key == self._shown:
            return
        self._shown = key
        self.refresh_bindings()
        if diag is not None:
            self._last_seen = diag
        body = self.query_one("#detail", VerticalScroll)
        await body.remove_children()
        await body.mount_all(self._widgets(result, diag))

    def _widgets(self, result: ScanResult | None, diag: Diagnosis | None) -> list[Static | Vertical]:
        if result is None:
            return [Static(Content("Scanning…"), classes="notice")]
        if diag is None or not diag.is_stuck:
            recovered = self.session_id in self.state.recovered_ids
            text = (
                keyed_text(
                    "✓ Recovered: this session is no longer stuck. Press {undo-last-run} to undo the last recovery.",
                    namer(self.app),
                )
                if recovered
                else "✓ This session is not stuck (any more)."
            )
            widgets: list[Static | Vertical] = [Static(Content.styled(text, "bold $success"), classes="notice")]
            known = diag or self._last_seen
            if known is not None:
                widgets.insert(
                    0, Static(head_content(known, result, self.state.recovered_ids, stuck=False), id="detail-head")
                )
            else:
                widgets.append(Static(Content(f"session {one_line(self.session_id)}"), classes="muted"))
            return widgets
        now = self.state.config.now()
        widgets = [Static(head_content(diag, result, self.state.recovered_ids), id="detail-head")]
        if diag.warnings:
            widgets += [
                _section("Before you continue this session"),
                Static(Hanging(warnings_content(diag)), classes="section", id="detail-warnings"),
            ]
        widgets += [
            _section("Why it is stuck"),
            Static(Hanging(why_content(diag, now, result.schema)), classes="section"),
            _section("What recovery will do"),
            Static(
                Hanging(
                    recovery_content(
                        diag, self.state.config.read_only, namer(self.app), result.schema, result.write_refusal
                    )
                ),
                classes="section",
            ),
        ]
        links = self._chain_links(diag, result)
        if links:
            widgets += [_section("Subagent chain"), Vertical(*links, classes="section links")]
        if diag.unfinished_messages:
            widgets += [
                _section(f"Unfinished ({len(diag.unfinished_messages)})"),
                Static(Hanging(turns_content(diag)), classes="section"),
            ]
        if diag.stuck_parts:
            widgets.append(_section(f"Stuck tools ({len(diag.stuck_parts)})"))
            for part in diag.stuck_parts:
                child = result.get(part.child_session_id) if part.child_session_id else None
                widgets.append(PartCard(part, now=now, child_title=child.session.title if child else None))
        return widgets

    def _chain_links(self, diag: Diagnosis, result: ScanResult) -> list[SessionLink]:
        links: list[SessionLink] = []
        parent = result.get(diag.session.parent_id) if diag.session.parent_id else None
        if parent is not None:
            links.append(SessionLink(parent.id, f"↑ parent: {parent.session.title}"))
        for child_id in diag.children:
            child = result.get(child_id)
            if child is not None:
                links.append(SessionLink(child_id, f"↓ subagent: {child.session.title}"))
        return links

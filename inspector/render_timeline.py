"""The turn's story (``core/diagnose/timeline.py``) as plain text and JSON, for ``show --timeline``.

The TUI's timeline screen and the upstream report reuse the one-line descriptions
(``entry_head``, ``entry_details``, ``message_head``) so every front end tells the same story.
Every field from the database goes through ``line``/``printable``; JSON carries values exactly
(the CLI escapes it with ``text.safe_json``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inspector.core.diagnose.timeline import (
    Entry,
    SessionTimeline,
    Stop,
    Timeline,
    Tokens,
    TurnMessage,
)
from inspector.core.text import humanize_ms, iso, printable, shorten
from inspector.output import styled

STOP_MARK = "▶"
STOPPED_HERE = f"{STOP_MARK} stopped here"
OUTPUT_LINES = 5  # lines of a tool's output tail in the text story


def line(value: object) -> str:
    return printable(value, single_line=True)


def clock(ms: int | None) -> str:
    """``17:03:58`` (UTC); ``-`` when unknown."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{ms}ms" if ms < 1000 else humanize_ms(ms)


def tokens_text(tokens: Tokens | None) -> str:
    if tokens is None:
        return ""
    text = f"tokens in {tokens.input} out {tokens.output}"
    if tokens.reasoning:
        text += f" reasoning {tokens.reasoning}"
    if tokens.cache_read or tokens.cache_write:
        text += f" cache {tokens.cache_read}/{tokens.cache_write}"
    return text


def cost_text(cost: float | None) -> str:
    return "" if not cost else f"${cost:.4f}"


def message_head(message: TurnMessage) -> str:
    """The line that opens a message: a prompt's first line, a reply's agent and model."""
    when = clock(message.time_created)
    if message.corrupt:
        return f"message {line(message.id)} {when}: corrupt JSON, not shown"
    if message.role == "user":
        first = next((t for t in message.prompt_text.splitlines() if t.strip()), "")
        return f"prompt {when}  {shorten(line(first), 100) or '(no text)'}"
    what = " · ".join(line(v) for v in (message.agent, message.model) if v)
    kind = "summary" if message.is_summary else "reply"
    return f"{kind} {when}  {what}".rstrip()


def message_end(message: TurnMessage) -> str | None:
    """How a reply ended: finished (and why), its error, or never."""
    if message.role != "assistant" or message.corrupt:
        return None
    error = (
        f"error {line(message.error_name)}"
        + (f": {shorten(line(message.error_message), 100)}" if message.error_message else "")
        if message.error_name
        else ""
    )
    if message.completed is None:
        return "never finished" + (f"; {error}" if error else "")
    done = f"finished {clock(message.completed)}" + (f" ({line(message.finish)})" if message.finish else "")
    return done + (f"; {error}" if error else "")


def entry_head(entry: Entry, now: int) -> str:
    """One line that says what a part was."""
    if entry.kind == "corrupt":
        return f"part {line(entry.id)}: corrupt JSON, not shown"
    if entry.kind == "tool":
        if entry.end is not None:
            when = f"{clock(entry.start)} → {clock(entry.end)} ({duration(entry.duration_ms)})"
        elif entry.start is not None:
            when = f"{clock(entry.start)} → … ({'for ' if entry.stuck else ''}{humanize_ms(now - entry.start)})"
        else:
            when = f"{clock(entry.time_created)} (never started)"
        what = shorten(line(entry.input_summary), 90) or "(no input yet)"
        return f"{line(entry.tool)} {line(entry.status)}  {when}  {what}"
    if entry.kind == "step-start":
        return "── step"
    if entry.kind == "step-finish":
        spent = ", ".join(t for t in (tokens_text(entry.tokens), cost_text(entry.cost)) if t)
        return "── step done" + (f" ({line(entry.reason)})" if entry.reason else "") + (f": {spent}" if spent else "")
    if entry.kind == "retry":
        return f"retry #{entry.attempt or '?'}: {shorten(line(entry.error), 100)}"
    if entry.kind in ("text", "reasoning"):
        first = entry.first_lines(1)
        label = "thinking" if entry.kind == "reasoning" else "text"
        return f"{label}: {shorten(line(first[0]), 100) if first else '(empty)'}"
    return f"{entry.kind}" + (f": {shorten(line(entry.text), 100)}" if entry.text else "")


def entry_details(entry: Entry) -> list[str]:
    """The lines under a part's head: more text lines, title, subagent, error, output tail."""
    lines: list[str] = []
    if entry.kind in ("text", "reasoning"):
        lines += [shorten(line(t), 100) for t in entry.first_lines(3)[1:]]
        if entry.text_chars > len(entry.text) or len(entry.first_lines(4)) > 3:
            lines.append(f"… ({entry.text_chars} chars)")
    if entry.kind != "tool":
        return lines
    if entry.title and entry.title != entry.input_summary:
        lines.append(f"title: {shorten(line(entry.title), 90)}")
    if entry.child_session_id:
        lines.append(
            f"subagent session: {line(entry.child_session_id)}" + (" (inferred)" if entry.child_inferred else "")
        )
    if entry.error:
        lines.append(f"error: {shorten(line(entry.error), 100)}")
    if entry.interrupted:
        lines.append("interrupted (marked by a repair or an abort)")
    tail = printable(entry.output_tail.rstrip()).splitlines()[-OUTPUT_LINES:]
    if tail:
        size = f" of {entry.output_chars} chars" if entry.output_truncated or len(tail) == OUTPUT_LINES else ""
        lines.append(f"output (last {len(tail)} line{'s' if len(tail) != 1 else ''}{size}):")
        lines += [f"  {t}" for t in tail]
    return lines


def stop_line(stop: Stop, now: int) -> str:
    since = f" (since {clock(stop.since)}, {humanize_ms(now - stop.since)} ago)" if stop.since else ""
    return f"{STOPPED_HERE}: {line(stop.reason)}{since}"


def session_head(story: SessionTimeline) -> str:
    via = "  (subagent)" if story.parent_part_id else ""
    title = f"  {line(story.session.title)}" if story.session.title else ""
    first = story.messages[0].time_created if story.messages else None
    since = f"  from {day(first)}" if first is not None else ""
    return f"Session {line(story.session.id)}{title}{via}{since}"


def prompt_details(message: TurnMessage) -> list[str]:
    """A prompt's second and third lines (its first is in ``message_head``)."""
    lines = [t for t in message.prompt_text.splitlines() if t.strip()]
    more = [shorten(line(t), 100) for t in lines[1:3]]
    if len(lines) > 3 or sum(e.text_chars for e in message.entries if e.kind == "text") > len(message.prompt_text):
        more.append("…")
    return more


def shown_entries(message: TurnMessage) -> tuple[Entry, ...]:
    """A prompt's text parts are its head; every other part is shown as it is."""
    if message.role == "user":
        return tuple(e for e in message.entries if e.kind != "text")
    return message.entries


def session_lines(story: SessionTimeline, now: int) -> list[str]:
    pad = "  " * story.depth
    lines: list[str] = [styled(pad, (session_head(story), "bold"))]
    if story.truncated:
        lines.append(f"{pad}  … older messages of this turn not shown")
    if not story.turns:
        lines.append(f"{pad}  (no messages)")
    stop = story.stop
    for turn in story.turns:
        if turn.prompt is None:
            lines.append(f"{pad}  (the turn began before the messages shown)")
        for message in turn.messages:
            lines.append(f"{pad}  {message_head(message)}")
            if message.role == "user":
                lines += [f"{pad}         {t}" for t in prompt_details(message)]
            for entry in shown_entries(message):
                mark = (STOP_MARK, "bold red") if entry.stuck else " "
                lines.append(styled(f"{pad}  ", mark, f" {entry_head(entry, now)}"))
                lines += [f"{pad}        {t}" for t in entry_details(entry)]
            end = message_end(message)
            if end:
                lines.append(f"{pad}    {end}")
            if stop is not None and stop.message_id == message.id:
                lines.append(styled(f"{pad}  ", (stop_line(stop, now), "bold red")))
    if stop is None and story.turns:
        lines.append(f"{pad}  (the last turn finished: nothing is stuck here)")
    return lines


def timeline_text(timeline: Timeline) -> list[str]:
    now = timeline.read_at
    lines = [f"Timeline of {line(timeline.session_id)}: the last {timeline.turns} turn(s), times UTC"]
    lines[0] = styled((lines[0], "bold"))
    for story in timeline.sessions:
        lines += ["", *session_lines(story, now)]
    return lines


# -- JSON (documented in docs/reference/json.md and docs/guide/open-report.md) ------------------------------


def tokens_json(tokens: Tokens | None) -> dict[str, int] | None:
    if tokens is None:
        return None
    return {
        "input": tokens.input,
        "output": tokens.output,
        "reasoning": tokens.reasoning,
        "cache_read": tokens.cache_read,
        "cache_write": tokens.cache_write,
    }


def entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "time_created": entry.time_created,
        "start": entry.start,
        "end": entry.end,
        "duration_ms": entry.duration_ms,
        "text": entry.text,
        "text_chars": entry.text_chars,
        "tool": entry.tool,
        "status": entry.status,
        "call_id": entry.call_id,
        "title": entry.title,
        "input_summary": entry.input_summary,
        "input_chars": entry.input_chars,
        "output_tail": entry.output_tail,
        "output_chars": entry.output_chars,
        "error": entry.error or None,
        "reason": entry.reason,
        "tokens": tokens_json(entry.tokens),
        "cost": entry.cost,
        "attempt": entry.attempt,
        "child_session_id": entry.child_session_id,
        "child_session_inferred": entry.child_inferred,
        "interrupted": entry.interrupted,
        "stuck": entry.stuck,
    }


def message_json(message: TurnMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "role": message.role,
        "time_created": message.time_created,
        "completed": message.completed,
        "unfinished": message.unfinished,
        "agent": message.agent,
        "model": message.model,
        "finish": message.finish,
        "error": {"name": message.error_name, "message": message.error_message} if message.error_name else None,
        "cost": message.cost,
        "tokens": tokens_json(message.tokens),
        "summary": message.is_summary,
        "corrupt": message.corrupt,
        "parts": [entry_json(e) for e in message.entries],
    }


def stop_json(stop: Stop | None) -> dict[str, Any] | None:
    if stop is None:
        return None
    return {
        "kind": stop.kind,
        "message_id": stop.message_id,
        "part_ids": list(stop.part_ids),
        "since": stop.since,
        "reason": stop.reason,
    }


def session_timeline_json(story: SessionTimeline) -> dict[str, Any]:
    return {
        "id": story.session.id,
        "title": story.session.title,
        "parent_id": story.session.parent_id,
        "depth": story.depth,
        "parent_part_id": story.parent_part_id,
        "truncated": story.truncated,
        "stop": stop_json(story.stop),
        "turns": [
            {"prompt": message_json(t.prompt) if t.prompt else None, "replies": [message_json(m) for m in t.replies]}
            for t in story.turns
        ],
    }


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "session_id": timeline.session_id,
        "turns": timeline.turns,
        "read_at": iso(timeline.read_at),
        "sessions": [session_timeline_json(s) for s in timeline.sessions],
    }

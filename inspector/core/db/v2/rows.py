"""Rows of OpenCode 2's tables turned into the core's generation-neutral snapshots.

A v2 turn is one ``session_message`` row of type ``assistant``; its tools are items of its JSON
``content[]`` (no ``part`` table). A tool keeps its call id as ``id``; ocinspect names it by
that id and finds it again inside its message. Texts are kept exactly (ids link sessions, JSON
output must round-trip); renderers pass them through ``text.printable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from inspector.core.db.rows import INPUT_JSON_LIMIT, OUTPUT_TAIL, session_from_mapping
from inspector.core.errors import CorruptData
from inspector.core.model import Message, Part, Session
from inspector.core.text import input_summary, printable

# The execution claim is ``time_suspended`` in 2.1.2; a later upstream migration renames it.
CLAIM_COLUMNS = ("time_suspended", "execution_claimed_at")
STUCK_TOOL_STATUSES = frozenset({"running", "streaming"})
# The same two, as the judges name them once parsed (``base.py`` shows ``streaming`` as pending).
STUCK_PART_STATUSES = ("pending", "running")
# v2 renamed the tools that matter for a diagnosis; a v1 import keeps the old names.
SUBAGENT_TOOLS = frozenset({"subagent", "task"})


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``session_v2`` says about a session's current turn and the last one that ended."""

    session_id: str
    claimed_at: int | None  # the execution claim: set while a turn runs (or crashed running)
    resume_attempts: int  # how often the service restarted the current turn
    time_idle: int | None  # when the last finished turn ended (kept while a newer one runs)
    idle_outcome: str | None  # how it ended: succeeded | failed | interrupted


def claim_column(columns: frozenset[str]) -> str | None:
    """The name this database gives the execution claim, or None when it has neither."""
    return next((name for name in CLAIM_COLUMNS if name in columns), None)


def load_data(row_id: str, session_id: str, data: str | None, table: str = "session_message") -> dict[str, Any]:
    """A row's JSON object, or ``CorruptData`` naming the row (never a half-parsed value)."""
    try:
        value = json.loads(data) if isinstance(data, str) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise CorruptData(
            f"{table} {row_id} (session {session_id}) has corrupt JSON in its data column; "
            "ocinspect will not guess what it held"
        )
    return value


def session_of(values: Mapping[str, Any]) -> Session:
    """A ``session_v2`` row as the neutral ``Session`` (the columns both generations share)."""
    return session_from_mapping(values)


def claim_of(values: Mapping[str, Any], column: str) -> Claim:
    """The claim columns of a ``session_v2`` row (``column`` from :func:`claim_column`)."""
    claimed = values.get(column)
    idle = values.get("time_idle")
    return Claim(
        session_id=str(values["id"]),
        claimed_at=int(claimed) if claimed is not None else None,
        resume_attempts=int(values.get("resume_attempts") or 0),
        time_idle=int(idle) if idle is not None else None,
        idle_outcome=values.get("idle_outcome"),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def message_of(row_id: str, session_id: str, time_created: int, data: Mapping[str, Any]) -> Message:
    """An ``assistant`` row as the neutral ``Message`` (a turn)."""
    when = _dict(data.get("time"))
    error = _dict(data.get("error"))
    model = data.get("model")
    model_id = _dict(model).get("id") if isinstance(model, dict) else model
    error_type = error.get("type") or error.get("name")
    return Message(
        id=row_id,
        session_id=session_id,
        role="assistant",
        time_created=int(time_created),
        completed=_int(when.get("completed")),
        error_name=str(error_type) if error_type else None,
        finish=data.get("finish") if isinstance(data.get("finish"), str) else None,
        model=str(model_id) if model_id else None,
        agent=data.get("agent") if isinstance(data.get("agent"), str) else None,
    )


def tools_of(message: Message, data: Mapping[str, Any]) -> Iterator[Part]:
    """Every tool item of an assistant row's ``content[]``, in order, as neutral ``Part`` s."""
    content = data.get("content")
    if not isinstance(content, list):
        return
    for item in content:
        if not isinstance(item, dict) or item.get("type") != "tool":
            continue
        yield tool_part(message, item)


def tool_part(message: Message, item: Mapping[str, Any]) -> Part:
    state = _dict(item.get("state"))
    when = _dict(item.get("time"))
    metadata = _dict(state.get("metadata"))
    tool = str(item.get("name") or "?")
    tool_input = state.get("input")
    input_json = json.dumps(tool_input, ensure_ascii=False, indent=2) if tool_input else ""
    output = metadata.get("output")
    child = metadata.get("sessionId") or metadata.get("sessionID")
    call_id = item.get("id")
    return Part(
        id=str(call_id) if call_id else f"{message.id}#tool",
        message_id=message.id,
        session_id=message.session_id,
        tool=tool,
        status=str(state.get("status")),
        call_id=str(call_id) if call_id else None,
        started=_int(when.get("ran")),
        time_created=_int(when.get("created")) or message.time_created,
        input_summary=input_summary(tool, tool_input),
        input_json=printable(input_json[:INPUT_JSON_LIMIT]),
        title=str(state.get("title")) if state.get("title") else None,
        output_tail=output[-OUTPUT_TAIL:] if isinstance(output, str) else "",
        child_session_id=child if tool in SUBAGENT_TOOLS and isinstance(child, str) else None,
        message_completed=message.completed is not None,
    )


def is_stuck_tool(item: Any) -> bool:
    """Whether an item of an assistant row's ``content[]`` is a tool v2 still shows as working."""
    return (
        isinstance(item, dict)
        and item.get("type") == "tool"
        and isinstance(item.get("state"), dict)
        and item["state"].get("status") in STUCK_TOOL_STATUSES
    )


def stuck_tools(parts: Iterator[Part] | list[Part]) -> list[Part]:
    """The tools v2 would still show as working: ``running`` or ``streaming``."""
    return [p for p in parts if p.status in STUCK_TOOL_STATUSES]

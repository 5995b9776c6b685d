"""The v2 answers to :class:`inspector.core.db.reads.judge.JudgeReads`.

The story (timeline) is real: a session's newest rows, prompts and replies with their tools.
What moved in a chain (the hung rules) is read from the same rows (``motion.py``). What the 1.x
id-wrap checks read has no OpenCode 2 equivalent (its ids do not order its rows), and v2 links
every subagent by ``parent_id``: those answers are empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any

from inspector.core.db.reads.judge import (
    MAX_MESSAGES,
    OUTPUT_TAIL,
    RECENT_MESSAGES,
    TEXT_HEAD,
    ChainMotion,
    Entry,
    EntryKind,
    PartDetail,
    Story,
    Subagents,
    TurnMessage,
)
from inspector.core.db.v2 import sql as q
from inspector.core.db.v2.base import V2Base
from inspector.core.db.v2.motion import chain_motion
from inspector.core.db.v2.rows import load_data, tool_part
from inspector.core.model import Message, Part

_PROMPTS = ("user", "synthetic")


class V2JudgeReads(V2Base):
    """Mixed into :class:`inspector.core.db.v2.reads.V2Reads`."""

    def chain_motion(self, session_ids: Sequence[str], known: Set[str], recent: int = RECENT_MESSAGES) -> ChainMotion:
        return chain_motion(self.conn, session_ids, known, recent)

    def subagents(self, tasks: Sequence[Part]) -> Subagents:
        return Subagents()  # v2 links every subagent by parent_id

    def sessions_with_turn_ids_above(self, session_ids: Iterable[str], bound: str) -> set[str]:
        return set()

    def loop_replies(self, bound: str, min_replies: int) -> dict[str, int]:
        return {}

    def story(self, session_id: str, turns: int) -> Story:
        rows = list(self.conn.execute(q.STORY_ROWS, {"sid": session_id, "limit": MAX_MESSAGES + 1}))
        truncated = len(rows) > MAX_MESSAGES
        rows = list(reversed(rows[:MAX_MESSAGES]))
        starts = [i for i, row in enumerate(rows) if row.type == "user"]
        if len(starts) >= turns > 0:
            first = starts[-turns]
            truncated = truncated or first > 0
            rows = rows[first:]
        messages = tuple(m for m in (_message(row) for row in rows) if m is not None)
        return Story(messages=messages, truncated=truncated)

    def part_detail(self, part_id: str) -> PartDetail | None:
        known = [t for t in self._turns.values() if any(p.id == part_id for p in t.tools)]
        needle = json.dumps(part_id)  # the call id as the row's JSON spells it
        turns = known or self._parse(self.conn.execute(q.ROWS_WITH_CALL, {"needle": needle}))
        for turn in turns:
            for part in turn.tools:
                if part.id == part_id:
                    return _detail(part)
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _message(row: Any) -> TurnMessage | None:
    data = load_data(row.id, row.session_id, row.data)
    when = _dict(data.get("time"))
    created = int(row.time_created)
    if row.type in _PROMPTS:
        text = str(data.get("text") or "")
        entry = Entry(
            id=f"{row.id}#text",
            message_id=row.id,
            kind="text",
            time_created=created,
            text=text[:TEXT_HEAD],
            text_chars=len(text),
        )
        return TurnMessage(id=row.id, role="user", time_created=created, entries=(entry,))
    if row.type != "assistant":
        return None
    error = _dict(data.get("error"))
    message = Message(id=row.id, session_id=row.session_id, role="assistant", time_created=created, completed=None)
    entries: list[Entry] = []
    content = data.get("content")
    content = content if isinstance(content, list) else []
    for index, item in enumerate(content):
        if not isinstance(item, dict):
            continue
        if item.get("type") == "tool":
            entries.append(_tool_entry(tool_part(message, item), item))
        elif item.get("type") in ("text", "reasoning"):
            text = str(item.get("text") or "")
            kind: EntryKind = "text" if item.get("type") == "text" else "reasoning"
            entries.append(
                Entry(
                    id=f"{row.id}#{index}",
                    message_id=row.id,
                    kind=kind,
                    time_created=created,
                    text=text[:TEXT_HEAD],
                    text_chars=len(text),
                )
            )
    model = data.get("model")
    return TurnMessage(
        id=row.id,
        role="assistant",
        time_created=created,
        completed=when.get("completed") if isinstance(when.get("completed"), int) else None,
        agent=data.get("agent") if isinstance(data.get("agent"), str) else None,
        model=str(model.get("id")) if isinstance(model, dict) and model.get("id") else None,
        provider=str(model.get("providerID")) if isinstance(model, dict) and model.get("providerID") else None,
        finish=data.get("finish") if isinstance(data.get("finish"), str) else None,
        error_name=str(error.get("type")) if error.get("type") else None,
        error_message=str(error.get("message") or "")[:TEXT_HEAD],
        entries=tuple(entries),
    )


def _tool_entry(part: Part, item: Mapping[str, Any]) -> Entry:
    state = _dict(item.get("state"))
    when = _dict(item.get("time"))
    error = _dict(state.get("error"))
    error_text = str(error.get("message") or "")
    output = _dict(state.get("metadata")).get("output")
    output_text = output if isinstance(output, str) else ""
    completed = when.get("completed")
    return Entry(
        id=part.id,
        message_id=part.message_id,
        kind="tool",
        time_created=part.time_created,
        start=part.started,
        end=completed if isinstance(completed, int) else None,
        tool=part.tool,
        status="pending" if part.status == "streaming" else part.status,
        call_id=part.call_id,
        input_summary=part.input_summary,
        output_tail=output_text[-OUTPUT_TAIL:],
        output_chars=len(output_text),
        error=error_text[:TEXT_HEAD],
        error_chars=len(error_text),
        child_session_id=part.child_session_id,
        interrupted=error.get("type") == "aborted",
        stuck=part.status in ("running", "streaming"),
    )


def _detail(part: Part) -> PartDetail:
    return PartDetail(
        id=part.id,
        message_id=part.message_id,
        session_id=part.session_id,
        kind="tool",
        tool=part.tool,
        status=part.status,
        title=part.title,
        input_json=part.input_json,
        input_chars=len(part.input_json),
        output=part.output_tail,
        output_chars=len(part.output_tail),
        error="",
        text="",
        text_chars=0,
    )

"""The v1 answers to :class:`inspector.core.db.reads.judge.JudgeReads`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence, Set
from typing import Any, cast, get_args

from sqlalchemy import TextClause

from inspector.core.db.reads.judge import (
    DETAIL_CAP,
    INPUT_LIMIT,
    MAX_MESSAGES,
    OUTPUT_TAIL,
    RECENT_MESSAGES,
    SCAN_MESSAGES,
    SMALL_ROW,
    STUCK_STATUSES,
    TEXT_HEAD,
    ChainMotion,
    ChildSession,
    Entry,
    EntryKind,
    PartDetail,
    PartShape,
    Story,
    Subagents,
    Tokens,
    TurnMessage,
)
from inspector.core.db.rows import chunks, load_json, part_from_row
from inspector.core.db.v1 import sql as q
from inspector.core.db.v1.base import V1Base
from inspector.core.model import Part
from inspector.core.text import compact_json, input_summary

_KINDS = frozenset(get_args(EntryKind))


class V1JudgeReads(V1Base):
    """Mixed into :class:`inspector.core.db.v1.reads.V1Reads`."""

    def _rows(self, query: TextClause, ids: Iterable[str], **params: Any) -> list[Any]:
        found: list[Any] = []
        for chunk in chunks(list(ids)):
            found.extend(self.conn.execute(query, {"ids": chunk, **params}))
        return found

    def chain_motion(self, session_ids: Sequence[str], known: Set[str], recent: int = RECENT_MESSAGES) -> ChainMotion:
        updates: list[int] = []
        shapes: list[PartShape] = []
        for sid in session_ids:
            messages = list(self.conn.execute(q.RECENT_MESSAGES, {"sid": sid, "limit": recent}))
            updates.extend(int(row.time_updated or 0) for row in messages)
            shapes.extend(
                PartShape(
                    id=row.id,
                    session_id=row.session_id,
                    message_id=row.message_id,
                    time_created=int(row.time_created or 0),
                    time_updated=int(row.time_updated or 0),
                    type=row.type,
                    status=row.status,
                    text_len=int(row.text_len or 0),
                )
                for row in self._rows(q.PARTS_SHAPE, [row.id for row in messages])
            )
        tools: dict[str, Part] = {}
        for _, part_id in sorted(((s.time_created, s.id) for s in shapes if s.type == "tool"), reverse=True):
            if part_id in known:
                break
            row = self.conn.execute(q.PART_BY_ID, {"id": part_id}).first()
            if row is None or not row.ok:
                continue
            data = load_json(row, "part")
            if data.get("type") == "tool":
                tools[part_id] = part_from_row(row, data)
                break
        return ChainMotion(message_updates=tuple(updates), parts=tuple(shapes), tools=tools)

    def subagents(self, tasks: Sequence[Part]) -> Subagents:
        parents = sorted({p.session_id for p in tasks})
        claimed = frozenset(row.child for row in self._rows(q.CLAIMED_CHILDREN, parents) if isinstance(row.child, str))
        children = tuple(
            ChildSession(row.id, row.parent_id, str(row.title or ""), int(row.time_created))
            for row in self._rows(q.CHILD_SESSION_ROWS, parents)
        )
        if all(c.id in claimed for c in children):
            return Subagents(children=children, claimed=claimed)
        turn_start = {
            row.id: int(row.time_created) for row in self._rows(q.MESSAGE_TIMES, sorted({p.message_id for p in tasks}))
        }
        described = {
            row.id: row.description
            for row in self._rows(q.TASK_DESCRIPTIONS, sorted({p.id for p in tasks}))
            if isinstance(row.description, str) and row.description
        }
        next_turn: dict[str, int | None] = {}
        for part in tasks:
            after = turn_start.get(part.message_id, part.time_created)
            end = self.conn.execute(q.NEXT_MESSAGE_TIME, {"sid": part.session_id, "after": after}).scalar()
            next_turn[part.id] = None if end is None else int(end)
        return Subagents(children, claimed, turn_start, described, next_turn)

    def sessions_with_turn_ids_above(self, session_ids: Iterable[str], bound: str) -> set[str]:
        return {row.session_id for row in self._rows(q.SESSIONS_WITH_IDS_AFTER, session_ids, bound=bound)}

    def loop_replies(self, bound: str, min_replies: int) -> dict[str, int]:
        rows = self.conn.execute(q.ID_WRAP_LOOP_REPLIES, {"bound": bound, "min_replies": min_replies})
        return {row.session_id: int(row.replies) for row in rows}

    def story(self, session_id: str, turns: int) -> Story:
        prompts = list(
            self.conn.execute(q.TIMELINE_PROMPTS, {"sid": session_id, "scan": SCAN_MESSAGES, "turns": turns})
        )
        bound = (int(prompts[-1].time_created), prompts[-1].id) if prompts else (-(2**62), "")
        rows = list(
            self.conn.execute(
                q.TIMELINE_MESSAGES,
                {"sid": session_id, "t": bound[0], "id": bound[1], "small": SMALL_ROW, "limit": MAX_MESSAGES + 1},
            )
        )
        truncated = len(rows) > MAX_MESSAGES
        rows = list(reversed(rows[:MAX_MESSAGES]))
        large = {
            r.id: r
            for r in self._rows(q.TIMELINE_LARGE_MESSAGES, [r.id for r in rows if r.data is None], head=TEXT_HEAD)
        }
        parts = self._read_parts([r.id for r in rows])
        messages = tuple(_message(r, large.get(r.id), parts.get(r.id, [])) for r in rows)
        return Story(messages=messages, truncated=truncated)

    def _read_parts(self, message_ids: Sequence[str]) -> dict[str, list[Entry]]:
        rows = self._rows(q.TIMELINE_PARTS, message_ids, small=SMALL_ROW)
        large = {
            r.id: r
            for r in self._rows(
                q.TIMELINE_LARGE_PARTS,
                [r.id for r in rows if r.data is None],
                head=TEXT_HEAD,
                tail=OUTPUT_TAIL,
                input_limit=INPUT_LIMIT,
            )
        }
        by_message: dict[str, list[Entry]] = {}
        for row in sorted(rows, key=lambda r: (int(r.time_created), r.id)):
            by_message.setdefault(row.message_id, []).append(_part(row, large.get(row.id)))
        return by_message

    def part_detail(self, part_id: str) -> PartDetail | None:
        row = self.conn.execute(q.TIMELINE_PART_DETAIL, {"id": part_id, "cap": DETAIL_CAP}).first()
        if row is None:
            return None
        input_json = row.input or ""
        if input_json and (row.input_chars or 0) <= DETAIL_CAP:
            try:
                input_json = json.dumps(json.loads(input_json), ensure_ascii=False, indent=2)
            except ValueError:
                pass
        return PartDetail(
            id=row.id,
            message_id=row.message_id,
            session_id=row.session_id,
            kind=str(row.type or ("corrupt" if not row.ok else "other")),
            tool=row.tool,
            status=row.status,
            title=row.title,
            input_json=input_json,
            input_chars=int(row.input_chars or 0),
            output=row.output if isinstance(row.output, str) else "",
            output_chars=int(row.output_chars or 0),
            error=row.error if isinstance(row.error, str) else "",
            text=row.text if isinstance(row.text, str) else "",
            text_chars=int(row.text_chars or 0),
            corrupt=not row.ok,
        )


# -- a story's rows, parsed (a whole row, or the reduced object SQLite built for a large one) --
def _loads(text: str | None) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tokens(value: Any) -> Tokens | None:
    if not isinstance(value, dict):
        return None
    cache = _obj(value.get("cache"))
    return Tokens(
        *(
            _int(v) or 0
            for v in (
                value.get("input"),
                value.get("output"),
                value.get("reasoning"),
                cache.get("read"),
                cache.get("write"),
            )
        )
    )


def _cost(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _part(row: Any, large: Any) -> Entry:
    """An ``Entry`` from a whole row, or from the reduced object SQLite built for a large one."""
    data = _loads(row.data if large is None else (large.data if large.ok else None))
    if data is None:
        return Entry(id=row.id, message_id=row.message_id, kind="corrupt", time_created=int(row.time_created))
    kind = str(data.get("type") or "other")
    state, when = _obj(data.get("state")), _obj(data.get("time"))
    text: str = data["text"] if isinstance(data.get("text"), str) else ""
    metadata = _obj(state.get("metadata"))
    raw_output = state.get("output") if isinstance(state.get("output"), str) else metadata.get("output")
    output: str = raw_output if isinstance(raw_output, str) else ""
    tool_input = state.get("input")
    tool = _str(data.get("tool"))
    error: str = state["error"] if isinstance(state.get("error"), str) else ""
    if kind == "retry":
        error = str(
            _obj(_obj(data.get("error")).get("data")).get("message") or _obj(data.get("error")).get("name") or ""
        )
    tool_time = _obj(state.get("time"))
    input_json = compact_json(tool_input) if kind == "tool" and tool_input else ""
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    label = {"subtask": data.get("description"), "agent": data.get("name"), "file": data.get("filename")}.get(kind)
    files = data.get("files")
    if kind == "patch":
        label = f"{files if isinstance(files, int) else len(files) if isinstance(files, list) else 0} file(s)"
    child = metadata.get("sessionId") if tool == "task" else None
    return Entry(
        id=row.id,
        message_id=row.message_id,
        kind=cast(EntryKind, kind if kind in _KINDS else "other"),
        time_created=int(row.time_created),
        start=_int(tool_time.get("start")) if kind == "tool" else _int(when.get("start")) or _int(when.get("created")),
        end=_int(tool_time.get("end")) if kind == "tool" else _int(when.get("end")),
        text=(text[:TEXT_HEAD] if text else str(label or "")),
        text_chars=(int(large.text_chars or 0) if large is not None else len(text)),
        tool=tool,
        status=_str(state.get("status")) if kind == "tool" else None,
        call_id=_str(data.get("callID")),
        title=_str(state.get("title")),
        input_summary=input_summary(tool or "", tool_input) if kind == "tool" else "",
        input_chars=(int(large.input_chars or 0) if large is not None else len(input_json)),
        input_head=input_json[:TEXT_HEAD],
        command_chars=(
            _int(large.command_chars) if large is not None else len(command) if isinstance(command, str) else None
        ),
        output_tail=output[-OUTPUT_TAIL:],
        output_chars=int(large.output_chars or 0) if large is not None else len(output),
        error=error[:TEXT_HEAD],
        error_chars=(int(large.error_chars or 0) or len(error)) if large is not None else len(error),
        reason=_str(data.get("reason")),
        tokens=_tokens(data.get("tokens")),
        cost=_cost(data.get("cost")),
        attempt=_int(data.get("attempt")),
        child_session_id=child if isinstance(child, str) and child else None,
        interrupted=metadata.get("interrupted") is True or metadata.get("interrupted") == 1,
        stuck=kind == "tool" and state.get("status") in STUCK_STATUSES,
    )


def _message(row: Any, large: Any, entries: list[Entry]) -> TurnMessage:
    data = _loads(row.data if large is None else (large.data if large.ok else None))
    if data is None:
        return TurnMessage(
            id=row.id, role="?", time_created=int(row.time_created), corrupt=True, entries=tuple(entries)
        )
    when, error = _obj(data.get("time")), _obj(data.get("error"))
    message = _obj(error.get("data")).get("message")
    return TurnMessage(
        id=row.id,
        role=str(data.get("role") or "?"),
        time_created=int(row.time_created),
        completed=_int(when.get("completed")),
        agent=_str(data.get("agent")),
        model=_str(data.get("modelID")),
        provider=_str(data.get("providerID")),
        finish=_str(data.get("finish")),
        error_name=_str(error.get("name")),
        error_message=message[:TEXT_HEAD] if isinstance(message, str) else "",
        error_chars=(
            int(large.error_chars or 0) if large is not None else len(message) if isinstance(message, str) else 0
        ),
        cost=_cost(data.get("cost")),
        tokens=_tokens(data.get("tokens")),
        is_summary=data.get("summary") is True,
        entries=tuple(entries),
    )

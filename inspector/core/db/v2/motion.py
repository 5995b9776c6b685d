"""What moved in an OpenCode 2 chain, in the words the hung rules read (``ChainMotion``).

The judges (``diagnose/hung.py``) read parts and steps as 1.x stores them. A v2 assistant row is
one *step* (measured on 2.1.2): a retried call stays in its row (``retry`` rewritten, the row's
``time_updated`` moved at every attempt), while a broken stream ends its row with an error
(``session.step.failed``: ``time.completed``, ``finish`` ``error``) and the next attempt is a
new assistant row after a ``synthetic`` notice ("The previous response was interrupted…"). So
each assistant row becomes a ``step-start``, its text/reasoning/tool items, and a
``step-finish`` only when it ended without an error: a failed step followed by another step is a
restart, as in 1.x. All the rows since the person's newest prompt are one message for the
judges (1.x restarts a step inside its message), and that prompt is when the turn began.

Times come from the row's JSON (``time.created``/``completed``, a tool's ``ran``), never from
``time_updated``; and a row that carries ``retry`` counts as no move at all: 2.1.2 rewrites it at
every attempt, its ``time.created`` (and the column) included (measured), so the retry loop's
silence is measured from the step before it, or the prompt, as a 1.x retry that writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.reads.judge import ChainMotion, PartShape
from inspector.core.db.v2 import sql as q
from inspector.core.db.v2.rows import load_data, message_of, tools_of
from inspector.core.errors import CorruptData
from inspector.core.model import Part

_TEXT = ("text", "reasoning")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _times(data: Mapping[str, Any]) -> tuple[int | None, int | None]:
    when = data.get("time")
    when = when if isinstance(when, dict) else {}
    return _int(when.get("created")), _int(when.get("completed"))


def _failed(data: Mapping[str, Any]) -> bool:
    return data.get("error") is not None or data.get("finish") == "error"


def chain_motion(conn: Connection, session_ids: Sequence[str], known: Set[str], recent: int) -> ChainMotion:
    """The newest ``recent`` rows of each session as :class:`ChainMotion` (see the module)."""
    updates: list[int] = []
    shapes: list[PartShape] = []
    tools: dict[str, Part] = {}
    starts: list[int] = []
    for sid in session_ids:
        rows = list(conn.execute(q.STORY_ROWS, {"sid": sid, "limit": recent}))
        turn_id, turn_start = sid, None
        for row in reversed(rows):
            try:
                data = load_data(row.id, row.session_id, row.data)
            except CorruptData:
                continue
            created, completed = _times(data)
            created = created or int(row.time_created)
            if row.type == "user":
                turn_id, turn_start = row.id, created
                updates.append(created)
            elif row.type == "synthetic":
                updates.append(created)
            elif row.type == "assistant":
                retried = isinstance(data.get("retry"), dict)  # its times are the last attempt's
                updates.extend(t for t in (None if retried else created, completed) if t is not None)
                shapes.extend(_step(row, data, turn_id, created, completed, known, tools, retried=retried))
        if turn_start is not None:
            starts.append(turn_start)
    return ChainMotion(
        message_updates=tuple(updates),
        parts=tuple(shapes),
        tools=tools,
        turn_start=max(starts) if starts else None,
    )


def _step(
    row: Any,
    data: Mapping[str, Any],
    turn_id: str,
    created: int,
    completed: int | None,
    known: Set[str],
    tools: dict[str, Part],
    *,
    retried: bool = False,
) -> Iterable[PartShape]:
    """One assistant row as a step: its start, its items, its finish when it ended well. A row
    being retried moved for no progress: its start orders it, and counts as no move."""

    def shape(suffix: str, kind: str, at: int, **more: Any) -> PartShape:
        return PartShape(
            id=f"{row.id}#{suffix}",
            session_id=row.session_id,
            message_id=turn_id,
            time_created=at,
            time_updated=more.pop("updated", at),
            type=kind,
            **more,
        )

    yield shape("0", "step-start", created, updated=0 if retried else created)
    content = data.get("content")
    finished: dict[str, int] = {}  # a tool's call id -> when it ended
    for index, item in enumerate(content if isinstance(content, list) else []):
        if isinstance(item, dict) and item.get("type") == "tool" and isinstance(item.get("time"), dict):
            ended = _int(item["time"].get("completed"))
            if ended is not None:
                finished[str(item.get("id"))] = ended
        if isinstance(item, dict) and item.get("type") in _TEXT:
            text = item.get("text")
            size = len(text) if isinstance(text, str) else 0
            yield shape(f"1.{index:05d}", str(item["type"]), created, updated=completed or created, text_len=size)
    message = message_of(row.id, row.session_id, int(row.time_created), dict(data))
    for part in tools_of(message, dict(data)):
        if part.status == "streaming":
            part = replace(part, status="pending")
        when = [t for t in (part.time_created, part.started, finished.get(part.id)) if t is not None]
        yield PartShape(
            id=part.id,
            session_id=part.session_id,
            message_id=turn_id,
            time_created=part.time_created,
            time_updated=max(when),
            type="tool",
            status=part.status,
        )
        if part.id not in known:
            tools[part.id] = part
    if completed is not None and not _failed(data):
        yield shape("2", "step-finish", completed)

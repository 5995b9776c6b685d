"""Rows of OpenCode's tables turned into the core's frozen dataclasses (every reader shares these).

Fields keep the database's text exactly (ids link sessions, directories are sent back to
OpenCode, JSON output must round-trip); every text output passes them through
``text.printable`` when it draws them. Only ``input_summary`` and ``input_json`` are renderings,
made printable here. JSON that cannot be trusted raises ``CorruptData`` naming the row, never a
half-parsed value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from inspector.core.errors import CorruptData
from inspector.core.model import Message, Part, Session
from inspector.core.text import input_summary, printable

if TYPE_CHECKING:
    from sqlalchemy import TextClause
    from sqlalchemy.engine import Connection

IN_CHUNK = 500
INPUT_JSON_LIMIT = 4000
OUTPUT_TAIL = 2000


def chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """``items`` in slices small enough for one ``IN (…)`` list."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def by_ids(conn: Connection, query: TextClause, ids: Iterable[str]) -> Iterator[Any]:
    """The rows ``query`` (``... WHERE id IN :ids``) returns for known ids, in bounded chunks."""
    for chunk in chunks(sorted(ids)):
        yield from conn.execute(query, {"ids": chunk})


def load_json(row: Any, table: str) -> dict[str, Any]:
    if not row.ok:
        raise CorruptData(
            f"{table} {row.id} (session {row.session_id}) has corrupt JSON in its data column; "
            "ocinspect will not guess what it held"
        )
    try:
        value = json.loads(row.data)
    except (ValueError, RecursionError) as exc:
        why = (
            "JSON nested too deeply for Python to read"
            if isinstance(exc, RecursionError)
            else ("JSON that Python cannot parse")
        )
        raise CorruptData(
            f"{table} {row.id} (session {row.session_id}) has {why}; ocinspect will not guess what it held"
        ) from None
    if not isinstance(value, dict):
        raise CorruptData(f"{table} {row.id} (session {row.session_id}) data is not a JSON object")
    return value


def message_from_row(row: Any, data: dict[str, Any]) -> Message:
    when: dict[str, Any] = data["time"] if isinstance(data.get("time"), dict) else {}
    error: dict[str, Any] | None = data["error"] if isinstance(data.get("error"), dict) else None
    return Message(
        id=row.id,
        session_id=row.session_id,
        role=str(data.get("role", "")),
        time_created=int(row.time_created),
        completed=when.get("completed"),
        error_name=(error or {}).get("name"),
        finish=data.get("finish"),
        is_summary=data.get("summary") is True,
        model=data.get("modelID"),
        agent=data.get("agent"),
    )


def part_from_row(row: Any, data: dict[str, Any]) -> Part:
    state: dict[str, Any] = data["state"] if isinstance(data.get("state"), dict) else {}
    tool = str(data.get("tool", "?"))
    tool_input = state.get("input")
    metadata: dict[str, Any] = state["metadata"] if isinstance(state.get("metadata"), dict) else {}
    when: dict[str, Any] = state["time"] if isinstance(state.get("time"), dict) else {}
    output = metadata.get("output")
    child = metadata.get("sessionId") if tool == "task" else None
    input_json = json.dumps(tool_input, ensure_ascii=False, indent=2) if tool_input else ""
    return Part(
        id=row.id,
        message_id=row.message_id,
        session_id=row.session_id,
        tool=tool,
        status=str(state.get("status")),
        call_id=data.get("callID"),
        started=when.get("start") if isinstance(when.get("start"), int) else None,
        time_created=int(row.time_created),
        input_summary=input_summary(tool, tool_input),
        input_json=printable(input_json[:INPUT_JSON_LIMIT]),
        title=str(state.get("title")) if state.get("title") else None,
        output_tail=output[-OUTPUT_TAIL:] if isinstance(output, str) else "",
        child_session_id=child if isinstance(child, str) else None,
    )


def session_from_row(row: Any) -> Session:
    return _session_of(tuple(row._mapping.items()))


def session_from_mapping(values: Mapping[str, Any]) -> Session:
    """A session row given as a mapping (OpenCode 2's ``session_v2`` holds the same columns)."""
    return _session_of(tuple(values.items()))


@lru_cache(maxsize=16384)
def _session_of(items: tuple[tuple[str, Any], ...]) -> Session:
    """Sessions are frozen: one object per distinct row, so refreshes do not rebuild them."""
    values = dict(items)
    return Session(
        id=values["id"],
        title=str(values.get("title") or ""),
        directory=str(values.get("directory") or ""),
        parent_id=values.get("parent_id"),
        project_id=values.get("project_id"),
        version=values.get("version"),
        time_created=int(values.get("time_created") or 0),
        time_updated=int(values.get("time_updated") or 0),
        time_compacting=values.get("time_compacting"),
        time_archived=values.get("time_archived"),
    )

"""OpenCode 1.18's sync event log, continued exactly as its ``SyncEvent.run`` does.

The per-session cursors (``event_sequence``), the events a write appends (payloads from
``db/eventlog.py``), the append itself (a compare-and-set on the cursor), and :func:`check`, the
invariant every logged session must keep (seqs contiguous from 0, ``event_sequence.seq`` = the
newest, every part/message row equal to the payload of its newest event).

Only sessions that already have an ``event_sequence`` row get events: a log is never started
(OpenCode 1.14–1.15 ship the tables but never write them; older releases lack them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.eventlog import (
    MESSAGE_UPDATED,
    PART_UPDATED,
    SESSION_UPDATED,
    EventIds,
    json_or_none,
    message_payload,
    part_payload,
    session_info_from_row,
    session_payload,
)
from inspector.core.db.v1 import sql as q
from inspector.core.model import LogCursor, LogEvent, RowChange
from inspector.core.text import compact_json

__all__ = ["EventIds", "LogProblem", "append", "check", "events_for", "read_cursors"]


# -- reading the log -----------------------------------------------------------------------


def read_cursors(conn: Connection, session_ids: Iterable[str]) -> dict[str, LogCursor]:
    """``event_sequence`` rows of ``session_ids``; sessions without one have no log."""
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    return {
        row.aggregate_id: LogCursor(session_id=row.aggregate_id, seq=int(row.seq), owner_id=row.owner_id)
        for row in conn.execute(q.EVENT_CURSORS, {"ids": ids})
    }


def _session_info(conn: Connection, session_id: str) -> dict[str, Any]:
    """The freshest whole session object OpenCode logged (its row's, if it logged none)."""
    logged = conn.execute(q.LATEST_SESSION_EVENT, {"sid": session_id}).first()
    info = (json_or_none(logged.data) or {}).get("info") if logged is not None else None
    if isinstance(info, dict):
        return info
    row = conn.execute(q.SESSION_FOR_EVENT, {"id": session_id}).first()
    return session_info_from_row(dict(row._mapping)) if row is not None else {"id": session_id}


# -- building events -------------------------------------------------------------------------


def events_for(
    conn: Connection,
    writes: Sequence[tuple[RowChange, Mapping[str, Any]]],
    cursors: Mapping[str, LogCursor],
    ids: EventIds,
    now: int,
) -> tuple[LogEvent, ...]:
    """One event per written row of a logged session, seqs continuing each session's cursor.

    ``writes`` pairs a change with the image being written (its ``after`` for a repair, its
    ``before`` for an undo). Rows of sessions without a cursor get no event.
    """
    next_seq = {sid: cursor.seq + 1 for sid, cursor in cursors.items()}
    events: list[LogEvent] = []
    for change, image in writes:
        if change.session_id not in next_seq:
            continue
        kind, payload = _payload(conn, change, image, now)
        seq = next_seq[change.session_id]
        next_seq[change.session_id] = seq + 1
        events.append(
            LogEvent(id=ids.next(now), aggregate_id=change.session_id, seq=seq, type=kind, data=compact_json(payload))
        )
    return tuple(events)


def _payload(conn: Connection, change: RowChange, image: Mapping[str, Any], now: int) -> tuple[str, dict[str, Any]]:
    if change.table == "part":
        message_id = change.message_id or conn.execute(q.PART_MESSAGE, {"id": change.row_id}).scalar_one()
        return PART_UPDATED, part_payload(change.session_id, message_id, change.row_id, json.loads(image["data"]), now)
    if change.table == "message":
        return MESSAGE_UPDATED, message_payload(change.session_id, change.row_id, json.loads(image["data"]))
    info = _session_info(conn, change.session_id)
    return SESSION_UPDATED, session_payload(
        info, change.session_id, updated=image["time_updated"], compacting=image["time_compacting"]
    )


def append(conn: Connection, events: Sequence[LogEvent], cursors: Mapping[str, LogCursor]) -> bool:
    """Advance each session's ``event_sequence`` by compare-and-set, then insert its events.

    False when a cursor moved since it was read (OpenCode appended an event in between): the
    caller rolls its transaction back, so nothing of the unit is written.
    """
    counts: dict[str, int] = {}
    for event in events:
        counts[event.aggregate_id] = counts.get(event.aggregate_id, 0) + 1
    for session_id, count in counts.items():
        cursor = cursors[session_id]
        moved = conn.execute(
            q.ADVANCE_SEQUENCE,
            {
                "sid": session_id,
                "old": cursor.seq,
                "new": cursor.seq + count,
                "owner": cursor.owner_id,
            },
        ).rowcount
        if moved != 1:
            return False
    for event in events:
        conn.execute(
            q.INSERT_EVENT,
            {
                "id": event.id,
                "aggregate_id": event.aggregate_id,
                "seq": event.seq,
                "type": event.type,
                "data": event.data,
            },
        )
    return True


# -- the invariant --------------------------------------------------------------------------


@dataclass(frozen=True)
class LogProblem:
    """One way a session's rows and its event log disagree."""

    session_id: str
    what: str


_PART_KEYS = ("id", "sessionID", "messageID")
_MESSAGE_KEYS = ("id", "sessionID")
_PART_TYPES = ("message.part.updated.",)
_MESSAGE_TYPES = ("message.updated.",)


def check(conn: Connection, session_ids: Iterable[str] | None = None) -> list[LogProblem]:
    """Every logged session: seqs 0..n-1 without gaps, ``event_sequence.seq`` = n-1, and every
    part/message row equal (minus its id keys) to the payload of the newest event carrying it."""
    if session_ids is None:
        ids = [row.aggregate_id for row in conn.execute(q.ALL_EVENT_CURSORS)]
    else:
        ids = sorted(read_cursors(conn, session_ids))
    problems: list[LogProblem] = []
    for sid in ids:
        problems.extend(_check_session(conn, sid))
    return problems


def _check_session(conn: Connection, sid: str) -> list[LogProblem]:  # noqa: C901
    problems: list[LogProblem] = []
    cursor = conn.execute(q.EVENT_CURSORS, {"ids": [sid]}).first()
    events = list(conn.execute(q.EVENTS_OF_SESSION, {"sid": sid}))
    seqs = [int(e.seq) for e in events]
    if seqs != list(range(len(seqs))):
        problems.append(LogProblem(sid, f"event seqs are not contiguous from 0 ({seqs[:5]}…)"))
    if cursor is not None and events and int(cursor.seq) != seqs[-1]:
        problems.append(LogProblem(sid, f"event_sequence.seq is {cursor.seq}, newest event seq is {seqs[-1]}"))
    newest_part: dict[str, dict[str, Any] | None] = {}
    newest_message: dict[str, dict[str, Any] | None] = {}
    for event in events:
        data = json_or_none(event.data) or {}
        if event.type.startswith(_PART_TYPES):
            part = data.get("part") or {}
            newest_part[str(part.get("id"))] = {k: v for k, v in part.items() if k not in _PART_KEYS}
        elif event.type.startswith(_MESSAGE_TYPES):
            info = data.get("info") or {}
            newest_message[str(info.get("id"))] = {k: v for k, v in info.items() if k not in _MESSAGE_KEYS}
        elif event.type.startswith("message.part.removed."):
            newest_part[str(data.get("partID"))] = None
        elif event.type.startswith("message.removed."):
            newest_message[str(data.get("messageID"))] = None
    for table, newest, query in (
        ("part", newest_part, q.PARTS_OF_SESSION),
        ("message", newest_message, q.MESSAGES_OF_SESSION),
    ):
        present = set()
        for row in conn.execute(query, {"sid": sid}):
            present.add(row.id)
            if row.id not in newest or newest[row.id] is None:
                problems.append(LogProblem(sid, f"{table} {row.id} has no event in the log"))
            elif json_or_none(row.data) != newest[row.id]:
                problems.append(LogProblem(sid, f"{table} {row.id} differs from its newest event"))
        for row_id, payload in newest.items():
            if payload is not None and row_id not in present:
                problems.append(LogProblem(sid, f"{table} {row_id} is in the log but not in the table"))
    return problems

"""OpenCode's sync event log (1.18+): continue it exactly as OpenCode's ``SyncEvent.run`` does.

OpenCode 1.18 is event-sourced: each write is a row *and* an ``event`` row (``seq`` =
``event_sequence.seq + 1`` for the session, an ascending ``evt_`` id, the payload as JSON), in
one ``BEGIN IMMEDIATE`` transaction. Workspace sync replays that log (``/sync/history`` →
``/sync/replay``), so a repair that changes rows without appending their events is undone by
the next replay. Here: the payloads, the ids, the per-session cursors, and :func:`check`, the
invariant every logged session must keep (seqs contiguous from 0, ``event_sequence.seq`` = the
newest, every part/message row equal to the payload of its newest event).

Only sessions that already have an ``event_sequence`` row get events: a log is never started
(OpenCode 1.14–1.15 ship the tables but never write them; older releases lack them).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.v1 import sql as q
from inspector.core.model import LogCursor, LogEvent, RowChange
from inspector.core.text import compact_json

PART_UPDATED = "message.part.updated.1"
MESSAGE_UPDATED = "message.updated.1"
SESSION_UPDATED = "session.updated.1"

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_MASK48 = 0xFFFFFFFFFFFF


class EventIds:
    """OpenCode's ascending ids: 12 hex digits of ``(ms * 4096 + counter) mod 2**48``, then 14
    random base62 characters. The counter restarts at 1 for every new millisecond, so ids minted
    within one millisecond still ascend (checked against the ids of the real fixtures)."""

    def __init__(self, prefix: str = "evt", choice: Callable[[str], str] = secrets.choice) -> None:
        self.prefix = prefix
        self._choice = choice  # a seeded ``random.Random().choice`` makes builders deterministic
        self._last_ms = -1
        self._counter = 0

    def next(self, now_ms: int) -> str:
        if now_ms != self._last_ms:
            self._last_ms, self._counter = now_ms, 0
        self._counter += 1
        stamp = (now_ms * 0x1000 + self._counter) & _MASK48
        tail = "".join(self._choice(_BASE62) for _ in range(14))
        return f"{self.prefix}_{stamp:012x}{tail}"


# -- payloads (key order and key set as OpenCode 1.18.33 writes them) -------------------------


def part_payload(session_id: str, message_id: str, part_id: str, data: Mapping[str, Any], now: int) -> dict[str, Any]:
    return {
        "sessionID": session_id,
        "part": {"id": part_id, "sessionID": session_id, "messageID": message_id, **data},
        "time": now,
    }


def message_payload(session_id: str, message_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"sessionID": session_id, "info": {"id": message_id, "sessionID": session_id, **data}}


def session_payload(
    info: Mapping[str, Any], session_id: str, *, updated: int, compacting: int | None
) -> dict[str, Any]:
    """``session.updated.1`` carries the whole session object; only its ``time`` changes here.

    OpenCode builds that object from the row with ``compacting: row.time_compacting ?? undefined``,
    so a cleared mark is an absent key, never ``null``.
    """
    new = dict(info)
    when = dict(new.get("time") or {}) if isinstance(new.get("time"), dict) else {}
    when["updated"] = updated
    when.pop("compacting", None)
    if compacting is not None:
        when["compacting"] = compacting
    new["time"] = when
    return {"sessionID": session_id, "info": new}


def session_info_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The session object OpenCode would publish for ``row`` (its ``fromRow``), used only when a
    logged session has no ``session.*`` event to start from."""
    info: dict[str, Any] = {"id": row["id"], "slug": row.get("slug"), "projectID": row.get("project_id")}
    for key, column in (
        ("workspaceID", "workspace_id"),
        ("directory", "directory"),
        ("path", "path"),
        ("parentID", "parent_id"),
        ("title", "title"),
        ("agent", "agent"),
    ):
        if row.get(column) is not None:
            info[key] = row[column]
    if row.get("model"):
        info["model"] = _json_or_none(row["model"])
    info["version"] = row.get("version")
    time: dict[str, Any] = {"created": row.get("time_created"), "updated": row.get("time_updated")}
    if row.get("time_compacting") is not None:
        time["compacting"] = row["time_compacting"]
    if row.get("time_archived") is not None:
        time["archived"] = row["time_archived"]
    info["time"] = time
    return {k: v for k, v in info.items() if v is not None}


def _json_or_none(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None


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
    info = (_json_or_none(logged.data) or {}).get("info") if logged is not None else None
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
        data = _json_or_none(event.data) or {}
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
            elif _json_or_none(row.data) != newest[row.id]:
                problems.append(LogProblem(sid, f"{table} {row.id} differs from its newest event"))
        for row_id, payload in newest.items():
            if payload is not None and row_id not in present:
                problems.append(LogProblem(sid, f"{table} {row_id} is in the log but not in the table"))
    return problems

"""OpenCode's sync event log (1.18+): the ids and payloads, exactly as ``SyncEvent.run`` makes them.

OpenCode 1.18 is event-sourced: each write is a row *and* an ``event`` row (``seq`` =
``event_sequence.seq + 1`` for the session, an ascending ``evt_`` id, the payload as JSON), in
one ``BEGIN IMMEDIATE`` transaction. Workspace sync replays that log (``/sync/history`` →
``/sync/replay``), so a repair that changes rows without appending their events is undone by
the next replay. Here: the ids and the payload shapes, with no SQL (the synthetic builder uses
them too); ``v1/eventlog.py`` reads the cursors, appends the events and checks the invariant.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

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
        info["model"] = json_or_none(row["model"])
    info["version"] = row.get("version")
    time: dict[str, Any] = {"created": row.get("time_created"), "updated": row.get("time_updated")}
    if row.get("time_compacting") is not None:
        time["compacting"] = row["time_compacting"]
    if row.get("time_archived") is not None:
        time["archived"] = row["time_archived"]
    info["time"] = time
    return {k: v for k, v in info.items() if v is not None}


def json_or_none(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return None

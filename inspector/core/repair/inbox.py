"""Cancel prompts a session was sent and never got, through the running OpenCode (2.x).

OpenCode 2 keeps a prompt sent while a turn runs in ``session_inbox`` and delivers it with the
next prompt (even after a crash: the ``inbox-stranded`` pattern). A person who no longer wants
it delivered asks for it to be cancelled; only that person decides, per session. The server
does it (``DELETE /api/session/{id}/inbox/{item}``, measured on 2.1.2 also for a session no
turn runs), so its clients see it; its 204 proves nothing (it answers so for an unknown item
too), so the inbox is listed again. A generation without an inbox (1.x) holds none to cancel.
Nothing here writes to the database.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inspector.core.db.store import open_store
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS
from inspector.core.errors import SessionNotFound, WritesDisabled
from inspector.core.opencode.client import ServerError
from inspector.core.opencode.live import detect
from inspector.core.opencode.turn_servers import InboxItem, turn_server

READ_ONLY = "opened read-only: cancelling prompts is disabled"


@dataclass(frozen=True)
class InboxOutcome:
    """One undelivered prompt and what asking to cancel it did (``route`` empty: nothing sent)."""

    item: InboxItem
    cancelled: bool
    detail: str
    route: str = ""


@dataclass(frozen=True)
class InboxResult:
    """A session's undelivered prompts before, and the outcome of each cancel asked for."""

    session_id: str
    waiting: tuple[InboxItem, ...]
    outcomes: tuple[InboxOutcome, ...] = ()
    unknown: tuple[str, ...] = ()  # ids asked for that its inbox does not hold

    @property
    def ok(self) -> bool:
        return not self.unknown and all(o.cancelled for o in self.outcomes)


def cancel_inbox(
    db: str | os.PathLike[str],
    session_id: str,
    item_ids: Sequence[str] | None = None,
    *,
    list_only: bool = False,
    read_only: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> InboxResult:
    """List ``session_id``'s undelivered prompts and cancel ``item_ids`` (None: all of them;
    ``list_only``: none) through the server; ``ServerError`` when no server can be asked."""
    if read_only and not list_only:
        raise WritesDisabled(READ_ONLY)
    store = open_store(Path(db), busy_timeout_ms=busy_timeout_ms)
    try:
        store.require_readable()
        with store.reading() as reads:
            if not reads.existing_sessions([session_id]):
                raise SessionNotFound(f"no session {session_id} in {store.path}")
            hold = reads.holds([session_id]).get(session_id)
        schema = store.schema
    finally:
        store.dispose()
    if hold is None or not hold.inbox:  # nothing waits (a 1.x session never has an inbox)
        return InboxResult(session_id, (), unknown=tuple(item_ids or ()))
    live = detect(db, schema=schema)
    server = turn_server(db, live.port_of(session_id), schema=schema)
    waiting = tuple(server.inbox(session_id))
    if list_only:
        return InboxResult(session_id, waiting)
    held = {item.id: item for item in waiting}
    wanted = list(held) if item_ids is None else [i for i in dict.fromkeys(item_ids) if i in held]
    sent: list[tuple[InboxItem, str]] = []
    failed: list[InboxOutcome] = []
    for item_id in wanted:
        try:
            sent.append((held[item_id], server.cancel_inbox(session_id, item_id)))
        except ServerError as exc:
            failed.append(InboxOutcome(held[item_id], False, f"{exc}; nothing else was sent"))
    left = {item.id for item in server.inbox(session_id)} if sent else set()
    outcomes = [
        InboxOutcome(item, True, "cancelled through OpenCode: it will not be delivered", route)
        if item.id not in left
        else InboxOutcome(item, False, "OpenCode still holds it after the cancel", route)
        for item, route in sent
    ]
    unknown = tuple(i for i in (item_ids or ()) if i not in held)
    return InboxResult(session_id, waiting, tuple(outcomes + failed), unknown)


__all__ = ["InboxOutcome", "InboxResult", "cancel_inbox"]

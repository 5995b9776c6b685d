"""The raw rows a scan finds (unfinished turns, stuck parts, compaction marks, ignored prompts),
before they are grouped into per-session diagnoses; a full scan and a refresh both fill these."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.ranges import Progress, read_ranges
from inspector.core.db.rows import chunks, load_json, message_from_row, part_from_row
from inspector.core.db.store import Store
from inspector.core.db.v1 import sql as q
from inspector.core.diagnose import idwrap
from inspector.core.diagnose.children import infer_children
from inspector.core.model import Message, Part


class Findings:
    """Raw rows found by the queries, before they are grouped into per-session diagnoses."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.parts: dict[str, Part] = {}
        self.compacting: dict[str, int] = {}
        self.ignored_prompts: set[str] = set()
        self.completed_messages: set[str] = set()
        self.wrap_writer: str | None = None  # OpenCode release ≤ 1.18.14 that wrote the database

    def add_messages(self, rows: Iterable[Any]) -> None:
        for row in rows:
            message = message_from_row(row, load_json(row, "message"))
            if message.role == "assistant" and message.completed is None:
                self.messages[message.id] = message

    def add_parts(self, rows: Iterable[Any]) -> None:
        for row in rows:
            part = part_from_row(row, load_json(row, "part"))
            if part.status in ("pending", "running"):
                self.parts[part.id] = part

    @property
    def session_ids(self) -> set[str]:
        ids = {m.session_id for m in self.messages.values()}
        ids |= {p.session_id for p in self.parts.values()}
        return ids | set(self.compacting) | self.ignored_prompts


def collect(
    store: Store,
    conn: Connection,
    *,
    quick: bool,
    session_ids: Sequence[str] | None,
    cancel: threading.Event | None,
    progress: Progress | None,
    now: int,
) -> Findings:
    found = Findings()

    def session_findings() -> None:
        found.compacting = compacting_sessions(store, conn, session_ids)
        found.ignored_prompts = ignored_prompts(conn, session_ids)
        wrap_findings(store, conn, found, session_ids, now)

    if session_ids is not None:
        for chunk in chunks(session_ids):
            found.add_messages(conn.execute(q.UNFINISHED_MESSAGES_OF_SESSIONS, {"ids": chunk}))
            if not quick:
                found.add_parts(conn.execute(q.STUCK_PARTS_OF_SESSIONS, {"ids": chunk}))
        if quick:  # only the parts of unfinished turns, through part_message_id_id_idx
            for chunk in chunks(sorted(found.messages)):
                found.add_parts(conn.execute(q.STUCK_PARTS_OF_MESSAGES, {"ids": chunk}))
        session_findings()
    elif quick:
        found.add_messages(
            read_ranges(store, conn, "message", q.UNFINISHED_MESSAGES, cancel, progress, beside=session_findings)
        )
        for chunk in chunks(sorted(found.messages)):
            found.add_parts(conn.execute(q.STUCK_PARTS_OF_MESSAGES, {"ids": chunk}))
    else:
        found.add_messages(read_ranges(store, conn, "message", q.UNFINISHED_MESSAGES, cancel, None))
        found.add_parts(
            read_ranges(store, conn, "part", q.STUCK_PARTS_RANGE, cancel, progress, beside=session_findings)
        )
    found.parts = infer_children(conn, found.parts)
    found.completed_messages = completed_messages(conn, found)
    return found


def wrap_findings(store: Store, conn: Connection, found: Findings, session_ids: Sequence[str] | None, now: int) -> None:
    """OpenCode ≤ 1.18.14's id-wrap loop: which release wrote the file, and the loop's leftovers
    (replies to an older prompt), which are the loop form of ignored prompts."""
    found.wrap_writer = idwrap.writer_version(conn, store.has_session_column("version"))
    if found.wrap_writer:
        for sid in idwrap.loop_leftovers(conn, now):
            if session_ids is None or sid in session_ids:
                found.ignored_prompts.add(sid)


def compacting_sessions(store: Store, conn: Connection, session_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Sessions marked compacting with no finished summary since (the session table is small)."""
    compacting: dict[str, int] = {}
    if not store.has_session_column("time_compacting"):
        return compacting
    for row in conn.execute(q.COMPACTING_SESSIONS):
        if session_ids is None or row.id in session_ids:
            compacting[row.id] = int(row.time_compacting)
    return compacting


def ignored_prompts(conn: Connection, session_ids: Sequence[str] | None = None) -> set[str]:
    """Sessions whose newest prompt an old OpenCode would ignore (ids wrapped); ``session_ids``
    limits the question to those sessions (through the indexes)."""
    if session_ids is None:
        return {row.session_id for row in conn.execute(q.IGNORED_PROMPTS)}
    found: set[str] = set()
    for chunk in chunks(sorted(set(session_ids))):
        found.update(row.session_id for row in conn.execute(q.IGNORED_PROMPTS_OF_SESSIONS, {"ids": chunk}))
    return found


def completed_messages(conn: Connection, found: Findings) -> set[str]:
    """Messages of stuck parts that did finish (the parts-in-finished-turn pattern)."""
    done: set[str] = set()
    orphan_messages = sorted({p.message_id for p in found.parts.values()} - set(found.messages))
    for chunk in chunks(orphan_messages):
        done.update(row.id for row in conn.execute(q.MESSAGE_COMPLETED, {"ids": chunk}) if row.done)
    return done

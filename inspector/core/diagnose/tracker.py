"""Follow a database at O(changes): the watermarks, the rows after them, and when to start over.

Both incremental readers (the deep tier's :mod:`refresh` and the quick tier's watchdog) keep the
same small state, :class:`Watermarks`: the file's identity, its schema version and page count,
and per table its newest row (rowid *and* id). :func:`advance` moves it forward in the caller's
read snapshot and raises :class:`StartOver` when the rows it describes may no longer be what the
file holds; only a full pass of the caller's tier is correct then:

- the file was replaced (``(st_dev, st_ino)`` changed) or cannot be read;
- the schema changed (``PRAGMA schema_version``), or the page size or ``application_id`` did;
- the file shrank (``PRAGMA page_count``: VACUUM);
- SQLite's file change counter went back (an older copy of the file put in its place);
- a table's newest row is gone or holds another id (rows deleted, rowids renumbered or reused).

Between two watermarks, :func:`appended` names the new rows of a table and :func:`by_ids`
re-reads the rows a caller already knows (:mod:`changes` reads the findings through both). Every watermark is the database's own value, never
our clock; the state is plain values so it can be kept across processes (:mod:`state`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy.engine import Connection

from inspector.core.db.rows import chunks
from inspector.core.db.store import Store
from inspector.core.db.v1 import sql as q

__all__ = [
    "Logged",
    "StartOver",
    "Tail",
    "Watermarks",
    "advance",
    "appended",
    "by_ids",
    "has_event_log",
    "logged",
    "start",
]


class StartOver(Exception):
    """The file is not the one the watermarks describe any more; only a full pass is correct."""


@dataclass(frozen=True)
class Tail:
    """The newest row of a table: where the next look resumes, and proof rowids held."""

    rowid: int
    id: str | None


@dataclass(frozen=True)
class Watermarks:
    """Where the last look left off, in the database's own terms."""

    identity: tuple[int, int]
    schema_version: int
    page_count: int
    tails: Mapping[str, Tail]
    page_size: int = 0  # 0: not known (a caller that built marks by hand); never compared then
    application_id: int = 0
    counter: int = -1  # SQLite's file change counter on disk; -1: not known, never compared


W = TypeVar("W", bound=Watermarks)


def has_event_log(conn: Connection) -> bool:
    """Does the file hold OpenCode's sync event log (a table worth a tail)?"""
    return conn.execute(q.HAS_EVENT_LOG).first() is not None


def start(store: Store, conn: Connection, tables: tuple[str, ...]) -> Watermarks:
    """The watermarks of ``tables`` in ``conn``'s snapshot (read them first in a full pass, so
    nothing written meanwhile can fall between the pass and the next :func:`advance`)."""
    row = _where_we_are(conn, tables, {})
    return Watermarks(
        identity=_identity(store),
        schema_version=int(row.schema_version),
        page_count=int(row.page_count),
        tails=_tails_of(row, tables),
        page_size=int(row.page_size),
        application_id=int(row.application_id),
        counter=change_counter(store.path),
    )


def advance(store: Store, conn: Connection, marks: W) -> W:
    """``marks`` moved to ``conn``'s snapshot, after proving the file is still the one they
    describe (raises :class:`StartOver`). A subclass keeps its own fields unchanged."""
    if _identity(store) != marks.identity:
        raise StartOver("the database file was replaced")
    tables = tuple(marks.tails)
    row = _where_we_are(conn, tables, marks.tails)
    if int(row.schema_version) != marks.schema_version:
        raise StartOver("the schema changed")
    if marks.page_size and (int(row.page_size), int(row.application_id)) != (marks.page_size, marks.application_id):
        raise StartOver("the database header changed (page size or application id)")
    if int(row.page_count) < marks.page_count:
        raise StartOver("the database shrank (VACUUM or a checkpoint)")
    for table, tail in marks.tails.items():
        if tail.rowid and row._mapping[f"{table}_at"] != tail.id:
            raise StartOver(f"rows of {table} were renumbered or deleted")
    counter = change_counter(store.path) if marks.counter >= 0 else -1
    if counter < marks.counter:
        raise StartOver("the database file was rewritten with an older copy (a backup restored in place?)")
    return replace(marks, page_count=int(row.page_count), tails=_tails_of(row, tables), counter=counter)


def appended(before: Watermarks, after: Watermarks, table: str) -> dict[str, int] | None:
    """The rowids of ``table`` written between two watermarks, as ``{"lo", "hi"}`` (inclusive,
    the parameters of a ``rowid BETWEEN :lo AND :hi`` query); None when there are none."""
    lo, hi = before.tails[table].rowid + 1, after.tails[table].rowid
    return {"lo": lo, "hi": hi} if hi >= lo else None


@dataclass(frozen=True)
class Logged:
    """What OpenCode's sync event log says was written in a span: parts, messages, sessions."""

    parts: frozenset[str] = frozenset()
    messages: frozenset[str] = frozenset()
    sessions: frozenset[str] = frozenset()


def logged(conn: Connection, span: dict[str, int] | None) -> Logged:
    """The rows named by the event log's rows in ``span`` (from :func:`appended` of ``event``):
    every row OpenCode 1.18 writes appends an event naming it, and its session (the aggregate)."""
    parts: set[str] = set()
    messages: set[str] = set()
    sessions: set[str] = set()
    if span is not None:
        for row in conn.execute(q.NEW_EVENTS, span):
            kind = str(row.type or "")
            if isinstance(row.aggregate_id, str):
                sessions.add(row.aggregate_id)
            if kind.startswith("message.part.") and isinstance(row.part_id, str):
                parts.add(row.part_id)
            elif kind.startswith("message.") and isinstance(row.message_id, str):
                messages.add(row.message_id)
    return Logged(frozenset(parts), frozenset(messages), frozenset(sessions))


def by_ids(conn: Connection, query: Any, ids: Iterable[str]) -> Iterator[Any]:
    """The rows ``query`` (``... WHERE id IN :ids``) returns for known ids, in bounded chunks."""
    for chunk in chunks(sorted(ids)):
        yield from conn.execute(query, {"ids": chunk})


def change_counter(path: str | os.PathLike[str]) -> int:
    """SQLite's file change counter (header bytes 24..27), read in the caller's snapshot.

    Every transaction of a rollback-journal file, and every checkpoint of page 1 of a WAL file,
    moves it forward; it never goes back, but a copy of an older file brings its older value
    back. -1 when the header cannot be read (then it is not compared)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            header = os.pread(fd, 100, 0)
        finally:
            os.close(fd)
    except OSError:
        return -1
    return int.from_bytes(header[24:28], "big") if len(header) == 100 else -1


def _identity(store: Store) -> tuple[int, int]:
    try:
        info = os.stat(store.path)
    except OSError as exc:
        raise StartOver(f"{store.path} cannot be read ({exc.strerror or exc})") from None
    return (info.st_dev, info.st_ino)


def _where_we_are(conn: Connection, tables: tuple[str, ...], at: Mapping[str, Tail]) -> Any:
    params = {f"{t}_at": at[t].rowid if t in at else 0 for t in tables}
    return conn.execute(q.where_we_are(tables), params).one()


def _tails_of(row: Any, tables: Iterable[str]) -> dict[str, Tail]:
    mapping = row._mapping
    return {t: Tail(int(mapping[f"{t}_rowid"] or 0), mapping[f"{t}_id"]) for t in tables}

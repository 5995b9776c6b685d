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

Between two watermarks, :func:`appended` names the new rows of a table (:mod:`changes` reads
them, and the rows a caller already knows, through ``ScanReads``). Every watermark is the
database's own value (``ScanReads.watermark``), never our clock; the state is plain values so
it can be kept across processes (:mod:`state`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

from inspector.core.db.reads.scan import Logged, ScanReads, Tail, Where

if TYPE_CHECKING:
    from inspector.core.db.store import Store

__all__ = [
    "Logged",
    "StartOver",
    "Tail",
    "Watermarks",
    "advance",
    "appended",
    "logged",
    "start",
]


class StartOver(Exception):
    """The file is not the one the watermarks describe any more; only a full pass is correct."""


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


def start(store: Store, reads: ScanReads, tables: tuple[str, ...]) -> Watermarks:
    """The watermarks of ``tables`` in ``reads``' snapshot (read them first in a full pass, so
    nothing written meanwhile can fall between the pass and the next :func:`advance`)."""
    where = reads.watermark(tables, {})
    return Watermarks(
        identity=_identity(store),
        schema_version=where.schema_version,
        page_count=where.page_count,
        tails=dict(where.tails),
        page_size=where.page_size,
        application_id=where.application_id,
        counter=change_counter(store.path),
    )


def advance(store: Store, reads: ScanReads, marks: W) -> W:
    """``marks`` moved to ``reads``' snapshot, after proving the file is still the one they
    describe (raises :class:`StartOver`). A subclass keeps its own fields unchanged."""
    if _identity(store) != marks.identity:
        raise StartOver("the database file was replaced")
    where = reads.watermark(tuple(marks.tails), {t: tail.rowid for t, tail in marks.tails.items()})
    why = moved_on(marks, where)
    if why is not None:
        raise StartOver(why)
    counter = change_counter(store.path) if marks.counter >= 0 else -1
    if counter < marks.counter:
        raise StartOver("the database file was rewritten with an older copy (a backup restored in place?)")
    return replace(marks, page_count=where.page_count, tails=dict(where.tails), counter=counter)


def moved_on(marks: Watermarks, where: Where) -> str | None:
    """Why the rows ``marks`` describe may no longer be what the file holds (None: they are)."""
    if not where.follows_changes:
        return "this database's changes are not followed: every scan reads it whole"
    if where.schema_version != marks.schema_version:
        return "the schema changed"
    if marks.page_size and (where.page_size, where.application_id) != (marks.page_size, marks.application_id):
        return "the database header changed (page size or application id)"
    if where.page_count < marks.page_count:
        return "the database shrank (VACUUM or a checkpoint)"
    for table, tail in marks.tails.items():
        if tail.rowid and where.at[table] != tail.id:
            return f"rows of {table} were renumbered or deleted"
    return None


def appended(before: Watermarks, after: Watermarks, table: str) -> dict[str, int] | None:
    """The rowids of ``table`` written between two watermarks, as ``{"lo", "hi"}`` (inclusive,
    the parameters of a ``rowid BETWEEN :lo AND :hi`` query); None when there are none."""
    lo, hi = before.tails[table].rowid + 1, after.tails[table].rowid
    return {"lo": lo, "hi": hi} if hi >= lo else None


def logged(reads: ScanReads, before: Watermarks, after: Watermarks) -> Logged:
    """What the event log names between two watermarks (nothing where the file keeps no log)."""
    return reads.logged_since(appended(before, after, "event")) if "event" in after.tails else Logged()


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

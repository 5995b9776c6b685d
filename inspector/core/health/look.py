"""One look at the database's health: who holds its locks and since when, what our own reads
and writes met, how big its WAL is against the file, and (``pages``) what SQLite says of its
pages, with ``quick_check`` only when asked (it reads the whole file).

A look never writes the database: the lock table is the kernel's, the sizes are ``stat``, the
pragmas run on a read-only connection. It writes one small state file (``sightings``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from inspector.core.db import contention
from inspector.core.db.contention import Contention
from inspector.core.db.health import FileSizes, PageStats, file_sizes, read_pages
from inspector.core.db.locks import LockTable, Role, read_locks
from inspector.core.db.store import open_store, unsupported_error
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS
from inspector.core.errors import DatabaseLocked
from inspector.core.health.holders import Holder, describe, words
from inspector.core.health.sightings import Sighting, first_seen
from inspector.core.text import humanize_ms, now_ms

# A WAL this many times the database, and at least this big, is one the checkpoint cannot keep
# small (SQLite's automatic checkpoint holds a WAL near 1000 pages, ~4 MiB, while it can run).
WAL_STARVED_RATIO = 4
WAL_STARVED_MIN_BYTES = 32 * 1024 * 1024
# A write lock held longer than a writer waits for it (OpenCode's busy_timeout, and ours) makes
# every other writer give up with SQLITE_BUSY.
LOCK_HELD_MS = DEFAULT_BUSY_TIMEOUT_MS
MAX_NAMED = 8  # readers or waiters named at most (the rest counted)

Finding = Literal["write-lock", "contention", "wal-starved", "integrity"]
_WRITE_ROLES: tuple[Role, ...] = ("writer", "committing", "checkpointer", "recovery")


@dataclass(frozen=True)
class LockHeld:
    """The write lock (or a lock that excludes writers) and who holds it, seen since when."""

    role: Role
    holder: Holder
    first_seen: int
    held_ms: int


@dataclass(frozen=True)
class Health:
    """What one look saw; ``findings`` are the reasons the database itself can make sessions hang."""

    database: str
    checked_at: int
    sizes: FileSizes
    locks_readable: bool
    lock: LockHeld | None = None
    readers: tuple[Holder, ...] = ()  # processes whose open read snapshot reaches into the WAL
    waiters: tuple[Holder, ...] = ()  # processes blocked asking for a lock
    contention: Contention = Contention()
    pages: PageStats | None = None
    schema: str = ""  # "v1", "v2" (with ``pages``: the file was classified too)

    @property
    def wal_starved(self) -> bool:
        wal, db = self.sizes.wal, self.sizes.database
        return wal >= WAL_STARVED_MIN_BYTES and wal >= WAL_STARVED_RATIO * max(db, 1)

    @property
    def integrity_failed(self) -> bool:
        return self.pages is not None and self.pages.integrity is not None and self.pages.integrity != ("ok",)

    @property
    def findings(self) -> tuple[Finding, ...]:
        found: list[Finding] = []
        if self.lock is not None:
            found.append("write-lock")
        if self.contention.seen:
            found.append("contention")
        if self.wal_starved:
            found.append("wal-starved")
        if self.integrity_failed:
            found.append("integrity")
        return tuple(found)

    @property
    def explains_hang(self) -> bool:
        """Whether the database itself is a reason OpenCode's turns do not move: a write lock held
        past a writer's busy timeout, our own reads or writes kept waiting, a starved checkpoint,
        a damaged file. A lock seen only for a moment is a writer at work, not a hang."""
        held = self.lock is not None and self.lock.held_ms >= LOCK_HELD_MS
        return held or self.contention.seen or self.wal_starved or self.integrity_failed

    @property
    def checkpoint_advised(self) -> bool:
        """A starved WAL that a checkpoint could empty now: no reader pins a snapshot in it."""
        return self.wal_starved and not self.readers


def look(
    path: Path,
    *,
    pages: bool = False,
    check: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    now: int | None = None,
) -> Health:
    """The database's health now. ``pages``: also its pragmas (``check``: and ``quick_check``);
    without them a look costs a ``stat`` and one read of the lock table (``scan`` runs it)."""
    now = now_ms() if now is None else now
    table = read_locks(path)
    lock = _write_lock(path, table, now)
    mine = os.getpid()
    holder = lock.holder.pid if lock is not None else None
    # a writer holds a read mark too: it is named once, as the writer
    readers = _named(held.pid for held in table.holding("reader") if held.pid not in (mine, holder))
    waiters = _named(held.pid for held in table.locks if held.waiting and held.pid != mine)
    stats: PageStats | None = None
    schema = ""
    if pages:
        try:
            store = open_store(path, busy_timeout_ms=busy_timeout_ms)  # an OpenCode file, and which
            try:
                if store.schema == "legacy":
                    raise unsupported_error(store)
                schema = store.schema
            finally:
                store.dispose()
            stats = read_pages(path, check=check, busy_timeout_ms=busy_timeout_ms)
        except DatabaseLocked:
            raise DatabaseLocked(_locked_line(path, lock, now)) from None
    return Health(
        database=str(path),
        checked_at=now,
        sizes=file_sizes(path),
        locks_readable=table.readable,
        lock=lock,
        readers=readers,
        waiters=waiters,
        contention=contention.seen(),
        pages=stats,
        schema=schema,
    )


def _named(pids: Iterable[int]) -> tuple[Holder, ...]:
    unique = sorted(set(pids))
    return tuple(describe(pid) for pid in unique[:MAX_NAMED])


def _write_lock(path: Path, table: LockTable, now: int) -> LockHeld | None:
    held = [lock for lock in table.holding(*_WRITE_ROLES) if lock.pid != os.getpid()]
    if not held:
        first_seen(path, None)
        return None
    chosen = min(held, key=lambda lock: _WRITE_ROLES.index(lock.role))
    holder = describe(chosen.pid)
    since = first_seen(path, Sighting(holder.pid, holder.started, chosen.role, now))
    since = now if since is None else since
    return LockHeld(chosen.role, holder, since, max(0, now - since))


def _locked_line(path: Path, lock: LockHeld | None, now: int) -> str:
    """A read that waited out the busy timeout: the error names who holds the lock."""
    if lock is None:
        return f"{path} is locked by another process (waited for the busy timeout; the holder cannot be told)"
    return (
        f"{path} is locked by {words(lock.holder)} (the write lock, seen held for "
        f"{humanize_ms(lock.held_ms)}; waited for the busy timeout)"
    )

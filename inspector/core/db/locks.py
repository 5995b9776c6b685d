"""Which processes hold SQLite's locks on a database, read from the kernel's lock table.

SQLite locks byte ranges of its files with POSIX ``fcntl`` locks: in WAL mode bytes 120.. of the
``-shm`` file (the writer's lock, the checkpointer's, the recovery lock, then one read mark per
reader snapshot), in rollback-journal mode bytes from 1 GiB on in the database file itself
(``PENDING``, ``RESERVED``, the ``SHARED`` range). Linux lists every such lock with its owner's
pid in ``/proc/locks``; reading that list takes no lock and opens none of the database's files
(closing a descriptor on a file drops every POSIX lock the process holds on it, so a probe that
opened them could break a connection of our own). Where there is no ``/proc/locks`` nothing can
be said, and the caller says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

PROC_LOCKS = Path("/proc/locks")

# The unix VFS's offsets (sqlite3.c, os_unix.c): the -shm file's lock bytes ...
WAL_WRITE = 120
WAL_CHECKPOINT = 121
WAL_RECOVER = 122
WAL_READ_FIRST = 123  # read mark 0 (a snapshot of the database file alone)
WAL_READ_LAST = 127
# ... and the database file's in rollback-journal mode.
PENDING_BYTE = 0x40000000
RESERVED_BYTE = PENDING_BYTE + 1
SHARED_FIRST = PENDING_BYTE + 2

# "connected": any other lock on these files (every connection holds the -shm's last byte, a
# rollback-mode reader the database's SHARED range): the process has the database open.
Role = Literal["writer", "checkpointer", "recovery", "reader", "committing", "connected"]
MAX_LOCK_LINES = 100_000  # a bound on the table read (a machine with more is not looked through)


@dataclass(frozen=True)
class HeldLock:
    """One lock SQLite's protocol gives a meaning to: who holds it (``pid`` 0: the kernel would
    not say, e.g. a process in another pid namespace) and what it means."""

    pid: int
    role: Role
    file: str  # "wal-index" (the -shm file) or "database"
    waiting: bool = False  # a process blocked asking for this lock (the table's "->" lines)


@dataclass(frozen=True)
class LockTable:
    """The locks held on one database's files; ``readable`` False: this system has no lock table."""

    readable: bool
    locks: tuple[HeldLock, ...] = ()

    def holding(self, *roles: Role) -> tuple[HeldLock, ...]:
        return tuple(lock for lock in self.locks if lock.role in roles and not lock.waiting)

    @property
    def pids(self) -> frozenset[int]:
        """Every process holding any lock on these files (an open SQLite connection does)."""
        return frozenset(lock.pid for lock in self.locks if not lock.waiting)


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return os.major(info.st_dev), os.minor(info.st_dev), info.st_ino


def _role_in_shm(start: int, end: int, write: bool) -> Role | None:
    if start <= WAL_WRITE <= end and write:
        return "writer"
    if start <= WAL_CHECKPOINT <= end and write:
        return "checkpointer"
    if start <= WAL_RECOVER <= end and write:
        return "recovery"
    if start <= WAL_READ_LAST and end >= WAL_READ_FIRST and not write:
        # an open read snapshot: the checkpoint may not copy past it (mark 0: past nothing)
        return "reader"
    return None


def _role_in_database(start: int, end: int, write: bool) -> Role | None:
    if not write:
        return None
    if start <= RESERVED_BYTE <= end:
        return "writer"
    if start <= PENDING_BYTE <= end or start <= SHARED_FIRST <= end:
        return "committing"
    return None


def parse(
    lines: Iterable[str], database: tuple[int, int, int] | None, shm: tuple[int, int, int] | None
) -> list[HeldLock]:
    """The SQLite locks of ``/proc/locks`` lines on the files with these (major, minor, inode)."""
    found: list[HeldLock] = []
    for text in lines:
        fields = text.split()
        waiting = "->" in fields
        if waiting:
            fields.remove("->")
        if len(fields) < 8 or fields[1] != "POSIX":
            continue
        try:
            major, minor, inode = fields[5].split(":")
            where = (int(major, 16), int(minor, 16), int(inode))
            pid = int(fields[4])
            start = int(fields[6])
            end = PENDING_BYTE * 4 if fields[7] == "EOF" else int(fields[7])
        except ValueError:
            continue
        write = fields[3] == "WRITE"
        role: Role | None = None
        name = ""
        if shm is not None and where == shm:
            role, name = _role_in_shm(start, end, write), "wal-index"
        elif database is not None and where == database:
            role, name = _role_in_database(start, end, write), "database"
        if name:
            found.append(HeldLock(pid=max(pid, 0), role=role or "connected", file=name, waiting=waiting))
    return found


def read_locks(path: Path, *, table: Path = PROC_LOCKS) -> LockTable:
    """The SQLite locks held on ``path`` and its ``-shm`` file, by whom."""
    database, shm = _identity(path), _identity(Path(f"{path}-shm"))
    try:
        with table.open("r", encoding="ascii", errors="replace") as handle:
            lines = [line for _, line in zip(range(MAX_LOCK_LINES), handle, strict=False)]
    except OSError:
        return LockTable(readable=False)
    return LockTable(readable=True, locks=tuple(parse(lines, database, shm)))

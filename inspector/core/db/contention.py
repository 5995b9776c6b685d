"""What this process saw of the database's lock: writes that waited for it, and reads or writes
that gave up with ``SQLITE_BUSY`` after the busy timeout.

SQLite does not say whether its busy handler ran, so a write's wait is measured around its
``BEGIN IMMEDIATE`` (the statement does nothing but take the lock); a read's wait shows only when
it ends in ``SQLITE_BUSY``. Kept per process (the TUI and ``watch`` add up over their run; a
single command sees its own reads and writes) and thread-safe (TUI workers).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

WAITED_MS = 100  # a BEGIN IMMEDIATE this slow waited for another writer (taking a free lock is ~0 ms)

Access = Literal["read", "write"]


@dataclass(frozen=True)
class Contention:
    """The counts so far: lock waits (and the longest, in ms) and ``SQLITE_BUSY`` failures."""

    waits: int = 0
    longest_wait_ms: int = 0
    busy_reads: int = 0
    busy_writes: int = 0

    @property
    def seen(self) -> bool:
        return bool(self.waits or self.busy_reads or self.busy_writes)


_lock = threading.Lock()
_seen = Contention()


def record_wait(ms: float) -> None:
    """A write's ``BEGIN IMMEDIATE`` took ``ms``; counted when it had to wait."""
    global _seen
    if ms < WAITED_MS:
        return
    with _lock:
        _seen = Contention(_seen.waits + 1, max(_seen.longest_wait_ms, int(ms)), _seen.busy_reads, _seen.busy_writes)


def record_busy(access: Access) -> None:
    """A read or write of ours gave up with ``SQLITE_BUSY``."""
    global _seen
    with _lock:
        reads, writes = _seen.busy_reads + (access == "read"), _seen.busy_writes + (access == "write")
        _seen = Contention(_seen.waits, _seen.longest_wait_ms, reads, writes)


def seen() -> Contention:
    return _seen


def reset() -> None:
    """Forget what was seen (tests; a front end starting over)."""
    global _seen
    with _lock:
        _seen = Contention()

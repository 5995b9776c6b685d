"""SQLite's own work, counted: virtual machine steps (one tick per 100) on every pooled
connection opened while it counts (``set_progress_handler``). Deterministic for the same
statements on the same rows, so two runs of the same reads cost the same ticks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.pool import Pool


class Work:
    def __init__(self) -> None:
        self.ticks = 0

    def _tick(self) -> int:
        self.ticks += 1
        return 0

    def connect(self, dbapi: sqlite3.Connection, record: object) -> None:
        dbapi.set_progress_handler(self._tick, 100)


@contextmanager
def counting() -> Iterator[Work]:
    """Count the work of every connection opened inside the block (open the stores inside it)."""
    work = Work()
    event.listen(Pool, "connect", work.connect)
    try:
        yield work
    finally:
        event.remove(Pool, "connect", work.connect)

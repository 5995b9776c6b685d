"""Read a whole table in rowid ranges on all cores (the deep tier and the watchdog's first look).

Python's sqlite3 releases the GIL while SQLite works, so each range on its own read-only
connection lets two cores read twice the bytes. Cancel and progress act between ranges.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sqlalchemy import TextClause
from sqlalchemy.engine import Connection

from inspector.core.db.reads.scan import Progress

__all__ = ["CHUNK_ROWS", "WORKERS", "Cancelled", "Progress", "read_ranges"]

if TYPE_CHECKING:
    from inspector.core.db.store import Store

CHUNK_ROWS = 50_000
WORKERS = max(1, min(4, os.cpu_count() or 1))


class Cancelled(Exception):
    """Raised inside a scan when the caller's cancel event is set."""


def read_ranges(
    store: Store,
    conn: Connection,
    top_query: TextClause,
    query: Any,
    cancel: threading.Event | None,
    progress: Progress | None,
    beside: Callable[[], None] | None = None,
) -> list[Any]:
    """Run a rowid-range ``query`` over the whole table on all cores, in table order
    (``top_query``: the table's largest rowid; the schema's SQL lives in its generation's module).

    Each range runs on its own read-only connection: Python's sqlite3 releases the GIL while
    SQLite works, so two cores read twice the bytes. Cancel and progress act between ranges.
    ``beside`` runs in this thread while the ranges are being read (small queries on ``conn``
    that would otherwise leave a core idle afterwards).
    """
    top = int(conn.execute(top_query).scalar_one())
    ranges = [(lo, min(lo + CHUNK_ROWS - 1, top)) for lo in range(1, top + 1, CHUNK_ROWS)]

    def run(bounds: tuple[int, int]) -> list[Any]:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        with store.read() as own:
            return list(own.execute(query, {"lo": bounds[0], "hi": bounds[1]}))

    rows: list[Any] = []
    if len(ranges) <= 1 or WORKERS == 1:
        if beside is not None:
            beside()
        for bounds in ranges:
            rows.extend(run(bounds))
            if progress:
                progress(bounds[1], top)
        return rows
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ocinspect-scan")
    try:
        futures = [pool.submit(run, bounds) for bounds in ranges]
        if beside is not None:
            beside()
        for bounds, future in zip(ranges, futures, strict=True):
            rows.extend(future.result())
            if progress:
                progress(bounds[1], top)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return rows

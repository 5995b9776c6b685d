"""Reading and copying real SQLite files with Python's own ``sqlite3``, independent of the code
under test (the originals in tests/fixtures are only ever opened read-only)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from inspector.core.db.store import open_store
from inspector.core.db.v1 import eventlog


def copy_db(source: Path, dest: Path) -> Path:
    """A private copy made with SQLite's backup API (WAL-safe: committed WAL frames come along)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """``sql`` on a read-only connection: what is in the file, not what a write would see."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def parts_and_messages(db: Path) -> list[tuple[Any, ...]]:
    """Every part and message row with its ``time_updated``, to prove a refused write changed nothing."""
    return rows(db, "SELECT id, time_updated, data FROM part ORDER BY id") + rows(
        db, "SELECT id, time_updated, data FROM message ORDER BY id"
    )


def execute(path: Path, sql: str, *params: object) -> None:
    """One statement in its own transaction, committed (a plain writer, not ocinspect's)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def stuck_tools(db: Path) -> int:
    """How many tool parts are still ``pending`` or ``running``."""
    return int(
        rows(db, "SELECT count(*) FROM part WHERE json_extract(data,'$.state.status') IN ('pending','running')")[0][0]
    )


def log_problems(db: Path) -> list[eventlog.LogProblem]:
    """Where OpenCode's sync log no longer agrees with the rows (empty: every row replays)."""
    with open_store(db).read() as conn:
        return eventlog.check(conn)

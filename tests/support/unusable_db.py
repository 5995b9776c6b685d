"""Files ocinspect must refuse with a typed error, never read or change: an OpenCode 2.x
database, another program's SQLite file, OpenCode's pre-SQLite JSON storage."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def _tables(path: Path, *ddl: str) -> Path:
    conn = sqlite3.connect(path)
    try:
        for statement in ddl:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return path


def opencode_2x(path: Path) -> Path:
    """OpenCode 2.x's event-sourced layout: ``session_v2`` and no ``part`` table."""
    return _tables(
        path,
        "CREATE TABLE session_v2 (id TEXT PRIMARY KEY, data TEXT)",
        "CREATE TABLE session_message (id TEXT PRIMARY KEY)",
        "CREATE TABLE event (id TEXT)",
    )


def foreign(path: Path) -> Path:
    """A valid SQLite file of some other program."""
    return _tables(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")


def legacy_storage(path: Path) -> Path:
    """OpenCode before 1.2 kept sessions as JSON files under ``storage/``, not in SQLite."""
    (path / "storage" / "session" / "global").mkdir(parents=True)
    return path

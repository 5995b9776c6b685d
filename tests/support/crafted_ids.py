"""Session ids a crafted database could hold, and a way to give a real fixture's session one.

Each must stay data: shown by a scan, never passed to OpenCode, where ``--hostname=0.0.0.0``
after ``--session`` would be read as an option of its own.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Ids a person can type (argv cannot hold NUL) and the ones only a database can hold.
TYPABLE = ("--hostname=0.0.0.0", "-s", "ses_x=--port=1", "ses_a b", "ses_a\nb", "ses_a/../b")
CRAFTED = (*TYPABLE, "ses_a\x00b", "ses_ab\n")


def rename_session(db: Path, old: str, new: str) -> None:
    """Give session ``old`` the id ``new`` in every row that names it (as OpenCode would have
    written it, had it chosen that id)."""
    with sqlite3.connect(db) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}
            if "session_id" in columns:
                conn.execute(f'UPDATE "{table}" SET session_id = ? WHERE session_id = ?', (new, old))
            if table == "event" and "aggregate_id" in columns:
                conn.execute("UPDATE event SET aggregate_id = ? WHERE aggregate_id = ?", (new, old))
        conn.execute("UPDATE session SET parent_id = ? WHERE parent_id = ?", (new, old))
        conn.execute("UPDATE session SET id = ? WHERE id = ?", (new, old))

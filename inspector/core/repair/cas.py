"""Compare-and-set, the one way ocinspect writes a row: only if it still holds what the plan saw.

Shared by the direct write (``recover``), the write through a running OpenCode (``via_opencode``)
and ``undo``; a row that moved makes its whole unit a :class:`Conflict`, never an overwrite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.v1 import sql as q
from inspector.core.model import RowChange

LOG_MOVED = "OpenCode appended to this session's event log since the plan was made; OpenCode may be running"


class Conflict(Exception):
    """A row (or a session's log) changed since the plan was made: the unit is skipped whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def current_image(conn: Connection, change: RowChange, columns: Iterable[str]) -> dict[str, Any] | None:
    """What ``change``'s row holds now in ``columns`` (None once the row is gone)."""
    row = conn.execute(q.current_row(change.table, sorted(columns)), {"id": change.row_id}).first()
    return None if row is None else dict(row._mapping)


def write_change(
    conn: Connection, change: RowChange, *, source: dict[str, Any], target: dict[str, Any], guard: bool
) -> bool:
    columns = sorted(target)
    params: dict[str, Any] = {"id": change.row_id}
    params.update({f"new_{c}": target[c] for c in columns})
    params.update({f"old_{c}": source[c] for c in columns})
    statement = q.compare_and_set(change.table, columns, stuck_guard=guard and change.table == "part")
    return conn.execute(statement, params).rowcount == 1


def describe_drift(conn: Connection, change: RowChange) -> str:
    """Why a compare-and-set on ``change`` found something else, in one line."""
    image = current_image(conn, change, change.before)
    if image is None:
        return f"{change.table} {change.row_id} was deleted since the plan was made"
    if change.table == "part":
        try:
            status = json.loads(image["data"]).get("state", {}).get("status")
        except (ValueError, AttributeError):
            status = "unreadable"
        return f"part {change.row_id} changed since the plan was made (now {status}); OpenCode may be running"
    return f"{change.table} {change.row_id} changed since the plan was made; OpenCode may be running"

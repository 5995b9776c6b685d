"""The v1 answers to :class:`inspector.core.db.writes.Writes`: a guarded ``UPDATE`` per row and
OpenCode 1.18's sync log continued in the same transaction (``eventlog.py``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inspector.core.db.v1 import eventlog
from inspector.core.db.v1 import sql as q
from inspector.core.db.v1.row_checks import V1RowChecks
from inspector.core.model import LogCursor, LogEvent, RowChange


class V1Writes(V1RowChecks):
    """One ``BEGIN IMMEDIATE`` transaction on a v1 database."""

    def compare_and_set(
        self, change: RowChange, *, source: Mapping[str, Any], target: Mapping[str, Any], guard: bool
    ) -> bool:
        columns = sorted(target)
        params: dict[str, Any] = {"id": change.row_id}
        params.update({f"new_{c}": target[c] for c in columns})
        params.update({f"old_{c}": source[c] for c in columns})
        statement = q.compare_and_set(change.table, columns, stuck_guard=guard and change.table == "part")
        return bool(self.conn.execute(statement, params).rowcount == 1)

    def append_log(self, events: Sequence[LogEvent], cursors: Mapping[str, LogCursor]) -> bool:
        return eventlog.append(self.conn, events, cursors)

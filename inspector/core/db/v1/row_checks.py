"""The v1 answers to :class:`inspector.core.db.reads.repair.RowChecks`: the current row behind a
change and the sync log (``eventlog.py``) it continues, on a read snapshot or a write transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inspector.core.db.v1 import sql as q
from inspector.core.db.v1.base import V1Base
from inspector.core.model import LogCursor, LogEvent, RowChange

if TYPE_CHECKING:  # the log's module is imported by the writes that need it, not by every scan
    from inspector.core.db.eventlog import EventIds


class V1RowChecks(V1Base):
    """Mixed into the v1 reads and the v1 writes."""

    def current_image(self, change: RowChange, columns: Iterable[str]) -> dict[str, Any] | None:
        row = self.conn.execute(q.current_row(change.table, sorted(columns)), {"id": change.row_id}).first()
        return None if row is None else dict(row._mapping)

    def drift(self, change: RowChange) -> str:
        image = self.current_image(change, change.before)
        if image is None:
            return f"{change.table} {change.row_id} was deleted since the plan was made"
        if change.table == "part":
            try:
                status = json.loads(image["data"]).get("state", {}).get("status")
            except (ValueError, AttributeError):
                status = "unreadable"
            return f"part {change.row_id} changed since the plan was made (now {status}); OpenCode may be running"
        return f"{change.table} {change.row_id} changed since the plan was made; OpenCode may be running"

    def log_cursors(self, session_ids: Iterable[str]) -> dict[str, LogCursor]:
        from inspector.core.db.v1 import eventlog

        return eventlog.read_cursors(self.conn, session_ids)

    def log_events(
        self,
        writes: Sequence[tuple[RowChange, Mapping[str, Any]]],
        cursors: Mapping[str, LogCursor],
        ids: EventIds,
        now: int,
    ) -> tuple[LogEvent, ...]:
        from inspector.core.db.v1 import eventlog

        return eventlog.events_for(self.conn, writes, cursors, ids, now)

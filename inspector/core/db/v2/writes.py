"""The v2 answers to :class:`inspector.core.db.writes.Writes`: a guarded statement per row.

A change that updates a row (a turn's ``data``, the claim columns of ``session_v2``, the seq
counter) writes only where every column still ``IS`` its before-image; a change that adds a row
(the ``idle`` row that ends a turn) adds it only where neither its id nor its ``(session, seq)``
is taken, and undo removes it only while it still holds exactly what was added. OpenCode 2
keeps no event log to continue: its seq counter is one of the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text

from inspector.core.db.v2.turns import KEYS, V2Turns, checked, table
from inspector.core.model import INSERTABLE_COLUMNS, LogCursor, LogEvent, RowChange

# What else must be free for a row to be added: a session's seq is unique.
_FREE = {"session_message": " OR (session_id = :new_session_id AND seq = :new_seq)", "event_sequence": ""}


class V2Writes(V2Turns):
    """One ``BEGIN IMMEDIATE`` transaction on an OpenCode 2 database."""

    def compare_and_set(
        self, change: RowChange, *, source: Mapping[str, Any], target: Mapping[str, Any], guard: bool
    ) -> bool:
        name = table(change)
        key = KEYS[name]
        params: dict[str, Any] = {"id": change.row_id}
        params.update({f"new_{c}": v for c, v in target.items()})
        params.update({f"old_{c}": v for c, v in source.items()})
        if change.absent and not source:
            columns = checked(change, target)
            if set(columns) != set(INSERTABLE_COLUMNS[name]):
                raise ValueError(f"refusing to add a {name} row without all of its columns")
            statement = (
                f"INSERT INTO {name} ({', '.join([key, *columns])}) "  # noqa: S608 (checked names)
                f"SELECT :id, {', '.join(f':new_{c}' for c in columns)} "
                f"WHERE NOT EXISTS (SELECT 1 FROM {name} WHERE {key} = :id{_FREE[name]})"
            )
        elif change.absent and not target:
            columns = checked(change, source)
            where = " AND ".join(f"{c} IS :old_{c}" for c in columns)
            statement = f"DELETE FROM {name} WHERE {key} = :id AND {where}"  # noqa: S608
        else:
            columns = checked(change, target)
            if set(columns) != set(source):
                raise ValueError(f"refusing a compare-and-set of {name} on other columns than it writes")
            sets = ", ".join(f"{c} = :new_{c}" for c in columns)
            where = " AND ".join(f"{c} IS :old_{c}" for c in columns)
            statement = f"UPDATE {name} SET {sets} WHERE {key} = :id AND {where}"  # noqa: S608
        return bool(self.conn.execute(text(statement), params).rowcount == 1)

    def append_log(self, events: Sequence[LogEvent], cursors: Mapping[str, LogCursor]) -> bool:
        if events:
            raise ValueError("OpenCode 2 keeps no event log to append to")
        return True

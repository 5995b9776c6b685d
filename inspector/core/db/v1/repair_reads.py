"""The v1 answers to :class:`inspector.core.db.reads.repair.RepairReads`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import TextClause

from inspector.core.db.ranges import read_ranges
from inspector.core.db.reads.repair import (
    BeforeImages,
    NewMessage,
    OpenRow,
    Provenance,
    RowImage,
    SessionImage,
    Stored,
    ToolState,
    WriterVersion,
)
from inspector.core.db.rows import chunks, load_json, part_from_row
from inspector.core.db.v1 import sql as q
from inspector.core.db.v1.row_checks import V1RowChecks
from inspector.core.errors import CorruptData
from inspector.core.model import Part


class V1RepairReads(V1RowChecks):
    """Mixed into :class:`inspector.core.db.v1.reads.V1Reads`."""

    def before_images(
        self, tool_ids: Sequence[str], turn_ids: Sequence[str], session_ids: Sequence[str]
    ) -> BeforeImages:
        tools = tuple(
            RowImage(r.id, r.session_id, r.data, r.time_updated, r.message_id)
            for r in self._in_order(q.PART_ROW, tool_ids)
        )
        turns = tuple(
            RowImage(r.id, r.session_id, r.data, r.time_updated) for r in self._in_order(q.MESSAGE_ROW, turn_ids)
        )
        sessions = tuple(
            SessionImage(r.id, r.time_updated, r.time_compacting) for r in self._in_order(q.SESSION_ROW, session_ids)
        )
        return BeforeImages(tools=tools, turns=turns, sessions=sessions)

    def _in_order(self, query: TextClause, ids: Sequence[str]) -> list[Any]:
        """The rows of ``ids``, in the order the ids were given."""
        rows: list[Any] = []
        for chunk in chunks(ids):
            rows.extend(self.conn.execute(query, {"ids": chunk}))
        order = {rid: i for i, rid in enumerate(ids)}
        return sorted(rows, key=lambda r: order.get(r.id, 0))

    def open_rows(self, session_ids: Sequence[str]) -> tuple[OpenRow, ...]:
        out: list[OpenRow] = []
        for chunk in chunks(session_ids):
            out += [OpenRow("turn", r.id) for r in self.conn.execute(q.UNFINISHED_MESSAGES_OF_SESSIONS, {"ids": chunk})]
            out += [OpenRow("tool", r.id) for r in self.conn.execute(q.STUCK_PARTS_OF_SESSIONS, {"ids": chunk})]
        return tuple(out)

    def waiting_tools(self, turn_id: str) -> tuple[Part, ...]:
        parts: list[Part] = []
        for row in self.conn.execute(q.STUCK_PARTS_OF_MESSAGES, {"ids": [turn_id]}):
            try:
                parts.append(part_from_row(row, load_json(row, "part")))
            except CorruptData:
                continue
        return tuple(parts)

    def tool_state(self, tool_id: str) -> ToolState | None:
        row = self.conn.execute(q.PART_BY_ID, {"id": tool_id}).first()
        if row is None:
            return None
        try:
            data = load_json(row, "part")
        except CorruptData:
            return None
        state: dict[str, Any] = data["state"] if isinstance(data.get("state"), dict) else {}
        error = state.get("error")
        return ToolState(str(state.get("status")), error if isinstance(error, str) else "")

    def messages_created_after(self, session_ids: Sequence[str], after: int) -> tuple[NewMessage, ...]:
        found: list[NewMessage] = []
        for chunk in chunks(session_ids):
            rows = self.conn.execute(q.MESSAGES_CREATED_AFTER, {"ids": chunk, "after": after})
            found += [NewMessage(r.session_id, r.id, int(r.time_created)) for r in rows]
        return tuple(found)

    def session_titles(self, session_ids: Sequence[str]) -> dict[str, str]:
        return {row.id: row.title or "" for row in self._sessions(["id", "title"], session_ids)}

    def session_directories(self, session_ids: Iterable[str]) -> dict[str, str]:
        return {row.id: row.directory or "" for row in self._sessions(["id", "directory"], sorted(session_ids))}

    def _sessions(self, columns: list[str], ids: Sequence[str]) -> list[Any]:
        rows: list[Any] = []
        for chunk in chunks(ids):
            rows.extend(self.conn.execute(q.sessions_by_id(columns), {"ids": chunk}))
        return rows

    def open_turns(self) -> tuple[tuple[str, str], ...]:
        return _open_turns(
            read_ranges(self.store, self.conn, q.MAX_ROWID["message"], q.UNFINISHED_MESSAGES, None, None)
        )

    def open_turns_appended(self, span: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
        return _open_turns(self.conn.execute(q.UNFINISHED_MESSAGES, dict(span)))

    def turns_still_open(self, turn_ids: Iterable[str]) -> tuple[str, ...]:
        still: list[str] = []
        for chunk in chunks(sorted(turn_ids)):
            still += [row.id for row in self.conn.execute(q.MESSAGE_COMPLETED, {"ids": chunk}) if not row.done]
        return tuple(still)

    def provenance(self) -> Provenance:
        versions: list[WriterVersion] = []
        if "version" in self.store.session_columns:
            for row in self.conn.execute(q.REPORT_SESSION_VERSIONS):
                when = (
                    row.last_updated
                    if isinstance(row.last_updated, int) and not isinstance(row.last_updated, bool)
                    else None
                )
                versions.append(WriterVersion(row.version, int(row.sessions), when))
        migration: Stored = None
        if "migration" in self.store.tables:
            migration = self.conn.execute(q.NEWEST_MIGRATION).scalar()
        elif "__drizzle_migrations" in self.store.tables:
            migration = self.conn.execute(q.NEWEST_DRIZZLE_MIGRATION).scalar()
        logged = self.store.has_event_log
        return Provenance(
            versions=tuple(versions),
            newest_migration=migration,
            keeps_event_log=logged,
            event_log=f"sync event log {'yes' if logged else 'no'}",
        )


def _open_turns(rows: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    """(message id, session id) of readable unfinished assistant rows; corrupt rows are skipped
    here (``scan`` reports them), a watch must not die on one bad row."""
    found = []
    for row in rows:
        if not row.ok:
            continue
        try:
            data = json.loads(row.data)
        except (ValueError, RecursionError):
            continue
        when: dict[str, Any] = data["time"] if isinstance(data, dict) and isinstance(data.get("time"), dict) else {}
        if isinstance(data, dict) and data.get("role") == "assistant" and when.get("completed") is None:
            found.append((row.id, row.session_id))
    return tuple(found)

"""The v1 answers to :class:`inspector.core.db.reads.scan.ScanReads`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import TextClause

from inspector.core.db import tails
from inspector.core.db.ranges import read_ranges
from inspector.core.db.reads.holds import SessionHold
from inspector.core.db.reads.scan import Logged, Progress, Span, Stuck, Where
from inspector.core.db.rows import (
    by_ids,
    chunks,
    load_json,
    message_from_row,
    part_from_row,
    session_from_row,
)
from inspector.core.db.v1 import sql as q
from inspector.core.db.v1.base import V1Base
from inspector.core.model import Message, Part, Session


def _messages(rows: Iterable[Any]) -> list[Message]:
    return [message_from_row(row, load_json(row, "message")) for row in rows]


def _parts(rows: Iterable[Any]) -> list[Part]:
    return [part_from_row(row, load_json(row, "part")) for row in rows]


def _stuck_messages(rows: Iterable[Any]) -> Stuck:
    rows = list(rows)
    return Stuck(messages=tuple(_messages(rows)), versions={row.id: int(row.time_updated) for row in rows})


def _stuck_parts(rows: Iterable[Any]) -> Stuck:
    rows = list(rows)
    return Stuck(parts=tuple(_parts(rows)), versions={row.id: int(row.time_updated) for row in rows})


class V1ScanReads(V1Base):
    """Mixed into :class:`inspector.core.db.v1.reads.V1Reads`."""

    def _chunked(self, query: TextClause, ids: Iterable[str], **params: Any) -> Iterator[Any]:
        for chunk in chunks(list(ids)):
            yield from self.conn.execute(query, {"ids": chunk, **params})

    def _table(
        self,
        table: str,
        whole: TextClause,
        of_sessions: TextClause,
        session_ids: Sequence[str] | None,
        cancel: threading.Event | None,
        progress: Progress | None,
        beside: Callable[[], None] | None,
    ) -> list[Any]:
        if session_ids is None:
            return read_ranges(self.store, self.conn, q.MAX_ROWID[table], whole, cancel, progress, beside=beside)
        return list(self._chunked(of_sessions, session_ids))

    def unfinished_turns(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Message]:
        rows = self._table(
            "message", q.UNFINISHED_MESSAGES, q.UNFINISHED_MESSAGES_OF_SESSIONS, session_ids, cancel, progress, beside
        )
        return _messages(rows)

    def stuck_tools(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Part]:
        rows = self._table(
            "part", q.STUCK_PARTS_RANGE, q.STUCK_PARTS_OF_SESSIONS, session_ids, cancel, progress, beside
        )
        return _parts(rows)

    def stuck_tools_of_turns(self, message_ids: Iterable[str]) -> list[Part]:
        return _parts(self._chunked(q.STUCK_PARTS_OF_MESSAGES, sorted(message_ids)))

    def unfinished_turns_by_id(self, message_ids: Iterable[str]) -> Stuck:
        return _stuck_messages(by_ids(self.conn, q.UNFINISHED_MESSAGES_BY_ID, message_ids))

    def stuck_tools_by_id(self, part_ids: Iterable[str]) -> Stuck:
        return _stuck_parts(by_ids(self.conn, q.STUCK_PARTS_BY_ID, part_ids))

    def unfinished_turns_appended(self, span: Span) -> Stuck:
        return _stuck_messages(self.conn.execute(q.UNFINISHED_MESSAGES, dict(span)))

    def stuck_tools_appended(self, span: Span) -> Stuck:
        return _stuck_parts(self.conn.execute(q.STUCK_PARTS_RANGE, dict(span)))

    def sessions_with_new_turns(self, span: Span) -> set[str]:
        return {row.session_id for row in self.conn.execute(q.SESSIONS_OF_NEW_MESSAGES, dict(span))}

    def turn_versions(self, message_ids: Iterable[str]) -> dict[str, int]:
        return {row.id: int(row.time_updated) for row in by_ids(self.conn, q.VERSIONS["message"], message_ids)}

    def tool_versions(self, part_ids: Iterable[str]) -> dict[str, int]:
        return {row.id: int(row.time_updated) for row in by_ids(self.conn, q.VERSIONS["part"], part_ids)}

    def versions_of_turns(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for row in self._chunked(q.VERSIONS_OF_MESSAGES, sorted(set(message_ids))):
            found.setdefault(row.message_id, {})[row.id] = int(row.time_updated)
        return found

    def turns_updated_since(self, since: int) -> dict[str, int]:
        rows = self.conn.execute(q.UPDATED_SINCE["message"], {"since": since})
        return {row.id: int(row.time_updated) for row in rows}

    def tools_updated_since(self, since: int) -> dict[str, int]:
        rows = self.conn.execute(q.UPDATED_SINCE["part"], {"since": since})
        return {row.id: int(row.time_updated) for row in rows}

    def recent_updates(self) -> dict[str, int]:
        return {table: int(self.conn.execute(q.RECENT_UPDATED[table]).scalar_one()) for table in ("part", "message")}

    def finished_turns(self, message_ids: Iterable[str]) -> set[str]:
        return {row.id for row in self._chunked(q.MESSAGE_COMPLETED, sorted(message_ids)) if row.done}

    def compacting(self, session_ids: Iterable[str] | None = None) -> dict[str, int]:
        if not self.store.has_session_column("time_compacting"):
            return {}
        if session_ids is None:
            rows: Iterable[Any] = self.conn.execute(q.COMPACTING_SESSIONS)
        else:
            rows = by_ids(self.conn, q.COMPACTING_SESSIONS_BY_ID, set(session_ids))
        return {row.id: int(row.time_compacting) for row in rows}

    def ignored_prompts(self, session_ids: Iterable[str] | None = None) -> set[str]:
        if session_ids is None:
            return {row.session_id for row in self.conn.execute(q.IGNORED_PROMPTS)}
        return {row.session_id for row in by_ids(self.conn, q.IGNORED_PROMPTS_OF_SESSIONS, set(session_ids))}

    def writer_versions(self, session_ids: Iterable[str] | None = None) -> frozenset[str]:
        if not self.store.has_session_column("version"):
            return frozenset()
        if session_ids is None:
            return frozenset(row[0] for row in self.conn.execute(q.DISTINCT_SESSION_VERSIONS))
        return frozenset(row[0] for row in by_ids(self.conn, q.VERSIONS_OF_SESSIONS, session_ids))

    def sessions(self, session_ids: Iterable[str] | None = None) -> dict[str, Session]:
        columns = q.session_columns(self.store.session_columns)
        if session_ids is None:
            rows: Iterable[Any] = self.conn.execute(q.all_sessions(columns))
        else:
            rows = self._chunked(q.sessions_by_id(columns), session_ids)
        return {row.id: session_from_row(row) for row in rows}

    def existing_sessions(self, session_ids: Iterable[str]) -> set[str]:
        return {row.id for row in self._chunked(q.sessions_by_id(["id"]), session_ids)}

    def child_sessions(self, session_ids: Iterable[str]) -> set[str]:
        return {row.id for row in self._chunked(q.CHILD_SESSIONS, session_ids)}

    def last_activity(self, session_ids: Iterable[str]) -> dict[str, int]:
        return {sid: int(last) for sid, last in self._chunked(q.LAST_ACTIVITY, session_ids)}

    def session_count(self) -> int:
        return int(self.conn.execute(q.SESSION_COUNT).scalar_one())

    def sessions_appended(self, span: Span) -> set[str]:
        return {row.id for row in self.conn.execute(q.SESSIONS_APPENDED, dict(span))}

    def has_change_log(self) -> bool:
        return self.conn.execute(q.HAS_EVENT_LOG).first() is not None

    def sessions_followed(self) -> bool:
        return self.has_change_log()  # 1.18's sync log names every session row it writes

    def watermark(self, tables: tuple[str, ...], at: Mapping[str, int]) -> Where:
        return tails.where_of(self.conn.execute(q.where_we_are(tables), tails.params(tables, at)).one(), tables)

    def logged_since(self, span: Span | None) -> Logged:
        parts: set[str] = set()
        messages: set[str] = set()
        sessions: set[str] = set()
        if span is not None:
            for row in self.conn.execute(q.NEW_EVENTS, dict(span)):
                kind = str(row.type or "")
                if isinstance(row.aggregate_id, str):
                    sessions.add(row.aggregate_id)
                if kind.startswith("message.part.") and isinstance(row.part_id, str):
                    parts.add(row.part_id)
                elif kind.startswith("message.") and isinstance(row.message_id, str):
                    messages.add(row.message_id)
        return Logged(frozenset(parts), frozenset(messages), frozenset(sessions))

    def holds(self, session_ids: Iterable[str] | None = None) -> dict[str, SessionHold]:
        return {}  # OpenCode 1.x holds a turn open by its rows alone

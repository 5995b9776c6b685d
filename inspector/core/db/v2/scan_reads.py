"""The v2 answers to :class:`inspector.core.db.reads.scan.ScanReads`.

The quick tier starts from ``session_v2`` (claimed sessions through the claim's partial index,
plus those whose last turn never ended or ended ``failed``) and reads only their newest assistant
rows through ``session_message_session_type_seq_idx``; the deep tier adds ``session_message`` in
rowid ranges through the stuck-tool GLOB filter.

Following changes (a resumed scan, a refresh) uses rowid watermarks, as for 1.x, on
``session_message`` (turns and tools: a tool is an item of its turn's row) and ``session_v2``,
not OpenCode 2's ``event_sequence``: those counters are per session (one row each, updated in
place, no index over them), so "which sessions moved" would be a pass over the table, and the
``event`` log stays empty. Rowids are sound here because of how 2.1.2 writes: every turn and
every restart *inserts* rows (the prompt, a reply per step, ``synthetic`` notices, the closing
``idle``), and the only rows it updates in place are the replies of a turn still open — a reply
without ``time.completed``, which the last look already held as unfinished and is read again by
id. A reply that finished never goes back (v2's own heal only closes), and a session's
``version`` is written when the row is inserted. The claims and the inbox are read through their
indexes on every look (``holds``), so a claim set, released or kept costs O(claims), not a pass.
What rowids cannot see (a foreign writer that reopens an old reply in place, rows deleted
between two looks without touching the newest one) the full pass every 24 h, or a tracker
start-over (the newest row gone, the file shrunk or replaced), brings back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from inspector.core.db import tails
from inspector.core.db.ranges import read_ranges
from inspector.core.db.reads.holds import SessionHold
from inspector.core.db.reads.scan import Logged, Progress, Span, Stuck, Where
from inspector.core.db.v2 import sql as q
from inspector.core.db.v2.base import Turn, V2Base
from inspector.core.db.v2.rows import STUCK_PART_STATUSES, claim_of, session_of
from inspector.core.model import Message, Part, Session

_STUCK = STUCK_PART_STATUSES


def _unfinished(turns: Iterable[Turn]) -> list[Message]:
    return [t.message for t in turns if t.message.completed is None]


def _stuck_tools(turns: Iterable[Turn]) -> list[Part]:
    return [part for t in turns for part in t.tools if part.status in _STUCK]


def _open_turns(turns: Iterable[Turn]) -> Stuck:
    """Unfinished turns with their stuck tools: a 2.x turn updates its tools in place inside its
    row, so whoever reads an open turn again reads its tools again too."""
    turns = list(turns)
    parts = _stuck_tools(turns)
    versions = {t.message.id: t.time_updated for t in turns}
    versions |= {p.id: versions[p.message_id] for p in parts}
    return Stuck(messages=tuple(t.message for t in turns), parts=tuple(parts), versions=versions)


class V2ScanReads(V2Base):
    """Mixed into :class:`inspector.core.db.v2.reads.V2Reads`."""

    def unfinished_turns(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Message]:
        if beside is not None:
            beside()
        return _unfinished(self._recent_turns(self._candidates() if session_ids is None else session_ids))

    def stuck_tools(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Part]:
        if session_ids is None:
            rows = read_ranges(self.store, self.conn, q.MAX_ROWID, q.OPEN_ROWS_RANGE, cancel, progress, beside=beside)
        else:
            rows = list(self._chunked(q.OPEN_ROWS_OF_SESSIONS, session_ids))
        return _stuck_tools(self._parse(rows))

    def stuck_tools_of_turns(self, message_ids: Iterable[str]) -> list[Part]:
        return _stuck_tools(self._turns_by_id(message_ids))

    def unfinished_turns_by_id(self, message_ids: Iterable[str]) -> Stuck:
        return _open_turns(t for t in self._turns_by_id(message_ids) if t.message.completed is None)

    def stuck_tools_by_id(self, part_ids: Iterable[str]) -> Stuck:
        """Through the row each tool was last seen in (by id); only a tool whose row this
        process never parsed (or that left it) costs the pass over the stuck-tool filter."""
        wanted = set(part_ids)
        if not wanted:
            return Stuck()
        turns = self._turns_by_id({row for pid in wanted if (row := self._tool_rows.get(pid)) is not None})
        seen = {p.id for t in turns for p in t.tools if p.id in wanted}
        if wanted - seen:
            turns += self._parse(self.conn.execute(q.OPEN_ROWS))
        parts = {p.id: p for t in turns for p in t.tools if p.id in wanted and p.status in _STUCK}
        updated = {t.message.id: t.time_updated for t in turns}
        return Stuck(parts=tuple(parts.values()), versions={p.id: updated[p.message_id] for p in parts.values()})

    def unfinished_turns_appended(self, span: Span) -> Stuck:
        return _open_turns(
            t for t in self._parse(self.conn.execute(q.TURNS_APPENDED, dict(span))) if t.message.completed is None
        )

    def stuck_tools_appended(self, span: Span) -> Stuck:
        turns = self._parse(self.conn.execute(q.OPEN_ROWS_RANGE, dict(span)))
        parts = _stuck_tools(turns)
        updated = {t.message.id: t.time_updated for t in turns}
        return Stuck(parts=tuple(parts), versions={p.id: updated[p.message_id] for p in parts})

    def sessions_with_new_turns(self, span: Span) -> set[str]:
        return {str(row.session_id) for row in self.conn.execute(q.SESSIONS_OF_APPENDED_ROWS, dict(span))}

    def turn_versions(self, message_ids: Iterable[str]) -> dict[str, int]:
        return {row.id: int(row.time_updated) for row in self._chunked(q.TURN_VERSIONS, sorted(set(message_ids)))}

    def tool_versions(self, part_ids: Iterable[str]) -> dict[str, int]:
        """A tool's version is its row's (only tools whose row this process knows: the others
        are read again, which is always correct)."""
        rows = {pid: row for pid in part_ids if (row := self._tool_rows.get(pid)) is not None}
        versions = self.turn_versions(rows.values())
        return {pid: versions[row] for pid, row in rows.items() if row in versions}

    def versions_of_turns(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        # a tool lives inside its turn's row: the turn's version moves with it
        return {turn: {turn: version} for turn, version in self.turn_versions(message_ids).items()}

    def turns_updated_since(self, since: int) -> dict[str, int]:
        return {}

    def tools_updated_since(self, since: int) -> dict[str, int]:
        return {}

    def recent_updates(self) -> dict[str, int]:
        return {}

    def finished_turns(self, message_ids: Iterable[str]) -> set[str]:
        return {t.message.id for t in self._turns_by_id(message_ids) if t.message.completed is not None}

    def compacting(self, session_ids: Iterable[str] | None = None) -> dict[str, int]:
        return {}  # a running compaction was never produced on 2.1.2: nothing measured to judge

    def ignored_prompts(self, session_ids: Iterable[str] | None = None) -> set[str]:
        return set()  # the 1.x id wrap: OpenCode 2 orders rows by seq, not by id

    def writer_versions(self, session_ids: Iterable[str] | None = None) -> frozenset[str]:
        if session_ids is not None:
            return frozenset(str(row[0]) for row in self._chunked(q.WRITER_VERSIONS_OF, sorted(set(session_ids))))
        return frozenset(str(row[0]) for row in self.conn.execute(q.WRITER_VERSIONS))

    def sessions(self, session_ids: Iterable[str] | None = None) -> dict[str, Session]:
        rows = self._session_rows(session_ids)
        return {str(row.id): session_of(row._mapping) for row in rows}

    def _session_rows(self, session_ids: Iterable[str] | None) -> list[Any]:
        if session_ids is None:
            return list(self.conn.execute(q.sessions(self.claim, by_id=False)))
        return list(self._chunked(q.sessions(self.claim, by_id=True), sorted(set(session_ids))))

    def existing_sessions(self, session_ids: Iterable[str]) -> set[str]:
        return {str(row.id) for row in self._session_rows(session_ids)}

    def child_sessions(self, session_ids: Iterable[str]) -> set[str]:
        return {str(row.id) for row in self._chunked(q.CHILD_SESSIONS, sorted(set(session_ids)))}

    def last_activity(self, session_ids: Iterable[str]) -> dict[str, int]:
        return {sid: int(last) for sid, last in self._chunked(q.LAST_ACTIVITY, sorted(set(session_ids)))}

    def session_count(self) -> int:
        return int(self.conn.execute(q.SESSION_COUNT).scalar_one())

    def sessions_appended(self, span: Span) -> set[str]:
        return {str(row.id) for row in self.conn.execute(q.SESSIONS_APPENDED, dict(span))}

    def has_change_log(self) -> bool:
        return False  # the ``event`` table stays empty: OpenCode 2 sends its events over SSE

    def sessions_followed(self) -> bool:
        return True  # a session's ``version`` is written with its row; no compaction mark is read

    def watermark(self, tables: tuple[str, ...], at: Mapping[str, int]) -> Where:
        return tails.where_of(self.conn.execute(q.where_we_are(tables), tails.params(tables, at)).one(), tables)

    def logged_since(self, span: Span | None) -> Logged:
        return Logged()

    def holds(self, session_ids: Iterable[str] | None = None) -> dict[str, SessionHold]:
        if session_ids is None:  # the sessions something holds open, rows or not
            ids = {str(row.id) for row in self.conn.execute(q.claimed(self.claim))}
            if "session_inbox" in self.store.tables:
                ids |= {str(row.session_id) for row in self.conn.execute(q.HELD_SESSIONS)}
            session_ids = ids
        rows = self._session_rows(session_ids)
        if not rows:
            return {}
        found = [str(row.id) for row in rows]
        inbox: dict[str, int] = {}
        if "session_inbox" in self.store.tables:
            inbox = {str(r.session_id): int(r.waiting) for r in self._chunked(q.INBOX_COUNTS, found)}
        imported = "kv" in self.store.tables and self.conn.execute(q.IMPORTED_FROM_V1).first() is not None
        holds: dict[str, SessionHold] = {}
        for row in rows:
            claim = claim_of(row._mapping, self.claim)
            holds[claim.session_id] = SessionHold(
                session_id=claim.session_id,
                claimed_at=claim.claimed_at,
                resume_attempts=claim.resume_attempts,
                last_outcome=claim.idle_outcome,
                inbox=inbox.get(claim.session_id, 0),
                imported=imported and str(row.version or "").startswith("1."),
            )
        return holds

"""The v2 answers to :class:`inspector.core.db.reads.repair.RepairReads`, as far as reading goes.

OpenCode 2 is not written yet (the write paths refuse it, ``Store.require_writable``): what a
plan's compare-and-set and the undo read answers from the rows where that is plain reading
(open rows, waiting tools, titles, provenance) and is empty where only a v2 write would ask.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from inspector.core.db.reads.repair import BeforeImages, OpenRow, Provenance, ToolState, WriterVersion
from inspector.core.db.v2 import sql as q
from inspector.core.db.v2.base import V2Base
from inspector.core.db.v2.rows import STUCK_PART_STATUSES, session_of
from inspector.core.db.v2.turns import V2Turns
from inspector.core.model import Part

# Measured on 2.1.2: ``event`` stays empty (also mid-turn), events go out over SSE; and its
# import of a 1.x file empties the 1.x ``event`` table (the import runs once).
EVENT_LOG = "no event rows (OpenCode 2 sends its events live; event_sequence numbers each session's rows)"
IMPORTED = "; imported from OpenCode 1.x by OpenCode 2 (kv migration.v1-v2): the import cleared its 1.x event log"

_STUCK = STUCK_PART_STATUSES


class V2RepairReads(V2Base, V2Turns):
    """Mixed into :class:`inspector.core.db.v2.reads.V2Reads`."""

    def before_images(
        self, tool_ids: Sequence[str], turn_ids: Sequence[str], session_ids: Sequence[str]
    ) -> BeforeImages:
        return BeforeImages((), (), ())

    def open_rows(self, session_ids: Sequence[str]) -> tuple[OpenRow, ...]:
        turns = self._recent_turns(session_ids)
        # An ``idle`` row after an unfinished message ends its turn (2.1.2 interrupted in a retry
        # wait leaves the message so, and completes it at the next prompt); a running tool does not.
        ended = {sid: self.conn.execute(q.NEWEST_IDLE_SEQ, {"sid": sid}).scalar() for sid in set(session_ids)}
        rows = [
            OpenRow("turn", t.message.id)
            for t in turns
            if t.message.completed is None and t.seq > (ended.get(t.message.session_id) or -1)
        ]
        rows += [OpenRow("tool", p.id) for t in turns for p in t.tools if p.status in _STUCK]
        return tuple(rows)

    def waiting_tools(self, turn_id: str) -> tuple[Part, ...]:
        return tuple(p for t in self._turns_by_id([turn_id]) for p in t.tools if p.status in _STUCK)

    def tool_state(self, tool_id: str) -> ToolState | None:
        # a tool is an item of its turn's content[]: found by its call id in the row's JSON (a
        # pass over the rows, read once per answer, never in a poll)
        for turn in self._parse(self.conn.execute(q.ROWS_WITH_CALL, {"needle": json.dumps(tool_id)})):
            for item in turn.data.get("content") or ():
                if isinstance(item, dict) and item.get("type") == "tool" and item.get("id") == tool_id:
                    state = item.get("state")
                    state = state if isinstance(state, dict) else {}
                    error = state.get("error")
                    message = error.get("message") if isinstance(error, dict) else None
                    return ToolState(str(state.get("status")), message if isinstance(message, str) else "")
        return None

    def session_titles(self, session_ids: Sequence[str]) -> dict[str, str]:
        return {sid: s.title for sid, s in self._sessions_of(session_ids).items()}

    def session_directories(self, session_ids: Iterable[str]) -> dict[str, str]:
        return {sid: s.directory for sid, s in self._sessions_of(session_ids).items()}

    def _sessions_of(self, session_ids: Iterable[str]) -> dict[str, Any]:
        rows = self._chunked(q.sessions(self.claim, by_id=True), sorted(set(session_ids)))
        return {str(row.id): session_of(row._mapping) for row in rows}

    def open_turns(self) -> tuple[tuple[str, str], ...]:
        turns = self._recent_turns(self._candidates())
        return tuple((t.message.id, t.message.session_id) for t in turns if t.message.completed is None)

    def open_turns_appended(self, span: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
        turns = self._parse(self.conn.execute(q.TURNS_APPENDED, dict(span)))
        return tuple((t.message.id, t.message.session_id) for t in turns if t.message.completed is None)

    def turns_still_open(self, turn_ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(t.message.id for t in self._turns_by_id(turn_ids) if t.message.completed is None)

    def provenance(self) -> Provenance:
        versions = tuple(
            WriterVersion(row.version, int(row.n), row.last if isinstance(row.last, int) else None)
            for row in self.conn.execute(q.SESSION_VERSIONS)
        )
        newest = self.conn.execute(q.NEWEST_MIGRATION).scalar() if "migration" in self.store.tables else None
        imported = "kv" in self.store.tables and self.conn.execute(q.IMPORTED_FROM_V1).first() is not None
        return Provenance(
            versions=versions,
            newest_migration=newest,
            event_log=EVENT_LOG + (IMPORTED if imported else ""),
        )

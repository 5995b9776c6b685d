"""What every v2 read holds: the store, one read snapshot, the claim column's name, and the
assistant rows this snapshot already parsed (a tool is found again inside its row)."""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import TextClause
from sqlalchemy.engine import Connection

from inspector.core.db.rows import chunks
from inspector.core.db.v2 import sql as q
from inspector.core.db.v2.rows import claim_column, load_data, message_of, tools_of
from inspector.core.model import Message, Part

if TYPE_CHECKING:
    from inspector.core.db.store import Store

# How many of a session's newest assistant rows can hold its open turn: a crashed turn is the
# newest one, and each restart by the service adds one more reply (the budget is 10).
RECENT_TURNS = 16
# Which row held each tool call this process parsed, per database engine. A tool has no row of
# its own in 2.x, so a tool known by its id is found again through its row (by id); the map is
# only a hint: the row is read again and the tool must still be in it. Bounded: cleared when full.
_TOOL_ROWS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
TOOL_ROWS_MAX = 200_000


class Turn:
    """One parsed assistant row: the neutral turn and its tools (streaming shown as pending)."""

    __slots__ = ("data", "message", "seq", "time_updated", "tools")

    def __init__(self, row: Any) -> None:
        self.data = load_data(row.id, row.session_id, row.data)
        self.message: Message = message_of(row.id, row.session_id, int(row.time_created), self.data)
        self.seq = int(row.seq)
        self.time_updated = int(row.time_updated)
        # A tool whose arguments still stream is what 1.x calls pending: one word for the judges.
        self.tools: tuple[Part, ...] = tuple(_neutral(part) for part in tools_of(self.message, self.data))


def _neutral(part: Part) -> Part:
    return replace(part, status="pending") if part.status == "streaming" else part


class V2Base:
    """One read snapshot of an OpenCode 2 database; the mixins in ``*_reads.py`` add the questions."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn
        claim = claim_column(store.columns_of("session_v2"))
        assert claim is not None  # the generation is chosen only for a readable shape
        self.claim = claim
        self._turns: dict[str, Turn] = {}
        rows = _TOOL_ROWS.get(store.engine) if store.engine is not None else None
        if rows is None:
            rows = {}
            if store.engine is not None:
                _TOOL_ROWS[store.engine] = rows
        self._tool_rows = rows

    def _chunked(self, query: TextClause, ids: Iterable[str], **params: Any) -> Iterator[Any]:
        for chunk in chunks(list(ids)):
            yield from self.conn.execute(query, {"ids": chunk, **params})

    def _parse(self, rows: Iterable[Any]) -> list[Turn]:
        turns = []
        for row in rows:
            if row.type != "assistant":
                continue
            turn = self._turns.get(row.id)
            if turn is None:
                turn = self._turns[row.id] = Turn(row)
                if len(self._tool_rows) > TOOL_ROWS_MAX:
                    self._tool_rows.clear()
                self._tool_rows.update((part.id, turn.message.id) for part in turn.tools)
            turns.append(turn)
        return turns

    def _turns_by_id(self, ids: Iterable[str]) -> list[Turn]:
        wanted = set(ids)
        missing = sorted(wanted - set(self._turns))
        self._parse(self._chunked(q.ROWS_BY_ID, missing))
        return [self._turns[i] for i in sorted(wanted) if i in self._turns]

    def _recent_turns(self, session_ids: Iterable[str]) -> list[Turn]:
        """The newest assistant rows of each session, and of an imported one also its newest
        rows from before the import (a 1.x turn left open there stays open however many 2.x
        turns the session ran since, and neither server ever closes it)."""
        ids = list(session_ids)
        turns: list[Turn] = []
        for sid in ids:
            turns += self._parse(self.conn.execute(q.NEWEST_TURNS, {"sid": sid, "limit": RECENT_TURNS}))
        imported_at = self._imported_at()
        if imported_at is not None:
            for sid in sorted({str(r.id) for r in self._chunked(q.IMPORTED_SESSIONS_OF, sorted(set(ids)))}):
                params = {"sid": sid, "imported_at": imported_at, "limit": RECENT_TURNS}
                turns += self._parse(self.conn.execute(q.IMPORTED_TURNS, params))
        return list({t.message.id: t for t in turns}.values())

    def _imported_at(self) -> int | None:
        """When OpenCode 2 imported this file from 1.x (None: it did not)."""
        if "kv" not in self.store.tables:
            return None
        value = self.conn.execute(q.IMPORTED_AT).scalar()
        return int(value) if isinstance(value, int) else None

    def _candidates(self) -> list[str]:
        """Sessions whose turn may be open: claimed, never ended, ended ``failed``, and in a
        file 2.x imported from 1.x every imported session (imports never ended: no outcome,
        until the session runs a 2.x turn)."""
        ids = {str(row.id) for row in self.conn.execute(q.candidates(self.claim))}
        if self._imported_at() is not None:
            ids |= {str(row.id) for row in self.conn.execute(q.IMPORTED_SESSIONS)}
        return sorted(ids)

"""What the v2 repair reads about one session, on a read snapshot or inside the write transaction:
its open turn (``heal.OpenTurn``), the row a change targets, and the database's shape.

Mixed into the v2 writes (``writes.py``) and meant to be mixed into the v2 reads, so the dry
run's plan and the write's compare-and-set read the same rows the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from inspector.core.db.reads.repair import NewMessage
from inspector.core.db.rows import chunks
from inspector.core.db.v2.heal import OpenTurn, StoredMessage
from inspector.core.db.v2.rows import claim_column, claim_of, is_stuck_tool, load_data
from inspector.core.db.v2.shape import Shape, shape_of
from inspector.core.model import INSERTABLE_COLUMNS, WRITABLE_COLUMNS, LogCursor, LogEvent, RowChange

if TYPE_CHECKING:
    from inspector.core.db.eventlog import EventIds
    from inspector.core.db.store import Store

# The key column of each table a v2 change may write (``event_sequence`` is keyed by session).
KEYS = {"session_message": "id", "session_v2": "id", "event_sequence": "aggregate_id"}

# An assistant row that may hold an open turn: not completed, or a stuck tool's status in its
# JSON (whatever the spacing); a row that is not JSON is read too, and refused by ``load_data``.
_OPEN_ASSISTANT_ROWS = text(
    "SELECT id, seq, data FROM session_message WHERE session_id = :sid AND type = 'assistant' AND "
    "CASE WHEN json_valid(data) THEN json_extract(data, '$.time.completed') IS NULL "
    "OR data GLOB '*\"running\"*' OR data GLOB '*\"streaming\"*' ELSE 1 END ORDER BY seq"
)
_NEWEST_ROW = text("SELECT type, seq FROM session_message WHERE session_id = :sid ORDER BY seq DESC LIMIT 1")
_NEWEST_ID = text("SELECT max(id) FROM session_message WHERE session_id = :sid")
_COUNTER = text("SELECT seq FROM event_sequence WHERE aggregate_id = :sid")
_TABLES = text("SELECT name FROM sqlite_master WHERE type = 'table'")
_CREATED_AFTER = text(
    "SELECT id, session_id, time_created FROM session_message WHERE session_id IN :ids AND time_created > :after "
    "ORDER BY time_created, id"
).bindparams(bindparam("ids", expanding=True))


def table(change: RowChange) -> str:
    """The change's table, refused unless it is one the v2 repair writes."""
    if change.table not in KEYS:
        raise ValueError(f"refusing to write {change.table} in an OpenCode 2 database")
    return change.table


def checked(change: RowChange, columns: Iterable[str]) -> list[str]:
    """``columns`` sorted, refused unless each is one this change may read or write."""
    wanted = sorted(columns)
    allowed = set(WRITABLE_COLUMNS[table(change)]) | set(INSERTABLE_COLUMNS.get(change.table, ()))
    if not set(wanted) <= allowed:
        raise ValueError(f"refusing to touch columns {wanted} of {change.table}")
    return wanted


class V2Turns:
    """One snapshot (or write transaction) of an OpenCode 2 database, for the repair."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn

    @cached_property
    def columns(self) -> dict[str, frozenset[str]]:
        """Each table's columns (``PRAGMA table_info``), read once per snapshot."""
        columns: dict[str, frozenset[str]] = {}
        for (name,) in self.conn.execute(_TABLES).all():
            quoted = '"' + str(name).replace('"', '""') + '"'
            rows = self.conn.execute(text(f"PRAGMA table_info({quoted})"))
            columns[str(name)] = frozenset(str(r[1]) for r in rows)
        return columns

    @property
    def shape(self) -> Shape:
        """The database's columns compared with the proven 2.1.2 shape (``shape.py``)."""
        return shape_of(self.columns)

    @property
    def claim_column(self) -> str:
        column = claim_column(self.columns.get("session_v2", frozenset()))
        if column is None:
            raise ValueError("session_v2 has no execution claim column")
        return column

    def open_turn(self, session_id: str) -> OpenTurn | None:
        """The session's turn as the heal needs it; None when there is no such session."""
        claim = self.claim_column
        row = self.conn.execute(
            text(
                f"SELECT id, time_idle, idle_outcome, resume_attempts, {claim} "  # noqa: S608 (our column name)
                "FROM session_v2 WHERE id = :sid"
            ),
            {"sid": session_id},
        ).first()
        if row is None:
            return None
        messages = []
        for message_id, seq, data in self.conn.execute(_OPEN_ASSISTANT_ROWS, {"sid": session_id}):
            parsed = load_data(message_id, session_id, data)
            if _open(parsed):
                messages.append(StoredMessage(str(message_id), int(seq), parsed))
        newest = self.conn.execute(_NEWEST_ROW, {"sid": session_id}).first()
        counter = self.counter(session_id)
        return OpenTurn(
            claim=claim_of(dict(row._mapping), claim),
            messages=tuple(messages),
            closed=newest is not None and newest[0] == "idle",
            counter=max(counter or 0, int(newest[1]) if newest is not None else 0),
        )

    def counter(self, session_id: str) -> int | None:
        """The session's ``event_sequence.seq`` (None: the session has no counter row)."""
        value = self.conn.execute(_COUNTER, {"sid": session_id}).scalar()
        return None if value is None else int(value)

    def newest_message_id(self, session_id: str) -> str | None:
        value = self.conn.execute(_NEWEST_ID, {"sid": session_id}).scalar()
        return None if value is None else str(value)

    def message_image(self, message_id: str) -> tuple[str, int] | None:
        """A row's stored ``data`` text (byte for byte: the before-image) and ``time_updated``."""
        row = self.conn.execute(
            text("SELECT data, time_updated FROM session_message WHERE id = :id"), {"id": message_id}
        ).first()
        return None if row is None else (str(row[0]), int(row[1]))

    def messages_created_after(self, session_ids: Sequence[str], after: int) -> tuple[NewMessage, ...]:
        """Rows of ``session_ids`` created after ``after``: a session that moved on since a run
        (its undo would put a turn back open behind the newer one)."""
        found: list[NewMessage] = []
        for chunk in chunks(list(session_ids)):
            rows = self.conn.execute(_CREATED_AFTER, {"ids": chunk, "after": after})
            found += [NewMessage(str(r.session_id), str(r.id), int(r.time_created)) for r in rows]
        return tuple(found)

    # -- RowChecks ------------------------------------------------------------------------------

    def current_image(self, change: RowChange, columns: Iterable[str]) -> dict[str, Any] | None:
        name = table(change)
        wanted = checked(change, columns)
        key = KEYS[name]
        selected = ", ".join([key, *wanted])
        statement = text(f"SELECT {selected} FROM {name} WHERE {key} = :id")  # noqa: S608 (checked names)
        row = self.conn.execute(statement, {"id": change.row_id}).first()
        return None if row is None else {c: row._mapping[c] for c in wanted}

    def drift(self, change: RowChange) -> str:
        if change.absent:
            return (
                f"{change.table} {change.row_id} (or a row at its seq) exists since the plan was made; "
                "OpenCode may be running"
            )
        if self.current_image(change, change.before) is None:
            return f"{change.table} {change.row_id} was deleted since the plan was made"
        return f"{change.table} {change.row_id} changed since the plan was made; OpenCode may be running"

    def log_cursors(self, session_ids: Iterable[str]) -> dict[str, LogCursor]:
        """OpenCode 2 keeps no event log to continue (its ``event`` table stays empty); its seq
        counter is a row the plan changes like any other."""
        return {}

    def log_events(
        self,
        writes: Sequence[tuple[RowChange, Mapping[str, Any]]],
        cursors: Mapping[str, LogCursor],
        ids: EventIds,
        now: int,
    ) -> tuple[LogEvent, ...]:
        return ()


def _open(data: Mapping[str, Any]) -> bool:
    when = data.get("time")
    if not isinstance(when, dict) or when.get("completed") is None:
        return True
    content = data.get("content")
    return isinstance(content, list) and any(is_stuck_tool(item) for item in content)

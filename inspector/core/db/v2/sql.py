"""The SQL ocinspect runs against OpenCode 2's schema, in one place.

Cost stays flat in the database's size the way v1's does: the quick tier starts from
``session_v2`` (one row per session) — the claimed sessions through
``session_v2_time_suspended_idx``, plus the few whose last turn never ended well (no outcome,
``failed``) or that were imported from 1.x — and reads only those sessions' newest rows through
the ``(session_id, seq)`` unique index. The deep tier walks ``session_message`` in rowid ranges
with a GLOB prefilter that every stuck tool's JSON must match (the status value ``"running"`` /
``"streaming"``, whatever the spacing around it); Python parses the few rows it lets through.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import TextClause, bindparam, text

from inspector.core.db import tails

SESSION_COLUMNS = (
    "id",
    "project_id",
    "parent_id",
    "directory",
    "title",
    "version",
    "time_created",
    "time_updated",
    "time_idle",
    "idle_outcome",
    "time_compacting",
    "time_archived",
    "resume_attempts",
)


@lru_cache(maxsize=4)
def sessions(claim: str, *, by_id: bool) -> TextClause:
    """``session_v2`` rows with the claim column under its own name (all, or ``:ids``)."""
    columns = ", ".join((*SESSION_COLUMNS, claim))
    where = " WHERE id IN :ids" if by_id else ""
    query = text(f"SELECT {columns} FROM session_v2{where}")  # noqa: S608 (column names are ours)
    return query.bindparams(bindparam("ids", expanding=True)) if by_id else query


@lru_cache(maxsize=4)
def candidates(claim: str) -> TextClause:
    """Sessions whose turn may be open: claimed (indexed), never ended, ended ``failed``."""
    return text(
        f"SELECT id FROM session_v2 WHERE {claim} IS NOT NULL "  # noqa: S608
        "UNION SELECT id FROM session_v2 WHERE idle_outcome IS NULL OR idle_outcome = 'failed'"
    )


# Sessions a 1.x import brought in (they keep the 1.x release that created them): one pass over
# the session rows, as the second arm of ``candidates`` already makes.
IMPORTED_SESSIONS = text("SELECT id FROM session_v2 WHERE version LIKE '1.%'")

IMPORTED_SESSIONS_OF = text("SELECT id FROM session_v2 WHERE id IN :ids AND version LIKE '1.%'").bindparams(
    bindparam("ids", expanding=True)
)

# When the import ran: every row it brought keeps its 1.x time, every row 2.x wrote is newer.
IMPORTED_AT = text("SELECT time_created FROM kv WHERE key = 'migration.v1-v2'")

# A session's newest assistant rows from before the import (``session_message_session_type_seq_idx``
# newest first, skipping the rows 2.x wrote since).
IMPORTED_TURNS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data FROM session_message "
    "WHERE session_id = :sid AND type = 'assistant' AND time_created <= :imported_at "
    "ORDER BY seq DESC LIMIT :limit"
)


# The newest assistant rows of a session carry its open turn; a turn spans a handful of rows.
NEWEST_ROWS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data "
    "FROM session_message WHERE session_id = :sid ORDER BY seq DESC LIMIT :limit"
)

_STUCK_TOOL_FILTER = """
      type = 'assistant'
      AND (data GLOB '*"running"*' OR data GLOB '*"streaming"*')
"""

OPEN_ROWS_RANGE = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data "
    "FROM session_message WHERE rowid BETWEEN :lo AND :hi AND " + _STUCK_TOOL_FILTER
)

MAX_ROWID = text("SELECT coalesce(max(rowid), 0) FROM session_message")

INBOX_COUNTS = text(
    "SELECT session_id, count(*) AS waiting FROM session_inbox WHERE session_id IN :ids GROUP BY session_id"
).bindparams(bindparam("ids", expanding=True))

COUNTERS = text("SELECT aggregate_id, seq FROM event_sequence WHERE aggregate_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

IMPORTED_FROM_V1 = text("SELECT value FROM kv WHERE key = 'migration.v1-v2'")

SESSION_COUNT = text("SELECT count(*) FROM session_v2")

# The newest assistant rows of one session, through ``session_message_session_type_seq_idx``.
NEWEST_TURNS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data FROM session_message "
    "WHERE session_id = :sid AND type = 'assistant' ORDER BY seq DESC LIMIT :limit"
)

# The seq of a session's newest ``idle`` row (the end of its last finished turn), by the same index.
NEWEST_IDLE_SEQ = text("SELECT max(seq) FROM session_message WHERE session_id = :sid AND type = 'idle'")

ROWS_BY_ID = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data FROM session_message WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))

OPEN_ROWS_OF_SESSIONS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data "
    "FROM session_message WHERE session_id IN :ids AND " + _STUCK_TOOL_FILTER
).bindparams(bindparam("ids", expanding=True))

# Every row that may hold a given stuck tool: the deep filter over the whole table (rare: a
# tool is asked for by id only when a running OpenCode may have finished it meanwhile).
OPEN_ROWS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data FROM session_message WHERE "
    + _STUCK_TOOL_FILTER
)

# The story: a session's newest rows of every type, newest first.
STORY_ROWS = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data "
    "FROM session_message WHERE session_id = :sid ORDER BY seq DESC LIMIT :limit"
)

# The row holding a tool, by its call id (a tool has no row of its own): read only when a person
# opens that tool, so a pass over the assistant rows is acceptable.
ROWS_WITH_CALL = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data FROM session_message "
    "WHERE type = 'assistant' AND instr(data, :needle) > 0"
)

HELD_SESSIONS = text("SELECT DISTINCT session_id FROM session_inbox")

CHILD_SESSIONS = text("SELECT id FROM session_v2 WHERE parent_id IN :ids").bindparams(bindparam("ids", expanding=True))

LAST_ACTIVITY = text(
    "SELECT session_id, max(time_created) FROM session_message WHERE session_id IN :ids GROUP BY session_id"
).bindparams(bindparam("ids", expanding=True))

# The releases that wrote sessions as OpenCode 2 (imported 1.x sessions keep their 1.x release).
WRITER_VERSIONS = text("SELECT DISTINCT version FROM session_v2 WHERE version IS NOT NULL AND version NOT LIKE '1.%'")

TURN_VERSIONS = text("SELECT id, time_updated FROM session_message WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

NEWEST_MIGRATION = text("SELECT max(id) FROM migration")

SESSION_VERSIONS = text("SELECT version, count(*) AS n, max(time_updated) AS last FROM session_v2 GROUP BY version")


@lru_cache(maxsize=4)
def claimed(claim: str) -> TextClause:
    """Sessions holding an execution claim (the partial index on the claim)."""
    return text(f"SELECT id FROM session_v2 WHERE {claim} IS NOT NULL")  # noqa: S608 (our column name)


# -- following changes (the incremental reads) ------------------------------------------------
# The watermarks' tables, in the tracker's words: a turn ("message") and a tool ("part") both
# live in a ``session_message`` row; a session in a ``session_v2`` row.
TAILED = {"message": "session_message", "part": "session_message", "session": "session_v2"}


@lru_cache(maxsize=8)
def where_we_are(tables: tuple[str, ...]) -> TextClause:
    """The tracker's one statement (``db/tails.py``) over the tables that hold each followed one
    (a KeyError for a table 2.x does not follow: a caller's bug)."""
    return tails.where_we_are({t: TAILED[t] for t in tables})


TURNS_APPENDED = text(
    "SELECT id, session_id, type, seq, time_created, time_updated, data "
    "FROM session_message WHERE rowid BETWEEN :lo AND :hi AND type = 'assistant'"
)

SESSIONS_OF_APPENDED_ROWS = text("SELECT DISTINCT session_id FROM session_message WHERE rowid BETWEEN :lo AND :hi")

SESSIONS_APPENDED = text("SELECT id FROM session_v2 WHERE rowid BETWEEN :lo AND :hi")

WRITER_VERSIONS_OF = text(
    "SELECT DISTINCT version FROM session_v2 WHERE id IN :ids AND version IS NOT NULL AND version NOT LIKE '1.%'"
).bindparams(bindparam("ids", expanding=True))

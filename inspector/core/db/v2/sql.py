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

"""The SQL ocinspect runs against OpenCode's v1 schema, in one place.

Filtering happens inside SQLite: cheap GLOB prefilters on the raw JSON text let SQLite skip
parsing the vast majority of rows, then ``json_extract`` decides. ``json_valid`` first, so one
corrupt row is reported, not fatal. Large tables are walked in rowid ranges so long scans can
report progress and be cancelled.

Every prefilter is a sound over-approximation for *any* valid JSON spacing, not only OpenCode's
compact ``JSON.stringify``: a row written by ``json.dumps``, ``jq`` or a hand edit (``": "``,
newlines, tabs) is just as stuck for OpenCode. Required patterns contain no whitespace-sensitive
part; skips may be compact-only (they then just skip less). ``tests/test_json_spacing.py``.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import TextClause, bindparam, text

from inspector.core.db import tails
from inspector.core.model import WRITABLE_COLUMNS

MAX_ROWID = {
    "part": text("SELECT coalesce(max(rowid), 0) FROM part"),
    "message": text("SELECT coalesce(max(rowid), 0) FROM message"),
}

_DIGITS13 = "[0-9]" * 13

# Cheap exact skips before any JSON parsing (GLOB anchored at the start is O(1); a leading ``*``
# followed by a rare character makes SQLite jump with strcspn). Both rely only on facts of JSON
# text: inside a string every quote is escaped, so ``{"`` and ``":"`` sequences are structural.
#  - a user message (its first key is ``role``) is never an unfinished assistant turn;
#  - ``{"created":<13 digits>,"completed":`` is a finished ``time`` object.
# They only ever exclude rows, and only on OpenCode's compact spelling: a row spaced any other
# way is not skipped and ``json_extract`` decides it, so spacing can never hide a stuck turn.
_UNFINISHED_MESSAGE_FILTER = f"""
      NOT data GLOB '{{"role":"user",*'
      AND NOT data GLOB '*{{"created":{_DIGITS13},"completed":*'
      AND (json_valid(data) = 0
           OR (json_extract(data, '$.role') = 'assistant'
               AND json_extract(data, '$.time.completed') IS NULL))
"""

UNFINISHED_MESSAGES = text(
    "SELECT id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM message WHERE rowid BETWEEN :lo AND :hi AND " + _UNFINISHED_MESSAGE_FILTER
)

# A stuck part's JSON always holds the string ``"running"`` or ``"pending"`` (the value of
# ``state.status``), whatever whitespace a writer puts around the ``:`` before it. One pattern
# covers both in a single strcspn-driven pass (SQLite jumps from '"' to '"'), then JSON decides.
# ``??`` (any two characters) then the literal ``n`` rejects a quote faster than a ``[rp][ue]``
# class would: measured 1.28x the CPU of OpenCode-only ``:"[rp][ue]n[nd]ing"`` (a colon is rarer
# than a quote) against 1.58x for the class; see bench/README.md. Compact-only ``:"running"``
# would miss ``"status": "running"`` (issue 12).
_STUCK_PART_FILTER = """
      data GLOB '*"??n[nd]ing"*'
      AND (json_valid(data) = 0
           OR (json_extract(data, '$.type') = 'tool'
               AND json_extract(data, '$.state.status') IN ('pending', 'running')))
"""

STUCK_PARTS_RANGE = text(
    "SELECT id, message_id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM part WHERE rowid BETWEEN :lo AND :hi AND " + _STUCK_PART_FILTER
)

STUCK_PARTS_OF_MESSAGES = text(
    "SELECT id, message_id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM part WHERE message_id IN :ids AND " + _STUCK_PART_FILTER
).bindparams(bindparam("ids", expanding=True))

UNFINISHED_MESSAGES_OF_SESSIONS = text(
    "SELECT id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM message WHERE session_id IN :ids AND " + _UNFINISHED_MESSAGE_FILTER
).bindparams(bindparam("ids", expanding=True))

STUCK_PARTS_OF_SESSIONS = text(
    "SELECT id, message_id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM part WHERE session_id IN :ids AND " + _STUCK_PART_FILTER
).bindparams(bindparam("ids", expanding=True))

# -- incremental refresh (refresh.py): reads that cost O(changes), not O(database) -----------

# The newest row of a table through the rowid b-tree (O(log n)): where a refresh resumes, and
# the id that proves on the next refresh that rowids were not renumbered (VACUUM) or reused.
_TAILED = ("part", "message", "session", "event")


@lru_cache(maxsize=8)
def where_we_are(tables: tuple[str, ...]) -> TextClause:
    """The tracker's one statement (``db/tails.py``) over 1.x's own tables."""
    if not set(tables) <= set(_TAILED):
        raise ValueError(f"no tail for {tables}")
    return tails.where_we_are({t: t for t in tables})


HAS_EVENT_LOG = text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event'")

STUCK_PARTS_BY_ID = text(
    "SELECT id, message_id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM part WHERE id IN :ids AND " + _STUCK_PART_FILTER
).bindparams(bindparam("ids", expanding=True))
UNFINISHED_MESSAGES_BY_ID = text(
    "SELECT id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM message WHERE id IN :ids AND " + _UNFINISHED_MESSAGE_FILTER
).bindparams(bindparam("ids", expanding=True))
# The version (time_updated) of rows by id, without reading ``data``: a known stuck row whose
# version did not change is not read again.
VERSIONS = {
    table: text(f"SELECT id, time_updated FROM {table} WHERE id IN :ids").bindparams(bindparam("ids", expanding=True))
    for table in ("part", "message")
}
VERSIONS_OF_MESSAGES = text(
    "SELECT id, id AS message_id, time_updated FROM message WHERE id IN :ids "
    "UNION ALL SELECT id, message_id, time_updated FROM part WHERE message_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
SESSIONS_OF_NEW_MESSAGES = text("SELECT DISTINCT session_id FROM message WHERE rowid BETWEEN :lo AND :hi")

# OpenCode's sync event log: every row it writes also appends an event naming the row (part
# events carry ``part.id``, message events ``info.id``), so updates are found at O(changes).
NEW_EVENTS = text(
    """
    SELECT rowid AS rowid, type, aggregate_id,
           CASE WHEN json_valid(data) THEN coalesce(json_extract(data, '$.part.id'),
                                                    json_extract(data, '$.partID')) END AS part_id,
           CASE WHEN json_valid(data) THEN coalesce(json_extract(data, '$.info.id'),
                                                    json_extract(data, '$.messageID')) END AS message_id
    FROM event WHERE rowid BETWEEN :lo AND :hi
    """
)

# The safety net: rows changed since a watermark, read from the b-tree without touching the
# overflow pages of ``data`` (O(database); run rarely), and a first watermark from the newest rows.
UPDATED_SINCE = {
    table: text(f"SELECT id, time_updated FROM {table} WHERE time_updated >= :since") for table in ("part", "message")
}
RECENT_UPDATED = {
    table: text(
        f"SELECT coalesce(max(time_updated), 0) FROM (SELECT time_updated FROM {table} ORDER BY rowid DESC LIMIT 1000)"
    )
    for table in ("part", "message")
}


MESSAGE_COMPLETED = text(
    """
    SELECT id, json_extract(data, '$.time.completed') IS NOT NULL AS done
    FROM message WHERE id IN :ids AND json_valid(data)
    """
).bindparams(bindparam("ids", expanding=True))

LAST_ACTIVITY = text(
    "SELECT session_id, max(time_created) FROM message WHERE session_id IN :ids GROUP BY session_id"
).bindparams(bindparam("ids", expanding=True))

# The last message of each session whose newest message (by time) is a user message with an
# assistant message of a *greater id* before it: OpenCode ≤ 1.18.14 orders by id and after the
# id clock wrapped believes such prompts were answered already.
_IGNORED_PROMPTS = """
    WITH last AS (
      SELECT s.id AS session_id,
             (SELECT m.id FROM message m WHERE m.session_id = s.id
              ORDER BY m.time_created DESC, m.id DESC LIMIT 1) AS message_id
      FROM session s {where}
    )
    SELECT last.session_id, last.message_id
    FROM last JOIN message u ON u.id = last.message_id
    WHERE json_valid(u.data) AND json_extract(u.data, '$.role') = 'user'
      AND EXISTS (SELECT 1 FROM message a WHERE a.session_id = last.session_id
                  AND a.id > last.message_id AND a.time_created <= u.time_created
                  AND json_valid(a.data) AND json_extract(a.data, '$.role') = 'assistant')
    """

IGNORED_PROMPTS = text(_IGNORED_PROMPTS.format(where=""))

# The same, for given sessions only (targeted scans: show, recover ID, the watchdog).
IGNORED_PROMPTS_OF_SESSIONS = text(_IGNORED_PROMPTS.format(where="WHERE s.id IN :ids")).bindparams(
    bindparam("ids", expanding=True)
)

# -- OpenCode's id clock wrap (see idwrap.py) ------------------------------------------------

# The releases that wrote the file: DISTINCT_SESSION_VERSIONS (below, with the resumed scan's).

# Sessions holding a message id that sorts after every id minted now (minted before the wrap).
SESSIONS_WITH_IDS_AFTER = text(
    "SELECT DISTINCT session_id FROM message WHERE session_id IN :ids AND id > :bound"
).bindparams(bindparam("ids", expanding=True))

# The leftovers of OpenCode <= 1.18.14's loop: assistant replies minted since the wrap (id below
# the bound) that answer a prompt minted before it (parentID above the bound), created after
# the session's newest user message. Only ids minted since the wrap are read.
ID_WRAP_LOOP_REPLIES = text(
    """
    WITH replies AS (
      SELECT session_id, time_created FROM message
      WHERE id < :bound AND NOT data GLOB '{"role":"user",*'
        AND json_valid(data) AND json_extract(data, '$.role') = 'assistant'
        AND json_extract(data, '$.parentID') > :bound
    ),
    newest_user AS (
      SELECT session_id, max(time_created) AS t FROM message
      WHERE session_id IN (SELECT session_id FROM replies)
        AND json_valid(data) AND json_extract(data, '$.role') = 'user'
      GROUP BY session_id
    )
    SELECT r.session_id, count(*) AS replies
    FROM replies r JOIN newest_user u ON u.session_id = r.session_id
    WHERE r.time_created > u.t
    GROUP BY r.session_id HAVING count(*) >= :min_replies
    """
)

# -- subagent links OpenCode 1.2/1.3 did not write (see children.py) -------------------------

CHILD_SESSION_ROWS = text("SELECT id, parent_id, title, time_created FROM session WHERE parent_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

# Children already named by a task part (``state.metadata.sessionId``) of the parent session.
CLAIMED_CHILDREN = text(
    """
    SELECT json_extract(data, '$.state.metadata.sessionId') AS child FROM part
    WHERE session_id IN :ids AND data GLOB '*"task"*' AND json_valid(data)
      AND json_extract(data, '$.tool') = 'task'
      AND json_extract(data, '$.state.metadata.sessionId') IS NOT NULL
    """
).bindparams(bindparam("ids", expanding=True))

TASK_DESCRIPTIONS = text(
    "SELECT id, json_extract(data, '$.state.input.description') AS description FROM part "
    "WHERE id IN :ids AND json_valid(data)"
).bindparams(bindparam("ids", expanding=True))

MESSAGE_TIMES = text("SELECT id, session_id, time_created FROM message WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

# Messages a session got after a run (undo must not put a moved-on session's old rows back).
MESSAGES_CREATED_AFTER = text(
    "SELECT id, session_id, time_created FROM message WHERE session_id IN :ids AND time_created > :after "
    "ORDER BY time_created, id"
).bindparams(bindparam("ids", expanding=True))

NEXT_MESSAGE_TIME = text("SELECT min(time_created) FROM message WHERE session_id = :sid AND time_created > :after")


def session_columns(available: frozenset[str]) -> list[str]:
    """The ``session`` columns we read, limited to those this database has."""
    wanted = [
        "id",
        "title",
        "directory",
        "parent_id",
        "project_id",
        "version",
        "time_created",
        "time_updated",
        "time_compacting",
        "time_archived",
    ]
    return [c for c in wanted if c in available]


def sessions_by_id(columns: list[str]) -> TextClause:
    return text(f"SELECT {', '.join(columns)} FROM session WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )


def all_sessions(columns: list[str]) -> TextClause:
    return text(f"SELECT {', '.join(columns)} FROM session")


# Sessions marked compacting with no finished summary since the mark: one statement for all of
# them (the session table is small; the summaries are found through the session/time index).
_COMPACTING_SESSIONS = """
    SELECT s.id, s.time_compacting FROM session s
    WHERE s.time_compacting IS NOT NULL {where}
      AND NOT EXISTS (
        SELECT 1 FROM message m
        WHERE m.session_id = s.id AND m.time_created >= s.time_compacting AND json_valid(m.data)
          AND json_extract(m.data, '$.summary') = 1
          AND json_extract(m.data, '$.time.completed') IS NOT NULL)
    """
COMPACTING_SESSIONS = text(_COMPACTING_SESSIONS.format(where=""))
# The same for known sessions only (a resumed scan: the ones that can have changed), by primary key.
COMPACTING_SESSIONS_BY_ID = text(_COMPACTING_SESSIONS.format(where="AND s.id IN :ids")).bindparams(
    bindparam("ids", expanding=True)
)

# What a resumed scan keeps of the session table instead of reading it (issue 19): how many
# rows (counted on the smallest index, not the table), the sessions appended, the releases.
SESSION_COUNT = text("SELECT count(*) FROM session")
SESSIONS_APPENDED = text("SELECT id FROM session WHERE rowid BETWEEN :lo AND :hi")
DISTINCT_SESSION_VERSIONS = text("SELECT DISTINCT version FROM session WHERE version IS NOT NULL")
VERSIONS_OF_SESSIONS = text("SELECT DISTINCT version FROM session WHERE id IN :ids AND version IS NOT NULL").bindparams(
    bindparam("ids", expanding=True)
)

PART_ROW = text("SELECT id, session_id, message_id, time_updated, data FROM part WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
MESSAGE_ROW = text("SELECT id, session_id, time_updated, data FROM message WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
SESSION_ROW = text("SELECT id, time_updated, time_compacting FROM session WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

CHILD_SESSIONS = text("SELECT id FROM session WHERE parent_id IN :ids").bindparams(bindparam("ids", expanding=True))

# Motion of a busy session, through indexes only (``message_session_time_created_id_idx`` then
# ``part_message_id_id_idx``): a turn that is being worked on writes its newest messages and
# their parts, so the newest few messages and their parts say when anything last moved.
RECENT_MESSAGES = text(
    "SELECT id, time_updated FROM message WHERE session_id = :sid ORDER BY time_created DESC, id DESC LIMIT :limit"
)

# What the hung rules need of each recent part, without parsing ``data`` in Python: its type,
# a tool's status, whether a text/reasoning part holds any text yet (invalid JSON reads as NULL).
PARTS_SHAPE = text(
    "SELECT id, session_id, message_id, time_created, time_updated, "
    "CASE WHEN json_valid(data) THEN json_extract(data, '$.type') END AS type, "
    "CASE WHEN json_valid(data) THEN json_extract(data, '$.state.status') END AS status, "
    "CASE WHEN json_valid(data) THEN length(coalesce(json_extract(data, '$.text'), '')) ELSE 0 END AS text_len "
    "FROM part WHERE message_id IN :ids"
).bindparams(bindparam("ids", expanding=True))

PART_BY_ID = text(
    "SELECT id, message_id, session_id, time_created, time_updated, data, json_valid(data) AS ok "
    "FROM part WHERE id = :id"
)

# Columns a repair or undo may write, per table: the whitelist for the generic CAS update
# (kept in model so the journal checks run files without loading SQLAlchemy).
WRITABLE = WRITABLE_COLUMNS


def compare_and_set(table: str, columns: list[str], *, stuck_guard: bool = False) -> TextClause:
    """``UPDATE`` that writes ``new_*`` only where every column still ``IS`` its ``old_*``."""
    allowed = WRITABLE[table]
    if not set(columns) <= set(allowed):
        raise ValueError(f"refusing to write columns {columns} of {table}")
    sets = ", ".join(f"{c} = :new_{c}" for c in columns)
    where = " AND ".join(f"{c} IS :old_{c}" for c in columns)
    if stuck_guard:
        where += " AND json_extract(data, '$.state.status') IN ('pending', 'running')"
    return text(f"UPDATE {table} SET {sets} WHERE id = :id AND {where}")


def current_row(table: str, columns: list[str]) -> TextClause:
    if not set(columns) <= set(WRITABLE[table]):
        raise ValueError(f"refusing to read columns {columns} of {table}")
    return text(f"SELECT {', '.join(columns)} FROM {table} WHERE id = :id")


# -- OpenCode's sync event log (see eventlog.py) --------------------------------------------

EVENT_CURSORS = text("SELECT aggregate_id, seq, owner_id FROM event_sequence WHERE aggregate_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

ALL_EVENT_CURSORS = text("SELECT aggregate_id FROM event_sequence ORDER BY aggregate_id")

# Through event_aggregate_type_seq_idx: the freshest whole session object OpenCode logged.
LATEST_SESSION_EVENT = text(
    """
    SELECT data FROM event
    WHERE aggregate_id = :sid AND (type GLOB 'session.updated.*' OR type GLOB 'session.created.*')
    ORDER BY seq DESC LIMIT 1
    """
)

SESSION_FOR_EVENT = text("SELECT * FROM session WHERE id = :id")

PART_MESSAGE = text("SELECT message_id FROM part WHERE id = :id")

# Compare-and-set on the log's cursor: if OpenCode appended an event since we read ``old``
# (or the session changed owner), nothing matches and the unit is rolled back.
ADVANCE_SEQUENCE = text(
    "UPDATE event_sequence SET seq = :new WHERE aggregate_id = :sid AND seq = :old AND owner_id IS :owner"
)

INSERT_EVENT = text(
    "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (:id, :aggregate_id, :seq, :type, :data)"
)

EVENTS_OF_SESSION = text("SELECT id, seq, type, data FROM event WHERE aggregate_id = :sid ORDER BY seq")
PARTS_OF_SESSION = text("SELECT id, data FROM part WHERE session_id = :sid")
MESSAGES_OF_SESSION = text("SELECT id, data FROM message WHERE session_id = :sid")

# -- a session's story (diagnose/timeline.py): the last turns, through indexes only ---------
# ``message_session_time_created_id_idx`` walks a session's messages newest first and
# ``part_message_id_id_idx`` finds their parts. A row whose ``data`` is small comes whole (it is
# parsed in Python); a large one is reduced inside SQLite to the fields the story shows, with
# the head of its text, the tail of its output and the summary keys of its input, so a tool
# output of megabytes never leaves SQLite.

# The newest user messages (turn starts) among a session's newest :scan messages.
TIMELINE_PROMPTS = text(
    """
    SELECT id, time_created FROM (
      SELECT id, time_created, data FROM message WHERE session_id = :sid
      ORDER BY time_created DESC, id DESC LIMIT :scan)
    WHERE CASE WHEN json_valid(data) THEN json_extract(data, '$.role') END = 'user'
    ORDER BY time_created DESC, id DESC LIMIT :turns
    """
)

# The messages from the oldest shown turn start on, newest first (the caller reverses them).
TIMELINE_MESSAGES = text(
    """
    SELECT id, time_created, time_updated, length(data) AS size,
           CASE WHEN length(data) <= :small THEN data END AS data
    FROM message WHERE session_id = :sid AND (time_created, id) >= (:t, :id)
    ORDER BY time_created DESC, id DESC LIMIT :limit
    """
)

TIMELINE_PARTS = text(
    """
    SELECT id, message_id, time_created, time_updated, length(data) AS size,
           CASE WHEN length(data) <= :small THEN data END AS data
    FROM part WHERE message_id IN :ids
    """
).bindparams(bindparam("ids", expanding=True))

# ``input`` of a large tool part: whole when it is short, else only the keys a summary uses.
_LARGE_INPUT = """
    json(CASE WHEN length(json_extract(j, '$.state.input')) <= :input_limit
              THEN json_extract(j, '$.state.input')
              ELSE json_object(
                'command', substr(json_extract(j, '$.state.input.command'), 1, 400),
                'filePath', substr(json_extract(j, '$.state.input.filePath'), 1, 400),
                'path', substr(json_extract(j, '$.state.input.path'), 1, 400),
                'pattern', substr(json_extract(j, '$.state.input.pattern'), 1, 400),
                'url', substr(json_extract(j, '$.state.input.url'), 1, 400),
                'description', substr(json_extract(j, '$.state.input.description'), 1, 400),
                'query', substr(json_extract(j, '$.state.input.query'), 1, 400)) END)
"""

_OUTPUT = "coalesce(json_extract(j, '$.state.output'), json_extract(j, '$.state.metadata.output'))"

TIMELINE_LARGE_PARTS = text(
    f"""
    WITH p AS MATERIALIZED (
      SELECT id, CASE WHEN json_valid(data) THEN data END AS j FROM part WHERE id IN :ids)
    SELECT id, j IS NOT NULL AS ok,
           length(json_extract(j, '$.text')) AS text_chars,
           length({_OUTPUT}) AS output_chars,
           length(json_extract(j, '$.state.input')) AS input_chars,
           length(json_extract(j, '$.state.input.command')) AS command_chars,
           coalesce(length(json_extract(j, '$.state.error')),
                    length(json_extract(j, '$.error.data.message'))) AS error_chars,
           json_object(
             'type', json_extract(j, '$.type'),
             'tool', json_extract(j, '$.tool'),
             'callID', json_extract(j, '$.callID'),
             'text', substr(json_extract(j, '$.text'), 1, :head),
             'time', json_extract(j, '$.time'),
             'reason', json_extract(j, '$.reason'),
             'cost', json_extract(j, '$.cost'),
             'tokens', json_extract(j, '$.tokens'),
             'attempt', json_extract(j, '$.attempt'),
             'filename', substr(json_extract(j, '$.filename'), 1, 400),
             'name', substr(json_extract(j, '$.name'), 1, 400),
             'description', substr(json_extract(j, '$.description'), 1, 400),
             'files', json_array_length(j, '$.files'),
             'error', json_object('name', json_extract(j, '$.error.name'),
                                  'data', json_object('message', substr(json_extract(j, '$.error.data.message'), 1, :head))),
             'state', json_object(
               'status', json_extract(j, '$.state.status'),
               'title', substr(json_extract(j, '$.state.title'), 1, 400),
               'time', json_extract(j, '$.state.time'),
               'error', substr(json_extract(j, '$.state.error'), 1, :head),
               'input', {_LARGE_INPUT},
               'output', substr({_OUTPUT}, -:tail),
               'metadata', json_object(
                 'sessionId', json_extract(j, '$.state.metadata.sessionId'),
                 'interrupted', json_extract(j, '$.state.metadata.interrupted')))) AS data
    FROM p
    """
).bindparams(bindparam("ids", expanding=True))

TIMELINE_LARGE_MESSAGES = text(
    """
    WITH m AS MATERIALIZED (
      SELECT id, CASE WHEN json_valid(data) THEN data END AS j FROM message WHERE id IN :ids)
    SELECT id, j IS NOT NULL AS ok,
           length(json_extract(j, '$.error.data.message')) AS error_chars,
           json_object(
             'role', json_extract(j, '$.role'),
             'time', json_extract(j, '$.time'),
             'finish', json_extract(j, '$.finish'),
             'modelID', json_extract(j, '$.modelID'),
             'providerID', json_extract(j, '$.providerID'),
             'agent', json_extract(j, '$.agent'),
             'cost', json_extract(j, '$.cost'),
             'tokens', json_extract(j, '$.tokens'),
             'summary', json(CASE WHEN json_type(j, '$.summary') = 'true' THEN 'true' ELSE 'false' END),
             'error', json_object('name', json_extract(j, '$.error.name'),
                                  'data', json_object('message', substr(json_extract(j, '$.error.data.message'), 1, :head))))
             AS data
    FROM m
    """
).bindparams(bindparam("ids", expanding=True))

# One part whole, for the pager: its input and output capped at :cap characters (the output's
# tail), its text's head. Only ever one row, on request.
TIMELINE_PART_DETAIL = text(
    f"""
    WITH p AS MATERIALIZED (
      SELECT id, message_id, session_id, CASE WHEN json_valid(data) THEN data END AS j
      FROM part WHERE id = :id)
    SELECT id, message_id, session_id, j IS NOT NULL AS ok,
           json_extract(j, '$.type') AS type, json_extract(j, '$.tool') AS tool,
           json_extract(j, '$.state.status') AS status, substr(json_extract(j, '$.state.title'), 1, 400) AS title,
           substr(json_extract(j, '$.state.input'), 1, :cap) AS input,
           length(json_extract(j, '$.state.input')) AS input_chars,
           substr({_OUTPUT}, -:cap) AS output, length({_OUTPUT}) AS output_chars,
           substr(json_extract(j, '$.state.error'), 1, :cap) AS error,
           substr(json_extract(j, '$.text'), 1, :cap) AS text, length(json_extract(j, '$.text')) AS text_chars
    FROM p
    """
)


# -- the report (report/build.py; its turns come from the timeline queries above) --------

# The session table is small (one row per conversation): which OpenCode releases wrote it.
REPORT_SESSION_VERSIONS = text(
    "SELECT version, count(*) AS sessions, max(time_updated) AS last_updated FROM session "
    "GROUP BY version ORDER BY last_updated DESC"
)

NEWEST_MIGRATION = text("SELECT id FROM migration ORDER BY time_completed DESC, id DESC LIMIT 1")
NEWEST_DRIZZLE_MIGRATION = text("SELECT name FROM __drizzle_migrations ORDER BY id DESC LIMIT 1")

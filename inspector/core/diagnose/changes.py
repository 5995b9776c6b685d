"""The rows that can have changed since a watermark: one reader for both incremental paths.

:mod:`resume` (across processes, both tiers) and :mod:`refresh` (watch mode and the TUI, the
deep tier) bring a set of findings up to date the same way. OpenCode makes a row stuck only
by inserting it and un-sticks only rows that are stuck, and where it keeps its sync event log
every row it writes is named by an event; so, in the caller's snapshot, :func:`read_changes`
reads

- the rows appended since (``rowid`` after the tails of ``message`` and, with ``parts``, ``part``);
- the rows the event log names since its tail, and the ``remembered`` ones, again by id, through
  the same stuck filter as a full scan; with ``versions`` (the ``time_updated`` each known row
  had when it was parsed), a known row whose version did not move is not parsed again.

What is tier- or caller-specific stays with the caller: the quick tier's parts of unfinished
turns, refresh's ``time_updated`` sweep (passed in as more ``remembered`` ids), the session table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Connection

from inspector.core.db.v1 import sql as q
from inspector.core.diagnose import tracker
from inspector.core.diagnose.findings import Findings

__all__ = ["Changes", "absorb", "read_changes"]

Table = Literal["part", "message"]


@dataclass(frozen=True)
class Changes:
    """What the reader saw besides the findings: the event log's span, and the sessions that got
    new messages or events (only those can have a new newest prompt)."""

    log: tracker.Logged
    touched: frozenset[str]


def read_changes(
    conn: Connection,
    before: tracker.Watermarks,
    after: tracker.Watermarks,
    found: Findings,
    *,
    remembered: Mapping[Table, Set[str]],
    parts: bool,
    versions: dict[str, int] | None = None,
) -> Changes:
    """Bring ``found`` from ``before`` to ``after`` (both in ``conn``'s snapshot)."""
    log = tracker.logged(conn, tracker.appended(before, after, "event")) if "event" in after.tails else tracker.Logged()
    touched = set(log.sessions)
    kept = {} if versions is None else versions
    span = tracker.appended(before, after, "message")
    if span is not None:
        absorb("message", conn.execute(q.UNFINISHED_MESSAGES, span), found, kept)
        touched.update(row.session_id for row in conn.execute(q.SESSIONS_OF_NEW_MESSAGES, span))
    if parts:
        span = tracker.appended(before, after, "part")
        if span is not None:
            absorb("part", conn.execute(q.STUCK_PARTS_RANGE, span), found, kept)
        _recheck(conn, "part", set(remembered.get("part", ())) | log.parts, found, versions)
    _recheck(conn, "message", set(remembered.get("message", ())) | log.messages, found, versions)
    return Changes(log=log, touched=frozenset(touched))


def absorb(table: Table, rows: Iterable[Any], found: Findings, versions: dict[str, int]) -> None:
    """Parse rows of ``table`` into ``found`` (the stuck ones, as a full scan keeps them) and
    note the version of each (the rows come through a stuck filter: few)."""
    rows = list(rows)
    (found.add_parts if table == "part" else found.add_messages)(rows)
    versions.update((row.id, int(row.time_updated)) for row in rows)


def _recheck(conn: Connection, table: Table, ids: set[str], found: Findings, versions: dict[str, int] | None) -> None:
    """Bring ``ids`` up to date: with ``versions``, a known row whose version (``time_updated``,
    which OpenCode and our repair bump on every write) did not change is left as it is; the
    others are read again, through the same stuck filter as a full scan, and parsed."""
    known = found.parts if table == "part" else found.messages
    if versions is None:
        changed = sorted(ids)
    else:
        current = {row.id: int(row.time_updated) for row in tracker.by_ids(conn, q.VERSIONS[table], ids)}
        changed = [i for i in ids if i not in current or i not in known or versions.get(i) != current[i]]
    for row_id in changed:
        known.pop(row_id, None)
        if versions is not None:
            versions.pop(row_id, None)
    query = q.STUCK_PARTS_BY_ID if table == "part" else q.UNFINISHED_MESSAGES_BY_ID
    absorb(table, tracker.by_ids(conn, query, changed), found, {} if versions is None else versions)

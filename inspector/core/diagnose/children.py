"""Link a stuck ``task`` part to its subagent session when OpenCode wrote no link.

OpenCode 1.2/1.3 keep no ``state.metadata`` on a running ``task`` part, so the part does not
name its child session. The child still has ``session.parent_id`` = the part's session, and it
is created during the part's turn: measured on the real 1.2.27 and 1.3.2, after the assistant
message and 0.1–0.7 s *before* the task part is written. So: among the parent's child sessions
not named by any other task part, created between the start of the part's turn and the next
message of the parent, take the one whose title is OpenCode's ``"<description> (@<agent>
subagent)"`` for this part if any, and of those the closest in time to the part. The link is
marked inferred wherever it is shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from inspector.core.db.rows import chunks
from inspector.core.db.v1 import sql as q
from inspector.core.model import Part


def _rows(conn: Connection, query: Any, ids: Iterable[str]) -> list[Any]:
    rows: list[Any] = []
    for chunk in chunks(sorted(set(ids))):
        rows.extend(conn.execute(query, {"ids": chunk}))
    return rows


def infer_children(conn: Connection, parts: dict[str, Part]) -> dict[str, Part]:
    """``parts`` with inferred ``child_session_id`` on stuck task parts that lack one."""
    unlinked = [p for p in parts.values() if p.tool == "task" and p.child_session_id is None]
    if not unlinked:
        return parts
    parents = {p.session_id for p in unlinked}
    claimed = {row.child for row in _rows(conn, q.CLAIMED_CHILDREN, parents) if isinstance(row.child, str)}
    children: dict[str, list[Any]] = defaultdict(list)
    for row in _rows(conn, q.CHILD_SESSION_ROWS, parents):
        if row.id not in claimed:
            children[row.parent_id].append(row)
    if not children:
        return parts
    turn_start = {
        row.id: int(row.time_created) for row in _rows(conn, q.MESSAGE_TIMES, {p.message_id for p in unlinked})
    }
    described = {row.id: row.description for row in _rows(conn, q.TASK_DESCRIPTIONS, [p.id for p in unlinked])}
    linked = dict(parts)
    taken: set[str] = set()
    for part in sorted(unlinked, key=lambda p: (p.started or p.time_created, p.id)):
        start = turn_start.get(part.message_id, part.time_created)
        end = conn.execute(q.NEXT_MESSAGE_TIME, {"sid": part.session_id, "after": start}).scalar()
        window = [
            c
            for c in children[part.session_id]
            if c.id not in taken and int(c.time_created) >= start and (end is None or int(c.time_created) < end)
        ]
        description = described.get(part.id)
        named = [
            c
            for c in window
            if isinstance(description, str) and description and str(c.title or "").startswith(f"{description} (@")
        ]
        pool = named or window
        if not pool:
            continue
        anchor = part.started or part.time_created
        child = min(pool, key=lambda c: (abs(int(c.time_created) - anchor), c.id))
        taken.add(child.id)
        linked[part.id] = replace(part, child_session_id=child.id, child_inferred=True)
    return linked

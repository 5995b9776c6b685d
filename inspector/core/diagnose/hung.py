"""Hung: OpenCode lists a session busy, yet nothing of it has moved for too long.

A session OpenCode is really working on writes its rows all the time: a streaming reply updates
its text part, a running ``bash`` appends to ``state.metadata.output`` (measured on 1.18.33:
about once a second while the command prints), a new step inserts a new message. A turn that
is stuck inside a live server (a tool that never returns, a subagent that waits forever) writes
nothing. So a busy session is **hung** when, across its whole subagent chain,

- no ``message``/``part`` row has been updated for at least ``hung_after_ms``, and
- the newest tool part of the chain (or a parallel call of the same step) is still
  ``pending``/``running`` (a session waiting for the model, with no tool running, is not called
  hung), and
- it does not wait for a person: no pending permission or question (``live.waiting``), no
  running ``question`` tool, and we could ask the server about that (``live.undecided``).

Only busy sessions are examined, through indexes, so this costs O(busy sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy.engine import Connection

from inspector.core.db import queries as q
from inspector.core.db.rows import chunks, load_json, part_from_row
from inspector.core.diagnose.tree import chain_of
from inspector.core.model import Diagnosis, Part
from inspector.core.opencode.live import LiveStatus
from inspector.core.text import humanize_ms, local_time, shorten

RECENT_MESSAGES = 16  # per session: the turn being worked on is always among the newest messages
_ACTIVE = ("pending", "running")


@dataclass(frozen=True)
class Motion:
    """When a chain last moved, and its newest tool part (``None`` if it has none)."""

    last_moved: int | None
    newest_tool: Part | None


def chain_motion(conn: Connection, session_ids: Sequence[str], known: dict[str, Part]) -> Motion:
    """Newest ``time_updated`` of the chain's recent rows, and the chain's newest tool part.

    ``known`` maps ids of tool parts already read (the scan's stuck parts) to their ``Part``;
    any other part is read only until the newest tool part is found.
    """

    last: int | None = None
    parts: list[tuple[int, str]] = []
    for sid in session_ids:
        messages = list(conn.execute(q.RECENT_MESSAGES, {"sid": sid, "limit": RECENT_MESSAGES}))
        for row in messages:
            last = max(last or 0, int(row.time_updated or 0))
        for chunk in chunks([row.id for row in messages]):
            for row in conn.execute(q.PARTS_MOTION, {"ids": chunk}):
                last = max(last or 0, int(row.time_updated or 0))
                parts.append((int(row.time_created or 0), row.id))
    newest: Part | None = None
    for _, part_id in sorted(parts, reverse=True):
        if part_id in known:
            newest = known[part_id]
            break
        part_row = conn.execute(q.PART_BY_ID, {"id": part_id}).first()
        if part_row is None or not part_row.ok:
            continue
        data = load_json(part_row, "part")
        if data.get("type") == "tool":
            newest = part_from_row(part_row, data)
            break
    if newest is not None and newest.status not in _ACTIVE:
        # Parallel calls of one step: the step still waits on a sibling that is running.
        siblings = [p for p in known.values() if p.message_id == newest.message_id and p.status in _ACTIVE]
        newest = max(siblings, key=lambda p: (p.time_created, p.id), default=newest)
    return Motion(last_moved=last or None, newest_tool=newest)


def classify(
    conn: Connection,
    diagnoses: dict[str, Diagnosis],
    *,
    live: LiveStatus,
    hung_after_ms: int,
    now: int,
) -> dict[str, Diagnosis]:
    """Every ``live`` chain gets ``idle_ms``; those that meet the definition become ``hung``."""
    result = dict(diagnoses)
    done: set[str] = set()
    for sid, diag in diagnoses.items():
        if diag.verdict != "live" or sid in done:
            continue
        chain = chain_of(sid, diagnoses) or [sid]
        done.update(chain)
        known = {p.id: p for member in chain for p in diagnoses[member].stuck_parts}
        motion = chain_motion(conn, chain, known)
        idle = None if motion.last_moved is None else max(0, now - motion.last_moved)
        hung, why = _decide(chain, motion, idle, live, hung_after_ms, now)
        for member in chain:
            current = result[member]
            if hung:
                result[member] = replace(current, verdict="hung", live_reason=why, idle_ms=idle)
            else:
                says_why = why and current.verdict == "live" and member not in live.waiting
                reason = f"{current.live_reason}; {why}" if says_why else current.live_reason
                result[member] = replace(current, idle_ms=idle, live_reason=reason)
    return result


def _decide(
    chain: list[str],
    motion: Motion,
    idle: int | None,
    live: LiveStatus,
    hung_after_ms: int,
    now: int,
) -> tuple[bool, str]:
    """(hung?, the reason in words). A ``False`` answer may still explain why it is not hung."""
    tool = motion.newest_tool
    if idle is None:
        return False, ""
    if any(s in live.waiting for s in chain):
        return False, "its subagent chain waits for your answer, so it is not hung"
    if tool is not None and tool.status in _ACTIVE and tool.tool == "question":
        return False, "its question tool waits for your answer, so it is not hung"
    if any(s in live.undecided for s in chain):
        return False, "could not ask OpenCode whether it waits for your answer"
    if tool is None or tool.status not in _ACTIVE:
        return False, f"last moved {humanize_ms(idle)} ago; no tool is running"
    if idle < hung_after_ms:
        return False, f"last moved {humanize_ms(idle)} ago"
    return True, hung_reason(tool, idle, motion.last_moved, chain, now)


def hung_reason(tool: Part, idle: int, last_moved: int | None, chain: Sequence[str], now: int) -> str:
    """``OpenCode lists it busy, but nothing has moved for 16m …: bash running for 17m: sleep 600``."""
    started = tool.started or tool.time_created
    what = f"{tool.tool} {tool.status} for {humanize_ms(now - started)}"
    if tool.input_summary:
        what += f": {shorten(tool.input_summary, 60)}"
    where = f" (in subagent {tool.session_id})" if len(chain) > 1 and tool.session_id != chain[0] else ""
    return (f"OpenCode lists it busy, but nothing has moved for {humanize_ms(idle)} "
            f"(last activity {local_time(last_moved)}): {what}{where}")

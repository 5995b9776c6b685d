"""Close an OpenCode 2 turn the way OpenCode 2 closes an interrupted one (pure: rows in, rows out).

Measured on the real 2.1.2 (``docs/design/records.md``, the v2 reference): the service's own heal
turns each ``running``/``streaming`` tool into ``error`` ``aborted`` "Tool execution interrupted:
<tool>" (input ``""`` becomes ``{}``, empty metadata dropped, ``executed`` a boolean, the tool's
``time.completed`` set) and gives the message ``time.completed`` (dropping ``retry``). Where the
turn is still open (a claim, or no ``idle`` row after the newest other row) an ``idle`` row
``interrupted`` ends it at the next seq, and ``session_v2`` releases the claim exactly as
``POST /interrupt`` does. One seq is spent per tool healed and one for the ``idle`` row, and the
session's ``event_sequence`` counter is advanced to the last one: a counter left behind a stored
seq breaks the session silently (the next prompt's row collides on its seq).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from inspector.core.db.v2.rows import SUBAGENT_TOOLS, Claim, is_stuck_tool

INTERRUPTED = "Tool execution interrupted"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An assistant row as stored: its id, seq and parsed ``data``."""

    id: str
    seq: int
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class OpenTurn:
    """What the heal needs to know about one session (read in the write transaction)."""

    claim: Claim
    messages: tuple[StoredMessage, ...]  # unfinished assistant rows and rows with stuck tools
    closed: bool  # the newest row is an ``idle`` row: the turn already has its end
    counter: int  # max(event_sequence.seq, the newest stored seq): where the next seq starts


@dataclass(frozen=True, slots=True)
class IdleRow:
    id: str
    seq: int
    time_created: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Healed:
    messages: tuple[tuple[str, dict[str, Any]], ...]  # (row id, new data), in seq order
    idle: IdleRow | None
    session: dict[str, Any]  # new values of session_v2's columns ({} when none change)
    counter: int  # the event_sequence.seq after the heal
    tools_healed: int


def heal(turn: OpenTurn, now: int, mint: Callable[[int], str], claim_column: str = "time_suspended") -> Healed:
    """The rows that close ``turn`` at ``now``; ``mint(now)`` gives an ascending ``msg_`` id."""
    healed = 0
    messages: list[tuple[str, dict[str, Any]]] = []
    for stored in sorted(turn.messages, key=lambda m: m.seq):
        data = copy.deepcopy(dict(stored.data))
        content = data.get("content")
        if isinstance(content, list):
            for index, item in enumerate(content):
                if is_stuck_tool(item):
                    content[index] = heal_tool(item, now)
                    healed += 1
        when = data["time"] if isinstance(data.get("time"), dict) else {}
        if when.get("completed") is None:
            when["completed"] = now
        data["time"] = when
        data.pop("retry", None)
        messages.append((stored.id, data))
    counter = turn.counter + healed
    idle: IdleRow | None = None
    session: dict[str, Any] = {}
    if turn.claim.claimed_at is not None or not turn.closed:
        counter += 1
        idle = IdleRow(mint(now), counter, now, {"time": {"created": now}, "outcome": "interrupted"})
        last = turn.claim.time_idle
        session = {
            claim_column: None,
            "resume_attempts": 0,
            "idle_outcome": "interrupted",
            "time_idle": max(now, last + 1) if last is not None else now,
        }
    return Healed(tuple(messages), idle, session, counter, healed)


def heal_tool(item: Mapping[str, Any], now: int) -> dict[str, Any]:
    """One stuck tool item as v2's heal leaves it (key order as v2 writes it)."""
    state: dict[str, Any] = dict(item["state"])
    name = str(item.get("name") or "")
    metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
    message = f"{INTERRUPTED}: {name}"
    child = (metadata or {}).get("sessionID") or (metadata or {}).get("sessionId")
    if name in SUBAGENT_TOOLS and isinstance(child, str):
        message += f" (sessionID: {child})"
    tool_input = state.get("input")
    new_state: dict[str, Any] = {
        "status": "error",
        "input": tool_input if isinstance(tool_input, dict) else {},
        "error": {"type": "aborted", "message": message},
    }
    if metadata:
        new_state["metadata"] = metadata
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "state":
            out["state"] = new_state
        elif key == "time":
            out["time"] = {**(value if isinstance(value, dict) else {}), "completed": now}
        elif key == "executed":
            out["executed"] = value is True
        else:
            out[key] = copy.deepcopy(value)
    out.setdefault("time", {"completed": now})
    return out

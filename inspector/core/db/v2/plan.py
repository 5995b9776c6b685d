"""The row changes that close a session's stuck OpenCode 2 turn, as ``heal.py`` says v2 does.

Read on the plan's snapshot (and compared again, row by row, inside the write transaction): the
healed assistant rows (their ``data`` text is the before-image, byte for byte), the ``idle`` row
added at the next seq with an id that sorts after every id of the session, the claim columns of
``session_v2`` (never ``time_updated``) and the seq counter advanced past every seq spent. The
counter is compared too, so any turn v2 ran since the plan conflicts rather than collides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from inspector.core.db.deep import too_deep
from inspector.core.db.eventlog import EventIds
from inspector.core.db.v2.heal import Healed, OpenTurn, heal
from inspector.core.db.v2.rows import is_stuck_tool
from inspector.core.db.v2.turns import V2Turns
from inspector.core.errors import NotWritable
from inspector.core.model import PlanUnit, RowChange
from inspector.core.text import compact_json, printable


def plan_unit(turns: V2Turns, session_ids: Sequence[str], now: int) -> PlanUnit:
    """Close the open turn of each of ``session_ids`` (a session and its subagent children)."""
    shape = turns.shape
    if not shape.writable:
        raise NotWritable(f"ocinspect does not write this OpenCode 2 database: {shape.message()}")
    ids = EventIds("msg")
    changes: list[RowChange] = []
    tools = closed = 0
    for sid in session_ids:
        turn = turns.open_turn(sid)
        if turn is None:
            continue
        with too_deep(f"the open turn of session {sid}"):
            healed = heal(turn, now, _minter(ids, turns.newest_message_id(sid)), turns.claim_column)
            changes += _changes(turns, sid, turn, healed, now)
        tools += healed.tools_healed
        closed += len(healed.messages)
    return PlanUnit(session_ids=tuple(session_ids), changes=tuple(changes), tools=tools, turns=closed)


def _changes(turns: V2Turns, sid: str, turn: OpenTurn, healed: Healed, now: int) -> list[RowChange]:
    if not healed.messages and healed.idle is None:
        return []
    changes: list[RowChange] = []
    old = {m.id: m.data for m in turn.messages}
    for message_id, data in healed.messages:
        image = turns.message_image(message_id)
        if image is None:
            continue
        stored, updated = image
        changes.append(
            RowChange(
                table="session_message",
                row_id=message_id,
                session_id=sid,
                before={"data": stored, "time_updated": updated},
                after={"data": compact_json(data), "time_updated": now},
                summary=_summary(old[message_id]),
            )
        )
    if healed.idle is not None:
        idle = healed.idle
        changes.append(
            RowChange(
                table="session_message",
                row_id=idle.id,
                session_id=sid,
                before={},
                after={
                    "session_id": sid,
                    "type": "idle",
                    "seq": idle.seq,
                    "time_created": idle.time_created,
                    "time_updated": idle.time_created,
                    "data": compact_json(idle.data),
                },
                summary=f"idle row added at seq {idle.seq}: the turn ends interrupted",
                absent=True,
            )
        )
    if healed.session:
        claim = RowChange("session_v2", sid, sid, {}, dict(healed.session), "")
        before = turns.current_image(claim, healed.session) or {}
        changes.append(
            RowChange(
                table="session_v2",
                row_id=sid,
                session_id=sid,
                before=before,
                after=dict(healed.session),
                summary="session: execution claim released, resume attempts 0, last outcome interrupted",
            )
        )
    counter = turns.counter(sid)
    if counter != healed.counter:
        changes.append(
            RowChange(
                table="event_sequence",
                row_id=sid,
                session_id=sid,
                before={} if counter is None else {"seq": counter},
                after={"seq": healed.counter},
                summary=f"seq counter: {counter} → {healed.counter}",
                absent=counter is None,
            )
        )
    return changes


def _summary(data: Mapping[str, Any]) -> str:
    content = data.get("content")
    names = [
        printable(str(item.get("name") or "?"), single_line=True)
        for item in (content if isinstance(content, list) else [])
        if is_stuck_tool(item)
    ]
    if not names:
        return "assistant turn: unfinished → completed"
    return f"assistant turn: {', '.join(names)} tool → error (Tool execution interrupted), turn completed"


def _minter(ids: EventIds, newest: str | None) -> Callable[[int], str]:
    """``msg_`` ids that sort after ``newest`` (a session's ids ascend with its rows)."""
    floor = _millisecond(newest) + 1 if newest is not None else 0

    def mint(now: int) -> str:
        return ids.next(max(now, floor))

    return mint


def _millisecond(message_id: str) -> int:
    """The millisecond an OpenCode id was minted at (-1 when it is not one of its ids)."""
    try:
        return int(message_id[4:16], 16) >> 12 if message_id.startswith("msg_") else -1
    except ValueError:
        return -1

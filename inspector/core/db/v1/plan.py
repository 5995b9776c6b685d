"""The rows a v1 repair writes: the shape OpenCode 1.x's processor writes when a turn is aborted.

Stuck tool parts become ``error`` / "Tool execution aborted" with ``metadata.interrupted``;
unfinished assistant messages get ``time.completed`` and a ``MessageAbortedError``; a compacting
mark left by a crash is cleared. A tool is never marked ``completed``: a fake output would poison
what the model reads next.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from typing import Any

from inspector.core.db.deep import too_deep
from inspector.core.db.reads.repair import RepairReads, RowImage
from inspector.core.model import ChangeTable, Diagnosis, PlanUnit, RowChange
from inspector.core.text import compact_json, printable

ABORT_ERROR = "Tool execution aborted"
MESSAGE_ERROR = {"name": "MessageAbortedError", "data": {"message": "Aborted"}}


def repaired_part(data: dict[str, Any], now: int) -> dict[str, Any]:
    """A stuck tool part as OpenCode writes it on abort: error, input and start kept."""
    state: dict[str, Any] = data["state"] if isinstance(data.get("state"), dict) else {}
    metadata: dict[str, Any] = state["metadata"] if isinstance(state.get("metadata"), dict) else {}
    started = (state.get("time") or {}).get("start") if isinstance(state.get("time"), dict) else None
    new = copy.deepcopy(data)
    new["state"] = {
        "status": "error",
        "input": state.get("input") if isinstance(state.get("input"), dict) else {},
        "error": ABORT_ERROR,
        "metadata": {**metadata, "interrupted": True},
        "time": {"start": started if isinstance(started, int) else now, "end": now},
    }
    return new


def repaired_message(data: dict[str, Any], now: int) -> dict[str, Any]:
    """An unfinished assistant message closed as aborted (an existing error is kept)."""
    new = copy.deepcopy(data)
    when: dict[str, Any] = new["time"] if isinstance(new.get("time"), dict) else {}
    new["time"] = {**when, "completed": now}
    if not new.get("error"):
        new["error"] = copy.deepcopy(MESSAGE_ERROR)
    return new


def plan_unit(reads: RepairReads, chain: Sequence[Diagnosis], now: int) -> PlanUnit:
    """The row changes that close every stuck row the diagnoses of ``chain`` found."""
    changes: list[RowChange] = []
    part_ids = [p.id for d in chain for p in d.stuck_parts]
    message_ids = [m.id for d in chain for m in d.unfinished_messages]
    compacting = [d.id for d in chain if d.session.time_compacting is not None and "compaction" in d.patterns]
    images = reads.before_images(part_ids, message_ids, compacting)
    for row in images.tools:
        with too_deep(f"part {row.id} (session {row.session_id})"):
            data = json.loads(row.data)
            state = data.get("state") or {}
            if state.get("status") in ("pending", "running"):
                tool = printable(data.get("tool", "?"), single_line=True)
                summary = f"{tool} tool: {state.get('status')} → error (Tool execution aborted)"
                changes.append(_data_change("part", row, repaired_part(data, now), now, summary, row.message_id))
    for row in images.turns:
        with too_deep(f"message {row.id} (session {row.session_id})"):
            data = json.loads(row.data)
            if (data.get("time") or {}).get("completed") is None:
                summary = "assistant turn: unfinished → completed (MessageAbortedError)"
                changes.append(_data_change("message", row, repaired_message(data, now), now, summary))
    for session in images.sessions:
        if session.time_compacting is None:
            continue
        changes.append(
            RowChange(
                table="session",
                row_id=session.id,
                session_id=session.id,
                before={"time_compacting": session.time_compacting, "time_updated": session.time_updated},
                after={"time_compacting": None, "time_updated": now},
                summary="session: compacting mark cleared",
            )
        )
    return PlanUnit(session_ids=tuple(d.id for d in chain), changes=tuple(changes))


def _data_change(
    table: ChangeTable, row: RowImage, new_data: dict[str, Any], now: int, summary: str, message_id: str | None = None
) -> RowChange:
    return RowChange(
        table=table,
        row_id=row.id,
        session_id=row.session_id,
        before={"data": row.data, "time_updated": row.time_updated},
        after={"data": compact_json(new_data), "time_updated": now},
        summary=summary,
        message_id=message_id,
    )

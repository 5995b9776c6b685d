"""The stuck turn of one session, step by step, as the report needs it (raw: ``build`` redacts).

SEAM (issue 20 §1): ``inspector/core/diagnose/timeline.py`` (branch ``timeline``) builds the
full story of a turn for ``show --timeline`` and the TUI. Until it is merged this is a minimal
reader of its own; ``build.build_report`` takes the reader as a parameter (``turn_reader``), so
the merge swaps in an adapter from that timeline to :class:`Step` and deletes this file.

Indexes only (``message_session_time_created_id_idx``, then ``part_message_id_id_idx``); large
texts come back as a head or tail and a length, never whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.core.db import queries as q
from inspector.core.db.store import Store

HEAD = 400  # characters of a text kept (only shown with --include-content)
TAIL = 800  # characters of a tool output's end kept
RECENT = 12  # newest messages read to find the turn


@dataclass(frozen=True)
class Step:
    """One event of the turn: a message (``user``/``assistant``) or one of its parts."""

    kind: str  # user, assistant, or the part's type (tool, text, reasoning, step-start, …)
    time: int | None
    message_id: str
    part_id: str | None = None
    tool: Any = None
    status: Any = None
    started: int | None = None
    ended: int | None = None
    text: str | None = None  # the head of a text/reasoning part, a tool's input, a prompt
    text_length: int | None = None
    command_length: int | None = None  # bash: the command's length
    output: str | None = None  # the tail of a tool's output
    output_length: int | None = None
    error: str | None = None
    error_length: int | None = None
    error_name: Any = None
    tokens: Any = None
    cost: Any = None
    finish: Any = None
    model: Any = None
    provider: Any = None
    agent: Any = None
    completed: int | None = None
    child_session: Any = None
    stuck: bool = False
    corrupt: bool = False


TurnReader = Callable[[Store, str], Sequence[Step]]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def stuck_turn(store: Store, session_id: str) -> tuple[Step, ...]:
    """From the user prompt that started the newest unfinished turn (else the newest turn) to
    the newest part; the stuck steps (unfinished message, pending/running tool) are marked."""
    with store.read() as conn:
        messages = list(conn.execute(q.REPORT_MESSAGES, {"sid": session_id, "limit": RECENT, "head": HEAD}))
        messages.reverse()  # oldest first
        if not messages:
            return ()
        unfinished = [i for i, m in enumerate(messages) if m.role == "assistant" and m.completed is None]
        anchor = unfinished[0] if unfinished else len(messages) - 1
        start = next((i for i in range(anchor, -1, -1) if messages[i].role == "user"), 0)
        chosen = messages[start:]
        parts = list(conn.execute(q.REPORT_PARTS, {"ids": [m.id for m in chosen], "head": HEAD, "tail": TAIL}))
    by_message: dict[str, list[Any]] = {}
    for part in parts:
        by_message.setdefault(part.message_id, []).append(part)
    steps: list[Step] = []
    for m in chosen:
        role = m.role if m.role in ("user", "assistant") else "message"
        steps.append(Step(
            kind=role, time=_int(m.time_created), message_id=m.id, completed=_int(m.completed),
            error_name=m.error_name, error=m.error_head, error_length=_int(m.error_len),
            tokens=_json(m.tokens), cost=m.cost, finish=m.finish, model=m.model_id, provider=m.provider_id,
            agent=m.agent, stuck=role == "assistant" and m.completed is None, corrupt=not m.ok,
        ))
        for p in sorted(by_message.get(m.id, ()), key=lambda r: (r.time_created or 0, r.id)):
            steps.append(Step(
                kind=p.type if isinstance(p.type, str) else "part", time=_int(p.time_created), message_id=m.id,
                part_id=p.id, tool=p.tool, status=p.status, started=_int(p.started), ended=_int(p.ended),
                text=p.text_head if p.text_head is not None else p.input_head,
                text_length=_int(p.text_len) if p.text_len is not None else _int(p.input_len),
                command_length=_int(p.command_len), output=p.output_tail, output_length=_int(p.output_len),
                error=p.error_head, error_length=_int(p.error_len), tokens=_json(p.tokens), cost=p.cost,
                finish=p.reason, child_session=p.child, stuck=p.status in ("pending", "running"),
                corrupt=not p.ok,
            ))
    return tuple(steps)

"""What a live OpenCode says about a busy session, in words: its status and what it asks a person.

OpenCode's status object (``busy``, or ``retry`` with attempt, message and next try) and its
pending permissions/questions are data from the server: every text here is built from them and
must be rendered escaped (``render.line``, the TUI's ``one_line``), never as markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from inspector.core.model import Part, PendingRequest, ServerStatus
from inspector.core.text import humanize_ms, local_time, shorten

_ACTIVE = ("pending", "running")


def status_words(status: ServerStatus | None, now: int) -> str:
    """``retrying, attempt 4: The model is overloaded; next try in 16s`` (or ``busy``)."""
    if status is None:
        return ""
    if status.type != "retry":
        return status.type
    words = "retrying" + (f", attempt {status.attempt}" if status.attempt is not None else "")
    if status.message:
        words += f": {shorten(status.message, 120)}"
    if status.next is not None:
        words += f"; next try in {humanize_ms(max(0, status.next - now))}"
    return words


def request_words(request: PendingRequest) -> str:
    """``bash wants to run "echo ok"`` / ``question: "Deploy?"`` / ``edit wants: src/a.py``."""
    if request.kind == "question":
        return f'question: "{shorten(request.question, 120)}"' if request.question else "a question"
    what = request.permission or "a tool"
    if request.command:
        return f'{what} wants to run "{shorten(request.command, 120)}"'
    if request.patterns:
        return f"{what} wants: {shorten(', '.join(request.patterns), 120)}"
    return f"{what} asks for permission"


def request_since(request: PendingRequest, parts: Iterable[Part]) -> int | None:
    """When it was asked: the request's own time if the server sent one, else the start of the
    tool call waiting on it (matched by call id, else the newest running tool of the session)."""
    if request.since is not None:
        return request.since
    mine = [p for p in parts if p.session_id == request.session_id and p.status in _ACTIVE]
    match = [p for p in mine if request.call_id and p.call_id == request.call_id]
    chosen = match or sorted(mine, key=lambda p: (p.started or p.time_created, p.id))[-1:]
    return (chosen[0].started or chosen[0].time_created) if chosen else None


def with_since(requests: Sequence[PendingRequest], parts: Iterable[Part]) -> tuple[PendingRequest, ...]:
    """The requests with ``since`` filled in from their tool parts where the server sent none."""
    parts = list(parts)
    return tuple(r if r.since is not None else replace(r, since=request_since(r, parts)) for r in requests)


def waiting_reason(requests: Sequence[PendingRequest], now: int) -> str:
    """``waiting for your answer: bash wants to run "echo ok" (asked 20m ago, 2026-… UTC); …``."""
    if not requests:
        return "waiting for your answer (permission or question): not hung"
    said = []
    for request in requests[:3]:
        when = (
            f" (asked {humanize_ms(now - request.since)} ago, {local_time(request.since)})"
            if request.since is not None
            else ""
        )
        where = f" in {request.session_id}" if len(requests) > 1 else ""
        said.append(f"{request_words(request)}{where}{when}")
    more = f"; and {len(requests) - 3} more" if len(requests) > 3 else ""
    return "waiting for your answer: " + "; ".join(said) + more + "; not hung"

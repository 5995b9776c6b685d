"""Answer a permission or question a live OpenCode waits on, through the server that holds it.

A session blocked on a prompt nobody sees (no client renders it, or nobody is there) stays busy
forever. It is live, so its rows are never written: the way out is the answer a person would
give in OpenCode's own UI. Measured on 1.18.33 (``GET /doc`` and a ``permission.bash = "ask"``
run): ``POST /permission/{id}/reply`` ``{"reply": "reject"}`` (the deprecated
``POST /session/{sid}/permissions/{id}`` ``{"response": …}`` where the first is missing) makes
OpenCode close the waiting tool as ``error`` "The user rejected permission to use this specific
tool call.", finish the turn and go idle at once; ``POST /question/{id}/reject`` dismisses a
question. ``once`` lets the tool run (only ever when a person asked for it, per session).

OpenCode 2 answers through its own routes (``opencode/v2_answers.py``: the reply, or the
question's form dismissed, then an interrupt, because alone v2 ends the turn as a shutdown and
keeps its execution claim); which routes is ``opencode/turn_servers.turn_server``'s choice.

The answer is not its own proof: we wait (bounded) until OpenCode no longer lists the request
and, for a reject, until the waiting tool part left ``pending``/``running`` or the session left
the server's busy list, then re-read the rows; a claim the server kept on a turn it no longer
runs is said, not settled. Nothing here writes to the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from inspector.core.db.store import Store
from inspector.core.model import Answer, Diagnosis, LiveStatus, Part, PendingRequest, ScanResult
from inspector.core.opencode.client import ServerError, ServerHTTPError
from inspector.core.opencode.turn_servers import TurnServer, turn_server
from inspector.core.text import humanize_ms, shorten

SETTLE_TIMEOUT_S = 10.0
POLL_S = 0.2
REJECTED_ERROR = "The user rejected permission to use this specific tool call."


@dataclass(frozen=True)
class AnswerOutcome:
    """What answering one request did. ``sent``: OpenCode took the answer; ``settled``: it then
    let go (reject: the tool closed or the turn ended; once: the request left its list)."""

    request: PendingRequest
    answer: Answer
    sent: bool
    settled: bool
    detail: str
    route: str = ""
    part_status: str | None = None  # the waiting tool part as the rows say after the answer
    elapsed_ms: int = 0


def asked(request: PendingRequest) -> str:
    """What is asked, in a few words: ``bash: echo ok`` or ``question: Deploy?``."""
    if request.kind == "question":
        return f"question: {shorten(request.question or '(no text)', 80)}"
    what = request.command or " ".join(request.patterns) or "(no pattern)"
    return f"{request.permission or 'permission'}: {shorten(what, 80)}"


def answer_line(request: PendingRequest, answer: Answer, now: int) -> str:
    """One line: ``reject bash: echo ok (asked 3m ago)`` (the CLI plan, the TUI dialog, watch)."""
    verb = "allow once" if answer == "once" else "reject"
    return f"{verb} {asked(request)}{asked_ago(request, now)}"


def asked_ago(request: PendingRequest, now: int) -> str:
    return f" (asked {humanize_ms(now - request.since)} ago)" if request.since is not None else ""


def waiting_reason(requests: Sequence[PendingRequest], now: int, via: str | None = None) -> str:
    """Why a waiting session is refused: what it is asked, since when (and which member asks)."""
    asks = "; ".join(f"{asked(r)}{asked_ago(r, now)}" for r in requests)
    who = f" (its subagent {via} asks)" if via else ""
    return f"waiting for a person's answer{who}: {asks} (it is live: never written)"


def with_since(request: PendingRequest, diag: Diagnosis | None) -> PendingRequest:
    """``request`` with ``since`` from its waiting tool part's start when the server sent none."""
    if request.since is not None or diag is None:
        return request
    part = waiting_part_of(request, diag.stuck_parts)
    when = None if part is None else (part.started or part.time_created)
    return replace(request, since=when) if when is not None else request


def pending_of(diag: Diagnosis | None, live: LiveStatus | None) -> tuple[PendingRequest, ...]:
    """What a session waits on: its diagnosis's ``waiting_on``, else what the liveness answer
    lists for it while it is busy (with ``since`` from its waiting tool part)."""
    if diag is None:
        return ()
    found = diag.waiting_on
    if not found and live is not None and diag.id in live.busy:
        found = live.requests_of(diag.id)
    return tuple(with_since(r, diag) for r in found)


def waits(diag: Diagnosis, result: ScanResult) -> bool:
    """Whether ``diag`` (or a subagent under it) waits on a person's answer: a front end offers
    to answer it there (what exactly is answered, :func:`operations.prepare` decides)."""
    live = result.live
    seen: set[str] = set()
    todo = [diag.id]
    while todo:
        sid = todo.pop()
        member = result.get(sid)
        if sid in seen or member is None:
            continue
        seen.add(sid)
        if member.verdict == "waiting" or pending_of(member, live) or (live is not None and sid in live.waiting):
            return True
        todo.extend(member.children)
    return False


def waiting_part_of(request: PendingRequest, parts: Sequence[Part]) -> Part | None:
    """The tool part the request holds up (its message and call id), among ``parts``."""
    for part in parts:
        if (
            request.call_id
            and part.call_id == request.call_id
            and (not request.message_id or part.message_id == request.message_id)
        ):
            return part
    return None


def _waiting_part(store: Store, request: PendingRequest) -> Part | None:
    """The still-open tool part the request holds up, read from the rows (None if unknown)."""
    if not request.message_id or not request.call_id:
        return None
    with store.reading() as reads:
        parts = reads.waiting_tools(request.message_id)
    return waiting_part_of(request, parts)


def _still_waiting(store: Store, part: Part) -> bool:
    """Whether ``part`` is still an open tool of its turn (read by its message: an index)."""
    with store.reading() as reads:
        return any(p.id == part.id for p in reads.waiting_tools(part.message_id))


def _claim_kept(store: Store, session_id: str) -> bool:
    """Whether the rows still hold an execution claim on ``session_id``'s turn (OpenCode 2)."""
    with store.reading() as reads:
        hold = reads.holds([session_id]).get(session_id)
    return hold is not None and hold.claimed_at is not None


def _part_state(store: Store, part_id: str) -> tuple[str | None, str]:
    """(status, error) of one part as the rows hold it now."""
    with store.reading() as reads:
        state = reads.tool_state(part_id)
    return (None, "") if state is None else (state.status, state.error)


def answer_request(  # noqa: C901
    store: Store,
    request: PendingRequest,
    answer: Answer,
    *,
    server: TurnServer | None = None,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AnswerOutcome:
    """Send ``answer`` to the server holding ``request``, then wait (bounded) until OpenCode
    acted on it and re-read the rows; ocinspect writes none of them."""
    started = clock()
    deadline = started + settle_timeout_s
    route = ""

    def outcome(sent: bool, settled: bool, detail: str, status: str | None = None) -> AnswerOutcome:
        return AnswerOutcome(request, answer, sent, settled, detail, route, status, int((clock() - started) * 1000))

    if answer == "once" and request.kind != "permission":
        return outcome(False, False, "a question can only be rejected here (answer it in OpenCode); nothing was sent")
    part = _waiting_part(store, request)
    try:
        reached = server or turn_server(store.path, request.port, schema=store.schema)
        if request.kind == "permission":
            route = reached.reply_permission(request, answer)
        else:
            route = reached.dismiss_question(request)
    except ServerHTTPError as exc:
        if exc.status == 404:
            return outcome(
                False,
                False,
                "OpenCode no longer holds this request (answered elsewhere, or the turn ended); rows left alone",
            )
        return outcome(False, False, f"{exc}; rows left alone")
    except ServerError as exc:
        return outcome(False, False, f"{exc}; rows left alone")

    def wait_until(done: Callable[[], bool]) -> bool:
        while True:
            if done():
                return True
            if clock() >= deadline:
                return False
            sleep(poll_s)

    def listed() -> bool:
        return any(r.id == request.id for r in reached.pending(request.directory))

    def busy() -> bool:
        return request.session_id in reached.busy(request.directory)

    def let_go() -> bool:
        if part is not None and not _still_waiting(store, part):
            return True
        return not busy()

    waited = humanize_ms(int(settle_timeout_s * 1000))
    try:
        if not wait_until(lambda: not listed()):
            return outcome(True, False, f"OpenCode still lists the request after {waited}; rows left alone")
        if answer == "once":
            return outcome(True, True, "allowed once through OpenCode: the tool runs now")
        settled = wait_until(let_go)
        still_busy = busy()
    except ServerError as exc:
        return outcome(True, False, f"answered, but {exc}; rows left alone")
    status, error = _part_state(store, part.id) if part is not None else (None, "")
    tool = f"the {part.tool} part" if part is not None else "the tool"
    if not settled:
        return outcome(True, False, f"answered, but {tool} is still open after {waited}; rows left alone", status)
    closed = f"{tool} → {status}" + (f" ({shorten(error, 80)})" if error else "") if status else "the tool closed"
    if not still_busy and _claim_kept(store, request.session_id):
        return outcome(
            True,
            False,
            (
                f"rejected through OpenCode: {closed}; but it kept its claim on the turn it no longer runs "
                f"(a service boot would re-run it; ocinspect recover {request.session_id} closes it)"
            ),
            status,
        )
    turn = "OpenCode goes on with the turn" if still_busy else "the turn ended, the session is idle"
    return outcome(True, True, f"rejected through OpenCode: {closed}; {turn}", status)


def answer_all(
    store: Store, answers: Sequence[tuple[PendingRequest, Answer]], **kwargs: Any
) -> tuple[AnswerOutcome, ...]:
    """Answer each request in turn (each wait is bounded, so the whole call is too)."""
    return tuple(answer_request(store, request, answer, **kwargs) for request, answer in answers)


__all__ = [
    "REJECTED_ERROR",
    "AnswerOutcome",
    "answer_all",
    "answer_line",
    "answer_request",
    "asked",
    "asked_ago",
    "pending_of",
    "waits",
    "waiting_part_of",
    "waiting_reason",
    "with_since",
]

"""A session's story: its last turns, part by part, up to the point where it stopped.

What the detail screen, ``show --timeline`` and the upstream report show of a stuck session:
the prompt that started each turn, what the model said and thought (first lines), every tool
call (status, times, input summary, the *tail* of its output), step boundaries with tokens and
cost, errors, and a ``Stop`` that says where and why the story ends. The messages and their
entries come from ``JudgeReads.story`` (one read per session through two indexes, large rows
reduced inside the database, so opening a story costs milliseconds on any database size);
this module orders them into turns, links subagents and finds the stop. ``part_detail``
fetches one part whole (capped) when a person asks for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from inspector.core.db.reads import Reads
from inspector.core.db.reads.judge import (
    DETAIL_CAP,
    INPUT_LIMIT,
    MAX_MESSAGES,
    OUTPUT_TAIL,
    SCAN_MESSAGES,
    SMALL_ROW,
    STUCK_STATUSES,
    TEXT_HEAD,
    Entry,
    EntryKind,
    JudgeReads,
    PartDetail,
    Tokens,
    TurnMessage,
)
from inspector.core.db.store import Store
from inspector.core.diagnose.children import infer_children
from inspector.core.errors import SessionNotFound
from inspector.core.model import Part, Session
from inspector.core.text import now_ms

__all__ = [
    "DEFAULT_TURNS",
    "DETAIL_CAP",
    "INPUT_LIMIT",
    "MAX_CHAIN",
    "MAX_MESSAGES",
    "MAX_TURNS",
    "OUTPUT_TAIL",
    "SCAN_MESSAGES",
    "SMALL_ROW",
    "STUCK_STATUSES",
    "TEXT_HEAD",
    "Entry",
    "EntryKind",
    "PartDetail",
    "SessionTimeline",
    "Stop",
    "StopKind",
    "Timeline",
    "Tokens",
    "Turn",
    "TurnMessage",
    "part_detail",
    "read_timeline",
    "session_timeline",
]

DEFAULT_TURNS = 3
MAX_TURNS = 50
MAX_CHAIN = 8  # sessions of one subagent chain

StopKind = Literal["tool", "message", "no-reply"]


@dataclass(frozen=True)
class Turn:
    """A prompt and the replies to it (``prompt`` None: the turn began before the window)."""

    prompt: TurnMessage | None
    replies: tuple[TurnMessage, ...] = ()

    @property
    def messages(self) -> tuple[TurnMessage, ...]:
        return ((self.prompt,) if self.prompt else ()) + self.replies


@dataclass(frozen=True)
class Stop:
    """Where a session's story ends without an answer, and why (None on a ``SessionTimeline``
    whose last turn finished)."""

    kind: StopKind  # tool: left pending/running; message: a reply never finished; no-reply
    message_id: str
    part_ids: tuple[str, ...] = ()  # the stuck tool parts
    since: int | None = None  # ms: when the stuck part started / the message was created
    reason: str = ""


@dataclass(frozen=True)
class SessionTimeline:
    """One session's last turns. ``depth`` is its place in the subagent chain (0: the root
    shown); ``parent_part_id`` the task part of the parent that started it."""

    session: Session
    turns: tuple[Turn, ...]
    stop: Stop | None
    truncated: bool = False  # older messages of the first turn were left out
    depth: int = 0
    parent_part_id: str | None = None

    @property
    def messages(self) -> tuple[TurnMessage, ...]:
        return tuple(m for turn in self.turns for m in turn.messages)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(e for m in self.messages for e in m.entries)


@dataclass(frozen=True)
class Timeline:
    """The story of ``session_id`` and of each member of its subagent chain (tree order)."""

    session_id: str
    sessions: tuple[SessionTimeline, ...]
    read_at: int  # ms: when it was read (running tools' "for how long" is relative to it)
    turns: int = DEFAULT_TURNS

    def get(self, session_id: str) -> SessionTimeline | None:
        return next((s for s in self.sessions if s.session.id == session_id), None)

    @property
    def main(self) -> SessionTimeline:
        found = self.get(self.session_id)
        assert found is not None
        return found


# -- reading -------------------------------------------------------------------------------


def read_timeline(
    store: Store, session_id: str, *, turns: int = DEFAULT_TURNS, chain: bool = True, now: int | None = None
) -> Timeline:
    """The last ``turns`` turns of ``session_id`` (and, with ``chain``, of its parent that
    waits on it and the subagents its stuck task calls wait on), in one read snapshot."""
    store.require_readable()
    turns = max(1, min(int(turns), MAX_TURNS))
    with store.reading() as reads:
        root = _session(reads, session_id)
        if root is None:
            raise SessionNotFound(f"no session {session_id} in {store.path}")
        main = session_timeline(reads, root, turns=turns)
        members = _chain(reads, main, turns) if chain else [main]
    return Timeline(
        session_id=session_id, sessions=tuple(members), read_at=now_ms() if now is None else now, turns=turns
    )


def session_timeline(reads: JudgeReads, session: Session, *, turns: int = DEFAULT_TURNS) -> SessionTimeline:
    """One session's story, read through its two indexes."""
    story = reads.story(session.id, turns)
    messages = list(story.messages)
    entries = _link_children(reads, session, [e for m in messages for e in m.entries])
    messages = [replace(m, entries=tuple(entries[e.id] for e in m.entries)) for m in messages]
    return SessionTimeline(session=session, turns=_turns(messages), stop=_stop(messages), truncated=story.truncated)


def part_detail(store: Store, part_id: str) -> PartDetail | None:
    """One part whole, for the pager (None if it is gone)."""
    store.require_readable()
    with store.reading() as reads:
        return reads.part_detail(part_id)


def _session(reads: Reads, session_id: str) -> Session | None:
    return reads.sessions([session_id]).get(session_id)


def _link_children(reads: JudgeReads, session: Session, entries: list[Entry]) -> dict[str, Entry]:
    """Stuck task calls that name no subagent (OpenCode 1.2/1.3): link them as the scan does."""
    linked = {e.id: e for e in entries}
    unlinked = {
        e.id: Part(
            id=e.id,
            message_id=e.message_id,
            session_id=session.id,
            tool="task",
            status=e.status or "",
            call_id=e.call_id,
            started=e.start,
            time_created=e.time_created,
            input_summary=e.input_summary,
        )
        for e in entries
        if e.tool == "task" and e.stuck and e.child_session_id is None
    }
    if unlinked:
        for pid, part in infer_children(reads, unlinked).items():
            if part.child_session_id:
                linked[pid] = replace(linked[pid], child_session_id=part.child_session_id, child_inferred=True)
    return linked


def _turns(messages: list[TurnMessage]) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    prompt: TurnMessage | None = None
    replies: list[TurnMessage] = []
    for message in messages:
        if message.role == "user":
            if prompt is not None or replies:
                turns.append(Turn(prompt, tuple(replies)))
            prompt, replies = message, []
        else:
            replies.append(message)
    if prompt is not None or replies:
        turns.append(Turn(prompt, tuple(replies)))
    return tuple(turns)


def _stop(messages: list[TurnMessage]) -> Stop | None:
    """Where the story ends unanswered: a reply never finished (at its stuck tools if it has
    any), tools left pending/running in a finished turn, or a last prompt with no reply.
    ``part_ids`` names every stuck tool of the window."""
    if not messages:
        return None
    last = messages[-1]
    stuck = [e for m in messages for e in m.entries if e.stuck]
    ids = tuple(e.id for e in stuck)
    if last.unfinished:
        own = [e for e in last.entries if e.stuck]
        if own:
            return Stop(kind="tool", message_id=last.id, part_ids=ids, since=_since(own), reason=_tool_reason(own))
        return Stop(
            kind="message",
            message_id=last.id,
            part_ids=ids,
            since=last.time_created,
            reason="the reply was never finished: nothing after its last part was written",
        )
    if stuck:
        return Stop(
            kind="tool",
            message_id=stuck[-1].message_id,
            part_ids=ids,
            since=_since(stuck),
            reason=_tool_reason(stuck) + " (inside a turn that was marked finished)",
        )
    if last.role == "user":
        return Stop(
            kind="no-reply",
            message_id=last.id,
            since=last.time_created,
            reason="no reply was written to the last prompt",
        )
    return None


def _since(stuck: list[Entry]) -> int:
    return min((e.start or e.time_created) for e in stuck)


def _tool_reason(stuck: list[Entry]) -> str:
    tools = ", ".join(dict.fromkeys(e.tool or "?" for e in stuck))
    statuses = "/".join(dict.fromkeys(e.status or "?" for e in stuck))
    waiting = (
        "the model was still streaming its arguments"
        if all(e.status == "pending" for e in stuck)
        else "no result was ever written"
    )
    return f"{tools} left {statuses}: {waiting}"


def _chain(reads: Reads, main: SessionTimeline, turns: int) -> list[SessionTimeline]:
    """``main`` with the parents whose task calls started it (root first) and the subagents its
    stuck task calls wait on (depth first), ``MAX_CHAIN`` sessions at most."""
    seen = {main.session.id}
    up: list[SessionTimeline] = []  # the nearest parent first
    links: dict[str, str] = {}  # session -> the parent's task part that started it
    child = main
    while child.session.parent_id and child.session.parent_id not in seen and len(seen) < MAX_CHAIN:
        parent = _session(reads, child.session.parent_id)
        if parent is None:
            break
        story = session_timeline(reads, parent, turns=turns)
        link = next((e for e in story.entries if e.child_session_id == child.session.id), None)
        if link is None:
            break
        links[child.session.id] = link.id
        seen.add(parent.id)
        up.append(story)
        child = story
    members = [replace(s, depth=i, parent_part_id=links.get(s.session.id)) for i, s in enumerate([*reversed(up), main])]
    _descend(reads, members, members[-1], turns, seen)
    return members


def _descend(
    reads: Reads,
    members: list[SessionTimeline],
    story: SessionTimeline,
    turns: int,
    seen: set[str],
) -> None:
    """Append the subagents ``story``'s stuck task calls wait on, depth first (a stack, not recursion)."""
    stack = [iter(_stuck_tasks(story.entries))]
    depths = [story.depth]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            depths.pop()
            continue
        sid = entry.child_session_id
        if sid is None or sid in seen or len(members) >= MAX_CHAIN:
            continue
        child = _session(reads, sid)
        if child is None:
            continue
        seen.add(sid)
        sub = replace(session_timeline(reads, child, turns=turns), depth=depths[-1] + 1, parent_part_id=entry.id)
        members.append(sub)
        stack.append(iter(_stuck_tasks(sub.entries)))
        depths.append(sub.depth)


def _stuck_tasks(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.tool == "task" and e.stuck and e.child_session_id]

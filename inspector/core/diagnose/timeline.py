"""A session's story: its last turns, part by part, up to the point where it stopped.

What the detail screen, ``show --timeline`` and the upstream report show of a stuck session:
the prompt that started each turn, what the model said and thought (first lines), every tool
call (status, times, input summary, the *tail* of its output), step boundaries with tokens and
cost, errors, and a ``Stop`` that says where and why the story ends. One read per session
through ``message_session_time_created_id_idx`` and ``part_message_id_id_idx`` only; rows with
large ``data`` are reduced inside SQLite (``queries.TIMELINE_LARGE_*``), so opening the story
of a session costs milliseconds on any database size. ``part_detail`` fetches one part whole
(capped) when a person asks for it.

Fields keep the database's text exactly (``input_summary`` excepted, a rendering like
``rows.part_from_row``'s); renderers pass every text through ``text.printable``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, cast, get_args

from sqlalchemy.engine import Connection

from inspector.core.db.rows import chunks, session_from_row
from inspector.core.db.store import Store
from inspector.core.db.v1 import sql as q
from inspector.core.diagnose.children import infer_children
from inspector.core.errors import SessionNotFound
from inspector.core.model import Part, Session
from inspector.core.text import compact_json, input_summary, now_ms

DEFAULT_TURNS = 3
MAX_TURNS = 50
SCAN_MESSAGES = 2000  # the newest messages searched for turn starts
MAX_MESSAGES = 300  # messages shown per session (the newest); older ones: ``truncated``
MAX_CHAIN = 8  # sessions of one subagent chain
SMALL_ROW = 16_000  # characters of ``data`` fetched whole; larger rows are reduced in SQLite
TEXT_HEAD = 600  # characters of a text/reasoning part, an error
OUTPUT_TAIL = 2000  # characters at the end of a tool's output
INPUT_LIMIT = 4000  # a tool input longer than this is summarised from its keys only
DETAIL_CAP = 1_000_000  # characters of one part's input/output/text in ``part_detail``

STUCK_STATUSES = ("pending", "running")

EntryKind = Literal[
    "text",
    "reasoning",
    "tool",
    "step-start",
    "step-finish",
    "retry",
    "compaction",
    "patch",
    "file",
    "agent",
    "subtask",
    "snapshot",
    "other",
    "corrupt",
]
StopKind = Literal["tool", "message", "no-reply"]
_KINDS = frozenset(get_args(EntryKind))


@dataclass(frozen=True)
class Tokens:
    """What a step (or a message) cost in tokens, as OpenCode recorded it."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.reasoning + self.cache_read + self.cache_write


@dataclass(frozen=True)
class Entry:
    """One part of a message, reduced to what the story shows."""

    id: str
    message_id: str
    kind: EntryKind
    time_created: int
    start: int | None = None
    end: int | None = None
    text: str = ""  # text/reasoning: the head; subtask/agent/file: its name or description
    text_chars: int = 0  # the whole text's length
    tool: str | None = None
    status: str | None = None  # tools: pending/running/completed/error
    call_id: str | None = None
    title: str | None = None
    input_summary: str = ""
    input_chars: int = 0
    input_head: str = ""  # the input as compact JSON, its first TEXT_HEAD characters (the report)
    command_chars: int | None = None  # a tool input's ``command``: its length (the report's shape)
    output_tail: str = ""  # the last OUTPUT_TAIL characters of the output
    output_chars: int = 0  # the whole output's length
    error: str = ""  # a tool's error, a retry's error message (its head)
    error_chars: int = 0  # the whole error's length
    reason: str | None = None  # step-finish: why the step ended (stop, tool-calls, length…)
    tokens: Tokens | None = None
    cost: float | None = None
    attempt: int | None = None  # retry
    child_session_id: str | None = None  # task: the subagent session
    child_inferred: bool = False  # the child was found by parent_id and time (1.2/1.3)
    interrupted: bool = False  # metadata.interrupted: a repair (or OpenCode's abort) ended it
    stuck: bool = False  # a tool left pending/running: where the story stopped

    @property
    def duration_ms(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return max(0, self.end - self.start)

    @property
    def output_truncated(self) -> bool:
        return self.output_chars > len(self.output_tail)

    def first_lines(self, count: int = 3) -> list[str]:
        """The first ``count`` non-empty lines of ``text``."""
        return [line for line in self.text.splitlines() if line.strip()][:count]


@dataclass(frozen=True)
class TurnMessage:
    """A user prompt or an assistant reply, with its parts in order."""

    id: str
    role: str
    time_created: int
    completed: int | None = None
    agent: str | None = None
    model: str | None = None
    provider: str | None = None
    finish: str | None = None
    error_name: str | None = None
    error_message: str = ""  # its head
    error_chars: int = 0  # the whole message's length
    cost: float | None = None
    tokens: Tokens | None = None
    is_summary: bool = False
    corrupt: bool = False
    entries: tuple[Entry, ...] = ()

    @property
    def unfinished(self) -> bool:
        """An assistant reply OpenCode never finished (no ``time.completed``)."""
        return self.role == "assistant" and self.completed is None and not self.corrupt

    @property
    def prompt_text(self) -> str:
        """A user message's words: its text parts, joined."""
        return "\n".join(e.text for e in self.entries if e.kind == "text" and e.text)


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


@dataclass(frozen=True)
class PartDetail:
    """One part whole (each text capped at ``DETAIL_CAP`` characters; the output's tail)."""

    id: str
    message_id: str
    session_id: str
    kind: str
    tool: str | None
    status: str | None
    title: str | None
    input_json: str  # pretty JSON when whole, else the raw head
    input_chars: int
    output: str
    output_chars: int
    error: str
    text: str
    text_chars: int
    corrupt: bool = False


# -- reading -------------------------------------------------------------------------------


def read_timeline(
    store: Store, session_id: str, *, turns: int = DEFAULT_TURNS, chain: bool = True, now: int | None = None
) -> Timeline:
    """The last ``turns`` turns of ``session_id`` (and, with ``chain``, of its parent that
    waits on it and the subagents its stuck task calls wait on), in one read snapshot."""
    store.require_v1()
    turns = max(1, min(int(turns), MAX_TURNS))
    with store.read() as conn:
        columns = q.session_columns(store.session_columns)
        root = _session(conn, columns, session_id)
        if root is None:
            raise SessionNotFound(f"no session {session_id} in {store.path}")
        main = session_timeline(conn, root, turns=turns)
        members = _chain(conn, columns, main, turns) if chain else [main]
    return Timeline(
        session_id=session_id, sessions=tuple(members), read_at=now_ms() if now is None else now, turns=turns
    )


def session_timeline(conn: Connection, session: Session, *, turns: int = DEFAULT_TURNS) -> SessionTimeline:
    """One session's story, read through its two indexes."""
    prompts = list(conn.execute(q.TIMELINE_PROMPTS, {"sid": session.id, "scan": SCAN_MESSAGES, "turns": turns}))
    bound = (int(prompts[-1].time_created), prompts[-1].id) if prompts else (-(2**62), "")
    rows = list(
        conn.execute(
            q.TIMELINE_MESSAGES,
            {"sid": session.id, "t": bound[0], "id": bound[1], "small": SMALL_ROW, "limit": MAX_MESSAGES + 1},
        )
    )
    truncated = len(rows) > MAX_MESSAGES
    rows = list(reversed(rows[:MAX_MESSAGES]))
    large = {
        r.id: r for r in _rows(conn, q.TIMELINE_LARGE_MESSAGES, [r.id for r in rows if r.data is None], head=TEXT_HEAD)
    }
    parts = _read_parts(conn, [r.id for r in rows])
    messages = [_message(r, large.get(r.id), parts.get(r.id, [])) for r in rows]
    entries = _link_children(conn, session, [e for m in messages for e in m.entries])
    messages = [replace(m, entries=tuple(entries[e.id] for e in m.entries)) for m in messages]
    return SessionTimeline(session=session, turns=_turns(messages), stop=_stop(messages), truncated=truncated)


def part_detail(store: Store, part_id: str) -> PartDetail | None:
    """One part whole, for the pager (None if it is gone)."""
    store.require_v1()
    with store.read() as conn:
        row = conn.execute(q.TIMELINE_PART_DETAIL, {"id": part_id, "cap": DETAIL_CAP}).first()
    if row is None:
        return None
    input_json = row.input or ""
    if input_json and (row.input_chars or 0) <= DETAIL_CAP:
        try:
            input_json = json.dumps(json.loads(input_json), ensure_ascii=False, indent=2)
        except ValueError:
            pass
    return PartDetail(
        id=row.id,
        message_id=row.message_id,
        session_id=row.session_id,
        kind=str(row.type or ("corrupt" if not row.ok else "other")),
        tool=row.tool,
        status=row.status,
        title=row.title,
        input_json=input_json,
        input_chars=int(row.input_chars or 0),
        output=row.output if isinstance(row.output, str) else "",
        output_chars=int(row.output_chars or 0),
        error=row.error if isinstance(row.error, str) else "",
        text=row.text if isinstance(row.text, str) else "",
        text_chars=int(row.text_chars or 0),
        corrupt=not row.ok,
    )


def _session(conn: Connection, columns: list[str], session_id: str) -> Session | None:
    row = conn.execute(q.sessions_by_id(columns), {"ids": [session_id]}).first()
    return session_from_row(row) if row is not None else None


def _rows(conn: Connection, query: Any, ids: Sequence[str], **params: Any) -> list[Any]:
    found: list[Any] = []
    for chunk in chunks(list(ids)):
        found.extend(conn.execute(query, {"ids": chunk, **params}))
    return found


def _read_parts(conn: Connection, message_ids: Sequence[str]) -> dict[str, list[Entry]]:
    rows = _rows(conn, q.TIMELINE_PARTS, message_ids, small=SMALL_ROW)
    large = {
        r.id: r
        for r in _rows(
            conn,
            q.TIMELINE_LARGE_PARTS,
            [r.id for r in rows if r.data is None],
            head=TEXT_HEAD,
            tail=OUTPUT_TAIL,
            input_limit=INPUT_LIMIT,
        )
    }
    by_message: dict[str, list[Entry]] = {}
    for row in sorted(rows, key=lambda r: (int(r.time_created), r.id)):
        by_message.setdefault(row.message_id, []).append(_part(row, large.get(row.id)))
    return by_message


def _loads(text: str | None) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tokens(value: Any) -> Tokens | None:
    if not isinstance(value, dict):
        return None
    cache = _obj(value.get("cache"))
    return Tokens(
        *(
            _int(v) or 0
            for v in (
                value.get("input"),
                value.get("output"),
                value.get("reasoning"),
                cache.get("read"),
                cache.get("write"),
            )
        )
    )


def _cost(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _part(row: Any, large: Any) -> Entry:
    """An ``Entry`` from a whole row, or from the reduced object SQLite built for a large one."""
    data = _loads(row.data if large is None else (large.data if large.ok else None))
    if data is None:
        return Entry(id=row.id, message_id=row.message_id, kind="corrupt", time_created=int(row.time_created))
    kind = str(data.get("type") or "other")
    state, when = _obj(data.get("state")), _obj(data.get("time"))
    text: str = data["text"] if isinstance(data.get("text"), str) else ""
    metadata = _obj(state.get("metadata"))
    raw_output = state.get("output") if isinstance(state.get("output"), str) else metadata.get("output")
    output: str = raw_output if isinstance(raw_output, str) else ""
    tool_input = state.get("input")
    tool = _str(data.get("tool"))
    error: str = state["error"] if isinstance(state.get("error"), str) else ""
    if kind == "retry":
        error = str(
            _obj(_obj(data.get("error")).get("data")).get("message") or _obj(data.get("error")).get("name") or ""
        )
    tool_time = _obj(state.get("time"))
    input_json = compact_json(tool_input) if kind == "tool" and tool_input else ""
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    label = {"subtask": data.get("description"), "agent": data.get("name"), "file": data.get("filename")}.get(kind)
    files = data.get("files")
    if kind == "patch":
        label = f"{files if isinstance(files, int) else len(files) if isinstance(files, list) else 0} file(s)"
    child = metadata.get("sessionId") if tool == "task" else None
    return Entry(
        id=row.id,
        message_id=row.message_id,
        kind=cast(EntryKind, kind if kind in _KINDS else "other"),
        time_created=int(row.time_created),
        start=_int(tool_time.get("start")) if kind == "tool" else _int(when.get("start")) or _int(when.get("created")),
        end=_int(tool_time.get("end")) if kind == "tool" else _int(when.get("end")),
        text=(text[:TEXT_HEAD] if text else str(label or "")),
        text_chars=(int(large.text_chars or 0) if large is not None else len(text)),
        tool=tool,
        status=_str(state.get("status")) if kind == "tool" else None,
        call_id=_str(data.get("callID")),
        title=_str(state.get("title")),
        input_summary=input_summary(tool or "", tool_input) if kind == "tool" else "",
        input_chars=(int(large.input_chars or 0) if large is not None else len(input_json)),
        input_head=input_json[:TEXT_HEAD],
        command_chars=(
            _int(large.command_chars) if large is not None else len(command) if isinstance(command, str) else None
        ),
        output_tail=output[-OUTPUT_TAIL:],
        output_chars=int(large.output_chars or 0) if large is not None else len(output),
        error=error[:TEXT_HEAD],
        error_chars=(int(large.error_chars or 0) or len(error)) if large is not None else len(error),
        reason=_str(data.get("reason")),
        tokens=_tokens(data.get("tokens")),
        cost=_cost(data.get("cost")),
        attempt=_int(data.get("attempt")),
        child_session_id=child if isinstance(child, str) and child else None,
        interrupted=metadata.get("interrupted") is True or metadata.get("interrupted") == 1,
        stuck=kind == "tool" and state.get("status") in STUCK_STATUSES,
    )


def _message(row: Any, large: Any, entries: list[Entry]) -> TurnMessage:
    data = _loads(row.data if large is None else (large.data if large.ok else None))
    if data is None:
        return TurnMessage(
            id=row.id, role="?", time_created=int(row.time_created), corrupt=True, entries=tuple(entries)
        )
    when, error = _obj(data.get("time")), _obj(data.get("error"))
    message = _obj(error.get("data")).get("message")
    return TurnMessage(
        id=row.id,
        role=str(data.get("role") or "?"),
        time_created=int(row.time_created),
        completed=_int(when.get("completed")),
        agent=_str(data.get("agent")),
        model=_str(data.get("modelID")),
        provider=_str(data.get("providerID")),
        finish=_str(data.get("finish")),
        error_name=_str(error.get("name")),
        error_message=message[:TEXT_HEAD] if isinstance(message, str) else "",
        error_chars=(
            int(large.error_chars or 0) if large is not None else len(message) if isinstance(message, str) else 0
        ),
        cost=_cost(data.get("cost")),
        tokens=_tokens(data.get("tokens")),
        is_summary=data.get("summary") is True,
        entries=tuple(entries),
    )


def _link_children(conn: Connection, session: Session, entries: list[Entry]) -> dict[str, Entry]:
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
        for pid, part in infer_children(conn, unlinked).items():
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


def _chain(conn: Connection, columns: list[str], main: SessionTimeline, turns: int) -> list[SessionTimeline]:
    """``main`` with the parents whose task calls started it (root first) and the subagents its
    stuck task calls wait on (depth first), ``MAX_CHAIN`` sessions at most."""
    seen = {main.session.id}
    up: list[SessionTimeline] = []  # the nearest parent first
    links: dict[str, str] = {}  # session -> the parent's task part that started it
    child = main
    while child.session.parent_id and child.session.parent_id not in seen and len(seen) < MAX_CHAIN:
        parent = _session(conn, columns, child.session.parent_id)
        if parent is None:
            break
        story = session_timeline(conn, parent, turns=turns)
        link = next((e for e in story.entries if e.child_session_id == child.session.id), None)
        if link is None:
            break
        links[child.session.id] = link.id
        seen.add(parent.id)
        up.append(story)
        child = story
    members = [replace(s, depth=i, parent_part_id=links.get(s.session.id)) for i, s in enumerate([*reversed(up), main])]
    _descend(conn, columns, members, members[-1], turns, seen)
    return members


def _descend(
    conn: Connection,
    columns: list[str],
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
        child = _session(conn, columns, sid)
        if child is None:
            continue
        seen.add(sid)
        sub = replace(session_timeline(conn, child, turns=turns), depth=depths[-1] + 1, parent_part_id=entry.id)
        members.append(sub)
        stack.append(iter(_stuck_tasks(sub.entries)))
        depths.append(sub.depth)


def _stuck_tasks(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if e.tool == "task" and e.stuck and e.child_session_id]

"""Frozen dataclasses the core returns; the CLI and the TUI only ever render these."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from inspector.core.errors import InspectorError

Schema = Literal["v1", "v2", "legacy"]
Verdict = Literal["stale", "live", "hung", "waiting", "unknown", "unfixable", "ok"]
# Which shape of ``hung`` a session has: a tool that never returns, a model stream that keeps
# stalling (OpenCode restarts the step, no output grows), or a retry that never ends.
HangKind = Literal["tool-silent", "model-stalled", "retry-loop", "resume-loop"]
# The verdicts someone has to act on: recover (stale, unknown with --force) or an abort through
# OpenCode (hung) can. Not unfixable (recovery changes nothing; its reason says what to do), nor
# live and waiting (OpenCode works on them, or waits for a person's answer).
NEEDS_ATTENTION: frozenset[Verdict] = frozenset({"stale", "hung", "unknown"})
# Of those, the ones only a write to the file settles: on a file ocinspect will not write (a 2.x
# shape not proven) nothing can act on them, as on ``unfixable``; a hung turn's abort still can.
SETTLED_BY_WRITING: frozenset[Verdict] = frozenset({"stale", "unknown"})
# How a person answers a pending permission through OpenCode (its own words for the reply).
Answer = Literal["reject", "once"]
# What a front end may offer to get past a refusal; each renders it in its own words (the CLI
# names a flag, the TUI a key). Core text never names either.
Hint = Literal["force", "abort-hung", "reject-waiting", "trust-directory", "force-moved-on"]
# Why a session or row was left alone, for programs to switch on (the reason is for people).
SkipKind = Literal[
    "live",
    "unknown",
    "hung",
    "owner",
    "nothing-stuck",
    "ignores-prompts",
    "corrupt",
    "conflict",
    "server",
    "locked",
    "cancelled",
    "gone",
    "unchanged",
    "changed",
    "waiting",
    "not-writable",
    "other",
]


@dataclass(frozen=True)
class Session:
    """A row of OpenCode's ``session`` table (only the columns we show or need)."""

    id: str
    title: str
    directory: str
    parent_id: str | None
    project_id: str | None
    version: str | None
    time_created: int
    time_updated: int
    time_compacting: int | None = None
    time_archived: int | None = None


@dataclass(frozen=True)
class Message:
    """An assistant (or user) message, reduced to what explains a stuck turn."""

    id: str
    session_id: str
    role: str
    time_created: int
    completed: int | None
    error_name: str | None = None
    finish: str | None = None
    is_summary: bool = False
    model: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class Part:
    """A tool part left ``pending``/``running``: what was running, since when, with what input."""

    id: str
    message_id: str
    session_id: str
    tool: str
    status: str
    call_id: str | None
    started: int | None
    time_created: int
    input_summary: str
    input_json: str = ""
    title: str | None = None
    output_tail: str = ""
    child_session_id: str | None = None
    message_completed: bool = False
    child_inferred: bool = False  # child found by parent_id and time: OpenCode 1.2/1.3 write no link


@dataclass(frozen=True)
class Diagnosis:
    """Why one session is stuck (or that it is fine), and whether we may touch it."""

    session: Session
    verdict: Verdict
    patterns: tuple[str, ...]
    unfinished_messages: tuple[Message, ...] = ()
    stuck_parts: tuple[Part, ...] = ()
    children: tuple[str, ...] = ()
    last_activity: int | None = None
    stuck_since: int | None = None
    live_reason: str = ""
    idle_ms: int | None = None  # live/hung only: how long nothing of its subagent chain has moved
    warnings: tuple[str, ...] = ()  # names in patterns.WARNINGS: risks of acting, not stuck states
    hang: HangKind | None = None  # hung only: which shape
    opencode_status: ServerStatus | None = None  # live/hung/waiting: what OpenCode reported
    waiting_on: tuple[PendingRequest, ...] = ()  # waiting: what the person is asked
    next_step: str = ""  # what happens to it if nobody acts (OpenCode 2's holds; "" otherwise)

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def is_stuck(self) -> bool:
        return bool(self.patterns)

    @property
    def repairable(self) -> bool:
        """True when recovery would change rows (``ignores-prompts`` alone is not fixable: such a
        session's verdict is ``unfixable`` unless OpenCode is working on it)."""
        return bool(
            self.unfinished_messages
            or self.stuck_parts
            or "compaction" in self.patterns
            or "claim-kept" in self.patterns  # a claim with nothing open: releasing it is the repair
        )


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan found; ``sessions`` holds stuck sessions (all sessions with ``all``)."""

    database: str
    schema: Schema
    opencode_live: bool | None
    live_detail: str
    sessions: tuple[Diagnosis, ...]
    quick: bool
    scanned_at: int
    total_sessions: int = 0
    hung_after_ms: int | None = None  # the threshold the hung verdicts were decided with
    wrap_writer: str | None = None  # the OpenCode ≤ 1.18.14 that writes this database, if one does
    live: LiveStatus | None = field(default=None, compare=False, repr=False)  # the answer used
    # why no repair may write this file (core's typed refusal: a 2.x shape not proven), else None
    write_refusal: InspectorError | None = field(default=None, compare=False, repr=False)

    @property
    def stuck(self) -> tuple[Diagnosis, ...]:
        return tuple(d for d in self.sessions if d.is_stuck)

    @property
    def needs_attention(self) -> bool:
        """A stuck session someone can act on (``scan`` then exits 1): a verdict in
        ``NEEDS_ATTENTION``, less those only a write settles when this file will not be written."""
        acting = NEEDS_ATTENTION - SETTLED_BY_WRITING if self.write_refusal is not None else NEEDS_ATTENTION
        return any(d.verdict in acting for d in self.stuck)

    def get(self, session_id: str) -> Diagnosis | None:
        return self._by_id.get(session_id)

    @cached_property
    def _by_id(self) -> dict[str, Diagnosis]:
        # Once per result: renderers ask for every session's parent, and a chain can be long.
        return {diag.id: diag for diag in reversed(self.sessions)}  # the first of a repeated id wins

    @cached_property
    def depths(self) -> dict[str, int]:
        """How many ancestors of each session are in this result (for indenting trees).

        One pass up each path, each session's depth kept: linear in the sessions however deep
        a chain is, and no recursion."""
        depth: dict[str, int] = {}
        for diag in self.sessions:
            path: list[str] = []
            on_path: set[str] = set()
            sid: str | None = diag.id
            base = -1
            while sid:
                if sid in depth:
                    base = depth[sid]
                    break
                found = self._by_id.get(sid)
                if found is None or sid in on_path:  # not in the result, or a cycle
                    break
                on_path.add(sid)
                path.append(sid)
                sid = found.session.parent_id
            for member in reversed(path):
                base += 1
                depth[member] = base
        return depth


# The only columns a RowChange may write, per table (the compare-and-set whitelist).
WRITABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "part": ("data", "time_updated"),
    "message": ("data", "time_updated"),
    "session": ("time_compacting", "time_updated"),
    # OpenCode 2: a turn's rows, the claim columns (never ``time_updated``: v2 moves it only on
    # step events) and the session's seq counter (v2's analogue of the v1 log cursor).
    "session_message": ("data", "time_updated"),
    "session_v2": ("time_suspended", "resume_attempts", "idle_outcome", "time_idle"),
    "event_sequence": ("seq",),
}
# The rows a RowChange may add (``absent`` before-image), with every column it writes.
INSERTABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "session_message": ("session_id", "type", "seq", "time_created", "time_updated", "data"),
    "event_sequence": ("seq",),
}
ChangeTable = Literal["part", "message", "session", "session_message", "session_v2", "event_sequence"]


@dataclass(frozen=True)
class RowChange:
    """One row the repair rewrites: its before-image (for compare-and-set and undo) and after.

    ``absent``: the row did not exist (``before`` is empty) and the change adds it; its
    compare-and-set is "no such row yet", and undo removes it only while it still holds
    ``after``."""

    table: ChangeTable
    row_id: str
    session_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    summary: str
    message_id: str | None = None  # parts only: needed to rebuild OpenCode's event payload
    absent: bool = False


@dataclass(frozen=True)
class LogEvent:
    """One row for OpenCode's sync ``event`` table, exactly as ``SyncEvent.run`` writes it."""

    id: str
    aggregate_id: str
    seq: int
    type: str
    data: str  # compact JSON text of the payload


@dataclass(frozen=True)
class LogCursor:
    """A session's ``event_sequence`` row as the plan saw it: the compare-and-set for its log."""

    session_id: str
    seq: int
    owner_id: str | None = None


@dataclass(frozen=True)
class Skip:
    """A session or row we did not change: the reason in words, its ``kind`` for programs, and
    the ``hint`` (if any) that would get past it."""

    id: str
    reason: str
    kind: SkipKind = "other"
    hint: Hint | None = None


@dataclass(frozen=True)
class PlanUnit:
    """Sessions repaired together in one transaction (a parent and its subagent children)."""

    session_ids: tuple[str, ...]
    changes: tuple[RowChange, ...]
    events: tuple[LogEvent, ...] = ()
    cursors: tuple[LogCursor, ...] = ()
    via_port: int | None = None  # written through the OpenCode serving it on this port; None: direct
    directory: str = ""
    # Where tools are items inside a turn's row (OpenCode 2), rows do not count them: the plan does.
    tools: int = 0
    turns: int = 0

    @property
    def parts(self) -> int:
        return self.tools + sum(1 for c in self.changes if c.table == "part")

    @property
    def messages(self) -> int:
        return self.turns + sum(1 for c in self.changes if c.table == "message")


@dataclass(frozen=True)
class Plan:
    """What a recovery would change; ``apply`` writes exactly this and nothing else."""

    database: str
    created: int
    units: tuple[PlanUnit, ...]
    refused: tuple[Skip, ...] = ()
    nothing_to_do: tuple[Skip, ...] = ()
    forced: bool = False
    warnings: tuple[tuple[str, str], ...] = ()  # (session id, warning name): say before writing

    @property
    def session_ids(self) -> tuple[str, ...]:
        return tuple(s for unit in self.units for s in unit.session_ids)

    @property
    def parts(self) -> int:
        return sum(u.parts for u in self.units)

    @property
    def messages(self) -> int:
        return sum(u.messages for u in self.units)

    @property
    def event_count(self) -> int:
        """Events appended to OpenCode's sync log (0 where the database keeps none)."""
        return sum(len(u.events) for u in self.units)

    @property
    def is_empty(self) -> bool:
        return not self.units

    def unforeseen(self, result: RunResult) -> tuple[Skip, ...]:
        """What ``result`` skipped that this plan did not already refuse or leave alone: rows
        that changed under the run, locks, cancellations."""
        known = set(self.refused) | set(self.nothing_to_do)
        return tuple(s for s in result.skipped if s not in known)


@dataclass(frozen=True)
class RunResult:
    """What ``apply`` (or a dry run) did."""

    run_id: str | None
    dry_run: bool
    sessions: tuple[str, ...]
    parts_repaired: int
    messages_completed: int
    skipped: tuple[Skip, ...] = ()
    journal_path: str | None = None
    sessions_uncompacted: int = 0
    events_appended: int = 0
    via: tuple[tuple[str, str], ...] = ()  # session -> "opencode" | "direct"


@dataclass(frozen=True)
class UndoResult:
    """What ``undo`` restored, and which rows it left alone because they changed since."""

    run_id: str
    restored: int
    skipped: tuple[Skip, ...] = field(default_factory=tuple)
    events_appended: int = 0
    interrupted: bool = False  # the run was killed while its journal was written: it changed nothing


@dataclass(frozen=True)
class OpenCodeProcess:
    pid: int
    ports: tuple[int, ...]


@dataclass(frozen=True)
class ServerStatus:
    """One session's entry in OpenCode's ``GET /session/status`` (absent there = idle).

    ``type`` is ``busy`` or ``retry`` (then ``attempt``, ``message`` and ``next``, epoch ms, say
    which try, why the last failed and when the next starts); ``raw`` is the object as sent
    (JSON text), so ``--json`` can hand it on unchanged.
    """

    type: str
    attempt: int | None = None
    message: str = ""
    next: int | None = None
    raw: str = ""


@dataclass(frozen=True)
class PendingRequest:
    """A permission or question a live OpenCode waits on a person for (``GET /permission``,
    ``GET /question``). Text fields are the server's data: render them escaped."""

    id: str  # per_… / que_…
    session_id: str
    kind: Literal["permission", "question"]
    port: int  # the server that holds it: the answer must go there
    directory: str = ""
    permission: str = ""  # permission: which one ("bash", "edit", …)
    patterns: tuple[str, ...] = ()  # permission: what it would allow ("echo ok")
    command: str = ""  # permission: metadata.command where OpenCode gives one
    question: str = ""  # question: the text asked (first question if several)
    message_id: str = ""  # the tool call waiting on it
    call_id: str = ""
    since: int | None = None  # ms: when it was asked (the waiting tool part's start if not sent)
    raw: str = ""  # the object as sent (JSON text)


@dataclass(frozen=True)
class LiveStatus:
    """What ``opencode.live.detect`` found. ``running`` is True/False, or None when we could not tell (then writes need --force).

    ``owners`` pairs each busy session with the port of the server that listed it (where an
    abort must go); ``waiting`` holds busy sessions that wait for a person's answer, and
    ``undecided`` busy sessions for which we could not ask that.
    """

    running: bool | None
    processes: tuple[OpenCodeProcess, ...] = ()
    busy: frozenset[str] = frozenset()
    unknown_directories: frozenset[str] = frozenset()
    detail: str = ""
    owners: tuple[tuple[str, int], ...] = ()
    waiting: frozenset[str] = frozenset()
    undecided: frozenset[str] = frozenset()
    unknown_reason: str = ""
    servers: tuple[tuple[str, int], ...] = ()  # directory -> the port that answered for it
    versions: tuple[tuple[int, str], ...] = ()  # port -> OpenCode version (GET /global/health)
    statuses: tuple[tuple[str, ServerStatus], ...] = ()  # busy session -> its /session/status entry
    requests: tuple[PendingRequest, ...] = ()  # pending permissions/questions of busy sessions
    # session -> epoch ms of the newest progress event seen on GET /event (part delta/update),
    # where a subscription was open (watch mode, the TUI); empty for a one-shot scan
    progress: tuple[tuple[str, int], ...] = ()
    # OpenCode 2 servers whose ``GET /api/event`` a watch follows (its routes are global, so a
    # port, not a directory; the look that found them knows their password)
    streams: tuple[int, ...] = ()

    def verdict(self, session_id: str, directory: str) -> tuple[Verdict, str]:
        """(verdict, reason) for one session."""
        if self.running is False:
            return "stale", "OpenCode is not running on this database"
        if session_id in self.busy:
            if session_id in self.waiting:
                return "waiting", (
                    "OpenCode waits for your answer (permission or question): it is "
                    "not working on it until someone answers; not hung"
                )
            status = self.status_of(session_id)
            if status is not None and status.type == "retry":
                return "live", "OpenCode reports this session retrying a failed model call"
            return "live", "OpenCode reports this session busy (it is really working on it)"
        if self.running is None or directory in self.unknown_directories:
            return (
                "unknown",
                self.unknown_reason or self.detail or "could not ask the running OpenCode about this session",
            )
        return "stale", "OpenCode is running but does not list this session as busy"

    def server_for(self, directory: str) -> int | None:
        """The port of a server that answered ``/session/status`` for ``directory``."""
        return next((port for d, port in self.servers if d == directory), None)

    def version_of(self, port: int) -> str | None:
        return next((v for p, v in self.versions if p == port), None)

    def status_of(self, session_id: str) -> ServerStatus | None:
        return next((st for sid, st in self.statuses if sid == session_id), None)

    def requests_of(self, session_id: str) -> tuple[PendingRequest, ...]:
        return tuple(r for r in self.requests if r.session_id == session_id)

    def progress_of(self, session_id: str) -> int | None:
        return next((ms for sid, ms in self.progress if sid == session_id), None)

    def port_of(self, session_id: str) -> int | None:
        """The port of the server that lists ``session_id`` busy (None if none does)."""
        return next((port for sid, port in self.owners if sid == session_id), None)


OFFLINE = LiveStatus(running=False, detail="OpenCode is not running on this database")

"""Frozen dataclasses the core returns; the CLI and the TUI only ever render these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # model stays free of psutil at run time
    from inspector.core.opencode.live import LiveStatus

Schema = Literal["v1", "v2", "legacy"]
Verdict = Literal["stale", "live", "hung", "unknown", "unfixable", "ok"]


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
        return bool(self.unfinished_messages or self.stuck_parts or "compaction" in self.patterns)


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

    @property
    def stuck(self) -> tuple[Diagnosis, ...]:
        return tuple(d for d in self.sessions if d.is_stuck)

    def get(self, session_id: str) -> Diagnosis | None:
        for diag in self.sessions:
            if diag.id == session_id:
                return diag
        return None


@dataclass(frozen=True)
class RowChange:
    """One row the repair rewrites: its before-image (for compare-and-set and undo) and after."""

    table: Literal["part", "message", "session"]
    row_id: str
    session_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    summary: str
    message_id: str | None = None  # parts only: needed to rebuild OpenCode's event payload


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
    """A session or row we did not change, and the reason in words."""

    id: str
    reason: str


@dataclass(frozen=True)
class PlanUnit:
    """Sessions repaired together in one transaction (a parent and its subagent children)."""

    session_ids: tuple[str, ...]
    changes: tuple[RowChange, ...]
    events: tuple[LogEvent, ...] = ()
    cursors: tuple[LogCursor, ...] = ()
    via_port: int | None = None  # written through the OpenCode serving it on this port; None: direct
    directory: str = ""

    @property
    def parts(self) -> int:
        return sum(1 for c in self.changes if c.table == "part")

    @property
    def messages(self) -> int:
        return sum(1 for c in self.changes if c.table == "message")


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

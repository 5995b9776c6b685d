"""Typed messages the worker threads post to the app; handlers run on the main thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from inspector.core.db.filewatch import Signature
from inspector.core.diagnose.incremental.refresh import Watched
from inspector.core.model import ScanResult, UndoResult
from inspector.core.repair.operations import Outcome, Prepared, UndoPrepared


@dataclass
class ScanProgress(Message):
    """Rows walked so far; a newer one replaces an unprocessed older one."""

    phase: str
    done: int
    total: int
    generation: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ScanProgress)


@dataclass
class ScanFinished(Message):
    """A scan tier finished; ``final`` is False for the quick tier shown before the deep one."""

    result: ScanResult
    signature: Signature
    final: bool
    all_sessions: bool
    generation: int
    watched: Watched | None = None  # the deep tier's watermarks, which refreshes start from


@dataclass
class Refreshed(Message):
    """An incremental refresh finished; ``watched`` None means only a full scan is correct now."""

    watched: Watched | None
    signature: Signature
    changed: bool
    generation: int
    reason: str = ""


@dataclass
class ContinueInOpenCode(Message):
    """Quit ocinspect and continue this session in OpenCode (the CLI execs it)."""

    session_id: str


@dataclass
class ScanFailed(Message):
    error: Exception
    generation: int


@dataclass
class ScanCancelled(Message):
    generation: int


@dataclass
class DatabaseUnsupported(Message):
    """The database is not one ocinspect can diagnose; ``kind`` is the core error's typed kind
    (``v2``, ``legacy``, ``foreign``, ``missing``)."""

    kind: str
    detail: str
    generation: int


@dataclass
class PlanReady(Message):
    """A prepared recovery to confirm: the plan and the hung chains to stop through OpenCode."""

    prepared: Prepared


@dataclass
class RecoveryFinished(Message):
    """What the core's ``execute`` did: aborts, the run, what it did not foresee."""

    outcome: Outcome


@dataclass
class UndoReady(Message):
    """The run an undo would put back, to confirm first."""

    prepared: UndoPrepared


@dataclass
class UndoFinished(Message):
    result: UndoResult


@dataclass
class OperationFailed(Message):
    """A plan, recovery or undo failed; ``action`` names it for the notification title."""

    action: str
    error: Exception


@dataclass
class OpenSession(Message):
    """Show a session's detail (posted by links in the detail screen)."""

    session_id: str


@dataclass
class RequestRecovery(Message):
    """Plan a recovery, then ask to confirm it; ``session_ids`` None means every stale session."""

    session_ids: tuple[str, ...] | None


@dataclass
class RequestAnswer(Message):
    """Plan answering what ``session_id`` (or its subagent) waits on, then ask to confirm it."""

    session_id: str


@dataclass
class AnswerReady(Message):
    """The answers the core would send through OpenCode (reject by default), to confirm."""

    prepared: Prepared


@dataclass
class ToggleAllSessions(Message):
    """Switch the list between stuck sessions only and every session."""


@dataclass
class CancelScan(Message):
    """Stop the running scan; the list keeps showing the last complete one."""


@dataclass
class SortChanged(Message):
    """The person sorted the sessions list (``column`` None: the scan's order); the app keeps it."""

    column: str | None
    descending: bool

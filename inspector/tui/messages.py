"""Typed messages the worker threads post to the app; handlers run on the main thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from inspector.core.db.filewatch import Signature
from inspector.core.diagnose.incremental.refresh import Watched
from inspector.core.health.look import Health
from inspector.core.model import ScanResult


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
class HealthSeen(Message):
    """The database's own health, looked at after a scan's final tier."""

    health: Health
    generation: int


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
class WriteStep(Message):
    """The next step of a write flow (``write_flow.py``), to run on the main thread: a plan to
    confirm, or a result to tell."""

    step: Callable[[], None]


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

"""What repair and report read: the before-images of the rows a plan changes, what changed
after a run (undo), the database's provenance for the report.

``RowChecks`` is the part a write transaction can answer too (``db/writes.py``): the compare of
compare-and-set and the session logs a change continues, asked inside ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from inspector.core.model import LogCursor, LogEvent, Part, RowChange

if TYPE_CHECKING:
    from inspector.core.db.eventlog import EventIds


@dataclass(frozen=True, slots=True)
class RowImage:
    """A tool or turn row as stored: the raw ``data`` text is the before-image, byte for byte."""

    id: str
    session_id: str
    data: str
    time_updated: int
    message_id: str | None = None  # tools only: the turn it belongs to


@dataclass(frozen=True, slots=True)
class SessionImage:
    """The session columns a repair may write (the compacting mark)."""

    id: str
    time_updated: int
    time_compacting: int | None


@dataclass(frozen=True, slots=True)
class BeforeImages:
    """The rows a plan would change, in the order their ids were asked for."""

    tools: tuple[RowImage, ...]
    turns: tuple[RowImage, ...]
    sessions: tuple[SessionImage, ...]


@dataclass(frozen=True, slots=True)
class OpenRow:
    """A turn not closed, or a tool still pending/running."""

    kind: Literal["turn", "tool"]
    id: str


@dataclass(frozen=True, slots=True)
class ToolState:
    """A tool's status and error text as the rows hold them now."""

    status: str | None
    error: str


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message a session got after some moment (undo refuses a session that moved on)."""

    session_id: str
    id: str
    time_created: int


Stored = str | int | float | bytes | None  # a value as SQLite keeps it: the report says what it is


@dataclass(frozen=True, slots=True)
class WriterVersion:
    """How many sessions one OpenCode release wrote last, and when (None: not a number)."""

    version: Stored
    sessions: int
    last_updated: int | None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who wrote the database, for the report: releases and the newest migration applied."""

    versions: tuple[WriterVersion, ...]
    newest_migration: Stored
    keeps_event_log: bool = False  # OpenCode keeps its sync events in the file (``event`` rows)
    event_log: str = ""  # what the file's event log is, in a few words (the report's Database row)


class RowChecks(Protocol):
    """What one row change holds now, and the session logs it continues (read or write side)."""

    def current_image(self, change: RowChange, columns: Iterable[str]) -> dict[str, Any] | None:
        """What ``change``'s row holds now in ``columns`` (None once the row is gone)."""

    def drift(self, change: RowChange) -> str:
        """Why ``change``'s row no longer holds its before-image, in one line."""

    def log_cursors(self, session_ids: Iterable[str]) -> dict[str, LogCursor]:
        """Where each session's event log ends; sessions without a log are absent."""

    def log_events(
        self,
        writes: Sequence[tuple[RowChange, Mapping[str, Any]]],
        cursors: Mapping[str, LogCursor],
        ids: EventIds,
        now: int,
    ) -> tuple[LogEvent, ...]:
        """The events OpenCode would log for writing each image, continuing ``cursors``."""


class RepairReads(RowChecks, Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

    def before_images(
        self, tool_ids: Sequence[str], turn_ids: Sequence[str], session_ids: Sequence[str]
    ) -> BeforeImages:
        """The rows of these tools, turns and sessions as stored now (missing ones left out)."""

    def open_rows(self, session_ids: Sequence[str]) -> tuple[OpenRow, ...]:
        """Turns not closed and tools still pending/running in ``session_ids``."""

    def waiting_tools(self, turn_id: str) -> tuple[Part, ...]:
        """The pending/running tools of one turn (unreadable rows left out)."""

    def tool_state(self, tool_id: str) -> ToolState | None:
        """One tool's status and error now (None when it is gone or unreadable)."""

    def messages_created_after(self, session_ids: Sequence[str], after: int) -> tuple[NewMessage, ...]:
        """Messages of ``session_ids`` created after ``after`` (ms), oldest first."""

    def session_titles(self, session_ids: Sequence[str]) -> dict[str, str]:
        """Each existing session's title ("" when it has none)."""

    def session_directories(self, session_ids: Iterable[str]) -> dict[str, str]:
        """Each existing session's directory ("" when it has none)."""

    def open_turns(self) -> tuple[tuple[str, str], ...]:
        """(turn id, session id) of every readable assistant turn not closed (the whole table)."""

    def open_turns_appended(self, span: Mapping[str, int]) -> tuple[tuple[str, str], ...]:
        """The same, among the turns appended in ``span`` (a tracker's ``appended`` range)."""

    def turns_still_open(self, turn_ids: Iterable[str]) -> tuple[str, ...]:
        """Which of ``turn_ids`` are still readable and not closed."""

    def provenance(self) -> Provenance:
        """The releases that wrote the sessions (newest first) and the newest migration."""

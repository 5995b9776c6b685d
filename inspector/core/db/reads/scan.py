"""What a scan reads: unfinished turns and stuck tools (all, of given sessions or turns, or by
id), the session rows, and the incremental pair (where the tables end, what changed since).

A "turn" is an assistant reply (v1: a ``message`` row), a "tool" a tool call (v1: a ``part``
row); "stuck" means through the same filter a full scan uses (a reply never finished, a tool
left pending/running). Rows are parsed here, in ``db/``: callers get ``Message``/``Part``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from inspector.core.db.reads.holds import SessionHold
from inspector.core.model import Message, Part, Session

Progress = Callable[[int, int], None]
# Rows appended between two watermarks of one table: ``{"lo", "hi"}`` (inclusive); the tracker
# computes it, the reads only pass it on.
Span = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Tail:
    """The newest row of a table: where the next look resumes, and proof rowids held."""

    rowid: int
    id: str | None


@dataclass(frozen=True, slots=True)
class Where:
    """Where the tables end in one snapshot, and the file's own counters (see ``tracker``).

    ``at``: per table, the id now held by the position that was newest last time (None: gone)."""

    schema_version: int
    page_count: int
    page_size: int
    application_id: int
    tails: Mapping[str, Tail]
    at: Mapping[str, str | None]
    follows_changes: bool = True  # False: this generation cannot name its changes yet (full passes)


@dataclass(frozen=True, slots=True)
class Logged:
    """What OpenCode's sync event log says was written in a span: tools, turns, sessions."""

    parts: frozenset[str] = frozenset()
    messages: frozenset[str] = frozenset()
    sessions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Stuck:
    """Rows through the stuck filter, parsed, and each one's version (the ``time_updated`` that
    OpenCode and our repair bump on every write)."""

    messages: tuple[Message, ...] = ()
    parts: tuple[Part, ...] = ()
    versions: Mapping[str, int] = field(default_factory=dict)


class ScanReads(Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

    def unfinished_turns(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Message]:
        """Turns never finished: of ``session_ids``, or (None) of the whole database, read in
        ranges on all cores (``beside`` runs meanwhile; cancel/progress act between ranges)."""
        ...

    def stuck_tools(
        self,
        session_ids: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        beside: Callable[[], None] | None = None,
    ) -> list[Part]:
        """Tool calls left pending/running: of ``session_ids``, or (None) of the whole database."""
        ...

    def stuck_tools_of_turns(self, message_ids: Iterable[str]) -> list[Part]:
        """The stuck tool calls of these turns (the quick tier: through the turn's index)."""
        ...

    def unfinished_turns_by_id(self, message_ids: Iterable[str]) -> Stuck:
        """Known turns read again by id, through the stuck filter."""
        ...

    def stuck_tools_by_id(self, part_ids: Iterable[str]) -> Stuck:
        """Known tool calls read again by id, through the stuck filter."""
        ...

    def unfinished_turns_appended(self, span: Span) -> Stuck:
        """The unfinished turns among the rows appended in ``span``."""
        ...

    def stuck_tools_appended(self, span: Span) -> Stuck:
        """The stuck tool calls among the rows appended in ``span``."""
        ...

    def sessions_with_new_turns(self, span: Span) -> set[str]:
        """Sessions that got any turn (a prompt or a reply) in ``span``."""
        ...

    def turn_versions(self, message_ids: Iterable[str]) -> dict[str, int]:
        """The version of each turn that still exists, without reading its content."""
        ...

    def tool_versions(self, part_ids: Iterable[str]) -> dict[str, int]:
        """The version of each tool call that still exists, without reading its content."""
        ...

    def versions_of_turns(self, message_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per turn that still exists, the version of its row and of each row of its own a tool
        call (any part) of it holds, without reading their content (one statement)."""
        ...

    def turns_updated_since(self, since: int) -> dict[str, int]:
        """Every turn written at or after ``since`` (the sweep), with its version."""
        ...

    def tools_updated_since(self, since: int) -> dict[str, int]:
        """Every tool call (any part) written at or after ``since`` (the sweep), with its version."""
        ...

    def recent_updates(self) -> dict[str, int]:
        """Per table (``part``, ``message``): the newest version among its newest rows (the
        sweep's first watermark, never above the true newest one)."""
        ...

    def finished_turns(self, message_ids: Iterable[str]) -> set[str]:
        """Those of ``message_ids`` that did finish."""
        ...

    def compacting(self, session_ids: Iterable[str] | None = None) -> dict[str, int]:
        """Sessions marked compacting with no finished summary since: {id: mark}; of
        ``session_ids`` only, or all (empty where the database keeps no such mark)."""
        ...

    def ignored_prompts(self, session_ids: Iterable[str] | None = None) -> set[str]:
        """Sessions whose newest prompt an OpenCode ≤ 1.18.14 would ignore (ids wrapped)."""
        ...

    def writer_versions(self, session_ids: Iterable[str] | None = None) -> frozenset[str]:
        """The OpenCode releases that created sessions (of ``session_ids``, or all); empty on a
        database that records none."""
        ...

    def sessions(self, session_ids: Iterable[str] | None = None) -> dict[str, Session]:
        """The session rows of ``session_ids`` that exist, or (None) every session."""
        ...

    def existing_sessions(self, session_ids: Iterable[str]) -> set[str]:
        """Those of ``session_ids`` that exist (ids only)."""
        ...

    def child_sessions(self, session_ids: Iterable[str]) -> set[str]:
        """Sessions whose parent is one of ``session_ids``."""
        ...

    def last_activity(self, session_ids: Iterable[str]) -> dict[str, int]:
        """When each session last got a turn (sessions with none are left out)."""
        ...

    def session_count(self) -> int: ...

    def sessions_appended(self, span: Span) -> set[str]:
        """Sessions created in ``span``."""
        ...

    def has_change_log(self) -> bool:
        """Does the file hold OpenCode's sync event log (a table worth a watermark)?"""
        ...

    def sessions_followed(self) -> bool:
        """Does every change to what a scan reads of the session rows (compaction marks, the
        release that created a session) come with a row the watermarks name (a session appended,
        an event logged)? Then a resumed scan asks only those sessions again."""
        ...

    def watermark(self, tables: tuple[str, ...], at: Mapping[str, int]) -> Where:
        """Where ``tables`` end now, and which row holds each position in ``at`` (the tails of
        the last watermark; a table not in ``at`` is asked about position 0)."""
        ...

    def logged_since(self, span: Span | None) -> Logged:
        """The rows named by the event log's rows in ``span``: every row OpenCode 1.18 writes
        appends an event naming it, and its session."""
        ...

    def holds(self, session_ids: Iterable[str] | None = None) -> dict[str, SessionHold]:
        """What holds each of ``session_ids``' turn open besides its rows (claim, inbox, import),
        or (None) of every session something holds; empty where the generation has no holds."""
        ...

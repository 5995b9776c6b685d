"""The raw rows a scan finds (unfinished turns, stuck parts, compaction marks, ignored prompts),
before they are grouped into per-session diagnoses; a full scan and a refresh both fill these."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from inspector.core.db.reads import Reads, ScanReads
from inspector.core.db.reads.holds import SessionHold
from inspector.core.db.reads.scan import Progress
from inspector.core.diagnose import idwrap
from inspector.core.diagnose.children import infer_children
from inspector.core.model import Message, Part


class Findings:
    """Raw rows found by the queries, before they are grouped into per-session diagnoses."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.parts: dict[str, Part] = {}
        self.compacting: dict[str, int] = {}
        self.ignored_prompts: set[str] = set()
        self.completed_messages: set[str] = set()
        self.wrap_writer: str | None = None  # OpenCode release ≤ 1.18.14 that wrote the database
        self.holds: dict[str, SessionHold] = {}  # what holds a turn open besides its rows (OpenCode 2)

    def add_messages(self, messages: Iterable[Message]) -> None:
        for message in messages:
            if message.role == "assistant" and message.completed is None:
                self.messages[message.id] = message

    def add_parts(self, parts: Iterable[Part]) -> None:
        for part in parts:
            if part.status in ("pending", "running"):
                self.parts[part.id] = part

    @property
    def session_ids(self) -> set[str]:
        ids = {m.session_id for m in self.messages.values()}
        ids |= {p.session_id for p in self.parts.values()}
        # a claim kept after a graceful stop, or prompts stranded in the inbox, hold a session
        # open with no open row at all
        held = {sid for sid, hold in self.holds.items() if hold.claimed_at is not None or hold.inbox}
        return ids | set(self.compacting) | self.ignored_prompts | held


def collect(
    reads: Reads,
    *,
    quick: bool,
    session_ids: Sequence[str] | None,
    cancel: threading.Event | None,
    progress: Progress | None,
    now: int,
) -> Findings:
    found = Findings()

    def session_findings() -> None:
        found.compacting = reads.compacting(session_ids)
        found.ignored_prompts = reads.ignored_prompts(session_ids)
        wrap_findings(reads, found, session_ids, now)

    if session_ids is not None:
        found.add_messages(reads.unfinished_turns(session_ids))
        if quick:  # only the parts of unfinished turns, through part_message_id_id_idx
            found.add_parts(reads.stuck_tools_of_turns(found.messages))
        else:
            found.add_parts(reads.stuck_tools(session_ids))
        session_findings()
    elif quick:
        found.add_messages(reads.unfinished_turns(cancel=cancel, progress=progress, beside=session_findings))
        found.add_parts(reads.stuck_tools_of_turns(found.messages))
    else:
        found.add_messages(reads.unfinished_turns(cancel=cancel))
        found.add_parts(reads.stuck_tools(cancel=cancel, progress=progress, beside=session_findings))
    found.parts = infer_children(reads, found.parts)
    found.completed_messages = completed_messages(reads, found)
    read_holds(reads, found, session_ids)
    return found


def read_holds(reads: ScanReads, found: Findings, session_ids: Sequence[str] | None = None) -> None:
    """What holds the sessions' turns open besides their rows: every held session's (or those of
    ``session_ids``), then those of the sessions the rows found."""
    found.holds = reads.holds(session_ids)
    found.holds |= reads.holds(sorted(found.session_ids - set(found.holds)))


def wrap_findings(reads: Reads, found: Findings, session_ids: Sequence[str] | None, now: int) -> None:
    """OpenCode ≤ 1.18.14's id-wrap loop: which release wrote the file, and the loop's leftovers
    (replies to an older prompt), which are the loop form of ignored prompts."""
    found.wrap_writer = idwrap.affected_writer(reads.writer_versions())
    if found.wrap_writer:
        for sid in idwrap.loop_leftovers(reads, now):
            if session_ids is None or sid in session_ids:
                found.ignored_prompts.add(sid)


def completed_messages(reads: ScanReads, found: Findings) -> set[str]:
    """Messages of stuck parts that did finish (the parts-in-finished-turn pattern)."""
    return reads.finished_turns({p.message_id for p in found.parts.values()} - set(found.messages))

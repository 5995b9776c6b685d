"""Scan from where the last process left off (issue 19): the cost of what changed, not of the file.

``ocinspect run``, ``scan`` and the TUI's first view call :func:`scan_resumed`. With a kept
state (:mod:`state`: the :mod:`tracker`'s watermarks and the ids still stuck at them) that the
tracker accepts for the file as it is now, it reads, in one snapshot,

- the rows appended since (``rowid >`` the tails of ``message`` and, deep, ``part``);
- the remembered unfinished messages and (deep) stuck parts again, by id;
- the rows OpenCode's sync event log names since its tail (updates, by id, and their sessions);
- the small per-session findings as a full scan does (compaction marks from ``session``, the
  id-wrap writer), the ignored-prompt check for the sessions that got new rows or events;

then assembles the result exactly as :func:`scan.scan` does. Otherwise (no state, ``full``, the
tracker's start-over rule, an ocinspect write since, a full pass older than
:data:`FULL_EVERY_S`) it is :func:`scan.scan` itself, and the state is written for the next one.
OpenCode makes a row stuck only by inserting it and un-sticks only rows that are stuck, so both
give the same result; ``tests/test_watermarks.py`` checks that for every kind of change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from inspector.core.db.ranges import Cancelled
from inspector.core.db.reads import Reads
from inspector.core.db.reads.scan import ScanReads
from inspector.core.db.store import Store
from inspector.core.diagnose.children import infer_children
from inspector.core.diagnose.findings import Findings, completed_messages, read_holds, wrap_findings
from inspector.core.diagnose.idwrap import affected_writer, loop_leftovers
from inspector.core.diagnose.incremental import changes, state, tracker
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import InSnapshot, judge, liveness_for, read_sessions, scan, sessions_at_risk
from inspector.core.model import ScanResult
from inspector.core.text import now_ms

__all__ = ["FULL_EVERY_S", "TRACKED", "Pass", "scan_resumed"]

# At most this long (our wall clock) between two full passes of a tier: what a foreign writer
# could hide from the incremental reads (an UPDATE that makes an old row stuck without an event)
# is found by the first scan after it.
FULL_EVERY_S = 24 * 3600.0
TRACKED = ("part", "message", "session")  # both tiers: any OpenCode turn appends to part or message


@dataclass(frozen=True)
class Pass:
    """How a result was made: a full pass (and why) or the changes since the kept state."""

    kind: Literal["full", "incremental"]
    reason: str
    # files of the state directory that were not read (a FIFO, a symlink…): one warning each
    skipped: tuple[str, ...] = ()


def scan_resumed(store: Store, options: ScanOptions, *, snapshot: InSnapshot | None = None) -> tuple[ScanResult, Pass]:
    """The result of ``scan(store, options)``, from the kept state when it can be; the state is
    written again either way. ``options.full`` forces a full pass."""
    quick, full, clock = options.quick, options.full, options.wall_clock
    now = now_ms() if options.now is None else options.now
    options = replace(options, now=now)  # one instant for every decision of this scan
    store.require_readable()
    tier: state.Tier = "quick" if quick else "deep"
    problems: list[str] = []
    token = state.generation(store.path, problems)  # before any snapshot (see state.py)
    began = clock()
    saved = None if full else state.load(store.path, tier, problems)
    reason = "asked for" if full else "no state kept for this file"
    if saved is not None:
        if not 0 <= began - saved.full_at < FULL_EVERY_S:
            reason = "the last full pass is too old"
        elif saved.token != token:
            reason = "ocinspect wrote to the database since"
        else:
            try:
                result = _incremental(store, saved, token, options, snapshot=snapshot)
                return result, Pass("incremental", "the changes since the kept state", _once(problems))
            except tracker.StartOver as exc:
                reason = str(exc)
    keeping = _Keeping(store, tier, token, began, snapshot)
    result = scan(store, options, snapshot=keeping)
    if not state.write_in_progress(token):  # else the writer may commit after this snapshot (state.py)
        keeping.save()
    return result, Pass("full", reason, _once(problems))


def _once(problems: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(problems))


class _Keeping:
    """The full pass's snapshot hook: the watermarks before anything is read, the ids at the end."""

    def __init__(self, store: Store, tier: state.Tier, token: str, began: float, inner: InSnapshot | None) -> None:
        self.store, self.tier, self.token, self.began, self.inner = store, tier, token, began, inner
        self.marks: tracker.Watermarks | None = None
        self.found: Findings | None = None
        self.table: SessionTable | None = None

    def begin(self, reads: ScanReads) -> None:
        self.marks = tracker.start(self.store, reads, _tables(reads))
        if self.inner is not None:
            self.inner.begin(reads)

    def end(self, reads: ScanReads, found: Findings) -> None:
        self.found = found
        self.table = SessionTable(reads.session_count(), reads.writer_versions())
        if self.inner is not None:
            self.inner.end(reads, found)

    def save(self) -> None:
        if self.marks is not None and self.found is not None and self.table is not None:
            _save(self.store, self.tier, self.marks, self.found, self.table, self.token, self.began)


@dataclass(frozen=True)
class SessionTable:
    """What a resumed scan keeps of the session table: its row count and the releases in it."""

    count: int
    versions: frozenset[str]


def _tables(reads: ScanReads) -> tuple[str, ...]:
    return TRACKED + (("event",) if reads.has_change_log() else ())


def _save(
    store: Store,
    tier: state.Tier,
    marks: tracker.Watermarks,
    found: Findings,
    table: SessionTable,
    token: str,
    full_at: float,
) -> None:
    """Keep the state of ``tier``; a deep pass also holds everything the quick tier keeps."""
    for kept in ("deep", "quick") if tier == "deep" else ("quick",):
        state.save(
            state.Saved(
                tier=kept,
                path=state.real_path(store.path),
                marks=marks,
                messages=frozenset(found.messages),
                parts=frozenset(found.parts) if kept == "deep" else frozenset(),
                ignored=frozenset(found.ignored_prompts),
                token=token,
                full_at=full_at,
                compacting=frozenset(found.compacting),
                versions=table.versions,
                sessions=table.count,
            )
        )


def _incremental(
    store: Store, saved: state.Saved, token: str, options: ScanOptions, *, snapshot: InSnapshot | None
) -> ScanResult:
    """The changes since ``saved``, in one snapshot; raises :class:`tracker.StartOver`."""
    quick, all_sessions, live, cancel = options.quick, options.all_sessions, options.live, options.cancel
    assert options.now is not None  # fixed by scan_resumed
    now = options.now
    liveness = None
    with store.reading() as reads:
        current = tracker.advance(store, reads, saved.marks)  # also opens the snapshot
        # a write that committed before this snapshot replaced the token before its commit
        if state.generation(store.path) != token:
            raise tracker.StartOver("ocinspect wrote to the database since")
        watched = state.watched(store.path)
        liveness = liveness_for(store.path, store.schema) if live is None else None
        if snapshot is not None:
            snapshot.begin(reads)
        found, table = _changes(reads, saved, current, watched, quick=quick, now=now)
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        sessions, activity = read_sessions(reads, found.session_ids, all_sessions=all_sessions)
        at_risk = sessions_at_risk(reads, found, sessions, now)
        if snapshot is not None:
            snapshot.end(reads, found)
    result = judge(store, found, sessions, activity, options, liveness=liveness, at_risk=at_risk)
    _save(store, saved.tier, current, found, table, token, saved.full_at)
    return result


def _changes(
    reads: Reads,
    saved: state.Saved,
    current: tracker.Watermarks,
    watched: state.Watched,
    *,
    quick: bool,
    now: int,
) -> tuple[Findings, SessionTable]:
    """The findings of a full pass of the tier, from the rows that can have changed."""
    found = Findings()
    seen = changes.read_changes(
        reads,
        saved.marks,
        current,
        found,
        parts=not quick,
        remembered={"message": saved.messages | watched.messages, "part": saved.parts | watched.parts},
    )
    # a row ocinspect made un-stuck is stuck again though the state did not hold it stuck: the
    # file was rewritten behind the watermarks (a backup copied back); other rows may be too
    if (set(found.messages) & watched.messages) - saved.messages or (
        not quick and (set(found.parts) & watched.parts) - saved.parts
    ):
        raise tracker.StartOver(
            "rows ocinspect repaired are stuck again: the database was rewritten (a backup restored in place?)"
        )
    log, touched = seen.log, set(seen.touched)
    if quick:  # the parts of unfinished turns, through part_message_id_id_idx (as a full quick pass)
        found.add_parts(reads.stuck_tools_of_turns(found.messages))
    table = _session_findings(reads, saved, current, found, touched, log, now)
    # only new rows (or logged writes) can change which prompt is a session's newest
    found.ignored_prompts |= reads.ignored_prompts(touched | saved.ignored)
    found.parts = infer_children(reads, found.parts)
    found.completed_messages = completed_messages(reads, found)
    read_holds(reads, found)  # claims and inboxes through their indexes, as a full pass reads them
    return found, table


def _session_findings(
    reads: Reads,
    saved: state.Saved,
    current: tracker.Watermarks,
    found: Findings,
    touched: set[str],
    log: tracker.Logged,
    now: int,
) -> SessionTable:
    """Compaction marks and the id-wrap writer, as a full pass finds them (``found``).

    On a file with OpenCode 1.18's sync log, every session row OpenCode writes is appended
    (``rowid`` after the tail) or named by an event, and a mark ends with a message of its
    session: only those sessions and the ones marked before are asked again, by id, and the
    releases are the kept set plus theirs. Rows deleted (the count is not the kept count plus
    the appended rows) or no log: the whole (small) session table is read, as a full pass does."""
    span = tracker.appended(saved.marks, current, "session")
    appended = reads.sessions_appended(span) if span is not None else set()
    count = reads.session_count()
    if reads.sessions_followed() and saved.sessions >= 0 and count == saved.sessions + len(appended):
        found.compacting = reads.compacting(saved.compacting | touched | log.sessions | appended)
        versions = saved.versions | reads.writer_versions(log.sessions | appended)
        found.wrap_writer = affected_writer(versions)
        if found.wrap_writer:
            found.ignored_prompts |= set(loop_leftovers(reads, now))
        return SessionTable(count, frozenset(versions))
    found.compacting = reads.compacting()
    wrap_findings(reads, found, None, now)
    return SessionTable(count, reads.writer_versions())

"""Keep a deep scan current at O(changes): read what was written since, not the whole database.

OpenCode makes a row stuck only by inserting it (a new ``pending`` tool part, a new assistant
message) and un-sticks only rows that are already known to be stuck. So after one full deep scan
(:func:`full_scan`) a :func:`refresh` reads

- new rows: ``rowid >`` the newest one seen, per table, through the rowid b-tree;
- the known stuck rows again, by id; only rows whose ``time_updated`` changed are parsed again;
- OpenCode's sync event log where it exists (events after the last one seen): every row OpenCode
  writes appends an event naming it, so updates that make a row stuck are re-checked by id too
  (a replayed event, an ``undo`` from another process);
- the ``session`` table (small, no blobs): compaction marks, titles, last activity.

Rarely, a *sweep* over ``time_updated`` (the b-tree only, never the overflow pages of ``data``)
is the safety net for writers that update rows without an event. A full deep scan is needed
when the file's identity changes (:mod:`tracker`'s start-over rule, shared with the watchdog:
:class:`FullScanNeeded`), when the user asks, and at a bounded interval (:func:`next_step`).
Every watermark is the database's own value (rowids, event rowids, ``time_updated`` with a slack
for writers whose clocks disagree), never our clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from inspector.core.db.reads.scan import ScanReads
from inspector.core.db.store import Store
from inspector.core.diagnose.children import infer_children
from inspector.core.diagnose.findings import Findings, completed_messages, read_holds
from inspector.core.diagnose.incremental import changes, tracker
from inspector.core.diagnose.incremental.resume import scan_resumed
from inspector.core.diagnose.incremental.tracker import Tail, Watermarks
from inspector.core.diagnose.options import DEFAULT_OPTIONS, ScanOptions
from inspector.core.diagnose.scan import assemble, drop_finished_since, read_sessions, sessions_at_risk
from inspector.core.model import ScanResult
from inspector.core.opencode.live import LiveStatus, detect
from inspector.core.text import now_ms

__all__ = [
    "DEFAULT_POLICY",
    "FullScanNeeded",
    "Marks",
    "Policy",
    "Tail",
    "Watched",
    "full_scan",
    "liveness_stale",
    "next_step",
    "refresh",
    "same_result",
]

# Rows a writer changed with a clock up to this far behind the newest ``time_updated`` in the
# database are still found by the sweep (clocks of processes on one machine agree; a slack
# covers a second machine on a shared file or a foreign script with its own idea of "now").
SWEEP_SLACK_MS = 15 * 60 * 1000
# A sweep that finds more changed rows than this gives way to a full scan (cheaper by then).
SWEEP_MAX_ROWS = 50_000
TRACKED = ("part", "message", "session")
Step = Literal["full", "sweep", "changes"]


# Only a full deep scan is correct (the tracker's start-over rule, or a sweep that found too much).
FullScanNeeded = tracker.StartOver


@dataclass(frozen=True)
class Marks(Watermarks):
    """The tracker's watermarks plus the deep tier's own: the sweep's ``time_updated`` per
    table and the version of every known stuck row."""

    updated: Mapping[str, int] = field(default_factory=dict)
    versions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Watched:
    """A deep scan kept current: the result, its watermarks and when (monotonic) each step ran."""

    result: ScanResult
    marks: Marks
    live: LiveStatus
    all_sessions: bool
    full_at: float
    swept_at: float
    live_at: float
    pinned_live: bool = False
    hung_after_ms: int | None = None  # the hung threshold every refresh decides verdicts with


@dataclass(frozen=True)
class Policy:
    """How often the costlier steps run (seconds); the defaults keep an idle TUI at ~0 CPU."""

    full_every_s: float = 15 * 60.0
    sweep_every_s: float = 5 * 60.0
    live_every_s: float = 5.0


DEFAULT_POLICY = Policy()


def next_step(watched: Watched | None, clock: float, policy: Policy = DEFAULT_POLICY) -> Step:
    """What a refresh at monotonic time ``clock`` should do: a full deep scan, a sweep, or changes."""
    if watched is None or clock - watched.full_at >= policy.full_every_s:
        return "full"
    if clock - watched.swept_at >= policy.sweep_every_s:
        return "sweep"
    return "changes"


def liveness_stale(watched: Watched, clock: float, policy: Policy = DEFAULT_POLICY) -> bool:
    """True when a verdict depends on a running OpenCode that was last asked too long ago: such
    a refresh is worth it even if the file did not change (OpenCode may have died meanwhile)."""
    if watched.pinned_live or clock - watched.live_at < policy.live_every_s:
        return False
    return any(d.verdict in ("live", "unknown", "waiting", "hung") for d in watched.result.stuck)


def full_scan(store: Store, options: ScanOptions = DEFAULT_OPTIONS) -> Watched:
    """A deep scan (:func:`scan.scan` itself; ``options.quick`` is ignored) plus the watermarks
    refreshes start from; unless ``options.full``, from the state the last process kept
    (:mod:`resume`: the changes since). ``options.watch_clock`` dates it for :func:`next_step`."""
    all_sessions, live, hung_after_ms = options.all_sessions, options.live, options.hung_after_ms
    started = options.watch_clock()
    marking = _Marking(store)
    result, _ = scan_resumed(store, replace(options, quick=False), snapshot=marking)
    assert marking.marks is not None and result.live is not None
    return Watched(
        result=result,
        marks=marking.marks,
        live=result.live,
        all_sessions=all_sessions,
        full_at=started,
        swept_at=started,
        live_at=started,
        pinned_live=live is not None,
        hung_after_ms=hung_after_ms,
    )


def refresh(
    store: Store,
    watched: Watched,
    options: ScanOptions = DEFAULT_OPTIONS,
    *,
    sweep: bool = False,
    recheck_live: bool = False,
    policy: Policy = DEFAULT_POLICY,
) -> Watched:
    """``watched`` brought up to date with what changed since; raises :class:`FullScanNeeded`.

    Of ``options``, a refresh uses what may change between two steps of a watch: ``live``
    (pinned liveness: tests, screenshots), ``now``, ``watch_clock`` and ``follow_signals`` (an
    event subscription's progress, see ``scan.scan``); what the watch shows (all sessions, the
    hung threshold) is the full scan's, kept in ``watched``. The steps of this one call are
    arguments: ``sweep`` adds the ``time_updated`` safety net; ``recheck_live`` asks OpenCode
    about liveness again even if no finding changed; ``policy`` says when an answer is old.
    """
    live, clock = options.live, options.watch_clock
    now = now_ms() if options.now is None else options.now
    store.require_readable()
    if watched.result.quick:
        raise ValueError("refresh needs a deep scan to start from (full_scan)")
    marks = watched.marks
    found = _findings_of(watched.result)
    versions = dict(marks.versions)
    updated = dict(marks.updated)
    with store.reading() as reads:
        current = tracker.advance(store, reads, marks)
        remembered: dict[changes.Table, set[str]] = {"part": set(found.parts), "message": set(found.messages)}
        if sweep:
            for table, ids in remembered.items():
                since = updated.get(table, 0) - SWEEP_SLACK_MS
                swept = reads.tools_updated_since(since) if table == "part" else reads.turns_updated_since(since)
                if len(swept) > SWEEP_MAX_ROWS:
                    raise FullScanNeeded(f"{len(swept)} {table} rows changed; a full scan is cheaper")
                ids.update(swept)
                updated[table] = max([updated.get(table, 0), *swept.values()])
        touched = set(
            changes.read_changes(
                reads, marks, current, found, remembered=remembered, parts=True, versions=versions
            ).touched
        )
        found.parts = infer_children(reads, found.parts)  # OpenCode 1.2/1.3 name no subagent
        found.compacting = reads.compacting()
        # only new messages can change which prompt is the newest: ask for those sessions alone
        found.ignored_prompts = reads.ignored_prompts(touched | found.ignored_prompts)
        found.completed_messages = completed_messages(reads, found)
        read_holds(reads, found)
        # a session's last activity only moves when it gets a new message
        known_activity = {
            d.id: d.last_activity
            for d in watched.result.sessions
            if d.last_activity is not None and d.id not in touched
        }
        sessions, activity = read_sessions(
            reads, found.session_ids, all_sessions=watched.all_sessions, known_activity=known_activity
        )
        # which OpenCode writes the file is re-read by the next full scan (bounded interval)
        found.wrap_writer = watched.result.wrap_writer
        at_risk = sessions_at_risk(reads, found, sessions, now)
    moment = clock()
    stuck = found.session_ids & set(sessions)
    status, live_at = watched.live, watched.live_at
    if live is not None:
        status = live
    elif not watched.pinned_live and (
        recheck_live
        or (
            _findings_changed(watched.result, found, stuck)
            # OpenCode running: ask it about the new state; not running: a fresh enough "no"
            # stands (the repair itself always asks again before it writes)
            and (watched.live.running is not False or moment - watched.live_at >= policy.live_every_s)
        )
    ):
        status, live_at = detect(store.path, {sessions[s].directory for s in stuck}, schema=store.schema), moment
        drop_finished_since(store, found, sessions, status, all_sessions=watched.all_sessions, requested=())
    if options.follow_signals is not None:  # the event streams' newest progress (watch mode)
        status = options.follow_signals.merge(status)
    result = assemble(
        store,
        found,
        sessions,
        activity,
        status,
        quick=False,
        now=now,
        all_sessions=watched.all_sessions,
        at_risk=at_risk,
        hung_after_ms=watched.hung_after_ms,
    )
    kept = {key: value for key, value in versions.items() if key in found.parts or key in found.messages}
    return replace(
        watched,
        result=result,
        marks=replace(current, updated=updated, versions=kept),
        live=status,
        swept_at=moment if sweep else watched.swept_at,
        live_at=live_at,
    )


def same_result(a: ScanResult | None, b: ScanResult | None) -> bool:
    """Equal apart from when they were taken (nothing to redraw)."""
    if a is None or b is None:
        return a is b
    return replace(a, scanned_at=b.scanned_at) == b


# -- watermarks ------------------------------------------------------------------------------
class _Marking:
    """The scan's snapshot hook: the watermarks first (nothing written meanwhile can slip
    between the scan and the next refresh), the versions of what it found last."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.marks: Marks | None = None

    def begin(self, reads: ScanReads) -> None:
        tables = TRACKED + (("event",) if reads.has_change_log() else ())
        start = tracker.start(self.store, reads, tables)
        # the sweep's first watermark: a database value never above the true newest one (a
        # lower one only makes the sweep look at more rows), without walking the whole table
        self.marks = Marks(**vars(start), updated=reads.recent_updates())

    def end(self, reads: ScanReads, found: Findings) -> None:
        assert self.marks is not None
        # read in the scan's first snapshot: never newer than what was parsed, so a row that
        # changed since is read again by the next refresh
        self.marks = replace(
            self.marks, versions=reads.tool_versions(found.parts) | reads.turn_versions(found.messages)
        )


# -- reading what changed ----------------------------------------------------------------------
def _findings_of(result: ScanResult) -> Findings:
    """The raw findings behind a result (the diagnosis keeps every one of them)."""
    found = Findings()
    for diag in result.sessions:
        for message in diag.unfinished_messages:
            found.messages[message.id] = message
        for part in diag.stuck_parts:
            found.parts[part.id] = replace(part, message_completed=False) if part.message_completed else part
        if "ignores-prompts" in diag.patterns:
            found.ignored_prompts.add(diag.id)
    return found


def _findings_changed(result: ScanResult, found: Findings, stuck: set[str]) -> bool:
    """Did anything become stuck or unstuck (then liveness is asked again)?"""
    before = {(p.id, p.status) for d in result.sessions for p in d.stuck_parts}
    before |= {(m.id, "") for d in result.sessions for m in d.unfinished_messages}
    after = {(p.id, p.status) for p in found.parts.values()} | {(m, "") for m in found.messages}
    return before != after or {d.id for d in result.stuck} != stuck

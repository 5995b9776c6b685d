"""``ocinspect watch``: stop sessions hung longer than a threshold, through OpenCode, unattended.

Each :meth:`Watchdog.poll` is cheap, so it can run every second next to ``opencode serve``:

1. **Candidates** (sessions with an unfinished assistant turn) are kept incrementally: one quick
   pass over ``message`` at start (and every ``resync_ms``), then, only when the database file or
   its WAL changed (two ``stat`` calls), the rows appended since (``tracker.appended``) plus a
   by-id re-check of the known candidates. A hung session writes nothing, so an idle database
   costs no SQL at all. The quick pass starts over by the deep tier's rule (``tracker``: the
   file replaced, the schema changed, the newest row gone or renumbered).
2. **Liveness** is asked only for the candidates' directories (``/session/status`` boots an
   OpenCode instance for any directory it is asked about, so we never ask about others).
3. Only the **busy** candidates are diagnosed, through indexes (their unfinished turns, the parts
   of those turns, their newest rows): O(busy sessions), never a full scan.
   With ``signals`` (the CLI passes one), each server's ``GET /event`` stream is followed and
   the progress it shows (part deltas and updates) counts as motion (``opencode/signals.py``).
4. Hung chains (every shape: tool silent, model stalled, retry loop) are aborted through their server (``abort.abort_chain``); a chain that did not
   settle is tried again only after another threshold has passed.
5. Each stuck session (stale, hung, waiting) is reported once, when it becomes stuck
   (``watch_findings``): a watch with no threshold at all only reports. The idle candidates'
   diagnoses are kept across looks (``watch_idle``): read when a session turns idle or what it
   was read from moves, once for the findings and the metrics alike.
6. With ``reject_after_ms``, permissions and questions pending longer than that are rejected
   through the server holding them (``answer.answer_request``; never allowed); a request whose
   age nobody can tell (no time from the server, no waiting tool part) is left alone, and one
   that did not settle is tried again only after another threshold.
6. With an ``observer`` (``watch --metrics``), each look is reported after it, with what it
   already computed (``live``, ``result``, ``candidates``, ``signature``): the metrics add no
   pass over the database. With only an observer, the watch acts on nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from inspector.core.db.filewatch import Signature, file_signature
from inspector.core.db.store import Store, open_store
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.core.diagnose.incremental import tracker
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import DatabaseLocked, SessionNotFound
from inspector.core.model import Diagnosis, ScanResult
from inspector.core.opencode.live import LiveStatus, detect
from inspector.core.opencode.signals import Signals
from inspector.core.repair.abort import (
    AbortOutcome,
    AbortTarget,
    abort_chain,
    targets_in,
)
from inspector.core.repair.answer import AnswerOutcome, answer_request, pending_of
from inspector.core.repair.hook import HookProblem
from inspector.core.repair.watch_findings import Findings
from inspector.core.repair.watch_idle import IdleSessions
from inspector.core.text import now_ms

RESYNC_MS = 60_000
TRACKED = ("message",)

EventKind = Literal[
    "aborted",
    "not-stopped",
    "rejected",
    "not-rejected",
    "notice",
    "finding",
    "hook-failed",
    "hook-timeout",
    "hook-dropped",
]


@dataclass(frozen=True)
class WatchEvent:
    """One line of ``watch`` output: a new finding, an abort or a reject and its outcome, a hook
    that went wrong (``hook``), or a notice."""

    time: int
    kind: EventKind
    message: str
    target: AbortTarget | None = None
    outcome: AbortOutcome | None = None
    answer: AnswerOutcome | None = None
    finding: Diagnosis | None = None
    hook: HookProblem | None = None


@dataclass(frozen=True)
class Look:
    """One :meth:`Watchdog.poll`, for an observer (``watch --metrics``): when, whether the
    database could be read (``ok``; False: it was busy, nothing was decided), how long it took."""

    time: int
    ok: bool
    seconds: float
    events: tuple[WatchEvent, ...]


class LookObserver(Protocol):
    """Told about every look, after it; reads what the watchdog saw from the watchdog itself
    (``candidates``, ``live``, ``result``, ``signature``), so a look costs the same with or without one."""

    def looked(self, dog: Watchdog, look: Look) -> None: ...

    def close(self) -> None: ...


@dataclass
class Candidates:
    """Unfinished assistant turns (message id -> session id), kept current incrementally."""

    messages: dict[str, str] = field(default_factory=dict)
    marks: tracker.Watermarks | None = None
    synced_at: int | None = None  # None: a full pass is due (never made, or the tracker started over)
    follows: bool = True  # the generation's rows tell what was appended (else: a full pass per change)
    # what the last pass saw move: the message rows appended since the pass before (a span), or
    # that it started over (the rows it followed may not be what the file holds)
    appended: Mapping[str, int] | None = None
    started_over: bool = True

    @property
    def sessions(self) -> set[str]:
        return set(self.messages.values())

    def full(self, store: Store, now: int) -> None:
        """One quick-tier pass over ``message`` (start-up, every ``resync_ms``, on a start-over)."""
        with store.reading() as reads:  # one snapshot: nothing written meanwhile is missed
            marks = tracker.start(store, reads, TRACKED)
            self.follows = reads.watermark(TRACKED, {}).follows_changes
            self.messages = dict(reads.open_turns())
            self.appended, self.started_over = None, True
            if self.marks is not None and self.follows:
                try:  # the same file as the last pass's: say what was appended since
                    self.appended = tracker.appended(self.marks, tracker.advance(store, reads, self.marks), "message")
                    self.started_over = False
                except tracker.StartOver:
                    pass
        self.marks, self.synced_at = marks, now

    def update(self, store: Store) -> None:
        """Rows appended since the last look, and a re-check of the turns we know; when the
        tracker says the file is not the one it followed, ``synced_at`` becomes None."""
        if self.marks is None or not self.follows:
            self.synced_at = None
            return
        with store.reading() as reads:
            try:
                marks = tracker.advance(store, reads, self.marks)
            except tracker.StartOver:
                self.marks, self.synced_at = None, None
                return
            span = tracker.appended(self.marks, marks, "message")
            self.appended, self.started_over = span, False
            if span is not None:
                self.messages.update(reads.open_turns_appended(span))
            self.messages = {mid: self.messages[mid] for mid in reads.turns_still_open(self.messages)}
        self.marks = marks


class Watchdog:
    """Polls one database; :meth:`poll` returns what it did (the CLI prints one line each)."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        abort_after_ms: int | None,
        reject_after_ms: int | None = None,
        hung_after_ms: int = DEFAULT_HUNG_AFTER_MS,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        settle_timeout_s: float = 10.0,
        resync_ms: int = RESYNC_MS,
        clock: Callable[[], int] = now_ms,
        detect_live: Callable[..., LiveStatus] | None = None,
        abort: Callable[..., AbortOutcome] = abort_chain,
        answer: Callable[..., AnswerOutcome] = answer_request,
        signals: Signals | None = None,
        observer: LookObserver | None = None,
    ) -> None:
        self.path = Path(db_path)
        self.abort_after_ms = abort_after_ms
        self.observer = observer
        self.reject_after_ms = reject_after_ms
        # what a finding calls hung: the abort threshold when aborting (the one acted on)
        self.hung_after_ms = abort_after_ms if abort_after_ms is not None else hung_after_ms
        self.answer = answer
        self.settle_timeout_s = settle_timeout_s
        self.resync_ms = resync_ms
        self.clock = clock
        self.abort = abort
        self.signals = signals  # the servers' event streams: progress a row does not show yet
        self.store = open_store(self.path, busy_timeout_ms=busy_timeout_ms)
        self.store.require_readable()  # each generation asks, stops and answers its own servers
        self.detect_live = detect_live or partial(detect, schema=self.store.schema)
        self.candidates = Candidates()
        self.findings = Findings()
        self.idle = IdleSessions()  # the idle candidates' diagnoses, for the findings and an observer
        self.directories: dict[str, str] = {}
        self._signature: Signature | None = None
        self._attempted: dict[str, int] = {}
        self._answered: dict[str, int] = {}  # request id -> when a reject was last sent
        self._last_notice = ""
        self.polls = 0
        self.sql_polls = 0  # polls that had to read the database (for tests and the bench)
        self.live: LiveStatus | None = None  # the last look's liveness answer (None: no candidate)
        self.result: ScanResult | None = None  # the last look's scan of the busy candidates

    @property
    def signature(self) -> Signature | None:
        """The database's and its WAL's (mtime, size) at the last look that read them."""
        return self._signature

    def close(self) -> None:
        if self.observer is not None:
            self.observer.close()
        if self.signals is not None:
            self.signals.close()
        self.store.dispose()

    def poll(self) -> list[WatchEvent]:
        """Look once; abort what is hung; never raises for a busy database (says so instead)."""
        now = self.clock()
        self.polls += 1
        started = time.monotonic()
        ok = True
        try:
            events = self._poll(now)
        except DatabaseLocked as exc:
            ok = False
            events = self._notice(now, f"database busy, will look again: {exc}")
        if self.observer is not None:
            self.observer.looked(self, Look(now, ok, time.monotonic() - started, tuple(events)))
        return events

    def _poll(self, now: int) -> list[WatchEvent]:  # noqa: C901
        self.live, self.result = None, None
        signature = file_signature(self.path)
        resync = self.candidates.synced_at is None or now - self.candidates.synced_at >= self.resync_ms
        if resync or signature != self._signature:
            self.sql_polls += 1
            if resync:
                self.candidates.full(self.store, now)
            else:
                self.candidates.update(self.store)
                if self.candidates.synced_at is None:
                    self.candidates.full(self.store, now)
            self._signature = signature
            self._learn_directories()
            self.idle.moved(self.store, started_over=self.candidates.started_over, appended=self.candidates.appended)
        sessions = self.candidates.sessions
        if not sessions:
            self.idle.forget()
            self.findings.look(self.store, {}, None, None, now, self.idle)  # forgets what finished
            return self._notice(now, "")
        live = self.detect_live(self.path, {self.directories[s] for s in sessions if s in self.directories})
        if self.signals is not None:
            live = self.signals.merge(live)
        self.live = live
        idle: dict[str, set[str]] = {}
        for message, session in self.candidates.messages.items():
            if session not in live.busy:
                idle.setdefault(session, set()).add(message)
        self.idle.settle({sid: frozenset(turns) for sid, turns in idle.items()}, live)
        events = self._notice(now, _live_notice(live))
        busy = sorted(live.busy & sessions)
        result: ScanResult | None = None
        if busy:
            try:
                result = scan(
                    self.store,
                    ScanOptions(session_ids=busy, quick=True, live=live, now=now, hung_after_ms=self.hung_after_ms),
                )
            except SessionNotFound:  # deleted between two looks: the next poll knows
                return events
        self.result = result
        events += self._found(live, result, now)
        if result is None:
            return events
        if self.reject_after_ms is not None:
            events += self._reject_waiting(result, live, now, self.reject_after_ms)
        if self.abort_after_ms is None:
            return events
        for target in targets_in(result, live):
            if self.signals is not None and self.signals.warming(target.port, target.directory):
                continue  # its server's event stream may still show progress: look again next poll
            last = self._attempted.get(target.root)
            if last is not None and now - last < self.abort_after_ms:
                continue
            self._attempted[target.root] = now
            outcome = self.abort(self.store, target, settle_timeout_s=self.settle_timeout_s)
            kind: EventKind = "aborted" if outcome.stopped else "not-stopped"
            events.append(WatchEvent(self.clock(), kind, outcome.detail, target, outcome))
        return events

    def _found(self, live: LiveStatus, busy: ScanResult | None, now: int) -> list[WatchEvent]:
        candidates = {sid: self.directories.get(sid, "") for sid in self.candidates.sessions}
        found = self.findings.look(self.store, candidates, live, busy, now, self.idle)
        return [WatchEvent(now, "finding", diag.live_reason, finding=diag) for diag in found]

    def _reject_waiting(self, result: ScanResult, live: LiveStatus, now: int, after_ms: int) -> list[WatchEvent]:
        """Reject (never allow) what busy sessions have been asked for longer than ``after_ms``."""
        events: list[WatchEvent] = []
        for diag in result.sessions:
            for pending in pending_of(diag, live):
                if pending.since is None or now - pending.since < after_ms:
                    continue
                last = self._answered.get(pending.id)
                if last is not None and now - last < after_ms:
                    continue
                self._answered[pending.id] = now
                done = self.answer(self.store, pending, "reject", settle_timeout_s=self.settle_timeout_s)
                kind: EventKind = "rejected" if done.settled else "not-rejected"
                events.append(WatchEvent(self.clock(), kind, done.detail, answer=done))
        return events

    def _learn_directories(self) -> None:
        missing = sorted(self.candidates.sessions - set(self.directories))
        if not missing:
            return
        with self.store.reading() as reads:
            self.directories.update(reads.session_directories(missing))

    def _notice(self, now: int, message: str) -> list[WatchEvent]:
        """A notice only when the situation changes (not on every poll)."""
        if message == self._last_notice:
            return []
        self._last_notice = message
        return [WatchEvent(now, "notice", message)] if message else []


def _live_notice(live: LiveStatus) -> str:
    if live.running is False:
        return "OpenCode is not running on this database"
    if live.running is None or live.unknown_directories:
        return live.unknown_reason or live.detail
    return ""

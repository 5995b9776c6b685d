"""The one recovery sequence every front end calls: ``prepare`` → (confirm) → ``execute``; ``undo``.

Every safety decision is made here, once, for the CLI, the TUI and scripts alike: ``--read-only``
refuses, live/unknown/hung sessions and another workspace's log are refused (with a typed
:data:`~inspector.core.model.Hint` for what would get past it), hung chains are aborted through
OpenCode and never written behind its back, sessions waiting for a person are answered through
OpenCode (reject; allow once only for sessions a person named) or refused, never written, the plan
names the id-wrap risk, undo refuses while OpenCode runs on the database. A front end renders a :class:`Prepared` (and asks), hands it to
:func:`execute`, and renders the :class:`Outcome`; it never assembles these steps itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from inspector.core.db.ranges import Progress
from inspector.core.db.store import (
    Store,
    backup,
    check_backup_target,
    check_writable,
    open_store,
    roll_back_hot_journal,
)
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.core.diagnose.incremental import state
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.diagnose.tree import chain_lookup
from inspector.core.errors import RepairRefused, SessionMovedOn, WritesDisabled
from inspector.core.model import Answer, PendingRequest, Plan, RunResult, ScanResult, Skip, UndoResult
from inspector.core.opencode.live import LiveStatus, detect
from inspector.core.repair import recover
from inspector.core.repair.abort import (
    SETTLE_TIMEOUT_S,
    AbortOutcome,
    AbortTarget,
    abort_all,
    find_hung,
    without_targets,
)
from inspector.core.repair.answer import AnswerOutcome, answer_all, pending_of, waiting_reason
from inspector.core.repair.journal import JournalProblem, JournalRun, check_dir, database_of_run, find_run, journal_dir
from inspector.core.text import local_time

Status = Literal["ok", "partial", "refused"]
READ_ONLY = "opened read-only: recovery and undo are disabled"


@dataclass(frozen=True)
class Request:
    """What a person asked for; the defaults are the safe choice for every flag."""

    database: Path
    session_ids: tuple[str, ...] | None = None  # None: every stuck session
    force: bool = False  # also sessions OpenCode is (or may be) live on
    abort_hung: bool = False  # stop hung chains through OpenCode instead of refusing them
    reject_waiting: bool = False  # reject, through OpenCode, what waiting sessions are asked
    allow_once: tuple[str, ...] = ()  # sessions whose pending permission a person allowed, once
    direct: bool = False  # write the file even where a running OpenCode could do it
    dry_run: bool = False
    read_only: bool = False
    backup_to: Path | None = None
    hung_after_ms: int = DEFAULT_HUNG_AFTER_MS
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    journal_directory: Path | None = None
    settle_timeout_s: float = SETTLE_TIMEOUT_S
    live: LiveStatus | None = None  # a pinned liveness answer (tests, screenshots)
    now: int | None = None
    result: ScanResult | None = None  # a scan the caller just made, reused for the plan


@dataclass(frozen=True)
class Prepared:
    """The plan to write and the hung chains to abort first, decided and not yet done."""

    request: Request
    plan: Plan
    aborts: tuple[AbortTarget, ...] = ()
    answers: tuple[tuple[PendingRequest, Answer], ...] = ()  # sent through OpenCode before the writes

    @property
    def is_empty(self) -> bool:
        """Nothing to write, abort or answer (refusals may still explain why)."""
        return self.plan.is_empty and not self.aborts and not self.answers

    @property
    def refused(self) -> tuple[Skip, ...]:
        return self.plan.refused

    def forced(self, force: bool) -> Prepared:
        """The same request planned again with ``force`` on or off (the TUI's toggle)."""
        return prepare(replace(self.request, force=force))

    def allowing(self, allow: bool) -> Prepared:
        """The same request planned again allowing once (``allow``) the pending permissions it
        answers, or rejecting them (the TUI's deliberate choice in its answer dialog)."""
        sessions = tuple(dict.fromkeys(r.session_id for r, _ in self.answers if r.kind == "permission"))
        return prepare(replace(self.request, allow_once=sessions if allow else ()))


@dataclass(frozen=True)
class Outcome:
    """What :func:`execute` did: the run (or dry run), the aborts, what it did not foresee."""

    prepared: Prepared
    result: RunResult
    aborted: tuple[AbortOutcome, ...] = ()
    unforeseen: tuple[Skip, ...] = ()  # rows that changed under the run, a lock, a cancel
    backup: Path | None = None
    answered: tuple[AnswerOutcome, ...] = ()

    @property
    def not_stopped(self) -> tuple[AbortOutcome, ...]:
        return tuple(o for o in self.aborted if not o.stopped)

    @property
    def not_answered(self) -> tuple[AnswerOutcome, ...]:
        return tuple(o for o in self.answered if not o.settled)

    @property
    def undo_run_id(self) -> str | None:
        """The run to undo, only when it committed something (an empty run leaves none)."""
        return self.result.run_id if self.result.sessions else None

    @property
    def through_opencode(self) -> bool:
        return any(way == "opencode" for _, way in self.result.via)

    @property
    def status(self) -> Status:
        """``refused``: something asked for was refused; ``partial``: some unit was skipped, a
        hung chain did not stop or an answer did not settle; ``ok``: everything asked for is done."""
        if self.prepared.refused:
            return "refused"
        return "partial" if self.unforeseen or self.not_stopped or self.not_answered else "ok"


def prepare(request: Request) -> Prepared:
    """Decide what a recovery would do, writing nothing (a hot rollback journal aside: it is
    rolled back first, as OpenCode's own next open would, unless this is a dry run)."""
    if request.read_only:
        raise WritesDisabled(READ_ONLY)
    if not request.dry_run:
        roll_back_hot_journal(request.database, busy_timeout_ms=request.busy_timeout_ms)
    wanted = None if request.session_ids is None else list(request.session_ids)
    store = open_store(request.database, busy_timeout_ms=request.busy_timeout_ms)
    try:
        store.require_writable()
        aborts: tuple[AbortTarget, ...] = ()
        if request.abort_hung:
            aborts = find_hung(
                store, wanted, hung_after_ms=request.hung_after_ms, live=request.live, now=request.now
            ).targets
        result = request.result
        if result is None:  # the scan the plan would make; its liveness also says who waits
            options = ScanOptions(live=request.live, now=request.now, hung_after_ms=None)
            result = scan(store, options) if wanted is None else scan_related(store, wanted, options)
        plan = recover.plan(
            store, wanted, force=request.force, direct=request.direct, live=request.live, now=request.now, result=result
        )
        plan = without_targets(plan, aborts)
        if plan.refused and not request.abort_hung:
            refused = [s.id for s in plan.refused]
            hung = find_hung(store, refused, hung_after_ms=request.hung_after_ms, live=request.live, now=request.now)
            plan = explain_hung(plan, hung.result)
        plan, answers = settle_waiting(plan, result, request)
    finally:
        store.dispose()
    prepared = Prepared(request=request, plan=plan, aborts=aborts, answers=answers)
    preflight(prepared)
    return prepared


def preflight(prepared: Prepared) -> None:
    """Refuse here what :func:`execute` would refuse before its first write (the backup target,
    a database it cannot write, the journal directory), so a dry run says it too."""
    request, plan = prepared.request, prepared.plan
    if prepared.is_empty:
        return  # execute writes nothing, backs nothing up
    if request.backup_to is not None:
        check_backup_target(Path(request.backup_to))
    if any(unit.via_port is None for unit in plan.units):  # through OpenCode the file is only read
        check_writable(Path(request.database))
    if plan.units:
        check_dir(request.journal_directory or journal_dir())


def settle_waiting(
    plan: Plan, result: ScanResult, request: Request
) -> tuple[Plan, tuple[tuple[PendingRequest, Answer], ...]]:
    """Sessions (or subagent chains) waiting for a person are never written: their requests are
    answered when asked for (``reject``; ``once`` only for a session in ``allow_once``, and only a
    permission), else they are refused with what is asked. ``--force`` does not write them either."""
    diagnoses = {d.id: d for d in result.sessions}
    live = result.live
    now = request.now if request.now is not None else result.scanned_at
    named = list(dict.fromkeys([*plan.session_ids, *(s.id for s in plan.refused)]))
    answers: dict[str, tuple[PendingRequest, Answer]] = {}
    answered: set[str] = set()  # sessions whose whole chain's requests get an answer
    skips: dict[str, Skip] = {}
    chain_of = chain_lookup(diagnoses)
    # Per chain, not per member: every member of a chain thousands deep may be named.
    asked: dict[str, tuple[list[tuple[str, tuple[PendingRequest, ...]]], list[str]]] = {}
    for sid in named:
        chain = chain_of(sid) or [sid]
        if chain[0] not in asked:
            found_by = [(member, pending_of(diagnoses.get(member), live)) for member in chain]
            asked[chain[0]] = (
                [(m, found) for m, found in found_by if found],
                [
                    m
                    for m in chain
                    if (live is not None and m in live.waiting)
                    or (m in diagnoses and diagnoses[m].verdict == "waiting")
                ],
            )
        asking, said = asked[chain[0]]
        if not asking:
            if said:  # waiting, but nobody said what is asked: nothing to answer, still never written
                skips[sid] = Skip(
                    sid,
                    "waiting for a person's answer (OpenCode did not say what is asked); "
                    "it is live, so it is not written",
                    kind="waiting",
                )
            continue
        open_requests: list[PendingRequest] = []
        for _, found in asking:
            for pending in found:
                choice = choose_answer(pending, request)
                if choice is None:
                    open_requests.append(pending)
                else:
                    answers.setdefault(pending.id, (pending, choice))
        if open_requests:
            via = next((m for m, _ in asking if m != sid), None)
            skips[sid] = Skip(sid, waiting_reason(open_requests, now, via=via), kind="waiting", hint="reject-waiting")
        else:
            answered.add(sid)
    if not skips and not answered and not request.allow_once:
        return plan, ()
    blocked = set(skips) | answered
    refused = tuple(skips.get(s.id, s) for s in plan.refused if s.id not in answered)
    already = {s.id for s in plan.refused}
    refused += tuple(skip for sid, skip in skips.items() if sid not in already)
    allowed = {r.session_id for r, a in answers.values() if a == "once"}
    askers = {r.session_id for r in (live.requests if live is not None else ())}
    askers |= {d.id for d in result.sessions if d.waiting_on}

    def not_allowed(sid: str) -> Skip:
        reason = (
            "not allowed: it is not among the sessions to recover"
            if sid in askers
            else "nothing to allow: it waits on no permission"
        )
        return Skip(sid, reason, kind="waiting")

    nothing = plan.nothing_to_do + tuple(
        not_allowed(sid) for sid in request.allow_once if sid not in allowed and sid not in skips
    )
    plan = replace(
        plan,
        units=tuple(u for u in plan.units if not blocked & set(u.session_ids)),
        refused=refused,
        nothing_to_do=nothing,
    )
    return plan, tuple(answers.values())


def choose_answer(pending: PendingRequest, request: Request) -> Answer | None:
    """``once`` only where a person allowed this session's permission; ``reject`` when asked."""
    if pending.kind == "permission" and pending.session_id in request.allow_once:
        return "once"
    return "reject" if request.reject_waiting else None


def explain_hung(plan: Plan, result: ScanResult) -> Plan:
    """Refusals of hung sessions say so: stopping them through OpenCode is the way past."""
    hung = {d.id: d for d in result.sessions if d.verdict == "hung"}
    if not any(s.id in hung for s in plan.refused):
        return plan
    refused = tuple(
        Skip(s.id, f"hung: {hung[s.id].live_reason}", kind="hung", hint="abort-hung") if s.id in hung else s
        for s in plan.refused
    )
    return replace(plan, refused=refused)


def execute(
    prepared: Prepared,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Do what ``prepared`` says: backup (if asked), abort the hung chains through OpenCode,
    then write the plan (journaled, compare-and-set). A dry run or an empty plan writes nothing."""
    request, plan = prepared.request, prepared.plan
    if request.dry_run or prepared.is_empty:
        return Outcome(prepared, replace(recover.dry_run(plan), dry_run=request.dry_run))
    copy = backup(request.database, request.backup_to) if request.backup_to else None
    aborted: tuple[AbortOutcome, ...] = ()
    answered: tuple[AnswerOutcome, ...] = ()
    state.note_write(request.database, writing=True)  # every kept scan state of the file is stale (state.py)
    try:
        if prepared.aborts or prepared.answers:
            store = open_store(request.database, busy_timeout_ms=request.busy_timeout_ms)
            try:
                answered = answer_all(store, prepared.answers, settle_timeout_s=request.settle_timeout_s)
                aborted = abort_all(store, prepared.aborts, settle_timeout_s=request.settle_timeout_s)
            finally:
                store.dispose()
        result = recover.apply(
            plan,
            journal_directory=request.journal_directory,
            busy_timeout_ms=request.busy_timeout_ms,
            progress=progress,
            cancel=cancel,
            now=request.now,
        )
    finally:
        # the rows it may have made un-stuck: a resumed scan that finds one stuck again knows
        # the file was rewritten behind its watermarks (a backup copied back in place)
        state.note_write(
            request.database,
            rows=[(c.table, c.row_id) for u in plan.units for c in u.changes if c.table in ("message", "part")],
        )
    return Outcome(prepared, result, aborted, plan.unforeseen(result), copy, answered)


@dataclass(frozen=True)
class UndoRequest:
    """Which run to put back (``None``: the last one on this database) and how. ``database``
    ``None`` with a named run: the database the journal says that run was made on."""

    database: Path | None
    run_id: str | None = None
    force: bool = False  # even while OpenCode runs on the database, or a session moved on since the run
    read_only: bool = False
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    journal_directory: Path | None = None
    live: LiveStatus | None = None
    now: int | None = None


@dataclass(frozen=True)
class UndoPrepared:
    """The run that would be undone and what it would restore; nothing is written yet."""

    request: UndoRequest
    run: JournalRun
    titles: Mapping[str, str] = field(default_factory=dict)  # session id -> title, to show what is undone

    @property
    def sessions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for unit in self.run.units for s in unit.get("sessions", ())))

    @property
    def rows(self) -> int:
        return sum(len(unit.get("changes", ())) for unit in self.run.units)


def prepare_undo(request: UndoRequest, problems: list[JournalProblem] | None = None) -> UndoPrepared:
    """Refuse what is unsafe (read-only, OpenCode running unless forced, a run already undone or
    damaged, a session that got messages after the run unless forced), find the run; journal
    files that are not readable runs are added to ``problems``."""
    if request.read_only:
        raise WritesDisabled(READ_ONLY)
    directory = request.journal_directory or journal_dir()
    if request.database is None:
        if request.run_id is None:
            raise ValueError("undo needs a database or a run id")
        request = replace(request, database=database_of_run(directory, request.run_id))
    assert request.database is not None
    path = Path(request.database)
    roll_back_hot_journal(path, busy_timeout_ms=request.busy_timeout_ms)
    store = open_store(path, busy_timeout_ms=request.busy_timeout_ms)  # the file and schema first
    try:
        store.require_writable()
        live = request.live if request.live is not None else detect(path, schema=store.schema)
        if live.running is not False and not request.force:
            raise RepairRefused(f"{live.detail or 'OpenCode may be running'}; undo refused", hint="force")
        run = find_run(directory, request.run_id, str(path), problems)
        prepared = UndoPrepared(request=request, run=run)
        if not request.force and not run.interrupted:
            refuse_moved_on(store, run, prepared.sessions)
        return replace(prepared, titles=session_titles(store, prepared.sessions))
    finally:
        store.dispose()


MOVED_ON_NAMED = 3  # newer messages named in the refusal; the rest are counted


def refuse_moved_on(store: Store, run: JournalRun, sessions: Sequence[str]) -> None:
    """``SessionMovedOn`` when a session of ``run`` got messages after it: the person went on
    (a new prompt, its reply) and the run's old rows put back would make the session stuck again."""
    changed = {str(c.get("id")) for unit in run.units for c in unit.get("changes", ())}
    with store.reading() as reads:
        found = reads.messages_created_after(list(sessions), run.created)
    newer = [(m.session_id, m.id, m.time_created) for m in found if m.id not in changed]
    if not newer:
        return
    newer.sort(key=lambda row: (row[2], row[1]))
    moved = list(dict.fromkeys(sid for sid, _, _ in newer))
    named = ", ".join(f"{mid} at {local_time(at)}" for _, mid, at in newer[:MOVED_ON_NAMED])
    more = f" and {len(newer) - MOVED_ON_NAMED} more" if len(newer) > MOVED_ON_NAMED else ""
    whose = f"session {moved[0]}" if len(moved) == 1 else f"sessions {', '.join(moved)}"
    raise SessionMovedOn(
        f"{whose} moved on after run {run.run_id}: {len(newer)} newer message(s) ({named}{more}); its old "
        "rows put back would leave it stuck again behind them; undo refused",
        newer=tuple(newer),
    )


def session_titles(store: Store, session_ids: Sequence[str]) -> dict[str, str]:
    """Titles of ``session_ids`` as the database holds them now (the text is data: shown escaped)."""
    with store.reading() as reads:
        return reads.session_titles(list(session_ids))


def execute_undo(prepared: UndoPrepared) -> UndoResult:
    """Put the run's before-images back where rows still hold what the run wrote."""
    request = prepared.request
    assert request.database is not None  # prepare_undo found it
    # undo puts stuck rows back below every watermark: no kept scan state may be trusted after it
    state.note_write(request.database, writing=True)
    try:
        return recover.undo(
            request.database,
            prepared.run.run_id,
            journal_directory=request.journal_directory,
            busy_timeout_ms=request.busy_timeout_ms,
            now=request.now,
        )
    finally:
        state.note_write(request.database)


def undo(request: UndoRequest, problems: list[JournalProblem] | None = None) -> UndoResult:
    """:func:`prepare_undo` then :func:`execute_undo` (the CLI asks no question before undo)."""
    return execute_undo(prepare_undo(request, problems))


__all__ = [
    "Outcome",
    "Prepared",
    "Request",
    "UndoPrepared",
    "UndoRequest",
    "choose_answer",
    "execute",
    "execute_undo",
    "explain_hung",
    "preflight",
    "prepare",
    "prepare_undo",
    "settle_waiting",
    "undo",
]

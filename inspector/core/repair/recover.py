"""The one cleanup core: ``plan()`` says exactly which rows change and how; ``apply()`` writes it.

The rows are the ones the database's own OpenCode writes when it closes an interrupted turn;
the generation says which (``Generation.plan_unit``: 1.x in ``db/v1/plan.py``, 2.x in
``db/v2/plan.py``). A tool is never marked ``completed``: a fake output would poison what the
model reads next.

Safety: one ``BEGIN IMMEDIATE`` transaction per unit (a session with its subagent chain); every
write is a compare-and-set against the before-image shown in the plan (a row the plan adds: only
where none is yet), so a row OpenCode touched since makes the whole unit roll back and be
reported, never overwritten; before-images are fsynced to the journal before the first commit.

Where the database keeps OpenCode's sync event log (1.18), each changed row's event is appended
in the same transaction, exactly as OpenCode's ``SyncEvent.run`` would (see ``eventlog.py``), and
the session's ``event_sequence.seq`` is part of the compare-and-set; ``undo`` appends events for
the rows it restores. Otherwise a workspace sync replaying the log would bring the session back
stuck.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from inspector.core.db.deep import too_deep
from inspector.core.db.eventlog import EventIds
from inspector.core.db.ranges import Progress
from inspector.core.db.reads.repair import RowChecks
from inspector.core.db.store import Store, open_store
from inspector.core.db.writes import Writes, writing
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.patterns import unfixable_reason
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.diagnose.tree import chain_of
from inspector.core.errors import CorruptData, DatabaseLocked, InspectorError, NotWritable, SessionNotFound
from inspector.core.model import (
    Diagnosis,
    LogCursor,
    Plan,
    PlanUnit,
    RowChange,
    RunResult,
    ScanResult,
    Skip,
    SkipKind,
    UndoResult,
)
from inspector.core.opencode.live import LiveStatus
from inspector.core.repair.cas import LOG_MOVED, Conflict, apply_change
from inspector.core.repair.journal import (
    CUT_OFF,
    JournalProblem,
    JournalRun,
    JournalWriter,
    append,
    damaged_run,
    find_run,
    journal_dir,
    new_run_id,
)
from inspector.core.text import now_ms, printable

# Verdicts that keep a session out of a plan unless forced: OpenCode is (or may be) on it.
REFUSED_VERDICTS: dict[str, SkipKind] = {"live": "live", "unknown": "unknown", "hung": "hung", "waiting": "waiting"}


def plan(  # noqa: C901
    store: Store,
    session_ids: Sequence[str] | None = None,
    *,
    force: bool = False,
    result: ScanResult | None = None,
    live: LiveStatus | None = None,
    now: int | None = None,
    direct: bool = False,
) -> Plan:
    """Build the repair plan for ``session_ids`` (``None`` = every stuck session).

    ``result`` reuses a scan the caller already has (the TUI); otherwise a deep scan runs.
    Live or unknown sessions are refused unless ``force``; nothing is written here. A stale
    session that a running OpenCode (≥ 1.18) serves is routed through that server's API
    (``via_port``) unless ``direct``: then its open clients see the repair.
    """
    now = now_ms() if now is None else now
    generation = store.require_writable()
    if result is None:
        result = (
            scan(store, ScanOptions(live=live, now=now, hung_after_ms=None))
            if session_ids is None
            else scan_related(store, session_ids, ScanOptions(live=live, now=now, hung_after_ms=None))
        )
    diagnoses = {d.id: d for d in result.sessions}
    if session_ids is not None:
        missing = [s for s in session_ids if s not in diagnoses]
        if missing:
            raise SessionNotFound(f"no session {printable(missing[0])} in {store.path}")
        requested = list(dict.fromkeys(session_ids))
    else:
        requested = [d.id for d in result.sessions if d.is_stuck]
    units: list[list[str]] = []
    placed: set[str] = set()
    nothing: list[Skip] = []
    refused: list[Skip] = []
    for sid in requested:
        if sid in placed:
            continue
        diag = diagnoses[sid]
        if not diag.repairable:
            placed.add(sid)
            if diag.is_stuck:
                reason = diag.live_reason if diag.verdict == "unfixable" else unfixable_reason(diag.patterns)
                nothing.append(Skip(sid, reason, kind="ignores-prompts"))
            else:
                nothing.append(Skip(sid, "nothing stuck in this session", kind="nothing-stuck"))
            continue
        chain = [s for s in chain_of(sid, diagnoses) if diagnoses[s].repairable] or [sid]
        placed.update(chain)
        blocked = [diagnoses[s] for s in chain if diagnoses[s].verdict in REFUSED_VERDICTS]
        if blocked and not force:
            for member in chain:
                refused.append(
                    Skip(
                        member,
                        f"{blocked[0].verdict}: {blocked[0].live_reason}",
                        kind=REFUSED_VERDICTS[blocked[0].verdict],
                        hint="force",
                    )
                )
            continue
        units.append(chain)
    ids = EventIds()
    built: list[PlanUnit] = []
    with store.reading() as reads:
        for chain in units:
            try:
                unit = generation.plan_unit(reads, [diagnoses[s] for s in chain], now)
                if store.has_event_log and unit.changes:
                    with too_deep(f"the sync-log events of session {chain[0]}"):
                        unit = _with_events(reads, unit, ids, now)
            except CorruptData as corrupt:  # this unit only: every other one is still repaired
                nothing.extend(Skip(member, str(corrupt), kind="corrupt") for member in chain)
                continue
            except NotWritable as unproven:
                refused.extend(Skip(member, str(unproven), kind="not-writable") for member in chain)
                continue
            if store.has_event_log and unit.changes:
                foreign = [c for c in unit.cursors if c.owner_id]
                if foreign and not force:
                    reason = (
                        f"its event log belongs to another workspace (event_sequence.owner_id "
                        f"{printable(foreign[0].owner_id, single_line=True)}); recover it there"
                    )
                    refused.extend(Skip(member, reason, kind="owner", hint="force") for member in unit.session_ids)
                    continue
            built.append(
                _routed(unit, diagnoses, result.live, direct=direct or not generation.repairs_through_opencode)
            )
    kept = tuple(u for u in built if u.changes)
    named = [s for u in kept for s in u.session_ids] + [s.id for s in nothing]
    return Plan(
        database=str(store.path),
        created=now,
        units=kept,
        refused=tuple(refused),
        nothing_to_do=tuple(nothing),
        forced=force,
        warnings=tuple((sid, name) for sid in named for name in diagnoses[sid].warnings),
    )


def _routed(unit: PlanUnit, diagnoses: dict[str, Diagnosis], live: LiveStatus | None, *, direct: bool) -> PlanUnit:
    """Through the OpenCode serving the unit's directory when one answers and can take it."""
    directory = diagnoses[unit.session_ids[0]].session.directory
    port = None
    stale = all(diagnoses[s].verdict == "stale" for s in unit.session_ids)
    if not direct and stale and live is not None and live.running:
        from inspector.core.repair.via_opencode import supports  # local: http.client only when OpenCode runs

        port = live.server_for(directory)
        if port is not None and not supports(live.version_of(port)):
            port = None
    return replace(unit, directory=directory, via_port=port)


def _with_events(reads: RowChecks, unit: PlanUnit, ids: EventIds, now: int) -> PlanUnit:
    """The unit plus the events OpenCode would have appended for its rows (logged sessions only)."""
    cursors = reads.log_cursors(unit.session_ids)
    events = reads.log_events([(c, c.after) for c in unit.changes], cursors, ids, now)
    used = {e.aggregate_id for e in events}
    return replace(unit, events=events, cursors=tuple(c for sid, c in sorted(cursors.items()) if sid in used))


def apply(
    the_plan: Plan,
    *,
    journal_directory: Path | None = None,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    now: int | None = None,
) -> RunResult:
    """Write ``the_plan``: journal first (fsync), then each unit — through the OpenCode that
    serves it (``via_port``), or directly in one compare-and-set transaction."""
    if the_plan.is_empty:
        return RunResult(
            run_id=None,
            dry_run=False,
            sessions=(),
            parts_repaired=0,
            messages_completed=0,
            skipped=the_plan.refused + the_plan.nothing_to_do,
        )
    now = now_ms() if now is None else now
    indexed = list(enumerate(the_plan.units))
    through = [(i, u) for i, u in indexed if u.via_port is not None]
    direct = [(i, u) for i, u in indexed if u.via_port is None]
    # Only a direct write opens the file read-write; through OpenCode we only read it.
    store = open_store(the_plan.database, write=bool(direct), busy_timeout_ms=busy_timeout_ms)
    events = 0
    try:
        store.require_writable()
        run_id = new_run_id(now)
        directory = journal_directory or journal_dir()
        writer = JournalWriter.create(directory, run_id, the_plan, now)
        try:
            done: list[PlanUnit] = []
            skipped: list[Skip] = []
            if through:
                from inspector.core.repair import via_opencode

                outcome = via_opencode.write_units(
                    store, through, writer, now=now, progress=progress, cancel=cancel, total=len(indexed)
                )
                done += outcome.done
                skipped += outcome.skipped
                events += outcome.events
            if direct:
                wrote, missed = _write_units(
                    store, direct, writer, progress, cancel, done_before=len(through), total=len(indexed)
                )
                done += wrote
                skipped += missed
                events += sum(len(u.events) for u in wrote)
            writer.write(
                {
                    "kind": "done",
                    "repaired": [s for u in done for s in u.session_ids],
                    "skipped": [s.__dict__ for s in skipped],
                }
            )
            writer.sync()
        finally:
            writer.close()
        kept: str | None = run_id
        if not done and not through:  # nothing committed (a lock, conflicts): no run to undo
            writer.discard()
            kept = None
    finally:
        store.dispose()
    return RunResult(
        run_id=kept,
        dry_run=False,
        sessions=tuple(s for unit in done for s in unit.session_ids),
        parts_repaired=sum(u.parts for u in done),
        messages_completed=sum(u.messages for u in done),
        skipped=the_plan.refused + the_plan.nothing_to_do + tuple(skipped),
        journal_path=str(writer.path) if kept else None,
        sessions_uncompacted=sum(1 for u in done for c in u.changes if c.table == "session"),
        events_appended=events,
        via=_routes(done),
    )


def _write_units(
    store: Store,
    items: list[tuple[int, PlanUnit]],
    writer: JournalWriter,
    progress: Progress | None,
    cancel: threading.Event | None,
    *,
    done_before: int = 0,
    total: int | None = None,
) -> tuple[list[PlanUnit], list[Skip]]:
    """One transaction per unit on one connection; a conflict rolls back just that unit."""
    done: list[PlanUnit] = []
    skipped: list[Skip] = []
    total = len(items) if total is None else total
    with writing(store) as session:
        for position, (index, unit) in enumerate(items):
            if cancel is not None and cancel.is_set():
                skipped.extend(Skip(s, "cancelled before it was repaired", kind="cancelled") for s in unit.session_ids)
                continue
            try:
                with session.transaction() as writes:
                    for change in unit.changes:
                        apply_change(writes, change)
                    if unit.events and not writes.append_log(unit.events, {c.session_id: c for c in unit.cursors}):
                        raise Conflict(LOG_MOVED)
            except Conflict as conflict:
                writer.write({"kind": "skipped", "index": index, "reason": conflict.reason})
                skipped.extend(Skip(s, conflict.reason, kind="conflict") for s in unit.session_ids)
                continue
            except DatabaseLocked as locked:
                writer.write({"kind": "skipped", "index": index, "reason": str(locked)})
                for _, rest in items[position:]:
                    skipped.extend(Skip(s, str(locked), kind="locked") for s in rest.session_ids)
                break
            writer.write({"kind": "committed", "index": index})
            done.append(unit)
            if progress:
                progress(done_before + position + 1, total)
    return done, skipped


def dry_run(the_plan: Plan) -> RunResult:
    """What ``apply`` would report, without writing anything."""
    return RunResult(
        run_id=None,
        dry_run=True,
        sessions=the_plan.session_ids,
        parts_repaired=the_plan.parts,
        messages_completed=the_plan.messages,
        skipped=the_plan.refused + the_plan.nothing_to_do,
        sessions_uncompacted=sum(1 for u in the_plan.units for c in u.changes if c.table == "session"),
        events_appended=the_plan.event_count,
        via=_routes(the_plan.units),
    )


def _routes(units: Iterable[PlanUnit]) -> tuple[tuple[str, str], ...]:
    """Each session of ``units`` and the way it is written: ``opencode`` or ``direct``."""
    return tuple((s, "opencode" if u.via_port is not None else "direct") for u in units for s in u.session_ids)


def _journaled_change(raw: dict[str, Any]) -> RowChange:
    absent = raw["before"] is None  # a row the run added
    return RowChange(
        table=raw["table"],
        row_id=raw["id"],
        session_id=raw["session_id"],
        before={} if absent else raw["before"],
        after=raw["after"],
        summary="",
        message_id=raw.get("message_id"),
        absent=absent,
    )


def _restore(writes: Writes, change: RowChange) -> Skip | None:
    """Put one journaled before-image back (remove a row the run added), if the row still holds
    the after-image."""
    if writes.compare_and_set(change, source=change.after, target=change.before, guard=False):
        return None
    image = writes.current_image(change, change.after if change.absent else change.before)
    if change.absent:
        if image is None:
            return Skip(change.row_id, "already as before (this run never added it)", kind="unchanged")
        return Skip(change.row_id, "changed since the run; left as it is", kind="changed")
    if image is None:
        return Skip(change.row_id, "row no longer exists", kind="gone")
    if image == change.before:
        return Skip(change.row_id, "already as before (this run never changed it)", kind="unchanged")
    return Skip(change.row_id, "changed since the run; left as it is", kind="changed")


def undo(
    database: str | Path,
    run_id: str | None = None,
    *,
    journal_directory: Path | None = None,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    now: int | None = None,
    problems: list[JournalProblem] | None = None,
) -> UndoResult:
    """Restore a run's before-images, only for rows that still hold exactly what the run wrote.

    The sync log is append-only: restored rows of logged sessions get new events carrying the
    restored data (in the same transaction), never a deletion of the run's events. A damaged
    run is refused (``JournalError``), a run already undone too (``AlreadyUndone``); unreadable
    journal files passed while looking for the last run are added to ``problems``.
    """
    now = now_ms() if now is None else now
    directory = journal_directory or journal_dir()
    run = find_run(directory, run_id, str(database), problems)
    if Path(run.database) != Path(database).resolve():
        raise InspectorError(f"run {run.run_id} was made on {run.database}, not on {database}")
    if run.interrupted:
        return _undo_interrupted(run, database, busy_timeout_ms=busy_timeout_ms, now=now)
    store = open_store(database, write=True, busy_timeout_ms=busy_timeout_ms)
    restored = appended = 0
    skipped: list[Skip] = []
    ids = EventIds()
    try:
        with writing(store) as session:
            for unit in reversed(run.units):
                with session.transaction() as writes:
                    written: list[RowChange] = []
                    for change in map(_journaled_change, reversed(unit["changes"])):
                        skip = _restore(writes, change)
                        if skip is None:
                            written.append(change)
                        else:
                            skipped.append(skip)
                    restored += len(written)
                    if store.has_event_log and written:
                        appended += _log_restored(writes, written, ids, now)
    finally:
        store.dispose()
    append(
        run.path,
        {
            "kind": "undo",
            "time": now,
            "restored": restored,
            "events": appended,
            "skipped": [s.__dict__ for s in skipped],
        },
    )
    return UndoResult(run_id=run.run_id, restored=restored, skipped=tuple(skipped), events_appended=appended)


def _undo_interrupted(run: JournalRun, database: str | Path, *, busy_timeout_ms: int, now: int) -> UndoResult:
    """A run cut off while its journal was written committed nothing (its first commit waits for
    the whole journal on disk) — unless the file was cut later: then some row still holds what the
    run wrote, the journal does not name every such row, and undo refuses as for any damage."""
    store = open_store(database, busy_timeout_ms=busy_timeout_ms)
    try:
        with store.reading() as reads:
            for unit in run.units:
                for change in map(_journaled_change, unit["changes"]):
                    if reads.current_image(change, change.after) == change.after:
                        raise damaged_run(run.path, CUT_OFF.split(":")[0] + ", yet rows hold what it wrote")
    finally:
        store.dispose()
    append(run.path, {"kind": "undo", "time": now, "restored": 0, "events": 0, "skipped": []})
    return UndoResult(run_id=run.run_id, restored=0, interrupted=True)


def _log_restored(writes: Writes, written: list[RowChange], ids: EventIds, now: int) -> int:
    """Events for rows just restored, read against the log as it is now (we hold the lock)."""
    cursors: dict[str, LogCursor] = writes.log_cursors({c.session_id for c in written})
    events = writes.log_events([(c, c.before) for c in written], cursors, ids, now)
    if not writes.append_log(events, cursors):  # impossible while we hold the write lock
        raise DatabaseLocked("the event log changed during undo; nothing of this unit was restored")
    return len(events)

"""Recovery before OpenCode starts (``ocinspect run -- opencode …``): every start a clean start.

OpenCode 1.18 still does not close orphaned turns when it boots (upstream #19023). Run just
before it, while nothing serves the database, the normal core does it: the quick tier finds the
unfinished turns (what makes a session spin in "Thinking"), ``plan()``/``apply()`` repair the
stale ones, journaled, undoable, with the sync log continued.

OpenCode 2 has the opposite problem: its service re-runs a crashed turn at its next boot (the
model is called again, tool calls repeated) and any CLI command boots it. On a 2.x database the
same recovery settles those turns as interrupted first (and the ones no server ever finishes),
unless the person chose ``let_opencode_resume``: then the claimed turns are left to OpenCode and
the outcome names them.

It must never stand in the way of the start: every reason not to repair (no database yet, a
legacy/foreign file, a lock, OpenCode already running, an unwritable journal…) comes back
as a :class:`StartupOutcome` with a one-line ``warning``, never as an exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.core.diagnose.resume_risk import is_claimed, reruns_at_boot
from inspector.core.errors import DatabaseNotFound, InspectorError
from inspector.core.model import Diagnosis, Plan, RunResult, Skip

if TYPE_CHECKING:
    from inspector.core.diagnose.incremental.resume import Pass


@dataclass(frozen=True)
class StartupOutcome:
    """What happened before the start: a run, a dry-run plan, nothing to do, or why not."""

    database: Path | None
    result: RunResult | None = None
    plan: Plan | None = None
    warning: str | None = None
    # What the started command must get as OPENCODE_DB: the file an explicit ``db`` names
    # (existing or not); None when no ``db`` was given (OpenCode finds its own, as we did).
    opencode_db: Path | None = None
    scan: Pass | None = None  # how the scan was made: a full pass or the changes since the last look
    # Planned but not written by a run that wrote nothing (a lock, rows changed): ``warning`` says so.
    not_recovered: tuple[Skip, ...] = ()
    # OpenCode 2: the stuck sessions the run planned to settle (what each was, for its line)
    stuck: tuple[Diagnosis, ...] = ()
    # OpenCode 2: the sessions left to the service's resume (``let_opencode_resume``, a live server…)
    will_rerun: tuple[Diagnosis, ...] = ()

    @property
    def recovered(self) -> int:
        return len(self.result.sessions) if self.result and not self.result.dry_run else 0

    @property
    def settled(self) -> tuple[Diagnosis, ...]:
        """The OpenCode 2 sessions this run wrote, each with what it was."""
        if self.result is None or self.result.dry_run:
            return ()
        written = set(self.result.sessions)
        return tuple(d for d in self.stuck if d.id in written)


def recover_before_start(
    db: str | os.PathLike[str] | None = None,
    *,
    channel: str | None = None,
    busy_timeout_ms: int = 2000,
    dry_run: bool = False,
    deep: bool = False,
    read_only: bool = False,
    full: bool = False,
    let_opencode_resume: bool = False,
) -> StartupOutcome:
    """Repair every stale session of the database OpenCode is about to open, if safe.

    The quick tier only by default: unfinished turns (and their stuck tools, subagent chains,
    compaction marks) are what keep a session spinning; stuck parts inside *finished* turns
    need the deep tier (a pass over every part), which ``deep=True`` adds. ``read_only`` (the
    global ``--read-only``) turns recovery off: nothing is opened, one warning says so. The
    scan reads only what changed since the last one (``resume``); ``full`` forces a full pass.
    On OpenCode 2, ``let_opencode_resume`` leaves the turns its service would re-run to it.
    """
    # local imports: `ocinspect run` should cost next to nothing
    from inspector.core.db.locate import locate, named_file

    target = None if db is None else named_file(db, channel=channel)
    if read_only:  # the same refusal recover and undo give, before anything is opened
        from inspector.core.repair.operations import READ_ONLY

        return StartupOutcome(database=None, opencode_db=target, warning=f"{READ_ONLY}; starting without recovery")
    try:
        path = locate(db, channel=channel)
    except DatabaseNotFound:
        return StartupOutcome(database=None, opencode_db=target)  # first run: nothing to recover
    except InspectorError as exc:
        return StartupOutcome(database=None, opencode_db=target, warning=f"{exc}; starting without recovery")
    try:
        outcome = _recover(
            path, busy_timeout_ms=busy_timeout_ms, dry_run=dry_run, deep=deep, full=full, resume=let_opencode_resume
        )
    except InspectorError as exc:
        outcome = StartupOutcome(database=path, warning=f"{exc}; starting without recovery")
    except OSError as exc:
        outcome = StartupOutcome(database=path, warning=f"{path}: {exc.strerror or exc}; starting without recovery")
    return replace(outcome, opencode_db=target)


def _recover(
    path: Path, *, busy_timeout_ms: int, dry_run: bool, deep: bool, full: bool, resume: bool
) -> StartupOutcome:
    from inspector.core.db.store import open_store, roll_back_hot_journal
    from inspector.core.diagnose.incremental.resume import scan_resumed
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.repair import operations

    if path.is_file() and path.stat().st_size == 0:
        return StartupOutcome(database=path)  # created by a previous start that never got going
    if not dry_run:  # what OpenCode's own first open would do; a read-only look cannot
        roll_back_hot_journal(path, busy_timeout_ms=busy_timeout_ms)
    store = open_store(path, busy_timeout_ms=busy_timeout_ms)
    try:
        if store.schema not in ("v1", "v2"):
            return StartupOutcome(database=path, warning=None)  # legacy: OpenCode migrates it
        result, how = scan_resumed(store, ScanOptions(quick=not deep, full=full, hung_after_ms=None))
        if not result.stuck:
            return StartupOutcome(database=path, scan=how)
        reruns = tuple(d for d in result.stuck if reruns_at_boot(d))
        if result.opencode_live is not False:
            state = "is already running on it" if result.opencode_live else "may be running on it"
            return StartupOutcome(
                database=path,
                scan=how,
                will_rerun=reruns,
                warning=(
                    f"{len(result.stuck)} stuck session(s) left alone: OpenCode {state} "
                    f"({result.live_detail}); use 'ocinspect recover'"
                ),
            )
        kept = _left_to_opencode(result.stuck) if resume else set()
        chosen = [d for d in result.stuck if d.verdict == "stale" and d.repairable and d.id not in kept]
        stale = [d.id for d in chosen]
        left = tuple(d for d in reruns if d.id in kept)
        if not stale:
            return StartupOutcome(database=path, scan=how, will_rerun=left)
    finally:
        store.dispose()
    # the one recovery sequence, planned on the scan just made
    prepared = operations.prepare(
        operations.Request(
            database=path,
            session_ids=tuple(stale),
            dry_run=dry_run,
            busy_timeout_ms=busy_timeout_ms,
            result=result,
        )
    )
    v2 = tuple(chosen) if result.schema == "v2" else ()
    if prepared.is_empty:
        return StartupOutcome(database=path, plan=prepared.plan, scan=how, will_rerun=left)
    outcome = operations.execute(prepared)
    unwritten = prepared.plan.unforeseen(outcome.result)
    done = StartupOutcome(database=path, plan=prepared.plan, result=outcome.result, scan=how, stuck=v2, will_rerun=left)
    if outcome.result.sessions or outcome.result.dry_run or not unwritten:
        return done
    return replace(done, not_recovered=unwritten, warning=not_recovered_line(unwritten, busy_timeout_ms))


def _left_to_opencode(stuck: tuple[Diagnosis, ...]) -> set[str]:
    """The sessions ``let_opencode_resume`` leaves alone: every claimed turn (the service resumes
    a root's and releases a child's) and the subagents of those roots, whose fate the resumed
    parent decides."""
    kept = {d.id for d in stuck if is_claimed(d)}
    kept |= {child for d in stuck if d.id in kept for child in d.children}
    return kept


def not_recovered_line(left: tuple[Skip, ...], busy_timeout_ms: int) -> str:
    """One line: which sessions the run could not write, and why (a lock: whose and how long we waited)."""
    ids = list(dict.fromkeys(s.id for s in left))
    named = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    if all(s.kind == "locked" for s in left):
        why = f"database locked by another writer (busy_timeout {busy_timeout_ms} ms)"
    else:
        why = left[0].reason
    return (
        f"{len(ids)} stuck session{'s' if len(ids) != 1 else ''} not recovered ({named}): {why}; "
        "starting without recovery"
    )

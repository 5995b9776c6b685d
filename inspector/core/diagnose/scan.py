"""Find sessions with a stale "Thinking" state and say why.

Two tiers (see ``bench/``): the *quick* tier reads unfinished assistant messages (a small table)
and reaches their parts through ``part_message_id_id_idx``; the *deep* tier also walks the whole
``part`` table for tool parts left pending/running inside turns that did finish.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from inspector.core.db.ranges import Cancelled
from inspector.core.db.reads import ScanReads
from inspector.core.db.reads.judge import JudgeReads
from inspector.core.db.reads.scan import Progress
from inspector.core.db.store import Store
from inspector.core.diagnose import idwrap
from inspector.core.diagnose.asked import status_words, waiting_reason, with_since
from inspector.core.diagnose.findings import Findings, collect
from inspector.core.diagnose.holds import Turn, judge_hold
from inspector.core.diagnose.hung import classify
from inspector.core.diagnose.options import DEFAULT_OPTIONS, ScanOptions
from inspector.core.diagnose.patterns import patterns_for, unfixable_reason
from inspector.core.diagnose.tree import chain_of, depth_of, spread_chain_verdicts, tree_order
from inspector.core.errors import InspectorError, SchemaUnsupported, SessionNotFound
from inspector.core.model import Diagnosis, Message, Part, PendingRequest, ScanResult, Session
from inspector.core.opencode.live import LiveStatus, detect
from inspector.core.text import now_ms, printable

__all__ = [
    "Cancelled",
    "InSnapshot",
    "Progress",
    "assemble",
    "chain_of",
    "depth_of",
    "drop_finished_since",
    "liveness_for",
    "read_sessions",
    "scan",
    "scan_related",
    "sessions_at_risk",
]


class InSnapshot(Protocol):
    """Reads a caller adds to a scan inside the scan's own read snapshot (refresh's watermarks)."""

    def begin(self, reads: ScanReads) -> None:
        """Before the scan reads anything."""

    def end(self, reads: ScanReads, found: Findings) -> None:
        """After the findings and the session rows are read, before the snapshot closes."""


def scan(store: Store, options: ScanOptions = DEFAULT_OPTIONS, *, snapshot: InSnapshot | None = None) -> ScanResult:
    """Diagnose the database. ``options.session_ids`` limits the scan to those sessions (via indexes).

    ``options.live`` may be passed to reuse (or, in tests, to pin) the liveness answer; otherwise
    it is detected for the directories of the stuck sessions. With ``options.hung_after_ms``,
    live sessions get ``idle_ms`` and those stuck inside the live server become ``hung`` (see
    ``hung.py``); with None no session is ever called hung. ``snapshot`` reads more in the scan's
    snapshot (a step of the caller, not an option). ``options.follow_signals`` subscribes to the
    servers the liveness answer names and adds what their event streams saw (watch mode); a
    one-shot scan has none and decides from rows and ``/session/status``.
    """
    quick, all_sessions, session_ids, live = options.quick, options.all_sessions, options.session_ids, options.live
    cancel, progress = options.cancel, options.progress
    now = now_ms() if options.now is None else options.now
    options = replace(options, now=now)  # one instant for every decision of this scan
    store.require_readable()
    liveness = liveness_for(store.path, store.schema) if live is None else None
    with store.reading() as reads:
        if snapshot is not None:
            snapshot.begin(reads)
        if session_ids is not None:
            _require_sessions(store, reads, session_ids)
        found = collect(reads, quick=quick, session_ids=session_ids, cancel=cancel, progress=progress, now=now)
        sessions, activity = read_sessions(reads, found.session_ids, all_sessions=all_sessions, requested=session_ids)
        at_risk = sessions_at_risk(reads, found, sessions, now)
        if snapshot is not None:
            snapshot.end(reads, found)
    return judge(store, found, sessions, activity, options, liveness=liveness, at_risk=at_risk)


def judge(
    store: Store,
    found: Findings,
    sessions: dict[str, Session],
    activity: dict[str, int],
    options: ScanOptions,
    *,
    liveness: Callable[[set[str]], LiveStatus] | None,
    at_risk: set[str],
) -> ScanResult:
    """After the snapshot (a full pass or a resumed one): ask OpenCode about the directories of
    what was found (unless ``options.live`` was given), add the event progress (only with
    ``options.follow_signals``), assemble the verdicts. ``options.now`` is the scan's instant."""
    live, quick, all_sessions, hung_after_ms = options.live, options.quick, options.all_sessions, options.hung_after_ms
    requested = options.session_ids or ()
    assert options.now is not None  # fixed by the scan that read the snapshot
    now = options.now
    if liveness is not None:
        live = liveness({sessions[s].directory for s in found.session_ids & set(sessions)})
        drop_finished_since(store, found, sessions, live, all_sessions=all_sessions, requested=requested)
    assert live is not None
    if options.follow_signals is not None:  # watch mode: subscribes to the servers ``live`` names
        live = options.follow_signals.merge(live)
    return assemble(
        store,
        found,
        sessions,
        activity,
        live,
        quick=quick,
        now=now,
        all_sessions=all_sessions,
        at_risk=at_risk,
        hung_after_ms=hung_after_ms,
    )


def drop_finished_since(
    store: Store,
    found: Findings,
    sessions: dict[str, Session],
    live: LiveStatus,
    *,
    all_sessions: bool,
    requested: Sequence[str],
) -> None:
    """A turn that ends between the snapshot and OpenCode's answer would look stale: its rows
    were read while it still streamed (OpenCode writes none meanwhile), its status after it had
    finished. So the stuck rows of sessions a running OpenCode does not list busy are read once
    more, after the answer, by id through the stuck filter; what finished meanwhile is dropped."""
    if live.running is not True:
        return
    idle = found.session_ids - live.busy
    messages = {m.id for m in found.messages.values() if m.session_id in idle}
    parts = {p.id for p in found.parts.values() if p.session_id in idle}
    if not messages and not parts:
        return
    with store.reading() as reads:
        still = {m.id for m in reads.unfinished_turns_by_id(messages).messages}
        still |= {p.id for p in reads.stuck_tools_by_id(parts).parts}
    for row_id in messages - still:
        found.messages.pop(row_id)
    for row_id in parts - still:
        found.parts.pop(row_id)
    if not all_sessions:  # a session shown only because it was stuck is shown no more
        for sid in idle - found.session_ids - set(requested):
            sessions.pop(sid, None)


def sessions_at_risk(reads: JudgeReads, found: Findings, sessions: Mapping[str, Session], now: int) -> set[str]:
    """Sessions whose ids predate the id wrap, when an OpenCode ≤ 1.18.14 writes the database."""
    return idwrap.sessions_at_risk(reads, sorted(sessions), now) if found.wrap_writer else set()


def read_sessions(
    reads: ScanReads,
    stuck_ids: set[str],
    *,
    all_sessions: bool = False,
    requested: Sequence[str] | None = None,
    known_activity: Mapping[str, int] | None = None,
) -> tuple[dict[str, Session], dict[str, int]]:
    """The session rows a result shows (the stuck ones, or all) and each one's last activity
    (``known_activity``: sessions whose activity cannot have changed, not asked again)."""
    if all_sessions and requested is None:
        sessions = reads.sessions()
    else:
        sessions = reads.sessions(sorted(stuck_ids | set(requested or ())))
    known = known_activity or {}
    activity = {sid: known[sid] for sid in sessions if sid in known}
    activity |= reads.last_activity(sorted(set(sessions) - set(activity)))
    return sessions, activity


def assemble(
    store: Store,
    found: Findings,
    sessions: dict[str, Session],
    activity: dict[str, int],
    live: LiveStatus,
    *,
    quick: bool,
    now: int,
    all_sessions: bool,
    at_risk: set[str] | frozenset[str] = frozenset(),
    hung_after_ms: int | None = None,
) -> ScanResult:
    """Group raw findings into per-session diagnoses (a full scan and a refresh share this)."""
    stuck_ids = found.session_ids & set(sessions)
    diagnoses = _diagnose(sessions, found, stuck_ids, activity, live, at_risk, now=now)
    if hung_after_ms is not None and any(d.verdict == "live" for d in diagnoses.values()):
        with store.reading() as reads:
            resumed = {sid: hold.resume_attempts for sid, hold in found.holds.items() if hold.resume_attempts}
            diagnoses = classify(reads, diagnoses, live=live, hung_after_ms=hung_after_ms, now=now, resumed=resumed)
    return ScanResult(
        database=str(store.path),
        schema=store.schema,
        opencode_live=live.running,
        live_detail=live.detail,
        sessions=tuple(tree_order(diagnoses)),
        quick=quick,
        scanned_at=now,
        total_sessions=len(sessions) if all_sessions else 0,
        hung_after_ms=hung_after_ms,
        live=live,
        wrap_writer=found.wrap_writer,
        write_refusal=write_refusal(store),
    )


def write_refusal(store: Store) -> InspectorError | None:
    """Core's typed refusal to write ``store`` (what ``recover`` would raise), so a front end
    can leave recovery out of its offer instead of offering what the write path refuses."""
    try:
        store.require_writable()
    except SchemaUnsupported as refused:
        return refused
    return None


def liveness_for(path: Path, schema: str = "v1") -> Callable[[set[str]], LiveStatus]:
    """Start looking for OpenCode processes now, beside the SQL that follows (which releases the
    GIL); the returned call finishes the check for the stuck sessions' directories. Only when an
    OpenCode process uses the file is it asked again, with the directories (its HTTP status).
    ``schema`` (``Store.schema``) says which generation of server may run on it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocinspect-live")
    early = pool.submit(detect, path, schema=schema)
    pool.shutdown(wait=False)

    def finish(directories: set[str]) -> LiveStatus:
        status = early.result()
        return status if status.running is False else detect(path, directories, schema=schema)

    return finish


def _diagnose(
    sessions: dict[str, Session],
    found: Findings,
    stuck_ids: set[str],
    activity: dict[str, int],
    live: LiveStatus,
    at_risk: set[str] | frozenset[str] = frozenset(),
    *,
    now: int,
) -> dict[str, Diagnosis]:
    parent_of = {sid: s.parent_id for sid, s in sessions.items()}
    parts = [
        replace(p, message_completed=True) if p.message_id in found.completed_messages else p
        for p in found.parts.values()
    ]
    by_session: dict[str, list[Part]] = defaultdict(list)
    for part in sorted(parts, key=lambda p: (p.time_created, p.id)):
        by_session[part.session_id].append(part)
    messages: dict[str, list[Message]] = defaultdict(list)
    for message in sorted(found.messages.values(), key=lambda m: (m.time_created, m.id)):
        messages[message.session_id].append(message)
    stuck_children: dict[str, set[str]] = defaultdict(set)
    for child in stuck_ids:
        parent = parent_of.get(child)
        if parent in stuck_ids:
            stuck_children[parent].add(child)
    diagnoses: dict[str, Diagnosis] = {}
    for sid, session in sessions.items():
        warnings = (idwrap.AT_RISK,) if sid in at_risk else ()
        held = judge_hold(
            found.holds.get(sid),
            Turn(
                stuck_tools=tuple(p.tool for p in by_session[sid]),
                unfinished=bool(messages[sid]),
                is_child=session.parent_id is not None,
            ),
        )
        if sid not in stuck_ids:
            diagnoses[sid] = Diagnosis(
                session=session, verdict="ok", patterns=(), last_activity=activity.get(sid), warnings=warnings
            )
            continue
        patterns = patterns_for(
            sid,
            messages[sid],
            by_session[sid],
            stuck_ids=stuck_ids,
            parent_of=parent_of,
            has_children=bool(stuck_children[sid]),
            compacting=sid in found.compacting,
            ignores_prompts=sid in found.ignored_prompts,
        )
        patterns = list(dict.fromkeys([*held.patterns, *patterns]))
        # A held session no server lists busy is judged like any other (stale, or unknown);
        # ``live`` asked the generation's own servers (``detect(schema=)``).
        verdict, reason = live.verdict(sid, session.directory)
        status = live.status_of(sid) if sid in live.busy else None
        asked: tuple[PendingRequest, ...] = ()
        if verdict == "waiting":
            asked = with_since(live.requests_of(sid), by_session[sid])
            reason = waiting_reason(asked, now) if asked else reason
        elif verdict == "live" and status is not None and status.type == "retry":
            reason = f"{status_words(status, now)} (OpenCode retries the failed model call itself)"
        times = [p.started or p.time_created for p in by_session[sid]]
        times += [m.time_created for m in messages[sid]]
        if sid in found.compacting:
            times.append(found.compacting[sid])
        claim = found.holds[sid].claimed_at if sid in found.holds else None
        if claim is not None and not times:  # a claim kept with nothing open: stuck since the claim
            times.append(claim)
        children = set(stuck_children[sid])
        children |= {p.child_session_id for p in by_session[sid] if p.child_session_id in stuck_ids}
        diag = Diagnosis(
            session=session,
            verdict=verdict,
            patterns=tuple(patterns),
            unfinished_messages=tuple(messages[sid]),
            stuck_parts=tuple(by_session[sid]),
            children=tuple(sorted(children)),
            last_activity=activity.get(sid),
            stuck_since=min(times) if times else None,
            live_reason=reason,
            warnings=warnings,
            opencode_status=status,
            waiting_on=asked,
            next_step=held.next,
        )
        if verdict in ("stale", "unknown") and not diag.repairable:  # OpenCode not working on it
            diag = replace(diag, verdict="unfixable", live_reason=unfixable_reason(diag.patterns))
        diagnoses[sid] = diag
    return spread_chain_verdicts(diagnoses)


def scan_related(store: Store, session_ids: Sequence[str], options: ScanOptions = DEFAULT_OPTIONS) -> ScanResult:
    """Scan ``session_ids`` plus every parent and child linked to them (a whole subagent tree);
    ``options.session_ids`` is replaced by that tree.

    Uses the session and part indexes only, so it stays fast on huge databases.
    """
    wanted = list(dict.fromkeys(session_ids))
    result = scan(store, replace(options, session_ids=wanted))
    for _ in range(16):  # subagent trees are shallow; bound the walk anyway
        related = set(wanted)
        for diag in result.sessions:
            if diag.session.parent_id:
                related.add(diag.session.parent_id)
            related.update(p.child_session_id for p in diag.stuck_parts if p.child_session_id)
        with store.reading() as reads:
            related |= reads.child_sessions(sorted(related))
            present = reads.existing_sessions(sorted(related))
        related &= present
        if related <= set(wanted):
            break
        wanted = sorted(related)
        result = scan(store, replace(options, session_ids=wanted))
    return result


def _require_sessions(store: Store, reads: ScanReads, session_ids: Sequence[str]) -> None:
    present = reads.existing_sessions(session_ids)
    missing = [s for s in session_ids if s not in present]
    if missing:
        raise SessionNotFound(f"no session {printable(missing[0])} in {store.path}")

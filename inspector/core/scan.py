"""Find sessions with a stale "Thinking" state and say why.

Two tiers (see ``bench/``): the *quick* tier reads unfinished assistant messages (a small table)
and reaches their parts through ``part_message_id_id_idx``; the *deep* tier also walks the whole
``part`` table for tool parts left pending/running inside turns that did finish.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from . import idwrap
from . import queries as q
from .children import infer_children
from .errors import CorruptData, SessionNotFound
from .live import LiveStatus, detect
from .model import Diagnosis, Message, Part, ScanResult, Session
from .store import Store
from .text import input_summary, printable
from .tree import chain_of, depth_of, spread_chain_verdicts, tree_order

__all__ = ["Cancelled", "chain_of", "depth_of", "scan", "scan_related"]

Progress = Callable[[int, int], None]
CHUNK_ROWS = 50_000
WORKERS = max(1, min(4, os.cpu_count() or 1))
IN_CHUNK = 500
_INPUT_JSON_LIMIT = 4000
_OUTPUT_TAIL = 2000


class Cancelled(Exception):
    """Raised inside a scan when the caller's cancel event is set."""


def now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(items: Sequence[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _scan_table(
    store: Store,
    conn: Connection,
    table: str,
    query: Any,
    cancel: threading.Event | None,
    progress: Progress | None,
    beside: Callable[[], None] | None = None,
) -> list[Any]:
    """Run a rowid-range ``query`` over the whole table on all cores, in table order.

    Each range runs on its own read-only connection: Python's sqlite3 releases the GIL while
    SQLite works, so two cores read twice the bytes. Cancel and progress act between ranges.
    ``beside`` runs in this thread while the ranges are being read (small queries on ``conn``
    that would otherwise leave a core idle afterwards).
    """
    top = int(conn.execute(q.MAX_ROWID[table]).scalar_one())
    ranges = [(lo, min(lo + CHUNK_ROWS - 1, top)) for lo in range(1, top + 1, CHUNK_ROWS)]

    def run(bounds: tuple[int, int]) -> list[Any]:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        with store.read() as own:
            return list(own.execute(query, {"lo": bounds[0], "hi": bounds[1]}))

    rows: list[Any] = []
    if len(ranges) <= 1 or WORKERS == 1:
        if beside is not None:
            beside()
        for bounds in ranges:
            rows.extend(run(bounds))
            if progress:
                progress(bounds[1], top)
        return rows
    pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ocinspect-scan")
    try:
        futures = [pool.submit(run, bounds) for bounds in ranges]
        if beside is not None:
            beside()
        for bounds, future in zip(ranges, futures):
            rows.extend(future.result())
            if progress:
                progress(bounds[1], top)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return rows


def _load(row: Any, table: str) -> dict[str, Any]:
    if not row.ok:
        raise CorruptData(
            f"{table} {row.id} (session {row.session_id}) has corrupt JSON in its data column; "
            "ocinspect will not guess what it held"
        )
    try:
        value = json.loads(row.data)
    except (ValueError, RecursionError):
        raise CorruptData(f"{table} {row.id} has JSON that Python cannot parse") from None
    if not isinstance(value, dict):
        raise CorruptData(f"{table} {row.id} data is not a JSON object")
    return value


def _message(row: Any, data: dict[str, Any]) -> Message:
    when = data.get("time") if isinstance(data.get("time"), dict) else {}
    error = data.get("error") if isinstance(data.get("error"), dict) else None
    return Message(
        id=row.id,
        session_id=row.session_id,
        role=str(data.get("role", "")),
        time_created=int(row.time_created),
        completed=when.get("completed"),
        error_name=(error or {}).get("name"),
        finish=data.get("finish"),
        is_summary=data.get("summary") is True,
        model=data.get("modelID"),
        agent=data.get("agent"),
    )


def _part(row: Any, data: dict[str, Any]) -> Part:
    state = data.get("state") if isinstance(data.get("state"), dict) else {}
    tool = printable(data.get("tool", "?"), single_line=True)
    tool_input = state.get("input")
    metadata = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
    when = state.get("time") if isinstance(state.get("time"), dict) else {}
    output = metadata.get("output")
    child = metadata.get("sessionId") if tool == "task" else None
    input_json = json.dumps(tool_input, ensure_ascii=False, indent=2) if tool_input else ""
    return Part(
        id=row.id,
        message_id=row.message_id,
        session_id=row.session_id,
        tool=tool,
        status=str(state.get("status")),
        call_id=data.get("callID"),
        started=when.get("start") if isinstance(when.get("start"), int) else None,
        time_created=int(row.time_created),
        input_summary=input_summary(tool, tool_input),
        input_json=printable(input_json[:_INPUT_JSON_LIMIT]),
        title=printable(state.get("title")) if state.get("title") else None,
        output_tail=printable(output[-_OUTPUT_TAIL:]) if isinstance(output, str) else "",
        child_session_id=child if isinstance(child, str) else None,
    )


def _session(row: Any) -> Session:
    return _session_of(tuple(row._mapping.items()))


@lru_cache(maxsize=16384)
def _session_of(items: tuple[tuple[str, Any], ...]) -> Session:
    """Sessions are frozen: one object per distinct row, so refreshes do not rebuild them."""
    values = dict(items)
    return Session(
        id=values["id"],
        title=printable(values.get("title") or ""),
        directory=printable(values.get("directory") or ""),
        parent_id=values.get("parent_id"),
        project_id=values.get("project_id"),
        version=values.get("version"),
        time_created=int(values.get("time_created") or 0),
        time_updated=int(values.get("time_updated") or 0),
        time_compacting=values.get("time_compacting"),
        time_archived=values.get("time_archived"),
    )


class _Findings:
    """Raw rows found by the queries, before they are grouped into per-session diagnoses."""

    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.parts: dict[str, Part] = {}
        self.compacting: dict[str, int] = {}
        self.ignored_prompts: set[str] = set()
        self.completed_messages: set[str] = set()
        self.wrap_writer: str | None = None  # OpenCode release ≤ 1.18.14 that wrote the database

    def add_messages(self, rows: Iterable[Any]) -> None:
        for row in rows:
            message = _message(row, _load(row, "message"))
            if message.role == "assistant" and message.completed is None:
                self.messages[message.id] = message

    def add_parts(self, rows: Iterable[Any]) -> None:
        for row in rows:
            part = _part(row, _load(row, "part"))
            if part.status in ("pending", "running"):
                self.parts[part.id] = part

    @property
    def session_ids(self) -> set[str]:
        ids = {m.session_id for m in self.messages.values()}
        ids |= {p.session_id for p in self.parts.values()}
        return ids | set(self.compacting) | self.ignored_prompts


def _collect(
    store: Store,
    conn: Connection,
    *,
    quick: bool,
    session_ids: Sequence[str] | None,
    cancel: threading.Event | None,
    progress: Progress | None,
    now: int,
) -> _Findings:
    found = _Findings()

    def session_findings() -> None:
        found.compacting = compacting_sessions(store, conn, session_ids)
        found.ignored_prompts = ignored_prompts(conn, session_ids)
        wrap_findings(store, conn, found, session_ids, now)

    if session_ids is not None:
        for chunk in _chunks(session_ids):
            found.add_messages(conn.execute(q.UNFINISHED_MESSAGES_OF_SESSIONS, {"ids": chunk}))
            if not quick:
                found.add_parts(conn.execute(q.STUCK_PARTS_OF_SESSIONS, {"ids": chunk}))
        if quick:  # only the parts of unfinished turns, through part_message_id_id_idx
            for chunk in _chunks(sorted(found.messages)):
                found.add_parts(conn.execute(q.STUCK_PARTS_OF_MESSAGES, {"ids": chunk}))
        session_findings()
    elif quick:
        found.add_messages(_scan_table(store, conn, "message", q.UNFINISHED_MESSAGES, cancel, progress,
                                       beside=session_findings))
        for chunk in _chunks(sorted(found.messages)):
            found.add_parts(conn.execute(q.STUCK_PARTS_OF_MESSAGES, {"ids": chunk}))
    else:
        found.add_messages(_scan_table(store, conn, "message", q.UNFINISHED_MESSAGES, cancel, None))
        found.add_parts(_scan_table(store, conn, "part", q.STUCK_PARTS_RANGE, cancel, progress,
                                    beside=session_findings))
    found.parts = infer_children(conn, found.parts)
    found.completed_messages = completed_messages(conn, found)
    return found


def wrap_findings(store: Store, conn: Connection, found: _Findings, session_ids: Sequence[str] | None,
                  now: int) -> None:
    """OpenCode ≤ 1.18.14's id-wrap loop: which release wrote the file, and the loop's leftovers
    (replies to an older prompt), which are the loop form of ignored prompts."""
    found.wrap_writer = idwrap.writer_version(conn, store.has_session_column("version"))
    if found.wrap_writer:
        for sid in idwrap.loop_leftovers(conn, now):
            if session_ids is None or sid in session_ids:
                found.ignored_prompts.add(sid)


def compacting_sessions(store: Store, conn: Connection, session_ids: Sequence[str] | None = None) -> dict[str, int]:
    """Sessions marked compacting with no finished summary since (the session table is small)."""
    compacting: dict[str, int] = {}
    if not store.has_session_column("time_compacting"):
        return compacting
    for row in conn.execute(q.COMPACTING_SESSIONS):
        if session_ids is None or row.id in session_ids:
            compacting[row.id] = int(row.time_compacting)
    return compacting


def ignored_prompts(conn: Connection, session_ids: Sequence[str] | None = None) -> set[str]:
    """Sessions whose newest prompt an old OpenCode would ignore (ids wrapped); ``session_ids``
    limits the question to those sessions (through the indexes)."""
    if session_ids is None:
        return {row.session_id for row in conn.execute(q.IGNORED_PROMPTS)}
    found: set[str] = set()
    for chunk in _chunks(sorted(set(session_ids))):
        found.update(row.session_id for row in conn.execute(q.IGNORED_PROMPTS_OF_SESSIONS, {"ids": chunk}))
    return found


def completed_messages(conn: Connection, found: _Findings) -> set[str]:
    """Messages of stuck parts that did finish (the parts-in-finished-turn pattern)."""
    done: set[str] = set()
    orphan_messages = sorted({p.message_id for p in found.parts.values()} - set(found.messages))
    for chunk in _chunks(orphan_messages):
        done.update(row.id for row in conn.execute(q.MESSAGE_COMPLETED, {"ids": chunk}) if row.done)
    return done


def _patterns_for(
    session_id: str,
    messages: list[Message],
    parts: list[Part],
    found: _Findings,
    stuck_ids: set[str],
    parent_of: dict[str, str | None],
    has_children: bool,
) -> list[str]:
    patterns: list[str] = []
    unfinished = {m.id for m in messages}
    with_parts = {p.message_id for p in parts}
    for part in parts:
        if part.message_id not in unfinished:
            patterns.append("parts-in-finished-turn")
        elif part.tool == "question":
            patterns.append("question-wait")
        elif part.status == "pending" and not part.input_summary:
            patterns.append("pending-placeholder")
        else:
            patterns.append("crash-orphan")
        if part.tool == "task" and part.child_session_id in stuck_ids:
            patterns.append("subagent-chain")
    for message in messages:
        if message.is_summary:
            patterns.append("compaction")
        elif message.id not in with_parts:
            patterns.append("interrupted-turn")
    if session_id in found.compacting:
        patterns.append("compaction")
    if parent_of.get(session_id) in stuck_ids or has_children:
        patterns.append("subagent-chain")
    if session_id in found.ignored_prompts:
        patterns.append("ignores-prompts")
    return list(dict.fromkeys(patterns))


def scan(
    store: Store,
    *,
    quick: bool = False,
    all_sessions: bool = False,
    session_ids: Sequence[str] | None = None,
    live: LiveStatus | None = None,
    now: int | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    hung_after_ms: int | None = None,
) -> ScanResult:
    """Diagnose the database. ``session_ids`` limits the scan to those sessions (via indexes).

    ``live`` may be passed to reuse (or, in tests, to pin) the liveness answer; otherwise it is
    detected for the directories of the stuck sessions. With ``hung_after_ms``, live sessions
    get ``idle_ms`` and those stuck inside the live server become ``hung`` (see ``hung.py``);
    without it no session is ever called hung.
    """
    now = now_ms() if now is None else now
    store.require_v1()
    liveness = _liveness(store.path) if live is None else None
    with store.read() as conn:
        if session_ids is not None:
            _require_sessions(store, conn, session_ids)
        found = _collect(
            store, conn, quick=quick, session_ids=session_ids, cancel=cancel, progress=progress, now=now
        )
        sessions, activity = read_sessions(
            store, conn, found.session_ids, all_sessions=all_sessions, requested=session_ids
        )
        at_risk = sessions_at_risk(conn, found, sessions, now)
    if liveness is not None:
        live = liveness({sessions[s].directory for s in found.session_ids & set(sessions)})
    assert live is not None
    return assemble(store, found, sessions, activity, live, quick=quick, now=now, all_sessions=all_sessions,
                    at_risk=at_risk, hung_after_ms=hung_after_ms)


def sessions_at_risk(conn: Connection, found: _Findings, sessions: Mapping[str, Session], now: int) -> set[str]:
    """Sessions whose ids predate the id wrap, when an OpenCode ≤ 1.18.14 writes the database."""
    return idwrap.sessions_at_risk(conn, sorted(sessions), now) if found.wrap_writer else set()


def read_sessions(
    store: Store,
    conn: Connection,
    stuck_ids: set[str],
    *,
    all_sessions: bool = False,
    requested: Sequence[str] | None = None,
    known_activity: Mapping[str, int] | None = None,
) -> tuple[dict[str, Session], dict[str, int]]:
    """The session rows a result shows (the stuck ones, or all) and each one's last activity
    (``known_activity``: sessions whose activity cannot have changed, not asked again)."""
    columns = q.session_columns(store.session_columns)
    sessions: dict[str, Session] = {}
    if all_sessions and requested is None:
        sessions = {row.id: _session(row) for row in conn.execute(q.all_sessions(columns))}
    else:
        wanted = sorted(stuck_ids | set(requested or ()))
        for chunk in _chunks(wanted):
            for row in conn.execute(q.sessions_by_id(columns), {"ids": chunk}):
                sessions[row.id] = _session(row)
    known = known_activity or {}
    activity = {sid: known[sid] for sid in sessions if sid in known}
    for chunk in _chunks(sorted(set(sessions) - set(activity))):
        for sid, last in conn.execute(q.LAST_ACTIVITY, {"ids": chunk}):
            activity[sid] = int(last)
    return sessions, activity


def assemble(
    store: Store,
    found: _Findings,
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
    diagnoses = _diagnose(sessions, found, stuck_ids, activity, live, at_risk)
    if hung_after_ms is not None and any(d.verdict == "live" for d in diagnoses.values()):
        from .hung import classify  # local: hung.py reads rows with this module's helpers

        with store.read() as conn:
            diagnoses = classify(conn, diagnoses, live=live, hung_after_ms=hung_after_ms, now=now)
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
    )


def _liveness(path: Path) -> Callable[[set[str]], LiveStatus]:
    """Start looking for OpenCode processes now, beside the SQL that follows (which releases the
    GIL); the returned call finishes the check for the stuck sessions' directories. Only when an
    OpenCode process uses the file is it asked again, with the directories (its HTTP status)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocinspect-live")
    early = pool.submit(detect, path)
    pool.shutdown(wait=False)

    def finish(directories: set[str]) -> LiveStatus:
        status = early.result()
        return status if status.running is False else detect(path, directories)

    return finish


def _diagnose(
    sessions: dict[str, Session],
    found: _Findings,
    stuck_ids: set[str],
    activity: dict[str, int],
    live: LiveStatus,
    at_risk: set[str] | frozenset[str] = frozenset(),
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
            stuck_children[parent].add(child)  # type: ignore[index]
    diagnoses: dict[str, Diagnosis] = {}
    for sid, session in sessions.items():
        warnings = (idwrap.AT_RISK,) if sid in at_risk else ()
        if sid not in stuck_ids:
            diagnoses[sid] = Diagnosis(
                session=session, verdict="ok", patterns=(), last_activity=activity.get(sid), warnings=warnings
            )
            continue
        patterns = _patterns_for(
            sid, messages[sid], by_session[sid], found, stuck_ids, parent_of, bool(stuck_children[sid])
        )
        verdict, reason = live.verdict(sid, session.directory)
        times = [p.started or p.time_created for p in by_session[sid]]
        times += [m.time_created for m in messages[sid]]
        if sid in found.compacting:
            times.append(found.compacting[sid])
        children = set(stuck_children[sid])
        children |= {p.child_session_id for p in by_session[sid] if p.child_session_id in stuck_ids}
        diagnoses[sid] = Diagnosis(
            session=session,
            verdict=verdict,  # type: ignore[arg-type]
            patterns=tuple(patterns),
            unfinished_messages=tuple(messages[sid]),
            stuck_parts=tuple(by_session[sid]),
            children=tuple(sorted(children)),
            last_activity=activity.get(sid),
            stuck_since=min(times) if times else None,
            live_reason=reason,
            warnings=warnings,
        )
    return spread_chain_verdicts(diagnoses)


def scan_related(
    store: Store,
    session_ids: Sequence[str],
    *,
    live: LiveStatus | None = None,
    now: int | None = None,
    hung_after_ms: int | None = None,
) -> ScanResult:
    """Scan ``session_ids`` plus every parent and child linked to them (a whole subagent tree).

    Uses the session and part indexes only, so it stays fast on huge databases.
    """
    wanted = list(dict.fromkeys(session_ids))
    result = scan(store, session_ids=wanted, live=live, now=now, hung_after_ms=hung_after_ms)
    for _ in range(16):  # subagent trees are shallow; bound the walk anyway
        related = set(wanted)
        for diag in result.sessions:
            if diag.session.parent_id:
                related.add(diag.session.parent_id)
            related.update(p.child_session_id for p in diag.stuck_parts if p.child_session_id)
        with store.read() as conn:
            for chunk in _chunks(sorted(related)):
                related.update(row.id for row in conn.execute(q.CHILD_SESSIONS, {"ids": chunk}))
            present: set[str] = set()
            for chunk in _chunks(sorted(related)):
                present.update(row.id for row in conn.execute(q.sessions_by_id(["id"]), {"ids": chunk}))
        related &= present
        if related <= set(wanted):
            break
        wanted = sorted(related)
        result = scan(store, session_ids=wanted, live=live, now=now, hung_after_ms=hung_after_ms)
    return result



def _require_sessions(store: Store, conn: Connection, session_ids: Sequence[str]) -> None:
    columns = ["id"]
    present: set[str] = set()
    for chunk in _chunks(list(session_ids)):
        present |= {row.id for row in conn.execute(q.sessions_by_id(columns), {"ids": chunk})}
    missing = [s for s in session_ids if s not in present]
    if missing:
        raise SessionNotFound(f"no session {printable(missing[0])} in {store.path}")

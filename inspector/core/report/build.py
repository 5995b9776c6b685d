"""``ocinspect report``: one session's stuck state as a document OpenCode's maintainers can act on.

The document is plain JSON-shaped data (``--json`` prints it, ``markdown.render`` turns it into
Markdown); it is redacted while it is built (``redact.Redactor``) and, unless the person asked
for the content, scrubbed once more as a whole, so no field can carry a secret out by a path the
shapes forgot. No hostname, user name or environment variable is ever read into it.
"""

from __future__ import annotations

import platform
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from inspector.core.db import queries as q
from inspector.core.db.store import Store
from inspector.core.diagnose.patterns import PATTERNS
from inspector.core.diagnose.scan import scan_related
from inspector.core.model import Diagnosis, LiveStatus, ScanResult
from inspector.core.repair.journal import JournalProblem, JournalRun, iter_runs, journal_dir
from inspector.core.text import iso, now_ms

from .redact import (
    KNOWN_AGENTS,
    KNOWN_FINISH,
    KNOWN_TOOLS,
    PART_TYPES,
    TOOL_STATUSES,
    Redactor,
    number,
    scrub_tree,
)
from .turn import Step, TurnReader, stuck_turn

FORMAT = 1
# OpenCode's own words on a tool it stopped: safe to show, and what upstream greps for.
OPENCODE_ERRORS = frozenset({
    "Tool execution aborted",
    "The user rejected permission to use this specific tool call.",
})
_DB_FILE_NAMES = ("opencode.db",)


def build_report(
    store: Store,
    session_id: str,
    *,
    include_content: bool = False,
    tool_version: str = "",
    live: LiveStatus | None = None,
    journal_directory: Path | None = None,
    now: int | None = None,
    turn_reader: TurnReader = stuck_turn,  # SEAM (issue 20 §1): the timeline's adapter goes here
    problems: list[JournalProblem] | None = None,
) -> dict[str, Any]:
    """The report on ``session_id`` and its subagent chain (``SessionNotFound`` if unknown)."""
    store.require_v1()
    now = now_ms() if now is None else now
    red = Redactor.for_this_machine(include_content)
    result = scan_related(store, [session_id], live=live, now=now)
    chain = _chain_order(result, session_id)
    doc: dict[str, Any] = {
        "ocinspect_report": FORMAT,
        "redacted": not include_content,
        "generated": iso(now),
        "platform": platform_info(tool_version),
        "database": _database(store, red),
        "opencode": _opencode(result, red),
        "session": red.ident(session_id),
        "chain": [_member(store, d, session_id, red, turn_reader) for d in chain],
        "repairs": _repairs(store, {d.id for d in chain}, red, journal_directory, problems),
    }
    return doc if include_content else scrub_tree(doc)


def platform_info(tool_version: str) -> dict[str, str]:
    """The OS, Python, SQLite and ocinspect versions (never the host or the user)."""
    return {
        "os": platform.system() or "unknown",
        "os_release": platform.release() or "unknown",
        "machine": platform.machine() or "unknown",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "ocinspect": tool_version or "unknown",
    }


def _chain_order(result: ScanResult, session_id: str) -> list[Diagnosis]:
    """The asked-for session first, then its parents, then its children (tree order)."""
    first = result.get(session_id)
    rest = [d for d in result.sessions if d.id != session_id]
    return ([first] if first is not None else []) + rest


def _database(store: Store, red: Redactor) -> dict[str, Any]:
    versions: list[dict[str, Any]] = []
    migration: str | None = None
    with store.read() as conn:
        if "version" in store.session_columns:
            for row in conn.execute(q.SESSION_VERSIONS):
                versions.append({"version": red.version(row.version), "sessions": int(row.sessions),
                                 "last_updated": iso(_ms(row.last_updated))})
        if "migration" in store.tables:
            migration = conn.execute(q.NEWEST_MIGRATION).scalar()
        elif "__drizzle_migrations" in store.tables:
            migration = conn.execute(q.NEWEST_DRIZZLE_MIGRATION).scalar()
    name = store.path.name
    return {
        "file": name if (name in _DB_FILE_NAMES or red.include_content or _channel_file(name)) else "<renamed>",
        "schema": store.schema,
        "newest_migration": red.migration(migration),
        "event_log": store.has_event_log,
        "opencode_versions": versions,
    }


def _ms(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _channel_file(name: str) -> bool:
    stem = name.removeprefix("opencode-").removesuffix(".db")
    return name.startswith("opencode-") and name.endswith(".db") and stem.isalpha() and len(stem) <= 12


def _opencode(result: ScanResult, red: Redactor) -> dict[str, Any]:
    live = result.live
    return {
        "running": result.opencode_live,
        "versions": sorted({v for _, raw in (live.versions if live else ()) if (v := red.version(raw))}),
    }


def _member(store: Store, diag: Diagnosis, asked: str, red: Redactor, reader: TurnReader) -> dict[str, Any]:
    s = diag.session
    steps = list(reader(store, s.id))
    return {
        "id": red.ident(s.id),
        "role": "asked" if s.id == asked else ("subagent" if s.parent_id else "parent"),
        "parent": red.ident(s.parent_id),
        "title": red.text("title", s.title),
        "directory": red.path(s.directory),
        "written_by": red.version(s.version),
        "created": iso(s.time_created),
        "updated": iso(s.time_updated),
        "verdict": diag.verdict,
        "reason": diag.live_reason,
        "patterns": [{"name": p, "title": PATTERNS[p].title if p in PATTERNS else p,
                      "why": PATTERNS[p].why if p in PATTERNS else ""} for p in diag.patterns],
        "warnings": list(diag.warnings),
        "stuck_since": iso(diag.stuck_since),
        "last_activity": iso(diag.last_activity),
        "children": [red.ident(c) for c in diag.children],
        "turn": _turn(steps, red),
    }


def _turn(steps: Sequence[Step], red: Redactor) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    stopped = max((i for i, st in enumerate(steps) if st.stuck and st.part_id), default=None)
    if stopped is None:
        stopped = max((i for i, st in enumerate(steps) if st.stuck), default=len(steps) - 1)
    role = ""
    for index, st in enumerate(steps):
        if st.kind in ("user", "assistant"):
            role = st.kind
        item = _step(st, red, in_user=role == "user")
        item["stopped_here"] = index == stopped
        out.append(item)
    return out


def _tokens(value: Any) -> dict[str, int | float] | None:
    if not isinstance(value, dict):
        return None
    found: dict[str, int | float] = {}
    for key in ("input", "output", "reasoning", "total"):
        if (n := number(value.get(key))) is not None:
            found[key] = n
    cache = value.get("cache")
    if isinstance(cache, dict):
        for key in ("read", "write"):
            if (n := number(cache.get(key))) is not None:
                found[f"cache_{key}"] = n
    return found or None


def _step(st: Step, red: Redactor, *, in_user: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": st.kind if st.kind in ("user", "assistant", "message") else red.name("part type", st.kind, PART_TYPES),
        "time": iso(st.time),
        "message_id": red.ident(st.message_id),
        "stuck": st.stuck,
    }
    if st.corrupt:
        item["corrupt"] = True
    if st.part_id is None:  # a message
        if st.kind == "assistant":
            item.update({
                "model": red.open_name("model", st.model), "provider": red.open_name("provider", st.provider),
                "agent": red.name("agent", st.agent, KNOWN_AGENTS), "completed": iso(st.completed),
                "finish": red.name("finish", st.finish, KNOWN_FINISH), "tokens": _tokens(st.tokens),
                "cost": number(st.cost), "error_name": red.error_name(st.error_name),
                "error": red.text("error message", st.error, st.error_length),
            })
        return _compact(item)
    item["part_id"] = red.ident(st.part_id)
    if st.kind == "tool":
        tool = red.name("tool", st.tool, KNOWN_TOOLS)
        duration = st.ended - st.started if st.started is not None and st.ended is not None else None
        tool_input: str | None
        if st.tool == "bash" and st.command_length is not None and not red.include_content:
            tool_input = f"<bash command, {st.command_length} chars>"
        else:
            tool_input = red.text(f"{tool} input", st.text, st.text_length)
        error = st.error if st.error in OPENCODE_ERRORS else red.text("error", st.error, st.error_length)
        item.update({
            "tool": tool, "status": red.name("status", st.status, TOOL_STATUSES),
            "started": iso(st.started), "ended": iso(st.ended), "duration_ms": duration,
            "input": tool_input, "output": red.text("output tail" if red.include_content else "output",
                                                     st.output, st.output_length),
            "error": error, "child_session": red.ident(st.child_session),
        })
    elif st.kind in ("text", "reasoning"):
        kind = "prompt" if in_user and st.kind == "text" else st.kind
        item["kind"] = kind
        item["text"] = red.text(kind, st.text, st.text_length)
    elif st.kind == "step-finish":
        item.update({"tokens": _tokens(st.tokens), "cost": number(st.cost),
                     "finish": red.name("finish", st.finish, KNOWN_FINISH)})
    return _compact(item)


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _repairs(store: Store, sessions: set[str], red: Redactor, directory: Path | None,
             problems: list[JournalProblem] | None) -> list[dict[str, Any]]:
    """Recovery runs on this database that touched the chain, oldest first."""
    database = str(Path(store.path).resolve())
    runs: Iterable[JournalRun] = iter_runs(directory or journal_dir(), problems)
    found: list[dict[str, Any]] = []
    for run in runs:
        if run.database != database:
            continue
        touched = [u for u in run.units if sessions & set(u.get("sessions") or ())]
        if not touched:
            continue
        changes = [c for u in touched for c in u["changes"] if c.get("session_id") in sessions]
        committed = sum(1 for u in touched if u.get("index") in run.committed)
        found.append({
            "run_id": red.run_id(run.run_id),
            "created": iso(run.created),
            "sessions": sorted({red.ident(s) or "" for u in touched for s in u["sessions"] if s in sessions}),
            "parts_aborted": sum(1 for c in changes if c.get("table") == "part"),
            "turns_closed": sum(1 for c in changes if c.get("table") == "message"),
            "sessions_uncompacted": sum(1 for c in changes if c.get("table") == "session"),
            "committed": committed == len(touched),
            "undone": run.undone,
            "undone_at": iso(run.undone_at),
        })
    found.reverse()
    return found

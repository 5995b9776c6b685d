"""``ocinspect report``: one session's stuck state as a document OpenCode's maintainers can act on.

The document is plain JSON-shaped data (``--json`` prints it, ``markdown.render`` turns it into
Markdown); it is redacted while it is built (``redact.Redactor``) and, unless the person asked
for the content, scrubbed once more as a whole, so no field can carry a secret out by a path the
shapes forgot. No hostname, user name or environment variable is ever read into it.
"""

from __future__ import annotations

import platform
import re
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, get_args

from inspector.core.db.store import Store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.patterns import PATTERNS, WARNINGS, describe
from inspector.core.diagnose.scan import scan_related
from inspector.core.diagnose.timeline import Entry, EntryKind, SessionTimeline, Tokens, TurnMessage, read_timeline
from inspector.core.model import Diagnosis, LiveStatus, ScanResult, Schema
from inspector.core.repair.journal import JournalProblem, JournalRun, iter_runs, journal_dir
from inspector.core.text import iso, now_ms

from .reason import report_reason
from .redact import (
    KNOWN_AGENTS,
    KNOWN_FINISH,
    KNOWN_TOOLS,
    TOOL_STATUSES,
    Redactor,
    number,
    scrub_tree,
)

FORMAT = 1
# OpenCode's own words on a tool it stopped: safe to show, and what upstream greps for.
OPENCODE_ERRORS = frozenset(
    {
        "Tool execution aborted",
        "The user rejected permission to use this specific tool call.",
    }
)
_DB_FILE_NAMES = ("opencode.db",)
STORY_TURNS = 3  # turns read to find the stuck one (the report starts there)
ENTRY_KINDS = frozenset(get_args(EntryKind))
_PATCH_LABEL = re.compile(r"\d{1,9} file\(s\)")
# (store, session id) -> that session's story; the report shapes it (tests may pass another)
TurnReader = Callable[[Store, str], SessionTimeline]


def build_report(
    store: Store,
    session_id: str,
    *,
    include_content: bool = False,
    tool_version: str = "",
    live: LiveStatus | None = None,
    journal_directory: Path | None = None,
    now: int | None = None,
    turn_reader: TurnReader | None = None,  # default: ``stuck_story`` (the timeline)
    problems: list[JournalProblem] | None = None,
) -> dict[str, Any]:
    """The report on ``session_id`` and its subagent chain (``SessionNotFound`` if unknown)."""
    store.require_readable()
    now = now_ms() if now is None else now
    red = Redactor.for_this_machine(include_content)
    result = scan_related(store, [session_id], ScanOptions(live=live, now=now, hung_after_ms=None))
    chain = _chain_order(result, session_id)
    doc: dict[str, Any] = {
        "ocinspect_report": FORMAT,
        "redacted": not include_content,
        "generated": iso(now),
        "platform": {
            key: red.open_name(key.replace("_", " "), value) or "unknown"
            for key, value in platform_info(tool_version).items()
        },
        "database": _database(store, red),
        "opencode": _opencode(result, red),
        "session": red.ident(session_id),
        "chain": [
            _member(
                store,
                d,
                session_id,
                red,
                turn_reader or stuck_story,
                reason=report_reason(d, red, opencode_live=result.opencode_live, now=now),
            )
            for d in chain
        ],
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
    with store.reading() as reads:
        provenance = reads.provenance()
    versions = [
        {"version": red.version(v.version), "sessions": v.sessions, "last_updated": iso(v.last_updated)}
        for v in provenance.versions
    ]
    migration = provenance.newest_migration
    name = store.path.name
    return {
        "file": name if (name in _DB_FILE_NAMES or red.include_content or _channel_file(name)) else "<renamed>",
        "schema": store.schema,
        "newest_migration": red.migration(migration),
        "event_log": provenance.keeps_event_log,
        "event_log_words": provenance.event_log,
        "opencode_versions": versions,
    }


def _counted(units: Iterable[dict[str, Any]], key: str) -> int:
    """The tools or turns the plan counted in ``units`` beyond their rows (a journal field)."""
    values = (u.get(key) for u in units)
    return sum(v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0)


def _channel_file(name: str) -> bool:
    stem = name.removeprefix("opencode-").removesuffix(".db")
    return name.startswith("opencode-") and name.endswith(".db") and stem.isalpha() and len(stem) <= 12


def _opencode(result: ScanResult, red: Redactor) -> dict[str, Any]:
    live = result.live
    return {
        "running": result.opencode_live,
        "versions": sorted({v for _, raw in (live.versions if live else ()) if (v := red.version(raw))}),
    }


def _member(
    store: Store, diag: Diagnosis, asked: str, red: Redactor, reader: TurnReader, *, reason: str
) -> dict[str, Any]:
    s = diag.session
    story = reader(store, s.id)
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
        "reason": reason,
        "patterns": [_pattern(p, red, store.schema) for p in diag.patterns],
        "warnings": [red.name("warning", w, WARNINGS) for w in diag.warnings],
        "stuck_since": iso(diag.stuck_since),
        "last_activity": iso(diag.last_activity),
        "children": [red.ident(c) for c in diag.children],
        "turn": _turn(story, red),
        "turn_truncated": story.truncated,
    }


def _pattern(name: str, red: Redactor, schema: Schema) -> dict[str, str | None]:
    known = describe(name, schema) if name in PATTERNS else None
    shown = red.name("pattern", name, PATTERNS)
    return {"name": shown, "title": known.title if known else "", "why": known.why if known else ""}


def stuck_story(store: Store, session_id: str) -> SessionTimeline:
    """The report's adapter over the timeline: this session's last turns, alone (the chain is
    the scan's, member by member)."""
    return read_timeline(store, session_id, turns=STORY_TURNS, chain=False).main


def _turn(story: SessionTimeline, red: Redactor) -> list[dict[str, Any]]:
    """From the first turn with something stuck in it (else the newest turn) to the end, each
    message then its parts; the point where the story stops is marked ``stopped_here``."""
    turns = story.turns
    if not turns:
        return []
    first = next(
        (i for i, t in enumerate(turns) if any(m.unfinished or any(e.stuck for e in m.entries) for m in t.messages)),
        len(turns) - 1,
    )
    messages = [m for t in turns[first:] for m in t.messages]
    stuck_parts = [e.id for m in messages for e in m.entries if e.stuck]
    stop = story.stop
    target: str | None = None
    if stop is not None:
        target = stuck_parts[-1] if stop.kind == "tool" and stuck_parts else stop.message_id
    out: list[dict[str, Any]] = []
    for message in messages:
        item = _message(message, red)
        item["stopped_here"] = message.id == target
        out.append(item)
        for entry in message.entries:
            part = _entry(entry, red, in_user=message.role == "user")
            part["stopped_here"] = entry.id == target
            out.append(part)
    if not any(item["stopped_here"] for item in out):
        out[-1]["stopped_here"] = True
    return out


def _tokens(value: Tokens | None) -> dict[str, int] | None:
    if value is None or not value.total:  # nothing recorded (or nothing numeric)
        return None
    found = {
        key: n for key in ("input", "output", "reasoning", "cache_read", "cache_write") if (n := getattr(value, key))
    }
    return {**found, "total": value.total}


def _message(m: TurnMessage, red: Redactor) -> dict[str, Any]:
    kind = m.role if m.role in ("user", "assistant") and not m.corrupt else "message"
    item: dict[str, Any] = {
        "kind": kind,
        "time": iso(m.time_created),
        "message_id": red.ident(m.id),
        "stuck": m.unfinished,
    }
    if m.corrupt:
        item["corrupt"] = True
    if kind == "assistant":
        item.update(
            {
                "model": red.open_name("model", m.model),
                "provider": red.open_name("provider", m.provider),
                "agent": red.name("agent", m.agent, KNOWN_AGENTS),
                "completed": iso(m.completed),
                "finish": red.name("finish", m.finish, KNOWN_FINISH),
                "tokens": _tokens(m.tokens),
                "cost": number(m.cost),
                "error_name": red.error_name(m.error_name),
                "error": red.text("error message", m.error_message or None, m.error_chars or None),
                "summary": True if m.is_summary else None,
            }
        )
    return _compact(item)


def _entry(e: Entry, red: Redactor, *, in_user: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": red.name("part type", e.kind, ENTRY_KINDS),
        "time": iso(e.time_created),
        "message_id": red.ident(e.message_id),
        "stuck": e.stuck,
        "part_id": red.ident(e.id),
    }
    if e.kind == "corrupt":
        item["corrupt"] = True
    if e.kind == "tool":
        tool = red.name("tool", e.tool, KNOWN_TOOLS)
        tool_input: str | None
        if e.tool == "bash" and e.command_chars is not None and not red.include_content:
            tool_input = f"<bash command, {e.command_chars} chars>"
        else:
            tool_input = red.text(f"{tool} input", e.input_head or None, e.input_chars or None)
        error = e.error if e.error in OPENCODE_ERRORS else red.text("error", e.error or None, e.error_chars or None)
        item.update(
            {
                "tool": tool,
                "status": red.name("status", e.status, TOOL_STATUSES),
                "title": red.text("title", e.title),
                "started": iso(e.start),
                "ended": iso(e.end),
                "duration_ms": e.duration_ms,
                "input": tool_input,
                "output": red.text(
                    "output tail" if red.include_content else "output", e.output_tail or None, e.output_chars or None
                ),
                "error": error,
                "child_session": red.ident(e.child_session_id),
                "child_inferred": True if e.child_inferred else None,
                "interrupted": True if e.interrupted else None,
            }
        )
    elif e.kind in ("text", "reasoning"):
        kind = "prompt" if in_user and e.kind == "text" else e.kind
        item["kind"] = kind
        item["text"] = red.text(kind, e.text, e.text_chars or None)
    elif e.kind == "step-finish":
        item.update(
            {"tokens": _tokens(e.tokens), "cost": number(e.cost), "finish": red.name("finish", e.reason, KNOWN_FINISH)}
        )
    elif e.kind == "retry":
        item.update({"attempt": e.attempt, "error": red.text("retry error", e.error or None, e.error_chars or None)})
    elif e.kind == "patch":  # "3 file(s)": ocinspect's words around a count
        item["text"] = e.text if _PATCH_LABEL.fullmatch(e.text) else red.text("patch", e.text)
    elif e.kind in ("subtask", "agent", "file") and e.text:
        item["text"] = red.text(f"{e.kind} name", e.text)
    return _compact(item)


def _compact(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if v is not None}


def _repairs(
    store: Store, sessions: set[str], red: Redactor, directory: Path | None, problems: list[JournalProblem] | None
) -> list[dict[str, Any]]:
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
        found.append(
            {
                "run_id": red.run_id(run.run_id),
                "created": iso(run.created),
                "sessions": sorted({red.ident(s) or "" for u in touched for s in u["sessions"] if s in sessions}),
                "parts_aborted": sum(1 for c in changes if c.get("table") == "part") + _counted(touched, "tools"),
                "turns_closed": sum(1 for c in changes if c.get("table") == "message") + _counted(touched, "turns"),
                "sessions_uncompacted": sum(1 for c in changes if c.get("table") == "session"),
                "committed": committed == len(touched),
                "undone": run.undone,
                "undone_at": iso(run.undone_at),
            }
        )
    found.reverse()
    return found

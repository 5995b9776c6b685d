#!/usr/bin/env python3
"""Build a large synthetic OpenCode 2.1.2 database for the v2 flat row (see bench/README.md).

The healthy history is ``make_db.py``'s, row for row (same seed and size: the same sessions,
the same user and assistant messages, the same tool calls and outputs), written the way 2.1.2
writes it: one ``session_v2`` row per session (claim cleared, last turn ``succeeded``), one
``session_message`` row per message (``user`` rows carry their prompt, ``assistant`` rows their
text, reasoning and tool calls as items of ``content[]``, tools renamed ``bash``→``shell``,
``task``→``subagent``), an ``idle`` row closing every turn, seqs spent as v2 spends them and the
per-session counter in ``event_sequence``. The step markers and patches of 1.x have no row of
their own in 2.x (their tokens, cost and finish go into the assistant row).

Stuck sessions are grafted from the real 2.1.2 fixtures (``tests/fixtures/v2/v2-stuck-*.db``),
round-robin over :data:`SHAPES`: every row of the fixture's sessions, ids made unique per copy,
times moved to the last two days, project and directory those of a generated project. The
manifest names each one with its shape.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, column, create_engine, insert, table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_db as v1  # noqa: E402

REPO = v1.REPO
FIXTURES = REPO / "tests" / "fixtures" / "v2"
DDL_PATH = FIXTURES / "schema-2.1.2.sql"
MIGRATIONS_FROM = FIXTURES / "v2-clean.db"
VERSION = "2.1.2"
DEFAULT_NOW = v1.DEFAULT_NOW
# The shapes a recover settles for good (``queued`` keeps its inbox rows: a prompt is not ours to drop).
SHAPES = ("bash", "task", "pending", "question", "ask", "graceful-stop", "orphan-child", "exhausted")
TOOL_NAMES = {"bash": "shell", "task": "subagent"}
FIXTURE_TIMES = re.compile(r"\b1796\d{9}\b")  # every ms timestamp of the fixtures (2026-12-07)
FIXTURE_IDS = re.compile(r"\b(ses|msg|call)_[0-9A-Za-z]+\b")

# 2.1.2's ``session_v2`` holds every column of 1.x's ``session`` the builder fills, and its own
# columns for the last turn and the claim.
SESSION_COLUMNS = (*v1.SESSION_COLUMNS, "time_idle", "idle_outcome", "time_suspended", "resume_attempts")
MESSAGE_COLUMNS = ("id", "session_id", "type", "seq", "time_created", "time_updated", "data")


def manifest_path(db: str | os.PathLike[str]) -> Path:
    return v1.manifest_path(db)


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


class _Open:
    """One 1.x message being converted: its row fields and the parts seen so far."""

    __slots__ = ("data", "id", "parts", "session_id", "time_created", "time_updated")

    def __init__(self, mid: str, sid: str, t: int, updated: int, data: dict[str, Any]) -> None:
        self.id, self.session_id, self.time_created, self.time_updated, self.data = mid, sid, t, updated, data
        self.parts: list[dict[str, Any]] = []


class V2Builder(v1.Builder):
    """``make_db.Builder`` with its rows written as OpenCode 2.1.2 writes them (no 1.x incidents)."""

    def __init__(self, conn: Connection, *, seed: int, size: float, now: int) -> None:
        super().__init__(conn, seed=seed, size=size, stuck=0, now=now)
        self.open: _Open | None = None
        self.rows: list[dict[str, Any]] = []
        self.session_rows: list[dict[str, Any]] = []
        self.seq: dict[str, int] = {}
        self.turn_end: dict[str, tuple[int, str]] = {}  # session: (end of its open turn, outcome)
        self.idle: dict[str, tuple[int, str]] = {}  # session: its last closed turn
        self.counts.update({"idle_rows": 0, "content_items": 0})
        self.t_message = table("session_message", *(column(c) for c in MESSAGE_COLUMNS))
        self.t_session = table("session_v2", *(column(c) for c in SESSION_COLUMNS))

    def plan_incidents(self, starts: list[int]) -> dict[int, v1.Incident]:
        return {}  # the stuck sessions are grafted from real 2.1.2 fixtures afterwards

    # -- rows -----------------------------------------------------------------------------
    def emit_message(self, session_id: str, t: int, data: dict[str, Any], updated: int | None = None) -> str:
        self._finish_open()
        mid = self.ids.make("msg", t)
        if data.get("role") == "user":
            self._close_turn(session_id, t)
        self.open = _Open(mid, session_id, t, updated if updated is not None else t + 2, data)
        self.counts["messages"] += 1
        return mid

    def emit_part(
        self, message_id: str, session_id: str, t: int, data: dict[str, Any], updated: int | None = None
    ) -> str:
        assert self.open is not None and self.open.id == message_id, "a part after its message was written"
        self.open.parts.append(data)
        self.counts["parts"] += 1
        if data.get("type") == "tool":
            self.counts["tool_parts"] += 1
        return self.ids.make("prt", t)

    def session_row(self, sid: str, project: v1.Project, **kwargs: Any) -> None:
        self._finish_open()
        self._close_turn(sid, None)
        super().session_row(sid, project, **kwargs)
        row = self.sessions.pop()
        idle_at, outcome = self.idle.get(sid, (None, None))
        self.session_rows.append(
            {
                **row,
                "path": None,
                "version": VERSION,
                "time_updated": max(row["time_updated"], idle_at or 0),
                "time_idle": idle_at,
                "idle_outcome": outcome,
                "time_suspended": None,
                "resume_attempts": 0,
            }
        )
        if kwargs.get("parent") is None and (len(self.rows) >= 20_000 or self.buffered_bytes >= v1.FLUSH_BYTES):
            self.flush()

    def flush(self) -> None:
        if self.session_rows:
            self.conn.execute(insert(self.t_session), self.session_rows)
        if self.rows:
            self.conn.execute(insert(self.t_message), self.rows)
        self.conn.commit()
        self.counts["data_bytes"] += self.buffered_bytes
        self.session_rows, self.rows, self.buffered_bytes = [], [], 0

    def _next_seq(self, sid: str, spent: int) -> int:
        self.seq[sid] = self.seq.get(sid, 0) + spent
        return self.seq[sid]

    def _row(self, mid: str, sid: str, kind: str, t: int, updated: int, data: dict[str, Any], spent: int) -> None:
        text = _dumps(data)
        self.rows.append(
            {
                "id": mid,
                "session_id": sid,
                "type": kind,
                "seq": self._next_seq(sid, spent),
                "time_created": t,
                "time_updated": updated,
                "data": text,
            }
        )
        self.buffered_bytes += len(text)

    def _close_turn(self, sid: str, t: int | None) -> None:
        """The ``idle`` row of the session's open turn (v2 writes one when a turn ends)."""
        end = self.turn_end.pop(sid, None)
        if end is None:
            return
        at = end[0] + 7 if t is None else min(end[0] + 7, t - 1)
        outcome = end[1]
        self._row(self.ids.make("msg", at), sid, "idle", at, at + 2, {"time": {"created": at}, "outcome": outcome}, 2)
        self.idle[sid] = (at, outcome)
        self.counts["idle_rows"] += 1

    def _finish_open(self) -> None:
        m, self.open = self.open, None
        if m is None:
            return
        if m.data.get("role") == "user":
            self._user(m)
        else:
            self._assistant(m)

    def _user(self, m: _Open) -> None:
        text = "".join(p.get("text", "") for p in m.parts if p.get("type") == "text")
        files = [
            {"type": "file", "mime": p.get("mime"), "filename": p.get("filename"), "url": p.get("url")}
            for p in m.parts
            if p.get("type") == "file"
        ]
        data: dict[str, Any] = {"time": {"created": m.time_created}, "text": text}
        if files:
            data["files"] = files
            self.counts["content_items"] += len(files)
        kind = "synthetic" if any(p.get("type") == "compaction" for p in m.parts) else "user"
        self._row(m.id, m.session_id, kind, m.time_created, m.time_updated, data, 3)

    def _assistant(self, m: _Open) -> None:
        src = m.data
        when = src.get("time", {})
        completed = when.get("completed")
        content: list[dict[str, Any]] = []
        finish, tokens, cost, snapshot = src.get("finish"), src.get("tokens"), src.get("cost", 0), None
        for p in m.parts:
            kind = p.get("type")
            if kind in ("text", "reasoning"):
                content.append({"type": kind, "text": p.get("text", "")})
            elif kind == "tool":
                content.append(self._tool(p))
            elif kind == "step-start":
                snapshot = p.get("snapshot")
            elif kind == "step-finish":
                finish, tokens, cost = p.get("reason", finish), p.get("tokens", tokens), p.get("cost", cost)
        self.counts["content_items"] += len(content)
        data: dict[str, Any] = {
            "time": {"created": m.time_created, "streamed": m.time_created + 40}
            | ({"completed": completed} if completed is not None else {}),
            "agent": src.get("agent"),
            "model": {"id": src.get("modelID"), "providerID": src.get("providerID")},
            "content": content,
            # (no draw from the builder's generator here: the rows stay make_db.py's, draw for draw)
            "snapshot": {"start": snapshot or "0" * 40, "end": snapshot or "0" * 40, "files": []},
        }
        if finish is not None:
            data["finish"] = finish
        if src.get("error") is not None:
            data["finish"] = "error"
            data["error"] = {"type": "aborted", "message": "Step interrupted"}
        data["cost"], data["tokens"] = cost, tokens
        self._row(m.id, m.session_id, "assistant", m.time_created, m.time_updated, data, 2 + 2 * len(content))
        outcome = "interrupted" if src.get("error") is not None else "succeeded"
        self.turn_end[m.session_id] = (completed or m.time_updated, outcome)

    @staticmethod
    def _tool(p: dict[str, Any]) -> dict[str, Any]:
        state = p.get("state", {})
        span = state.get("time", {})
        status = state.get("status")
        new: dict[str, Any] = {"status": status, "input": state.get("input") or {}}
        if status == "completed":
            new["content"] = [{"type": "text", "text": state.get("output", "")}]
            new["metadata"] = state.get("metadata", {})
        else:  # an aborted turn's tool, as v2 closes it
            new = {
                "status": "error",
                "input": new["input"],
                "error": {"type": "aborted", "message": "Tool execution interrupted"},
            }
        start, end = span.get("start"), span.get("end")
        return {
            "type": "tool",
            "id": p.get("callID"),
            "name": TOOL_NAMES.get(p.get("tool", ""), p.get("tool")),
            "executed": False,
            "state": new,
            "time": {"created": (start or 0) - 20, "ran": start, "completed": end or start},
        }

    def counters(self) -> list[dict[str, Any]]:
        return [{"aggregate_id": sid, "seq": seq, "owner_id": None} for sid, seq in self.seq.items()]


# -- grafting the real fixtures' stuck sessions -----------------------------------------------
def _fixture_rows(path: Path) -> dict[str, list[dict[str, Any]]]:
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    src.row_factory = sqlite3.Row
    try:
        return {
            name: [dict(r) for r in src.execute(f"SELECT * FROM {name} ORDER BY rowid")]  # noqa: S608
            for name in ("session_v2", "session_message", "session_inbox", "event_sequence")
        }
    finally:
        src.close()


def _rewriter(copy: int, shift: int, mapping: dict[str, str]) -> Callable[[Any], Any]:
    def new_id(m: re.Match[str]) -> str:
        old = m.group(0)
        if old not in mapping:  # the same length and prefix, unique per copy
            prefix, rest = old.split("_", 1)
            mapping[old] = f"{prefix}_{rest}{copy:04d}" if prefix == "call" else f"{prefix}_{rest[:-4]}{copy:04d}"
        return mapping[old]

    def rewrite(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and FIXTURE_TIMES.fullmatch(str(value)):
            return value - shift
        if isinstance(value, str):
            value = FIXTURE_TIMES.sub(lambda m: str(int(m.group(0)) - shift), value)
            return FIXTURE_IDS.sub(new_id, value)
        return value

    return rewrite


def graft(
    conn: Connection, count: int, projects: list[tuple[str, str]], now: int, *, first: int = 0
) -> list[dict[str, Any]]:
    """``count`` stuck sessions (round-robin over :data:`SHAPES`) copied from the real fixtures;
    ``first`` numbers the first copy (the ids of each copy are unique to its number)."""
    planted: list[dict[str, Any]] = []
    cache = {shape: _fixture_rows(FIXTURES / f"v2-stuck-{shape}.db") for shape in SHAPES}
    for copy in range(first, first + count):
        shape = SHAPES[copy % len(SHAPES)]
        rows = cache[shape]
        newest = max(int(r["time_created"]) for r in rows["session_message"])
        shift = newest - (now - 60_000 * (copy + 5))
        mapping: dict[str, str] = {}
        rewrite = _rewriter(copy, shift, mapping)
        project, directory = projects[copy % len(projects)]
        for name in ("session_v2", "session_message", "session_inbox", "event_sequence"):
            out = []
            for r in rows[name]:
                if name == "event_sequence" and not str(r["aggregate_id"]).startswith("ses_"):
                    continue  # the project's counter: the generated projects keep none
                new = {k: rewrite(v) for k, v in r.items()}
                if name == "session_v2":
                    new.update(project_id=project, directory=directory)
                out.append(new)
            if out:
                conn.execute(insert(table(name, *(column(c) for c in out[0]))), out)
        roots = [mapping[r["id"]] for r in rows["session_v2"] if r["parent_id"] is None]
        for r in rows["session_v2"]:
            planted.append(
                {
                    "session_id": mapping[r["id"]],
                    "shape": shape,
                    "copy": copy,
                    "parent_id": mapping.get(r["parent_id"]) if r["parent_id"] else None,
                    "root": roots[0] if roots else None,
                    # an orphaned child's parent finished its turn: only the child is stuck
                    "stuck": not (shape == "orphan-child" and r["parent_id"] is None),
                }
            )
    conn.commit()
    return planted


def build(
    out: Path, *, size: float = 1.0, stuck: int | None = None, seed: int = 1, now: int = v1.DEFAULT_NOW
) -> dict[str, Any]:
    """Write the v2 database to ``out`` (atomically, WAL) and its manifest; return the manifest."""
    if stuck is None:
        stuck = default_stuck(size)
    out = out.resolve()
    tmp = v1.building_path(out)
    began = time.perf_counter()
    tables, indexes = v1.split_ddl(DDL_PATH.read_text())
    engine = create_engine(f"sqlite:///{tmp}")
    with engine.connect() as conn:
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144", "temp_store=MEMORY"):
            conn.exec_driver_sql(f"PRAGMA {pragma}")
        for ddl in tables:
            conn.exec_driver_sql(ddl)
        src = sqlite3.connect(f"file:{MIGRATIONS_FROM}?mode=ro", uri=True)
        try:
            migrations = src.execute("SELECT id, time_completed FROM migration ORDER BY rowid").fetchall()
        finally:
            src.close()
        conn.execute(
            insert(table("migration", column("id"), column("time_completed"))),
            [{"id": i, "time_completed": t} for i, t in migrations],
        )
        builder = V2Builder(conn, seed=seed, size=size, now=now)
        builder.build()
        conn.execute(
            insert(table("event_sequence", column("aggregate_id"), column("seq"), column("owner_id"))),
            builder.counters(),
        )
        conn.commit()
        projects = [
            (str(r[0]), str(r[1])) for r in conn.exec_driver_sql("SELECT id, worktree FROM project ORDER BY id")
        ]
        planted = graft(conn, stuck, projects, now)
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
        conn.commit()
        conn.exec_driver_sql("PRAGMA journal_mode=WAL").fetchall()
        conn.commit()
    engine.dispose()
    v1.put_in_place(tmp, out)
    elapsed = time.perf_counter() - began
    manifest = {
        "db": out.name,
        "generator": "bench/make_db_v2.py",
        "params": {"size": size, "seed": seed, "stuck": stuck, "now": now},
        "counts": builder.counts | {"grafted_sessions": len(planted)},
        "stuck": planted,
        "stuck_sessions": sorted(p["session_id"] for p in planted if p["stuck"]),
        "build_seconds": round(elapsed, 1),
    }
    manifest_path(out).write_text(json.dumps(manifest, indent=1) + "\n")
    c = builder.counts
    print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {elapsed:.1f}s: {c['sessions']} sessions "
        f"({c['child_sessions']} subagent), {c['messages']} messages (+{c['idle_rows']} idle rows), "
        f"{c['parts']} 1.x parts as {c['content_items']} content items ({c['tool_parts']} tools); "
        f"{len(planted)} grafted stuck sessions",
        file=sys.stderr,
    )
    return manifest


def default_stuck(size: float) -> int:
    """A handful per size unit, every shape at least once."""
    return max(len(SHAPES), round(10 * size))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=float, default=1.0, help="the same scale as make_db.py --size")
    ap.add_argument("--stuck", type=int, default=None, help="stuck sessions to graft (default 10 × size, at least 8)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now", type=int, default=v1.DEFAULT_NOW)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "opencode-v2-bench.db")
    args = ap.parse_args(argv)
    if args.size <= 0:
        ap.error("--size must be > 0")
    build(args.out, size=args.size, stuck=args.stuck, seed=args.seed, now=args.now)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build a synthetic OpenCode 1.18.33 (schema v1) database for the benchmark.

The tables come from the real DDL (``inspector/core/synth/sql/opencode-1.18.33.sql``); the JSON in
``message.data`` / ``part.data`` copies the shapes real OpenCode writes (see
``tests/fixtures/*.db``). ``--size 1`` (the default) gives ≈ 1.35 GB: 3,000 root sessions plus
~500 subagent children over 30 projects, ~190,000 messages and ~1.3 M parts; most tool outputs
are short, a tenth are 1–200 KB (heavy-tailed).

Stuck sessions of every pattern are planted (``--stuck N`` incidents, round-robin over the
patterns, some old, some recent) and listed in a JSON manifest next to the database
(``<stem>.manifest.json``): the ground truth for correctness checks.

Deterministic: the same ``--seed``/``--size``/``--stuck``/``--now`` give the same rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import column, create_engine, insert, table
from sqlalchemy.engine import Connection

REPO = Path(__file__).resolve().parents[1]
DDL_PATH = REPO / "inspector" / "core" / "synth" / "sql" / "opencode-1.18.33.sql"
MIGRATIONS_FROM = REPO / "tests" / "fixtures" / "opencode-1.18.33-clean.db"

DEFAULT_NOW = 1_795_538_900_000  # 2026-11-24, the day the real fixtures were captured
DAY = 86_400_000
HOUR = 3_600_000
SPAN_DAYS = 300
ID_WRAP = 1 << 36  # ms: the 48-bit id time prefix (ms * 4096 + counter) wraps every 2**36 ms

PATTERNS = (
    "crash-orphan",
    "pending-placeholder",
    "parts-in-finished-turn",
    "subagent-chain",
    "question-wait",
    "compaction",
)
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_OUTPUT = 200 * 1024
META_OUTPUT_LIMIT = 30_000  # OpenCode keeps a bounded preview of bash output in state.metadata

# Scale at --size 1 (tuned so the defaults land at ≈ 190k messages / 1.3 M parts / 1.35 GB).
ROOT_SESSIONS = 3000
PROJECTS = 30
FLUSH_PARTS = 40_000
FLUSH_BYTES = 96 << 20

MODELS = (
    ("anthropic", "claude-sonnet-4-5"),
    ("anthropic", "claude-opus-4-1"),
    ("openai", "gpt-5"),
    ("openai", "gpt-5-codex"),
    ("google", "gemini-2.5-pro"),
    ("opencode", "grok-code"),
)
VERSIONS = ("1.2.27", "1.4.3", "1.6.11", "1.8.2", "1.10.7", "1.12.4", "1.14.20", "1.16.9", "1.18.33")
ADJ = (
    "happy quick brave calm eager fancy gentle jolly kind lively mighty nimble proud silly "
    "sunny stellar swift tidy witty zesty bold clever cosmic crisp dapper misty"
).split()
NOUN = (
    "wolf engine orchid river falcon comet meadow harbor lantern maple otter panda pixel "
    "quartz raven saturn tiger violet walrus zephyr badger canyon dolphin ember"
).split()
WORDS = (
    "the a to of and in is for on with that this it as be by from at or not are we can "
    "function return value error test file config build update fix add remove check "
    "module import class def self args data result request response handler server client "
    "cache index query table session message part state status output input user model "
    "token stream parse json path directory process thread lock retry timeout"
).split()
TITLES = (
    "Fix failing tests in",
    "Refactor",
    "Add caching to",
    "Investigate slow",
    "Debug crash in",
    "Write docs for",
    "Upgrade dependencies of",
    "Implement pagination for",
    "Review",
    "Port to async:",
    "Clean up",
    "Add CLI flag to",
)
COMMANDS = (
    "pytest -x -q",
    "npm test",
    "cargo build --release",
    "git status",
    "git diff --stat",
    "make lint",
    "go test ./...",
    "ls -la",
    "python -m mypy .",
    "npm run build",
    "docker compose logs api",
    "rg TODO",
    "uv sync",
    "bun run typecheck",
)
LONG_COMMANDS = (
    "sleep 600",
    "npm run dev",
    "pytest tests/integration -x",
    "cargo watch -x test",
    "docker compose up",
    "tail -f logs/app.log",
    "./scripts/deploy.sh staging",
)
EXTS = (".py", ".ts", ".tsx", ".go", ".rs", ".md", ".json", ".toml")

TOOL_WEIGHTS = (
    ("read", 30),
    ("bash", 22),
    ("grep", 10),
    ("edit", 14),
    ("glob", 6),
    ("write", 4),
    ("list", 3),
    ("todowrite", 5),
    ("webfetch", 2),
    ("task", 0.12),
)


def manifest_path(db: str | os.PathLike[str]) -> Path:
    """Where the manifest of ``db`` lives: ``<dir>/<stem>.manifest.json``."""
    db = Path(db)
    return db.with_name(db.stem + ".manifest.json")


class Ids:
    """OpenCode ids: prefix + 12 hex of (ms * 4096 + counter) mod 2**48 + 14 base62.

    Sessions use the bitwise complement (descending ids); messages and parts ascend.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.last: dict[str, tuple[int, int]] = {}

    def make(self, prefix: str, ms: int, descending: bool = False) -> str:
        last_ms, counter = self.last.get(prefix, (-1, 0))
        counter = counter + 1 if last_ms == ms else 1
        self.last[prefix] = (ms, counter)
        n = ms * 4096 + counter
        if descending:
            n = ~n
        n &= 0xFFFF_FFFF_FFFF
        return f"{prefix}_{n:012x}{''.join(self.rng.choices(B62, k=14))}"


@dataclass
class Project:
    id: str
    worktree: str
    time_created: int


@dataclass
class Incident:
    pattern: str
    recent: bool
    variant: int
    number: int


@dataclass
class Stuck:
    session_id: str
    pattern: str
    incident: int
    recent: bool
    parent_id: str | None = None
    parts: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    time_compacting: int | None = None
    last_activity: int = 0


class Builder:
    def __init__(self, conn: Connection, *, seed: int, size: float, stuck: int, now: int) -> None:
        self.conn = conn
        self.rng = random.Random(seed)
        self.ids = Ids(random.Random(seed + 1))
        self.size = size
        self.n_incidents = stuck
        self.now = now
        self.code_pool = self._pool(6 << 20, code=True)
        self.prose_pool = self._pool(1 << 20, code=False)
        self.sessions: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] = []
        self.buffered_bytes = 0
        self.counts = {
            "projects": 0,
            "sessions": 0,
            "child_sessions": 0,
            "messages": 0,
            "parts": 0,
            "tool_parts": 0,
            "data_bytes": 0,
        }
        self.stuck: list[Stuck] = []
        self.t_session = table("session", *(column(c) for c in SESSION_COLUMNS))
        self.t_message = table(
            "message", *(column(c) for c in ("id", "session_id", "time_created", "time_updated", "data"))
        )
        self.t_part = table(
            "part", *(column(c) for c in ("id", "message_id", "session_id", "time_created", "time_updated", "data"))
        )

    # ---------------------------------------------------------------- text helpers
    def _pool(self, nbytes: int, *, code: bool) -> str:
        rng = random.Random(nbytes)
        lines: list[str] = []
        total = 0
        while total < nbytes:
            if code:
                indent = " " * (4 * rng.randrange(4))
                words = rng.choices(WORDS, k=rng.randrange(2, 12))
                kind = rng.randrange(6)
                if kind == 0:
                    line = f"{indent}def {words[0]}_{words[-1]}({', '.join(words[1:3])}):"
                elif kind == 1:
                    line = f"{indent}{words[0]} = {words[1]}.{words[-1]}({rng.randrange(1000)})"
                elif kind == 2:
                    line = f"[{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}] INFO {' '.join(words)}"
                elif kind == 3:
                    line = f'{indent}"{words[0]}": "{" ".join(words[1:])}",'
                else:
                    line = indent + " ".join(words)
            else:
                line = " ".join(rng.choices(WORDS, k=rng.randrange(6, 20))).capitalize() + "."
            lines.append(line)
            total += len(line) + 1
        return "\n".join(lines)

    def code(self, n: int) -> str:
        n = max(1, min(n, len(self.code_pool) - 1))
        start = self.rng.randrange(len(self.code_pool) - n)
        return self.code_pool[start : start + n]

    def prose(self, n: int) -> str:
        n = max(1, min(n, len(self.prose_pool) - 1))
        start = self.rng.randrange(len(self.prose_pool) - n)
        return self.prose_pool[start : start + n]

    def big_size(self) -> int:
        """Tool output size: most are short (``git status``), a tenth 1 KB … 200 KB, heavy-tailed."""
        if self.rng.random() < 0.9:
            return self.rng.randrange(20, 500)
        return min(MAX_OUTPUT, int(1024 * self.rng.paretovariate(1.3)))

    def hexid(self, bits: int = 160) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def path(self, root: str) -> str:
        parts = self.rng.choices(WORDS, k=self.rng.randrange(1, 4))
        return f"{root}/{'/'.join(parts)}{self.rng.choice(EXTS)}"

    # ---------------------------------------------------------------- row emitters
    def emit_message(self, session_id: str, t: int, data: dict[str, Any], updated: int | None = None) -> str:
        mid = self.ids.make("msg", t)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self.messages.append(
            {
                "id": mid,
                "session_id": session_id,
                "time_created": t,
                "time_updated": updated if updated is not None else t + 2,
                "data": text,
            }
        )
        self.buffered_bytes += len(text)
        self.counts["messages"] += 1
        return mid

    def emit_part(
        self, message_id: str, session_id: str, t: int, data: dict[str, Any], updated: int | None = None
    ) -> str:
        pid = self.ids.make("prt", t)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self.parts.append(
            {
                "id": pid,
                "message_id": message_id,
                "session_id": session_id,
                "time_created": t,
                "time_updated": updated if updated is not None else t + 2,
                "data": text,
            }
        )
        self.buffered_bytes += len(text)
        self.counts["parts"] += 1
        if data.get("type") == "tool":
            self.counts["tool_parts"] += 1
        if len(self.parts) >= FLUSH_PARTS or self.buffered_bytes >= FLUSH_BYTES:
            self.flush()
        return pid

    def flush(self) -> None:
        if self.sessions:
            self.conn.execute(insert(self.t_session), self.sessions)
        if self.messages:
            self.conn.execute(insert(self.t_message), self.messages)
        if self.parts:
            self.conn.execute(insert(self.t_part), self.parts)
        self.conn.commit()
        self.counts["data_bytes"] += self.buffered_bytes
        self.sessions, self.messages, self.parts, self.buffered_bytes = [], [], [], 0

    # ---------------------------------------------------------------- shapes
    def user_data(self, t: int, agent: str, model: tuple[str, str]) -> dict[str, Any]:
        return {
            "role": "user",
            "time": {"created": t},
            "agent": agent,
            "model": {"providerID": model[0], "modelID": model[1]},
            "summary": {"diffs": []},
        }

    def assistant_data(
        self,
        t: int,
        parent: str,
        agent: str,
        model: tuple[str, str],
        cwd: str,
        *,
        completed: int | None,
        finish: str | None,
        summary: bool = False,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        done = completed is not None
        tokens = (
            {
                "input": self.rng.randrange(2000, 90000),
                "output": self.rng.randrange(20, 4000),
                "reasoning": self.rng.randrange(0, 2000),
                "cache": {"write": self.rng.randrange(0, 5000), "read": self.rng.randrange(0, 80000)},
            }
            if done
            else {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}}
        )
        data: dict[str, Any] = {
            "parentID": parent,
            "role": "assistant",
            "mode": "compaction" if summary else agent,
            "agent": "compaction" if summary else agent,
            "path": {"cwd": cwd, "root": cwd},
            "cost": round(self.rng.uniform(0.001, 0.09), 6) if done else 0,
            "tokens": tokens,
            "modelID": model[1],
            "providerID": model[0],
            "time": {"created": t, "completed": completed} if done else {"created": t},
        }
        if summary:
            data["summary"] = True
        if finish is not None:
            data["finish"] = finish
        if error is not None:
            data["error"] = error
        return data

    def step_finish(self, reason: str) -> dict[str, Any]:
        return {
            "reason": reason,
            "snapshot": self.hexid(),
            "type": "step-finish",
            "tokens": {
                "input": self.rng.randrange(2000, 90000),
                "output": self.rng.randrange(20, 4000),
                "reasoning": 0,
                "cache": {"write": 0, "read": self.rng.randrange(0, 80000)},
            },
            "cost": round(self.rng.uniform(0.001, 0.05), 6),
        }

    def tool_input(self, tool: str, root: str) -> tuple[dict[str, Any], str]:
        rng = self.rng
        if tool == "bash":
            cmd = rng.choice(COMMANDS)
            return {"command": cmd, "description": f"Run {cmd.split()[0]}"}, cmd
        if tool == "read":
            p = self.path(root)
            return {"filePath": p}, p.removeprefix(root + "/")
        if tool == "grep":
            pat = rng.choice(WORDS) + r"\(" if rng.random() < 0.3 else rng.choice(WORDS)
            return {"pattern": pat, "path": root, "include": "*" + rng.choice(EXTS)}, pat
        if tool == "glob":
            pat = "**/*" + rng.choice(EXTS)
            return {"pattern": pat}, pat
        if tool == "list":
            return {"path": root}, root
        if tool == "edit":
            p = self.path(root)
            return {
                "filePath": p,
                "oldString": self.code(rng.randrange(20, 300)),
                "newString": self.code(rng.randrange(20, 400)),
            }, p.removeprefix(root + "/")
        if tool == "write":
            p = self.path(root)
            return {"filePath": p, "content": self.code(rng.randrange(100, 1500))}, p.removeprefix(root + "/")
        if tool == "webfetch":
            url = f"https://docs.example.com/{rng.choice(WORDS)}/{rng.choice(WORDS)}"
            return {"url": url, "format": "markdown"}, url
        if tool == "todowrite":
            todos = [
                {
                    "content": self.prose(rng.randrange(20, 80)).strip(),
                    "status": rng.choice(("pending", "in_progress", "completed")),
                    "priority": rng.choice(("high", "medium", "low")),
                    "id": str(i + 1),
                }
                for i in range(rng.randrange(2, 5))
            ]
            return {"todos": todos}, f"{sum(t['status'] != 'completed' for t in todos)} todos"
        if tool == "question":
            q = {
                "question": "Which " + self.prose(rng.randrange(20, 60)).strip().lower() + "?",
                "header": "Choose",
                "options": [{"label": w, "description": self.prose(30).strip()} for w in rng.sample(WORDS, 3)],
            }
            return {"questions": [q]}, q["question"]
        raise ValueError(tool)

    def tool_completed(self, tool: str, inp: dict[str, Any], title: str, t0: int, t1: int) -> dict[str, Any]:
        rng = self.rng
        if tool == "bash":
            out = self.code(self.big_size())
            meta: dict[str, Any] = {
                "output": out[:META_OUTPUT_LIMIT],
                "exit": 0 if rng.random() < 0.85 else 1,
                "description": inp["description"],
                "truncated": len(out) > META_OUTPUT_LIMIT,
            }
        elif tool == "read":
            body = self.code(self.big_size())
            out = "<file>\n" + body + "\n</file>"
            meta = {"preview": body[:500], "truncated": False}
        elif tool == "webfetch":
            out = self.prose(self.big_size())
            meta = {}
        elif tool == "grep":
            out = f"Found {rng.randrange(1, 200)} matches\n" + self.code(self.big_size() // 2)
            meta = {"matches": rng.randrange(1, 200), "truncated": False}
        elif tool == "glob":
            out = "\n".join(self.path("src") for _ in range(rng.randrange(1, 30)))
            meta = {"count": out.count("\n") + 1, "truncated": False}
        elif tool == "list":
            out = self.code(rng.randrange(100, 1500))
            meta = {"count": rng.randrange(5, 80), "truncated": False}
        elif tool == "edit":
            before = self.code(rng.randrange(80, 600))
            after = self.code(len(before) + rng.randrange(-200, 400))
            out = ""
            meta = {
                "diagnostics": {},
                "diff": "--- a\n+++ b\n" + self.code(rng.randrange(80, 400)),
                "filediff": {
                    "file": inp["filePath"],
                    "before": before,
                    "after": after,
                    "additions": rng.randrange(1, 40),
                    "deletions": rng.randrange(0, 30),
                },
            }
        elif tool == "write":
            out = ""
            meta = {"diagnostics": {}, "filepath": inp["filePath"], "exists": rng.random() < 0.3}
        elif tool == "todowrite":
            out = json.dumps(inp["todos"], indent=2)
            meta = {"todos": inp["todos"]}  # raw "status":"pending" inside: a prefilter decoy
        else:
            raise ValueError(tool)
        return {
            "status": "completed",
            "input": inp,
            "output": out,
            "metadata": meta,
            "title": title,
            "time": {"start": t0, "end": t1},
        }

    # ---------------------------------------------------------------- sessions
    def session_row(
        self,
        sid: str,
        project: Project,
        *,
        parent: str | None,
        title: str,
        agent: str,
        model: tuple[str, str],
        t0: int,
        t1: int,
        compacting: int | None = None,
    ) -> None:
        age = (self.now - t0) / (SPAN_DAYS * DAY)
        version = VERSIONS[max(0, min(len(VERSIONS) - 1, int((1 - age) * len(VERSIONS))))]
        done = compacting is None
        self.sessions.append(
            {
                "id": sid,
                "project_id": project.id,
                "workspace_id": None,
                "parent_id": parent,
                "slug": f"{self.rng.choice(ADJ)}-{self.rng.choice(NOUN)}",
                "directory": project.worktree,
                "path": "",
                "title": title,
                "version": version,
                "share_url": None,
                "summary_additions": self.rng.randrange(0, 400) if done else 0,
                "summary_deletions": self.rng.randrange(0, 200) if done else 0,
                "summary_files": self.rng.randrange(0, 12) if done else 0,
                "summary_diffs": None,
                "metadata": None,
                "cost": round(self.rng.uniform(0, 3), 4),
                "tokens_input": self.rng.randrange(0, 2_000_000),
                "tokens_output": self.rng.randrange(0, 90_000),
                "tokens_reasoning": 0,
                "tokens_cache_read": self.rng.randrange(0, 9_000_000),
                "tokens_cache_write": self.rng.randrange(0, 200_000),
                "revert": None,
                "permission": '[{"permission":"task","pattern":"*","action":"deny"}]' if parent else None,
                "agent": agent,
                "model": json.dumps(
                    {"id": model[1], "providerID": model[0], "variant": "default"}, separators=(",", ":")
                ),
                "time_created": t0,
                "time_updated": t1,
                "time_compacting": compacting,
                "time_archived": t1 + DAY if parent is None and age > 0.5 and self.rng.random() < 0.05 else None,
            }
        )
        self.counts["sessions"] += 1
        if parent:
            self.counts["child_sessions"] += 1

    def gen_session(self, project: Project, t0: int, incident: Incident | None, index: int) -> int:
        rng = self.rng
        model = rng.choice(MODELS)
        sid = self.ids.make("ses", t0, descending=True)
        title = f"{rng.choice(TITLES)} {rng.choice(WORDS)} {rng.choice(WORDS)}"
        turns = max(1, min(150, int(rng.lognormvariate(2.0, 0.85))))
        turns = max(1, min(turns, (self.now - t0) // (20 * 60_000)))  # recent sessions end by "now"
        stuck = Stuck(sid, incident.pattern, incident.number, incident.recent) if incident else None
        finished_turn_stuck_at = None
        crash_turn = turns - 1 if incident else None
        if incident and incident.pattern == "parts-in-finished-turn":
            finished_turn_stuck_at = turns - 1 if incident.variant % 2 == 0 else rng.randrange(turns)
            crash_turn = None
        t = t0 + rng.randrange(50, 400)
        compacting = None
        for turn in range(turns):
            last = turn == turns - 1
            prompt = self.prose(rng.randrange(30, 1200))
            if turn and turns > 25 and turn % 20 == 0:
                t = self.compaction(sid, project, model, t, finished=True)
            if last and incident and incident.pattern == "compaction":
                t, compacting = self.stuck_compaction(sid, project, model, t, stuck, incident.variant)
                break
            t = self.turn(
                sid,
                project,
                model,
                t,
                prompt,
                agent="build",
                stuck=stuck if turn in (crash_turn, finished_turn_stuck_at) else None,
                finished_turn_stuck=turn == finished_turn_stuck_at,
            )
            t += rng.randrange(5_000, 600_000)
        self.session_row(
            sid, project, parent=None, title=title, agent="build", model=model, t0=t0, t1=t, compacting=compacting
        )
        if stuck:
            stuck.last_activity = t
            stuck.time_compacting = compacting
            self.stuck.append(stuck)
        return t

    def turn(
        self,
        sid: str,
        project: Project,
        model: tuple[str, str],
        t: int,
        prompt: str,
        *,
        agent: str,
        stuck: Stuck | None,
        finished_turn_stuck: bool = False,
        child: bool = False,
    ) -> int:
        """One user prompt and the assistant steps answering it. Returns the time after it."""
        rng = self.rng
        uid = self.emit_message(sid, t, self.user_data(t, agent, model), updated=t + rng.randrange(50, 900))
        self.emit_part(uid, sid, t + 8, {"type": "text", "text": prompt})
        if rng.random() < 0.05:
            fp = self.path(project.worktree)
            self.emit_part(
                uid,
                sid,
                t + 9,
                {
                    "type": "file",
                    "mime": "text/plain",
                    "filename": fp.rsplit("/", 1)[-1],
                    "url": f"file://{fp}",
                    "source": {"type": "file", "path": fp, "text": {"value": "@" + fp, "start": 0, "end": len(fp) + 1}},
                },
            )
        t += rng.randrange(300, 3000)
        steps = 1 + int(rng.expovariate(1 / 4.6))
        aborted = stuck is None and not child and rng.random() < 0.01
        crash_here = stuck is not None and not finished_turn_stuck
        stuck_step = rng.randrange(steps) if finished_turn_stuck else None
        for step in range(steps):
            final = step == steps - 1
            if crash_here and final:
                return self.stuck_step(sid, project, model, t, uid, agent, stuck)
            t = self.step(
                sid,
                project,
                model,
                t,
                uid,
                agent,
                final=final,
                aborted=aborted and final,
                stuck_parts=stuck if step == stuck_step else None,
                child=child,
            )
        return t

    def step(
        self,
        sid: str,
        project: Project,
        model: tuple[str, str],
        t: int,
        uid: str,
        agent: str,
        *,
        final: bool,
        aborted: bool,
        stuck_parts: Stuck | None,
        child: bool,
    ) -> int:
        rng = self.rng
        cwd = project.worktree
        t_start = t
        parts: list[tuple[int, dict[str, Any], int]] = []  # (time_created, data, time_updated)
        t += rng.randrange(200, 4000)
        parts.append((t, {"snapshot": self.hexid(), "type": "step-start"}, t + 1))
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):  # interleaved thinking: 1–4 reasoning parts
            t0 = t + rng.randrange(50, 500)
            t += rng.randrange(500, 9000)
            parts.append(
                (
                    t0,
                    {"type": "reasoning", "text": self.prose(rng.randrange(40, 400)), "time": {"start": t0, "end": t}},
                    t,
                )
            )
        n_tools = 0 if final else 1 + int(rng.expovariate(1 / 2.9))
        if not final and rng.random() < 0.8:
            t0 = t + rng.randrange(50, 300)
            t += rng.randrange(200, 3000)
            parts.append(
                (t0, {"type": "text", "text": self.prose(rng.randrange(40, 300)), "time": {"start": t0, "end": t}}, t)
            )
        stuck_tool = rng.randrange(n_tools) if stuck_parts is not None and n_tools else None
        if stuck_parts is not None and not n_tools:
            n_tools, stuck_tool = 1, 0
        stuck_index = None
        edited = False
        tool_names = [n for n, _ in TOOL_WEIGHTS if n != "task" or not child]
        weights = [w for n, w in TOOL_WEIGHTS if n != "task" or not child]
        for k in range(n_tools):
            tool = rng.choices(tool_names, weights)[0]
            t += rng.randrange(20, 400)
            t0 = t
            call = f"call_{self.hexid(96)}" if rng.random() < 0.5 else f"toolu_{self.hexid(96)}"
            if k == stuck_tool:
                inp, title = self.tool_input("bash", cwd)
                inp["command"] = rng.choice(LONG_COMMANDS)
                state = {
                    "metadata": {"output": self.code(rng.randrange(0, 3000))},
                    "status": "running",
                    "input": inp,
                    "title": inp["command"],
                    "time": {"start": t0 + 3},
                }
                parts.append(
                    (t0, {"type": "tool", "tool": "bash", "callID": call, "state": state}, t0 + rng.randrange(5, 900))
                )
                stuck_index = len(parts) - 1
                continue
            if tool == "task":
                t, state = self.task_call(sid, project, model, t0, call)
                parts.append((t0, {"type": "tool", "tool": "task", "callID": call, "state": state}, t))
                continue
            inp, title = self.tool_input(tool, cwd)
            t += int(rng.expovariate(1 / (8000 if tool == "bash" else 300))) + 5
            if aborted and k == n_tools - 1:
                state = {
                    "status": "error",
                    "input": inp,
                    "error": "Tool execution aborted",
                    "metadata": {"interrupted": True},
                    "time": {"start": t0 + 2, "end": t},
                }
            elif rng.random() < 0.04:
                state = {
                    "status": "error",
                    "input": inp,
                    "error": f"Error: {self.prose(rng.randrange(30, 300))}",
                    "time": {"start": t0 + 2, "end": t},
                }
            else:
                state = self.tool_completed(tool, inp, title, t0 + 2, t)
                edited |= tool in ("edit", "write")
            parts.append((t0, {"type": "tool", "tool": tool, "callID": call, "state": state}, t + 1))
        if final:
            t0 = t + rng.randrange(50, 300)
            t += rng.randrange(300, 8000)
            parts.append(
                (t0, {"type": "text", "text": self.prose(rng.randrange(60, 1600)), "time": {"start": t0, "end": t}}, t)
            )
        if edited and rng.random() < 0.6:
            parts.append(
                (
                    t + 5,
                    {
                        "type": "patch",
                        "hash": self.hexid(),
                        "files": [self.path(cwd) for _ in range(rng.randrange(1, 4))],
                    },
                    t + 6,
                )
            )
        t += rng.randrange(20, 200)
        reason = "stop" if final else "tool-calls"
        parts.append((t, self.step_finish(reason), t + 1))
        completed = t + rng.randrange(1, 30)
        error = {"name": "MessageAbortedError", "data": {"message": "Aborted"}} if aborted else None
        mid = self.emit_message(
            sid,
            t_start,
            self.assistant_data(
                t_start, uid, agent, model, cwd, completed=completed, finish=None if aborted else reason, error=error
            ),
            updated=completed + 1,
        )
        ids = [self.emit_part(mid, sid, tc, data, tu) for tc, data, tu in parts]
        if stuck_parts is not None and stuck_index is not None:
            stuck_parts.parts.append(ids[stuck_index])
        return completed + rng.randrange(5, 200)

    def task_call(
        self, sid: str, project: Project, model: tuple[str, str], t0: int, call: str, *, stuck: Stuck | None = None
    ) -> tuple[int, dict[str, Any]]:
        """A ``task`` tool call and the child (subagent) session it ran. Returns (end, state)."""
        rng = self.rng
        desc = f"{rng.choice(('explore', 'review', 'research', 'test'))} {rng.choice(WORDS)}"
        prompt = self.prose(rng.randrange(100, 1500))
        inp = {"description": desc, "prompt": prompt, "subagent_type": "general"}
        t_child = t0 + rng.randrange(5, 30)
        child = self.ids.make("ses", t_child, descending=True)
        child_stuck = Stuck(child, "subagent-chain", stuck.incident, stuck.recent, parent_id=sid) if stuck else None
        t = self.turn(child, project, model, t_child + 10, prompt, agent="general", stuck=child_stuck, child=True)
        self.session_row(
            child,
            project,
            parent=sid,
            title=f"{desc} (@general subagent)",
            agent="general",
            model=model,
            t0=t_child,
            t1=t,
        )
        meta_model = {"modelID": model[1], "providerID": model[0]}
        if stuck is not None:
            child_stuck.last_activity = t
            self.stuck.append(child_stuck)
            stuck.children.append(child)
            state = {
                "title": desc,
                "metadata": {"parentSessionId": sid, "sessionId": child, "model": meta_model},
                "status": "running",
                "input": inp,
                "time": {"start": t0 + 14},
            }
            return t, state
        summary = [
            {
                "id": self.ids.make("prt", t0 + 20),
                "tool": rng.choice(("read", "bash", "grep")),
                "state": {"status": "completed", "title": rng.choice(WORDS)},
            }
            for _ in range(rng.randrange(1, 6))
        ]
        out = self.prose(rng.randrange(200, 4000)) + f"\n\n<task_metadata>\nsession_id: {child}\n</task_metadata>"
        t += rng.randrange(10, 200)
        state = {
            "status": "completed",
            "input": inp,
            "output": out,
            "metadata": {"summary": summary, "sessionId": child, "model": meta_model},
            "title": desc,
            "time": {"start": t0 + 14, "end": t},
        }
        return t, state

    def stuck_step(
        self, sid: str, project: Project, model: tuple[str, str], t: int, uid: str, agent: str, stuck: Stuck
    ) -> int:
        """The last assistant step of a crashed turn: unfinished message, a tool left behind."""
        rng = self.rng
        cwd = project.worktree
        mid = self.emit_message(
            sid, t, self.assistant_data(t, uid, agent, model, cwd, completed=None, finish=None), updated=t + 2
        )
        stuck.messages.append(mid)
        t += rng.randrange(200, 3000)
        self.emit_part(mid, sid, t, {"snapshot": self.hexid(), "type": "step-start"})
        if rng.random() < 0.5:
            t += rng.randrange(300, 5000)
            self.emit_part(
                mid,
                sid,
                t,
                {
                    "type": "reasoning",
                    "text": self.prose(rng.randrange(80, 1500)),
                    "time": {"start": t - 200, "end": t},
                },
            )
        pattern = "crash-orphan" if stuck.pattern == "subagent-chain" and stuck.parent_id else stuck.pattern
        if pattern == "crash-orphan" and rng.random() < 0.4:  # a parallel call that did finish
            inp, title = self.tool_input("read", cwd)
            state = self.tool_completed("read", inp, title, t + 3, t + 40)
            self.emit_part(
                mid,
                sid,
                t + 1,
                {"type": "tool", "tool": "read", "callID": f"call_{self.hexid(96)}", "state": state},
                t + 41,
            )
            t += 50
        t += rng.randrange(20, 400)
        call = f"call_{self.hexid(96)}"
        if pattern == "crash-orphan":
            inp, _ = self.tool_input("bash", cwd)
            inp["command"] = rng.choice(LONG_COMMANDS)
            state = {
                "metadata": {"output": self.code(rng.randrange(0, 2000)) if rng.random() < 0.5 else ""},
                "status": "running",
                "input": inp,
                "time": {"start": t + 5},
            }
            stuck.parts.append(
                self.emit_part(
                    mid,
                    sid,
                    t,
                    {"type": "tool", "tool": "bash", "callID": call, "state": state},
                    t + rng.randrange(5, 900),
                )
            )
            if rng.random() < 0.2:  # two commands were running in parallel
                inp2, _ = self.tool_input("bash", cwd)
                inp2["command"] = rng.choice(LONG_COMMANDS)
                state2 = {"metadata": {"output": ""}, "status": "running", "input": inp2, "time": {"start": t + 9}}
                stuck.parts.append(
                    self.emit_part(
                        mid,
                        sid,
                        t + 4,
                        {"type": "tool", "tool": "bash", "callID": f"call_{self.hexid(96)}", "state": state2},
                        t + 12,
                    )
                )
        elif pattern == "pending-placeholder":
            tool = rng.choice(("bash", "edit", "write"))
            stuck.parts.append(
                self.emit_part(
                    mid,
                    sid,
                    t,
                    {
                        "type": "tool",
                        "tool": tool,
                        "callID": call,
                        "state": {"status": "pending", "input": {}, "raw": ""},
                    },
                )
            )
        elif pattern == "question-wait":
            inp, title = self.tool_input("question", cwd)
            state = {"status": "running", "input": inp, "time": {"start": t + 4}}
            stuck.parts.append(
                self.emit_part(mid, sid, t, {"type": "tool", "tool": "question", "callID": call, "state": state}, t + 6)
            )
        elif pattern == "subagent-chain":
            end, state = self.task_call(sid, project, model, t, call, stuck=stuck)
            stuck.parts.append(
                self.emit_part(mid, sid, t, {"type": "tool", "tool": "task", "callID": call, "state": state}, t + 33)
            )
            t = end
        else:
            raise ValueError(pattern)
        t += rng.randrange(10, 200)
        if pattern == "crash-orphan" and rng.random() < 0.3:  # the user typed on, the prompt is QUEUED
            t += rng.randrange(20_000, 600_000)
            qid = self.emit_message(sid, t, self.user_data(t, agent, model), updated=t + 5)
            self.emit_part(qid, sid, t + 8, {"type": "text", "text": self.prose(rng.randrange(20, 200))})
        return t

    def compaction(self, sid: str, project: Project, model: tuple[str, str], t: int, *, finished: bool) -> int:
        """A finished (auto) compaction: user message with a compaction part + summary message."""
        rng = self.rng
        uid = self.emit_message(sid, t, self.user_data(t, "build", model), updated=t + 3)
        self.emit_part(uid, sid, t + 4, {"type": "compaction", "auto": True})
        t += rng.randrange(100, 900)
        t_msg = t
        t += rng.randrange(200, 2000)
        parts = [(t, {"snapshot": self.hexid(), "type": "step-start"}, t + 1)]
        t0 = t + 50
        t += rng.randrange(5000, 40000)
        parts.append(
            (t0, {"type": "text", "text": self.prose(rng.randrange(1500, 8000)), "time": {"start": t0, "end": t}}, t)
        )
        parts.append((t + 5, self.step_finish("stop"), t + 6))
        completed = t + 10
        mid = self.emit_message(
            sid,
            t_msg,
            self.assistant_data(
                t_msg, uid, "build", model, project.worktree, completed=completed, finish="stop", summary=True
            ),
            updated=completed + 1,
        )
        for tc, data, tu in parts:
            self.emit_part(mid, sid, tc, data, tu)
        return completed + rng.randrange(100, 2000)

    def stuck_compaction(
        self, sid: str, project: Project, model: tuple[str, str], t: int, stuck: Stuck, variant: int
    ) -> tuple[int, int]:
        """``session.time_compacting`` set, the summary never finished (variant 1: never started)."""
        rng = self.rng
        compacting = t
        uid = self.emit_message(sid, t, self.user_data(t, "build", model), updated=t + 3)
        self.emit_part(uid, sid, t + 4, {"type": "compaction", "auto": True})
        t += rng.randrange(100, 900)
        if variant % 2 == 0:
            mid = self.emit_message(
                sid,
                t,
                self.assistant_data(
                    t, uid, "build", model, project.worktree, completed=None, finish=None, summary=True
                ),
                updated=t + 2,
            )
            stuck.messages.append(mid)
            t += rng.randrange(200, 2000)
            self.emit_part(mid, sid, t, {"snapshot": self.hexid(), "type": "step-start"})
            t += rng.randrange(500, 9000)
            self.emit_part(
                mid,
                sid,
                t - 400,
                {"type": "text", "text": self.prose(rng.randrange(100, 2000)), "time": {"start": t - 400}},
            )
        return t, compacting

    # ---------------------------------------------------------------- plan
    def build(self) -> None:
        rng = self.rng
        n_root = max(len(PATTERNS), round(ROOT_SESSIONS * self.size))
        n_projects = min(PROJECTS, max(2, n_root // 20))
        if self.n_incidents > n_root:
            raise SystemExit(f"--stuck {self.n_incidents} needs at least as many root sessions (have {n_root})")
        start = self.now - SPAN_DAYS * DAY
        projects = []
        for i in range(n_projects):
            name = f"{rng.choice(ADJ)}-{rng.choice(NOUN)}-{i}"
            projects.append(
                Project(
                    hashlib.sha1(name.encode()).hexdigest(),
                    f"/home/dev/src/{name}",
                    start - rng.randrange(DAY, 30 * DAY),
                )
            )
        self.conn.execute(
            insert(
                table(
                    "project",
                    *(
                        column(c)
                        for c in ("id", "worktree", "vcs", "name", "time_created", "time_updated", "sandboxes")
                    ),
                )
            ),
            [
                {
                    "id": p.id,
                    "worktree": p.worktree,
                    "vcs": "git",
                    "name": None,
                    "time_created": p.time_created,
                    "time_updated": p.time_created,
                    "sandboxes": "[]",
                }
                for p in projects
            ],
        )
        self.conn.execute(
            insert(table("project_directory", *(column(c) for c in ("project_id", "directory", "time_created")))),
            [{"project_id": p.id, "directory": p.worktree, "time_created": p.time_created + 3} for p in projects],
        )
        self.counts["projects"] = n_projects
        # Session start times, oldest first; the last two days hold the "recent" ones.
        starts = sorted(rng.randrange(start, self.now - 2 * HOUR) for _ in range(n_root))
        starts = [s + 12 * HOUR if (ID_WRAP - 12 * HOUR) <= s % ID_WRAP < ID_WRAP else s for s in starts]
        starts = [min(s, self.now - 2 * HOUR) for s in starts]
        weights = [1 + (i % 7) ** 2 for i in range(n_projects)]  # some projects are much busier
        owner = [rng.choices(range(n_projects), weights)[0] for _ in range(n_root)]
        incidents = self.plan_incidents(starts)
        for i, t0 in enumerate(starts):
            self.gen_session(projects[owner[i]], t0, incidents.get(i), i)
        self.flush()

    def plan_incidents(self, starts: list[int]) -> dict[int, Incident]:
        """Which root sessions end stuck, and how: round-robin patterns, every third one recent."""
        rng = random.Random(len(starts) * 7919 + self.n_incidents)
        n = len(starts)
        recent_pool = [i for i in range(n) if starts[i] >= self.now - 2 * DAY]
        recent_pool = recent_pool or list(range(max(0, n - 10), n))
        chosen: dict[int, Incident] = {}
        recent_set = set(recent_pool)
        old_pool = [i for i in range(n) if i not in recent_set]
        rng.shuffle(recent_pool)
        rng.shuffle(old_pool)
        for k in range(self.n_incidents):
            pattern = PATTERNS[k % len(PATTERNS)]
            want_recent = k % 3 == 0
            pool = recent_pool if (want_recent and recent_pool) or not old_pool else old_pool
            i = pool.pop()
            chosen[i] = Incident(pattern, starts[i] >= self.now - 2 * DAY, k // len(PATTERNS), k)
        return chosen


SESSION_COLUMNS = (
    "id",
    "project_id",
    "workspace_id",
    "parent_id",
    "slug",
    "directory",
    "path",
    "title",
    "version",
    "share_url",
    "summary_additions",
    "summary_deletions",
    "summary_files",
    "summary_diffs",
    "metadata",
    "cost",
    "tokens_input",
    "tokens_output",
    "tokens_reasoning",
    "tokens_cache_read",
    "tokens_cache_write",
    "revert",
    "permission",
    "agent",
    "model",
    "time_created",
    "time_updated",
    "time_compacting",
    "time_archived",
)


def split_ddl(ddl: str) -> tuple[list[str], list[str]]:
    """(CREATE TABLE statements, CREATE INDEX statements) of the DDL file."""
    statements = [s.strip() for s in ddl.split(";") if s.strip()]
    tables = [s for s in statements if not s.upper().startswith(("CREATE INDEX", "CREATE UNIQUE INDEX"))]
    indexes = [s for s in statements if s not in tables]
    return tables, indexes


def copy_migrations(conn: Connection) -> None:
    """The 38 migration rows of a real 1.18.33 database (so it looks fully migrated)."""
    if not MIGRATIONS_FROM.exists():
        return
    src = sqlite3.connect(f"file:{MIGRATIONS_FROM}?mode=ro", uri=True)
    try:
        rows = src.execute("SELECT id, time_completed FROM migration ORDER BY rowid").fetchall()
    finally:
        src.close()
    if rows:
        conn.execute(
            insert(table("migration", column("id"), column("time_completed"))),
            [{"id": r[0], "time_completed": r[1]} for r in rows],
        )


def build(
    out: Path,
    *,
    size: float = 1.0,
    stuck: int | None = None,
    seed: int = 1,
    now: int = DEFAULT_NOW,
    wal: bool = True,
    quiet: bool = False,
) -> dict[str, Any]:
    """Write the database to ``out`` (atomically) and its manifest; return the manifest."""
    if stuck is None:
        stuck = default_stuck(size)
    out = out.resolve()
    tmp = building_path(out)
    began = time.perf_counter()
    tables, indexes = split_ddl(DDL_PATH.read_text())
    engine = create_engine(f"sqlite:///{tmp}")
    with engine.connect() as conn:
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "cache_size=-262144",
            "temp_store=MEMORY",
            "locking_mode=EXCLUSIVE",
        ):
            conn.exec_driver_sql(f"PRAGMA {pragma}")
        for ddl in tables:
            conn.exec_driver_sql(ddl)
        conn.commit()
        copy_migrations(conn)
        builder = Builder(conn, seed=seed, size=size, stuck=stuck, now=now)
        builder.build()
        t_rows = time.perf_counter() - began
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
        conn.commit()
        if wal:
            conn.exec_driver_sql("PRAGMA locking_mode=NORMAL")
            conn.exec_driver_sql("PRAGMA journal_mode=WAL").fetchall()
        conn.commit()
    engine.dispose()
    put_in_place(tmp, out)
    elapsed = time.perf_counter() - began
    manifest = make_manifest(out, builder, size=size, seed=seed, now=now, stuck=stuck)
    manifest["build_seconds"] = round(elapsed, 1)
    manifest["row_seconds"] = round(t_rows, 1)
    manifest_path(out).write_text(json.dumps(manifest, indent=1) + "\n")
    if not quiet:
        c = manifest["counts"]
        print(
            f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {elapsed:.1f}s: {c['sessions']} sessions "
            f"({c['child_sessions']} subagent), {c['projects']} projects, {c['messages']} messages, "
            f"{c['parts']} parts ({c['tool_parts']} tool); {len(manifest['stuck_sessions'])} stuck sessions, "
            f"{len(manifest['stuck_parts'])} stuck parts, {len(manifest['unfinished_messages'])} unfinished "
            f"messages; manifest {manifest_path(out)}",
            file=sys.stderr,
        )
    return manifest


def building_path(out: Path) -> Path:
    """Where ``out`` is built before it replaces the old file: cleared, its directory made."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".building")
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return tmp


def put_in_place(tmp: Path, out: Path) -> None:
    """The finished (closed) build replaces ``out`` at once; no side file of the old one stays."""
    for suffix in ("-wal", "-shm", "-journal"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, out)
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)


def make_manifest(out: Path, builder: Builder, *, size: float, seed: int, now: int, stuck: int) -> dict[str, Any]:
    entries = sorted(builder.stuck, key=lambda s: (s.incident, s.parent_id is not None, s.session_id))
    return {
        "db": out.name,
        "generator": "bench/make_db.py",
        "params": {"size": size, "seed": seed, "stuck": stuck, "now": now},
        "counts": builder.counts,
        "stuck": [
            {
                "session_id": s.session_id,
                "pattern": s.pattern,
                "incident": s.incident,
                "recent": s.recent,
                "parent_id": s.parent_id,
                "children": s.children,
                "parts": s.parts,
                "messages": s.messages,
                "time_compacting": s.time_compacting,
                "last_activity": s.last_activity,
            }
            for s in entries
        ],
        "stuck_sessions": sorted(s.session_id for s in entries),
        "stuck_parts": sorted(p for s in entries for p in s.parts),
        "unfinished_messages": sorted(m for s in entries for m in s.messages),
        "compacting_sessions": sorted(s.session_id for s in entries if s.time_compacting is not None),
    }


def default_stuck(size: float) -> int:
    """120 incidents at --size 1, at least one of each pattern."""
    return max(len(PATTERNS), round(120 * size))


def inject_crash_orphans(
    db: Path, count: int, *, exclude: set[str] | frozenset[str] = frozenset(), seed: int = 7
) -> list[str]:
    """Append a crashed turn (unfinished message + running ``bash``) to ``count`` healthy root sessions.

    For the recover benchmark, on a *copy* of a benchmark database: pass the original's manifest
    ``stuck_sessions`` as ``exclude``. Returns the session ids (fewer if not enough sessions).
    """
    rng = random.Random(seed)
    ids = Ids(random.Random(seed + 1))
    taken = set(exclude)
    engine = create_engine(f"sqlite:///{db}")
    chosen: list[str] = []
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT s.id, s.directory, s.agent, max(m.time_created) FROM session s "
            "JOIN message m ON m.session_id = s.id WHERE s.parent_id IS NULL AND s.time_compacting IS NULL "
            "GROUP BY s.id ORDER BY s.id"
        ).fetchall()
        rows = [r for r in rows if r[0] not in taken]
        rng.shuffle(rows)
        rows = rows[:count]
        messages, parts, updates = [], [], []
        for sid, directory, agent, last in rows:
            t = int(last) + rng.randrange(60_000, 3_600_000)
            uid = ids.make("msg", t)
            user = {
                "role": "user",
                "time": {"created": t},
                "agent": agent or "build",
                "model": {"providerID": "anthropic", "modelID": "claude-sonnet-4-5"},
                "summary": {"diffs": []},
            }
            messages.append(
                {
                    "id": uid,
                    "session_id": sid,
                    "time_created": t,
                    "time_updated": t + 3,
                    "data": json.dumps(user, separators=(",", ":")),
                }
            )
            parts.append(
                {
                    "id": ids.make("prt", t + 5),
                    "message_id": uid,
                    "session_id": sid,
                    "time_created": t + 5,
                    "time_updated": t + 6,
                    "data": json.dumps({"type": "text", "text": "run the long tests"}, separators=(",", ":")),
                }
            )
            ta = t + rng.randrange(300, 3000)
            aid = ids.make("msg", ta)
            asst = {
                "parentID": uid,
                "role": "assistant",
                "mode": "build",
                "agent": "build",
                "path": {"cwd": directory, "root": directory},
                "cost": 0,
                "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}},
                "modelID": "claude-sonnet-4-5",
                "providerID": "anthropic",
                "time": {"created": ta},
            }
            messages.append(
                {
                    "id": aid,
                    "session_id": sid,
                    "time_created": ta,
                    "time_updated": ta + 2,
                    "data": json.dumps(asst, separators=(",", ":")),
                }
            )
            parts.append(
                {
                    "id": ids.make("prt", ta + 400),
                    "message_id": aid,
                    "session_id": sid,
                    "time_created": ta + 400,
                    "time_updated": ta + 401,
                    "data": json.dumps(
                        {"snapshot": f"{rng.getrandbits(160):040x}", "type": "step-start"}, separators=(",", ":")
                    ),
                }
            )
            state = {
                "metadata": {"output": ""},
                "status": "running",
                "input": {"command": "sleep 600", "description": "long sleep"},
                "time": {"start": ta + 420},
            }
            parts.append(
                {
                    "id": ids.make("prt", ta + 410),
                    "message_id": aid,
                    "session_id": sid,
                    "time_created": ta + 410,
                    "time_updated": ta + 500,
                    "data": json.dumps(
                        {"type": "tool", "tool": "bash", "callID": f"call_{ta}", "state": state}, separators=(",", ":")
                    ),
                }
            )
            updates.append({"id": sid, "t": ta + 500})
            chosen.append(sid)
        if rows:
            conn.exec_driver_sql("PRAGMA busy_timeout=5000")
            conn.execute(
                insert(
                    table("message", *(column(c) for c in ("id", "session_id", "time_created", "time_updated", "data")))
                ),
                messages,
            )
            conn.execute(
                insert(
                    table(
                        "part",
                        *(
                            column(c)
                            for c in ("id", "message_id", "session_id", "time_created", "time_updated", "data")
                        ),
                    )
                ),
                parts,
            )
            conn.exec_driver_sql(
                "UPDATE session SET time_updated = ? WHERE id = ?", [(u["t"], u["id"]) for u in updates]
            )
            conn.commit()
    engine.dispose()
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--size",
        type=float,
        default=1.0,
        help="scale factor: 1 ≈ 1.35 GB / 190k messages / 1.3M parts; 0.01 is a small smoke DB",
    )
    ap.add_argument(
        "--stuck",
        type=int,
        default=None,
        help="stuck incidents to plant, round-robin over the 6 patterns "
        "(default 120 × size, at least 6); a subagent chain is 2 sessions",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--now", type=int, default=DEFAULT_NOW, help="'now' in ms since epoch (data ends here)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "opencode-bench.db")
    ap.add_argument("--no-wal", action="store_true", help="leave the file in rollback-journal mode")
    args = ap.parse_args(argv)
    if args.size <= 0:
        ap.error("--size must be > 0")
    build(args.out, size=args.size, stuck=args.stuck, seed=args.seed, now=args.now, wal=not args.no_wal)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A database (OpenCode 1.18.33's real DDL) with secret-looking strings in every field.

Each field gets its own tag (``F00``, ``F01``…) inside six secrets: an OpenAI-style key, a GitHub
token, an AWS access key id, a JWT, a path under /home/alice and an e-mail address. The
structural values OpenCode needs to call the session stuck (``role``, ``type``, ``status``, the
times) stay as they are; every other text, numbers included where OpenCode writes numbers
(``cost``, ``tokens``), holds secrets. ``PLANTED`` lists every string planted, per field.

Shared by tests/test_report.py (the redaction proof).
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.synth.builder import DatabaseBuilder

from .releases import NOW_1_18_33 as NOW

_ALNUM = string.ascii_letters + string.digits


@dataclass
class Planter:
    rng: random.Random = field(default_factory=lambda: random.Random(20))
    planted: dict[str, list[str]] = field(default_factory=dict)  # field name -> its secrets

    def _run(self, n: int, alphabet: str = _ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def secrets(self, name: str) -> list[str]:
        tag = f"F{len(self.planted):02d}"
        upper = string.ascii_uppercase + string.digits
        found = [
            f"sk-proj-{tag}{self._run(24)}",
            f"ghp_{tag}{self._run(33)}",
            f"AKIA{tag}{self._run(13, upper)}",
            f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi{tag}{self._run(18)}.{self._run(22)}",
            f"/home/alice/secret-{tag}/id_rsa",
            f"alice.{tag.lower()}@example.com",
        ]
        self.planted[name] = found
        return found

    def value(self, name: str) -> str:
        return " ".join(self.secrets(name))

    @property
    def all(self) -> list[str]:
        return [s for found in self.planted.values() for s in found]


@dataclass(frozen=True)
class SecretIds:
    parent: str
    child: str
    planter: Planter


def build_secret_db(path: Path, now: int = NOW) -> SecretIds:
    """A parent stuck in a task whose subagent child is stuck in bash, plus a finished turn with
    every part type, each text field (ids, directory, names and contents) full of secrets."""
    p = Planter()
    t = now - 3_600_000
    directory = "/home/alice/src/" + p.value("session.directory")
    parent_id = "ses_" + p.value("session.id")
    child_id = "ses_" + p.value("child session.id")
    with DatabaseBuilder(path, seed=11) as b:
        project = b.project(directory, created=t, project_id=p.value("project.id"))
        b.raw(
            "UPDATE project SET name = :v, icon_url = :v2, commands = :v3",
            v=p.value("project.name"),
            v2=p.value("project.icon_url"),
            v3=p.value("project.commands"),
        )
        b.session(
            project_id=project,
            title=p.value("session.title"),
            directory=directory,
            created=t,
            session_id=parent_id,
            agent=p.value("session.agent"),
            version=p.value("session.version"),
        )
        b.session(
            project_id=project,
            title=p.value("child session.title"),
            directory=directory,
            created=t + 1000,
            parent_id=parent_id,
            session_id=child_id,
            version="1.18.33",
        )
        for column in (
            "slug",
            "path",
            "share_url",
            "summary_diffs",
            "revert",
            "permission",
            "model",
            "workspace_id",
            "metadata",
        ):
            b.raw(f"UPDATE session SET {column} = :v WHERE id = :id", v=p.value(f"session.{column}"), id=parent_id)

        def message(session: str, mid: str, data: dict[str, Any], when: int) -> str:
            b.message(mid, session, data, created=when)
            return mid

        def part(session: str, mid: str, data: dict[str, Any], when: int, name: str) -> None:
            b.raw(
                "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) "
                "VALUES (:id, :mid, :sid, :t, :t, :data)",
                id="prt_" + p.value(f"{name}.id"),
                mid=mid,
                sid=session,
                t=when,
                data=json.dumps(data),
            )

        def assistant(session: str, name: str, when: int, completed: bool) -> dict[str, Any]:
            return {
                "parentID": "msg_" + p.value(f"{name}.parentID"),
                "role": "assistant",
                "mode": p.value(f"{name}.mode"),
                "agent": p.value(f"{name}.agent"),
                "path": {"cwd": p.value(f"{name}.path.cwd"), "root": p.value(f"{name}.path.root")},
                "cost": p.value(f"{name}.cost"),
                "tokens": {
                    "input": p.value(f"{name}.tokens.input"),
                    "output": 3,
                    "reasoning": 0,
                    "cache": {"read": p.value(f"{name}.tokens.cache.read"), "write": 0},
                },
                "modelID": p.value(f"{name}.modelID"),
                "providerID": p.value(f"{name}.providerID"),
                "variant": p.value(f"{name}.variant"),
                "system": p.value(f"{name}.system"),
                "finish": p.value(f"{name}.finish"),
                "error": {"name": p.value(f"{name}.error.name"), "data": {"message": p.value(f"{name}.error.message")}},
                "time": {"created": when, **({"completed": when + 500} if completed else {})},
            }

        def user(session: str, name: str, when: int) -> str:
            mid = message(
                session,
                "msg_" + p.value(f"{name}.id"),
                {
                    "role": "user",
                    "time": {"created": when},
                    "agent": p.value(f"{name}.agent"),
                    "model": {
                        "providerID": p.value(f"{name}.model.providerID"),
                        "modelID": p.value(f"{name}.model.modelID"),
                    },
                    "system": p.value(f"{name}.system"),
                    "summary": {"diffs": [p.value(f"{name}.summary.diffs")]},
                },
                when,
            )
            part(session, mid, {"type": "text", "text": p.value(f"{name}.prompt")}, when + 5, f"{name}.prompt part")
            return mid

        # a finished turn first (not part of the report's stuck turn)
        user(parent_id, "old user message", t + 50)
        old = message(
            parent_id, "msg_" + p.value("old assistant.id"), assistant(parent_id, "old assistant", t + 60, True), t + 60
        )
        part(parent_id, old, {"type": "text", "text": p.value("old answer.text")}, t + 70, "old answer")
        # the stuck turn: every part type, completed and failed tools, then a task whose child runs bash
        user(parent_id, "user message", t + 100)
        stuck = message(
            parent_id, "msg_" + p.value("assistant.id"), assistant(parent_id, "assistant", t + 200, False), t + 200
        )
        part(
            parent_id,
            stuck,
            {"type": "reasoning", "text": p.value("reasoning.text"), "time": {"start": t + 201, "end": t + 202}},
            t + 201,
            "reasoning",
        )
        part(
            parent_id, stuck, {"type": "step-start", "snapshot": p.value("step-start.snapshot")}, t + 202, "step-start"
        )
        part(
            parent_id,
            stuck,
            {
                "type": "tool",
                "tool": "read",
                "callID": p.value("read.callID"),
                "state": {
                    "status": "completed",
                    "input": {"filePath": p.value("read.input.filePath")},
                    "output": p.value("read.output"),
                    "title": p.value("read.title"),
                    "metadata": {"preview": p.value("read.metadata")},
                    "time": {"start": t + 203, "end": t + 204},
                },
            },
            t + 203,
            "read",
        )
        part(
            parent_id,
            stuck,
            {
                "type": "tool",
                "tool": p.value("custom tool.name"),
                "callID": "c",
                "state": {
                    "status": "error",
                    "input": {"q": p.value("custom tool.input")},
                    "error": p.value("custom tool.error"),
                    "time": {"start": t + 205, "end": t + 206},
                },
            },
            t + 205,
            "custom tool",
        )
        part(
            parent_id,
            stuck,
            {
                "type": "file",
                "mime": p.value("file.mime"),
                "filename": p.value("file.filename"),
                "url": p.value("file.url"),
            },
            t + 207,
            "file",
        )
        part(
            parent_id,
            stuck,
            {"type": "patch", "hash": p.value("patch.hash"), "files": [p.value("patch.files")]},
            t + 208,
            "patch",
        )
        part(parent_id, stuck, {"type": "text", "text": p.value("answer.text")}, t + 209, "answer")
        # parts the timeline reads that the report's first reader did not: a retry, a subtask,
        # an agent mention, a compaction
        part(
            parent_id,
            stuck,
            {
                "type": "retry",
                "attempt": 2,
                "time": {"created": t + 210},
                "error": {"name": p.value("retry.error.name"), "data": {"message": p.value("retry.error.message")}},
            },
            t + 210,
            "retry",
        )
        part(
            parent_id,
            stuck,
            {
                "type": "subtask",
                "description": p.value("subtask.description"),
                "prompt": p.value("subtask.prompt"),
                "agent": p.value("subtask.agent"),
            },
            t + 211,
            "subtask",
        )
        part(
            parent_id,
            stuck,
            {"type": "agent", "name": p.value("agent.name"), "source": {"value": p.value("agent.source")}},
            t + 212,
            "agent",
        )
        part(parent_id, stuck, {"type": "compaction", "auto": True}, t + 213, "compaction")
        part(
            parent_id,
            stuck,
            {
                "type": "step-finish",
                "reason": p.value("step-finish.reason"),
                "snapshot": p.value("step-finish.snapshot"),
                "cost": p.value("step-finish.cost"),
                "tokens": {"input": p.value("step-finish.tokens")},
            },
            t + 290,
            "step-finish",
        )
        part(
            parent_id,
            stuck,
            {
                "type": "tool",
                "tool": "task",
                "callID": p.value("task.callID"),
                "state": {
                    "status": "running",
                    "title": p.value("task.title"),
                    "time": {"start": t + 310},
                    "input": {
                        "description": p.value("task.description"),
                        "prompt": p.value("task.prompt"),
                        "subagent_type": p.value("task.subagent_type"),
                    },
                    "metadata": {"sessionId": child_id, "output": p.value("task.output")},
                },
            },
            t + 300,
            "task",
        )
        user(child_id, "child user message", t + 1100)
        child = message(
            child_id,
            "msg_" + p.value("child assistant.id"),
            assistant(child_id, "child assistant", t + 1200, False),
            t + 1200,
        )
        part(
            child_id,
            child,
            {
                "type": "tool",
                "tool": "bash",
                "callID": p.value("bash.callID"),
                "state": {
                    "status": "running",
                    "title": p.value("bash.title"),
                    "time": {"start": t + 1310},
                    "input": {"command": p.value("bash.command"), "description": p.value("bash.description")},
                    "metadata": {"output": p.value("bash.output")},
                },
            },
            t + 1300,
            "bash",
        )
    return SecretIds(parent=parent_id, child=child_id, planter=p)

"""A realistic demo database for ``ocinspect --demo``, the screenshots and the TUI tests.

Three projects, one session for every stuck pattern (a subagent chain included), plus clean
sessions, all written with :class:`DatabaseBuilder` from OpenCode's real DDL. Everything is
deterministic for a given ``now``: times are offsets back from it, ids come from a fixed seed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.synth.builder import DatabaseBuilder, JsonStyle

SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

WEBAPP = "/home/dev/src/webapp"
API = "/home/dev/src/api-server"
INFRA = "/home/dev/src/infra"
DEMO_FILE = "opencode.db"
_SEED = 2026

_TEST_OUTPUT = "\n".join(
    [
        "> webapp@3.4.1 test:integration",
        "> jest --config jest.integration.config.js --runInBand",
        "",
        "PASS src/auth/login.int.test.ts (12.4 s)",
        "PASS src/auth/session.int.test.ts (8.9 s)",
        "PASS src/billing/checkout.int.test.ts (31.2 s)",
        "RUNS src/billing/invoice.int.test.ts",
    ]
)
_TSC_OUTPUT = "\n".join(
    [
        "src/auth/middleware.ts(42,7): error TS2345: Argument of type 'Session | undefined'",
        "  is not assignable to parameter of type 'Session'.",
        "src/auth/store.ts(18,3): error TS2322: Type 'string' is not assignable to type 'SessionId'.",
    ]
)


@dataclass(frozen=True)
class DemoSessions:
    """Session ids of the demo database by role, so tests can name what they look at."""

    crash_orphan: str
    subagent_parent: str
    subagent_child: str
    pending_placeholder: str
    question_wait: str
    compaction: str
    parts_in_finished_turn: str
    interrupted_turn: str
    ignores_prompts: str
    clean: tuple[str, ...]

    @property
    def stuck(self) -> tuple[str, ...]:
        return (
            self.crash_orphan,
            self.subagent_parent,
            self.subagent_child,
            self.pending_placeholder,
            self.question_wait,
            self.compaction,
            self.parts_in_finished_turn,
            self.interrupted_turn,
            self.ignores_prompts,
        )


@contextmanager
def demo_home() -> Iterator[Path]:
    """A fresh temporary directory for one demo run, removed on the way out (a normal end, an
    exception, Ctrl-C). While it lasts ``XDG_STATE_HOME`` points inside it, so what ocinspect
    keeps of the demo (the journal of its recoveries, the watermarks of its scans) never lands
    among the user's own runs and goes with it; the variable is restored afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="ocinspect-demo-"))
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(directory / "state")
    try:
        yield directory
    finally:
        if saved is None:
            os.environ.pop("XDG_STATE_HOME", None)
        else:
            os.environ["XDG_STATE_HOME"] = saved
        shutil.rmtree(directory, ignore_errors=True)


def build_demo(directory: str | Path, *, now: int | None = None) -> Path:
    """Write ``directory/opencode.db`` and return its path (the directory must not hold one)."""
    path, _ = build_demo_sessions(directory, now=now)
    return path


def build_demo_sessions(
    directory: str | Path, *, now: int | None = None, json_style: JsonStyle = "compact"
) -> tuple[Path, DemoSessions]:
    """Like :func:`build_demo`, also returning which session plays which role.

    ``json_style`` writes the JSON as another writer would (tests: detection must not depend
    on OpenCode's compact spacing).
    """
    now = int(time.time() * 1000) if now is None else int(now)
    path = Path(directory) / DEMO_FILE
    with DatabaseBuilder(path, seed=_SEED, json_style=json_style, events=True) as b:  # as OpenCode 1.18 writes it
        ids = _Writer(b, now).write()
    return path, ids


class _Writer:
    """Writes the demo sessions; one method per story so each stays readable."""

    def __init__(self, builder: DatabaseBuilder, now: int) -> None:
        self.b = builder
        self.now = now
        self.projects: dict[str, str] = {}

    def write(self) -> DemoSessions:
        for offset, directory in ((40 * DAY, WEBAPP), (30 * DAY, API), (20 * DAY, INFRA)):
            self.projects[directory] = self.b.project(directory, created=self.now - offset)
        parent, child = self.subagent_chain()
        clean = (
            self.clean(WEBAPP, "Fix the flaky login test", "npm test -- login", 26 * HOUR),
            self.clean(API, "Explain the search ranking code", "rg -n score src/search", 3 * DAY),
            self.clean(INFRA, "Bump dependencies", "npm outdated", 6 * DAY),
        )
        return DemoSessions(
            crash_orphan=self.crash_orphan(),
            subagent_parent=parent,
            subagent_child=child,
            pending_placeholder=self.pending_placeholder(),
            question_wait=self.question_wait(),
            compaction=self.compaction(),
            parts_in_finished_turn=self.parts_in_finished_turn(),
            interrupted_turn=self.interrupted_turn(),
            ignores_prompts=self.ignores_prompts(),
            clean=clean,
        )

    # helpers -----------------------------------------------------------------------------
    def at(self, ago: int) -> int:
        return self.now - ago

    def start(self, directory: str, title: str, prompt: str, ago: int, **kw: Any) -> tuple[str, str, int]:
        """A session with its first user prompt; returns (session, user message, created)."""
        t = self.at(ago)
        sid = self.b.session(
            project_id=self.projects[directory],
            title=title,
            directory=directory,
            created=t,
            updated=t + 2 * SECOND,
            **kw,
        )
        user = self.b.user_message(sid, prompt, created=t + 300)
        return sid, user, t

    def reply(self, sid: str, user: str, created: int, directory: str, **kw: Any) -> str:
        return self.b.assistant_message(sid, user, created=created, directory=directory, **kw)

    # stories -----------------------------------------------------------------------------
    def clean(self, directory: str, title: str, command: str, ago: int) -> str:
        sid, user, t = self.start(directory, title, title.lower(), ago)
        first = self.reply(sid, user, t + 2 * SECOND, directory, completed=t + 9 * SECOND, finish="tool-calls")
        self.b.tool_part(
            first,
            sid,
            tool="bash",
            status="completed",
            created=t + 3 * SECOND,
            tool_input={"command": command, "description": title},
            output="ok",
            title=title,
        )
        last = self.reply(sid, user, t + 10 * SECOND, directory, completed=t + 14 * SECOND, finish="stop")
        self.b.part(last, sid, {"type": "text", "text": "Done."}, created=t + 11 * SECOND)
        return sid

    def crash_orphan(self) -> str:
        sid, user, t = self.start(
            WEBAPP,
            "Run the integration test suite",
            "run the integration tests and fix what fails",
            2 * HOUR + 20 * MINUTE,
        )
        msg = self.reply(sid, user, t + 4 * SECOND, WEBAPP)
        self.b.tool_part(
            msg,
            sid,
            tool="bash",
            status="running",
            created=t + 6 * SECOND,
            started=self.at(2 * HOUR + 13 * MINUTE),
            title="Run integration tests",
            tool_input={"command": "npm run test:integration", "description": "Run integration tests"},
            output=_TEST_OUTPUT,
        )
        return sid

    def subagent_chain(self) -> tuple[str, str]:
        parent, user, t = self.start(
            WEBAPP,
            "Refactor the auth middleware",
            "refactor the auth middleware to use the new session store",
            47 * MINUTE,
        )
        msg = self.reply(parent, user, t + 3 * SECOND, WEBAPP)
        child = self.b.session(
            project_id=self.projects[WEBAPP],
            parent_id=parent,
            title="Find every session store call (@explore subagent)",
            directory=WEBAPP,
            created=t + 2 * MINUTE,
            agent="explore",
        )
        self.b.tool_part(
            msg,
            parent,
            tool="task",
            status="running",
            created=t + 2 * MINUTE - 200,
            started=t + 2 * MINUTE - 100,
            title="Find every session store call",
            tool_input={
                "description": "Find every session store call",
                "prompt": "List every call site of sessionStore and typecheck",
                "subagent_type": "explore",
            },
            metadata={"sessionId": child, "parentSessionId": parent},
        )
        child_user = self.b.user_message(
            child, "List every call site of sessionStore and typecheck", created=t + 2 * MINUTE + 100, agent="explore"
        )
        child_msg = self.reply(child, child_user, t + 2 * MINUTE + 400, WEBAPP, agent="explore")
        self.b.tool_part(
            child_msg,
            child,
            tool="bash",
            status="running",
            created=t + 3 * MINUTE,
            started=t + 3 * MINUTE + 50,
            title="Typecheck the project",
            tool_input={"command": "npx tsc --noEmit -p tsconfig.json", "description": "Typecheck the project"},
            output=_TSC_OUTPUT,
        )
        return parent, child

    def pending_placeholder(self) -> str:
        sid, user, t = self.start(
            API, "Add rate limiting to /v1/search", "add a token-bucket rate limit to /v1/search", 12 * MINUTE
        )
        msg = self.reply(sid, user, t + 3 * SECOND, API)
        self.b.tool_part(msg, sid, tool="edit", status="pending", created=t + 9 * SECOND)
        return sid

    def question_wait(self) -> str:
        sid, user, t = self.start(
            API, "Rotate the staging credentials", "rotate the staging API keys", 3 * HOUR + 5 * MINUTE
        )
        msg = self.reply(sid, user, t + 3 * SECOND, API)
        question = {
            "question": "Rotate the production keys too?",
            "header": "Scope",
            "options": [{"label": "Yes, both"}, {"label": "No, staging only"}],
        }
        self.b.tool_part(
            msg,
            sid,
            tool="question",
            status="running",
            created=t + 5 * SECOND,
            started=t + 5 * SECOND + 20,
            tool_input={"questions": [question]},
            metadata={},
        )
        return sid

    def compaction(self) -> str:
        sid, user, t = self.start(
            API,
            "Debug the flaky webhook retries",
            "why do webhook retries fire twice?",
            DAY + 2 * HOUR,
            time_compacting=self.at(DAY + HOUR),
        )
        first = self.reply(sid, user, t + 2 * SECOND, API, completed=t + 40 * SECOND, finish="stop")
        self.b.part(first, sid, {"type": "text", "text": "The retry queue is drained twice."}, created=t + 30 * SECOND)
        self.reply(sid, user, self.at(DAY + HOUR) + 500, API, summary=True)
        return sid

    def parts_in_finished_turn(self) -> str:
        sid, user, t = self.start(
            INFRA, "Upgrade the terraform providers", "upgrade the aws provider to v6", 5 * HOUR + 10 * MINUTE
        )
        msg = self.reply(sid, user, t + 2 * SECOND, INFRA, completed=t + 5 * MINUTE, finish="stop")
        self.b.tool_part(
            msg,
            sid,
            tool="read",
            status="running",
            created=t + 20 * SECOND,
            started=t + 20 * SECOND + 30,
            tool_input={"filePath": f"{INFRA}/modules/vpc/main.tf"},
        )
        self.b.part(msg, sid, {"type": "text", "text": "Providers upgraded."}, created=t + 4 * MINUTE)
        return sid

    def interrupted_turn(self) -> str:
        sid, user, t = self.start(
            INFRA, "Draft the release notes for v2.4", "draft release notes from the merged PRs", 31 * MINUTE
        )
        msg = self.reply(sid, user, t + 2 * SECOND, INFRA)
        self.b.part(msg, sid, {"type": "text", "text": "Release notes for v2.4:\n\n- "}, created=t + 8 * SECOND)
        return sid

    def ignores_prompts(self) -> str:
        """OpenCode ≤ 1.18.14 after its id clock wrapped: the newest prompt sorts first by id."""
        sid, _, t = self.start(
            INFRA, "Investigate the slow CI runners", "why are the CI runners slow?", 2 * DAY, version="1.18.10"
        )
        reply = self.b.new_id("msg", self.now + 365 * DAY)  # a large id, as before the wrap
        late_user = self.b.new_id("msg", 1)  # a tiny id, as after the wrap
        created = t + 20 * SECOND
        self.b.message(
            reply,
            sid,
            {
                "role": "assistant",
                "time": {"created": created, "completed": created + 9 * SECOND},
                "finish": "stop",
                "modelID": "fake",
                "providerID": "fakeprov",
                "agent": "build",
                "mode": "build",
            },
            created=created,
            updated=created,
        )
        asked = self.at(2 * DAY - 10 * MINUTE)
        self.b.message(
            late_user, sid, {"role": "user", "time": {"created": asked}, "agent": "build"}, created=asked, updated=asked
        )
        self.b.part(late_user, sid, {"type": "text", "text": "and the macOS runners?"}, created=asked + 5)
        return sid

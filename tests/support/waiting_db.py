"""A database with sessions a live OpenCode holds on a person's answer, and the liveness that says so.

Built from the real 1.18.33 DDL with ``DatabaseBuilder``: a bash behind a permission prompt, a
``question`` tool, a subagent whose bash waits for permission under its parent's ``task``, a busy
session that waits on nobody, and a crash leftover. ``live()`` is what ``opencode.live.detect``
answers for it (the pending requests whole); ``serve()`` lists the same requests on a stand-in.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inspector.core.model import LiveStatus, PendingRequest
from inspector.core.synth.builder import DatabaseBuilder

from .standin import StandIn

DIR = "/home/dev/src/webapp"
MINUTE = 60_000


@dataclass(frozen=True)
class Call:
    session: str
    message: str
    part: str
    call: str


@dataclass(frozen=True)
class Waiting:
    permission: Call  # bash "echo ok" waiting 3 min on a permission prompt
    question: Call  # question "Deploy to production?" waiting 5 min
    chain_parent: str  # task running: its child waits for permission
    child: Call  # bash "rm -rf build" in the subagent, waiting 4 min
    working: str  # busy, waits on nobody (really working)
    stale: str  # a crash leftover nobody lists busy

    @property
    def busy(self) -> frozenset[str]:
        return frozenset(
            {self.permission.session, self.question.session, self.chain_parent, self.child.session, self.working}
        )

    def requests(self, port: int) -> tuple[PendingRequest, ...]:
        def permission(c: Call, command: str) -> PendingRequest:
            return PendingRequest(
                id=f"per_{c.session}",
                session_id=c.session,
                kind="permission",
                port=port,
                directory=DIR,
                permission="bash",
                patterns=(command,),
                command=command,
                message_id=c.message,
                call_id=c.call,
            )

        q = self.question
        return (
            permission(self.permission, "echo ok"),
            permission(self.child, "rm -rf build"),
            PendingRequest(
                id=f"que_{q.session}",
                session_id=q.session,
                kind="question",
                port=port,
                directory=DIR,
                question="Deploy to production?",
                message_id=q.message,
                call_id=q.call,
            ),
        )

    def live(self, port: int = 4096) -> LiveStatus:
        requests = self.requests(port)
        return LiveStatus(
            running=True,
            busy=self.busy,
            owners=tuple((s, port) for s in sorted(self.busy)),
            waiting=frozenset(r.session_id for r in requests),
            requests=requests,
            servers=((DIR, port),),
            detail=f"test: OpenCode on port {port}",
        )

    def serve(self, standin: StandIn) -> None:
        """List the same requests on a ``tests.support.standin.StandIn`` (busy sessions included)."""
        standin.busy = set(self.busy)
        standin.ask_permission(
            self.permission.session,
            self.permission.message,
            self.permission.call,
            "echo ok",
        )
        standin.ask_permission(self.child.session, self.child.message, self.child.call, "rm -rf build")
        q = self.question
        standin.ask_question(q.session, q.message, q.call, "Deploy to production?")


def build_waiting(path: Path, now: int) -> Waiting:
    with DatabaseBuilder(path, seed=18) as b:
        project = b.project(DIR, created=now - 60 * MINUTE)

        def turn(title: str, at: int, parent: str | None = None) -> tuple[str, str]:
            sid = b.session(project_id=project, title=title, directory=DIR, created=at, parent_id=parent)
            user = b.user_message(sid, f"prompt: {title}", created=at + 10)
            return sid, b.assistant_message(sid, user, created=at + 20, directory=DIR)

        def call(sid: str, msg: str, at: int, tool: str, tool_input: dict[str, object]) -> Call:
            part = b.tool_part(msg, sid, tool=tool, status="running", tool_input=tool_input, created=at, started=at)
            return Call(sid, msg, part, f"call_{at}")

        sid, msg = turn("run echo", now - 4 * MINUTE)
        permission = call(sid, msg, now - 3 * MINUTE, "bash", {"command": "echo ok", "description": "echo"})
        sid, msg = turn("ask to deploy", now - 6 * MINUTE)
        question = call(
            sid,
            msg,
            now - 5 * MINUTE,
            "question",
            {"questions": [{"question": "Deploy to production?", "options": []}]},
        )
        parent, msg = turn("clean up", now - 10 * MINUTE)
        child_sid, child_msg = turn("clean (@general subagent)", now - 9 * MINUTE, parent=parent)
        b.tool_part(
            msg,
            parent,
            tool="task",
            status="running",
            created=now - 9 * MINUTE + 5,
            started=now - 9 * MINUTE + 5,
            metadata={"sessionId": child_sid},
            tool_input={"description": "clean", "prompt": "clean", "subagent_type": "general"},
        )
        child = call(child_sid, child_msg, now - 4 * MINUTE, "bash", {"command": "rm -rf build"})
        working, msg = turn("build", now - 2 * MINUTE)
        b.tool_part(
            msg,
            working,
            tool="bash",
            status="running",
            tool_input={"command": "make"},
            created=now - 2 * MINUTE + 30,
            started=now - 2 * MINUTE + 30,
        )
        stale, msg = turn("crash leftover", now - 50 * MINUTE)
        b.tool_part(
            msg,
            stale,
            tool="bash",
            status="running",
            tool_input={"command": "sleep 600"},
            created=now - 50 * MINUTE + 30,
            started=now - 50 * MINUTE + 30,
        )
    return Waiting(permission, question, parent, child, working, stale)


def part_state(db: Path, part_id: str) -> dict[str, object]:
    conn = sqlite3.connect(db)
    try:
        (data,) = conn.execute("SELECT data FROM part WHERE id = ?", (part_id,)).fetchone()
    finally:
        conn.close()
    state: dict[str, object] = json.loads(data)["state"]
    return state


def turn_completed(db: Path, message_id: str) -> bool:
    conn = sqlite3.connect(db)
    try:
        (data,) = conn.execute("SELECT data FROM message WHERE id = ?", (message_id,)).fetchone()
    finally:
        conn.close()
    return json.loads(data)["time"].get("completed") is not None


@dataclass(frozen=True)
class AskingChain:
    """A parent whose ``task`` tools run one subagent per ask; each subagent waits on OpenCode."""

    parent: str
    permissions: tuple[Call, ...]  # bash waiting for permission, one per command
    questions: tuple[Call, ...]  # question tool waiting, one per question
    retrying: tuple[str, ...]  # busy subagents whose model call OpenCode retries
    asked: dict[str, str]  # subagent -> the command or question it waits on

    @property
    def busy(self) -> list[str]:
        return [self.parent, *(c.session for c in self.permissions + self.questions), *self.retrying]

    def live(self, port: int = 4096) -> LiveStatus:
        """What ``opencode.live.detect`` answers while OpenCode holds every ask (in-process tests)."""
        requests = tuple(
            [
                PendingRequest(
                    id=f"per_{c.session}",
                    session_id=c.session,
                    kind="permission",
                    port=port,
                    directory=DIR,
                    permission="bash",
                    patterns=(self.asked[c.session],),
                    command=self.asked[c.session],
                    message_id=c.message,
                    call_id=c.call,
                )
                for c in self.permissions
            ]
            + [
                PendingRequest(
                    id=f"que_{c.session}",
                    session_id=c.session,
                    kind="question",
                    port=port,
                    directory=DIR,
                    question=self.asked[c.session],
                    message_id=c.message,
                    call_id=c.call,
                )
                for c in self.questions
            ]
        )
        busy = frozenset(self.busy)
        return LiveStatus(
            running=True,
            busy=busy,
            owners=tuple((s, port) for s in sorted(busy)),
            waiting=frozenset(r.session_id for r in requests),
            requests=requests,
            servers=((DIR, port),),
            detail=f"test: OpenCode on port {port}",
        )


def build_asking_chain(
    path: Path, now: int, *, commands: Sequence[str] = (), questions: Sequence[str] = (), retries: int = 0
) -> AskingChain:
    """One stuck chain: a ``task`` per subagent; subagent k runs bash ``commands[k]`` (waiting for
    permission), asks ``questions[k]``, or (``retries``) waits on a model call OpenCode retries."""
    with DatabaseBuilder(path, seed=26) as b:
        project = b.project(DIR, created=now - 60 * MINUTE)
        start = now - 30 * MINUTE
        parent = b.session(project_id=project, title="fan out", directory=DIR, created=start)
        user = b.user_message(parent, "fan out", created=start + 10)
        turn = b.assistant_message(parent, user, created=start + 20, directory=DIR)

        def child(k: int) -> tuple[str, str, int]:
            at = start + 1000 * (k + 1)
            sid = b.session(project_id=project, title=f"subagent {k}", directory=DIR, created=at, parent_id=parent)
            b.tool_part(
                turn,
                parent,
                tool="task",
                status="running",
                created=at - 5,
                started=at - 5,
                metadata={"sessionId": sid},
                tool_input={"description": f"job {k}", "prompt": "go", "subagent_type": "general"},
            )
            child_user = b.user_message(sid, "go", created=at + 10)
            return sid, b.assistant_message(sid, child_user, created=at + 20, directory=DIR), at + 30

        asks: list[Call] = []
        for k, command in enumerate(commands):
            sid, msg, at = child(k)
            part = b.tool_part(
                msg, sid, tool="bash", status="running", tool_input={"command": command}, created=at, started=at
            )
            asks.append(Call(sid, msg, part, f"call_{at}"))
        told: list[Call] = []
        for k, question in enumerate(questions, start=len(commands)):
            sid, msg, at = child(k)
            part = b.tool_part(
                msg,
                sid,
                tool="question",
                status="running",
                created=at,
                started=at,
                tool_input={"questions": [{"question": question, "options": []}]},
            )
            told.append(Call(sid, msg, part, f"call_{at}"))
        retrying = [
            child(k)[0] for k in range(len(commands) + len(questions), len(commands) + len(questions) + retries)
        ]
    texts = dict(zip([c.session for c in asks + told], [*commands, *questions], strict=True))
    return AskingChain(parent, tuple(asks), tuple(told), tuple(retrying), texts)

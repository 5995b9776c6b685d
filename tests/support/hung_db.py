"""Databases with sessions a live OpenCode lists busy: hung ones and ones that are really working.

Built from the real 1.18.33 DDL with ``DatabaseBuilder``; times are relative to ``now`` so a
test pins the clock and knows exactly how long each session has been silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.opencode.live import LiveStatus
from inspector.core.synth.builder import DatabaseBuilder

DIR = "/home/dev/src/webapp"
MINUTE = 60_000


@dataclass(frozen=True)
class Busy:
    hung_bash: str  # bash sleep running, nothing moved for 20 min
    streaming: str  # bash running 20 min, its output updated 1 s ago
    thinking: str  # last tool completed 20 min ago; waiting for the model
    question: str  # question tool waiting 20 min for an answer
    permission: str  # bash waiting 20 min on a permission prompt (server says so)
    chain_parent: str  # task -> child bash, all silent 20 min
    chain_child: str
    moving_parent: str  # task silent 20 min, but its child's bash printed 1 s ago
    moving_child: str
    stale: str  # a crash leftover nobody lists busy
    parallel: str  # one step called bash (running, silent) and read (completed after)
    leftover: str  # an old crashed turn, then a new turn whose model is thinking
    hung_part: str  # the hung bash part
    child_part: str  # the chain child's bash part

    @property
    def busy(self) -> frozenset[str]:
        return frozenset(
            {
                self.hung_bash,
                self.streaming,
                self.thinking,
                self.question,
                self.permission,
                self.chain_parent,
                self.chain_child,
                self.moving_parent,
                self.moving_child,
                self.parallel,
                self.leftover,
            }
        )

    def live(self, port: int = 4096, **kw: Any) -> LiveStatus:
        kw.setdefault("waiting", frozenset({self.permission}))
        return LiveStatus(
            running=True,
            busy=self.busy,
            owners=tuple((s, port) for s in sorted(self.busy)),
            detail=f"test: OpenCode on port {port}",
            **kw,
        )


def build_busy(path: Path, now: int) -> Busy:
    t = now - 20 * MINUTE
    with DatabaseBuilder(path, seed=11) as b:
        project = b.project(DIR, created=t - MINUTE)

        def turn(title: str, offset: int, parent: str | None = None) -> tuple[str, str]:
            sid = b.session(project_id=project, title=title, directory=DIR, created=t + offset, parent_id=parent)
            user = b.user_message(sid, f"prompt: {title}", created=t + offset + 10)
            return sid, b.assistant_message(sid, user, created=t + offset + 20, directory=DIR)

        def bash(sid: str, msg: str, offset: int, command: str = "sleep 600", status: str = "running") -> str:
            return b.tool_part(
                msg,
                sid,
                tool="bash",
                status=status,
                tool_input={"command": command},
                created=t + offset + 30,
                started=t + offset + 40,
            )

        def touch(part: str, when: int) -> None:
            b.raw("UPDATE part SET time_updated = :w WHERE id = :id", w=when, id=part)

        hung_bash, msg = turn("hung bash", 0)
        hung_part = bash(hung_bash, msg, 0)

        streaming, msg = turn("streaming bash", 100)
        touch(bash(streaming, msg, 100, "for i in $(seq 600); do echo $i; sleep 1; done"), now - 1000)

        thinking, msg = turn("thinking", 200)
        b.tool_part(
            msg,
            thinking,
            tool="bash",
            status="completed",
            tool_input={"command": "ls"},
            created=t + 230,
            started=t + 240,
            ended=t + 250,
            output="a",
        )
        # ``turn`` made an unfinished assistant message holding that completed tool: the model
        # got the result and is thinking about it (no tool is running).

        question, msg = turn("question", 300)
        b.tool_part(
            msg,
            question,
            tool="question",
            status="running",
            created=t + 330,
            started=t + 340,
            tool_input={"questions": [{"question": "Deploy?", "options": []}]},
        )

        permission, msg = turn("permission", 400)
        bash(permission, msg, 400, "rm -rf build")

        chain_parent, msg = turn("chain parent", 500)
        chain_child, child_msg = turn("explore (@general subagent)", 510, parent=chain_parent)
        b.tool_part(
            msg,
            chain_parent,
            tool="task",
            status="running",
            created=t + 530,
            started=t + 540,
            tool_input={"description": "explore", "prompt": "look", "subagent_type": "general"},
            metadata={"sessionId": chain_child},
        )
        child_part = bash(chain_child, child_msg, 510)

        moving_parent, msg = turn("moving parent", 600)
        moving_child, child_msg = turn("moving child (@general subagent)", 610, parent=moving_parent)
        b.tool_part(
            msg,
            moving_parent,
            tool="task",
            status="running",
            created=t + 630,
            started=t + 640,
            tool_input={"description": "build", "prompt": "make", "subagent_type": "general"},
            metadata={"sessionId": moving_child},
        )
        touch(bash(moving_child, child_msg, 610, "make -j2"), now - 1000)

        stale, msg = turn("crash leftover", 700)
        bash(stale, msg, 700)

        parallel, msg = turn("parallel tools", 800)
        bash(parallel, msg, 800, "pytest -x")
        b.tool_part(
            msg,
            parallel,
            tool="read",
            status="completed",
            tool_input={"filePath": "setup.py"},
            created=t + 850,
            started=t + 860,
            ended=t + 870,
            output="x",
        )

        leftover, old_msg = turn("old crash, new turn", 900)
        bash(leftover, old_msg, 900, "make old")  # crashed long ago, never repaired
        user = b.user_message(leftover, "again", created=t + 950)
        new_msg = b.assistant_message(leftover, user, created=t + 960, directory=DIR)
        b.tool_part(
            new_msg,
            leftover,
            tool="read",
            status="completed",
            tool_input={"filePath": "a"},
            created=t + 970,
            started=t + 975,
            ended=t + 980,
            output="a",
        )
    return Busy(
        hung_bash,
        streaming,
        thinking,
        question,
        permission,
        chain_parent,
        chain_child,
        moving_parent,
        moving_child,
        stale,
        parallel,
        leftover,
        hung_part,
        child_part,
    )


SECOND = 1000


@dataclass(frozen=True)
class Signals:
    """Busy sessions whose verdict needs OpenCode's signals (status objects, requests, events)."""

    slow_reply: str  # ONE step streaming for 30 s: its text row still empty (written at the end)
    stalled: str  # the model stream stalled 4 times: 4 step-starts, each with an empty text
    retrying: str  # one step started 2 min ago, nothing since; OpenCode retries the model call
    permission: str  # bash waiting for permission since its start 20 min ago
    question: str  # a question tool waiting for an answer (the request says when it was asked)
    asking_parent: str  # task -> child bash waiting for permission: the chain waits
    asking_child: str
    bash_part: str  # the permission session's waiting bash part
    child_call: str  # the child's waiting bash call id
    stall_started: int  # when the stalled session's output last moved (its prompt)

    @property
    def busy(self) -> frozenset[str]:
        return frozenset(
            {
                self.slow_reply,
                self.stalled,
                self.retrying,
                self.permission,
                self.question,
                self.asking_parent,
                self.asking_child,
            }
        )

    def live(self, port: int = 4096, **kw: Any) -> LiveStatus:
        return LiveStatus(
            running=True,
            busy=self.busy,
            owners=tuple((s, port) for s in sorted(self.busy)),
            detail=f"test: OpenCode on port {port}",
            **kw,
        )


def build_signals(path: Path, now: int, *, stall_cycles: int = 4) -> Signals:
    """Rows as OpenCode 1.18.33 writes them (measured with a scripted model): a stalled stream
    leaves a ``step-start`` and an empty ``text`` part per cycle, no ``step-finish``; a text
    reply in progress has its text part row written at the step's start and not touched since."""
    with DatabaseBuilder(path, seed=12) as b:
        project = b.project(DIR, created=now - 60 * MINUTE)

        def turn(title: str, started: int, parent: str | None = None) -> tuple[str, str]:
            sid = b.session(project_id=project, title=title, directory=DIR, created=started, parent_id=parent)
            user = b.user_message(sid, f"prompt: {title}", created=started + 10)
            return sid, b.assistant_message(sid, user, created=started + 20, directory=DIR)  # + step-start

        def text(sid: str, msg: str, created: int, words: str = "") -> str:
            return b.part(msg, sid, {"type": "text", "text": words, "time": {"start": created}}, created=created)

        slow_reply, msg = turn("slow reply", now - 30 * SECOND)
        text(slow_reply, msg, now - 30 * SECOND + 40)

        stall_started = now - 8 * MINUTE
        stalled, msg = turn("stalled model", stall_started)
        text(stalled, msg, stall_started + 40)  # the first step's text: empty, the stream stalled
        for cycle in range(1, stall_cycles):
            at = stall_started + cycle * 100 * SECOND
            b.part(
                msg, stalled, {"snapshot": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "type": "step-start"}, created=at
            )
            text(stalled, msg, at + 5)

        retrying, msg = turn("retrying", now - 2 * MINUTE)

        permission, msg = turn("permission", now - 20 * MINUTE)
        bash_part = b.tool_part(
            msg,
            permission,
            tool="bash",
            status="running",
            tool_input={"command": "echo ok"},
            created=now - 20 * MINUTE + 30,
            started=now - 20 * MINUTE + 40,
        )

        question, msg = turn("question", now - 10 * MINUTE)
        b.tool_part(
            msg,
            question,
            tool="question",
            status="running",
            created=now - 10 * MINUTE + 30,
            started=now - 10 * MINUTE + 40,
            tool_input={"questions": [{"question": "Deploy?", "options": []}]},
        )

        asking_parent, msg = turn("asking parent", now - 15 * MINUTE)
        asking_child, child_msg = turn(
            "asking child (@general subagent)", now - 15 * MINUTE + 100, parent=asking_parent
        )
        b.tool_part(
            msg,
            asking_parent,
            tool="task",
            status="running",
            created=now - 15 * MINUTE + 50,
            started=now - 15 * MINUTE + 60,
            metadata={"sessionId": asking_child},
            tool_input={"description": "deploy", "prompt": "ship it", "subagent_type": "general"},
        )
        child_start = now - 15 * MINUTE + 200
        b.tool_part(
            child_msg,
            asking_child,
            tool="bash",
            status="running",
            tool_input={"command": "make deploy"},
            created=child_start,
            started=child_start,
        )
    return Signals(
        slow_reply,
        stalled,
        retrying,
        permission,
        question,
        asking_parent,
        asking_child,
        bash_part,
        f"call_{child_start}",
        stall_started,
    )

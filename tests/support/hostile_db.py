"""A database with terminal controls and bidi overrides in every field ocinspect draws.

Each field holds ``NAME<payload>``: the name says which field reached the output (escaped), the
payload must never reach it raw. Shared by tests/test_sanitise.py (CLI) and
tests/tui/test_sanitise.py (TUI).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.core.synth.builder import DatabaseBuilder

from .releases import NOW_1_18_33 as NOW

# OSC 52 (clipboard write), OSC 0 (window title), CSI (clear screen), C1 CSI and NEL, DEL, and the
# bidi/separator controls: each one must reach the terminal as a visible escape only.
PAYLOAD = (
    "\x1b]52;c;SGVsbG8=\x07\x1b]0;pwned\x07\x1b[2J\x9b31m\x85\x7f\x00\r"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029"
)
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029")


def hostile(name: str) -> str:
    return f"{name}<{PAYLOAD}>"


def unsafe_characters(text: str) -> list[str]:
    """Raw ESC, BEL and other C0 (but tab, newline), DEL, C1 and bidi/separator characters."""
    return sorted({c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F or c in BIDI})


@dataclass(frozen=True)
class HostileIds:
    parent: str
    child: str
    parent_message: str
    child_message: str
    task_part: str
    tool_part: str
    child_part: str


def build_hostile(path: Path, now: int = NOW) -> HostileIds:
    """A parent stuck in a task (its subagent child stuck in bash) and in a second tool, every
    text field of the session, message and part rows (ids included) holding ``PAYLOAD``."""
    t = now - 3_600_000
    directory = "/home/dev/" + hostile("DIR")
    ids = HostileIds(
        parent=hostile("ses_parent"),
        child=hostile("ses_child"),
        parent_message=hostile("msg_parent"),
        child_message=hostile("msg_child"),
        task_part=hostile("prt_task"),
        tool_part=hostile("prt_tool"),
        child_part=hostile("prt_child"),
    )
    with DatabaseBuilder(path, seed=7) as b:
        project = b.project(directory, created=t)
        b.session(
            project_id=project,
            title=hostile("TITLE"),
            directory=directory,
            created=t,
            session_id=ids.parent,
            agent=hostile("SESSION_AGENT"),
        )
        b.session(
            project_id=project,
            title=hostile("CHILD_TITLE"),
            directory=directory,
            created=t + 1000,
            parent_id=ids.parent,
            session_id=ids.child,
        )
        for session, message, when in (
            (ids.parent, ids.parent_message, t + 200),
            (ids.child, ids.child_message, t + 1200),
        ):
            user = b.user_message(session, hostile("PROMPT"), created=when - 100, agent=hostile("USER_AGENT"))
            b.message(
                message,
                session,
                {
                    "parentID": user,
                    "role": "assistant",
                    "mode": hostile("MODE"),
                    "agent": hostile("AGENT"),
                    "path": {"cwd": directory, "root": directory},
                    "cost": 0,
                    "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}},
                    "modelID": hostile("MODEL"),
                    "providerID": hostile("PROVIDER"),
                    "error": {"name": hostile("ERROR"), "data": {"message": hostile("ERROR_MESSAGE")}},
                    "time": {"created": when},
                },
                created=when,
            )

        def tool(part_id: str, message: str, session: str, name: str, when: int, state: dict[str, Any]) -> None:
            data = {"type": "tool", "tool": name, "callID": hostile("CALL"), "state": state}
            b.raw(
                "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) "
                "VALUES (:id, :mid, :sid, :t, :t, :data)",
                id=part_id,
                mid=message,
                sid=session,
                t=when,
                data=b.dumps(data),
            )

        tool(
            ids.task_part,
            ids.parent_message,
            ids.parent,
            "task",
            t + 300,
            {
                "status": "running",
                "title": hostile("TASK_TITLE"),
                "time": {"start": t + 310},
                "input": {
                    "description": hostile("DESCRIPTION"),
                    "prompt": hostile("TASK_PROMPT"),
                    "subagent_type": hostile("SUBAGENT"),
                },
                "metadata": {"sessionId": ids.child, "output": "first\n" + hostile("TASK_OUTPUT")},
            },
        )
        tool(
            ids.tool_part,
            ids.parent_message,
            ids.parent,
            hostile("TOOL"),
            t + 400,
            {
                "status": "running",
                "title": hostile("PART_TITLE"),
                "time": {"start": t + 410},
                "input": {"command": hostile("COMMAND"), "extra": hostile("INPUT")},
                "metadata": {"output": "line one\n" + hostile("OUTPUT")},
            },
        )
        tool(
            ids.child_part,
            ids.child_message,
            ids.child,
            "bash",
            t + 1300,
            {
                "status": "running",
                "title": hostile("CHILD_PART_TITLE"),
                "time": {"start": t + 1310},
                "input": {"command": hostile("CHILD_COMMAND")},
                "metadata": {"output": hostile("CHILD_OUTPUT")},
            },
        )
    return ids

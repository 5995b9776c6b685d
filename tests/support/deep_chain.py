"""A subagent chain thousands of sessions deep, built from OpenCode's real DDL.

Each session's running ``task`` part names the next session (``state.metadata.sessionId``) and
the next session's ``parent_id`` names it back; the deepest one has a running ``bash``. Every
reader that walks chains must handle any depth without Python recursion.
"""

from __future__ import annotations

from pathlib import Path

from inspector.core.synth.builder import DatabaseBuilder

T0 = 1795530000000
DIR = "/home/dev/src/deep"


def deep_chain(path: Path, depth: int) -> list[str]:
    """Build the chain; returns its session ids, root first."""
    ids: list[str] = []
    with DatabaseBuilder(path, seed=11) as b:
        project = b.project(DIR, created=T0)
        parent: str | None = None
        pending_task: tuple[str, str, int] | None = None  # (message, session, time) awaiting its child
        for level in range(depth):
            t = T0 + level * 10
            sid = b.session(
                project_id=project,
                parent_id=parent,
                title=f"level {level}",
                directory=DIR,
                created=t,
                agent="build" if parent is None else "explore",
            )
            if pending_task is not None:
                msg, owner, started = pending_task
                b.tool_part(
                    msg,
                    owner,
                    tool="task",
                    status="running",
                    created=started,
                    started=started,
                    tool_input={"description": f"level {level}", "prompt": "go deeper", "subagent_type": "explore"},
                    metadata={"sessionId": sid, "parentSessionId": owner},
                )
            user = b.user_message(sid, f"prompt {level}", created=t + 1)
            msg = b.assistant_message(sid, user, created=t + 2, directory=DIR)
            pending_task = (msg, sid, t + 3)
            ids.append(sid)
            parent = sid
        assert pending_task is not None
        msg, owner, started = pending_task
        b.tool_part(
            msg,
            owner,
            tool="bash",
            status="running",
            created=started,
            started=started,
            tool_input={"command": "sleep 600"},
        )
    return ids

"""``ocinspect open`` on a crashed OpenCode 2.1.2 session, end to end: the printed command is
2.1.2's (``opencode --standalone --session=ID DIR``: 2.x has no ``attach``), and exec'd on a
pseudo-terminal it becomes OpenCode 2's TUI on that session on a private server, so no service
boots and nothing re-runs the crashed turn; a prompt typed there closes the stale turn and
completes in the same session, with one model call (the prompt's).

Cost: one plain-server boot to make the crash and one TUI boot (its private server); the
prompt's turn is a one-word reply. The same TUI session carries every check.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from .. import harness as h
from ..terminal import Terminal
from ..test_e2e_open import env_for, open_print
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e


def answered(db: Path, sid: str, calls_before: int, model: h.FakeModel) -> bool:
    """The typed prompt ran one turn to its ``idle`` row, after the stale one was closed."""
    rows = v2.message_rows(db, sid)
    users = [i for i, r in enumerate(rows) if r["type"] == "user"]
    return (
        len(users) >= 2 and any(r["type"] == "idle" for r in rows[users[-1] :]) and v2.model_calls(model) > calls_before
    )


def test_open_continues_a_crashed_v2_session_on_a_private_server(sandbox: v2.V2Sandbox) -> None:
    crash = v2.crash_plain_mid_tool(sandbox)
    sid, db = crash.session_id, sandbox.db_path
    calls = v2.model_calls(sandbox.model)
    env = env_for(sandbox, sandbox.binary)
    printed = open_print(db, sid, env)
    assert printed.returncode == 0, printed.stderr
    assert shlex.split(printed.stdout) == [
        "cd",
        str(sandbox.project),
        "&&",
        f"OPENCODE_DB={db.resolve()}",
        "opencode",
        "--standalone",
        f"--session={sid}",
        str(sandbox.project),
    ]
    assert f"{sid} is still stuck" in printed.stderr

    args = [sys.executable, "-m", "inspector", "--db", str(db), "open", sid, "--yes"]
    term = Terminal.spawn(args, env, h.REPO_ROOT)  # ocinspect, which becomes OpenCode 2's TUI
    try:
        term.wait_for(b"sleep 600", 120)  # the TUI is up on the crashed session, its tool drawn
        term.read_for(3)
        assert not sandbox.service_json.exists()  # no service booted, so no sweep
        assert v2.model_calls(sandbox.model) == calls  # the crashed turn was not re-run
        assert "synthetic" not in [r["type"] for r in v2.message_rows(db, sid)]
        term.type_prompt(v2.TEXT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not answered(db, sid, calls, sandbox.model):
            term.read_for(1)
        assert answered(db, sid, calls, sandbox.model), (v2.describe(db), term.shown()[-3000:])
        assert v2.model_calls(sandbox.model) == calls + 1  # the prompt's call only
        assert [t["state"]["status"] for t in v2.tool_items(db, sid)][0] == "error"  # the stale tool closed
        assert len(v2.session_rows(db)) == 1 and not sandbox.service_json.exists()
    finally:
        term.close()

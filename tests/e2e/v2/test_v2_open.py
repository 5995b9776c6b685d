"""``ocinspect open`` on a crashed OpenCode 2.1.2 session, end to end: the printed command is
2.1.2's (``opencode --standalone --session=ID DIR``: 2.x has no ``attach``), and exec'd on a
pseudo-terminal it becomes OpenCode 2's TUI on that session on a private server, so no service
boots and nothing re-runs the crashed turn; a prompt typed there closes the stale turn and
completes in the same session, with one model call (the prompt's).

Cost: one plain-server boot to make the crash and one TUI boot (its private server); the
prompt's turn is a one-word reply. The same TUI session carries every check.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest

from .. import harness as h
from ..test_e2e_open import env_for, open_print
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e

ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


class Terminal:
    """The pseudo-terminal a forked process draws on, read until something is drawn."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid, self.fd, self.screen = pid, fd, b""

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            self.screen += chunk
            if b"\x1b[6n" in chunk:  # a TUI may wait on the cursor position or device attributes
                os.write(self.fd, b"\x1b[1;1R")
            if b"\x1b[c" in chunk or b"\x1b[0c" in chunk:
                os.write(self.fd, b"\x1b[?62;22c")

    def shown(self) -> bytes:
        return ESCAPES.sub(b"", self.screen)

    def wait_for(self, needle: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.shown():
            alive = os.waitpid(self.pid, os.WNOHANG) == (0, 0)
            assert time.monotonic() < deadline and alive, (needle, self.shown()[-3000:])
            self.read_for(0.5)


def answered(db: Path, sid: str, calls_before: int, model: h.FakeModel) -> bool:
    """The typed prompt ran one turn to its ``idle`` row, after the stale one was closed."""
    rows = v2.message_rows(db, sid)
    users = [i for i, r in enumerate(rows) if r["type"] == "user"]
    return (
        len(users) >= 2 and any(r["type"] == "idle" for r in rows[users[-1] :]) and v2.model_calls(model) > calls_before
    )


def test_open_continues_a_crashed_v2_session_on_a_private_server(sandbox: v2.V2Sandbox) -> None:  # noqa: C901
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

    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: ocinspect, which becomes OpenCode 2's TUI
        try:
            os.chdir(h.REPO_ROOT)
            args = [sys.executable, "-m", "inspector", "--db", str(db), "open", sid, "--yes"]
            os.execvpe(sys.executable, args, {**env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"})
        finally:
            os._exit(127)
    term = Terminal(pid, fd)
    try:
        term.wait_for(b"sleep 600", 120)  # the TUI is up on the crashed session, its tool drawn
        term.read_for(3)
        assert not sandbox.service_json.exists()  # no service booted, so no sweep
        assert v2.model_calls(sandbox.model) == calls  # the crashed turn was not re-run
        assert "synthetic" not in [r["type"] for r in v2.message_rows(db, sid)]
        for ch in v2.TEXT:
            os.write(fd, ch.encode())
            time.sleep(0.02)
        term.wait_for(v2.TEXT.split()[-1].encode(), 30)
        os.write(fd, b"\r")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not answered(db, sid, calls, sandbox.model):
            term.read_for(1)
        assert answered(db, sid, calls, sandbox.model), (v2.describe(db), term.shown()[-3000:])
        assert v2.model_calls(sandbox.model) == calls + 1  # the prompt's call only
        assert [t["state"]["status"] for t in v2.tool_items(db, sid)][0] == "error"  # the stale tool closed
        assert len(v2.session_rows(db)) == 1 and not sandbox.service_json.exists()
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # the process we forked (now OpenCode); its helpers carry the marker
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)

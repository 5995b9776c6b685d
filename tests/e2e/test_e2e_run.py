"""Issue 13.1 end to end: ``ocinspect run -- opencode serve …`` makes every start a clean start.

The real OpenCode 1.18.33 is started *through* ``ocinspect run``: the process that answers on
the port must be the very process we started (``exec``, same PID), the session it serves must
be healthy, and a new prompt must complete. The obstacles (no database yet, OpenCode already
running) must never keep OpenCode from starting.

One story on one database, so that every OpenCode boot proves something (each boot is the cost
of an e2e test): the first start without a database, whose server is then crashed mid-tool; a
plain OpenCode serving that file, beside which ``run`` writes nothing; and the start that
recovers the session and becomes OpenCode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from . import harness as h
from .test_e2e import assert_healthy, assert_new_prompt_completes

pytestmark = pytest.mark.e2e


def launcher_env(sb: h.Sandbox) -> dict[str, str]:
    """OpenCode's own sandbox environment, plus what runs this checkout's ocinspect."""
    return sb.env(PYTHONPATH=str(h.REPO_ROOT))


def launch(sb: h.Sandbox, binary: Path) -> h.OpenCode:
    """``opencode serve`` started as ``python -m inspector run -- opencode serve …``."""
    return sb.start_opencode(binary, launcher=(sys.executable, "-m", "inspector", "run", "--"))


def listener_pid(port: int) -> int | None:
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


def log_lines(server: h.OpenCode) -> list[str]:
    return [line for line in server.log().splitlines() if line.startswith("ocinspect:")]


def run_command(sb: h.Sandbox, script: str) -> subprocess.CompletedProcess[str]:
    """``ocinspect run -- sh -c SCRIPT`` in the project."""
    return subprocess.run(
        [sys.executable, "-m", "inspector", "run", "--", "sh", "-c", script],
        cwd=sb.project,
        env=launcher_env(sb),
        timeout=60,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )


def test_run_starts_without_a_database_leaves_a_running_opencode_alone_then_recovers(
    sandbox: h.Sandbox, opencode_bin: Path
) -> None:
    # no database yet: the command's exit code passes through, nothing said
    assert not sandbox.db_path.exists()
    code = run_command(sandbox, "exit 7")
    assert (code.returncode, code.stderr) == (7, ""), code.stderr

    first = launch(sandbox, opencode_bin)  # first start: no database yet
    assert log_lines(first) == []
    hello = first.create_session()
    first.prompt_async(hello, "TEXT hello")
    first.wait_turn_complete(hello, timeout=60)
    assert sandbox.db_path.exists()
    # the crash: that server killed mid-tool
    sid = first.create_session()
    first.prompt_async(sid, "run the long tests")
    part = h.wait_for_tool_part(sandbox.db_path, session_id=sid, tool="bash", timeout=60, server=first)[0]
    first.kill()

    # OpenCode already running (idle, but serving this database): run writes nothing, still starts
    running = sandbox.start_opencode(opencode_bin)
    ran = run_command(sandbox, "echo started")
    assert ran.returncode == 0 and ran.stdout == "started\n", ran.stderr
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: 1 stuck session(s) left alone: OpenCode is already running"), line
    states: dict[str, Any] = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert states == {part["id"]: "running"}
    running.kill()

    # the start that recovers, then becomes OpenCode
    server = launch(sandbox, opencode_bin)
    assert listener_pid(server.port) == server.pid  # exec: the launcher *is* the server
    assert psutil.Process(server.pid).exe() == str(opencode_bin.resolve())
    (line,) = log_lines(server)
    assert line.startswith("ocinspect: recovered 1 stuck session before start (run "), line
    assert_healthy(server, sid, {part["id"]})
    assert_new_prompt_completes(server, sid)
    server.kill()

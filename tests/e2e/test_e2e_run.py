"""Issue 13.1 end to end: ``ocinspect run -- opencode serve …`` makes every start a clean start.

The real OpenCode 1.18.33 is started *through* ``ocinspect run``: the process that answers on
the port must be the very process we started (``exec``, same PID), the session it serves must
be healthy, and a new prompt must complete. The obstacles (no database yet, OpenCode already
running) must never keep OpenCode from starting.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from . import harness as h
from .test_e2e import assert_healthy, assert_new_prompt_completes, crash_mid_tool

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


def test_run_recovers_then_becomes_opencode(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, part = crash_mid_tool(sandbox, opencode_bin, "run the long tests")

    server = launch(sandbox, opencode_bin)
    assert listener_pid(server.port) == server.pid  # exec: the launcher *is* the server
    assert psutil.Process(server.pid).exe() == str(opencode_bin.resolve())
    (line,) = log_lines(server)
    assert line.startswith("ocinspect: recovered 1 stuck session before start (run "), line
    assert_healthy(server, sid, {part["id"]})
    assert_new_prompt_completes(server, sid)
    server.kill()


def test_run_passes_the_exit_code_and_starts_without_a_database(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    assert not sandbox.db_path.exists()
    code = subprocess.run(
        [sys.executable, "-m", "inspector", "run", "--", "sh", "-c", "exit 7"],
        cwd=sandbox.project,
        env=launcher_env(sandbox),
        timeout=60,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert (code.returncode, code.stderr) == (7, ""), code.stderr

    server = launch(sandbox, opencode_bin)  # first start: no database yet
    assert log_lines(server) == []
    sid = server.create_session()
    server.prompt_async(sid, "TEXT hello")
    server.wait_turn_complete(sid, timeout=60)
    assert sandbox.db_path.exists()
    server.kill()


def test_run_leaves_the_database_alone_while_opencode_runs(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, part = crash_mid_tool(sandbox, opencode_bin, "run the long tests")
    running = sandbox.start_opencode(opencode_bin)  # idle, but serving this database

    ran = subprocess.run(
        [sys.executable, "-m", "inspector", "run", "--", "sh", "-c", "echo started"],
        cwd=sandbox.project,
        env=launcher_env(sandbox),
        timeout=60,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0 and ran.stdout == "started\n", ran.stderr
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: 1 stuck session(s) left alone: OpenCode is already running"), line
    states: dict[str, Any] = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert states == {part["id"]: "running"}
    running.kill()

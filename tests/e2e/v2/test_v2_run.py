"""``ocinspect run -- opencode …`` on OpenCode 2.1.2: the start it wraps boots the managed service,
whose sweep would re-run a crashed turn and call the model again. ``run`` settles the turn first,
so the boot calls no model; ``--let-opencode-resume`` leaves the turn to the service, which
re-runs it.
"""

from __future__ import annotations

import sys

import pytest

from . import harness_v2 as v2
from .test_v2_recover import assert_left_alone
from .test_v2_shapes import types_of

pytestmark = pytest.mark.e2e

RUN = (sys.executable, "-m", "inspector", "run", "--")


def test_run_settles_the_crash_so_the_service_boot_calls_no_model(sandbox: v2.V2Sandbox) -> None:
    crash = v2.crash_plain_mid_tool(sandbox)
    sid = crash.session_id
    calls = v2.model_calls(sandbox.model)

    service = sandbox.start_service(launcher=RUN)
    assert sandbox.started is not None
    assert f"ocinspect: settled {sid} (crashed mid-shell): the service will not re-run it" in sandbox.started.stderr
    assert_left_alone(sandbox, sid, calls)
    v2.kill_service(sandbox, service)


def test_let_opencode_resume_leaves_the_turn_to_the_service(sandbox: v2.V2Sandbox) -> None:
    crash = v2.crash_plain_mid_tool(sandbox)
    calls = v2.model_calls(sandbox.model)

    launcher = (*RUN[:-1], "--let-opencode-resume", "--")
    service = v2.boot_service_until_resumed(sandbox, crash.session_id, calls, launcher=launcher)
    assert sandbox.started is not None
    assert f"ocinspect: left {crash.session_id} (crashed mid-shell) to OpenCode" in sandbox.started.stderr
    assert "synthetic" in types_of(sandbox.db_path, crash.session_id)
    v2.kill_service(sandbox, service)


def test_run_never_writes_behind_a_live_server(sandbox: v2.V2Sandbox) -> None:
    """A plain server serves the crashed database again (it never sweeps): ``run`` leaves the
    file alone with one warning and still starts the command."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    server = sandbox.start_plain()
    claim = v2.session_row(db, crash.session_id)["time_suspended"]
    assert claim is not None

    ran = sandbox.ocinspect("run", "--", "sh", "-c", "echo started")
    assert (ran.returncode, ran.stdout) == (0, "started\n"), ran.stderr
    (warning,) = ran.stderr.splitlines()
    assert warning.startswith("ocinspect: warning: 1 stuck session(s) left alone: OpenCode is already running on it")
    assert v2.session_row(db, crash.session_id)["time_suspended"] == claim
    assert "idle" not in types_of(db, crash.session_id)
    server.kill()

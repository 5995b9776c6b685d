"""``ocinspect run -- opencode …`` on OpenCode 2.1.2: the start it wraps boots the managed service,
whose sweep would re-run a crashed turn and call the model again. ``run`` settles the turn first,
so the boot calls no model; ``--let-opencode-resume`` leaves the turn to the service, which
re-runs it.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest

from ...test_watermarks import without_clock
from . import harness_v2 as v2
from .test_v2_recover import assert_left_alone

pytestmark = pytest.mark.e2e

RUN = (sys.executable, "-m", "inspector", "run", "--")


def test_run_settles_the_crash_so_the_service_boot_calls_no_model(sandbox: v2.V2Sandbox) -> None:
    """First, while a plain server serves the crashed database again (it never sweeps), ``run``
    leaves the file alone with one warning and still starts the command; once that server is
    gone, the service start it wraps finds the turn settled (the same crash: one boot fewer)."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    sid = crash.session_id
    server = sandbox.start_plain()
    claim = v2.claim(db, sid)
    assert claim is not None

    ran = sandbox.ocinspect("run", "--", "sh", "-c", "echo started")
    assert (ran.returncode, ran.stdout) == (0, "started\n"), ran.stderr
    (warning,) = ran.stderr.splitlines()
    assert warning.startswith("ocinspect: warning: 1 stuck session(s) left alone: OpenCode is already running on it")
    assert v2.claim(db, sid) == claim
    assert "idle" not in v2.types_of(db, sid)
    server.kill()

    calls = v2.model_calls(sandbox.model)
    service = sandbox.start_service(launcher=RUN)
    assert sandbox.started is not None
    assert f"ocinspect: settled {sid} (crashed mid-shell): the service will not re-run it" in sandbox.started.stderr
    assert_left_alone(sandbox, sid, calls)
    v2.kill_service(sandbox, service)


def test_let_opencode_resume_leaves_the_turn_to_the_service(sandbox: v2.V2Sandbox) -> None:
    """Also: what the service writes when it re-runs the turn (a restart notice, the old reply
    closed in place, a new reply and its re-issued tool) is seen by a scan resumed from a look
    taken before the boot, as a full pass sees it (the same boot: no extra cost)."""
    crash = v2.crash_plain_mid_tool(sandbox)
    calls = v2.model_calls(sandbox.model)
    before = {tier: _scan(sandbox, *tier) for tier in ((), ("--quick",))}  # keeps the watermarks

    launcher = (*RUN[:-1], "--let-opencode-resume", "--")
    service = v2.boot_service_until_resumed(sandbox, crash.session_id, calls, launcher=launcher)
    assert sandbox.started is not None
    assert f"ocinspect: left {crash.session_id} (crashed mid-shell) to OpenCode" in sandbox.started.stderr
    assert "synthetic" in v2.types_of(sandbox.db_path, crash.session_id)
    v2.wait_db(
        sandbox.db_path,
        lambda: (
            len([t for t in v2.tool_items(sandbox.db_path, crash.session_id) if t["state"]["status"] == "running"]) == 1
        ),
        what="the re-run turn's tool to run",
    )
    for tier, earlier in before.items():
        full_at = _full_at(sandbox, "quick" if tier else "deep")
        resumed = _scan(sandbox, *tier)
        assert _full_at(sandbox, "quick" if tier else "deep") == full_at  # resumed, not a full pass
        assert resumed == _scan(sandbox, *tier, "--full") != earlier, tier
    v2.kill_service(sandbox, service)


def _scan(sandbox: v2.V2Sandbox, *args: str) -> Any:
    """The scan's JSON without what moves with the wall clock between two scans (a turn the
    service runs says how long ago it last moved)."""
    done = sandbox.ocinspect("scan", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return without_clock(json.loads(re.sub(r"last moved [^;\")]* ago", "last moved … ago", done.stdout)))


def _full_at(sandbox: v2.V2Sandbox, tier: str) -> float:
    """When the kept state's last full pass of ``tier`` began (a resumed scan keeps it)."""
    (kept,) = (sandbox.ocinspect_state / "ocinspect" / "watermarks").glob(f"*.{tier}.json")
    return float(json.loads(kept.read_text())["full_at"])

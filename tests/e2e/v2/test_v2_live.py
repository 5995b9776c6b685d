"""``detect`` on an OpenCode 2.1.2 database, against the real servers (plain and the service).

OpenCode 2 knows which turns run only in the memory of the process running them
(``GET /api/session/active``); the claim in ``session_v2`` outlives a crash. So ocinspect must
find the servers on the database, ask each one, and call a session live only when one lists
it: never from the claim, never from a server on another database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.core.opencode.live import detect
from inspector.core.opencode.v2_live import interrupt
from inspector.core.opencode.v2_servers import find_v2_servers

from .. import harness as h
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def no_password_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """ocinspect's own environment holds no password: each one must come from the server's side."""
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    monkeypatch.delenv("OPENCODE_SERVER_USERNAME", raising=False)


@pytest.fixture
def other_sandbox(tmp_path: Path, fake_model: h.FakeModel, opencode_v2: Path) -> Iterator[v2.V2Sandbox]:
    """A second home: its own database, its own servers."""
    with v2.sandboxed(tmp_path / "other", fake_model, opencode_v2) as box:
        yield box


def test_a_plain_server_mid_tool_is_live_for_its_session_only_and_stale_once_killed(
    sandbox: v2.V2Sandbox, other_sandbox: v2.V2Sandbox
) -> None:
    db, project = sandbox.db_path, str(sandbox.project)
    server = sandbox.start_plain()
    working = server.open_session(sandbox.project)
    idle = server.open_session(sandbox.project)
    v2.finish_turn(sandbox, server, idle)
    server.prompt(working, v2.LONG_SHELL)
    v2.wait_tool(db, working)
    elsewhere = other_sandbox.start_plain()  # a server on another database, busy too
    theirs = elsewhere.open_session(other_sandbox.project)
    elsewhere.prompt(theirs, v2.LONG_SHELL)
    v2.wait_tool(other_sandbox.db_path, theirs)

    (found,) = find_v2_servers(db).servers
    assert (found.pid, found.kind, found.ports, found.password_from) == (
        server.pid,
        "plain",
        (server.port,),
        "its environment",
    )
    live = detect(db, [project], schema="v2")
    assert live.running is True, live.detail
    assert live.busy == {working}
    assert live.verdict(working, project)[0] == "live"
    assert live.verdict(idle, project) == ("stale", "OpenCode is running but does not list this session as busy")
    assert live.port_of(working) == server.port
    assert [p.pid for p in live.processes] == [server.pid]
    assert theirs not in live.busy
    assert detect(other_sandbox.db_path, [str(other_sandbox.project)], schema="v2").busy == {theirs}

    server.kill()  # kill -9: the claim stays in the database, the turn is gone
    assert v2.session_row(db, working)["time_suspended"] is not None
    after = detect(db, [project], schema="v2")
    assert after.running is False, after.detail
    assert after.verdict(working, project)[0] == "stale"


def test_the_service_booted_on_a_crash_is_found_through_its_service_json(sandbox: v2.V2Sandbox) -> None:
    db, project = sandbox.db_path, str(sandbox.project)
    crash = v2.crash_plain_mid_tool(sandbox)
    assert detect(db, [project], schema="v2").running is False
    service = v2.boot_service_until_resumed(sandbox, crash.session_id, v2.model_calls(sandbox.model))
    info = json.loads(sandbox.service_json.read_text())

    servers = find_v2_servers(db).servers  # our own service.json is not the sandbox's: found by its process
    assert len(servers) == 1, v2.describe_processes(s.pid for s in servers)
    (found,) = servers
    assert (found.pid, found.kind, found.password_from, found.version) == (
        service.pid,
        "service",
        "service.json",
        "2.1.2",
    )
    assert found.credentials is not None and found.credentials.password == info["password"]
    assert found.ports == (int(info["url"].rsplit(":", 1)[1]),)
    live = detect(db, [project], schema="v2")
    assert live.running is True, live.detail
    assert live.verdict(crash.session_id, project)[0] == "live"  # it re-runs the crashed turn
    assert live.versions == ((found.ports[0], "2.1.2"),)

    # the same file rewritten to send us elsewhere, read from our own state dir: ignored, said why
    ours = sandbox.root / "ours" / "state"
    (ours / "opencode").mkdir(parents=True)
    (ours / "opencode" / "service.json").write_text(json.dumps({**info, "url": "http://198.51.100.7:80"}))
    seen = find_v2_servers(db, {"XDG_STATE_HOME": str(ours)})
    assert [s.pid for s in seen.servers] == [service.pid]
    assert seen.ignored == (
        f"{ours / 'opencode' / 'service.json'} ignored: 'url' is not on a loopback host "
        "(127.0.0.1, ::1, localhost): not followed",
    )


class PrintedPassword(v2.V2Server):
    """A plain server started without ``OPENCODE_SERVER_PASSWORD``: it makes one up and prints it,
    so nothing ocinspect may read holds it (it is up once it refuses us)."""

    def wait_ready(self) -> None:
        h.wait_until(
            lambda: h.http_json("GET", self.url + self.ready_path, timeout=1.0)[0] == 401,
            timeout=self.boot_timeout,
            interval=0.25,
            what="the server to refuse an unauthenticated request",
            on_timeout=self.log,
        )


def test_a_server_that_cannot_be_asked_makes_every_session_it_may_run_unknown(sandbox: v2.V2Sandbox) -> None:
    db, project = sandbox.db_path, str(sandbox.project)
    server = PrintedPassword(sandbox.binary, sandbox, password=None)
    sandbox.servers.append(server)
    server.start()
    live = detect(db, [project], schema="v2")
    assert live.running is None, live.detail
    assert live.verdict("ses_any", project)[0] == "unknown"
    assert "needs its password" in live.unknown_reason


def test_a_session_behind_a_permission_prompt_is_waiting_not_live(sandbox: v2.V2Sandbox) -> None:
    db, project = sandbox.db_path, str(sandbox.project)
    sandbox.write_config(shell="ask")
    server = sandbox.start_plain()
    sid = server.open_session(sandbox.project)
    server.prompt(sid, v2.LONG_SHELL)
    (asked,) = v2.wait_permission(server, sid)
    started = time.monotonic()
    live = detect(db, [project], schema="v2")
    took = time.monotonic() - started
    assert live.verdict(sid, project)[0] == "waiting", live.detail
    (request,) = live.requests_of(sid)
    assert (request.id, request.permission, request.patterns, request.port) == (
        asked["id"],
        "shell",
        ("sleep 600",),
        server.port,
    )
    print(f"detect on one v2 server: {took * 1000:.0f} ms")

    (found,) = find_v2_servers(db).servers
    assert interrupt(found, server.port, sid, timeout=15) is True
    v2.wait_db(db, lambda: v2.session_row(db, sid)["time_suspended"] is None, what="the interrupt to release the claim")
    assert detect(db, [project], schema="v2").verdict(sid, project)[0] == "stale"
    assert interrupt(found, server.port, sid, timeout=15) is False  # nothing runs it any more

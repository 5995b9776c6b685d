"""Issue 13.2 end to end: recovering while OpenCode runs goes through OpenCode's own API.

A real OpenCode 1.18.33 serves a stale session (crashed, restarted); a client listens on
``GET /event`` as the web UI and TUI do. ``ocinspect recover --all --yes`` must repair through
that server (``PATCH`` the parts, ``/sync/replay`` the turns): the client receives
``message.part.updated`` for every repaired part, the API shows every turn completed, the event
log invariant holds, and a new prompt completes. ``--direct`` still writes the file itself.

The crash is made once per module (one boot and a subagent chain: the costly part) and each test
starts from a copy of that crashed file in the same sandbox, with no ocinspect state kept.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inspector.core.opencode.client import ServerClient, ServerError
from tests.support.databases import log_problems

from . import harness as h
from .test_e2e import assert_healthy, assert_new_prompt_completes, explain, run_cli

pytestmark = pytest.mark.e2e


class Listener:
    """A ``GET /event`` client in a thread, as an open OpenCode UI is."""

    def __init__(self, server: h.OpenCode) -> None:
        self.events: list[dict[str, Any]] = []
        self._stream = ServerClient(server.port).events(
            "/event", directory=str(server.sandbox.project), read_timeout=120
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        h.wait_until(
            lambda: any(e.get("type") == "server.connected" for e in self.events),
            timeout=15,
            what="the event stream to connect",
        )

    def _run(self) -> None:
        try:
            for item in self._stream:
                if isinstance(item.data, dict):
                    self.events.append(item.data)
        except (ServerError, ValueError):
            pass

    def part_updates(self) -> dict[str, str]:
        return {
            e["properties"]["part"]["id"]: e["properties"]["part"]["state"]["status"]
            for e in self.events
            if e.get("type") == "message.part.updated"
            and (e.get("properties") or {}).get("part", {}).get("type") == "tool"
        }


def crash_chain(sb: h.Sandbox, binary: Path) -> tuple[str, str, list[dict[str, Any]]]:
    oc = sb.start_opencode(binary)
    parent = oc.create_session()
    oc.prompt_async(parent, "SUBAGENT please check")
    task = h.wait_for_tool_part(sb.db_path, session_id=parent, tool="task", timeout=60, server=oc)[0]
    child = task["state"]["metadata"]["sessionId"]
    bash = h.wait_for_tool_part(sb.db_path, session_id=child, tool="bash", timeout=60, server=oc)[0]
    oc.kill()
    return parent, child, [task, bash]


@dataclass
class Chain:
    """The crashed subagent chain: the sandbox it was made in, its file as the crash left it."""

    sandbox: h.Sandbox
    template: Path
    parent: str
    child: str
    parts: list[dict[str, Any]]

    def restore(self) -> None:
        """The sandbox's database becomes the crashed file again; ocinspect's state is forgotten."""
        h.copy_database(self.template, self.sandbox.db_path)
        shutil.rmtree(self.sandbox.ocinspect_state / "ocinspect", ignore_errors=True)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, fake_model: h.FakeModel, opencode_bin: Path) -> Iterator[Chain]:
    box = h.Sandbox(tmp_path_factory.mktemp("via-opencode") / "oc", fake_model)
    try:
        parent, child, parts = crash_chain(box, opencode_bin)
        template = box.root / "crashed.db"
        h.copy_database(box.db_path, template)
        yield Chain(box, template, parent, child, parts)
    finally:
        box.kill_all()


@pytest.fixture
def sandbox(chain: Chain) -> Iterator[h.Sandbox]:
    """The chain's sandbox on a fresh copy of the crashed file (named ``sandbox``: a failed
    test's server logs are attached from it); every server a test started is killed after it."""
    chain.restore()
    chain.sandbox.servers.clear()
    try:
        yield chain.sandbox
    finally:
        chain.sandbox.kill_all()


def test_recover_goes_through_the_running_opencode(sandbox: h.Sandbox, chain: Chain, opencode_bin: Path) -> None:
    parent, child, parts = chain.parent, chain.child, chain.parts
    server = sandbox.start_opencode(opencode_bin)  # restarted: idle, the chain stale in it
    listener = Listener(server)

    rc, plan, proc = run_cli(sandbox, "recover", "--all", "--dry-run", "--json")
    assert rc == 0 and plan["via"] == {parent: "opencode", child: "opencode"}, explain(proc)

    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--json")
    assert rc == 0, explain(proc)
    assert data["via"] == {parent: "opencode", child: "opencode"}, explain(proc)
    assert (data["parts_repaired"], data["messages_completed"], data["skipped"]) == (2, 2, []), explain(proc)
    assert data["events_appended"] == 4, explain(proc)  # written by OpenCode itself

    h.wait_until(
        lambda: listener.part_updates() == {p["id"]: "error" for p in parts},
        timeout=10,
        what="message.part.updated for every repaired part",
        on_timeout=lambda: str(listener.events),
    )
    assert log_problems(sandbox.db_path) == []
    assert_healthy(server, parent, {parts[0]["id"]})
    assert_healthy(server, child, {parts[1]["id"]})
    assert_new_prompt_completes(server, parent)

    rc, data, proc = run_cli(sandbox, "scan", "--json")
    assert rc == 0 and data["sessions"] == [], explain(proc)

    # undo while that OpenCode runs is refused; once it is stopped, the parent has moved on (the
    # new prompt above): refused again, naming it; --force restores exactly what the run wrote
    rc, _, proc = run_cli(sandbox, "undo", "--json")
    assert rc == 3, explain(proc)
    server.kill()
    rc, _, proc = run_cli(sandbox, "undo", "--json")
    assert rc == 3 and f"session {parent} moved on after run" in proc.stderr, explain(proc)
    rc, data, proc = run_cli(sandbox, "undo", "--force", "--json")
    assert rc == 0 and data["restored"] == 4 and data["skipped"] == [], explain(proc)
    assert log_problems(sandbox.db_path) == []
    assert {
        p["id"]: p["state"]["status"]
        for p in h.db_tool_parts(sandbox.db_path)
        if p["id"] in {parts[0]["id"], parts[1]["id"]}
    } == {parts[0]["id"]: "running", parts[1]["id"]: "running"}


def test_direct_writes_the_file_even_while_opencode_runs(sandbox: h.Sandbox, chain: Chain, opencode_bin: Path) -> None:
    parent, child, parts = chain.parent, chain.child, chain.parts
    server = sandbox.start_opencode(opencode_bin)
    listener = Listener(server)
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--direct", "--json")
    assert rc == 0 and data["via"] == {parent: "direct", child: "direct"}, explain(proc)
    assert log_problems(sandbox.db_path) == []
    assert listener.part_updates() == {}  # behind the server's back: its clients heard nothing
    assert_healthy(server, parent, {parts[0]["id"]})
    server.kill()


def test_a_password_protected_opencode_is_asked_with_its_password(
    sandbox: h.Sandbox, chain: Chain, opencode_bin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without OPENCODE_SERVER_PASSWORD the verdict is unknown and nothing is written; with it
    the repair goes through that server."""
    parent, child, parts = chain.parent, chain.child, chain.parts
    server = sandbox.start_opencode(opencode_bin, password="s3cret-e2e")
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--json")
    assert rc == 3 and data["sessions"] == [], explain(proc)
    assert all("needs its password" in s["reason"] for s in data["skipped"]), explain(proc)
    assert {
        p["id"]: p["state"]["status"]
        for p in h.db_tool_parts(sandbox.db_path)
        if p["id"] in {parts[0]["id"], parts[1]["id"]}
    } == {parts[0]["id"]: "running", parts[1]["id"]: "running"}

    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "s3cret-e2e")
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--json")
    assert rc == 0 and data["via"] == {parent: "opencode", child: "opencode"}, explain(proc)
    assert log_problems(sandbox.db_path) == []
    server.kill()

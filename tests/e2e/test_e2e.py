"""Issue 5: prove every repair against the real OpenCode binary, end to end.

Each test crashes a real ``opencode serve`` (npm opencode-ai 1.18.33) with ``kill -9`` in the
middle of a scripted tool call, checks what ``ocinspect`` reports, repairs it with ``ocinspect``
(run as a subprocess), restarts OpenCode on the repaired database and checks through OpenCode's
own HTTP API that the session is healthy and takes a new prompt.  ``test_without_ocinspect_*``
proves the premise: OpenCode alone does not recover such a session.

Run alone with ``python3 -m pytest -m e2e`` (see tests/e2e/README.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import harness as h

pytestmark = pytest.mark.e2e

ACTIVE = ("pending", "running")
NEW_PROMPT = "TEXT thanks, now just say hi"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def crash_mid_tool(sb: h.Sandbox, binary: Path, prompt: str, *, tool: str = "bash",
                   statuses: tuple[str, ...] = ("running",)) -> tuple[str, dict[str, Any]]:
    """Start OpenCode, prompt a new session, wait for its tool part, then ``kill -9``."""
    oc = sb.start_opencode(binary)
    sid = oc.create_session()
    oc.prompt_async(sid, prompt)
    parts = h.wait_for_tool_part(sb.db_path, session_id=sid, tool=tool, statuses=statuses,
                                 timeout=60, server=oc)
    oc.kill()
    return sid, parts[0]


def run_cli(sb: h.Sandbox, *args: str) -> tuple[int, Any, subprocess.CompletedProcess[str]]:
    proc = sb.ocinspect(*args)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return (f"`{' '.join(proc.args)}` exited {proc.returncode}\n--- stdout ---\n"
            f"{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")


def scan(sb: h.Sandbox, *extra: str) -> tuple[int, dict[str, Any], subprocess.CompletedProcess[str]]:
    rc, data, proc = run_cli(sb, "scan", "--json", *extra)
    assert rc in (0, 1) and isinstance(data, dict), explain(proc)
    assert data["schema"] == "v1", explain(proc)
    return rc, data, proc


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in data["sessions"]}


def assert_stale_scan(sb: h.Sandbox, expected: dict[str, tuple[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """``scan --json`` lists exactly ``expected`` ({session: (pattern, stuck parts)}) as stale."""
    rc, data, proc = scan(sb)
    assert rc == 1, explain(proc)
    assert data["opencode_live"] is False, explain(proc)
    sessions = by_id(data)
    assert set(sessions) == set(expected), explain(proc)
    for sid, (pattern, parts) in expected.items():
        s = sessions[sid]
        assert s["verdict"] == "stale", explain(proc)
        assert pattern in s["patterns"], explain(proc)
        assert s["directory"] == str(sb.project), explain(proc)
        got = {p["id"]: p for p in s["stuck_parts"]}
        assert set(got) == {p["id"] for p in parts}, explain(proc)
        for p in parts:
            g = got[p["id"]]
            assert (g["message_id"], g["tool"], g["status"]) == (
                p["message_id"], p["tool"], p["state"]["status"]), explain(proc)
            assert g["message_id"] in s["unfinished_messages"], explain(proc)
    return data


def recover_all(sb: h.Sandbox, *, parts: int, messages: int, sessions: set[str]) -> dict[str, Any]:
    rc, data, proc = run_cli(sb, "recover", "--all", "--yes", "--json")
    assert rc == 0 and isinstance(data, dict), explain(proc)
    assert data["dry_run"] is False, explain(proc)
    assert set(data["sessions"]) == sessions, explain(proc)
    assert data["parts_repaired"] == parts, explain(proc)
    assert data["messages_completed"] == messages, explain(proc)
    assert data["skipped"] == [], explain(proc)
    rc, after, proc = scan(sb)
    assert rc == 0 and after["sessions"] == [], explain(proc)
    return data


def tool_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for m in messages for p in m["parts"] if p.get("type") == "tool"]


def assert_healthy(oc: h.OpenCode, sid: str, repaired: set[str]) -> list[dict[str, Any]]:
    """Through OpenCode's API: every turn completed, nothing active, repaired parts interrupted."""
    assert not oc.is_busy(sid), oc.describe(sid)
    msgs = oc.messages(sid)
    for m in msgs:
        if m["info"]["role"] == "assistant":
            assert m["info"].get("time", {}).get("completed"), (
                f"assistant {m['info']['id']} still unfinished\n{oc.describe(sid)}")
    parts = {p["id"]: p for p in tool_parts(msgs)}
    active = [pid for pid, p in parts.items() if p["state"]["status"] in ACTIVE]
    assert not active, f"tool parts still active: {active}\n{oc.describe(sid)}"
    for pid in repaired:
        assert pid in parts, f"repaired part {pid} missing\n{oc.describe(sid)}"
        state = parts[pid]["state"]
        assert state["status"] == "error", oc.describe(sid)
        assert (state.get("metadata") or {}).get("interrupted") is True, oc.describe(sid)
    return msgs


def assert_new_prompt_completes(oc: h.OpenCode, sid: str) -> None:
    before = sum(1 for m in oc.messages(sid) if m["info"]["role"] == "assistant")
    oc.prompt_async(sid, NEW_PROMPT)
    msgs = oc.wait_turn_complete(sid, timeout=60, min_assistant=before + 1)
    last_user = [m for m in msgs if m["info"]["role"] == "user"][-1]
    assert any(p.get("type") == "text" and p.get("text") == NEW_PROMPT
               for p in last_user["parts"]), oc.describe(sid)
    last = [m for m in msgs if m["info"]["role"] == "assistant"][-1]
    assert last["info"].get("parentID") == last_user["info"]["id"], oc.describe(sid)
    assert last["info"].get("finish") == "stop", oc.describe(sid)
    assert any(p.get("type") == "text" and p.get("text") == "done." for p in last["parts"]), (
        oc.describe(sid))
    assert_healthy(oc, sid, set())


# --------------------------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------------------------


def test_bash_crash_orphan_is_repaired(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, part = crash_mid_tool(sandbox, opencode_bin, "run the long tests")
    assert part["state"]["input"]["command"] == "sleep 600"

    data = assert_stale_scan(sandbox, {sid: ("crash-orphan", [part])})
    stuck = by_id(data)[sid]["stuck_parts"][0]
    assert "sleep 600" in stuck["input_summary"]
    assert stuck["started"] == part["state"]["time"]["start"]

    recover_all(sandbox, parts=1, messages=1, sessions={sid})

    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, sid, {part["id"]})
    assert_new_prompt_completes(oc, sid)
    oc.kill()


def test_pending_placeholder_is_repaired(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, part = crash_mid_tool(sandbox, opencode_bin, "PENDING edit", statuses=("pending",))
    assert part["state"] == {"status": "pending", "input": {}, "raw": ""}

    assert_stale_scan(sandbox, {sid: ("pending-placeholder", [part])})
    recover_all(sandbox, parts=1, messages=1, sessions={sid})

    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, sid, {part["id"]})
    assert_new_prompt_completes(oc, sid)
    oc.kill()


def test_subagent_chain_is_repaired(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    oc = sandbox.start_opencode(opencode_bin)
    parent = oc.create_session()
    oc.prompt_async(parent, "SUBAGENT please check")
    task = h.wait_for_tool_part(sandbox.db_path, session_id=parent, tool="task", timeout=60,
                                server=oc)[0]
    child = task["state"]["metadata"]["sessionId"]
    bash = h.wait_for_tool_part(sandbox.db_path, session_id=child, tool="bash", timeout=60,
                                server=oc)[0]
    oc.kill()
    assert {s["id"]: s["parent_id"] for s in h.db_sessions(sandbox.db_path)} == {
        parent: None, child: parent}

    data = assert_stale_scan(sandbox, {parent: ("subagent-chain", [task]),
                                       child: ("crash-orphan", [bash])})
    sessions = by_id(data)
    assert sessions[child]["parent_id"] == parent
    assert child in sessions[parent]["children"]

    recover_all(sandbox, parts=2, messages=2, sessions={parent, child})

    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, parent, {task["id"]})
    assert_healthy(oc, child, {bash["id"]})
    assert_new_prompt_completes(oc, parent)
    assert_new_prompt_completes(oc, child)
    oc.kill()


def test_live_session_is_refused_then_repaired(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, first = crash_mid_tool(sandbox, opencode_bin, "run the long tests")
    assert_stale_scan(sandbox, {sid: ("crash-orphan", [first])})

    # A fresh, idle OpenCode on the same database: it does not know the old turn, so the
    # session is still stale although OpenCode is live on the database.
    oc = sandbox.start_opencode(opencode_bin)
    rc, data, proc = scan(sandbox)
    assert rc == 1 and data["opencode_live"] is True, explain(proc)
    assert by_id(data)[sid]["verdict"] == "stale", explain(proc)

    # Now make OpenCode really busy on that session: a second sleeping bash call.
    oc.prompt_async(sid, "run the long tests again")
    running = h.wait_for_tool_part(sandbox.db_path, session_id=sid, tool="bash", count=2,
                                   timeout=60, server=oc)
    second = next(p for p in running if p["id"] != first["id"])
    h.wait_until(lambda: oc.is_busy(sid), timeout=30, what=f"{sid} busy in /session/status",
                 on_timeout=lambda: oc.describe(sid))

    rc, data, proc = scan(sandbox)
    assert data["opencode_live"] is True, explain(proc)
    assert by_id(data)[sid]["verdict"] == "live", explain(proc)

    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--json")
    assert rc == 3, explain(proc)
    still = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert still == {first["id"]: "running", second["id"]: "running"}, explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)
    assert isinstance(data, dict), explain(proc)
    assert [(s["id"], "live" in s["reason"].lower()) for s in data["skipped"]] == [(sid, True)], (
        explain(proc))
    assert data["parts_repaired"] == 0 and data["messages_completed"] == 0, explain(proc)
    assert data["dry_run"] is False and data["run_id"] is None, explain(proc)  # refused, not a dry run

    # `recover --all` must not touch it either (whatever it then exits with).
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--json")
    assert rc in (0, 3), explain(proc)
    still = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert still == {first["id"]: "running", second["id"]: "running"}, explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)

    # Stop OpenCode (the crash again): now both turns are stale and the repair goes through.
    oc.kill()
    assert_stale_scan(sandbox, {sid: ("crash-orphan", [first, second])})
    recover_all(sandbox, parts=2, messages=2, sessions={sid})

    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, sid, {first["id"], second["id"]})
    assert_new_prompt_completes(oc, sid)
    oc.kill()


def test_without_ocinspect_opencode_leaves_session_stuck(sandbox: h.Sandbox,
                                                         opencode_bin: Path) -> None:
    """The premise: restarting OpenCode does not repair the turn (if this ever fails, OpenCode
    changed and ocinspect's reason to exist must be re-checked)."""
    sid, part = crash_mid_tool(sandbox, opencode_bin, "run the long tests")

    oc = sandbox.start_opencode(opencode_bin)
    assert sid not in oc.status(), oc.describe(sid)  # OpenCode thinks it is idle...

    def stuck_turn(msgs: list[dict[str, Any]]) -> dict[str, Any]:
        turn = next(m for m in msgs if m["info"]["id"] == part["message_id"])
        assert not turn["info"].get("time", {}).get("completed"), oc.describe(sid)
        p = next(p for p in turn["parts"] if p["id"] == part["id"])
        assert p["state"]["status"] == "running", oc.describe(sid)
        return turn

    stuck_turn(oc.messages(sid))  # ...yet the turn is unfinished and the tool still running
    assert oc.request("POST", f"/session/{sid}/abort") is True
    stuck_turn(oc.messages(sid))  # abort changes nothing

    # A new prompt does run, but the old turn stays broken afterwards.
    before = sum(1 for m in oc.messages(sid) if m["info"]["role"] == "assistant")
    oc.prompt_async(sid, NEW_PROMPT)
    msgs = oc.wait_turn_complete(sid, timeout=60, min_assistant=before + 1)
    stuck_turn(msgs)
    oc.kill()

    # And on the next restart it is still there.
    oc = sandbox.start_opencode(opencode_bin)
    stuck_turn(oc.messages(sid))
    oc.kill()


def test_capture_regenerates_fixture(tmp_path: Path, fake_model: h.FakeModel,
                                     opencode_bin: Path) -> None:
    """capture.py still reproduces the shipped fixture (schema, rows, diagnosis) with today's
    binary, so ``tests/fixtures`` can be refreshed when OpenCode changes."""
    from . import capture

    out = tmp_path / "out"
    out.mkdir()
    result = capture.capture("stuck-task", opencode_bin, fake_model, tmp_path / "work", out,
                             capture.DEFAULT_PROJECT_DIR)
    new = Path(result["file"])
    shipped = h.REPO_ROOT / "tests" / "fixtures" / f"opencode-{h.OPENCODE_VERSION}-stuck-task.db"
    assert (result["journal_mode"], result["integrity"], result["freelist"]) == ("delete", "ok", 0)
    assert not Path(f"{new}-wal").exists()

    def shape(db: Path) -> dict[str, Any]:
        with h.ro_connect(db) as conn:
            schema = sorted(r[0] for r in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
            counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                      for t in ("project", "session", "message", "part", "migration")}
            dirs = {r[0] for r in conn.execute("SELECT directory FROM session")}
        return {"schema": schema, "counts": counts, "dirs": dirs}

    assert shape(new) == shape(shipped)
    assert [(p["tool"], p["status"]) for p in result["tool_parts"]] == [
        ("task", "running"), ("bash", "running")]

    def diagnosis(db: Path) -> list[tuple[Any, ...]]:
        env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
        proc = subprocess.run([sys.executable, "-m", "inspector", "--db", str(db), "scan", "--json"],
                              cwd=h.REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, explain(proc)
        data = json.loads(proc.stdout)
        return sorted((s["parent_id"] is None, s["verdict"], tuple(s["patterns"]),
                       tuple((p["tool"], p["status"]) for p in s["stuck_parts"]), len(s["children"]))
                      for s in data["sessions"])

    assert diagnosis(new) == diagnosis(shipped)

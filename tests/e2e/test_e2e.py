"""Issues 5 and 11: prove every repair against the real OpenCode binary, end to end, on every
release users run.

Each test crashes a real ``opencode serve`` with ``kill -9`` in the middle of a scripted tool
call, checks what ``ocinspect`` reports, repairs it with ``ocinspect`` (run as a subprocess),
restarts the *same* OpenCode release on the repaired database and checks through OpenCode's own
HTTP API that the session is healthy and takes a new prompt. The bash, task and pending shapes
run on every release of ``tests/support/releases.py`` ``E2E_RELEASES`` (npm
``opencode-ai@<release>``), side by side in one crashed database per release; the rest on the
newest. The premise is proven too: OpenCode alone does not recover such a session.

Cost: OpenCode's boots (each ~3 CPU-s, and ~5 more for a server's first prompt), so a boot is
shared wherever the proofs allow: one crash and one re-boot per release for all three shapes,
one crash for the premise and the live-session refusal.

Run alone with ``python3 -m pytest -m e2e`` (see tests/e2e/README.md)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.releases import E2E_RELEASES, RELEASES

from . import harness as h

pytestmark = pytest.mark.e2e

MATRIX = [pytest.param(v, id=f"opencode-{v}") for v in E2E_RELEASES]

ACTIVE = ("pending", "running")
NEW_PROMPT = "TEXT thanks, now just say hi"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def crash_mid_tool(
    sb: h.Sandbox, binary: Path, prompt: str, *, tool: str = "bash", statuses: tuple[str, ...] = ("running",)
) -> tuple[str, dict[str, Any]]:
    """Start OpenCode, prompt a new session, wait for its tool part, then ``kill -9``."""
    oc = sb.start_opencode(binary)
    sid = oc.create_session()
    oc.prompt_async(sid, prompt)
    parts = h.wait_for_tool_part(sb.db_path, session_id=sid, tool=tool, statuses=statuses, timeout=60, server=oc)
    oc.kill()
    return sid, parts[0]


def measure(sb: h.Sandbox, release: str, facts: dict[str, Any]) -> None:
    """What this release wrote: its schema is the DDL the unit tests use; does it log events?"""
    with h.ro_connect(sb.db_path) as conn:
        schema = {r[0].strip() for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        versions = {r[0] for r in conn.execute("SELECT version FROM session")}
        events = conn.execute("SELECT count(*) FROM event").fetchone()[0] if "event" in tables else None
    ddl = RELEASES[release].schema.read_text()
    statements = {
        x.strip().rstrip(";").replace("CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ", 1)
        for x in ddl.split(";\n")
        if x.strip()
    }
    assert schema == statements, f"OpenCode {release} wrote another schema than {RELEASES[release].schema}"
    assert versions == {release}
    facts["tables"] = len(tables - {"sqlite_sequence"})
    facts["event_log"] = "absent" if events is None else ("written" if events else "empty")
    assert (facts["event_log"] == "written") == RELEASES[release].writes_event_log


def run_cli(sb: h.Sandbox, *args: str) -> tuple[int, Any, subprocess.CompletedProcess[str]]:
    proc = sb.ocinspect(*args)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc


def explain(proc: subprocess.CompletedProcess[str]) -> str:
    return (
        f"`{' '.join(proc.args)}` exited {proc.returncode}\n--- stdout ---\n"
        f"{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    )


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
        assert_stale_session(sb, sessions, sid, pattern, parts, proc)
    return data


def assert_stale_session(
    sb: h.Sandbox,
    sessions: dict[str, dict[str, Any]],
    sid: str,
    pattern: str,
    parts: list[dict[str, Any]],
    proc: subprocess.CompletedProcess[str],
) -> None:
    """Scan's ``sessions`` (by id) name ``sid`` stale with ``pattern`` and exactly these stuck parts."""
    assert sid in sessions, explain(proc)
    s = sessions[sid]
    assert s["verdict"] == "stale", explain(proc)
    assert pattern in s["patterns"], explain(proc)
    assert s["warnings"] == [], explain(proc)  # ids minted now: no id-wrap risk
    assert s["directory"] == str(sb.project), explain(proc)
    got = {p["id"]: p for p in s["stuck_parts"]}
    assert set(got) == {p["id"] for p in parts}, explain(proc)
    for p in parts:
        g = got[p["id"]]
        assert (g["message_id"], g["tool"], g["status"]) == (p["message_id"], p["tool"], p["state"]["status"]), explain(
            proc
        )
        assert g["message_id"] in s["unfinished_messages"], explain(proc)


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
    oc.wait_closed(sid)
    assert not oc.is_busy(sid), oc.describe(sid)
    msgs = oc.messages(sid)
    for m in msgs:
        if m["info"]["role"] == "assistant":
            assert m["info"].get("time", {}).get("completed"), (
                f"assistant {m['info']['id']} still unfinished\n{oc.describe(sid)}"
            )
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
    assert any(p.get("type") == "text" and p.get("text") == NEW_PROMPT for p in last_user["parts"]), oc.describe(sid)
    last = [m for m in msgs if m["info"]["role"] == "assistant"][-1]
    assert last["info"].get("parentID") == last_user["info"]["id"], oc.describe(sid)
    assert last["info"].get("finish") == "stop", oc.describe(sid)
    assert any(p.get("type") == "text" and p.get("text") == "done." for p in last["parts"]), oc.describe(sid)
    assert_healthy(oc, sid, set())


# --------------------------------------------------------------------------------------------
# the release matrix: one crashed database per release holds every shape
# --------------------------------------------------------------------------------------------


class Shape:
    """One cell of the matrix: a session of the shared server prompted into a stuck shape, and
    what ocinspect must find (``stuck``: session -> (pattern, stuck parts)) and repair there."""

    name = ""
    prompt = ""
    pattern = ""
    statuses: tuple[str, ...] = ("running",)

    def __init__(self) -> None:
        self.sid = ""
        self.stuck: dict[str, tuple[str, list[dict[str, Any]]]] = {}

    def start(self, oc: h.OpenCode) -> None:
        self.sid = oc.create_session()
        oc.prompt_async(self.sid, self.prompt)

    def wait(self, sb: h.Sandbox, oc: h.OpenCode) -> None:
        """Until the crash may come: the tool part is in its stuck state."""
        parts = h.wait_for_tool_part(
            sb.db_path, session_id=self.sid, tool="bash", statuses=self.statuses, timeout=60, server=oc
        )
        self.stuck = {self.sid: (self.pattern, [parts[0]])}

    def reread(self, db: Path) -> None:
        """The stuck parts as the crash left them in the file."""
        now = {p["id"]: p for p in h.db_tool_parts(db)}
        self.stuck = {sid: (pattern, [now[p["id"]] for p in parts]) for sid, (pattern, parts) in self.stuck.items()}

    def check_rows(self, sb: h.Sandbox, release: str, facts: dict[str, Any]) -> None:
        """What the release wrote for this shape."""

    def check_scan(self, sessions: dict[str, dict[str, Any]], proc: subprocess.CompletedProcess[str]) -> None:
        """What scan says of this shape beyond its patterns and stuck parts."""


class Bash(Shape):
    """``bash sleep 600`` killed with the server."""

    name = "bash"
    prompt = "run the long tests"
    pattern = "crash-orphan"

    def check_rows(self, sb: h.Sandbox, release: str, facts: dict[str, Any]) -> None:
        (part,) = self.stuck[self.sid][1]
        assert part["state"]["input"]["command"] == "sleep 600"

    def check_scan(self, sessions: dict[str, dict[str, Any]], proc: subprocess.CompletedProcess[str]) -> None:
        (part,) = self.stuck[self.sid][1]
        (stuck,) = sessions[self.sid]["stuck_parts"]
        assert "sleep 600" in stuck["input_summary"], explain(proc)
        assert stuck["started"] == part["state"]["time"]["start"], explain(proc)


class Pending(Shape):
    """Tool arguments still streaming at the crash."""

    name = "pending"
    prompt = "PENDING edit"
    pattern = "pending-placeholder"
    statuses = ("pending",)

    def check_rows(self, sb: h.Sandbox, release: str, facts: dict[str, Any]) -> None:
        (part,) = self.stuck[self.sid][1]
        assert part["state"] == {"status": "pending", "input": {}, "raw": ""}


class Task(Shape):
    """A ``task`` whose child session runs ``bash``: parent and child are one tree."""

    name = "task"
    prompt = "SUBAGENT please check"
    pattern = "subagent-chain"

    def __init__(self) -> None:
        super().__init__()
        self.child = ""

    def wait(self, sb: h.Sandbox, oc: h.OpenCode) -> None:
        db = sb.db_path
        (task, *_) = h.wait_for_tool_part(db, session_id=self.sid, tool="task", timeout=60, server=oc)
        self.child = h.wait_for_child_session(db, self.sid, timeout=60, server=oc)
        bash = h.wait_for_tool_part(db, session_id=self.child, tool="bash", timeout=60, server=oc)[0]
        self.stuck = {self.sid: (self.pattern, [task]), self.child: ("crash-orphan", [bash])}

    def check_rows(self, sb: h.Sandbox, release: str, facts: dict[str, Any]) -> None:
        (task,) = [p for p in h.db_tool_parts(sb.db_path, self.sid) if p["tool"] == "task"]
        assert self.stuck[self.sid][1] == [task]
        named = (task["state"].get("metadata") or {}).get("sessionId")
        assert named in (self.child, None)
        facts["task_names_child"] = named == self.child
        assert facts["task_names_child"] == RELEASES[release].task_names_child

    def check_scan(self, sessions: dict[str, dict[str, Any]], proc: subprocess.CompletedProcess[str]) -> None:
        parent, child = self.sid, self.child
        assert sessions[child]["parent_id"] == parent, explain(proc)
        assert child in sessions[parent]["children"], explain(proc)
        (link,) = sessions[parent]["stuck_parts"]
        assert link["child_session_id"] == child, explain(proc)  # named by OpenCode, or inferred by ocinspect
        named = (self.stuck[parent][1][0]["state"].get("metadata") or {}).get("sessionId")
        assert link["child_session_inferred"] is (named is None), explain(proc)


class Cells:
    """The matrix cells one test checks on one shared database.

    Each shape's own checks run in ``check(shape)``: a failure there is its cell's, is kept, and
    skips that shape's later checks while the others go on. ``finish`` writes every cell's
    outcome into ``matrix_facts`` (tests/e2e/conftest.py reads it) and fails the test if a shape
    failed. A shared step that fails (the crash, the schema, scan's and recover's totals, the
    re-boot) fails the test before ``finish``: then every cell is failed.
    """

    def __init__(self, facts: dict[str, Any], shapes: list[Shape]) -> None:
        self.facts = facts
        self.shapes = shapes
        self.failed: dict[str, str] = {}
        for shape in shapes:
            facts[shape.name] = {}

    def alive(self) -> list[Shape]:
        return [shape for shape in self.shapes if shape.name not in self.failed]

    @contextlib.contextmanager
    def check(self, shape: Shape) -> Iterator[None]:
        try:
            yield
        except Exception:  # noqa: BLE001 (this cell's failure: finish() reports it)
            self.failed[shape.name] = traceback.format_exc()

    def finish(self) -> None:
        for shape in self.shapes:
            self.facts[shape.name]["outcome"] = "failed" if shape.name in self.failed else "passed"
        if self.failed:
            pytest.fail("\n".join(f"--- {name} ---\n{tb}" for name, tb in self.failed.items()), pytrace=False)


@pytest.mark.matrix("bash", "pending", "task")
@pytest.mark.parametrize("release", MATRIX)
def test_every_shape_is_repaired(
    sandbox: h.Sandbox, opencode_release: Callable[[str], Path], release: str, matrix_facts: dict[str, Any]
) -> None:
    """One server of the release runs the three shapes side by side (``bash sleep 600``, tool
    arguments still streaming, a ``task`` whose child runs bash) and is ``kill -9``'d once; the
    release wrote exactly the DDL the unit tests use; ``scan`` names every stuck session with
    its pattern, one ``recover --all`` repairs them all, and the same release, booted once on
    the repaired file, shows every turn closed and takes a new prompt in every session. Each
    shape is its own cell of the table (``Cells``): one boot to crash and one to check is what
    three tests of one shape each used to pay three times."""
    binary = opencode_release(release)
    db = sandbox.db_path
    shapes = [Bash(), Pending(), Task()]
    cells = Cells(matrix_facts, shapes)
    task = shapes[2]
    assert isinstance(task, Task)

    oc = sandbox.start_opencode(binary)
    for shape in shapes:
        shape.start(oc)
    for shape in shapes:
        shape.wait(sandbox, oc)
    oc.kill()
    release_facts: dict[str, Any] = {}
    measure(sandbox, release, release_facts)
    top = {shape.sid: None for shape in shapes}
    assert {s["id"]: s["parent_id"] for s in h.db_sessions(db)} == {**top, task.child: task.sid}
    for shape in shapes:
        shape.reread(db)
        matrix_facts[shape.name].update(release_facts)
        with cells.check(shape):
            shape.check_rows(sandbox, release, matrix_facts[shape.name])

    stuck = {sid: expected for shape in shapes for sid, expected in shape.stuck.items()}
    rc, data, proc = scan(sandbox)
    assert rc == 1 and data["opencode_live"] is False, explain(proc)
    sessions = by_id(data)
    assert set(sessions) <= set(stuck), explain(proc)  # and each shape's are there: == set(stuck)
    for shape in cells.alive():
        with cells.check(shape):
            for sid, (pattern, parts) in shape.stuck.items():
                assert_stale_session(sandbox, sessions, sid, pattern, parts, proc)
            shape.check_scan(sessions, proc)

    recover_all(sandbox, parts=4, messages=4, sessions=set(stuck))  # one part and one turn a session

    oc = sandbox.start_opencode(binary)
    for shape in cells.alive():
        with cells.check(shape):
            for sid, (_, parts) in shape.stuck.items():
                assert_healthy(oc, sid, {p["id"] for p in parts})
            for sid in shape.stuck:
                assert_new_prompt_completes(oc, sid)
    oc.kill()
    cells.finish()


# --------------------------------------------------------------------------------------------
# the newest release (and the id wrap on 1.18.14)
# --------------------------------------------------------------------------------------------


def test_id_wrap_risk_is_said_before_recovery_and_the_loop_is_opencodes(
    sandbox: h.Sandbox, opencode_release: Callable[[str], Path], opencode_bin: Path
) -> None:
    """OpenCode 1.18.14, a session begun before the 2026-08-14 id wrap (libfaketime): ocinspect
    flags it at risk *before* recovering; after the repair 1.18.14 answers the old prompt again
    and again (its bug: it does the same without any repair), ocinspect recognises the leftovers,
    and 1.18.33 takes a new prompt on the very same repaired file."""
    from . import capture

    try:
        h.faketime_env()
    except h.Unavailable as exc:
        pytest.skip(f"e2e: {exc}")
    old = opencode_release("1.18.14")
    finished, stuck = capture._before_the_wrap(sandbox, old)

    rc, data, proc = scan(sandbox, "--all-sessions")
    sessions = by_id(data)
    assert (sessions[stuck]["patterns"], sessions[stuck]["warnings"]) == (["crash-orphan"], ["id-wrap-risk"]), explain(
        proc
    )
    assert (sessions[finished]["verdict"], sessions[finished]["warnings"]) == ("ok", ["id-wrap-risk"]), explain(proc)
    text = sandbox.ocinspect("show", stuck).stdout
    assert "Upgrade OpenCode to 1.18.15 or newer before you continue this session." in text
    (part,) = [p for p in h.db_tool_parts(sandbox.db_path, stuck) if p["state"]["status"] == "running"]
    recover_all(sandbox, parts=1, messages=1, sessions={stuck})
    repaired = sandbox.root / "repaired.db"
    h.snapshot(sandbox.db_path, repaired)

    # 1.18.14 on the repaired file: the new prompt is never answered, the old one over and over
    oc = sandbox.start_opencode(old)
    with h.ro_connect(sandbox.db_path) as conn:
        (old_prompt,) = conn.execute(
            "SELECT id FROM message WHERE session_id = ? AND json_extract(data,'$.role') = 'user'", (stuck,)
        ).fetchone()
    oc.prompt_async(stuck, NEW_PROMPT)

    def replies_to_old_prompt() -> int:
        with h.ro_connect(sandbox.db_path) as conn:
            return int(
                conn.execute(
                    "SELECT count(*) FROM message WHERE session_id = ? AND json_extract(data,'$.role') = "
                    "'assistant' AND json_extract(data,'$.parentID') = ? AND id < ?",
                    (stuck, old_prompt, old_prompt),
                ).fetchone()[0]
            )

    # one reply more than ocinspect needs to call it a loop (idwrap.LOOP_MIN_REPLIES, 3); a
    # healthy OpenCode replies once
    h.wait_until(
        lambda: replies_to_old_prompt() >= 4,
        timeout=60,
        what="OpenCode 1.18.14 to loop",
        on_timeout=lambda: oc.describe(stuck),
    )
    oc.kill()
    rc, data, proc = scan(sandbox)
    looped = by_id(data)[stuck]
    assert "ignores-prompts" in looped["patterns"] and looped["warnings"] == ["id-wrap-risk"], explain(proc)

    # The very same repaired file on 1.18.33 (id order fixed in 1.18.15): healthy, new prompt answered.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sandbox.db_path}{suffix}").unlink(missing_ok=True)
    h.snapshot(repaired, sandbox.db_path)
    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, stuck, {part["id"]})
    assert_new_prompt_completes(oc, stuck)
    oc.kill()


def test_opencode_alone_leaves_the_turn_stuck_and_ocinspect_refuses_it_while_live(
    sandbox: h.Sandbox, opencode_bin: Path
) -> None:
    """Two proofs on one crash (each boot of OpenCode is the cost of this test):

    * the premise: restarting OpenCode does not repair the turn, nor does ``abort``, nor a new
      prompt, nor the next restart (if this ever fails, OpenCode changed and ocinspect's reason
      to exist must be re-checked);
    * an idle OpenCode on the database leaves the session ``stale``; once OpenCode is really busy
      on it, it is ``live``: ``recover`` exits 3 and writes nothing, ``recover --all`` leaves it
      too; after OpenCode stops, both turns are repaired and a new prompt completes.
    """
    sid, first = crash_mid_tool(sandbox, opencode_bin, "run the long tests")
    assert_stale_scan(sandbox, {sid: ("crash-orphan", [first])})

    # A fresh, idle OpenCode on the same database: it does not know the old turn, so the
    # session is still stale although OpenCode is live on the database.
    oc = sandbox.start_opencode(opencode_bin)
    assert sid not in oc.status(), oc.describe(sid)  # OpenCode thinks it is idle...
    rc, data, proc = scan(sandbox)
    assert rc == 1 and data["opencode_live"] is True, explain(proc)
    assert by_id(data)[sid]["verdict"] == "stale", explain(proc)

    def stuck_turn(server: h.OpenCode, msgs: list[dict[str, Any]]) -> dict[str, Any]:
        turn = next(m for m in msgs if m["info"]["id"] == first["message_id"])
        assert not turn["info"].get("time", {}).get("completed"), server.describe(sid)
        p = next(p for p in turn["parts"] if p["id"] == first["id"])
        assert p["state"]["status"] == "running", server.describe(sid)
        return turn

    stuck_turn(oc, oc.messages(sid))  # ...yet the turn is unfinished and the tool still running
    assert oc.request("POST", f"/session/{sid}/abort") is True
    stuck_turn(oc, oc.messages(sid))  # abort changes nothing

    # A new prompt does run, but the old turn stays broken afterwards.
    before = sum(1 for m in oc.messages(sid) if m["info"]["role"] == "assistant")
    oc.prompt_async(sid, NEW_PROMPT)
    msgs = oc.wait_turn_complete(sid, timeout=60, min_assistant=before + 1)
    stuck_turn(oc, msgs)

    # Now make OpenCode really busy on that session: a second sleeping bash call.
    oc.prompt_async(sid, "run the long tests again")
    running = h.wait_for_tool_part(sandbox.db_path, session_id=sid, tool="bash", count=2, timeout=60, server=oc)
    second = next(p for p in running if p["id"] != first["id"])
    h.wait_until(
        lambda: oc.is_busy(sid), timeout=30, what=f"{sid} busy in /session/status", on_timeout=lambda: oc.describe(sid)
    )

    rc, data, proc = scan(sandbox)
    assert data["opencode_live"] is True, explain(proc)
    assert by_id(data)[sid]["verdict"] == "live", explain(proc)

    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--json")
    assert rc == 3, explain(proc)
    still = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert still == {first["id"]: "running", second["id"]: "running"}, explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)
    assert isinstance(data, dict), explain(proc)
    assert [(s["id"], "live" in s["reason"].lower()) for s in data["skipped"]] == [(sid, True)], explain(proc)
    assert data["parts_repaired"] == 0 and data["messages_completed"] == 0, explain(proc)
    assert data["dry_run"] is False and data["run_id"] is None, explain(proc)  # refused, not a dry run

    # `recover --all` must not touch it either (whatever it then exits with).
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--json")
    assert rc in (0, 3), explain(proc)
    still = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert still == {first["id"]: "running", second["id"]: "running"}, explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)

    # Stop OpenCode (the crash again). On the next restart the old turn is still there.
    oc.kill()
    oc = sandbox.start_opencode(opencode_bin)
    stuck_turn(oc, oc.messages(sid))
    oc.kill()

    # Now both turns are stale and the repair goes through.
    assert_stale_scan(sandbox, {sid: ("crash-orphan", [first, second])})
    recover_all(sandbox, parts=2, messages=2, sessions={sid})

    oc = sandbox.start_opencode(opencode_bin)
    assert_healthy(oc, sid, {first["id"], second["id"]})
    assert_new_prompt_completes(oc, sid)
    oc.kill()


@pytest.mark.parametrize("release", [pytest.param(v, id=f"opencode-{v}") for v in ("1.18.33", "1.2.27")])
def test_capture_regenerates_fixture(
    tmp_path: Path, fake_model: h.FakeModel, opencode_release: Callable[[str], Path], release: str
) -> None:
    """capture.py still reproduces the shipped fixture (schema, rows, diagnosis) with the
    release's binary, so ``tests/fixtures`` can be refreshed when OpenCode changes (the newest,
    and the oldest, whose task parts name no child)."""
    from . import capture

    out = tmp_path / "out"
    out.mkdir()
    result = capture.capture(
        "stuck-task",
        opencode_release(release),
        fake_model,
        tmp_path / "work",
        out,
        capture.DEFAULT_PROJECT_DIR,
        release,
    )
    new = Path(result["file"])
    assert new.name == f"opencode-{release}-stuck-task.db"
    shipped = h.REPO_ROOT / "tests" / "fixtures" / new.name
    assert (result["journal_mode"], result["integrity"], result["freelist"]) == ("delete", "ok", 0)
    assert not Path(f"{new}-wal").exists()

    def shape(db: Path) -> dict[str, Any]:
        with h.ro_connect(db) as conn:
            schema = sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            counts = {
                t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ("project", "session", "message", "part", "migration", "__drizzle_migrations")
                if t in tables
            }
            dirs = {r[0] for r in conn.execute("SELECT directory FROM session")}
        return {"schema": schema, "counts": counts, "dirs": dirs}

    assert shape(new) == shape(shipped)
    assert sorted((p["tool"], p["status"]) for p in result["tool_parts"]) == [("bash", "running"), ("task", "running")]

    def diagnosis(db: Path) -> list[tuple[Any, ...]]:
        env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"))
        proc = subprocess.run(
            [sys.executable, "-m", "inspector", "--db", str(db), "scan", "--json"],
            cwd=h.REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1, explain(proc)
        data = json.loads(proc.stdout)
        return sorted(
            (
                s["parent_id"] is None,
                s["verdict"],
                tuple(s["patterns"]),
                tuple(
                    (p["tool"], p["status"], p["child_session_id"] is not None, p["child_session_inferred"])
                    for p in s["stuck_parts"]
                ),
                len(s["children"]),
            )
            for s in data["sessions"]
        )

    assert diagnosis(new) == diagnosis(shipped)

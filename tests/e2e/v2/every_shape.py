"""Every stuck shape of the v2 reference's table, made fresh by the real 2.1.2 in ONE database.

Most shapes do not disturb each other, so one sandbox holds them all and one recovery, one
service boot and one undo check them together (each boot of OpenCode is the cost of an e2e test).
Each shape's rows, and what 2.1.2 does with it, are asserted as it is made (the reference's
table, ``/work/shared/opencode-v2-reference.md``, summarised in ``docs/design/records.md``).
The order is what lets them share the file:

1. a 1.18.33 server crashed mid-``bash`` (imported-from-v1): v2 imports a v1 file only at its
   first boot, so the v1 rows come first;
2. a plain 2.x server (that first boot: it imports) crashed mid-``subagent``;
3. the service boots on it: it re-runs the parent and only releases the child (orphan-child),
   the re-run is interrupted; a new turn in the same service, then ``opencode service stop``
   mid-tool (graceful-stop). Every later service boot re-runs every claimed root session, so
   this is the only boot before the crashes below;
4. one plain server runs bash, pending, question, ask, queued, task and a turn to heal side by
   side and is ``kill -9``'d once (a plain server never sweeps, so the claims above and below stay);
5. a plain server reopens the file: it resumes nothing, releases no claim, delivers no stranded
   prompt; only a new prompt to the session to heal closes its crashed turn;
6. ``opencode run --standalone`` crashed mid-``shell``.

``exhausted`` is not here: its eleven boots each re-run every claim in the file, so it would
have to come before all of the above (see ``test_v2_recover.py``).

Assertions here are rewritten by pytest (``tests/e2e/v2/conftest.py`` registers this module).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import harness as h
from . import harness_v2 as v2

ASK_COMMAND = "seq *"  # only the STREAM scenario's loop runs `seq`: only that session is asked
STREAM = "STREAM please"
PENDING = "PENDING please"
INBOX = (("QUICK steer one", "steer"), ("TEXT queued two", "queue"))
RESTART_NOTICE = "The server restarted while you were working."

CRASH = frozenset({"claim-orphan", "crash-orphan"})


@dataclass
class Shapes:
    """What the sandbox holds: each stuck session's shape and the patterns ocinspect must name."""

    patterns: dict[str, frozenset[str]] = field(default_factory=dict)  # stuck session -> patterns
    shape: dict[str, str] = field(default_factory=dict)  # stuck session -> shape name
    rerun: set[str] = field(default_factory=set)  # sessions the next service boot would re-run
    # what scan still names once repaired: the prompts stranded in an inbox wait for the next
    # prompt (only a prompt delivers them; ocinspect does not send one)
    after_repair: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    stopped_tool: str = ""  # the graceful stop's aborted tool (its next boot re-issues another)

    def add(self, name: str, sid: str, patterns: frozenset[str], *, rerun: bool) -> None:
        self.patterns[sid] = patterns
        self.shape[sid] = name
        if rerun:
            self.rerun.add(sid)

    def sid(self, name: str) -> str:
        return next(sid for sid, shape in self.shape.items() if shape == name)


def build(sb: v2.V2Sandbox, v1_binary: Path) -> Shapes:
    """Make every shape (but ``exhausted``) in ``sb``'s database; every process ends killed."""
    shapes = Shapes()
    imported = import_a_v1_crash(sb, v1_binary)
    shapes.add("imported-from-v1", imported, frozenset({"imported-unfinished", "interrupted-turn"}), rerun=False)
    orphan_and_stop(sb, shapes)
    healed = crash_side_by_side(sb, shapes)
    reopen_on_a_plain_server(sb, shapes, healed)
    standalone = crash_standalone(sb)
    shapes.add("standalone", standalone, CRASH, rerun=True)
    return shapes


def import_a_v1_crash(sb: v2.V2Sandbox, v1_binary: Path) -> str:
    """(imported-from-v1) 1.18.33 killed mid-``bash``; the next 2.x boot imports the file in place."""
    old = sb.start_opencode(v1_binary)
    sid = old.create_session()
    old.prompt_async(sid, v2.LONG_SHELL)
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=45, server=old)
    old.kill()
    return sid


def assert_imported(db: Path, sid: str, server: v2.V2Server) -> None:
    """(imported-from-v1) The first 2.x boot imported the crashed v1 file in place, once: the
    message stays unfinished, its tool ``tool.interrupted``; nothing is active."""
    assert v2.kv_rows(db)["migration.v1-v2"] == {"phase": "completed"}
    assert {"session", "message", "part", "session_v2", "session_message"} <= v2.tables(db)
    row = v2.session_row(db, sid)
    assert (row["version"], row["time_suspended"], row["idle_outcome"]) == (h.OPENCODE_VERSION, None, None)
    rows = v2.message_rows(db, sid)
    assert [r["seq"] for r in rows] == list(range(len(rows)))  # re-numbered from 0
    assert [r["type"] for r in rows] == ["user", "assistant", "system"]
    assert "`bash` tool is now `shell`" in rows[2]["data"]["text"]
    assert not rows[1]["data"]["time"].get("completed")
    tool = v2.tool_items(db, sid)[0]
    assert tool["name"] == "bash"
    assert tool["state"]["error"] == {
        "type": "tool.interrupted",
        "message": "Tool execution was interrupted before V2 migration",
    }
    assert server.active() == {}


def assert_crashed_turn(db: Path, sid: str, tool: dict[str, Any]) -> None:
    """The shape every crash leaves: claim set, assistant unfinished, tool active, no idle row."""
    row = v2.session_row(db, sid)
    assert row["time_suspended"] is not None
    assert row["resume_attempts"] == 0
    assert row["idle_outcome"] is None
    assert "idle" not in v2.types_of(db, sid)
    unfinished = v2.unfinished_assistants(db, sid)
    assert [m["id"] for m in unfinished] == [tool["message_id"]]
    assert tool["state"]["status"] in v2.ACTIVE_TOOL
    assert "completed" not in tool["time"]


def last_tool(db: Path, sid: str) -> dict[str, Any]:
    """The session's last tool item as stored now."""
    return v2.tool_items(db, sid)[-1]


def orphan_and_stop(sb: v2.V2Sandbox, shapes: Shapes) -> None:
    """(task, orphan-child, graceful-stop) A plain server (importing the v1 file) killed
    mid-subagent claims parent and child; the service booted on it resumes the parent but only
    releases the child's claim: its message stays ``running``. Then a turn of the service's own
    stopped with ``opencode service stop``."""
    db = sb.db_path
    imported = shapes.sid("imported-from-v1")
    crash = v2.crash_plain_mid_subagent(sb, on_boot=lambda server: assert_imported(db, imported, server))
    assert crash.child_id is not None
    child_id = crash.child_id
    assert_crashed_turn(db, crash.session_id, crash.tool)
    assert crash.tool["name"] == "subagent"
    child_tool = last_tool(db, child_id)
    assert (child_tool["name"], child_tool["state"]["status"]) == ("shell", "running")
    assert v2.claim(db, child_id) is not None

    calls = v2.model_calls(sb.model)
    service = v2.orphan_the_child(sb, crash)  # re-runs the parent's turn, then interrupts it
    assert v2.model_calls(sb.model) == calls + 1
    assert v2.types_of(db, crash.session_id)[-1] == "idle"
    child = v2.session_row(db, child_id)
    assert (child["time_suspended"], child["idle_outcome"], child["resume_attempts"]) == (None, None, 0)
    assert "idle" not in v2.types_of(db, child_id)
    assert last_tool(db, child_id)["state"]["status"] == "running"
    assert [m["id"] for m in v2.unfinished_assistants(db, child_id)] == [child_tool["message_id"]]
    assert child_id not in service.active()
    shapes.add("orphan-child", child_id, frozenset({"orphan-child", "crash-orphan"}), rerun=False)

    stopped = v2.stop_service_mid_tool(sb, service)  # it waits for service.json to go
    assert_graceful_stop(db, stopped)
    shapes.stopped_tool = stopped.tool["id"]
    shapes.add("graceful-stop", stopped.session_id, frozenset({"claim-kept"}), rerun=True)


def assert_graceful_stop(db: Path, stop: v2.Crash) -> None:
    """(graceful-stop) ``opencode service stop`` mid-tool aborts the tool and completes the
    message, but keeps the claim and writes no ``idle`` row: the next boot resumes the turn."""
    sid = stop.session_id
    assert v2.claim(db, sid) is not None
    assert "idle" not in v2.types_of(db, sid)
    assert v2.session_row(db, sid)["idle_outcome"] is None
    assert v2.unfinished_assistants(db, sid) == []
    after = next(t for t in v2.tool_items(db, sid) if t["id"] == stop.tool["id"])
    assert after["state"]["status"] == "error"
    assert after["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted"}


def crash_side_by_side(sb: v2.V2Sandbox, shapes: Shapes) -> str:
    """(bash, pending, question, ask, queued, task) one plain server runs them all at once, then
    ``kill -9``. Only `seq` asks for permission, so only the ``ask`` session waits for a person.
    One more crashed ``shell`` turn is returned: the session a new prompt heals next."""
    sb.write_config(shell={"*": "allow", ASK_COMMAND: "ask"})
    db = sb.db_path
    server = sb.start_plain()
    prompts = {
        "bash": v2.LONG_SHELL,
        "pending": PENDING,
        "question": v2.QUESTION,
        "ask": STREAM,
        "queued": v2.LONG_SHELL,
        "task": v2.SUBAGENT,
        "heal": v2.LONG_SHELL,
    }
    sids = {name: server.open_session(sb.project) for name in prompts}
    for name, text in prompts.items():
        server.prompt(sids[name], text)
    v2.wait_tool(db, sids["bash"])
    v2.wait_tool(db, sids["pending"], statuses=("streaming",))
    v2.wait_tool(db, sids["question"], name="question")
    v2.wait_tool(db, sids["ask"])
    asked = v2.wait_permission(server, sids["ask"])
    v2.wait_tool(db, sids["queued"])
    for text, delivery in INBOX:
        server.prompt(sids["queued"], text, delivery=delivery)
    v2.wait_db(db, lambda: len(v2.inbox_rows(db, sids["queued"])) == len(INBOX), what="the prompts in the inbox")
    v2.wait_tool(db, sids["task"], name="subagent")
    child = v2.wait_child(db, sids["task"])
    v2.wait_tool(db, child)
    v2.wait_tool(db, sids["heal"])
    server.kill()
    assert_side_by_side(db, sids, asked)

    shapes.add("bash", sids["bash"], CRASH, rerun=True)
    shapes.add("pending", sids["pending"], frozenset({"claim-orphan", "pending-placeholder"}), rerun=True)
    shapes.add("question", sids["question"], frozenset({"claim-orphan", "question-wait"}), rerun=True)
    shapes.add("ask", sids["ask"], CRASH, rerun=True)
    shapes.add("queued", sids["queued"], CRASH | {"inbox-stranded"}, rerun=True)
    shapes.after_repair[sids["queued"]] = ("unfixable", ["inbox-stranded"])
    shapes.add("task", sids["task"], CRASH | {"subagent-chain"}, rerun=True)
    shapes.add("task child", child, CRASH | {"subagent-chain"}, rerun=False)
    return sids["heal"]


def assert_side_by_side(db: Path, sids: dict[str, str], asked: list[dict[str, Any]]) -> None:
    """The rows each crash left: (bash) a ``running`` shell; (pending) killed while the tool's
    arguments still arrive, ``streaming`` with ``input ""``; (question) the question tool waiting
    for the user stays ``running``; (ask) the shell asked for permission is ``running`` and the
    request lived only in the server (no table holds it); (queued) the two prompts sent during
    the tool wait in ``session_inbox``."""
    for name in ("bash", "pending", "question", "ask", "queued", "heal"):
        assert_crashed_turn(db, sids[name], last_tool(db, sids[name]))
    bash = last_tool(db, sids["bash"])
    assert (bash["name"], bash["state"]["status"]) == ("shell", "running")
    assert bash["state"]["input"] == {"command": "sleep 600"}
    pending = last_tool(db, sids["pending"])
    assert (pending["state"]["status"], pending["state"]["input"]) == ("streaming", "")
    question = last_tool(db, sids["question"])
    assert question["name"] == "question" and question["state"]["status"] == "running"
    assert question["state"]["input"]["questions"][0]["question"] == "Deploy to production?"
    ask = last_tool(db, sids["ask"])
    assert (ask["name"], ask["state"]["status"]) == ("shell", "running")
    # 2.1.2 asks for each simple command of the shell loop
    assert asked[0]["action"] == "shell" and asked[0]["resources"] == ["seq 600", "echo tick $i", "sleep 1"]
    with v2.ro(db) as conn:
        held = [t for t in v2.tables(db) if conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]]  # noqa: S608
        assert not [
            t
            for t in held
            if asked[0]["id"] in str(conn.execute(f'SELECT * FROM "{t}"').fetchall())  # noqa: S608
        ], "the permission request is in the database"
    inbox = v2.inbox_rows(db, sids["queued"])
    assert [(r["delivery"], r["type"]) for r in inbox] == [("steer", "user"), ("queue", "user")]
    texts = [r["data"].get("text") for r in v2.message_rows(db, sids["queued"]) if r["type"] == "user"]
    assert texts == [v2.LONG_SHELL]


def reopen_on_a_plain_server(sb: v2.V2Sandbox, shapes: Shapes, healed: str) -> None:
    """A plain server reopening the crashed file resumes no turn, releases no claim (no route
    clears an orphaned claim) and delivers no stranded prompt; only a new prompt to that exact
    session closes its crashed turn: v2 heals the old message (tool ``error aborted`` "…: shell",
    ``time.completed``, no ``step.failed``) and then runs the new turn, at the price of a model call."""
    db = sb.db_path
    bash, queued = shapes.sid("bash"), shapes.sid("queued")
    claims = claimed(db)
    assert {bash, queued, healed} <= claims
    calls = v2.model_calls(sb.model)
    server = sb.start_plain()
    assert not {bash, queued, healed} & set(server.active())  # only turns running in that process
    assert server.interrupt(bash) is False  # no route clears an orphaned claim
    assert server.interrupt(queued) is False
    assert len(server.api("GET", f"/api/session/{queued}/inbox")) == len(INBOX)
    v2.stays(
        lambda: (
            claimed(db) == claims and v2.model_calls(sb.model) == calls and len(v2.inbox_rows(db, queued)) == len(INBOX)
        ),
        seconds=3,
        what="a plain server must neither resume, release a claim nor deliver the stranded prompts",
    )
    assert last_tool(db, bash)["state"]["status"] == "running"

    server.prompt(healed, v2.TEXT)
    v2.wait_db(db, lambda: "idle" in v2.types_of(db, healed), what="the new turn's idle row")
    assert v2.model_calls(sb.model) == calls + 1
    rows = v2.message_rows(db, healed)
    assert [r["type"] for r in rows] == ["user", "assistant", "user", "assistant", "idle"]
    old = rows[1]["data"]
    assert old["time"].get("completed")
    assert "finish" not in old and "error" not in old  # no step.failed: only the message closed
    fixed = old["content"][0]
    assert fixed["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted: shell"}
    assert "metadata" not in fixed["state"]  # it was empty: dropped
    assert fixed["executed"] is False and fixed["time"].get("completed")
    assert rows[-1]["data"]["outcome"] == "succeeded"
    row = v2.session_row(db, healed)
    assert (row["time_suspended"], row["resume_attempts"], row["idle_outcome"]) == (None, 0, "succeeded")
    assert claimed(db) == claims - {healed}
    server.kill()


def crash_standalone(sb: v2.V2Sandbox) -> str:
    """(``opencode run --standalone``) its private plain server killed mid-``shell``."""
    db = sb.db_path
    known = {s["id"] for s in v2.session_rows(db)}
    log = (sb.root / "run-standalone.log").open("wb")
    try:
        proc = subprocess.Popen(
            [str(sb.binary), "run", "--standalone", v2.LONG_SHELL],
            cwd=sb.project,
            env=sb.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=h.die_with_parent(),
        )

        def running() -> str | None:
            if proc.poll() is not None:
                raise h.HarnessError(f"opencode run --standalone exited {proc.returncode}")
            fresh = [s["id"] for s in v2.session_rows(db) if s["id"] not in known]
            return next(
                (sid for sid in fresh if any(t["state"]["status"] == "running" for t in v2.tool_items(db, sid))), None
            )

        sid: str = v2.wait_db(db, running, what="opencode run --standalone's shell running")
        h.kill_tree(proc.pid)
        proc.wait(timeout=10)
    finally:
        log.close()
    return sid


# --------------------------------------------------------------------------------------------
# Checking a database against what was built
# --------------------------------------------------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, exactly as stored (the byte-exact undo compares these)."""
    with v2.ro(db) as conn:
        conn.row_factory = None
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: list(conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')) for t in names}  # noqa: S608


def scan(sb: v2.V2Sandbox, tier: str = "--full") -> dict[str, Any]:
    """``ocinspect scan --json`` on the sandbox's database (``tier``: ``--full`` or ``--quick``)."""
    done = sb.ocinspect("scan", tier, "--json")
    if done.returncode not in (0, 1):
        raise h.HarnessError(f"ocinspect scan exited {done.returncode}: {done.stderr}")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def found_patterns(report: dict[str, Any]) -> dict[str, frozenset[str]]:
    return {s["id"]: frozenset(s["patterns"]) for s in report["sessions"]}


def active_tools(db: Path) -> dict[str, list[str]]:
    """Sessions with a tool still ``running``/``streaming``: their tool names."""
    found = {
        s["id"]: [t["name"] for t in v2.tool_items(db, s["id"]) if t["state"]["status"] in v2.ACTIVE_TOOL]
        for s in v2.session_rows(db)
    }
    return {sid: names for sid, names in found.items() if names}


def claimed(db: Path) -> set[str]:
    return {s["id"] for s in v2.session_rows(db) if s["time_suspended"] is not None}


def synthetic_counts(db: Path) -> dict[str, int]:
    """Restart notices per session: a service boot re-running a turn adds one."""
    return {s["id"]: [r["type"] for r in v2.message_rows(db, s["id"])].count("synthetic") for s in v2.session_rows(db)}


def ended_turns(db: Path, sid: str) -> list[str]:
    """The outcomes of the session's ``idle`` rows, in order."""
    return [str(r["data"].get("outcome")) for r in v2.message_rows(db, sid) if r["type"] == "idle"]

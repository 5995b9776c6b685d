"""OpenCode 2.1.2's stuck shapes, made fresh from the real binary, as the v2 reference lists them.

Each test crashes (``kill -9``) or stops the real ``opencode`` 2.1.2 mid-tool through its HTTP API,
driven by the scripted fake model, and asserts the rows the reference documents
(``/work/shared/opencode-v2-reference.md``, summarised in ``docs/design/records.md``). The service
tests also count the fake model's calls: a service boot re-running a crashed turn is the work
nobody asked for that ocinspect's repair must prevent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .. import harness as h
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e

RESTART_NOTICE = "The server restarted while you were working."


def claim(db: Path, session_id: str) -> Any:
    return v2.session_row(db, session_id)["time_suspended"]


def types_of(db: Path, session_id: str) -> list[str]:
    return [r["type"] for r in v2.message_rows(db, session_id)]


def stays(probe: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Fail if ``probe`` turns false within ``seconds``: a bounded watch for something that must
    not happen (a plain server delivering or resuming on its own), polled, not slept through."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe(), what
        time.sleep(0.2)
    assert probe(), what


def assert_crashed_turn(db: Path, crash: v2.Crash) -> None:
    """The shape every crash leaves: claim set, assistant unfinished, tool active, no idle row."""
    sid = crash.session_id
    row = v2.session_row(db, sid)
    assert row["time_suspended"] is not None
    assert row["resume_attempts"] == 0
    assert row["idle_outcome"] is None
    assert "idle" not in types_of(db, sid)
    unfinished = v2.unfinished_assistants(db, sid)
    assert [m["id"] for m in unfinished] == [crash.tool["message_id"]]
    assert crash.tool["state"]["status"] in v2.ACTIVE_TOOL
    assert "completed" not in crash.tool["time"]


def test_plain_crash_mid_tool_leaves_claim_and_running_tool(sandbox: v2.V2Sandbox) -> None:
    """(bash) ``kill -9`` of a plain server mid-``shell``; a plain server reopening it changes nothing."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    assert_crashed_turn(db, crash)
    assert crash.tool["name"] == "shell"
    assert crash.tool["state"]["status"] == "running"
    assert crash.tool["state"]["input"] == {"command": "sleep 600"}
    assert not {"session", "message", "part"} & v2.tables(db)  # a database v2 created has no v1 tables

    calls = v2.model_calls(sandbox.model)
    server = sandbox.start_plain()
    assert crash.session_id not in server.active()  # only turns running in that process
    assert server.interrupt(crash.session_id) is False  # no route clears an orphaned claim
    stays(
        lambda: claim(db, crash.session_id) is not None and v2.model_calls(sandbox.model) == calls,
        seconds=3,
        what="a plain server must neither resume nor release the claim",
    )
    assert v2.tool_items(db, crash.session_id)[-1]["state"]["status"] == "running"


def test_plain_crash_while_arguments_stream_leaves_streaming_tool(sandbox: v2.V2Sandbox) -> None:
    """(pending) killed while the tool's arguments still arrive: ``streaming`` with ``input ""``."""
    crash = v2.crash_plain_mid_tool(sandbox, prompt="PENDING please", statuses=("streaming",))
    assert_crashed_turn(sandbox.db_path, crash)
    assert crash.tool["state"]["status"] == "streaming"
    assert crash.tool["state"]["input"] == ""


def test_service_boot_reruns_the_crashed_turn(sandbox: v2.V2Sandbox) -> None:
    """(bash, then the service) The managed service's boot sweep heals the old message, adds the
    restart notice and CALLS THE MODEL AGAIN, which re-issues its tool: the problem to prevent."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    calls = v2.model_calls(sandbox.model)
    assert calls == 1

    service = v2.boot_service_until_resumed(sandbox, crash.session_id, calls)
    assert v2.session_row(db, crash.session_id)["resume_attempts"] == 1
    assert claim(db, crash.session_id) is not None  # the resumed turn holds the claim again
    rerun = sandbox.model.requests[-1]["body"]["messages"]
    assert RESTART_NOTICE in str(rerun[-1]["content"])

    # the heal writes the tool first, the message's time.completed next: wait for both
    v2.wait_db(
        db,
        lambda: crash.tool["message_id"] not in {m["id"] for m in v2.unfinished_assistants(db, crash.session_id)},
        what="the crashed message healed",
    )
    healed = next(t for t in v2.tool_items(db, crash.session_id) if t["id"] == crash.tool["id"])
    assert healed["state"]["status"] == "error"
    assert healed["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted: shell"}
    rows = v2.message_rows(db, crash.session_id)
    notices = [r for r in rows if r["type"] == "synthetic"]
    assert len(notices) == 1 and notices[0]["data"]["text"].startswith(RESTART_NOTICE)
    # the model re-issued its tool call: a new running shell in a new unfinished message
    again = v2.wait_tool(db, crash.session_id)
    assert again["id"] != crash.tool["id"]
    assert crash.session_id in service.active()
    v2.kill_service(sandbox, service)


def test_orphan_child_after_service_boot(sandbox: v2.V2Sandbox) -> None:
    """(task, then orphan-child) A crash mid-subagent claims parent and child; the service boot
    resumes the parent but only releases the child's claim: its message stays ``running``."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_subagent(sandbox)
    assert crash.child_id is not None
    child_id = crash.child_id
    assert_crashed_turn(db, crash)
    assert crash.tool["name"] == "subagent"
    child_tool = v2.tool_items(db, child_id)[-1]
    assert (child_tool["name"], child_tool["state"]["status"]) == ("shell", "running")
    assert claim(db, child_id) is not None

    calls = v2.model_calls(sandbox.model)
    service = v2.orphan_the_child(sandbox, crash)  # re-runs the parent's turn, then interrupts it
    assert v2.model_calls(sandbox.model) == calls + 1
    assert types_of(db, crash.session_id)[-1] == "idle"

    child = v2.session_row(db, child_id)
    assert (child["time_suspended"], child["idle_outcome"], child["resume_attempts"]) == (None, None, 0)
    assert "idle" not in types_of(db, child_id)
    assert v2.tool_items(db, child_id)[-1]["state"]["status"] == "running"
    assert [m["id"] for m in v2.unfinished_assistants(db, child_id)] == [child_tool["message_id"]]
    assert child_id not in service.active()
    v2.kill_service(sandbox, service)


def test_graceful_service_stop_keeps_the_claim(sandbox: v2.V2Sandbox) -> None:
    """(graceful-stop) ``opencode service stop`` mid-tool aborts the tool and completes the
    message, but keeps the claim and writes no ``idle`` row: the next boot resumes the turn."""
    db = sandbox.db_path
    stop = v2.stop_service_mid_tool(sandbox)  # it waits for service.json to go
    sid, tool = stop.session_id, stop.tool
    assert claim(db, sid) is not None
    assert "idle" not in types_of(db, sid)
    assert v2.session_row(db, sid)["idle_outcome"] is None
    assert v2.unfinished_assistants(db, sid) == []
    after = next(t for t in v2.tool_items(db, sid) if t["id"] == tool["id"])
    assert after["state"]["status"] == "error"
    assert after["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted"}

    # the claim it kept is work for the next boot: the turn is re-run, the model called again
    calls = v2.model_calls(sandbox.model)
    again = v2.boot_service_until_resumed(sandbox, sid, calls)
    assert v2.model_calls(sandbox.model) == calls + 1
    assert "synthetic" in types_of(db, sid)
    assert v2.wait_tool(db, sid)["id"] != tool["id"]  # the model re-issued its tool call
    v2.kill_service(sandbox, again)


def test_new_prompt_heals_a_stale_turn_on_plain_server(sandbox: v2.V2Sandbox) -> None:
    """On a plain server only a new prompt to that exact session closes the crashed turn: v2
    heals the old message (tool ``error aborted`` "…: shell", ``time.completed``, no
    ``step.failed``) and then runs the new turn, at the price of a model call."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    server = sandbox.start_plain()
    calls = v2.model_calls(sandbox.model)
    server.prompt(crash.session_id, v2.TEXT)
    v2.wait_db(db, lambda: "idle" in types_of(db, crash.session_id), what="the new turn's idle row")

    assert v2.model_calls(sandbox.model) == calls + 1
    rows = v2.message_rows(db, crash.session_id)
    assert [r["type"] for r in rows] == ["user", "assistant", "user", "assistant", "idle"]
    old = rows[1]["data"]
    assert old["time"].get("completed")
    assert "finish" not in old and "error" not in old  # no step.failed: only the message closed
    healed = old["content"][0]
    assert healed["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted: shell"}
    assert "metadata" not in healed["state"]  # it was empty: dropped
    assert healed["executed"] is False and healed["time"].get("completed")
    assert rows[-1]["data"]["outcome"] == "succeeded"
    row = v2.session_row(db, crash.session_id)
    assert (row["time_suspended"], row["resume_attempts"], row["idle_outcome"]) == (None, 0, "succeeded")


def test_prompts_stranded_in_inbox_on_plain_server(sandbox: v2.V2Sandbox) -> None:
    """(queued) Two prompts sent during the tool wait in ``session_inbox``; after the crash a
    plain server never delivers them."""
    db = sandbox.db_path
    crash = v2.crash_plain_with_inbox(sandbox, (("QUICK steer one", "steer"), ("TEXT queued two", "queue")))
    assert_crashed_turn(db, crash)
    inbox = v2.inbox_rows(db, crash.session_id)
    assert [(r["delivery"], r["type"]) for r in inbox] == [("steer", "user"), ("queue", "user")]
    assert [r["data"].get("text") for r in v2.message_rows(db, crash.session_id) if r["type"] == "user"] == [
        v2.LONG_SHELL
    ]

    calls = v2.model_calls(sandbox.model)
    server = sandbox.start_plain()
    assert len(server.api("GET", f"/api/session/{crash.session_id}/inbox")) == 2
    assert server.interrupt(crash.session_id) is False
    stays(
        lambda: len(v2.inbox_rows(db, crash.session_id)) == 2 and v2.model_calls(sandbox.model) == calls,
        seconds=3,
        what="a plain server must not deliver the stranded prompts",
    )


def test_v1_stuck_database_imported_by_v2(sandbox: v2.V2Sandbox) -> None:
    """(imported-from-v1) A 1.18.33 database crashed mid-``bash``, opened by a 2.1.2 plain server:
    imported in place once; the message stays unfinished, its tool ``tool.interrupted``."""
    try:
        v1 = h.ensure_opencode(h.OPENCODE_VERSION)
    except h.Unavailable as exc:
        pytest.skip(f"e2e: {exc}")
    db = sandbox.db_path
    sid, server = v2.crash_v1_then_import(sandbox, v1)
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


def test_plain_crash_while_question_waits(sandbox: v2.V2Sandbox) -> None:
    """(question) killed while the ``question`` tool waits for the user: it stays ``running``."""
    crash = v2.crash_plain_mid_tool(sandbox, prompt=v2.QUESTION, name="question")
    assert_crashed_turn(sandbox.db_path, crash)
    assert crash.tool["state"]["input"]["questions"][0]["question"] == "Deploy to production?"


def test_plain_crash_with_permission_prompt_open(sandbox: v2.V2Sandbox) -> None:
    """(ask) ``permission.shell = ask``, killed with the prompt open: the tool is ``running`` and
    the request lived only in the server (no table holds it)."""
    sandbox.write_config(shell="ask")
    asked: list[dict[str, Any]] = []
    crash = v2.crash_plain_mid_tool(
        sandbox, before_kill=lambda server, sid: asked.extend(v2.wait_permission(server, sid))
    )
    db = sandbox.db_path
    assert_crashed_turn(db, crash)
    assert asked[0]["action"] == "shell" and asked[0]["resources"] == ["sleep 600"]
    with v2.ro(db) as conn:
        held = [t for t in v2.tables(db) if conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]]
        assert not [t for t in held if asked[0]["id"] in str(conn.execute(f"SELECT * FROM {t}").fetchall())], (
            "the permission request is in the database"
        )

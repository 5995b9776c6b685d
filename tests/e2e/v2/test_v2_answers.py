"""Answers through OpenCode 2's own API, on the real 2.1.2: stop, reject, allow once, dismiss.

Every answer goes through the same ``operations.prepare``/``execute`` (or ``watch``) the CLI and
the TUI call; below them ``opencode/v2_answers.py`` sends v2's routes. Each check proves what v2
recorded (the ``idle`` row's outcome, the tool's error, the claim released), that the server
stays up, and that the session takes a new prompt afterwards.

Cost: ONE plain server (``shell`` asks) is shared by every check, in one test (its boot
dominates, 6-15 s under load); the checks are sessions on it, a few seconds each, plus three
CLI runs (one a watch); the last checks kill the server and boot the managed service once (its
``service.json`` password). ~35 s here.
The hung verdicts are v2's own (its rows, routes and event stream: ``test_v2_hung.py``): the
shells here run ``sleep 600``, really silent, so the watch and ``--abort-hung`` find them hung.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspector.core.opencode.v2_servers import find_v2_servers
from inspector.core.repair import operations
from inspector.core.repair.inbox import cancel_inbox
from inspector.core.repair.watchdog import Watchdog, WatchEvent

from .. import harness as h
from ..test_hung import Watch
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e
HUNG_AFTER_MS = 1000


@pytest.fixture(autouse=True)
def no_password_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each password must come from the server's own side (its environment)."""
    monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
    monkeypatch.delenv("OPENCODE_SERVER_USERNAME", raising=False)


@pytest.fixture
def asking(sandbox: v2.V2Sandbox) -> Iterator[v2.V2Server]:
    sandbox.write_config(shell="ask")
    yield sandbox.start_plain()


def request(db: Path, *ids: str, **kw: Any) -> operations.Request:
    return operations.Request(database=db, session_ids=ids, hung_after_ms=HUNG_AFTER_MS, settle_timeout_s=20, **kw)


def last_row(db: Path, sid: str) -> dict[str, Any]:
    return v2.message_rows(db, sid)[-1]


def tool_error(db: Path, sid: str, name: str = "shell") -> dict[str, Any]:
    (tool,) = [t for t in v2.tool_items(db, sid) if t["name"] == name][-1:]
    assert tool["state"]["status"] == "error", tool
    error: dict[str, Any] = tool["state"]["error"]
    return error


def ended(db: Path, sid: str, outcome: str) -> None:
    """v2 closed the turn: its ``idle`` row says ``outcome``, the claim is released."""
    v2.wait_db(db, lambda: last_row(db, sid)["type"] == "idle", what=f"{sid}'s idle row")
    assert last_row(db, sid)["data"]["outcome"] == outcome, v2.describe(db)
    row = v2.session_row(db, sid)
    assert (row["time_suspended"], row["idle_outcome"]) == (None, outcome), row


def takes_a_new_prompt(sb: v2.V2Sandbox, server: v2.V2Api, sid: str) -> None:
    server.prompt(sid, v2.TEXT)
    v2.wait_db(
        sb.db_path,
        lambda: (
            last_row(sb.db_path, sid)["type"] == "idle"
            and v2.session_row(sb.db_path, sid)["idle_outcome"] == "succeeded"
        ),
        what=f"{sid} to answer a new prompt",
    )


def hung_for_long_enough(db: Path, sid: str) -> operations.Prepared:
    """The plan once the tool has been silent past ``HUNG_AFTER_MS`` (it is hung from then on)."""

    def prepared() -> operations.Prepared | None:
        found = operations.prepare(request(db, sid, abort_hung=True))
        return found if found.aborts else None

    ready: operations.Prepared = h.wait_until(prepared, timeout=30, interval=0.3, what=f"{sid} to be hung")
    return ready


def test_v2_answers_go_through_its_api_and_the_sessions_go_on(sandbox: v2.V2Sandbox, asking: v2.V2Server) -> None:
    db, server = sandbox.db_path, asking

    # allow once, then stop the hung tool (operations: what `recover --allow-once` / `--abort-hung` call)
    hung = server.open_session(sandbox.project)
    server.prompt(hung, v2.LONG_SHELL)
    (perm,) = v2.wait_permission(server, hung)
    allowed = operations.execute(operations.prepare(request(db, hung, allow_once=(hung,))))
    ((sent, answer),) = [(o.sent and o.settled, o.answer) for o in allowed.answered]
    assert (sent, answer) == (True, "once"), allowed.answered
    v2.wait_tool(db, hung)  # the shell runs: `sleep 600`
    queued = server.prompt(hung, v2.TEXT + " queued", delivery="queue")

    # a prompt queued behind it, listed, then cancelled on request (`inbox`: DELETE …/inbox/{id})
    (listed,) = cancel_inbox(db, hung, list_only=True).waiting
    assert (listed.id, listed.delivery, listed.text) == (queued["id"], "queue", v2.TEXT + " queued")
    cli = sandbox.ocinspect("inbox", hung, "--cancel", queued["id"], "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (cancelled,) = json.loads(cli.stdout)["inbox"]
    assert (cancelled["id"], cancelled["cancelled"]) == (queued["id"], True), cancelled
    assert v2.inbox_rows(db, hung) == []

    prepared = hung_for_long_enough(db, hung)
    assert [t.root for t in prepared.aborts] == [hung], prepared.refused
    done = operations.execute(prepared)
    (stopped,) = done.aborted
    assert stopped.stopped, stopped.detail
    ended(db, hung, "interrupted")
    assert tool_error(db, hung) == {"type": "aborted", "message": "Tool execution interrupted"}
    takes_a_new_prompt(sandbox, server, hung)
    assert not [r for r in v2.message_rows(db, hung) if r["type"] == "user" and "queued" in r["data"].get("text", "")]

    # reject, from the CLI (a subprocess: the password comes from the server's environment)
    rejected = server.open_session(sandbox.project)
    server.prompt(rejected, v2.QUICK)
    v2.wait_permission(server, rejected)
    cli = sandbox.ocinspect("recover", rejected, "--reject-waiting", "--yes", "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (said,) = json.loads(cli.stdout)["answered"]
    assert (said["answer"], said["sent"], said["settled"]) == ("reject", True, True), said
    ended(db, rejected, "interrupted")
    assert tool_error(db, rejected) == {"type": "aborted", "message": "The user declined this tool call"}
    takes_a_new_prompt(sandbox, server, rejected)

    # `watch --abort-hung-after`'s loop (in this process)
    watched = server.open_session(sandbox.project)
    server.prompt(watched, v2.LONG_SHELL)
    v2.wait_permission(server, watched)
    operations.execute(operations.prepare(request(db, watched, allow_once=(watched,))))
    v2.wait_tool(db, watched)
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER_MS, settle_timeout_s=20)
    try:
        stopped_by: list[WatchEvent] = h.wait_until(
            lambda: [e for e in dog.poll() if e.kind in ("aborted", "not-stopped")],
            timeout=30,
            interval=0.5,
            what="the watch to stop the hung shell",
        )
    finally:
        dog.close()
    assert [(e.kind, e.target.root if e.target else None) for e in stopped_by] == [("aborted", watched)]
    ended(db, watched, "interrupted")
    takes_a_new_prompt(sandbox, server, watched)

    # a hung subagent: its child is stopped alone, the parent's call fails and the parent goes on
    parent = server.open_session(sandbox.project)
    server.prompt(parent, v2.SUBAGENT)
    child = v2.wait_child(db, parent)
    v2.wait_permission(server, child)
    operations.execute(operations.prepare(request(db, child, allow_once=(child,))))
    v2.wait_tool(db, child)
    (target,) = (prepared := hung_for_long_enough(db, parent)).aborts
    assert (target.root, target.leaves) == (parent, (child,)), target
    (stopped,) = operations.execute(prepared).aborted
    assert stopped.stopped and stopped.aborted == (child,), stopped.detail
    ended(db, child, "interrupted")
    assert tool_error(db, parent, "subagent") == {
        "type": "tool.execution",
        "message": f"Subagent cancelled (sessionID: {child})",
    }
    ended(db, parent, "succeeded")  # the parent's model took the error and finished the turn
    takes_a_new_prompt(sandbox, server, parent)

    # a question nobody answers, dismissed by `watch --reject-waiting-after` (never allowed)
    asked = server.open_session(sandbox.project)
    server.prompt(asked, v2.QUESTION)
    h.wait_until(lambda: server.api("GET", f"/api/session/{asked}/form"), timeout=30, what="the question's form")
    with Watch(sandbox, "--reject-waiting-after", "1s") as watch:
        (event,) = watch.until(lambda e: e.get("session_id") == asked and e["event"] != "finding", timeout=40)
    assert (event["event"], event["kind"], event["answer"]) == ("rejected", "question", "reject"), watch.events
    ended(db, asked, "interrupted")
    assert tool_error(db, asked, "question") == {"type": "aborted", "message": "The user dismissed this question"}
    takes_a_new_prompt(sandbox, server, asked)

    assert server.proc is not None and server.proc.poll() is None and server.active() == {}  # up, running nothing

    # last: the server is gone between the plan and the answer: refused, nothing sent
    gone = server.open_session(sandbox.project)
    server.prompt(gone, v2.QUICK)
    v2.wait_permission(server, gone)
    prepared = operations.prepare(request(db, gone, reject_waiting=True))
    ((pending, _),) = prepared.answers
    server.kill()
    (outcome,) = operations.execute(prepared).answered
    assert (outcome.sent, outcome.settled) == (False, False), outcome
    assert f"no OpenCode 2 server on this database serves port {pending.port}" in outcome.detail

    # the managed service boots, re-runs that crashed turn and asks again: answered through it,
    # with the password of its service.json (ocinspect's own state dir is elsewhere)
    service = sandbox.start_service()
    h.wait_until(
        lambda: service.api("GET", f"/api/session/{gone}/permission"), timeout=45, what="the re-run turn to ask again"
    )
    assert [s.password_from for s in find_v2_servers(db).servers] == ["service.json"]
    cli = sandbox.ocinspect("recover", gone, "--reject-waiting", "--yes", "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (said,) = json.loads(cli.stdout)["answered"]
    assert (said["sent"], said["settled"], said["port"]) == (True, True, sandbox.service_port), said
    ended(db, gone, "interrupted")
    v2.kill_service(sandbox, service)

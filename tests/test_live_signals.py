"""Issue 18: busy sessions judged from OpenCode's own signals (status objects, pending requests,
the event stream) as well as rows.

Real SQLite files written as OpenCode 1.18.33 writes them (``tests/hung_db.build_signals``);
where a server is needed, a real loopback HTTP server stands in (``tests/standin.py``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.model import PendingRequest, ServerStatus
from inspector.core.opencode import signals as sig
from inspector.core.repair import abort, recover

from .conftest import NOW
from .hung_db import DIR, MINUTE, SECOND, Signals, build_signals
from .standin import StandIn

OVERLOADED = ServerStatus(
    type="retry",
    attempt=4,
    message="The model is overloaded",
    next=NOW + 16 * SECOND,
    raw=json.dumps({"type": "retry", "attempt": 4, "message": "The model is overloaded", "next": NOW + 16 * SECOND}),
)
TIMED_OUT = ServerStatus(
    type="retry",
    attempt=3,
    message="SSE read timed out",
    next=NOW + 2 * SECOND,
    raw=json.dumps({"type": "retry", "attempt": 3, "message": "SSE read timed out", "next": NOW + 2 * SECOND}),
)


@pytest.fixture
def sig_db(tmp_path: Path) -> tuple[Path, Signals]:
    path = tmp_path / "signals.db"
    return path, build_signals(path, NOW)


def permission_for(ids: Signals, port: int = 4096, **kw: object) -> PendingRequest:
    fields: dict[str, object] = dict(
        id="per_1",
        session_id=ids.permission,
        kind="permission",
        port=port,
        directory=DIR,
        permission="bash",
        patterns=("echo ok",),
        command="echo ok",
    )
    fields.update(kw)
    return PendingRequest(**fields)  # type: ignore[arg-type]


def verdicts(db: Path, live, hung_after_ms: int | None, **kw):
    return {
        d.id: d
        for d in scan(open_store(db), ScanOptions(live=live, now=NOW, hung_after_ms=hung_after_ms, **kw)).sessions
    }


# model stalled -----------------------------------------------------------------------------------


def test_slow_healthy_reply_is_live_past_a_short_threshold(sig_db) -> None:
    """ONE step whose text row is still empty (written when the reply ends): never hung."""
    db, ids = sig_db
    found = verdicts(db, ids.live(), hung_after_ms=5 * SECOND)
    assert found[ids.slow_reply].verdict == "live", found[ids.slow_reply].live_reason
    assert found[ids.slow_reply].hang is None


def test_stalled_model_with_restarted_steps_is_hung(sig_db) -> None:
    db, ids = sig_db
    live = ids.live(statuses=((ids.stalled, TIMED_OUT),))
    diag = verdicts(db, live, hung_after_ms=5 * MINUTE)[ids.stalled]
    assert (diag.verdict, diag.hang) == ("hung", "model-stalled")
    # retrying: the newest step's stream broke off too, so it counts as restarted
    assert diag.live_reason == (
        "model stalled: no new output for 7m 59s although OpenCode restarted the step "
        "4 times (last status: SSE read timed out, attempt 3)"
    )
    assert diag.idle_ms == 8 * MINUTE - 20  # since the turn began (it never produced output)
    assert diag.opencode_status == TIMED_OUT
    # between two cycles the status is busy again: still stalled, said so
    between = verdicts(db, ids.live(), hung_after_ms=5 * MINUTE)[ids.stalled]
    assert between.hang == "model-stalled" and between.live_reason.endswith("(status: busy)")


def test_stalled_model_before_the_threshold_is_live(sig_db) -> None:
    db, ids = sig_db
    diag = verdicts(db, ids.live(statuses=((ids.stalled, TIMED_OUT),)), hung_after_ms=10 * MINUTE)[ids.stalled]
    assert diag.verdict == "live"
    assert "retrying, attempt 3: SSE read timed out" in diag.live_reason


def test_rows_moving_every_cycle_do_not_hide_a_stall(sig_db, tmp_path: Path) -> None:
    """The newest cycle is 1 s old (rows moved), yet no output was kept for 8 minutes."""
    db = tmp_path / "fresh.db"
    ids = build_signals(db, NOW, stall_cycles=6)  # cycles at +100 s … +500 s, the last 3 min ago
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE part SET time_updated = ? WHERE id = (SELECT id FROM part WHERE session_id = ? "
        "ORDER BY time_created DESC LIMIT 1)",
        (NOW - SECOND, ids.stalled),
    )
    conn.commit()
    conn.close()
    diag = verdicts(db, ids.live(), hung_after_ms=5 * MINUTE)[ids.stalled]
    assert (diag.verdict, diag.hang) == ("hung", "model-stalled")
    assert "restarted the step 5 times" in diag.live_reason


def test_a_stall_at_its_first_retry_is_model_stalled_not_a_retry_loop(tmp_path: Path) -> None:
    """Measured on 1.18.33 with chunkTimeout 3000: the first step's stream broke off and the
    status is ``retry`` attempt 1 "SSE read timed out" before any new step: a stalled model."""
    db = tmp_path / "first.db"
    ids = build_signals(db, NOW, stall_cycles=1)
    first = ServerStatus(type="retry", attempt=1, message="SSE read timed out", next=NOW + 2 * SECOND)
    diag = verdicts(db, ids.live(statuses=((ids.stalled, first),)), hung_after_ms=5 * MINUTE)[ids.stalled]
    assert (diag.verdict, diag.hang) == ("hung", "model-stalled")
    assert "restarted the step once (last status: SSE read timed out, attempt 1)" in diag.live_reason
    # the same rows while busy (no retry yet): one step, no restart, live
    assert verdicts(db, ids.live(), hung_after_ms=5 * MINUTE)[ids.stalled].verdict == "live"


def test_one_step_without_text_yet_is_not_a_stall(sig_db, tmp_path: Path) -> None:
    """A single step (no restart) whose model has not answered for long: live, as before."""
    db = tmp_path / "one.db"
    ids = build_signals(db, NOW, stall_cycles=1)
    diag = verdicts(db, ids.live(), hung_after_ms=5 * MINUTE)[ids.stalled]
    assert diag.verdict == "live" and "no tool is running" in diag.live_reason


def test_event_progress_in_the_current_step_counts_after_one_restart(tmp_path: Path) -> None:
    """A transient stall, then a healthy stream seen on GET /event: live. After three restarts the
    current step's deltas do not save it (a loop whose output never persists)."""
    db = tmp_path / "two.db"
    ids = build_signals(db, NOW, stall_cycles=2)  # one restart; the current step began at +100 s
    streaming = ids.live(progress=((ids.stalled, NOW - SECOND),))
    assert verdicts(db, streaming, hung_after_ms=5 * MINUTE)[ids.stalled].verdict == "live"
    assert verdicts(db, ids.live(), hung_after_ms=5 * MINUTE)[ids.stalled].hang == "model-stalled"
    # progress from before the current step began was thrown away by the restart
    old = ids.live(progress=((ids.stalled, ids.stall_started + 50 * SECOND),))
    assert verdicts(db, old, hung_after_ms=5 * MINUTE)[ids.stalled].hang == "model-stalled"
    looped = tmp_path / "loop.db"
    ids = build_signals(looped, NOW, stall_cycles=4)
    streaming = ids.live(progress=((ids.stalled, NOW - SECOND),))
    assert verdicts(looped, streaming, hung_after_ms=5 * MINUTE)[ids.stalled].hang == "model-stalled"


# retry loop --------------------------------------------------------------------------------------


def test_retry_before_the_threshold_is_live_and_says_so(sig_db) -> None:
    db, ids = sig_db
    diag = verdicts(db, ids.live(statuses=((ids.retrying, OVERLOADED),)), hung_after_ms=5 * MINUTE)[ids.retrying]
    assert diag.verdict == "live"
    assert diag.live_reason.startswith("retrying, attempt 4: The model is overloaded; next try in 16s")
    # without a threshold too: the status alone says it
    plain = verdicts(db, ids.live(statuses=((ids.retrying, OVERLOADED),)), hung_after_ms=None)[ids.retrying]
    assert plain.live_reason.startswith("retrying, attempt 4: The model is overloaded; next try in 16s")


def test_retry_past_the_threshold_is_a_retry_loop(sig_db) -> None:
    db, ids = sig_db
    diag = verdicts(db, ids.live(statuses=((ids.retrying, OVERLOADED),)), hung_after_ms=MINUTE)[ids.retrying]
    assert (diag.verdict, diag.hang) == ("hung", "retry-loop")
    assert diag.live_reason.startswith("retry loop: retrying, attempt 4: The model is overloaded")


def test_retry_past_the_attempt_limit_is_a_retry_loop(sig_db) -> None:
    db, ids = sig_db
    many = ServerStatus(type="retry", attempt=11, message="Rate limited", next=NOW + 30 * SECOND)
    diag = verdicts(db, ids.live(statuses=((ids.retrying, many),)), hung_after_ms=15 * MINUTE)[ids.retrying]
    assert diag.hang == "retry-loop" and "attempt 11" in diag.live_reason
    ten = ServerStatus(type="retry", attempt=10, message="Rate limited", next=NOW + 30 * SECOND)
    assert (
        verdicts(db, ids.live(statuses=((ids.retrying, ten),)), hung_after_ms=15 * MINUTE)[ids.retrying].verdict
        == "live"
    )


def test_every_hung_shape_is_an_abort_target(sig_db) -> None:
    db, ids = sig_db
    live = ids.live(
        port=5555,
        statuses=((ids.stalled, TIMED_OUT), (ids.retrying, OVERLOADED)),
        waiting=frozenset({ids.permission, ids.asking_child}),
    )
    found = abort.find_hung(open_store(db), None, hung_after_ms=MINUTE, live=live, now=NOW)
    assert {t.root for t in found.targets} == {ids.stalled, ids.retrying}
    assert all(t.port == 5555 for t in found.targets)
    # and row repair refuses them like any live session
    plan = recover.plan(open_store(db), [ids.stalled], live=live, now=NOW)
    assert plan.is_empty and plan.refused[0].kind == "live"


# waiting -----------------------------------------------------------------------------------------


def test_permission_pending_is_waiting_with_the_command(sig_db) -> None:
    db, ids = sig_db
    request = permission_for(ids)
    live = ids.live(waiting=frozenset({ids.permission}), requests=(request,))
    diag = verdicts(db, live, hung_after_ms=5 * SECOND)[ids.permission]
    assert diag.verdict == "waiting" and diag.hang is None
    (asked,) = diag.waiting_on
    assert asked.since == NOW - 20 * MINUTE + 40  # the waiting bash part's start (no time sent)
    assert diag.live_reason.startswith('waiting for your answer: bash wants to run "echo ok" (asked 19m 59s ago')
    assert diag.live_reason.endswith("not hung")


def test_question_pending_says_the_question_and_when(sig_db) -> None:
    db, ids = sig_db
    request = PendingRequest(
        id="que_1",
        session_id=ids.question,
        kind="question",
        port=4096,
        question="Deploy to production?",
        since=NOW - 3 * MINUTE,
    )
    diag = verdicts(db, ids.live(waiting=frozenset({ids.question}), requests=(request,)), hung_after_ms=None)[
        ids.question
    ]
    assert diag.verdict == "waiting"
    assert 'question: "Deploy to production?" (asked 3m ago' in diag.live_reason


def test_a_chain_waiting_on_its_child_waits_as_a_whole(sig_db) -> None:
    db, ids = sig_db
    request = permission_for(
        ids,
        id="per_2",
        session_id=ids.asking_child,
        command="make deploy",
        patterns=("make deploy",),
        call_id=ids.child_call,
    )
    live = ids.live(waiting=frozenset({ids.asking_child}), requests=(request,))
    result = scan_related(
        open_store(db), [ids.asking_parent], ScanOptions(live=live, now=NOW, hung_after_ms=5 * SECOND)
    )
    parent, child = result.get(ids.asking_parent), result.get(ids.asking_child)
    assert (parent.verdict, child.verdict) == ("waiting", "waiting")
    assert parent.waiting_on == child.waiting_on and "make deploy" in parent.live_reason
    assert not abort.targets_in(result, live)  # never aborted
    plan = recover.plan(open_store(db), [ids.asking_parent], live=live, now=NOW)
    assert plan.is_empty and {s.kind for s in plan.refused} == {"waiting"}


# output ------------------------------------------------------------------------------------------


def test_json_and_text_carry_status_requests_and_hang(sig_db) -> None:
    from inspector.render import scan_json, scan_text, show_text

    db, ids = sig_db
    live = ids.live(
        statuses=((ids.stalled, TIMED_OUT), (ids.retrying, OVERLOADED)),
        waiting=frozenset({ids.permission}),
        requests=(permission_for(ids),),
    )
    result = scan(open_store(db), ScanOptions(live=live, now=NOW, hung_after_ms=5 * MINUTE))
    by_id = {s["id"]: s for s in scan_json(result)["sessions"]}
    stalled = by_id[ids.stalled]
    assert (stalled["verdict"], stalled["hang"]) == ("hung", "model-stalled")
    assert stalled["opencode_status"] == {"status": json.loads(TIMED_OUT.raw), "pending": []}
    waiting = by_id[ids.permission]
    assert waiting["verdict"] == "waiting" and waiting["hang"] is None
    assert waiting["opencode_status"]["pending"] == [
        {
            "id": "per_1",
            "session_id": ids.permission,
            "kind": "permission",
            "permission": "bash",
            "patterns": ["echo ok"],
            "command": "echo ok",
            "question": None,
            "since": NOW - 20 * MINUTE + 40,
        }
    ]
    assert by_id[ids.retrying]["opencode_status"]["status"]["attempt"] == 4
    assert (
        by_id[ids.slow_reply]["opencode_status"] == {"status": None, "pending": []}
        or by_id[ids.slow_reply]["opencode_status"] is None
    )
    text = "\n".join(scan_text(result))
    assert "hung: model stalled: no new output for 7m 59s" in text
    assert 'waiting for your answer: bash wants to run "echo ok"' in text
    assert f"reject it: ocinspect recover {ids.permission} --reject-waiting" in text
    assert f"recover {ids.slow_reply} --reject-waiting" not in text
    assert "live: retrying, attempt 4: The model is overloaded; next try in 16s" in text
    show = "\n".join(show_text(result.get(ids.permission), result))
    assert 'Asked     bash wants to run "echo ok"  since ' in show and "[per_1]" in show
    assert "Hang      model-stalled" in "\n".join(show_text(result.get(ids.stalled), result))


def test_request_text_is_data(sig_db) -> None:
    from inspector.render import scan_text

    db, ids = sig_db
    request = permission_for(ids, command="echo \x1b[31mred\u202e")
    live = ids.live(waiting=frozenset({ids.permission}), requests=(request,))
    text = "\n".join(scan_text(scan(open_store(db), ScanOptions(live=live, now=NOW, hung_after_ms=None))))
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[31mred" in text


def test_scan_exit_code_counts_waiting_like_live(sig_db, monkeypatch) -> None:
    from inspector import cli as cli_module
    from inspector.core.diagnose import scan as scan_module

    db, ids = sig_db
    waiting_only = ids.live(waiting=frozenset(ids.busy), requests=(permission_for(ids),))
    monkeypatch.setattr(scan_module, "liveness_for", lambda path, schema="v1": lambda dirs: waiting_only)
    result = CliRunner().invoke(cli_module.cli, ["--db", str(db), "scan", "--json"])
    assert result.exit_code == 0, result.output
    assert {s["verdict"] for s in json.loads(result.output)["sessions"]} == {"waiting"}


# detect() against a stand-in ----------------------------------------------------------------------


def test_detect_keeps_status_objects_and_requests_whole(sig_db, monkeypatch) -> None:
    from inspector.core.opencode import live as live_module

    db, ids = sig_db
    with StandIn(db, directory=DIR) as server:
        server.busy = {ids.retrying, ids.permission, ids.question}
        server.statuses = {ids.retrying: json.loads(OVERLOADED.raw)}
        server.permissions = [
            {
                "id": "per_9",
                "sessionID": ids.permission,
                "permission": "bash",
                "patterns": ["echo ok"],
                "metadata": {"command": "echo ok"},
                "always": ["echo *"],
                "tool": {"messageID": "msg_1", "callID": "call_1"},
            }
        ]
        server.questions = [
            {
                "id": "que_9",
                "sessionID": ids.question,
                "questions": [{"question": "Deploy?"}],
                "time": {"created": NOW - MINUTE},
            }
        ]
        process = live_module.OpenCodeProcess(pid=1, ports=(server.port,))
        monkeypatch.setattr(live_module, "find_processes", lambda db: ([process], False))
        status = live_module.detect(db, {DIR})
    assert status.status_of(ids.retrying) == OVERLOADED
    assert status.waiting == {ids.permission, ids.question}
    by_id = {r.id: r for r in status.requests}
    assert by_id["per_9"].command == "echo ok" and by_id["per_9"].call_id == "call_1"
    assert by_id["que_9"].question == "Deploy?" and by_id["que_9"].since == NOW - MINUTE
    assert status.verdict(ids.retrying, DIR)[0] == "live"
    found = verdicts(db, status, hung_after_ms=None)
    assert found[ids.permission].verdict == "waiting" and found[ids.question].verdict == "waiting"
    assert found[ids.retrying].live_reason.startswith("retrying, attempt 4: The model is overloaded")


# the event subscription -----------------------------------------------------------------------------


def frame(payload: dict) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def test_progress_of_counts_output_not_restarts() -> None:
    part = {"type": "text", "text": "Hel", "sessionID": "ses_a", "messageID": "msg_1", "id": "prt_1"}
    assert (
        sig.progress_of(
            {
                "type": "message.part.delta",
                "properties": {
                    "sessionID": "ses_a",
                    "messageID": "msg_1",
                    "partID": "prt_1",
                    "field": "text",
                    "delta": "lo",
                },
            }
        )
        == "ses_a"
    )
    assert (
        sig.progress_of({"type": "message.part.updated", "properties": {"sessionID": "ses_a", "part": part}}) == "ses_a"
    )
    assert (
        sig.progress_of(
            {
                "directory": DIR,
                "payload": {"type": "session.next.text.delta", "properties": {"sessionID": "ses_g", "delta": "x"}},
            }
        )
        == "ses_g"
    )
    # what a stalled stream publishes at every restart is not progress
    step = {"type": "step-start", "sessionID": "ses_a"}
    empty = {**part, "text": ""}
    for event in (
        {"type": "message.part.updated", "properties": {"sessionID": "ses_a", "part": step}},
        {"type": "message.part.updated", "properties": {"sessionID": "ses_a", "part": empty}},
        {"type": "message.part.delta", "properties": {"sessionID": "ses_a", "delta": ""}},
        {"type": "session.status", "properties": {"sessionID": "ses_a", "status": {"type": "busy"}}},
        {"type": "server.connected", "properties": {}},
        "not json",
        None,
    ):
        assert sig.progress_of(event) is None, event


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_signals_follow_each_server_and_reconnect(sig_db) -> None:
    db, ids = sig_db
    with StandIn(db, directory=DIR) as server:
        server.events = [
            frame({"type": "server.connected", "properties": {}}),
            frame(
                {
                    "type": "message.part.delta",
                    "properties": {
                        "sessionID": ids.slow_reply,
                        "messageID": "m",
                        "partID": "p",
                        "field": "text",
                        "delta": "word",
                    },
                }
            ),
            frame(
                {
                    "type": "message.part.updated",
                    "properties": {"sessionID": ids.stalled, "part": {"type": "step-start", "sessionID": ids.stalled}},
                }
            ),
        ]
        hub = sig.Signals(clock=lambda: NOW - SECOND, backoff_s=0.05, backoff_max_s=0.1)
        try:
            live = ids.live(port=server.port, servers=((DIR, server.port),))
            merged = hub.merge(live)
            assert hub.following == {(server.port, DIR)}
            wait_for(lambda: ids.slow_reply in hub.snapshot())
            assert ids.stalled not in hub.snapshot()  # a restarted step is no progress
            wait_for(lambda: server.paths("GET").count("/event") >= 3)  # the stand-in closes: reopened
            assert hub.merge(live).progress == ((ids.slow_reply, NOW - SECOND),)
            assert merged.busy == live.busy
            (ask,) = [q for m, p, q, _ in server.requests if p == "/event"][:1]
            assert ask["directory"] == [DIR]
            hub.merge(ids.live())  # no server named any more: its stream stops
            assert hub.following == set()
        finally:
            hub.close()


def test_signals_keep_only_the_newest_time_per_session() -> None:
    hub = sig.Signals(max_sessions=3)
    for n in range(10):
        hub.record(f"ses_{n}", n)
    hub.record("ses_7", 99)
    assert hub.snapshot() == {"ses_8": 8, "ses_9": 9, "ses_7": 99}


def test_watchdog_uses_event_progress(sig_db) -> None:
    """A bash that prints only to the event stream (its row silent) is not aborted by watch."""
    from inspector.core.model import LiveStatus
    from inspector.core.repair.watchdog import Watchdog

    db, ids = sig_db
    with StandIn(db, directory=DIR) as server:
        server.busy = {ids.permission}  # its bash: a plain running tool, silent 20 min in rows
        server.events = [
            frame(
                {
                    "type": "message.part.updated",
                    "properties": {
                        "sessionID": ids.permission,
                        "part": {"type": "tool", "sessionID": ids.permission, "state": {"status": "running"}},
                    },
                }
            )
        ]
        server.event_delay = 0.01

        def detect(path, directories):
            return LiveStatus(
                running=True,
                busy=frozenset(server.busy),
                owners=((ids.permission, server.port),),
                servers=((DIR, server.port),),
            )

        hub = sig.Signals(backoff_s=0.05, backoff_max_s=0.1, warmup_s=0.5)
        dog = Watchdog(db, abort_after_ms=5 * MINUTE, detect_live=detect, signals=hub, settle_timeout_s=1)
        try:
            assert not [e for e in dog.poll() if e.target]  # opens the stream: no abort before it warmed up
            wait_for(lambda: ids.permission in hub.snapshot())
            time.sleep(0.5)
            assert not [e for e in dog.poll() if e.target]
            assert f"/session/{ids.permission}/abort" not in server.paths("POST")
        finally:
            dog.close()
        # without the stream the same session is hung and aborted
        dog = Watchdog(db, abort_after_ms=5 * MINUTE, detect_live=detect, settle_timeout_s=1)
        try:
            assert [e.target.root for e in dog.poll() if e.target] == [ids.permission]
        finally:
            dog.close()

"""Hung and waiting OpenCode 2 sessions, judged by the same rules as 1.x (``diagnose/hung.py``).

Copies of the real 2.1.2 fixture ``v2-stuck-bash.db`` reshaped into each live shape by what 2.1.2
writes (measured: ``docs/design/opencode-2.md``, "Live signals, measured"); ``live`` is pinned as
a server's look would answer; a real loopback server stands in for the look itself. The real
binary is proven in ``tests/e2e/v2/test_v2_hung.py``.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import Diagnosis, LiveStatus, ServerStatus
from inspector.core.opencode import signals as sig
from inspector.core.opencode import v2_signals
from inspector.core.opencode.client import Credentials
from inspector.core.opencode.v2_live import status_of
from inspector.core.opencode.v2_servers import V2Discovery, V2Server
from tests.support.databases import execute as sql
from tests.support.databases import rows

FIXTURE = Path(__file__).parent / "fixtures" / "v2" / "v2-stuck-bash.db"
SID = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"
DIR = "/home/dev/src/webapp"
PROMPTED = 1796650268627  # the user row
REPLY = "msg_250b377f7001cGlZKfmCpObawO"
REPLY_CREATED = 1796650268709
TOOL_RAN = 1796650268910
MINUTE = 60_000
HUNG_AFTER = 15 * MINUTE


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURE, path)
    return path


def reply_data(db: Path) -> dict[str, Any]:
    ((data,),) = rows(db, "SELECT data FROM session_message WHERE id = ?", REPLY)
    value: dict[str, Any] = json.loads(data)
    return value


def set_reply(db: Path, data: dict[str, Any]) -> None:
    sql(db, "UPDATE session_message SET data = ? WHERE id = ?", json.dumps(data), REPLY)


def add_row(db: Path, row_id: str, kind: str, seq: int, data: dict[str, Any]) -> None:
    created = data["time"]["created"]
    sql(
        db,
        "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        row_id,
        SID,
        kind,
        seq,
        created,
        created,
        json.dumps(data),
    )


def running(
    status: ServerStatus | None = None, progress: int | None = None, waiting: bool = False, **more: Any
) -> LiveStatus:
    """What a look at a server running ``SID`` answers."""
    status = status or ServerStatus(type="running", raw='{"type": "running"}')
    return LiveStatus(
        running=True,
        busy=frozenset({SID}),
        owners=((SID, 4096),),
        statuses=((SID, status),),
        progress=((SID, progress),) if progress is not None else (),
        waiting=frozenset({SID}) if waiting else frozenset(),
        **more,
    )


def judged(db: Path, live: LiveStatus, now: int) -> Diagnosis:
    store = open_store(db)
    try:
        result = scan(store, ScanOptions(live=live, now=now, hung_after_ms=HUNG_AFTER))
    finally:
        store.dispose()
    return next(d for d in result.sessions if d.id == SID)


# tool silent ------------------------------------------------------------------------------------


def test_a_shell_silent_past_the_threshold_is_hung(db: Path) -> None:
    diag = judged(db, running(), TOOL_RAN + 20 * MINUTE)
    assert (diag.verdict, diag.hang) == ("hung", "tool-silent")
    assert "sleep 600" in diag.live_reason and diag.idle_ms == 20 * MINUTE


def test_a_shell_silent_under_the_threshold_is_live(db: Path) -> None:
    diag = judged(db, running(), TOOL_RAN + 5 * MINUTE)
    assert (diag.verdict, diag.hang, diag.idle_ms) == ("live", None, 5 * MINUTE)


def test_a_shell_that_printed_lately_is_live(db: Path) -> None:
    """Its output file changed a minute ago (the look's ``progress``): the rows never move."""
    now = TOOL_RAN + 20 * MINUTE
    diag = judged(db, running(progress=now - MINUTE), now)
    assert (diag.verdict, diag.idle_ms) == ("live", MINUTE)


# retry loop -------------------------------------------------------------------------------------


def retrying(db: Path, attempt: int) -> ServerStatus:
    """A call refused before streaming: the reply holds no content and ``retry``; so says the look."""
    data = reply_data(db)
    data["content"] = []
    data["retry"] = {"attempt": attempt, "at": REPLY_CREATED + 1, "error": {"message": "The model is overloaded"}}
    set_reply(db, data)
    return ServerStatus(type="retry", attempt=attempt, message="The model is overloaded", next=REPLY_CREATED + 1)


def test_a_retry_nothing_else_moved_for_is_a_retry_loop(db: Path) -> None:
    diag = judged(db, running(retrying(db, 4)), REPLY_CREATED + 20 * MINUTE)
    assert (diag.verdict, diag.hang) == ("hung", "retry-loop")
    assert "overloaded" in diag.live_reason


def test_a_retry_loop_is_timed_from_the_prompt_not_from_the_last_attempt(db: Path) -> None:
    """2.1.2 rewrites the retried row's ``time.created`` (and its column) at every attempt."""
    status = retrying(db, 4)
    now = PROMPTED + 20 * MINUTE
    data = reply_data(db)
    data["time"] = {"created": now - 30_000}
    set_reply(db, data)
    sql(db, "UPDATE session_message SET time_created = ?, time_updated = ? WHERE id = ?", now - 30_000, now, REPLY)
    diag = judged(db, running(status), now)
    assert (diag.verdict, diag.hang, diag.idle_ms) == ("hung", "retry-loop", 20 * MINUTE)


def test_a_retry_under_the_threshold_is_live(db: Path) -> None:
    diag = judged(db, running(retrying(db, 2)), REPLY_CREATED + MINUTE)
    assert (diag.verdict, diag.hang) == ("live", None)


# model stalled ----------------------------------------------------------------------------------


def stalled(db: Path, restarts: int) -> int:
    """2.1.2's stalled stream: each attempt's row ends with an error (its text kept), a
    ``synthetic`` notice, a new row streaming; returns when the last attempt began."""
    data = reply_data(db)
    at = REPLY_CREATED
    failed = {"type": "provider.transport", "message": "Timed out waiting for response data"}
    data.update(content=[{"type": "text", "text": "Let me look"}], finish="error", error=failed)
    data["time"] = {"created": at, "completed": at + 3000}
    set_reply(db, data)
    for n in range(restarts):
        at += 5000
        notice = {"time": {"created": at - 10}, "text": "The previous response was interrupted. Continue…"}
        add_row(db, f"msg_zz{n:02d}a", "synthetic", 100 + 2 * n, notice)
        step: dict[str, Any] = {"time": {"created": at}, "content": [{"type": "text", "text": ""}]}
        if n + 1 < restarts:
            step.update(content=[{"type": "text", "text": "Let me look"}], finish="error", error=failed)
            step["time"]["completed"] = at + 3000
        add_row(db, f"msg_zz{n:02d}b", "assistant", 101 + 2 * n, step)
    return at


def test_a_stream_restarted_without_output_is_model_stalled(db: Path) -> None:
    stalled(db, 2)
    diag = judged(db, running(), PROMPTED + 20 * MINUTE)
    assert (diag.verdict, diag.hang) == ("hung", "model-stalled")
    assert "restarted the step 2 times" in diag.live_reason


def test_one_slow_step_without_a_restart_is_not_stalled(db: Path) -> None:
    """A healthy slow reply: one row whose text stays empty until the step ends."""
    data = reply_data(db)
    data["content"] = [{"type": "text", "text": ""}]
    set_reply(db, data)
    diag = judged(db, running(), PROMPTED + 20 * MINUTE)
    assert (diag.verdict, diag.hang) == ("live", None)


# resume loop ------------------------------------------------------------------------------------


def test_a_turn_the_service_re_ran_three_times_is_a_resume_loop(db: Path) -> None:
    sql(db, "UPDATE session_v2 SET resume_attempts = 3 WHERE id = ?", SID)
    diag = judged(db, running(), TOOL_RAN + MINUTE)  # working, even: it keeps dying
    assert (diag.verdict, diag.hang) == ("hung", "resume-loop")
    assert "re-ran this turn 3 times" in diag.live_reason


def test_two_resumes_are_not_a_loop_yet(db: Path) -> None:
    sql(db, "UPDATE session_v2 SET resume_attempts = 2 WHERE id = ?", SID)
    diag = judged(db, running(), TOOL_RAN + MINUTE)
    assert (diag.verdict, diag.hang) == ("live", None)


# the event stream -------------------------------------------------------------------------------


def event(kind: str, **data: Any) -> dict[str, Any]:
    return {"id": "evt_1", "created": 1, "type": kind, "data": {"sessionID": SID, **data}}


@pytest.mark.parametrize(
    ("item", "progress"),
    [
        (event("session.text.delta", delta="word0 "), True),
        (event("session.reasoning.delta", delta="hm"), True),
        (event("session.text.delta", delta=""), False),
        (event("session.tool.called", id="call_1"), True),
        (event("session.tool.progress", metadata={"shellID": "sh_1"}), True),
        (event("session.step.ended"), True),
        (event("session.step.started"), False),
        (event("session.step.failed", error={"message": "Timed out"}), False),
        (event("session.retry.scheduled", attempt=2), False),
        (event("session.synthetic", text="The previous response was interrupted."), False),
        ({"type": "session.text.delta", "data": {"delta": "x"}}, False),
        ("not an event", False),
    ],
)
def test_what_counts_as_progress_on_the_event_stream(item: Any, progress: bool) -> None:
    assert v2_signals.progress_of(item) == (SID if progress else None)


def test_a_watch_follows_each_v2_server_once_and_keeps_the_looks_progress() -> None:
    signals = sig.Signals(backoff_s=30.0)
    try:
        merged = signals.merge(running(progress=1234, streams=(9,)))
        assert signals.following == {(9, sig.V2_STREAM)}
        assert merged.progress_of(SID) == 1234
        signals.record(SID, 5678)
        assert signals.merge(running(progress=1234, streams=(9,))).progress_of(SID) == 5678
        assert signals.warming(9, DIR)
    finally:
        signals.close()


# the look at a server ---------------------------------------------------------------------------


class V2StandIn:
    """A loopback server answering the routes a look asks, with 2.1.2's measured answers."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                stand_in.asked.append(self.path)
                body = json.dumps(stand_in.answers.get(self.path, {"data": []})).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def look_at(tmp_path: Path) -> Iterator[Any]:
    made: list[V2StandIn] = []

    def look(answers: dict[str, Any]) -> LiveStatus:
        stand_in = V2StandIn(answers)
        made.append(stand_in)
        server = V2Server(
            pid=1,
            kind="plain",
            host="127.0.0.1",
            ports=(stand_in.port,),
            credentials=Credentials("opencode", "pw"),
            password_from="ours",
        )
        return status_of(V2Discovery(servers=(server,)), [DIR], timeout=5, budget=10, data_dir=tmp_path)

    yield look
    for stand_in in made:
        stand_in.close()


ACTIVE = {"/api/session/active": {"data": {SID: {"type": "running"}}}}
MESSAGES = f"/api/session/{SID}/message?limit=1"


def test_the_look_reads_a_retry_from_the_newest_message(look_at: Any) -> None:
    retry = {"attempt": 4, "at": 99, "error": {"type": "provider.internal", "message": "The model is overloaded"}}
    live = look_at({**ACTIVE, MESSAGES: {"data": [{"type": "assistant", "content": [], "retry": retry}]}})
    status = live.status_of(SID)
    assert status is not None
    assert (status.type, status.attempt, status.message, status.next) == ("retry", 4, "The model is overloaded", 99)
    assert live.verdict(SID, DIR)[0] == "live" and live.streams


def test_the_look_finds_a_question_and_a_permission(look_at: Any) -> None:
    form = {
        "id": "frm_1",
        "sessionID": SID,
        "metadata": {"kind": "question", "tool": {"messageID": REPLY, "id": "call_q"}},
        "fields": [{"key": "q0", "title": "Deploy", "description": "Deploy to production?"}],
    }
    permission = {"id": "per_1", "action": "shell", "resources": ["echo ok"], "source": {"id": "call_p"}}
    live = look_at(
        {
            **ACTIVE,
            f"/api/session/{SID}/form": {"data": [form]},
            f"/api/session/{SID}/permission": {"data": [permission]},
        }
    )
    assert live.verdict(SID, DIR)[0] == "waiting"
    asked = {r.kind: r for r in live.requests_of(SID)}
    assert asked["question"].question == "Deploy to production?" and asked["question"].call_id == "call_q"
    assert asked["permission"].call_id == "call_p"


def test_the_look_takes_a_shells_output_time_from_its_file_only_under_the_data_dir(
    look_at: Any, tmp_path: Path
) -> None:
    out = tmp_path / "shell" / "sh_1.out"
    out.parent.mkdir()
    out.write_text("tick 1\n")
    os.utime(out, (1_700_000_000.5, 1_700_000_000.5))
    elsewhere = tmp_path.parent / "elsewhere.out"
    elsewhere.write_text("x")
    shells = [
        {"id": "sh_1", "status": "running", "file": str(out), "metadata": {"sessionID": SID}},
        {"id": "sh_2", "status": "running", "file": str(elsewhere), "metadata": {"sessionID": "ses_other"}},
        {
            "id": "sh_3",
            "status": "running",
            "file": str(tmp_path / ".." / "elsewhere.out"),
            "metadata": {"sessionID": SID},
        },
        {"id": "sh_4", "status": "running", "file": str(out), "metadata": {"sessionID": [SID]}},
        {"id": "sh_5", "status": "running", "file": f"{out}\u0000x", "metadata": {"sessionID": SID}},
        {"id": "sh_6", "status": "exited", "file": str(out), "metadata": {"sessionID": SID}},
    ]
    live = look_at({**ACTIVE, "/api/shell": {"data": shells}})
    assert live.progress == ((SID, 1_700_000_000_500),)

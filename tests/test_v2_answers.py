"""Answers to a 2.x database are refused before anything is sent when they cannot go right.

The routes themselves are proven on the real 2.1.2 (``tests/e2e/v2/test_v2_answers.py``); here a
recording loopback server (``tests/support/standin.py``) stands where an OpenCode 2 would be, and
what ``find_v2_servers`` found is pinned, so each refusal is checked fast: the server that serves
another port (or none), a server whose password we do not hold, a session no server runs, an
inbox on a generation that has none. Every refusal leaves the file and the server untouched.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.errors import WritesDisabled
from inspector.core.model import Answer, PendingRequest, ServerStatus
from inspector.core.opencode import v2_answers
from inspector.core.opencode.client import Credentials
from inspector.core.opencode.turn_servers import InboxItem, NoTurnServer, turn_server
from inspector.core.opencode.v2_servers import V2Discovery, V2Server
from inspector.core.repair.abort import AbortTarget, abort_chain
from inspector.core.repair.answer import answer_request
from inspector.core.repair.inbox import cancel_inbox
from tests.support.databases import sha256
from tests.support.standin import StandIn

FIXTURES = Path(__file__).parent / "fixtures"
SID = "ses_v2answer"


@pytest.fixture
def v2_db(tmp_path: Path) -> Path:
    path = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "v2" / "v2-stuck-queued.db", path)
    return path


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


def pin(monkeypatch: pytest.MonkeyPatch, *servers: V2Server) -> None:
    """What process discovery finds on the database (a stand-in is not an ``opencode`` process)."""
    monkeypatch.setattr(v2_answers, "find_v2_servers", lambda db: V2Discovery(servers=servers))


def v2_server(port: int, *, password: str | None = "pw") -> V2Server:
    credentials = Credentials("opencode", password) if password else None
    return V2Server(4242, "plain", "127.0.0.1", (port,), credentials, "its environment" if password else "none")


def target(port: int | None) -> AbortTarget:
    return AbortTarget(SID, (SID,), "/home/dev/src/webapp", port, "t", 1000, "hung")


def test_no_server_on_the_port_refuses_and_sends_nothing(
    v2_db: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin(monkeypatch, v2_server(standin.port + 1 if standin.port < 65535 else 1))
    before = sha256(v2_db)
    outcome = abort_chain(open_store(v2_db), target(standin.port), settle_timeout_s=0.2)
    assert not outcome.stopped and outcome.aborted == ()
    assert f"no OpenCode 2 server on this database serves port {standin.port} any more" in outcome.detail
    assert standin.requests == [] and sha256(v2_db) == before


def test_a_server_whose_password_we_do_not_hold_is_refused_before_anything_is_sent(
    v2_db: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin(monkeypatch, v2_server(standin.port, password=None))
    request = PendingRequest("per_1", SID, "permission", standin.port, permission="shell")
    done = answer_request(open_store(v2_db), request, "reject", settle_timeout_s=0.2)
    assert (done.sent, done.settled) == (False, False)
    assert "needs its password" in done.detail and "nothing was sent" in done.detail
    assert standin.requests == []


def test_a_session_no_server_runs_is_not_stopped(v2_db: Path) -> None:
    outcome = abort_chain(open_store(v2_db), target(None), settle_timeout_s=0.2)
    assert (outcome.stopped, outcome.aborted) == (False, ())
    assert outcome.detail == "no OpenCode server lists this session busy any more; nothing was sent"


def test_the_v2_server_is_reached_with_the_password_it_was_found_with(
    v2_db: Path, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin(monkeypatch, v2_server(standin.port, password="from-its-environment"))
    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "ours-not-its")
    server = turn_server(v2_db, standin.port, schema="v2")
    assert isinstance(server, v2_answers.V2TurnServer)
    assert server.client.credentials == Credentials("opencode", "from-its-environment")
    assert server.stops_leaves_first


def test_several_servers_and_no_port_is_no_choice(v2_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin(monkeypatch, v2_server(40001), v2_server(40002))
    with pytest.raises(NoTurnServer, match="2 OpenCode 2 servers serve this database"):
        turn_server(v2_db, None, schema="v2")


def test_cancelling_the_inbox_without_a_server_is_refused(v2_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin(monkeypatch)
    sid = inbox_session(v2_db)
    before = sha256(v2_db)
    with pytest.raises(NoTurnServer, match="no OpenCode 2 server serves this database"):
        cancel_inbox(v2_db, sid)
    with pytest.raises(WritesDisabled):
        cancel_inbox(v2_db, sid, read_only=True)
    assert sha256(v2_db) == before


def test_a_1x_session_has_no_inbox_to_cancel(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "opencode-1.18.33-stuck-bash.db", db)
    sid = only_session(db)
    result = cancel_inbox(db, sid, ["msg_x"])
    assert (result.waiting, result.outcomes, result.unknown, result.ok) == ((), (), ("msg_x",), False)


def first_id(db: Path, sql: str) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (found,) = conn.execute(sql).fetchone()
        return str(found)
    finally:
        conn.close()


def inbox_session(db: Path) -> str:
    return first_id(db, "SELECT DISTINCT session_id FROM session_inbox")


def only_session(db: Path) -> str:
    return first_id(db, "SELECT id FROM session ORDER BY time_created LIMIT 1")


def test_the_inbox_command_says_what_waits_and_refuses_bad_input(tmp_path: Path, v2_db: Path) -> None:
    """A process (no stand-in: nothing serves this database): one line, a documented exit code."""
    from tests.support.cli import ocinspect

    db = tmp_path / "v1.db"
    shutil.copyfile(FIXTURES / "opencode-1.18.33-stuck-bash.db", db)
    sid = only_session(db)
    listed = ocinspect("--db", str(db), "inbox", sid)
    assert (listed.returncode, listed.stdout.strip()) == (0, f"{sid}: no prompt waits undelivered"), listed.stderr
    unknown = ocinspect("--db", str(db), "inbox", sid, "--cancel", "msg_gone")
    assert unknown.returncode == 1 and unknown.stderr.strip() == "msg_gone: not in its inbox; nothing was sent"
    both = ocinspect("--db", str(db), "inbox", sid, "--cancel", "msg_x", "--cancel-all")
    assert both.returncode == 2 and "not both" in both.stderr
    before = sha256(v2_db)
    offline = ocinspect("--db", str(v2_db), "inbox", inbox_session(v2_db), "--cancel-all")
    assert offline.returncode == 2 and offline.stderr.count("\n") == 1, offline.stderr
    assert "no OpenCode 2 server serves this database; nothing was sent" in offline.stderr
    assert sha256(v2_db) == before


def test_watch_follows_a_2x_database_and_rejects_what_waits_never_allowing(tmp_path: Path) -> None:
    """``watch`` used to refuse 2.x; now it reads v2's open turns and answers through the seam
    (the answer itself is recorded here: the routes are the e2e's)."""
    from inspector.core.model import LiveStatus
    from inspector.core.repair.answer import AnswerOutcome
    from inspector.core.repair.watchdog import Watchdog

    db = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "v2" / "v2-stuck-bash.db", db)
    sid = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"
    asked = PendingRequest("per_1", sid, "permission", 4096, permission="shell", since=1_000)
    live = LiveStatus(
        running=True, busy=frozenset({sid}), waiting=frozenset({sid}), owners=((sid, 4096),), requests=(asked,)
    )
    sent: list[tuple[str, str]] = []

    def answer(store: object, request: PendingRequest, reply: str, **kw: object) -> AnswerOutcome:
        sent.append((request.id, reply))
        return AnswerOutcome(request, "reject", True, True, "rejected")

    dog = Watchdog(
        db,
        abort_after_ms=60_000,
        reject_after_ms=5_000,
        clock=lambda: 10_000,
        detect_live=lambda *a, **k: live,
        answer=answer,
    )
    try:
        events = dog.poll()
    finally:
        dog.close()
    answered = [(e.kind, e.answer.request.id) for e in events if e.answer is not None]
    assert answered == [("rejected", "per_1")], events
    assert sent == [("per_1", "reject")]


@pytest.mark.parametrize(
    ("busy", "leaves"),
    [
        ({"ses_daf4c7c10ffew1UjuuDtYnuYWw", "ses_daf4c74c3ffeqY2Q3qA4QfBYl8"}, ("ses_daf4c74c3ffeqY2Q3qA4QfBYl8",)),
        ({"ses_daf4c7c10ffew1UjuuDtYnuYWw"}, ("ses_daf4c7c10ffew1UjuuDtYnuYWw",)),  # the child finished: its parent
    ],
)
def test_a_hung_chain_names_its_innermost_working_members(
    tmp_path: Path, busy: set[str], leaves: tuple[str, ...]
) -> None:
    """Where v2 stops a subagent alone (its parent goes on), the turns to stop are the busy
    members with no busy subagent: never a member that already finished."""
    from dataclasses import replace

    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.diagnose.scan import scan
    from inspector.core.model import LiveStatus
    from inspector.core.repair.abort import targets_in

    db = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "v2" / "v2-stuck-task.db", db)
    live = LiveStatus(running=True, busy=frozenset(busy), owners=tuple((s, 4096) for s in sorted(busy)))
    result = scan(open_store(db), ScanOptions(live=live))
    hung = replace(result, sessions=tuple(replace(d, verdict="hung") for d in result.sessions))
    (found,) = targets_in(hung, live)
    assert (found.root, found.leaves) == ("ses_daf4c7c10ffew1UjuuDtYnuYWw", leaves)


class EndedAsShutdown:
    """A v2 server as 2.1.2 behaves when its interrupt after a reject comes too late: it took the
    answer and runs nothing, and the rows still hold the claim (a ``TurnServer`` in memory: what
    is tested is how ``answer_request`` reads the rows afterwards)."""

    port = 4096
    stops_leaves_first = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def busy(self, directory: str) -> dict[str, ServerStatus]:
        return {}

    def stop(self, session_id: str, directory: str) -> bool:
        return False

    def pending(self, directory: str) -> list[PendingRequest]:
        return []

    def reply_permission(self, request: PendingRequest, answer: Answer) -> str:
        self.sent.append((request.id, answer))
        return "/api/session/…/permission/…/reply"

    def dismiss_question(self, request: PendingRequest) -> str:
        raise AssertionError("not a question")

    def inbox(self, session_id: str) -> list[InboxItem]:
        return []

    def cancel_inbox(self, session_id: str, item_id: str) -> str:
        raise AssertionError("not asked")


def test_a_claim_v2_kept_after_the_reject_is_said_not_settled(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "v2" / "v2-stuck-ask.db", db)
    sid = "ses_daf45b617ffeWuecwr1KT6Pd5U"
    request = PendingRequest(
        "per_1",
        sid,
        "permission",
        4096,
        permission="shell",
        message_id="msg_250ba5018001eQgsetJQ2sgcM5",
        call_id="call_1796650717296265",
    )
    server = EndedAsShutdown()
    before = sha256(db)
    done = answer_request(open_store(db), request, "reject", server=server, settle_timeout_s=0.2)
    assert server.sent == [("per_1", "reject")]
    assert (done.sent, done.settled) == (True, False), done.detail
    assert "kept its claim on the turn it no longer runs" in done.detail and f"recover {sid}" in done.detail
    assert sha256(db) == before


def test_a_v2_message_left_unfinished_before_its_idle_row_is_not_an_open_turn(tmp_path: Path) -> None:
    """2.1.2 interrupted in a retry wait writes ``idle`` ``interrupted`` and leaves the retried
    call's message without ``time.completed`` (it completes it at the next prompt): the turn is
    over, so a stop that ends so is not reported as leaving it open. Without the idle row it is."""
    db = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURES / "v2" / "v2-clean.db", db)
    conn = sqlite3.connect(db)
    sid, mid = conn.execute(
        "SELECT session_id, id FROM session_message WHERE type = 'assistant' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    conn.execute("UPDATE session_message SET data = json_remove(data, '$.time.completed') WHERE id = ?", (mid,))
    conn.commit()
    with open_store(db).reading() as reads:
        assert reads.open_rows([sid]) == ()
    conn.execute("DELETE FROM session_message WHERE session_id = ? AND type = 'idle'", (sid,))
    conn.commit()
    conn.close()
    with open_store(db).reading() as reads:
        assert [(r.kind, r.id) for r in reads.open_rows([sid])] == [("turn", mid)]

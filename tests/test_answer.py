"""Answering what a live OpenCode waits on (``core/repair/answer.py``, through ``operations``).

A waiting session is live: it is refused with what it is asked, or (when a person asks for it)
its permission/question is answered through the server that holds it, and OpenCode itself closes
the tool. The stand-in (``tests/standin.py``) is a real loopback server that writes the real
SQLite file as OpenCode 1.18.33 does on a reject; ``tests/e2e`` proves the real binary.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import PendingRequest
from inspector.core.repair import operations
from inspector.core.repair.answer import REJECTED_ERROR, answer_line, answer_request

from .conftest import NOW, rows
from .standin import DISMISSED, StandIn
from .waiting_db import DIR, Waiting, build_waiting, part_state, turn_completed


@pytest.fixture
def waiting_db(tmp_path: Path) -> tuple[Path, Waiting]:
    path = tmp_path / "waiting.db"
    return path, build_waiting(path, NOW)


def dump(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, time_updated, data FROM part ORDER BY id") + rows(
        db, "SELECT id, time_updated, data FROM message ORDER BY id"
    )


def request(db: Path, live, session_ids=None, **kw) -> operations.Request:
    return operations.Request(database=db, session_ids=session_ids, live=live, now=NOW, settle_timeout_s=3, **kw)


def test_a_waiting_session_is_refused_with_what_it_is_asked(waiting_db) -> None:
    db, ids = waiting_db
    prepared = operations.prepare(request(db, ids.live(), (ids.permission.session,)))
    assert prepared.is_empty and prepared.answers == ()
    (skip,) = prepared.refused
    assert (skip.id, skip.kind, skip.hint) == (ids.permission.session, "waiting", "reject-waiting")
    assert "bash: echo ok (asked 3m ago)" in skip.reason
    assert "--" not in skip.reason  # the front end names the flag or key


def test_all_repairs_the_stale_and_refuses_every_waiting_session(waiting_db) -> None:
    db, ids = waiting_db
    prepared = operations.prepare(request(db, ids.live()))
    assert prepared.plan.session_ids == (ids.stale,)
    kinds = {s.id: (s.kind, s.hint) for s in prepared.refused}
    assert kinds == {
        ids.permission.session: ("waiting", "reject-waiting"),
        ids.question.session: ("waiting", "reject-waiting"),
        ids.chain_parent: ("waiting", "reject-waiting"),  # its subagent asks
        ids.child.session: ("waiting", "reject-waiting"),
        ids.working: ("live", "force"),
    }
    reasons = {s.id: s.reason for s in prepared.refused}
    assert "question: Deploy to production? (asked 5m ago)" in reasons[ids.question.session]
    assert f"its subagent {ids.child.session} asks" in reasons[ids.chain_parent]
    assert "bash: rm -rf build" in reasons[ids.chain_parent]


def test_force_never_writes_a_waiting_session(waiting_db) -> None:
    db, ids = waiting_db
    prepared = operations.prepare(request(db, ids.live(), force=True))
    assert set(prepared.plan.session_ids) == {ids.stale, ids.working}  # forced: the live one only
    assert {s.id for s in prepared.refused} == {
        ids.permission.session,
        ids.question.session,
        ids.chain_parent,
        ids.child.session,
    }


def test_reject_waiting_answers_through_opencode_which_closes_the_tool(waiting_db) -> None:
    db, ids = waiting_db
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        prepared = operations.prepare(
            request(db, ids.live(server.port), (ids.permission.session,), reject_waiting=True)
        )
        assert prepared.refused == () and prepared.plan.is_empty and not prepared.is_empty
        ((pending, answer),) = prepared.answers
        assert (pending.id, answer) == (f"per_{ids.permission.session}", "reject")
        assert answer_line(pending, answer, NOW) == "reject bash: echo ok (asked 3m ago)"
        assert server.paths("POST") == []  # nothing is sent before execute
        outcome = operations.execute(prepared)
        assert server.answers == [(pending.id, "reject")]
        assert server.paths("POST") == [f"/permission/{pending.id}/reply"]
    (done,) = outcome.answered
    assert done.sent and done.settled and done.route == f"/permission/{pending.id}/reply"
    assert done.part_status == "error"
    assert "the bash part → error" in done.detail and "the turn ended" in done.detail
    assert outcome.status == "ok" and outcome.result.run_id is None  # no row written by ocinspect
    state = part_state(db, ids.permission.part)
    assert state["status"] == "error" and state["error"] == REJECTED_ERROR  # OpenCode (the stand-in) wrote it
    assert turn_completed(db, ids.permission.message)


def test_all_rejects_every_request_and_repairs_the_stale(waiting_db, journal) -> None:
    db, ids = waiting_db
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        prepared = operations.prepare(
            request(db, ids.live(server.port), reject_waiting=True, journal_directory=journal)
        )
        assert {p.session_id: a for p, a in prepared.answers} == {
            ids.permission.session: "reject",
            ids.child.session: "reject",
            ids.question.session: "reject",
        }
        assert [(s.id, s.kind) for s in prepared.refused] == [(ids.working, "live")]
        assert prepared.plan.session_ids == (ids.stale,)
        outcome = operations.execute(prepared)
        assert sorted(server.answers) == sorted((p.id, "reject") for p, _ in prepared.answers)
    assert all(o.settled for o in outcome.answered)
    assert outcome.result.sessions == (ids.stale,)
    assert part_state(db, ids.question.part)["error"] == DISMISSED
    assert part_state(db, ids.child.part)["status"] == "error"


def test_allow_once_only_for_the_session_a_person_named(waiting_db) -> None:
    db, ids = waiting_db
    live = ids.live()
    prepared = operations.prepare(request(db, live, allow_once=(ids.permission.session,)))
    assert [(p.session_id, a) for p, a in prepared.answers] == [(ids.permission.session, "once")]
    assert ids.child.session in {s.id for s in prepared.refused}  # never "once" unless named
    mixed = operations.prepare(
        request(db, live, reject_waiting=True, allow_once=(ids.permission.session, ids.question.session))
    )
    chosen = {p.session_id: a for p, a in mixed.answers}
    assert chosen == {
        ids.permission.session: "once",
        ids.child.session: "reject",
        ids.question.session: "reject",
    }  # a question is never allowed, only rejected
    nothing = operations.prepare(request(db, live, (ids.stale,), allow_once=(ids.stale,)))
    assert [(s.id, s.kind) for s in nothing.plan.nothing_to_do] == [(ids.stale, "waiting")]


def test_allow_once_lets_the_tool_run(waiting_db) -> None:
    db, ids = waiting_db
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        prepared = operations.prepare(
            request(db, ids.live(server.port), (ids.permission.session,), allow_once=(ids.permission.session,))
        )
        outcome = operations.execute(prepared)
        assert server.answers == [(f"per_{ids.permission.session}", "once")]
    (done,) = outcome.answered
    assert done.settled and "allowed once" in done.detail
    assert part_state(db, ids.permission.part)["status"] == "running"  # the tool runs now


def test_dry_run_answers_nothing(waiting_db) -> None:
    db, ids = waiting_db
    before = dump(db)
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        prepared = operations.prepare(request(db, ids.live(server.port), reject_waiting=True, dry_run=True))
        outcome = operations.execute(prepared)
        assert len(prepared.answers) == 3 and outcome.answered == ()
        assert server.paths("POST") == []
    assert dump(db) == before


def test_a_release_without_the_reply_route_gets_the_session_route(waiting_db) -> None:
    db, ids = waiting_db
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        server.reply_route = False
        prepared = operations.prepare(
            request(db, ids.live(server.port), (ids.permission.session,), reject_waiting=True)
        )
        (done,) = operations.execute(prepared).answered
        pid = f"per_{ids.permission.session}"
        assert done.route == f"/session/{ids.permission.session}/permissions/{pid}" and done.settled
        assert server.paths("POST") == [f"/permission/{pid}/reply", done.route]
    assert part_state(db, ids.permission.part)["status"] == "error"


def test_an_answer_opencode_does_not_act_on_changes_nothing(waiting_db) -> None:
    db, ids = waiting_db
    before = dump(db)
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        server.answer_settles = False
        prepared = operations.prepare(
            replace(
                request(db, ids.live(server.port), (ids.permission.session,), reject_waiting=True), settle_timeout_s=0.4
            )
        )
        outcome = operations.execute(prepared)
    (done,) = outcome.answered
    assert done.sent and not done.settled and "rows left alone" in done.detail
    assert outcome.status == "partial"
    assert dump(db) == before


def test_a_request_answered_elsewhere_is_said_and_nothing_is_written(waiting_db) -> None:
    db, ids = waiting_db
    before = dump(db)
    with StandIn(db, directory=DIR) as server:  # it lists nothing: the request is gone
        gone = PendingRequest(
            id="per_gone",
            session_id=ids.permission.session,
            kind="permission",
            port=server.port,
            directory=DIR,
            message_id=ids.permission.message,
            call_id=ids.permission.call,
        )
        done = answer_request(open_store(db), gone, "reject", settle_timeout_s=0.5)
    assert not done.sent and "no longer holds this request" in done.detail
    assert dump(db) == before


def test_a_waiting_verdict_is_never_planned_even_without_liveness(waiting_db) -> None:
    """With a scan whose verdict is ``waiting`` (``livesig``'s), the plan refuses it too."""
    db, ids = waiting_db
    live = ids.live()
    result = scan(open_store(db), ScanOptions(live=live, now=NOW))
    asked = {r.session_id: r for r in live.requests}
    result = replace(
        result,
        live=None,
        sessions=tuple(
            replace(d, verdict="waiting", waiting_on=(asked[d.id],)) if d.id in asked else d for d in result.sessions
        ),
    )
    prepared = operations.prepare(request(db, live, (ids.permission.session,), result=result))
    assert prepared.plan.is_empty
    assert [(s.kind, s.hint) for s in prepared.refused] == [("waiting", "reject-waiting")]
    answered = operations.prepare(request(db, live, (ids.permission.session,), result=result, reject_waiting=True))
    assert [r.id for r, _ in answered.answers] == [f"per_{ids.permission.session}"]


def test_waiting_without_a_known_request_is_refused_even_forced(waiting_db) -> None:
    db, ids = waiting_db
    result = scan(open_store(db), ScanOptions(live=ids.live(), now=NOW))
    result = replace(
        result,
        live=None,
        sessions=tuple(
            replace(d, verdict="waiting", waiting_on=()) if d.id == ids.permission.session else d
            for d in result.sessions
        ),
    )
    prepared = operations.prepare(
        request(db, None, (ids.permission.session,), result=result, force=True, reject_waiting=True)
    )
    assert prepared.plan.is_empty and prepared.answers == ()
    (skip,) = prepared.refused
    assert (skip.kind, skip.hint) == ("waiting", None) and "did not say what is asked" in skip.reason


# the CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, monkeypatch):
    """A waiting database (times from the real clock: the CLI has no pinned ``now``), a stand-in
    listing its requests, and the liveness the scan sees pinned to that stand-in."""
    from inspector.core.diagnose import scan as scan_module
    from inspector.core.text import now_ms

    db = tmp_path / "waiting.db"
    ids = build_waiting(db, now_ms())
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)
        monkeypatch.setattr(scan_module, "detect", lambda path, directories=(), schema="v1": ids.live(server.port))
        yield db, ids, server


# The database's times come from the real clock (the CLI has no pinned ``now``): the request was
# asked 3 minutes before the fixture was built, and a loaded machine may take a second or more
# to reach the scan, so the age reads "3m" or "3m 1s".
ASKED_3M = r"\(asked 3m( \d+s)? ago\)"


def run(db: Path, *args: str):
    from click.testing import CliRunner

    from inspector.cli import cli

    return CliRunner().invoke(cli, ["--db", str(db), "recover", *args])


def test_cli_refuses_a_waiting_session_and_names_the_flag(served) -> None:
    from inspector.cli import CLI_HINTS

    db, ids, server = served
    before = dump(db)
    result = run(db, ids.permission.session, "--yes")
    assert result.exit_code == 3, result.output
    assert re.search(
        rf"Refused {ids.permission.session}: waiting for a person's answer: bash: echo ok {ASKED_3M}", result.output
    ), result.output
    assert f"({CLI_HINTS['reject-waiting']})" in result.output and "--reject-waiting" in CLI_HINTS["reject-waiting"]
    assert server.paths("POST") == [] and dump(db) == before


def test_cli_dry_run_shows_what_would_be_answered_and_answers_nothing(served) -> None:
    db, ids, server = served
    before = dump(db)
    result = run(db, ids.permission.session, "--reject-waiting", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Answer through OpenCode" in result.output
    assert re.search(rf"  {ids.permission.session}: reject bash: echo ok {ASKED_3M}", result.output), result.output
    assert server.paths("POST") == [] and dump(db) == before
    as_json = run(db, ids.permission.session, "--reject-waiting", "--dry-run", "--json")
    (answer,) = json.loads(as_json.output)["answered"]
    assert (answer["answer"], answer["sent"], answer["command"]) == ("reject", None, "echo ok")
    assert answer["session_id"] == ids.permission.session and answer["since"] is not None


def test_cli_rejects_through_opencode_and_opencode_closes_the_tool(served) -> None:
    db, ids, server = served
    result = run(db, ids.permission.session, "--reject-waiting", "--yes", "--json")
    assert result.exit_code == 0, result.output
    (answer,) = json.loads(result.output)["answered"]
    assert (answer["sent"], answer["settled"], answer["part_status"]) == (True, True, "error")
    assert answer["route"] == f"/permission/per_{ids.permission.session}/reply"
    assert server.answers == [(f"per_{ids.permission.session}", "reject")]
    state = part_state(db, ids.permission.part)
    assert (state["status"], state["error"]) == ("error", REJECTED_ERROR)


def test_cli_all_allows_once_only_the_listed_session(served) -> None:
    db, ids, server = served
    result = run(db, "--all", "--reject-waiting", "--allow-once", ids.child.session, "--yes")
    assert result.exit_code == 3, result.output  # the working session is live: refused
    assert sorted(server.answers) == sorted(
        [
            (f"per_{ids.permission.session}", "reject"),
            (f"per_{ids.child.session}", "once"),
            (f"que_{ids.question.session}", "reject"),
        ]
    )
    assert f"Allowed once {ids.child.session} bash: rm -rf build: allowed once through OpenCode" in result.output
    assert f"Rejected {ids.permission.session} bash: echo ok: rejected through OpenCode" in result.output
    assert part_state(db, ids.child.part)["status"] == "running"  # allowed: it runs
    assert part_state(db, ids.question.part)["status"] == "error"


def test_cli_all_never_allows_unless_listed(served) -> None:
    db, ids, server = served
    result = run(db, "--all", "--allow-once", ids.permission.session, "--yes")
    assert server.answers == [(f"per_{ids.permission.session}", "once")]
    assert result.exit_code == 3  # the others still wait: refused with the flag to use
    assert f"Refused {ids.child.session}: waiting" in result.output


def test_cli_help_names_the_flags() -> None:
    from click.testing import CliRunner

    from inspector.cli import cli

    recover_help = CliRunner().invoke(cli, ["recover", "--help"]).output
    assert "--reject-waiting" in recover_help and "--allow-once SESSION_ID" in recover_help
    watch_help = CliRunner().invoke(cli, ["watch", "--help"]).output
    assert "--reject-waiting-after DURATION" in watch_help


# watch -------------------------------------------------------------------------------------------


def test_watch_rejects_what_is_pending_too_long_and_never_allows(waiting_db) -> None:
    from inspector.core.repair.watchdog import Watchdog

    db, ids = waiting_db
    with StandIn(db, directory=DIR) as server:
        ids.serve(server)

        def detect(path, directories):
            asked = {r["sessionID"] for r in server.permissions + server.questions}
            live = ids.live(server.port)
            return replace(
                live, busy=frozenset(server.busy), requests=tuple(r for r in live.requests if r.session_id in asked)
            )

        now = [NOW]
        dog = Watchdog(
            db,
            abort_after_ms=None,
            reject_after_ms=4 * 60_000 + 30_000,
            clock=lambda: now[0],
            detect_live=detect,
            settle_timeout_s=3,
        )
        try:
            events = dog.poll()  # the question (5 min) is past 4m30s; the permissions (3, 4 min) are not
            assert [(e.kind, e.answer.request.session_id) for e in events if e.answer] == [
                ("rejected", ids.question.session)
            ]
            assert server.answers == [(f"que_{ids.question.session}", "reject")]
            now[0] += 60_000
            events = dog.poll()
            assert [e.answer.request.session_id for e in events if e.answer] == [ids.child.session]
            assert all(reply == "reject" for _, reply in server.answers)  # never "once"
            assert not any(p.endswith("/abort") for p in server.paths("POST"))  # no abort asked for
        finally:
            dog.close()
    assert part_state(db, ids.child.part)["status"] == "error"
    assert part_state(db, ids.permission.part)["status"] == "running"


def test_watch_needs_a_threshold(fixture_db) -> None:
    from click.testing import CliRunner

    from inspector.cli import cli

    result = CliRunner().invoke(cli, ["--db", str(fixture_db("stuck-bash")), "watch"])
    assert result.exit_code == 2 and "--reject-waiting-after" in result.output


def test_allow_once_for_a_session_not_asked_about_allows_nothing(waiting_db) -> None:
    db, ids = waiting_db
    prepared = operations.prepare(request(db, ids.live(), (ids.stale,), allow_once=(ids.permission.session,)))
    assert prepared.answers == ()  # a person allows a session they asked to recover, never another
    assert [(s.id, s.reason) for s in prepared.plan.nothing_to_do] == [
        (ids.permission.session, "not allowed: it is not among the sessions to recover")
    ]

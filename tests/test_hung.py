"""Hung sessions: durations, the classification, the abort through OpenCode, the watchdog.

Real SQLite files built from the real DDL (``tests/support/hung_db.py``); where an OpenCode server is
needed, a real loopback HTTP server stands in (``tests/support/standin.py``). The real binary is proven
in ``tests/e2e/test_hung.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.durations import parse_duration
from inspector.core.model import Diagnosis
from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.repair import abort, operations, recover
from inspector.core.repair.watchdog import Watchdog
from tests.support.databases import rows, sha256
from tests.support.hung_db import DIR, MINUTE, Busy, build_busy
from tests.support.narrow import present
from tests.support.releases import NOW
from tests.support.standin import StandIn

HUNG_AFTER = 15 * MINUTE


@pytest.fixture
def busy_db(tmp_path: Path) -> tuple[Path, Busy]:
    path = tmp_path / "busy.db"
    return path, build_busy(path, NOW)


def verdicts(
    db: Path, live: LiveStatus, hung_after_ms: int | None = HUNG_AFTER, now: int = NOW, **kw: Any
) -> dict[str, Diagnosis]:
    result = scan(open_store(db), ScanOptions(live=live, now=now, hung_after_ms=hung_after_ms, **kw))
    return {d.id: d for d in result.sessions}


# durations -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("90s", 90_000),
        ("10m", 600_000),
        ("2h", 7_200_000),
        ("1h30m", 5_400_000),
        ("500ms", 500),
        ("1.5h", 5_400_000),
        ("2d", 172_800_000),
        (" 15M ", 900_000),
        ("1h 30m", 5_400_000),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("ms", [1, 500, 1000, 2000, 90_000, 900_000, 5_400_000, 86_400_000 + 1001])
def test_format_duration_round_trips(ms: int) -> None:
    from inspector.core.durations import format_duration

    assert parse_duration(format_duration(ms)) == ms


@pytest.mark.parametrize("text", ["", "15", "abc", "10x", "0s", "-5s", "s", "10mm", "m10", "1e3s", "0.0001ms"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["30d1ms", "31d", "99999999999999999999h", "9" * 400 + "h"],
    ids=["just-over", "31d", "huge", "beyond-a-float"],
)
def test_parse_duration_is_bounded(text: str) -> None:
    """Beyond MAX_DURATION_MS is a typo, not a wish; a value too large for a float too."""
    from inspector.core.durations import MAX_DURATION_MS

    assert parse_duration("30d") == MAX_DURATION_MS
    with pytest.raises(ValueError, match="at most 30d"):
        parse_duration(text)


@pytest.mark.parametrize(
    "args",
    [
        ["scan", "--hung-after", "soon"],
        ["--hung-after", "0s", "scan"],
        ["watch", "--abort-hung-after", "15"],
        ["watch"],
    ],
)
def test_cli_refuses_bad_durations(fixture_db: Callable[..., Path], args: list[str]) -> None:
    db = fixture_db("stuck-bash")
    before = sha256(db)
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert sha256(db) == before


# classification --------------------------------------------------------------------------------


def test_hung_busy_sessions_and_the_ones_that_are_working(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = verdicts(db, ids.live())
    hung = {sid for sid, d in found.items() if d.verdict == "hung"}
    assert hung == {ids.hung_bash, ids.chain_parent, ids.chain_child, ids.parallel}
    for sid in (ids.streaming, ids.thinking, ids.question, ids.moving_parent, ids.moving_child, ids.leftover):
        assert found[sid].verdict == "live", (sid, found[sid].live_reason)
    assert found[ids.permission].verdict == "waiting"  # a person must answer: never hung
    assert all(found[s].hang == "tool-silent" for s in hung)
    assert found[ids.stale].verdict == "stale" and found[ids.stale].idle_ms is None


def test_hung_says_why(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = verdicts(db, ids.live())
    diag = found[ids.hung_bash]
    assert diag.idle_ms == NOW - (NOW - 20 * MINUTE + 30 + 2)  # the part row, created + 2 ms
    assert diag.live_reason.startswith("OpenCode lists it busy, but nothing has moved for 19m 59s")
    assert "bash running for 19m 59s: sleep 600" in diag.live_reason
    parent = found[ids.chain_parent]
    assert "in subagent " + ids.chain_child in parent.live_reason
    assert parent.idle_ms == found[ids.chain_child].idle_ms  # one chain, one silence


def test_why_not_hung(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = verdicts(db, ids.live())
    assert "last moved 1s ago" in found[ids.streaming].live_reason
    assert found[ids.streaming].idle_ms == 1000
    assert "no tool is running" in found[ids.thinking].live_reason
    assert "question tool waits for your answer" in found[ids.question].live_reason
    assert found[ids.permission].live_reason == (
        "OpenCode waits for your answer (permission or question): it is not working on it until someone "
        "answers; not hung"
    )
    assert found[ids.moving_parent].idle_ms == 1000  # the child's output moves the whole chain
    # an old crashed bash in an earlier turn does not make the model's new turn hung
    assert "no tool is running" in found[ids.leftover].live_reason
    # parallel calls: the step still waits on its silent bash although a newer read completed
    assert "bash running" in found[ids.parallel].live_reason and "pytest -x" in found[ids.parallel].live_reason


def test_threshold_decides(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    live = ids.live()
    assert verdicts(db, live, hung_after_ms=21 * MINUTE)[ids.hung_bash].verdict == "live"
    assert verdicts(db, live, hung_after_ms=19 * MINUTE)[ids.hung_bash].verdict == "hung"
    assert verdicts(db, live, hung_after_ms=500)[ids.streaming].verdict == "hung"  # 1 s of silence > 0.5 s


def test_without_a_threshold_nothing_is_hung(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = verdicts(db, ids.live(), hung_after_ms=None)
    assert {d.verdict for d in found.values() if d.id in ids.busy - {ids.permission}} == {"live"}
    assert found[ids.permission].verdict == "waiting"  # decided without any threshold
    assert all(d.idle_ms is None for d in found.values())


def test_undecided_waiting_is_never_hung(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = verdicts(db, ids.live(undecided=frozenset({ids.hung_bash})))
    assert found[ids.hung_bash].verdict == "live"
    assert "could not ask" in found[ids.hung_bash].live_reason


def test_not_running_means_stale_not_hung(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    assert {d.verdict for d in verdicts(db, OFFLINE).values()} == {"stale"}


def test_quick_and_targeted_scans_agree(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    live = ids.live()
    deep = {s: d.verdict for s, d in verdicts(db, live).items()}
    quick = {s: d.verdict for s, d in verdicts(db, live, quick=True).items()}
    assert deep == quick
    related = scan_related(open_store(db), [ids.chain_child], ScanOptions(live=live, now=NOW, hung_after_ms=HUNG_AFTER))
    assert {d.id: d.verdict for d in related.sessions} == {ids.chain_parent: "hung", ids.chain_child: "hung"}


def test_hung_sorted_with_the_stuck(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    result = scan(open_store(db), ScanOptions(live=ids.live(), now=NOW, hung_after_ms=HUNG_AFTER, all_sessions=True))
    order = [d.is_stuck for d in result.sessions]
    assert order == sorted(order, reverse=True)
    assert present(result.get(ids.hung_bash)).is_stuck


def test_recover_plan_refuses_hung_sessions(busy_db: tuple[Path, Busy]) -> None:
    """Row repair never runs behind a live server: plan() sees hung sessions as live."""
    db, ids = busy_db
    plan = recover.plan(open_store(db), [ids.hung_bash, ids.stale], live=ids.live(), now=NOW)
    assert plan.session_ids == (ids.stale,)
    assert [s.id for s in plan.refused] == [ids.hung_bash]
    explained = operations.explain_hung(
        plan,
        scan_related(open_store(db), [ids.hung_bash], ScanOptions(live=ids.live(), now=NOW, hung_after_ms=HUNG_AFTER)),
    )
    (skip,) = explained.refused
    assert (skip.kind, skip.hint) == ("hung", "abort-hung")  # typed: front ends never read the text
    assert skip.reason.startswith("hung: OpenCode lists it busy") and "--" not in skip.reason
    from inspector.cli import CLI_HINTS
    from inspector.render import plan_text

    refused = f"Refused {ids.hung_bash}: {skip.reason} ({CLI_HINTS['abort-hung']})"
    assert refused in plan_text(explained, CLI_HINTS)  # the CLI says its flag


def test_targets_are_chain_roots_with_their_server(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    found = abort.find_hung(open_store(db), None, hung_after_ms=HUNG_AFTER, live=ids.live(port=5555), now=NOW)
    targets = {t.root: t for t in found.targets}
    assert set(targets) == {ids.hung_bash, ids.chain_parent, ids.parallel}
    chain = targets[ids.chain_parent]
    assert chain.sessions == (ids.chain_parent, ids.chain_child)
    assert (chain.port, chain.directory) == (5555, DIR)
    # asking for the child finds the same chain, rooted at the parent
    (only,) = abort.find_hung(
        open_store(db), [ids.chain_child], hung_after_ms=HUNG_AFTER, live=ids.live(), now=NOW
    ).targets
    assert only.root == ids.chain_parent
    # without_targets keeps the chain out of any plan, even a forced one
    forced = recover.plan(open_store(db), None, force=True, live=ids.live(), now=NOW)
    assert ids.chain_parent in forced.session_ids
    kept = abort.without_targets(forced, found.targets)
    assert not {ids.chain_parent, ids.chain_child, ids.hung_bash, ids.parallel} & set(kept.session_ids)
    assert ids.stale in kept.session_ids


# aborting through (a stand-in for) OpenCode ------------------------------------------------------


def open_rows(db: Path, sessions: tuple[str, ...]) -> list[str]:
    found = []
    for sid in sessions:
        for (data,) in rows(db, "SELECT data FROM part WHERE session_id = ?", sid):
            state = json.loads(data).get("state") or {}
            if state.get("status") in ("pending", "running"):
                found.append(sid)
        for (data,) in rows(db, "SELECT data FROM message WHERE session_id = ?", sid):
            message = json.loads(data)
            if message["role"] == "assistant" and not message["time"].get("completed"):
                found.append(sid)
    return found


@pytest.fixture
def chain_target(busy_db: tuple[Path, Busy]) -> Iterator[tuple[Path, Busy, StandIn, abort.AbortTarget]]:
    db, ids = busy_db
    with StandIn(db, directory=DIR) as server:
        server.busy = set(ids.busy)
        server.children = {ids.chain_parent: [ids.chain_child]}
        (target,) = abort.find_hung(
            open_store(db), [ids.chain_parent], hung_after_ms=HUNG_AFTER, live=ids.live(port=server.port), now=NOW
        ).targets
        yield db, ids, server, target


def test_abort_stops_the_chain_through_its_root(chain_target: tuple[Path, Busy, StandIn, abort.AbortTarget]) -> None:
    db, ids, server, target = chain_target
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=5, poll_s=0.02)
    assert outcome.stopped, outcome.detail
    assert outcome.aborted == (ids.chain_parent,)
    assert server.paths("POST") == [f"/session/{ids.chain_parent}/abort"]
    assert outcome.detail == "stopped by OpenCode: the turns of all 2 sessions closed, no tool left running"
    assert open_rows(db, target.sessions) == []


def test_a_child_still_busy_is_aborted_too(chain_target: tuple[Path, Busy, StandIn, abort.AbortTarget]) -> None:
    db, ids, server, target = chain_target
    server.children = {}  # the root's abort leaves the child running
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=5, poll_s=0.02)
    assert outcome.stopped, outcome.detail
    assert outcome.aborted == (ids.chain_parent, ids.chain_child)
    assert server.paths("POST") == [f"/session/{ids.chain_parent}/abort", f"/session/{ids.chain_child}/abort"]


def test_opencode_that_does_not_settle_leaves_rows_alone(
    chain_target: tuple[Path, Busy, StandIn, abort.AbortTarget],
) -> None:
    db, ids, server, target = chain_target
    server.settle = False
    before = sha256(db)
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=0.5, poll_s=0.05)
    assert not outcome.stopped
    assert "still lists" in outcome.detail and "rows left alone" in outcome.detail
    assert 500 <= outcome.elapsed_ms < 5000
    assert sha256(db) == before


def test_slow_settle_is_waited_for(chain_target: tuple[Path, Busy, StandIn, abort.AbortTarget]) -> None:
    db, ids, server, target = chain_target
    server.settle_delay = 0.4
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=5, poll_s=0.05)
    assert outcome.stopped and outcome.elapsed_ms >= 400


def test_idle_but_still_open_rows_are_not_stopped(chain_target: tuple[Path, Busy, StandIn, abort.AbortTarget]) -> None:
    db, ids, server, target = chain_target
    server.db = None  # lets go of the chain without closing its rows (never seen from OpenCode)
    before = sha256(db)
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=0.5, poll_s=0.05)
    assert not outcome.stopped
    assert "left" in outcome.detail and "open" in outcome.detail and f"recover {ids.chain_parent}" in outcome.detail
    assert sha256(db) == before


def test_password_is_sent_and_missing_password_is_reported(
    busy_db: tuple[Path, Busy], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, ids = busy_db
    with StandIn(db, directory=DIR, password="pw") as server:
        server.busy = {ids.hung_bash}
        (target,) = abort.find_hung(
            open_store(db), [ids.hung_bash], hung_after_ms=HUNG_AFTER, live=ids.live(port=server.port), now=NOW
        ).targets
        monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
        outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=1, poll_s=0.05)
        assert not outcome.stopped and "needs its password" in outcome.detail
        assert open_rows(db, target.sessions)
        monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "pw")
        outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=5, poll_s=0.02)
        assert outcome.stopped, outcome.detail


def test_server_gone_is_not_stopped(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    with StandIn(db, directory=DIR) as server:
        port = server.port
    (target,) = abort.find_hung(
        open_store(db), [ids.hung_bash], hung_after_ms=HUNG_AFTER, live=ids.live(port=port), now=NOW
    ).targets
    outcome = abort.abort_chain(open_store(db), target, settle_timeout_s=1)
    assert not outcome.stopped and "did not answer" in outcome.detail


# the liveness probe ------------------------------------------------------------------------------


def test_live_detection_records_owner_waiting_and_password(
    busy_db: tuple[Path, Busy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """detect() through a stand-in process list: ports, owners, waiting, 401 -> unknown."""
    from inspector.core.opencode import live as live_module

    db, ids = busy_db
    with StandIn(db, directory=DIR, password="pw") as server:
        server.busy = {ids.hung_bash, ids.permission}
        server.waiting = {ids.permission}
        process = live_module.OpenCodeProcess(pid=1, ports=(server.port,))
        monkeypatch.setattr(live_module, "find_processes", lambda db: ([process], False))
        monkeypatch.delenv("OPENCODE_SERVER_PASSWORD", raising=False)
        status = live_module.detect(db, {DIR})
        assert status.running is True and status.busy == frozenset()
        assert status.verdict(ids.hung_bash, DIR) == (
            "unknown",
            "OpenCode is running on this database, but the server needs its password: set "
            "OPENCODE_SERVER_PASSWORD (and OPENCODE_SERVER_USERNAME if not 'opencode')",
        )
        monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "pw")
        status = live_module.detect(db, {DIR})
        assert status.busy == {ids.hung_bash, ids.permission}
        assert status.port_of(ids.hung_bash) == server.port
        assert status.waiting == {ids.permission}
        assert status.verdict(ids.permission, DIR)[0] == "waiting"
        assert [(r.id, r.session_id, r.port) for r in status.requests] == [
            (f"per_{ids.permission}", ids.permission, server.port)
        ]
        assert present(status.status_of(ids.hung_bash)).type == "busy"


# the watchdog ------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def test_watchdog_aborts_hung_chains_once_and_leaves_working_ones(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    with StandIn(db, directory=DIR) as server:
        server.busy = set(ids.busy)
        server.children = {ids.chain_parent: [ids.chain_child]}
        clock = Clock(NOW)
        asked: list[set[str]] = []

        def detect(path: object, directories: Iterable[str]) -> LiveStatus:
            asked.append(set(directories))
            return LiveStatus(
                running=True,
                busy=frozenset(server.busy),
                owners=tuple((s, server.port) for s in sorted(server.busy)),
                waiting=frozenset({ids.permission}),
            )

        dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=detect, settle_timeout_s=5)
        try:
            events = dog.poll()
            assert asked == [{DIR}]  # only the candidates' directory
            aborted = {e.target.root: e for e in events if e.target}
            assert set(aborted) == {ids.hung_bash, ids.chain_parent, ids.parallel}
            assert all(e.kind == "aborted" and present(e.outcome).stopped for e in aborted.values())
            assert server.busy == ids.busy - {ids.hung_bash, ids.chain_parent, ids.chain_child, ids.parallel}
            assert open_rows(db, (ids.hung_bash, ids.chain_parent, ids.chain_child)) == []
            for sid in (ids.streaming, ids.question, ids.permission, ids.moving_parent, ids.thinking):
                assert f"/session/{sid}/abort" not in server.paths("POST")
            found = {e.finding.id: e.finding.verdict for e in events if e.finding}  # reported before the aborts
            hung = (ids.hung_bash, ids.chain_parent, ids.chain_child, ids.parallel)
            assert found == {**dict.fromkeys(hung, "hung"), ids.permission: "waiting"}
            (stale,) = dog.poll()  # beside a running OpenCode, stale is said on the second look
            assert (present(stale.finding).id, present(stale.finding).verdict) == (ids.stale, "stale")
            assert dog.poll() == []  # nothing more to do
        finally:
            dog.close()


def test_watchdog_retries_only_after_another_threshold(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    with StandIn(db, directory=DIR) as server:
        server.busy = {ids.hung_bash}
        server.settle = False
        clock = Clock(NOW)

        def detect(path: object, directories: Iterable[str]) -> LiveStatus:
            return LiveStatus(running=True, busy=frozenset(server.busy), owners=((ids.hung_bash, server.port),))

        dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=detect, settle_timeout_s=0.2)
        try:
            (finding, event) = dog.poll()
            assert finding.kind == "finding" and present(finding.finding).verdict == "hung"
            assert event.kind == "not-stopped" and "rows left alone" in event.message
            clock.now += MINUTE
            assert {e.kind for e in dog.poll()} == {"finding"}  # the idle ones, stale on a second look
            clock.now += HUNG_AFTER
            (again,) = dog.poll()
            assert again.kind == "not-stopped"
            assert server.paths("POST").count(f"/session/{ids.hung_bash}/abort") == 2
        finally:
            dog.close()


def test_watchdog_reads_nothing_while_the_database_is_still(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    clock = Clock(NOW)
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: OFFLINE)
    try:
        (notice, *findings) = dog.poll()
        assert notice.message == "OpenCode is not running on this database"
        assert {e.kind for e in findings} == {"finding"} and {present(e.finding).verdict for e in findings} == {"stale"}
        for _ in range(5):
            clock.now += 1000
            assert dog.poll() == []  # the notice is not repeated
        assert (dog.polls, dog.sql_polls) == (6, 1)
        clock.now += 60_000  # the periodic resync
        dog.poll()
        assert dog.sql_polls == 2
    finally:
        dog.close()


def test_watchdog_candidates_follow_new_and_finished_turns(busy_db: tuple[Path, Busy]) -> None:
    import sqlite3

    from tests.support.standin import close_chain

    db, ids = busy_db
    clock = Clock(NOW)
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: OFFLINE)
    try:
        dog.poll()
        before = dog.candidates.sessions
        assert ids.hung_bash in before and ids.stale in before
        close_chain(db, [ids.hung_bash])
        conn = sqlite3.connect(db)
        conn.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES ('msg_new', ?, ?, ?, ?)",
            (ids.stale, NOW, NOW, json.dumps({"role": "assistant", "time": {"created": NOW}})),
        )
        conn.commit()
        conn.close()
        clock.now += 1000
        dog.poll()
        assert dog.sql_polls == 2
        assert ids.hung_bash not in dog.candidates.sessions
        assert "msg_new" in dog.candidates.messages
    finally:
        dog.close()


def _insert_unfinished_turn(db: Path, message_id: str, session_id: str) -> None:
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?)",
        (message_id, session_id, NOW, NOW, json.dumps({"role": "assistant", "time": {"created": NOW}})),
    )
    conn.commit()
    conn.close()


def test_watchdog_starts_over_when_the_newest_row_is_replaced(busy_db: tuple[Path, Busy]) -> None:
    """The newest message deleted and its rowid reused: the max rowid did not go down, but the
    row the watermark names is another one, so the quick pass starts over (the deep tier's rule)."""
    import sqlite3

    db, ids = busy_db
    clock = Clock(NOW)
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: OFFLINE)
    try:
        dog.poll()
        conn = sqlite3.connect(db)
        top = conn.execute("SELECT max(rowid) FROM message").fetchone()[0]
        conn.execute("DELETE FROM message WHERE rowid = ?", (top,))
        conn.commit()
        conn.close()
        _insert_unfinished_turn(db, "msg_reused", ids.stale)
        assert one_value(db, "SELECT rowid FROM message WHERE id = 'msg_reused'") == top
        clock.now += 1000
        dog.poll()
        assert dog.sql_polls == 2
        assert dog.candidates.messages.get("msg_reused") == ids.stale
    finally:
        dog.close()


def test_watchdog_starts_over_on_a_replaced_file(busy_db: tuple[Path, Busy], tmp_path: Path) -> None:
    """A file swapped in (same path, another inode) is read from scratch, not from old rowids."""
    import shutil
    import sqlite3

    from tests.support.databases import copy_db

    db, ids = busy_db
    other = copy_db(db, tmp_path / "other.db")
    clock = Clock(NOW)
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: OFFLINE)
    try:
        dog.poll()
        conn = sqlite3.connect(other)  # an old row made unfinished in the new file: below the watermark
        conn.execute(
            "UPDATE message SET id = 'msg_swapped', data = ? WHERE rowid = 1",
            (json.dumps({"role": "assistant", "time": {"created": NOW}}),),
        )
        conn.commit()
        conn.close()
        shutil.move(other, db)
        clock.now += 1000
        dog.poll()
        assert "msg_swapped" in dog.candidates.messages
    finally:
        dog.close()


def one_value(db: Path, sql: str) -> Any:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_watch_command_exits_cleanly_on_a_signal(fixture_db: Callable[..., Path], signame: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    db = fixture_db("stuck-bash")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inspector",
            "--db",
            str(db),
            "watch",
            "--abort-hung-after",
            "2s",
            "--json",
            "--interval",
            "100ms",
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = present(proc.stdout).readline()  # the watch is up once it printed its first notice
        assert json.loads(first)["message"] == "OpenCode is not running on this database"
        time.sleep(0.3)
        proc.send_signal(getattr(signal, signame))
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err.strip().endswith("ocinspect: stopped watching")


def test_text_and_json_renderings(busy_db: tuple[Path, Busy]) -> None:
    from inspector.render import scan_json, scan_text, show_text

    db, ids = busy_db
    result = scan(open_store(db), ScanOptions(live=ids.live(), now=NOW, hung_after_ms=19 * MINUTE))
    text = "\n".join(scan_text(result))
    assert f"{ids.hung_bash}  hung " in text
    assert f"stop it through OpenCode: ocinspect recover {ids.hung_bash} --abort-hung --hung-after 19m" in text
    assert f"recover {ids.chain_child} --abort-hung" not in text  # the chain is stopped through its root
    assert "hung: OpenCode lists it busy, but nothing has moved for 19m 59s" in text
    show = "\n".join(show_text(present(result.get(ids.hung_bash)), result))
    assert f"Stop it   ocinspect recover {ids.hung_bash} --abort-hung --hung-after 19m" in show
    payload = scan_json(result)
    assert payload["hung_after_ms"] == 19 * MINUTE
    by_id = {s["id"]: s for s in payload["sessions"]}
    assert by_id[ids.hung_bash]["verdict"] == "hung" and by_id[ids.hung_bash]["idle_ms"] >= 19 * MINUTE
    assert by_id[ids.streaming]["verdict"] == "live" and by_id[ids.streaming]["idle_ms"] == 1000
    assert by_id[ids.stale]["idle_ms"] is None
    default = scan(open_store(db), ScanOptions(live=ids.live(), now=NOW, hung_after_ms=15 * MINUTE))
    assert f"ocinspect recover {ids.hung_bash} --abort-hung\n" in "\n".join(scan_text(default)) + "\n"

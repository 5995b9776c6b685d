"""plan()/apply()/undo(): the repair shape OpenCode accepts, journaling, compare-and-set."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import JournalError, SessionNotFound
from inspector.core.model import Plan
from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.repair import recover
from inspector.core.repair.journal import read_run
from tests.support.databases import rows, sha256
from tests.support.narrow import present
from tests.support.releases import NOW, SESSIONS
from tests.support.synthetic import every_pattern

LATER = NOW + 60_000


def make_plan(db: Path, ids: list[str] | None = None, **kw: Any) -> Plan:
    kw.setdefault("live", OFFLINE)
    return recover.plan(open_store(db), ids, now=LATER, **kw)


def tool_states(db: Path) -> dict[str, dict[str, Any]]:
    return {
        pid: json.loads(data)["state"]
        for pid, data in rows(db, "SELECT id, data FROM part WHERE json_extract(data,'$.type')='tool'")
    }


def messages(db: Path) -> dict[str, dict[str, Any]]:
    return {mid: json.loads(data) for mid, data in rows(db, "SELECT id, data FROM message")}


def test_repair_shape_is_what_opencode_writes_on_abort(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-bash")
    result = recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    assert result.sessions == tuple(SESSIONS["stuck-bash"])
    assert (result.parts_repaired, result.messages_completed) == (1, 1)
    state = tool_states(db)["prt_20e711e21001KxiM1bR4EMS3Yv"]
    assert state == {
        "status": "error",
        "input": {"command": "sleep 600", "description": "long sleep"},
        "error": "Tool execution aborted",
        "metadata": {"output": "", "interrupted": True},
        "time": {"start": 1795538624041, "end": LATER},
    }
    msg = messages(db)["msg_20e711917001ax9SiMVHXTS6oC"]
    assert msg["time"]["completed"] == LATER
    assert msg["error"] == {"name": "MessageAbortedError", "data": {"message": "Aborted"}}
    assert rows(db, "SELECT time_updated FROM part WHERE id='prt_20e711e21001KxiM1bR4EMS3Yv'") == [(LATER,)]
    assert rows(db, "SELECT time_updated FROM message WHERE id='msg_20e711917001ax9SiMVHXTS6oC'") == [(LATER,)]
    assert scan(open_store(db), ScanOptions(live=OFFLINE)).sessions == ()


def test_pending_placeholder_gets_empty_input_and_start_now(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-pending")
    recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    state = tool_states(db)["prt_20e71806d001eBS22bHRq6Je40"]
    assert state == {
        "status": "error",
        "input": {},
        "error": "Tool execution aborted",
        "metadata": {"interrupted": True},
        "time": {"start": LATER, "end": LATER},
    }


def test_never_writes_completed(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-task")
    before = {k for k, v in tool_states(db).items() if v["status"] == "completed"}
    recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    after = {k for k, v in tool_states(db).items() if v["status"] == "completed"}
    assert after == before


def test_chain_is_one_unit_even_when_only_the_child_is_named(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-task")
    plan = make_plan(db, ["ses_df18ea478ffedUk3exGgsWE7Dw"])
    assert len(plan.units) == 1
    assert set(plan.units[0].session_ids) == set(SESSIONS["stuck-task"])
    result = recover.apply(plan, journal_directory=journal, now=LATER)
    assert set(result.sessions) == set(SESSIONS["stuck-task"])
    assert all(s["status"] == "error" for s in tool_states(db).values())


def test_dry_run_and_plan_write_nothing(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    digest = sha256(db)
    plan = make_plan(db)
    dry = recover.dry_run(plan)
    assert dry.dry_run and dry.parts_repaired == 2 and dry.run_id is None
    assert sha256(db) == digest


def test_undo_restores_byte_identical_rows(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-task")
    query = "SELECT id, time_updated, data FROM part UNION ALL SELECT id, time_updated, data FROM message ORDER BY 1"
    original = rows(db, query)
    result = recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    assert rows(db, query) != original
    undone = recover.undo(db, journal_directory=journal)
    assert undone.run_id == result.run_id and undone.restored == 4 and undone.skipped == ()
    assert rows(db, query) == original
    assert read_run(Path(present(result.journal_path))).undone


def test_undo_leaves_rows_opencode_changed_since(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-two")
    result = recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE part SET time_updated = time_updated + 1 WHERE id = 'prt_20e714af4001BB1L0VerrFlHOj'")
    conn.commit()
    conn.close()
    undone = recover.undo(db, result.run_id, journal_directory=journal)
    assert undone.restored == 3
    assert [(s.id, s.reason) for s in undone.skipped] == [
        ("prt_20e714af4001BB1L0VerrFlHOj", "changed since the run; left as it is")
    ]
    assert tool_states(db)["prt_20e714af4001BB1L0VerrFlHOj"]["status"] == "error"
    assert tool_states(db)["prt_20e714b14001kktVI36s2MTHUG"]["status"] == "running"


def test_compare_and_set_skips_a_unit_changed_under_it(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-two")
    plan = make_plan(db)
    # OpenCode finishes one of the tools after the plan was shown to the user.
    conn = sqlite3.connect(db)
    data = json.loads(rows(db, "SELECT data FROM part WHERE id='prt_20e714af4001BB1L0VerrFlHOj'")[0][0])
    data["state"] = {
        **data["state"],
        "status": "completed",
        "output": "ok",
        "title": "",
        "time": {"start": 1, "end": 2},
    }
    conn.execute(
        "UPDATE part SET data = ?, time_updated = 42 WHERE id = 'prt_20e714af4001BB1L0VerrFlHOj'", (json.dumps(data),)
    )
    conn.commit()
    conn.close()
    result = recover.apply(plan, journal_directory=journal, now=LATER)
    assert result.sessions == ("ses_df18ebe7cffeXWNiRuh4af1Ynr",)
    (skip,) = result.skipped
    assert skip.id == "ses_df18ebf03ffecLn0zX09ai9ymn" and "now completed" in skip.reason
    states = tool_states(db)
    assert states["prt_20e714af4001BB1L0VerrFlHOj"]["status"] == "completed"  # their write survived
    # all-or-nothing: the skipped session's message was not completed either
    assert "completed" not in messages(db)["msg_20e714548001hmRVDjVguoGPdS"]["time"]


def test_journal_holds_before_images_before_commit(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-bash")
    original = rows(db, "SELECT data, time_updated FROM part WHERE id='prt_20e711e21001KxiM1bR4EMS3Yv'")[0]
    result = recover.apply(make_plan(db), journal_directory=journal, now=LATER)
    run = read_run(Path(present(result.journal_path)))
    (unit,) = run.units
    part = next(c for c in unit["changes"] if c["table"] == "part")
    assert (part["before"]["data"], part["before"]["time_updated"]) == original
    assert run.committed == {0} and run.finished


def test_live_and_unknown_sessions_are_refused_unless_forced(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-two")
    busy = LiveStatus(running=True, busy=frozenset({"ses_df18ebf03ffecLn0zX09ai9ymn"}), detail="busy")
    plan = make_plan(db, live=busy)
    assert [s.id for s in plan.refused] == ["ses_df18ebf03ffecLn0zX09ai9ymn"]
    assert plan.session_ids == ("ses_df18ebe7cffeXWNiRuh4af1Ynr",)
    forced = make_plan(db, live=LiveStatus(running=None, detail="?"), force=True)
    assert len(forced.units) == 2 and forced.forced


def test_compaction_mark_is_cleared_and_undone(tmp_path: Path, journal: Path) -> None:
    db = tmp_path / "p.db"
    ids = every_pattern(db)
    sid = ids["compaction"]
    plan = make_plan(db, [sid])
    result = recover.apply(plan, journal_directory=journal, now=LATER)
    assert result.sessions_uncompacted == 1
    assert rows(db, "SELECT time_compacting, time_updated FROM session WHERE id=?", sid) == [(None, LATER)]
    recover.undo(db, journal_directory=journal)
    assert rows(db, "SELECT time_compacting FROM session WHERE id=?", sid)[0][0] is not None


def test_ignores_prompts_is_reported_not_repaired(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    ids = every_pattern(db)
    plan = make_plan(db, [ids["ignores-prompts"]])
    assert plan.is_empty
    assert "upgrade OpenCode" in plan.nothing_to_do[0].reason


def test_unknown_session_id(fixture_db: Callable[..., Path]) -> None:
    with pytest.raises(SessionNotFound, match="ses_nope"):
        make_plan(fixture_db("stuck-bash"), ["ses_nope"])


def test_unwritable_journal_changes_nothing(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-bash")
    digest = sha256(db)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError):
        recover.apply(make_plan(db), journal_directory=blocker / "runs", now=LATER)
    assert sha256(db) == digest


def test_locked_database_fails_cleanly(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-two")
    plan = make_plan(db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = recover.apply(plan, journal_directory=journal, busy_timeout_ms=100, now=LATER)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.sessions == ()
    assert {s.id for s in result.skipped} == set(SESSIONS["stuck-two"])
    # the reason is DatabaseLocked's one line (SQLITE_BUSY after the busy timeout)
    assert {s.reason for s in result.skipped} == {f"{db} is locked by another process (waited for the busy timeout)"}
    left = [s["status"] for s in tool_states(db).values() if s["status"] != "completed"]
    assert left and set(left) == {"running"}

"""The v2 repair through the generic flow: plan on a snapshot, apply (journal first, one
``BEGIN IMMEDIATE``, compare-and-set per row, the ``idle`` row added only where it is free),
undo back to every row as it was. On copies of the real 2.1.2 fixtures.

``v2_standin`` plans every session of a file as one unit, as ``recover`` does for a chain.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.db.v2.heal import INTERRUPTED
from inspector.core.errors import NotWritable, SessionMovedOn
from inspector.core.model import Plan, PlanUnit, RunResult
from inspector.core.repair import recover
from inspector.core.repair.journal import find_run
from inspector.core.repair.operations import refuse_moved_on
from tests.support import v2_standin as standin
from tests.support.databases import copy_db

from .test_releases import dump

V2 = Path(__file__).parent / "fixtures" / "v2"
NOW = 1_796_700_000_000
STUCK = sorted(p.name.removesuffix(".db") for p in V2.glob("v2-*stuck-*.db"))


@pytest.fixture(autouse=True)
def v2_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    standin.install(monkeypatch)


def copy(tmp_path: Path, name: str) -> Path:
    return copy_db(V2 / f"{name}.db", tmp_path / f"{name}.db")


def make_plan(db: Path, now: int = NOW) -> Plan:
    return standin.make_plan(db, now)


def apply(db: Path, tmp_path: Path, plan: Plan | None = None) -> RunResult:
    return recover.apply(plan or make_plan(db), journal_directory=tmp_path / "runs", now=NOW)


def query(db: Path, sql: str, *args: Any) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args)]
    finally:
        conn.close()


def write(db: Path, sql: str, *args: Any) -> None:
    conn = sqlite3.connect(db)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


def test_a_crash_mid_shell_is_closed_the_way_v2_accepts(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    (sid,) = standin.sessions(db)
    (before,) = query(db, "SELECT * FROM session_v2")
    result = apply(db, tmp_path)
    assert result.run_id and result.sessions == (sid,) and (result.parts_repaired, result.messages_completed) == (1, 1)

    rows = query(db, "SELECT id, type, seq, time_created, time_updated, data FROM session_message ORDER BY seq")
    assert [(r["type"], r["seq"]) for r in rows] == [
        ("user", 4),
        ("assistant", 7),
        ("idle", 13),
    ]  # counter 11 +1 tool +1
    reply = json.loads(rows[1]["data"])
    (tool,) = reply["content"]
    assert tool["state"] == {
        "status": "error",
        "input": {"command": "sleep 600", "timeout": 0},
        "error": {"type": "aborted", "message": f"{INTERRUPTED}: shell"},
    }
    assert tool["time"]["completed"] == NOW and reply["time"]["completed"] == NOW and tool["executed"] is False
    idle = rows[2]
    assert json.loads(idle["data"]) == {"time": {"created": NOW}, "outcome": "interrupted"}
    assert (idle["time_created"], idle["time_updated"]) == (NOW, NOW)
    assert idle["id"].startswith("msg_") and idle["id"] > max(r["id"] for r in rows[:2])
    (after,) = query(db, "SELECT * FROM session_v2")
    assert (after["time_suspended"], after["resume_attempts"], after["idle_outcome"], after["time_idle"]) == (
        None,
        0,
        "interrupted",
        NOW,
    )
    assert after["time_updated"] == before["time_updated"]
    assert {k: v for k, v in after.items() if k not in ("time_suspended", "idle_outcome", "time_idle")} == {
        k: v for k, v in before.items() if k not in ("time_suspended", "idle_outcome", "time_idle")
    }
    assert query(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", sid) == [{"seq": 13}]


@pytest.mark.parametrize("name", STUCK)
def test_every_stuck_shape_is_closed_once_and_undone_to_every_row(name: str, tmp_path: Path) -> None:
    db = copy(tmp_path, name)
    original = dump(db)
    result = apply(db, tmp_path)
    assert result.run_id is not None
    for sid in standin.sessions(db):
        rows = query(db, "SELECT type, data FROM session_message WHERE session_id = ? ORDER BY seq", sid)
        assert rows[-1]["type"] == "idle"  # every turn has its end
        for row in rows:
            data = json.loads(row["data"])
            if row["type"] == "assistant":
                assert data["time"].get("completed") is not None
                assert all(
                    c["state"]["status"] not in ("running", "streaming") for c in data["content"] if c["type"] == "tool"
                )
        (session,) = query(db, "SELECT time_suspended, resume_attempts FROM session_v2 WHERE id = ?", sid)
        assert session == {"time_suspended": None, "resume_attempts": 0}
        (counter,) = query(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", sid)
        (newest,) = query(db, "SELECT max(seq) AS seq FROM session_message WHERE session_id = ?", sid)
        assert counter["seq"] >= newest["seq"]  # the next prompt's row never collides
    assert make_plan(db).is_empty  # a second recover finds nothing

    undone = recover.undo(db, journal_directory=tmp_path / "runs", now=NOW + 1)
    assert undone.skipped == ()
    assert dump(db) == original


def test_exhausted_gets_no_second_idle_row(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-exhausted")
    (sid,) = standin.sessions(db)
    before = query(db, "SELECT seq, type FROM session_message WHERE type = 'idle'")
    (session,) = query(db, "SELECT * FROM session_v2")
    plan = make_plan(db)
    assert {c.table for c in plan.units[0].changes} == {"session_message", "event_sequence"}
    apply(db, tmp_path, plan)
    assert query(db, "SELECT seq, type FROM session_message WHERE type = 'idle'") == before
    assert query(db, "SELECT * FROM session_v2") == [session]  # still ``failed``: v2 gave up on it
    (counter,) = query(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", sid)
    assert counter["seq"] == 93  # one seq per tool healed


def test_the_journal_records_the_added_row_as_absent_before(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    result = apply(db, tmp_path)
    assert result.journal_path is not None
    records = [json.loads(line) for line in Path(result.journal_path).read_text().splitlines()]
    assert records[0]["format"] == 3
    (unit,) = [r for r in records if r["kind"] == "unit"]
    tables = [(c["table"], c["before"] is None) for c in unit["changes"]]
    assert tables == [
        ("session_message", False),
        ("session_message", True),
        ("session_v2", False),
        ("event_sequence", False),
    ]
    (stored,) = query(V2 / "v2-stuck-bash.db", "SELECT data FROM session_message WHERE type = 'assistant'")
    assert unit["changes"][0]["before"]["data"] == stored["data"]  # the before-image, byte for byte


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE session_message SET time_updated = time_updated + 1 WHERE type = 'assistant'",
        "UPDATE event_sequence SET seq = seq + 1",
        "UPDATE session_v2 SET resume_attempts = 1",
        "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
        "SELECT 'msg_zzz', id, 'user', 13, 1, 1, '{}' FROM session_v2",
    ],
    ids=["turn", "counter", "claim", "seq-taken"],
)
def test_a_row_changed_after_the_plan_refuses_the_whole_unit(change: str, tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    plan = make_plan(db)
    write(db, change)
    moved = dump(db)
    result = apply(db, tmp_path, plan)
    assert result.run_id is None and result.sessions == ()
    assert [s.kind for s in result.skipped] == ["conflict"]
    assert dump(db) == moved  # nothing written


@pytest.mark.parametrize(
    ("since", "kind", "types"),
    [
        (
            "UPDATE session_message SET time_updated = time_updated + 1 WHERE type = 'idle'",
            "changed",
            ["user", "assistant", "idle"],
        ),
        ("DELETE FROM session_message WHERE type = 'idle'", "unchanged", ["user", "assistant"]),
    ],
    ids=["changed", "removed"],
)
def test_undo_leaves_an_added_row_that_moved_since(since: str, kind: str, types: list[str], tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    apply(db, tmp_path)
    write(db, since)
    undone = recover.undo(db, journal_directory=tmp_path / "runs", now=NOW + 1)
    assert [s.kind for s in undone.skipped] == [kind]
    assert [r["type"] for r in query(db, "SELECT type FROM session_message ORDER BY seq")] == types


def test_an_unproven_shape_is_never_written(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    write(db, "ALTER TABLE session_v2 RENAME COLUMN time_suspended TO execution_claimed_at")
    with pytest.raises(NotWritable, match="execution_claimed_at"):
        make_plan(db)


def test_the_idle_id_sorts_after_ids_minted_in_the_future(tmp_path: Path) -> None:
    """A clock behind the session's newest id still mints an id that sorts after it."""
    db = copy(tmp_path, "v2-stuck-bash")
    plan = make_plan(db, now=1_000)
    idle = next(c for c in plan.units[0].changes if c.absent)
    assert idle.row_id > max(r["id"] for r in query(db, "SELECT id FROM session_message"))


def test_a_unit_without_changes_counts_nothing() -> None:
    assert (PlanUnit(session_ids=("s",), changes=()).parts, PlanUnit(session_ids=("s",), changes=()).messages) == (0, 0)


def test_undo_refuses_a_session_that_moved_on(tmp_path: Path) -> None:
    """A prompt answered after the run: its rows put back would leave the turn open behind it."""
    db = copy(tmp_path, "v2-stuck-bash")
    (sid,) = standin.sessions(db)
    apply(db, tmp_path)
    write(
        db,
        "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
        "VALUES ('msg_zzzz', ?, 'user', 14, ?, ?, '{}')",
        sid,
        NOW + 5,
        NOW + 5,
    )
    run = find_run(tmp_path / "runs", None, str(db))
    store = open_store(db)
    try:
        with pytest.raises(SessionMovedOn) as refused:
            refuse_moved_on(store, run, [sid])
    finally:
        store.dispose()
    assert refused.value.newer == ((sid, "msg_zzzz", NOW + 5),)

"""Issue 10: repairs and undos continue OpenCode's sync event log exactly as OpenCode would.

The invariant (``eventlog.check``): in every logged session, seqs are contiguous from 0,
``event_sequence.seq`` is the newest, and every part/message row equals the payload of its
newest event. It holds on every real fixture as OpenCode wrote it, after ``recover`` and after
``undo``; a row-only repair breaks it (the negative that keeps the check honest).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.db.v1 import eventlog
from inspector.core.model import Plan
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair import recover
from inspector.core.synth.builder import DatabaseBuilder
from tests.support.databases import rows
from tests.support.narrow import present
from tests.support.releases import FIXTURES, NOW, SESSIONS

LATER = NOW + 60_000
LOGGED_FIXTURES = ["stuck-bash", "stuck-two", "stuck-pending", "stuck-task", "clean"]
T0 = 1795530000000


def problems(db: Path) -> list[eventlog.LogProblem]:
    with open_store(db).read() as conn:
        return eventlog.check(conn)


def events(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT id, aggregate_id, seq, type, data FROM event ORDER BY aggregate_id, seq")


def plan(db: Path, ids: list[str] | None = None, **kw: Any) -> Plan:
    kw.setdefault("live", OFFLINE)
    return recover.plan(open_store(db), ids, now=LATER, **kw)


def row_only_repair(db: Path) -> None:
    """What ocinspect did before issue 10: rows written, no events (must fail the check)."""
    the_plan = plan(db)
    conn = sqlite3.connect(db)
    with conn:
        for unit in the_plan.units:
            for change in unit.changes:
                if change.table != "session":
                    conn.execute(
                        f"UPDATE {change.table} SET data = ?, time_updated = ? WHERE id = ?",
                        (change.after["data"], change.after["time_updated"], change.row_id),
                    )
    conn.close()


# -- ids -------------------------------------------------------------------------------------


def test_event_ids_follow_opencodes_scheme() -> None:
    """``evt_`` + hex((ms * 4096 + counter) mod 2**48) + 14 base62: same as the fixtures' ids."""
    fixture_rows = rows(
        FIXTURES / "opencode-1.18.33-stuck-task.db", "SELECT id, data FROM event WHERE type = 'message.part.updated.1'"
    )
    ids = eventlog.EventIds()
    for event_id, data in fixture_rows:
        when = json.loads(data)["time"]
        stamp = int(event_id[4:16], 16)
        assert 0 <= (stamp >> 12) - (when * 4096 % 2**48 >> 12) <= 5  # minted within ms of `time`
        assert 1 <= stamp & 0xFFF <= 3  # the per-millisecond counter starts at 1
        ours = ids.next(when)
        assert int(ours[4:16], 16) == (when * 4096 + 1) % 2**48 or int(ours[4:16], 16) & 0xFFF > 1
        assert len(ours) == len(event_id) == 30 and ours[16:].isalnum()
    minted = [ids.next(T0) for _ in range(5)] + [ids.next(T0 + 1)]
    assert minted == sorted(minted) and len(set(minted)) == 6


# -- the invariant on real fixtures ----------------------------------------------------------


@pytest.mark.parametrize("name", LOGGED_FIXTURES)
def test_fixtures_as_opencode_wrote_them_satisfy_the_invariant(fixture_db: Callable[..., Path], name: str) -> None:
    db = fixture_db(name)
    assert rows(db, "SELECT count(*) FROM event_sequence")[0][0] == max(1, len(SESSIONS[name]))
    assert problems(db) == []


@pytest.mark.parametrize("name", [n for n in LOGGED_FIXTURES if n != "clean"])
def test_recover_then_undo_keep_the_invariant(fixture_db: Callable[..., Path], journal: Path, name: str) -> None:
    db = fixture_db(name)
    original_rows = rows(
        db, "SELECT id, data, time_updated FROM part UNION ALL SELECT id, data, time_updated FROM message ORDER BY 1"
    )
    original_events = events(db)
    the_plan = plan(db)
    changed = sum(len(u.changes) for u in the_plan.units)
    assert the_plan.event_count == changed > 0

    result = recover.apply(the_plan, journal_directory=journal, now=LATER)
    assert result.events_appended == changed
    assert problems(db) == []
    after = events(db)
    assert set(original_events) <= set(after), "events are only ever appended"
    assert len(after) == len(original_events) + changed
    for sid in SESSIONS[name]:
        seqs = [seq for _, agg, seq, _, _ in after if agg == sid]
        assert seqs == list(range(len(seqs)))
        assert rows(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", sid) == [(seqs[-1],)]

    undone = recover.undo(db, result.run_id, journal_directory=journal, now=LATER + 1000)
    assert undone.restored == changed and undone.events_appended == changed
    assert problems(db) == []
    assert (
        rows(
            db,
            "SELECT id, data, time_updated FROM part UNION ALL SELECT id, data, time_updated FROM message ORDER BY 1",
        )
        == original_rows
    )
    final = events(db)
    assert set(after) <= set(final) and len(final) == len(after) + changed


def test_a_row_only_repair_breaks_the_invariant(fixture_db: Callable[..., Path]) -> None:
    """The guard against regressions: the check does see rows that their log contradicts."""
    db = fixture_db("stuck-task")
    row_only_repair(db)
    found = problems(db)
    assert {p.what.split()[1] for p in found} == {
        "prt_20e715b7e0013ItAjTBII9fyp4",
        "prt_20e715bee001Lt7KnAQURNC9NP",
        "msg_20e7158520013jieWNCw05vdin",
        "msg_20e715ba5001vyI5SLvLPPpJb4",
    }
    assert all("differs from its newest event" in p.what for p in found)


def test_appended_events_have_opencodes_exact_shape(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-task")
    before = {row[0] for row in events(db)}
    recover.apply(plan(db), journal_directory=journal, now=LATER)
    new = [e for e in events(db) if e[0] not in before]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event_id, _agg, _seq, kind, data in new:
        assert event_id.startswith("evt_") and int(event_id[4:16], 16) >> 12 == (LATER * 4096 % 2**48) >> 12
        by_type.setdefault(kind, []).append(json.loads(data))
    assert sorted(by_type) == ["message.part.updated.1", "message.updated.1"]
    for payload in by_type["message.part.updated.1"]:
        assert list(payload) == ["sessionID", "part", "time"] and payload["time"] == LATER
        part = payload["part"]
        assert list(part)[:3] == ["id", "sessionID", "messageID"]
        assert list(part["state"]) == ["status", "input", "error", "metadata", "time"]
        assert part["state"]["status"] == "error" and list(part["state"]["time"]) == ["start", "end"]
    for payload in by_type["message.updated.1"]:
        assert list(payload) == ["sessionID", "info"]
        assert list(payload["info"])[:2] == ["id", "sessionID"]
        assert payload["info"]["time"]["completed"] == LATER
    # the same key set OpenCode used for these rows' earlier events
    first = json.loads(
        rows(
            db,
            "SELECT data FROM event WHERE type='message.updated.1' "
            "AND json_extract(data,'$.info.id')='msg_20e7158520013jieWNCw05vdin' ORDER BY seq LIMIT 1",
        )[0][0]
    )
    ours = next(p for p in by_type["message.updated.1"] if p["info"]["id"] == "msg_20e7158520013jieWNCw05vdin")
    assert set(ours["info"]) == set(first["info"]) | {"error"}


def test_plan_text_and_json_say_how_many_events(fixture_db: Callable[..., Path], journal: Path) -> None:
    from inspector.render import plan_text, run_json

    db = fixture_db("stuck-task")
    the_plan = plan(db)
    assert "4 events appended to OpenCode's sync log" in plan_text(the_plan)[-1]
    assert run_json(recover.dry_run(the_plan))["events_appended"] == 4


# -- where there is no log -------------------------------------------------------------------


def logged_db(path: Path, *, events: bool = True, compacting: bool = False) -> tuple[Path, str]:
    with DatabaseBuilder(path, seed=3, events=events) as b:
        project = b.project("/home/dev/src/api", created=T0)
        sid = b.session(
            project_id=project,
            title="t",
            directory="/home/dev/src/api",
            created=T0,
            time_compacting=T0 + 500 if compacting else None,
        )
        user = b.user_message(sid, "go", created=T0 + 100)
        msg = b.assistant_message(sid, user, created=T0 + 200, summary=compacting)
        if not compacting:
            b.tool_part(msg, sid, tool="bash", status="running", tool_input={"command": "make"}, created=T0 + 300)
    return path, sid


def test_sessions_without_a_sequence_row_get_no_events(tmp_path: Path, journal: Path) -> None:
    """OpenCode 1.14/1.15 ship the tables but never write them: never start a log."""
    db, _ = logged_db(tmp_path / "unlogged.db", events=False)
    the_plan = plan(db)
    assert the_plan.event_count == 0 and the_plan.parts == 1
    recover.apply(the_plan, journal_directory=journal, now=LATER)
    assert rows(db, "SELECT count(*) FROM event") == [(0,)]
    assert rows(db, "SELECT count(*) FROM event_sequence") == [(0,)]


def test_schema_without_log_tables_keeps_working(tmp_path: Path, journal: Path) -> None:
    """1.2.x has no event tables at all."""
    db, sid = logged_db(tmp_path / "old.db", events=False)
    conn = sqlite3.connect(db)
    conn.executescript("DROP TABLE event; DROP TABLE event_sequence;")
    conn.close()
    result = recover.apply(plan(db), journal_directory=journal, now=LATER)
    assert result.sessions == (sid,) and result.events_appended == 0
    assert recover.undo(db, result.run_id, journal_directory=journal).restored == 2


def test_compaction_mark_cleared_with_a_session_updated_event(tmp_path: Path, journal: Path) -> None:
    db, sid = logged_db(tmp_path / "compacting.db", compacting=True)
    created = json.loads(rows(db, "SELECT data FROM event WHERE type = 'session.created.1'")[0][0])
    assert created["info"]["time"]["compacting"] == T0 + 500
    result = recover.apply(plan(db), journal_directory=journal, now=LATER)
    assert result.sessions_uncompacted == 1 and result.events_appended == 2
    kinds = [k for (k,) in rows(db, "SELECT type FROM event WHERE aggregate_id = ? ORDER BY seq", sid)]
    assert kinds[-2:] == ["message.updated.1", "session.updated.1"]
    updated = json.loads(rows(db, "SELECT data FROM event WHERE type = 'session.updated.1'")[0][0])
    assert list(updated) == ["sessionID", "info"]
    assert set(updated["info"]) == set(created["info"])
    assert updated["info"]["time"] == {"created": T0, "updated": LATER}  # absent, never null
    assert problems(db) == []
    recover.undo(db, result.run_id, journal_directory=journal, now=LATER + 5)
    restored = json.loads(
        rows(
            db,
            "SELECT data FROM event WHERE aggregate_id = ? AND type = 'session.updated.1' ORDER BY seq DESC LIMIT 1",
            sid,
        )[0][0]
    )
    assert restored["info"]["time"]["compacting"] == T0 + 500
    assert rows(db, "SELECT time_compacting FROM session") == [(T0 + 500,)]
    assert problems(db) == []


# -- ownership and races ---------------------------------------------------------------------


def test_a_session_owned_by_another_workspace_is_refused_unless_forced(
    fixture_db: Callable[..., Path], journal: Path
) -> None:
    db = fixture_db("stuck-bash")
    sid = SESSIONS["stuck-bash"][0]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE event_sequence SET owner_id = 'wrk_other' WHERE aggregate_id = ?", (sid,))
    conn.close()
    refused = plan(db)
    assert refused.is_empty and "another workspace" in refused.refused[0].reason
    forced = plan(db, force=True)
    assert forced.event_count == 2
    recover.apply(forced, journal_directory=journal, now=LATER)
    assert problems(db) == []
    assert rows(db, "SELECT owner_id FROM event_sequence WHERE aggregate_id = ?", sid) == [("wrk_other",)]


def test_an_event_appended_since_the_plan_skips_the_unit_whole(fixture_db: Callable[..., Path], journal: Path) -> None:
    """OpenCode wrote to the session between plan and apply: nothing of the unit is written."""
    db = fixture_db("stuck-two")
    the_plan = plan(db)
    first, second = the_plan.units[0].session_ids[0], the_plan.units[1].session_ids[0]
    snapshot = {
        sid: rows(db, "SELECT id, data FROM part WHERE session_id = ? ORDER BY id", sid) for sid in (first, second)
    }
    conn = sqlite3.connect(db)
    with conn:  # an unrelated event of the first session, as a live OpenCode would append
        seq = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (first,)).fetchone()[0] + 1
        conn.execute(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?, ?, ?, 'session.updated.1', '{}')",
            ("evt_ffffffffffffzzzzzzzzzzzzzz", first, seq),
        )
        conn.execute("UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (seq, first))
    conn.close()
    result = recover.apply(the_plan, journal_directory=journal, now=LATER)
    assert result.sessions == (second,)
    assert [s.id for s in result.skipped] == [first]
    assert "event log" in result.skipped[0].reason
    assert rows(db, "SELECT id, data FROM part WHERE session_id = ? ORDER BY id", first) == snapshot[first]
    assert rows(db, "SELECT max(seq) FROM event WHERE aggregate_id = ?", first) == [(seq,)]
    assert rows(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", first) == [(seq,)]


# -- the journal is private -------------------------------------------------------------------


def test_journal_directory_and_runs_are_private(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-bash")
    result = recover.apply(plan(db), journal_directory=journal, now=LATER)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(present(result.journal_path)).stat().st_mode) == 0o600
    record = json.loads(Path(present(result.journal_path)).read_text().splitlines()[1])
    assert record["events"] and record["cursors"] and record["changes"][0]["message_id"]


def test_an_older_wider_journal_is_narrowed_and_runs_warns(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    from click.testing import CliRunner

    from inspector.cli import cli

    runs = tmp_path / "state" / "ocinspect" / "runs"
    runs.mkdir(parents=True, mode=0o755)
    runs.chmod(0o755)
    old = runs / "20261101T000000000Z-abcdef.jsonl"
    old.write_text(
        json.dumps(
            {
                "kind": "run",
                "format": 1,
                "run_id": old.stem,
                "database": "/x.db",
                "created": NOW,
                "units": 0,
                "forced": False,
            }
        )
        + "\n"
    )
    old.chmod(0o644)
    db = fixture_db("stuck-bash")
    out = CliRunner().invoke(cli, ["--db", str(db), "runs"])
    assert out.exit_code == 0
    assert "can be read by other users" in out.stderr and "chmod 600" in out.stderr
    out = CliRunner().invoke(cli, ["--db", str(db), "recover", "--all", "--yes"])
    assert out.exit_code == 0, out.output
    assert stat.S_IMODE(runs.stat().st_mode) == 0o700
    assert os.access(old, os.R_OK)  # untouched: warned about, not rewritten

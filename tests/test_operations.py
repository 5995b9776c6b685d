"""The one recovery sequence (``core/repair/operations.py``): every refusal is decided here, typed.

The CLI and the TUI only render what these return; ``tests/tui/test_pilot.py`` and
``tests/test_cli.py`` check that each front end says it in its own words.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.errors import RepairRefused, WritesDisabled
from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.repair import operations
from inspector.core.repair.journal import iter_runs

from .conftest import NOW, SESSIONS, rows

RUNNING = LiveStatus(running=True, detail="OpenCode is running on this database (pid 4242, port 4096)")


def dump(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, time_updated, data FROM part ORDER BY id") + rows(
        db, "SELECT id, time_updated, data FROM message ORDER BY id"
    )


def recovered(db: Path, journal: Path) -> operations.Outcome:
    prepared = operations.prepare(operations.Request(database=db, live=OFFLINE, now=NOW, journal_directory=journal))
    return operations.execute(prepared)


def test_read_only_refuses_before_anything_is_read_or_written(fixture_db, journal) -> None:
    db = fixture_db("stuck-bash")
    before = dump(db)
    with pytest.raises(WritesDisabled) as caught:
        operations.prepare(operations.Request(database=db, read_only=True, live=OFFLINE))
    assert caught.value.kind == "read-only-mode" and caught.value.exit_code == 2
    with pytest.raises(WritesDisabled):
        operations.prepare_undo(operations.UndoRequest(database=db, read_only=True, live=OFFLINE))
    assert dump(db) == before and not journal.exists()


def test_live_sessions_are_refused_with_a_typed_kind_and_hint(fixture_db) -> None:
    db = fixture_db("stuck-bash")
    (sid,) = SESSIONS["stuck-bash"]
    busy = LiveStatus(running=True, busy=frozenset({sid}), owners=((sid, 4096),), detail="OpenCode is running")
    prepared = operations.prepare(operations.Request(database=db, live=busy, now=NOW, hung_after_ms=86_400_000))
    assert prepared.is_empty
    (skip,) = prepared.refused
    assert (skip.id, skip.kind, skip.hint) == (sid, "live", "force")
    assert "--" not in skip.reason  # core text names no flag: the front end renders the hint
    hung = operations.prepare(operations.Request(database=db, live=busy, now=NOW))  # silent past 15 min
    assert [(s.kind, s.hint) for s in hung.refused] == [("hung", "abort-hung")]
    forced = prepared.forced(True)
    assert forced.plan.session_ids == (sid,) and forced.refused == ()


def test_undo_refuses_while_opencode_runs_unless_forced(fixture_db, journal) -> None:
    db = fixture_db("stuck-bash")
    outcome = recovered(db, journal)
    assert outcome.status == "ok" and outcome.undo_run_id
    repaired = dump(db)
    request = operations.UndoRequest(database=db, live=RUNNING, journal_directory=journal, now=NOW)
    with pytest.raises(RepairRefused) as caught:
        operations.prepare_undo(request)
    assert caught.value.hint == "force" and "OpenCode is running on this database" in str(caught.value)
    assert "--force" not in str(caught.value)
    assert dump(db) == repaired
    prepared = operations.prepare_undo(
        operations.UndoRequest(database=db, live=RUNNING, force=True, journal_directory=journal, now=NOW)
    )
    assert prepared.run.run_id == outcome.undo_run_id and prepared.rows == 2
    assert operations.execute_undo(prepared).restored == 2


def test_a_run_that_commits_nothing_leaves_no_run(fixture_db, journal) -> None:
    db = fixture_db("stuck-bash")
    prepared = operations.prepare(
        operations.Request(database=db, live=OFFLINE, now=NOW, journal_directory=journal, busy_timeout_ms=50)
    )
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # OpenCode holding its write lock past our busy timeout
    try:
        outcome = operations.execute(prepared)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert outcome.result.sessions == () and outcome.undo_run_id is None and outcome.result.run_id is None
    assert outcome.status == "partial"
    assert [s.kind for s in outcome.unforeseen] == ["locked"]
    assert list(iter_runs(journal)) == []


@pytest.mark.parametrize("command", [["recover", "--all", "--yes"], ["undo"], ["undo", "--force"]])
def test_cli_read_only_refuses_recover_and_undo_with_exit_2(fixture_db, journal, command) -> None:
    db = fixture_db("stuck-bash")
    before = dump(db)
    ran = CliRunner().invoke(cli, ["--db", str(db), "--read-only", *command])
    assert ran.exit_code == 2, ran.output
    assert "read-only" in ran.output and "Traceback" not in ran.output
    assert dump(db) == before and not journal.exists()


def test_cli_renders_the_force_hint_in_its_own_words(fixture_db, journal, monkeypatch) -> None:
    db = fixture_db("stuck-bash")
    recovered(db, journal)
    monkeypatch.setattr(operations, "detect", lambda path, directories=(), schema="v1": RUNNING)
    ran = CliRunner().invoke(cli, ["--db", str(db), "undo"])
    assert ran.exit_code == 3
    assert "undo refused (use --force to override)" in ran.output

"""Issue 13.1: ``ocinspect run -- COMMAND`` recovers stale sessions, then *becomes* COMMAND.

Run as real subprocesses (``exec`` replaces the process, so no in-process runner can host it):
COMMAND always starts, with the same PID and its own exit code, whatever stands in the way of
the recovery; the database changes only when a recovery really ran.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.db.v1 import eventlog
from tests.support.cli import ocinspect
from tests.support.databases import sha256, stuck_tools
from tests.support.releases import SESSIONS

REPO = Path(__file__).resolve().parents[1]


def test_recovers_then_execs_the_command_with_its_exit_code(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    ran = ocinspect("--db", str(db), "run", "--", "sh", "-c", 'echo "db=$OPENCODE_DB"; exit 7')
    assert ran.returncode == 7, ran.stderr
    assert ran.stdout == f"db={db.resolve()}\n"
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: recovered 2 stuck sessions before start (run ")
    run_id = line.split("(run ", 1)[1].split(";", 1)[0]
    assert line.endswith(f"; 'ocinspect undo {run_id}' reverts)")  # works pasted: the journal names the file
    assert stuck_tools(db) == 0
    with open_store(db).read() as conn:
        assert eventlog.check(conn) == []
    undo = ocinspect("--db", str(db), "undo", "--json")
    assert undo.returncode == 0 and json.loads(undo.stdout)["restored"] == 4


def test_command_keeps_the_pid(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector", "--db", str(db), "run", "--", "sh", "-c", "echo $$"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert int(out) == proc.pid


def test_healthy_database_is_left_untouched_and_silent(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("clean")
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "run", "--", "true")
    assert (ran.returncode, ran.stderr) == (0, "")
    assert sha256(db) == digest


def test_dry_run_shows_the_plan_and_still_starts(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task")
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "run", "--dry-run", "--", "sh", "-c", "echo started")
    assert ran.returncode == 0 and ran.stdout == "started\n"
    assert "task tool: running → error" in ran.stderr and "nothing was changed" in ran.stderr
    assert sha256(db) == digest


def test_no_database_yet_is_a_normal_first_start(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "nothing-here"))
    ran = ocinspect("run", "--", "sh", "-c", "echo first start", env=env)
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "first start\n", "")


def run_while_locked(db: Path, begin: str) -> subprocess.CompletedProcess[str]:
    """``run -- sh -c 'echo started'`` while another connection holds ``begin``'s lock."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute(begin)
    try:
        return ocinspect("--db", str(db), "--busy-timeout", "200", "run", "--", "sh", "-c", "echo started")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_database_is_one_warning_and_the_command_runs(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    ran = run_while_locked(db, "BEGIN EXCLUSIVE")
    assert ran.returncode == 0 and ran.stdout == "started\n"
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: ") and "locked" in line and "starting without recovery" in line
    assert stuck_tools(db) == 1


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_a_writer_holding_the_lock_is_one_warning_naming_what_was_not_recovered(
    fixture_db: Callable[..., Path], wal: bool
) -> None:
    db = fixture_db("stuck-two")
    if wal:
        sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").close()
    ran = run_while_locked(db, "BEGIN IMMEDIATE")  # readers get through, a writer waits out its busy timeout
    assert ran.returncode == 0 and ran.stdout == "started\n"
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: 2 stuck sessions not recovered (")
    assert all(sid in line for sid in SESSIONS["stuck-two"])
    assert "database locked by another writer (busy_timeout 200 ms)" in line
    assert line.endswith("starting without recovery")
    assert stuck_tools(db) == 2
    assert ocinspect("--db", str(db), "runs").stdout.startswith("No recovery runs")  # none left behind


def test_an_unwritable_journal_is_one_warning_and_changes_nothing(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_db("stuck-bash")
    digest = sha256(db)
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("")
    env = dict(os.environ, XDG_STATE_HOME=str(blocker))
    ran = ocinspect("--db", str(db), "run", "--", "sh", "-c", "exit 3", env=env)
    assert ran.returncode == 3
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: cannot create the journal directory")
    assert sha256(db) == digest


@pytest.mark.parametrize("content", [b"", b"not a database at all, just text"])
def test_unreadable_files_do_not_block_the_start(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "opencode.db"
    db.write_bytes(content)
    ran = ocinspect("--db", str(db), "run", "--", "sh", "-c", "echo started")
    assert ran.returncode == 0 and ran.stdout == "started\n"
    assert db.read_bytes() == content
    assert ran.stderr == "" if not content else "not a SQLite database" in ran.stderr


def test_an_unknown_2x_shape_is_left_to_opencode(tmp_path: Path) -> None:
    """A 2.x file not shaped like 2.1.2's is not diagnosed: one warning, nothing written."""
    db = tmp_path / "opencode.db"
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY); CREATE TABLE message (id TEXT);")
    conn.close()
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "run", "--", "true")
    assert ran.returncode == 0
    (warning,) = ran.stderr.splitlines()
    assert warning.startswith("ocinspect: warning: ") and warning.endswith("; starting without recovery")
    assert sha256(db) == digest


def test_without_a_command_is_a_usage_error() -> None:
    ran = ocinspect("run")
    assert ran.returncode == 2 and "give the command to start" in ran.stderr


def test_a_command_that_cannot_start_is_127(fixture_db: Callable[..., Path]) -> None:
    ran = ocinspect("--db", str(fixture_db("clean")), "run", "--", "no-such-program-ocinspect")
    assert ran.returncode == 127
    assert ran.stderr.strip() == "ocinspect: error: cannot start 'no-such-program-ocinspect': No such file or directory"


def test_options_after_the_command_belong_to_the_command(fixture_db: Callable[..., Path]) -> None:
    ran = ocinspect("--db", str(fixture_db("clean")), "run", "sh", "-c", 'echo "$0 $1"', "--dry-run", "--help")
    assert ran.returncode == 0 and ran.stdout == "--dry-run --help\n"


def test_sessions_of_every_fixture_are_found(fixture_db: Callable[..., Path]) -> None:
    """The quick tier used at start finds every stuck session of the real fixtures."""
    for name, sessions in SESSIONS.items():
        db = fixture_db(name)
        ran = ocinspect("--db", str(db), "run", "--dry-run", "--", "true")
        assert ran.returncode == 0
        for sid in sessions:
            assert sid in ran.stderr, (name, ran.stderr)


def test_the_id_wrap_risk_is_said_at_start(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("id-wrap-stuck", "1.18.14")
    ran = ocinspect("--db", str(db), "run", "--", "true")
    assert ran.returncode == 0
    recovered, risk = ran.stderr.splitlines()
    assert recovered.startswith("ocinspect: recovered 1 stuck session before start")
    assert risk.startswith("ocinspect: warning: ses_") and "1.18.15 or newer" in risk


def test_the_db_option_wins_over_opencode_db_even_before_the_file_exists(tmp_path: Path) -> None:
    """``--db`` names the file OpenCode must open, first start included (the README's promise)."""
    elsewhere = tmp_path / "a.db"
    wanted = tmp_path / "new" / ".." / "b.db"
    env = dict(os.environ, OPENCODE_DB=str(elsewhere))
    ran = ocinspect("--db", str(wanted), "run", "--", "sh", "-c", 'echo "$OPENCODE_DB"', env=env)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout == f"{(tmp_path / 'b.db')}\n"


def test_a_data_directory_without_a_database_gives_its_opencode_db(tmp_path: Path) -> None:
    env = dict(os.environ, OPENCODE_DB=str(tmp_path / "a.db"))
    ran = ocinspect("--db", str(tmp_path), "run", "--", "sh", "-c", 'echo "$OPENCODE_DB"', env=env)
    assert ran.returncode == 0 and ran.stdout == f"{tmp_path / 'opencode.db'}\n"


@pytest.mark.parametrize("command", ["/nonexistent/cmd", "no-such-program-ocinspect", "not-executable"])
def test_a_command_that_cannot_start_changes_nothing(
    fixture_db: Callable[..., Path], tmp_path: Path, command: str
) -> None:
    """The command is resolved first: a start that cannot happen must not recover anything."""
    db = fixture_db("stuck-bash")
    digest = sha256(db)
    if command == "not-executable":
        script = tmp_path / "script.sh"
        script.write_text("#!/bin/sh\necho hi\n")
        command = str(script)
    state = tmp_path / "state"
    env = dict(os.environ, XDG_STATE_HOME=str(state))
    ran = ocinspect("--db", str(db), "run", "--", command, "arg", env=env)
    assert ran.returncode == 127
    (line,) = ran.stderr.splitlines()
    assert line.startswith(f"ocinspect: error: cannot start {command!r}: "), line
    assert sha256(db) == digest and stuck_tools(db) == 1
    assert not list(state.rglob("*.jsonl"))


def test_read_only_starts_the_command_without_recovering(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "--read-only", "run", "--", "sh", "-c", 'echo "started $OPENCODE_DB"')
    assert ran.returncode == 0 and ran.stdout == f"started {db.resolve()}\n"
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: ") and "read-only" in line and "recovery" in line
    assert sha256(db) == digest and stuck_tools(db) == 1


def test_a_fifo_as_database_is_one_warning_and_the_command_runs(tmp_path: Path) -> None:
    fifo = tmp_path / "opencode.db"
    os.mkfifo(fifo)
    ran = ocinspect("--db", str(fifo), "run", "--", "sh", "-c", "echo started", timeout=20)
    assert ran.returncode == 0 and ran.stdout == "started\n"
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: warning: ") and "not a regular file" in line


def test_a_global_option_after_run_is_a_usage_error_not_a_command(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    ran = ocinspect("run", "--db", str(db), "--", "true")
    assert ran.returncode == 2 and stuck_tools(db) == 1
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: error: --db is a global option") and "(ocinspect --db PATH run ...)" in line


def test_read_only_is_decided_in_core(fixture_db: Callable[..., Path]) -> None:
    from inspector.core.repair.startup import recover_before_start

    db = fixture_db("stuck-bash")
    digest = sha256(db)
    outcome = recover_before_start(db, read_only=True)
    assert outcome.result is None and outcome.plan is None and outcome.recovered == 0
    assert outcome.warning and "read-only" in outcome.warning and "--" not in outcome.warning  # core names no flag
    assert outcome.opencode_db == db.resolve()
    assert sha256(db) == digest

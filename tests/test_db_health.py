"""The database's own health: its write lock held by another process (named), a WAL the
checkpoint cannot empty (sizes, the reader pinning it, the advice), the guarded checkpoint that
shrinks it and is refused while OpenCode or anyone else has the file open, and ``doctor`` on
bad input. Real SQLite files from the shipped fixtures (1.x and 2.x), real other processes.

Each test starts one or two helper processes and runs ``ocinspect`` as a user would (a
subprocess each); the WAL test writes 40 MiB once and takes every look at that one file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db import contention
from inspector.core.db.locks import parse
from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import EXIT_ERROR, EXIT_FOUND, EXIT_OK, EXIT_REFUSED, DatabaseLocked
from inspector.core.health.beside_scan import hang_notice, worth_a_look
from inspector.core.health.holders import Holder, describe, words
from inspector.core.health.look import LOCK_HELD_MS, look
from inspector.core.opencode.live import OFFLINE

from .support.cli import ocinspect
from .support.db_processes import (
    GROW_WAL,
    HOLD_WRITE_LOCK,
    OPEN_ONLY,
    PIN_SNAPSHOT,
    crash,
    every_row,
    opencode_named,
    running,
    start,
    wal_copy,
)
from .support.releases import LATEST, NOW, SESSIONS, fixture_file

V1 = fixture_file(LATEST, "stuck-bash")
V2 = Path(__file__).parent / "fixtures" / "v2" / "v2-stuck-bash.db"


@pytest.mark.parametrize("fixture", [V1, V2], ids=["v1", "v2"])
def test_a_write_lock_held_by_another_process_is_named(tmp_path: Path, fixture: Path) -> None:
    db = wal_copy(fixture, tmp_path / "opencode.db")
    before = every_row(db)
    with running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE") as holder:
        first = ocinspect("--db", str(db), "doctor", "--json")
        again = ocinspect("--db", str(db), "doctor")
    assert first.returncode == EXIT_FOUND, first.stderr
    report = json.loads(first.stdout)
    lock = report["write_lock"]
    assert lock["role"] == "writer"
    assert lock["holder"]["pid"] == holder.pid
    assert HOLD_WRITE_LOCK.strip().splitlines()[0] in " ".join(lock["holder"]["cmdline"])
    assert [f["kind"] for f in report["findings"]] == ["write-lock"]
    assert report["schema"] == ("v1" if fixture == V1 else "v2")
    # the second look knows the holder from the first: "seen held for" counts from then
    assert again.returncode == EXIT_FOUND
    assert f"writer: pid {holder.pid} python" in again.stdout
    assert "seen held for" in again.stdout
    assert every_row(db) == before


def test_a_holders_name_is_shown_as_text(tmp_path: Path) -> None:
    """A process's name is its own text: an escape sequence in it reaches the terminal escaped."""
    db = wal_copy(V1, tmp_path / "opencode.db")
    program = tmp_path / "evil\x1b[2J"
    program.symlink_to(sys.executable)
    with running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE", program=str(program)) as holder:
        ran = ocinspect("--db", str(db), "doctor")
    assert ran.returncode == EXIT_FOUND
    assert "\x1b" not in ran.stdout
    assert f"writer: pid {holder.pid} evil\\x1b[2J (" in ran.stdout


def test_doctor_names_the_holder_when_the_lock_keeps_it_out(tmp_path: Path) -> None:
    """Rollback-journal mode: an EXCLUSIVE writer keeps readers out too; the one error line names it."""
    db = tmp_path / "opencode.db"
    db.write_bytes(V1.read_bytes())
    with running(HOLD_WRITE_LOCK, str(db), "EXCLUSIVE") as holder:
        ran = ocinspect("--db", str(db), "--busy-timeout", "200", "doctor")
    assert ran.returncode == EXIT_ERROR
    assert ran.stdout == ""
    assert ran.stderr.count("\n") == 1
    assert ran.stderr.startswith(f"ocinspect: error: {db} is locked by pid {holder.pid} python")


def test_a_starved_wal_is_explained_then_checkpointed_only_when_nobody_uses_it(tmp_path: Path) -> None:
    db = wal_copy(V1, tmp_path / "opencode.db")
    reader = start(PIN_SNAPSHOT, str(db))
    writer = start(GROW_WAL, str(db), "40")
    try:
        seen = ocinspect("--db", str(db), "doctor", "--json")
        scan = ocinspect("--db", str(db), "scan")
        show = ocinspect("--db", str(db), "show", SESSIONS["stuck-bash"][0])
        refused = ocinspect("--db", str(db), "doctor", "--checkpoint")
    finally:
        crash(writer)
        crash(reader)
    assert seen.returncode == EXIT_FOUND, seen.stderr
    report = json.loads(seen.stdout)
    wal, size = report["sizes"]["wal"], report["sizes"]["database"]
    assert wal > 40 * 1024 * 1024 and wal > 4 * size
    assert [f["kind"] for f in report["findings"]] == ["wal-starved"]
    assert reader.pid in [r["pid"] for r in report["readers"]]
    assert report["checkpoint_advised"] is False  # a reader pins it: the advice names the reader first
    # scan says it where the hang is explained
    assert "The database itself may be why sessions hang:" in scan.stdout
    assert "its checkpoint is starved" in scan.stdout
    assert "The database itself may be why sessions hang:" in show.stdout
    # the checkpoint is refused while another process has the file open
    assert refused.returncode == EXIT_REFUSED
    assert "another process uses" in refused.stderr and str(reader.pid) in refused.stderr

    # a crashed writer leaves its WAL behind: now the advice is the checkpoint
    rows_before = every_row(db)
    advice = ocinspect("--db", str(db), "doctor")
    assert advice.returncode == EXIT_FOUND
    assert "run 'ocinspect doctor --checkpoint'" in advice.stdout

    link = opencode_named(tmp_path)
    with running(OPEN_ONLY, str(db), program=link) as opencode:
        guarded = ocinspect("--db", str(db), "doctor", "--checkpoint")
    assert guarded.returncode == EXIT_REFUSED
    assert guarded.stderr.startswith(f"ocinspect: error: OpenCode has {db} open (pid {opencode.pid} opencode")
    assert guarded.stderr.count("\n") == 1

    wal_before = Path(f"{db}-wal").stat().st_size
    done = ocinspect("--db", str(db), "doctor", "--checkpoint", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    checkpoint = json.loads(done.stdout)["checkpoint"]
    assert checkpoint["wal_before"] == wal_before > 40 * 1024 * 1024
    assert checkpoint["wal_after"] == 0
    assert checkpoint["busy"] is False
    assert checkpoint["checkpointed_frames"] == checkpoint["log_frames"] > 0
    assert every_row(db) == rows_before
    healthy = ocinspect("--db", str(db), "doctor", "--check")
    assert healthy.returncode == EXIT_OK, healthy.stdout
    assert "quick_check: ok" in healthy.stdout


def test_the_guarded_checkpoint_on_a_2x_database(tmp_path: Path) -> None:
    """The same checkpoint on OpenCode 2's file: a WAL left by a killed writer goes back into the
    database, no row of any table changes, and the doctor reads it as schema v2."""
    db = wal_copy(V2, tmp_path / "opencode.db")
    crash(start(GROW_WAL, str(db), "2"))
    rows_before = every_row(db)
    done = ocinspect("--db", str(db), "doctor", "--checkpoint", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    report = json.loads(done.stdout)
    assert report["schema"] == "v2" and report["pages"]["journal_mode"] == "wal"
    assert report["checkpoint"]["wal_before"] > 2 * 1024 * 1024 and report["checkpoint"]["wal_after"] == 0
    assert every_row(db) == rows_before


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("missing.db", None, "no such file"),
        ("text.db", b"not a database at all\n", "is not a SQLite database"),
    ],
)
def test_doctor_on_bad_input_is_one_line(tmp_path: Path, name: str, content: bytes | None, line: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    for args in (["doctor"], ["doctor", "--checkpoint"]):
        ran = ocinspect("--db", str(path), *args)
        assert ran.returncode == EXIT_ERROR
        assert ran.stdout == ""
        assert ran.stderr.count("\n") == 1 and line in ran.stderr, ran.stderr


def test_checkpoint_of_a_rollback_journal_database_is_refused_as_bad_input(tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    db.write_bytes(V1.read_bytes())
    ran = ocinspect("--db", str(db), "doctor", "--checkpoint")
    assert ran.returncode == EXIT_ERROR
    assert "journal mode, not WAL" in ran.stderr


def test_a_lock_is_held_long_only_after_looks_a_while_apart(tmp_path: Path) -> None:
    """The hang is explained by a lock seen held past a writer's busy timeout, not by one moment."""
    contention.reset()
    db = wal_copy(V1, tmp_path / "opencode.db")
    with running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE") as holder:
        first = look(db, now=1_000_000)
        later = look(db, now=1_000_000 + LOCK_HELD_MS)
    assert first.lock is not None and first.lock.holder.pid == holder.pid
    assert first.lock.held_ms == 0 and not first.explains_hang
    assert later.lock is not None and later.lock.held_ms == LOCK_HELD_MS and later.explains_hang
    assert look(db).lock is None  # the holder ended: the sighting is forgotten


def test_the_health_is_said_beside_a_scan_only_where_something_is_stuck(fixture_db: Callable[..., Path]) -> None:
    """One rule for ``scan``, ``show`` and the TUI's list: the health is looked at beside a stuck
    session only, and put in words only when the database itself explains the hang."""
    db = fixture_db("stuck-bash")
    stuck = scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW))
    clean = scan(open_store(fixture_db("clean")), ScanOptions(live=OFFLINE, now=NOW, all_sessions=True))
    contention.reset()
    with running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE"):
        moment = look(db, now=1_000_000)  # a writer at work
        held = look(db, now=1_000_000 + LOCK_HELD_MS)  # held past a writer's busy timeout
    quiet = look(db)
    assert moment.findings == ("write-lock",) and held.explains_hang and not quiet.findings
    assert worth_a_look(stuck) and not worth_a_look(clean)
    assert hang_notice(stuck, held) is held
    assert hang_notice(stuck, moment) is None and hang_notice(stuck, quiet) is None
    assert hang_notice(clean, held) is None  # nothing stuck: no news
    assert hang_notice(None, held) is None and hang_notice(stuck, None) is None  # no scan or no look yet
    # beside one session (``show``): that session is stuck
    (stuck_id,), (idle_id,) = SESSIONS["stuck-bash"], [d.id for d in clean.sessions]
    assert worth_a_look(stuck, stuck_id) and hang_notice(stuck, held, stuck_id) is held
    assert not worth_a_look(clean, idle_id) and hang_notice(clean, held, idle_id) is None
    assert not worth_a_look(stuck, "ses_not_in_this_scan")


def test_our_writes_that_waited_or_gave_up_are_contention(tmp_path: Path) -> None:
    """A write of ours that gives up with SQLITE_BUSY, and one that waited for another writer's
    lock, are counted; a look then says the database explains the hang."""
    db = wal_copy(V1, tmp_path / "opencode.db")
    store = open_store(db, write=True, busy_timeout_ms=50)
    try:
        with (
            running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE"),
            pytest.raises(DatabaseLocked),
            store.writer() as writer,
            writer.transaction(),
        ):
            pass
        assert contention.seen().busy_writes == 1 and contention.seen().waits == 0
    finally:
        store.dispose()
    contention.reset()
    for _ in range(5):  # the release below is timed: a machine too loaded to start the write in
        # 0.5 s lets it through without a wait, which is no contention; look again then
        wait_for_a_writer(db)
        if contention.seen().waits:
            break
    seen = contention.seen()
    assert seen.waits == 1 and seen.longest_wait_ms >= contention.WAITED_MS
    health = look(db)
    assert health.findings == ("contention",) and health.explains_hang


def wait_for_a_writer(db: Path) -> None:
    """One write of ours that starts while another process holds the write lock, which is
    released half a second after the write began."""
    patient = open_store(db, write=True, busy_timeout_ms=60_000)
    holder = start(HOLD_WRITE_LOCK, str(db), "IMMEDIATE")
    started = threading.Event()

    def release() -> None:
        started.wait(30)
        time.sleep(0.5)  # the write below is waiting by now: it began before this sleep
        crash(holder)

    releaser = threading.Thread(target=release)
    releaser.start()
    try:
        with patient.writer() as writer:
            started.set()
            with writer.transaction():
                pass
    finally:
        releaser.join()
        patient.dispose()


def test_lock_table_lines_say_what_each_lock_means() -> None:
    shm, db = (8, 1, 77), (8, 1, 76)
    lines = [
        "1: POSIX  ADVISORY  WRITE 4128 08:01:77 120 120",
        "2: POSIX  ADVISORY  READ  4129 08:01:77 124 124",
        "3: POSIX  ADVISORY  READ  4129 08:01:77 128 128",
        "4: POSIX  ADVISORY  WRITE 4130 08:01:76 1073741825 1073741825",
        "4: -> POSIX  ADVISORY  WRITE 4131 08:01:77 120 120",
        "5: OFDLCK ADVISORY  READ  -1 08:01:77 0 EOF",
        "6: POSIX  ADVISORY  WRITE 999 08:01:78 120 120",
        "garbage",
    ]
    found = [(lock.pid, lock.role, lock.file, lock.waiting) for lock in parse(lines, db, shm)]
    assert found == [
        (4128, "writer", "wal-index", False),
        (4129, "reader", "wal-index", False),
        (4129, "connected", "wal-index", False),
        (4130, "writer", "database", False),
        (4131, "writer", "wal-index", True),
    ]
    assert os.getpid() not in {pid for pid, *_ in found}


def test_a_holder_that_cannot_be_told_is_an_unknown_process() -> None:
    """The kernel gives pid 0 for a process in another pid namespace; a pid that is gone (or
    another user's that psutil may not read) has no name: neither is guessed at."""
    assert words(Holder(pid=0)) == "an unknown process"
    gone = describe(2**22 + 12345)  # above any pid_max: no such process
    assert gone.name == "" and not gone.known
    assert words(gone) == f"pid {gone.pid} (an unknown process: ocinspect may not look into it)"
    mine = describe(os.getpid())
    assert mine.known and words(mine).startswith(f"pid {os.getpid()} ")


def test_doctor_on_a_sqlite_file_that_is_not_opencodes(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes(x)")
    conn.close()
    ran = ocinspect("--db", str(path), "doctor")
    assert ran.returncode == EXIT_ERROR and ran.stdout == ""
    assert (
        ran.stderr
        == f"ocinspect: error: {path} is a SQLite database but not OpenCode's (no session/message/part tables)\n"
    )

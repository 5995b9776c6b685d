"""The kept scan state notices a backup copied back over the database in place.

The exact sequence a user reported: copy the database aside, ``recover``, ``scan``, copy the
backup back over the file with ``cp`` (same inode; the recovery only rewrote rows, so often the
same size too), ``scan``. The second scan resumes from the state the first one kept: nothing
appended, the tails in place, the same schema and identity. It must still find the sessions the
backup brings back stuck, exactly as a full pass does (``run`` would otherwise not recover them).

On every kind of fixture: OpenCode 1.18's sync event log (``1.18.33``), empty event tables
(``1.14.41``), none (``1.2.27``); each in the rollback-journal mode it was captured in and in WAL
mode, as OpenCode runs it (where SQLite's file change counter only moves with page 1).
End to end: ``cp`` for the copies; the last command of each sequence (``run``, a ``scan``) is
``python -m inspector`` in a subprocess, reading the state the earlier commands kept on disk,
which run in-process through click (``tests.support.cli.invoke``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.errors import EXIT_FOUND, EXIT_OK
from tests.support.cli import invoke, ocinspect
from tests.support.releases import sessions_of


def cp(source: Path, dest: Path) -> None:
    subprocess.run(["cp", str(source), str(dest)], check=True, timeout=60)


def stuck(db: Path, *flags: str, real: bool = False) -> tuple[int, list[str]]:
    """``scan --json``: in-process (the kept state is on disk, read and written by each
    invocation as by a process of its own), or with ``real`` as ``python -m inspector``."""
    if real:
        done = ocinspect("--db", str(db), "scan", "--json", *flags)
        assert done.returncode in (EXIT_OK, EXIT_FOUND), done.stderr
        return done.returncode, sorted(s["id"] for s in json.loads(done.stdout)["sessions"])
    ran = invoke("--db", str(db), "scan", "--json", *flags)
    assert ran.exit_code in (EXIT_OK, EXIT_FOUND), ran.stderr
    return ran.exit_code, sorted(s["id"] for s in json.loads(ran.stdout)["sessions"])


@pytest.mark.parametrize("mode", ["delete", "wal"])
@pytest.mark.parametrize(
    "release", ["1.18.33", "1.14.41", "1.2.27"], ids=["event-log", "empty-event-tables", "no-event-tables"]
)
def test_a_backup_restored_in_place_is_seen_by_the_next_resumed_scan(
    fixture_db: Callable[..., Path], tmp_path: Path, release: str, mode: str
) -> None:
    db = fixture_db("stuck-bash", release)
    if mode == "wal":
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
        conn.close()
    expected = sorted(sessions_of(release, "stuck-bash"))
    backup = tmp_path / "aside.db"
    cp(db, backup)

    assert invoke("--db", str(db), "recover", "--all", "--yes").exit_code == EXIT_OK
    assert stuck(db) == (EXIT_OK, [])  # a full pass (ocinspect wrote): the state is kept
    assert stuck(db, "--quick") == (EXIT_OK, [])
    inode = db.stat().st_ino
    cp(backup, db)
    assert db.stat().st_ino == inode  # restored in place

    assert stuck(db, "--quick") == (EXIT_FOUND, expected)
    assert stuck(db) == (EXIT_FOUND, expected)
    assert stuck(db, "--full") == (EXIT_FOUND, expected)
    started = ocinspect("--db", str(db), "run", "--", sys.executable, "-c", "pass")
    assert started.returncode == EXIT_OK and "recovered 1 stuck session" in started.stderr, started.stderr


def test_a_backup_that_reverts_opencodes_own_update_is_seen_through_the_change_counter(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    """No ocinspect write at all: OpenCode itself finished the stuck turn in place (no row
    appended, no event log), a scan kept that, then the older copy came back. Only SQLite's file
    change counter (moved by every transaction of a rollback-journal file) tells the state."""
    db = fixture_db("stuck-bash", "1.2.27")
    (sid,) = sessions_of("1.2.27", "stuck-bash")
    assert stuck(db) == (EXIT_FOUND, [sid])  # the state remembers the stuck turn
    backup = tmp_path / "aside.db"
    cp(db, backup)
    writer = Path(__file__).parent / "opencode_writer.py"
    subprocess.run([sys.executable, str(writer), str(db), "finish", sid], check=True, capture_output=True, timeout=60)
    assert stuck(db) == (EXIT_OK, []) and stuck(db, "--quick") == (EXIT_OK, [])
    cp(backup, db)
    assert stuck(db, "--quick") == (EXIT_FOUND, [sid])
    assert stuck(db, real=True) == (EXIT_FOUND, [sid])

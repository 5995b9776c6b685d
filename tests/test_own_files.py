"""ocinspect's own files (the undo journal, the kept scan state and write tokens, the TUI's
settings) are opened without blocking and read only when they are regular files of this user: a
FIFO (or a socket, a symlink, another user's file) put in their place is named in one warning and
skipped, never waited on. Without that, ``open()`` of a FIFO blocks until a writer appears: the
command hangs (and ``run`` never starts its command).

End to end: ``python -m inspector`` in subprocesses on copies of real fixtures; each call has a
timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.diagnose.incremental import state
from inspector.core.errors import EXIT_FOUND, EXIT_OK
from inspector.core.ownfiles import NotOwnFile, read_own
from inspector.core.repair.journal import journal_dir
from tests.support import cli
from tests.support.databases import rows
from tests.support.releases import SESSIONS

HANG = 20  # seconds: every command below ends in about one; a FIFO's open() never would

pytestmark = pytest.mark.timeout(180)


def ocinspect(*args: str) -> subprocess.CompletedProcess[str]:
    return cli.ocinspect(*args, timeout=HANG)


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path, 0o600)
    return path


def warnings_naming(stderr: str, path: Path) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ocinspect: warning: ") and str(path) in line]


def running(db: Path) -> int:
    return int(rows(db, "SELECT count(*) FROM part WHERE json_extract(data, '$.state.status') = 'running'")[0][0])


def test_a_fifo_among_the_runs_is_named_once_and_skipped(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    (sid,) = SESSIONS["stuck-bash"]
    done = ocinspect("--db", str(db), "recover", "--all", "--yes", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    real = json.loads(done.stdout)["run_id"]
    pipe = fifo(journal_dir() / "x.jsonl")  # sorts first (newest): read before the real run

    listed = ocinspect("runs", "--json")
    assert listed.returncode == EXIT_OK, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [real]
    (warning,) = listed.stderr.splitlines()
    assert warnings_naming(listed.stderr, pipe) == [warning] and "not a regular file" in warning

    reported = ocinspect("--db", str(db), "report", sid, "--json")
    assert reported.returncode == EXIT_OK, reported.stderr
    assert len(warnings_naming(reported.stderr, pipe)) == 1

    undone = ocinspect("--db", str(db), "undo", "--json")
    assert undone.returncode == EXIT_OK, undone.stderr
    assert json.loads(undone.stdout)["run_id"] == real and running(db) == 1
    assert len(warnings_naming(undone.stderr, pipe)) == 1


@pytest.mark.parametrize("name", ["writes", "quick.json", "inode-writes"])
def test_a_fifo_in_the_state_directory_does_not_hang_scan_or_run(fixture_db: Callable[..., Path], name: str) -> None:
    db = fixture_db("stuck-bash")
    info = db.stat()
    target = (
        state.state_dir() / f"file-{info.st_dev}-{info.st_ino}.writes"
        if name == "inode-writes"
        else state.state_dir() / f"{state.key(db)}.{name}"
    )
    pipe = fifo(target)

    scanned = ocinspect("--db", str(db), "scan", "--quick")
    assert scanned.returncode == EXIT_FOUND, scanned.stderr
    assert len(warnings_naming(scanned.stderr, pipe)) == 1, scanned.stderr

    started = ocinspect("--db", str(db), "run", "--", sys.executable, "-c", "print('started')")
    assert started.returncode == EXIT_OK, started.stderr
    assert started.stdout == "started\n"
    assert "recovered 1 stuck session" in started.stderr and running(db) == 0
    # the write replaced the token files (renamed over the FIFO); the quick state may still be one
    assert len(warnings_naming(started.stderr, pipe)) <= 1


def test_a_fifo_as_the_tui_settings_is_skipped_with_a_problem(tmp_path: Path) -> None:
    from inspector.tui.settings import KEYMAP_FILE, SETTINGS_FILE, load

    fifo(tmp_path / "config" / SETTINGS_FILE)
    fifo(tmp_path / "config" / KEYMAP_FILE)
    loaded = load(tmp_path / "config", ())
    assert loaded.theme is None and loaded.keymap == {}
    assert len(loaded.problems) == 2 and all("not a regular file" in p for p in loaded.problems)


@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory"])
def test_read_own_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        (tmp_path / "real").write_text("x")
        target.symlink_to(tmp_path / "real")
    else:
        target.mkdir()
    with pytest.raises(NotOwnFile) as caught:
        read_own(target)
    assert str(target) in str(caught.value)
    (tmp_path / "plain").write_bytes(b"ok")
    assert read_own(tmp_path / "plain") == b"ok"

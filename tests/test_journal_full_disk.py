"""A journal that could not be written completely is never a run: a full disk during ``recover``
leaves nothing that ``runs`` warns about or that ``undo`` takes for the last run.

End to end: ``python -m inspector`` in subprocesses on a copy of a real fixture. The full disk is
simulated without root or a special filesystem: the refused ``recover`` runs with
``RLIMIT_FSIZE`` set (``resource.setrlimit`` in the child before ``exec``), so every write past
that size really fails in the kernel (``EFBIG``; Python ignores ``SIGXFSZ``), as ``ENOSPC``
would: the journal's first bytes reach the file, the rest does not. ``/dev/full`` cannot serve
here (the journal directory must be a directory), and a tmpfs needs a mount.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inspector.core.errors import EXIT_ERROR, EXIT_OK
from inspector.core.repair.journal import journal_dir
from tests.support.cli import ocinspect
from tests.support.databases import rows
from tests.support.releases import SESSIONS

JOURNAL_LIMIT = 1024  # bytes: less than one unit record of the fixture (about 3.6 kB)


def small_files() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (JOURNAL_LIMIT, JOURNAL_LIMIT))


def session_rows(db: Path, sid: str) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT id, data FROM part WHERE session_id = ? ORDER BY id", sid) + rows(
        db, "SELECT id, data FROM message WHERE session_id = ? ORDER BY id", sid
    )


def test_a_journal_cut_by_a_full_disk_is_no_run_and_undo_reaches_the_last_real_one(
    fixture_db: Callable[..., Path],
) -> None:
    db = fixture_db("stuck-two")
    first, second = SESSIONS["stuck-two"]
    before = session_rows(db, first)
    done = ocinspect("--db", str(db), "recover", first, "--yes", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    real = Path(json.loads(done.stdout)["journal"])
    untouched = session_rows(db, second)

    refused = ocinspect("--db", str(db), "recover", second, "--yes", preexec=small_files)
    assert refused.returncode == EXIT_ERROR, refused.stdout + refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line.startswith("ocinspect: error: cannot write the journal")
    assert session_rows(db, second) == untouched  # nothing was written without its journal

    assert sorted(p.name for p in journal_dir().iterdir()) == [real.name]  # no partial file, named or not
    listed = ocinspect("runs", "--json")
    assert listed.returncode == EXIT_OK and listed.stderr == ""
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [real.stem]

    undone = ocinspect("--db", str(db), "undo", "--json")
    assert undone.returncode == EXIT_OK, undone.stderr
    assert undone.stderr == ""
    assert json.loads(undone.stdout)["run_id"] == real.stem and json.loads(undone.stdout)["restored"] > 0
    assert session_rows(db, first) == before
    assert session_rows(db, second) == untouched

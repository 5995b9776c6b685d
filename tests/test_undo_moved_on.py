"""``undo`` never re-breaks a session that has moved on: after a recovery the user sent a new
prompt and got a reply; putting the run's old rows back would leave the session stuck again
behind a newer turn. Refused (exit 3), naming the newer messages, unless ``--force``.

End to end: ``python -m inspector`` in subprocesses on copies of real fixtures (one with
OpenCode's sync log, one written by a release without it); the new turn is written by a second
process as OpenCode writes it (``tests/opencode_writer.py``, events included when logged).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.errors import EXIT_OK, EXIT_REFUSED
from tests.support.cli import ocinspect
from tests.support.databases import rows, sha256
from tests.support.releases import SESSIONS, sessions_of

WRITER = Path(__file__).parent / "opencode_writer.py"


def opencode_turn(db: Path, sid: str, at_ms: int) -> list[str]:
    """A new prompt and a finished reply in ``sid``, written as OpenCode writes them."""
    done = subprocess.run(
        [sys.executable, str(WRITER), str(db), "turn", sid, str(at_ms)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ids: list[str] = json.loads(done.stdout)
    return ids


def stuck_rows(db: Path, sid: str) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT id, data FROM part WHERE session_id = ? ORDER BY id", sid) + rows(
        db, "SELECT id, data FROM message WHERE session_id = ? ORDER BY id", sid
    )


@pytest.mark.parametrize("release", ["1.18.33", "1.2.27"], ids=["event-log", "no-event-log"])
def test_undo_refuses_a_session_that_moved_on_unless_forced(fixture_db: Callable[..., Path], release: str) -> None:
    db = fixture_db("stuck-bash", release)
    (sid,) = SESSIONS["stuck-bash"] if release == "1.18.33" else sessions_of(release, "stuck-bash")
    original = stuck_rows(db, sid)
    done = ocinspect("--db", str(db), "recover", "--all", "--yes", "--json")
    assert done.returncode == EXIT_OK, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    # the user goes on: a prompt and its reply, after the run (OpenCode's clock, as the run's)
    user, reply, *_ = opencode_turn(db, sid, int(time.time() * 1000) + 1000)
    moved_on = sha256(db)

    refused = ocinspect("--db", str(db), "undo")
    assert refused.returncode == EXIT_REFUSED, refused.stdout + refused.stderr
    assert refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    assert line.startswith("ocinspect: error: ") and sid in line and run_id in line
    assert user in line and reply in line and "--force" in line
    assert sha256(db) == moved_on  # nothing restored

    as_json = ocinspect("--db", str(db), "undo", "--json")
    assert as_json.returncode == EXIT_REFUSED and as_json.stdout == "" and sha256(db) == moved_on

    forced = ocinspect("--db", str(db), "undo", "--force", "--json")
    assert forced.returncode == EXIT_OK, forced.stderr
    assert json.loads(forced.stdout)["run_id"] == run_id and json.loads(forced.stdout)["restored"] > 0
    kept = {r[0] for r in original}
    assert [r for r in stuck_rows(db, sid) if r[0] in kept] == original  # the run's rows are back
    assert {user, reply} <= {r[0] for r in stuck_rows(db, sid)}  # the new turn stays


def test_undo_of_a_session_nothing_wrote_to_since_is_not_refused(fixture_db: Callable[..., Path]) -> None:
    """The check names only rows newer than the run: a plain recover, then undo, still works."""
    db = fixture_db("stuck-bash")
    (sid,) = SESSIONS["stuck-bash"]
    original = stuck_rows(db, sid)
    assert ocinspect("--db", str(db), "recover", "--all", "--yes").returncode == EXIT_OK
    undone = ocinspect("--db", str(db), "undo")
    assert undone.returncode == EXIT_OK, undone.stderr
    assert stuck_rows(db, sid) == original

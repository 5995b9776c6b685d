"""A 1.x session OpenCode 2 imported with its turn unfinished stays found after it runs a 2.x turn.

The file is the real ``v2-imported-from-v1-stuck-bash.db`` (1.18.33's stuck ``bash`` fixture
imported in place by 2.1.2). The import leaves the 1.x reply without ``time.completed``, and
neither kind of v2 server ever closes it; a 2.x turn in that session afterwards (a prompt, a
reply, the ``idle`` row, outcome ``succeeded``: the rows 2.1.2 writes for a finished turn) makes
the session look finished to ``session_v2``, so a scan that starts from the sessions whose last
turn did not end well no longer looks at it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import cli

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "v2" / "v2-imported-from-v1-stuck-bash.db"
SESSION = "ses_df18eeb6dffeePv0iTauMoOxIU"
IMPORTED_REPLY = "msg_20e711917001ax9SiMVHXTS6oC"
AFTER_IMPORT = 1796650700000  # the import ran at 1796650621155 (``kv`` ``migration.v1-v2``)


def a_2x_turn_later(path: Path, turns: int = 1) -> None:
    """``turns`` finished 2.x turns in the imported session, as 2.1.2 writes them."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (seq,) = conn.execute("SELECT max(seq) FROM session_message WHERE session_id = ?", (SESSION,)).fetchone()
        t = AFTER_IMPORT
        for n in range(turns):
            rows: list[tuple[str, str, dict[str, Any]]] = [
                ("user", f"msg_2f{n:011x}1userrowaaaa", {"time": {"created": t}, "text": f"go on {n}"}),
                (
                    "assistant",
                    f"msg_2f{n:011x}2replyrowaaa",
                    {
                        "time": {"created": t + 10, "completed": t + 50},
                        "agent": "build",
                        "model": {"id": "fake", "providerID": "fakeprov"},
                        "content": [{"type": "text", "text": "done."}],
                        "finish": "stop",
                    },
                ),
                ("idle", f"msg_2f{n:011x}3idlerowaaaa", {"time": {"created": t + 60}, "outcome": "succeeded"}),
            ]
            for kind, mid, data in rows:
                seq += 2
                conn.execute(
                    "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (mid, SESSION, kind, seq, data["time"]["created"], data["time"]["created"], json.dumps(data)),
                )
            t += 1000
        conn.execute("UPDATE session_v2 SET idle_outcome = 'succeeded', time_idle = ? WHERE id = ?", (t, SESSION))
        conn.execute("UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (seq, SESSION))
    finally:
        conn.close()


@pytest.mark.parametrize("turns", [1, 20], ids=["one-turn", "more-turns-than-the-newest-window"])
@pytest.mark.parametrize("tier", [("--quick",), ()], ids=["quick", "deep"])
def test_the_imported_unfinished_turn_is_found_after_a_2x_turn(
    tmp_path: Path, tier: tuple[str, ...], turns: int
) -> None:
    path = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURE, path)
    a_2x_turn_later(path, turns)
    done = CliRunner().invoke(cli, ["--db", str(path), "scan", "--json", "--full", *tier])
    assert done.exit_code == 1, done.output
    [session] = json.loads(done.output)["sessions"]
    assert session["id"] == SESSION
    assert "imported-unfinished" in session["patterns"]
    assert session["unfinished_messages"] == [IMPORTED_REPLY]


def test_recover_closes_the_imported_turn_after_a_2x_turn(tmp_path: Path) -> None:
    path = tmp_path / "opencode.db"
    shutil.copyfile(FIXTURE, path)
    a_2x_turn_later(path)
    done = CliRunner().invoke(cli, ["--db", str(path), "recover", "--all", "--yes", "--json"])
    assert done.exit_code == 0, done.output
    assert SESSION in done.output
    again = CliRunner().invoke(cli, ["--db", str(path), "scan", "--json", "--full"])
    assert again.exit_code == 0 and json.loads(again.output)["sessions"] == [], again.output

"""Every front-end command on every real OpenCode 2.1.2 fixture, and the words that differ from
1.x coming from the generation's data (``db/generation.py``), never from a front end's branch.

- ``show``, ``show --timeline`` and ``report`` answer for every session of every fixture (exit 0,
  nothing on stderr, the file unchanged); ``scan --json`` on every fixture is in test_v2_scan.py;
- the ``crash-orphan`` recovery names the error its OpenCode writes ("Tool execution
  interrupted: <tool>" for 2.x, "Tool execution aborted" for 1.x), in ``show`` and in the
  ``report``'s pattern; the recovery's words are what the repair writes;
- the report says what is true of a 2.x file's event log (no ``event`` rows; a 1.x file
  imported by 2.x had its event log cleared), not 1.x's "sync event log yes".
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import invoke as run

V2 = Path(__file__).parent / "fixtures" / "v2"
FIXTURES = sorted(p.stem for p in V2.glob("*.db"))


def sessions_of(name: str) -> list[str]:
    with sqlite3.connect(f"file:{V2 / f'{name}.db'}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM session_v2 ORDER BY id")]


CASES = [(name, sid) for name in FIXTURES for sid in sessions_of(name)]


def copy_of(name: str, tmp_path: Path) -> Path:
    path = tmp_path / "opencode.db"
    shutil.copyfile(V2 / f"{name}.db", path)
    return path


def flat(text: str) -> str:
    """``text`` with its line wrapping undone (the renderers wrap long fields)."""
    return re.sub(r"\s+", " ", text)


def test_every_fixture_has_sessions() -> None:
    assert len(FIXTURES) == 13 and all(sessions_of(name) for name in FIXTURES)


@pytest.mark.parametrize(("name", "session_id"), CASES, ids=[f"{n}-{s[-6:]}" for n, s in CASES])
def test_show_timeline_and_report_answer_for_every_v2_session(name: str, session_id: str, tmp_path: Path) -> None:
    path = copy_of(name, tmp_path)
    before = path.read_bytes()
    shown = run("--db", str(path), "show", session_id)
    assert shown.exit_code == 0 and shown.stderr == "", shown.stderr
    assert shown.output.startswith(f"Session   {session_id}\n")
    told = run("--db", str(path), "show", "--timeline", session_id)
    assert told.exit_code == 0 and told.stderr == "", told.stderr
    assert told.output.strip()
    report = tmp_path / "r.md"
    reported = run("--db", str(path), "report", session_id, "-o", str(report))
    assert reported.exit_code == 0, reported.stderr
    text = report.read_text()
    assert text.startswith("# ocinspect report") and "schema v2" in text
    assert "sync event log" not in text
    assert path.read_bytes() == before


def test_crash_orphan_names_the_error_opencode_2_writes(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-bash", tmp_path)
    shown = flat(run("--db", str(path), "show", "ses_daf4c8d96ffeAGO55FNvmDcFBJ").output)
    assert 'Recovery: Mark the running tool as aborted (error "Tool execution interrupted: <tool>")' in shown
    assert "Tool execution aborted" not in shown
    assert "queues every new prompt" not in shown  # a new prompt to a 2.x session closes the stale turn


def test_crash_orphan_still_names_the_error_opencode_1_writes(fixture_db: Callable[..., Path]) -> None:
    from tests.support.releases import SESSIONS

    shown = flat(run("--db", str(fixture_db("stuck-bash")), "show", SESSIONS["stuck-bash"][0]).output)
    assert 'Recovery: Mark the running tool as aborted (error "Tool execution aborted")' in shown
    assert "queues every new prompt" in shown


def test_the_quoted_errors_are_what_each_repair_writes() -> None:
    from inspector.core.db.generation import V1, V2, named
    from inspector.core.db.v1.plan import ABORT_ERROR
    from inspector.core.db.v2.heal import INTERRUPTED

    assert V1.tool_error == ABORT_ERROR
    assert V2.tool_error == f"{INTERRUPTED}: <tool>"
    assert named("v2") is V2 and named("v1") is V1 and named("legacy") is V1


def test_the_report_of_a_v2_file_says_what_its_event_log_is(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-bash", tmp_path)
    text = flat(run("--db", str(path), "report", "ses_daf4c8d96ffeAGO55FNvmDcFBJ").output)
    assert "no event rows (OpenCode 2 sends its events live; event_sequence numbers each session's rows)" in text
    assert "imported" not in text and "sync event log" not in text
    crash = [line for line in text.split("**Pattern:**") if "crash-orphan" in line]
    assert crash and "queues every new prompt" not in crash[0]


def test_the_report_of_an_imported_file_says_the_import_cleared_its_event_log(tmp_path: Path) -> None:
    path = copy_of("v2-imported-from-v1-stuck-bash", tmp_path)
    text = flat(run("--db", str(path), "report", "ses_df18eeb6dffeePv0iTauMoOxIU").output)
    assert "imported from OpenCode 1.x by OpenCode 2 (kv migration.v1-v2): the import cleared its 1.x event log" in text


def test_the_report_of_a_v1_file_keeps_its_sync_event_log(fixture_db: Callable[..., Path]) -> None:
    from tests.support.releases import SESSIONS

    text = run("--db", str(fixture_db("stuck-bash")), "report", SESSIONS["stuck-bash"][0]).output
    assert "sync event log yes" in text


@pytest.mark.parametrize(("name", "tools", "turns"), [("v2-stuck-bash", 1, 1), ("v2-stuck-task", 2, 2)])
def test_the_report_counts_what_a_v2_recovery_aborted(name: str, tools: int, turns: int, tmp_path: Path) -> None:
    """A 2.x tool is an item inside its turn's row: the journal keeps the plan's counts."""
    path = copy_of(name, tmp_path)
    (first, *_) = sessions_of(name)
    recovered = run("--db", str(path), "recover", "--all", "--yes")
    assert recovered.exit_code == 0, recovered.stderr
    assert f"{tools} tool part(s) aborted, {turns} turn(s) closed" in recovered.output
    text = run("--db", str(path), "report", first).output
    (line,) = [line for line in text.splitlines() if line.startswith("- Run ")]
    assert f"{tools} tool part(s) aborted, {turns} turn(s) closed" in line

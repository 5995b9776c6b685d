"""OpenCode 2 followed from watermarks: a resumed look reads what changed, and equals a full pass.

The file is the v2 bench database, small (``bench/make_db_v2.py``: real 2.1.2 DDL, the stuck
sessions grafted from the real 2.1.2 fixtures). It is changed the way 2.1.2 writes, through a
second SQLite connection (what makes a change visible to ours is the file, not the process):
a new crashed turn (the rows of ``v2-stuck-bash.db``, grafted), v2 closing a turn in place (the
rows its own heal writes), a tool starting inside a turn already open (an update in place), and
ocinspect's own recover. Each time the resumed :func:`resume.scan_resumed` must equal a full
:func:`scan.scan` and say which pass it made; the work is SQLite's own, counted in virtual
machine steps on every connection the store opens (``set_progress_handler``), not wall time.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from inspector.core.db.store import open_store
from inspector.core.diagnose.incremental.resume import Pass, scan_resumed
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import OFFLINE, ScanResult
from inspector.core.repair import operations
from tests.support.sqlite_work import Work, counting

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import make_db_v2  # noqa: E402
from flat_common import page_copy  # noqa: E402

NOW = make_db_v2.DEFAULT_NOW
TIERS = pytest.mark.parametrize("quick", [True, False], ids=["quick", "deep"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("v2bench") / "opencode.db"
    return path, make_db_v2.build(path, size=0.05, stuck=8)


@pytest.fixture
def v2db(built: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    """A page copy of the built file, WAL like OpenCode's."""
    path = tmp_path / "opencode.db"
    page_copy(built[0], path)
    return path


@pytest.fixture
def work() -> Iterator[Work]:
    with counting() as counter:
        yield counter


def look(path: Path, work: Work, *, quick: bool, full: bool = False) -> tuple[ScanResult, Pass, int]:
    """A resumed look (a fresh store, as a new process has) and the work it cost."""
    before = work.ticks
    store = open_store(path)
    try:
        result, how = scan_resumed(store, ScanOptions(quick=quick, full=full, live=OFFLINE, now=NOW))
    finally:
        store.dispose()
    return result, how, work.ticks - before


def full_pass(path: Path, *, quick: bool) -> ScanResult:
    store = open_store(path)
    try:
        return scan(store, ScanOptions(quick=quick, live=OFFLINE, now=NOW))
    finally:
        store.dispose()


def stuck(result: ScanResult) -> set[str]:
    return {d.id for d in result.stuck}


def graft_crash(path: Path, copy: int) -> set[str]:
    """A new crashed turn, as ``v2-stuck-bash.db`` holds it, written by another connection."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA busy_timeout=5000")
            projects = [(str(r[0]), str(r[1])) for r in conn.exec_driver_sql("SELECT id, worktree FROM project")]
            planted = make_db_v2.graft(conn, 1, projects, NOW, first=copy)
    finally:
        engine.dispose()
    return {p["session_id"] for p in planted}


def one_of(built: tuple[Path, dict[str, Any]], shape: str) -> str:
    return str(next(s["session_id"] for s in built[1]["stuck"] if s["shape"] == shape and s["stuck"]))


def close_like_v2(path: Path, session_id: str) -> None:
    """What 2.1.2 writes when a new prompt heals a crashed turn and the turn then ends: the open
    reply closed in place (tool ``error``, ``time.completed``), an ``idle`` row appended, the
    claim released, the counter advanced."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        mid, data, seq = conn.execute(
            "SELECT id, data, seq FROM session_message WHERE session_id = ? AND type = 'assistant' "
            "ORDER BY seq DESC LIMIT 1",
            (session_id,),
        ).fetchone()
        reply = json.loads(data)
        for item in reply["content"]:
            if item.get("type") == "tool" and item["state"]["status"] in ("running", "streaming"):
                item["state"] = {
                    "status": "error",
                    "input": item["state"].get("input") or {},
                    "error": {"type": "aborted", "message": f"Tool execution interrupted: {item['name']}"},
                }
        reply["time"]["completed"] = NOW
        conn.execute(
            "UPDATE session_message SET data = ?, time_updated = ? WHERE id = ?", (json.dumps(reply), NOW, mid)
        )
        (top,) = conn.execute("SELECT max(seq) FROM session_message WHERE session_id = ?", (session_id,)).fetchone()
        conn.execute(
            "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data) "
            "VALUES (?, ?, 'idle', ?, ?, ?, ?)",
            (
                mid + "zz",
                session_id,
                top + 2,
                NOW,
                NOW,
                json.dumps({"time": {"created": NOW}, "outcome": "interrupted"}),
            ),
        )
        conn.execute(
            "UPDATE session_v2 SET time_suspended = NULL, resume_attempts = 0, idle_outcome = 'interrupted', "
            "time_idle = ? WHERE id = ?",
            (NOW, session_id),
        )
        conn.execute("UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (top + 2, session_id))
        conn.execute("COMMIT")
    finally:
        conn.close()


# -- the cost -----------------------------------------------------------------------------------
@TIERS
def test_an_unchanged_v2_file_is_resumed_at_a_fraction_of_the_work(v2db: Path, work: Work, quick: bool) -> None:
    first, how, full_work = look(v2db, work, quick=quick)
    assert how.kind == "full" and first.stuck
    again, how, resumed_work = look(v2db, work, quick=quick)
    assert how.kind == "incremental", how
    assert again == first == full_pass(v2db, quick=quick)
    # the deep pass reads every row, the quick one every session row; the resumed look reads the
    # stuck sessions again (10 of 183 here: on the 1.2 GB bench file, 28 against 752)
    assert resumed_work * (2 if quick else 20) < full_work, (resumed_work, full_work)


# -- OpenCode 2's own writes: seen by the resumed look ---------------------------------------------
@TIERS
def test_a_new_crash_after_the_first_look_is_found_by_the_resumed_look(v2db: Path, work: Work, quick: bool) -> None:
    first, _, full_work = look(v2db, work, quick=quick)
    added = graft_crash(v2db, 900)
    again, how, resumed_work = look(v2db, work, quick=quick)
    assert how.kind == "incremental", how
    assert stuck(again) == stuck(first) | added and added
    assert again == full_pass(v2db, quick=quick)
    assert resumed_work * (2 if quick else 20) < full_work, (resumed_work, full_work)


@TIERS
@pytest.mark.parametrize("shape", ["bash", "exhausted", "orphan-child"])
def test_a_turn_v2_closes_leaves_the_resumed_look(
    built: tuple[Path, dict[str, Any]], v2db: Path, work: Work, quick: bool, shape: str
) -> None:
    sid = one_of(built, shape)
    first, _, _ = look(v2db, work, quick=quick)
    assert sid in stuck(first)
    close_like_v2(v2db, sid)
    again, how, _ = look(v2db, work, quick=quick)
    assert how.kind == "incremental", how
    assert stuck(again) == stuck(first) - {sid}
    assert again == full_pass(v2db, quick=quick)


def test_a_tool_started_inside_an_open_turn_is_found_by_the_resumed_deep_look(
    built: tuple[Path, dict[str, Any]], v2db: Path, work: Work
) -> None:
    """2.x adds a tool to its reply by updating the row in place: the turn was open at the last
    look, so it is read again, and its tools with it."""
    sid = one_of(built, "graceful-stop")  # a claim kept, its reply finished: reopen it as running
    conn = sqlite3.connect(v2db, isolation_level=None)
    try:
        mid, data = conn.execute(
            "SELECT id, data FROM session_message WHERE session_id = ? AND type = 'assistant'", (sid,)
        ).fetchone()
        reply = json.loads(data)
        del reply["time"]["completed"]
        reply["content"] = [{"type": "text", "text": ""}]
        conn.execute("UPDATE session_message SET data = ? WHERE id = ?", (json.dumps(reply), mid))
        first, _, _ = look(v2db, work, quick=False)
        assert sid in stuck(first) and not next(d for d in first.stuck if d.id == sid).stuck_parts
        reply["content"] = [
            {
                "type": "tool",
                "id": "call_started_in_place",
                "name": "shell",
                "executed": False,
                "state": {"status": "running", "input": {"command": "sleep 600"}, "metadata": {}},
                "time": {"created": NOW, "ran": NOW},
            }
        ]
        conn.execute(
            "UPDATE session_message SET data = ?, time_updated = ? WHERE id = ?", (json.dumps(reply), NOW, mid)
        )
    finally:
        conn.close()
    again, how, _ = look(v2db, work, quick=False)
    assert how.kind == "incremental", how
    assert [p.id for p in next(d for d in again.stuck if d.id == sid).stuck_parts] == ["call_started_in_place"]
    assert again == full_pass(v2db, quick=False)


# -- ocinspect's own write ----------------------------------------------------------------------
@TIERS
def test_a_session_recovered_by_ocinspect_leaves_the_next_looks(
    built: tuple[Path, dict[str, Any]], v2db: Path, work: Work, quick: bool, tmp_path: Path
) -> None:
    sid = one_of(built, "bash")
    first, _, _ = look(v2db, work, quick=quick)
    prepared = operations.prepare(
        operations.Request(
            database=v2db, session_ids=(sid,), live=OFFLINE, now=NOW, journal_directory=tmp_path / "journal"
        )
    )
    assert operations.execute(prepared).result.sessions == (sid,)
    again, how, _ = look(v2db, work, quick=quick)
    assert how.kind == "full" and "wrote" in how.reason  # our own write: the next look starts over
    assert stuck(again) == stuck(first) - {sid}
    third, how, _ = look(v2db, work, quick=quick)
    assert how.kind == "incremental" and third == again

"""Watermarks kept across processes (issue 19): a resumed scan == a full scan, or it falls back.

Every test looks at a real OpenCode-shaped file (the demo database, built from the real DDL;
``logged`` with OpenCode 1.18's sync event log, ``unlogged`` without it, as older releases
write) through :func:`resume.scan_resumed`, changes it the way OpenCode (a *second process*,
``tests/opencode_writer.py``), ocinspect itself or a person would, and compares the next resumed
scan with a full :func:`scan.scan` of the same file, for both tiers. Each test also says which
pass it expects: a change OpenCode makes must be seen *incrementally*, a change that breaks the
watermarks must fall back to a full pass. ``XDG_STATE_HOME`` is a per-test temporary directory
(``conftest.isolated_env``).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.incremental import resume, state
from inspector.core.diagnose.incremental.resume import Pass, scan_resumed
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import OFFLINE, ScanResult
from inspector.core.repair import operations
from inspector.core.synth.demo import DemoSessions, build_demo_sessions
from tests.support.releases import NOW

ROOT = Path(__file__).resolve().parents[1]
WRITER = ROOT / "tests" / "opencode_writer.py"
LATER = NOW + 60_000
TIERS = pytest.mark.parametrize("quick", [True, False], ids=["quick", "deep"])


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[Path, DemoSessions]]:
    """The demo database of each kind, built once (the build is seeded: every build is the same
    file); each test gets its own copy of it."""
    made: dict[str, tuple[Path, DemoSessions]] = {}

    def get(kind: str) -> tuple[Path, DemoSessions]:
        if kind not in made:
            path, ids = build_demo_sessions(tmp_path_factory.mktemp(f"demo-{kind}"), now=NOW)
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA journal_mode=WAL").fetchall()  # like OpenCode's own file
                if kind == "unlogged":  # OpenCode before the sync log (1.2 … 1.14)
                    conn.execute("DROP TABLE event")
                    conn.execute("DROP TABLE event_sequence")
                conn.commit()
            finally:
                conn.close()
            assert not Path(f"{path}-wal").exists()  # checkpointed on close: the file alone is the database
            made[kind] = (path, ids)
        return made[kind]

    return get


@pytest.fixture(params=["logged", "unlogged"])
def demo(
    request: pytest.FixtureRequest, tmp_path: Path, demo_template: Callable[[str], tuple[Path, DemoSessions]]
) -> tuple[Path, DemoSessions]:
    template, ids = demo_template(request.param)
    (tmp_path / "db").mkdir()
    path = tmp_path / "db" / template.name
    shutil.copyfile(template, path)
    return path, ids


def logged(path: Path) -> bool:
    return bool(sql(path, "SELECT count(*) FROM sqlite_master WHERE name = 'event'")[0][0])


# -- looking -----------------------------------------------------------------------------------
def look(path: Path, *, quick: bool, full: bool = False, **kw: Any) -> tuple[ScanResult, Pass]:
    store = open_store(path)
    try:
        return scan_resumed(store, ScanOptions(quick=quick, full=full, live=OFFLINE, now=NOW, **kw))
    finally:
        store.dispose()


def full_scan(path: Path, *, quick: bool) -> ScanResult:
    store = open_store(path)
    try:
        return scan(store, ScanOptions(quick=quick, live=OFFLINE, now=NOW))
    finally:
        store.dispose()


def check(path: Path, *, quick: bool, expect: str, **kw: Any) -> ScanResult:
    """The resumed scan equals a full scan of the same file, made the way ``expect`` says."""
    resumed, how = look(path, quick=quick, **kw)
    assert resumed == full_scan(path, quick=quick)
    assert how.kind == expect, how
    return resumed


def stuck(result: ScanResult) -> set[str]:
    return {d.id for d in result.stuck}


# -- writing -----------------------------------------------------------------------------------
def opencode(path: Path, action: str, session_id: str, t: int = LATER) -> list[str]:
    """``tests/opencode_writer.py``: a second process writing as OpenCode does."""
    done = subprocess.run(
        [sys.executable, str(WRITER), str(path), action, session_id, str(t)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ids: list[str] = json.loads(done.stdout)
    return ids


def sql(path: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


def script(path: Path, text: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript(text)
    finally:
        conn.close()


def recover_all(path: Path, journal: Path) -> operations.Outcome:
    prepared = operations.prepare(operations.Request(database=path, live=OFFLINE, now=LATER, journal_directory=journal))
    return operations.execute(prepared)


def undo_last(path: Path, journal: Path) -> int:
    prepared = operations.prepare_undo(
        operations.UndoRequest(database=path, live=OFFLINE, now=LATER, journal_directory=journal)
    )
    return operations.execute_undo(prepared).restored


# -- nothing changed, OpenCode's own writes: seen incrementally ----------------------------------
@TIERS
def test_unchanged_file_is_resumed(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    first = check(path, quick=quick, expect="full")
    assert stuck(first) >= {ids.crash_orphan, ids.pending_placeholder}
    assert check(path, quick=quick, expect="incremental") == first


@TIERS
def test_new_turns_appended_are_seen(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    check(path, quick=quick, expect="full")
    for sid in ids.clean:
        opencode(path, "turn", sid)
    opencode(path, "turn", ids.ignores_prompts, LATER + 10_000)  # a reply: its prompt is no longer ignored
    after = check(path, quick=quick, expect="incremental")
    assert ids.ignores_prompts not in stuck(after)


@TIERS
def test_a_turn_finishing_is_seen(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    assert ids.crash_orphan in stuck(check(path, quick=quick, expect="full"))
    written = opencode(path, "finish", ids.crash_orphan)
    assert written  # it did finish something
    assert ids.crash_orphan not in stuck(check(path, quick=quick, expect="incremental"))


@TIERS
def test_an_old_turn_made_unfinished_again(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    """An UPDATE (rowid kept) that makes a finished turn unfinished: with the sync log its event
    names the row, so the next look sees it incrementally; without the log it stays hidden until
    the daily full pass (documented in NOTES)."""
    path, ids = demo
    sid = ids.clean[0]
    assert sid not in stuck(check(path, quick=quick, expect="full"))
    (mid,) = opencode(path, "reopen", sid)
    if logged(path):
        result = check(path, quick=quick, expect="incremental")
        assert mid in {m.id for d in result.sessions for m in d.unfinished_messages}
    else:
        result, how = look(path, quick=quick)
        assert how.kind == "incremental" and sid not in stuck(result)
        assert sid in stuck(check(path, quick=quick, expect="full", full=True))


@TIERS
def test_new_crash_from_a_second_process_is_found_by_the_next_look(
    demo: tuple[Path, DemoSessions], quick: bool
) -> None:
    path, ids = demo
    sid = ids.clean[0]
    assert sid not in stuck(check(path, quick=quick, expect="full"))
    opencode(path, "crash", sid)
    assert sid in stuck(check(path, quick=quick, expect="incremental"))
    opencode(path, "crash", ids.clean[1], LATER + 20_000)  # and once more, from the kept state
    assert {sid, ids.clean[1]} <= stuck(check(path, quick=quick, expect="incremental"))


@TIERS
def test_compaction_mark_set_and_ended(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    """The session table is not read again on a logged file (the kept compacting ids, the
    sessions named by events or new rows); on an unlogged one it is: both see a new mark."""
    path, ids = demo
    assert ids.compaction in stuck(check(path, quick=quick, expect="full"))
    opencode(path, "compact", ids.clean[0])
    assert ids.clean[0] in stuck(check(path, quick=quick, expect="incremental"))
    opencode(path, "finish", ids.compaction, LATER + 10_000)  # its summary finishes: the mark is over
    assert ids.compaction not in stuck(check(path, quick=quick, expect="incremental"))


@TIERS
def test_sessions_deleted_and_added(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    check(path, quick=quick, expect="full")
    sql(path, "DELETE FROM session WHERE id = ?", ids.compaction)  # OpenCode deletes a session and its rows
    sql(path, "DELETE FROM message WHERE session_id = ?", ids.compaction)
    sql(path, "DELETE FROM part WHERE session_id = ?", ids.compaction)
    assert ids.compaction not in stuck(check(path, quick=quick, expect="incremental"))
    project, directory = sql(path, "SELECT project_id, directory FROM session WHERE id = ?", ids.clean[0])[0]
    sql(
        path,
        "INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated, "
        "time_compacting) VALUES ('ses_0000000000ffnewsession00001', ?, 'new', ?, 'new', '1.18.10', ?, ?, ?)",
        project,
        directory,
        LATER,
        LATER,
        LATER,
    )
    after = check(path, quick=quick, expect="incremental")
    assert "ses_0000000000ffnewsession00001" in stuck(after)


def test_new_stuck_part_in_a_finished_turn_is_found_by_the_deep_tier(demo: tuple[Path, DemoSessions]) -> None:
    path, ids = demo
    sid = ids.clean[0]
    check(path, quick=False, expect="full")
    opencode(path, "stuck", sid)
    assert sid in stuck(check(path, quick=False, expect="incremental"))
    assert sid not in stuck(check(path, quick=True, expect="incremental"))  # the quick tier never sees those


def test_a_deep_pass_keeps_the_quick_tiers_state_too(demo: tuple[Path, DemoSessions]) -> None:
    path, ids = demo
    check(path, quick=False, expect="full")
    opencode(path, "crash", ids.clean[0])
    assert ids.clean[0] in stuck(check(path, quick=True, expect="incremental"))


# -- ocinspect's own writes --------------------------------------------------------------------
@TIERS
def test_recover_then_undo_brings_the_sessions_back(
    demo: tuple[Path, DemoSessions], quick: bool, tmp_path: Path
) -> None:
    path, ids = demo
    journal = tmp_path / "journal"
    before = check(path, quick=quick, expect="full")
    outcome = recover_all(path, journal)
    recovered = set(outcome.result.sessions)
    assert recovered
    after = check(path, quick=quick, expect="full")  # ocinspect wrote: the kept state is stale
    assert not recovered & stuck(after)
    check(path, quick=quick, expect="incremental")
    assert undo_last(path, journal) > 0
    back = check(path, quick=quick, expect="full")  # undo put stuck rows back below the watermarks
    assert recovered & stuck(before) <= stuck(back)
    assert back == before
    check(path, quick=quick, expect="incremental")


def test_write_in_progress_when_the_state_is_kept(demo: tuple[Path, DemoSessions], tmp_path: Path) -> None:
    """A scan made while an ocinspect write runs (in another process) keeps no state that could
    outlive it: the writer may be killed after its commit and before it replaces the token."""
    path, ids = demo
    check(path, quick=True, expect="full")
    code = (
        "import sys, os, signal, sqlite3\n"
        "from inspector.core.diagnose.incremental import state\n"
        "state.note_write(sys.argv[1], writing=True)\n"
        "print('writing', flush=True)\n"
        "sys.stdin.readline()\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        # what an undo does: a turn that had finished is unfinished again, at its old rowid
        "c.execute(\"UPDATE message SET data = json_remove(data, '$.time.completed') WHERE id = ?\", (sys.argv[2],))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    (message,) = sql(
        path,
        "SELECT id FROM message WHERE session_id = ? AND json_extract(data, '$.role') = "
        "'assistant' ORDER BY time_created DESC LIMIT 1",
        ids.clean[0],
    )[0]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), message],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        check(path, quick=True, expect="full")  # the token changed
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -9
    assert ids.clean[0] in stuck(check(path, quick=True, expect="full"))


def test_write_through_another_name_of_the_file(demo: tuple[Path, DemoSessions], tmp_path: Path) -> None:
    """The write token is kept by inode too: a recover and its undo made through one name of
    the file (here the original) reach the state kept under another (a hard link)."""
    path, ids = demo
    other = tmp_path / "link.db"
    os.link(path, other)
    journal = tmp_path / "journal"
    recover_all(path, journal)
    check(other, quick=True, expect="full")
    check(other, quick=True, expect="incremental")
    assert undo_last(path, journal) > 0
    assert ids.crash_orphan in stuck(check(other, quick=True, expect="full"))


# -- the file is not the one the state describes: a full pass -----------------------------------
@TIERS
def test_database_replaced_by_a_backup(demo: tuple[Path, DemoSessions], quick: bool, tmp_path: Path) -> None:
    path, ids = demo
    copy = tmp_path / "backup.db"
    src, dst = sqlite3.connect(path), sqlite3.connect(copy)
    src.backup(dst)  # the SQLite backup API, as a person would make one
    src.close()
    dst.close()
    recover_all(path, tmp_path / "journal")
    check(path, quick=quick, expect="full")
    assert ids.crash_orphan not in stuck(check(path, quick=quick, expect="incremental"))
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.replace(copy, path)  # the backup restored: another inode, the stuck rows back at their rowids
    assert ids.crash_orphan in stuck(check(path, quick=quick, expect="full"))


@TIERS
def test_database_replaced_by_a_copy_of_another(demo: tuple[Path, DemoSessions], quick: bool, tmp_path: Path) -> None:
    path, ids = demo
    check(path, quick=quick, expect="full")
    (tmp_path / "other").mkdir()
    other, _ = build_demo_sessions(tmp_path / "other", now=NOW - 3_600_000)
    shutil.copyfile(other, tmp_path / "copy.db")
    os.replace(tmp_path / "copy.db", path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    check(path, quick=quick, expect="full")


@TIERS
def test_schema_migration(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    check(path, quick=quick, expect="full")
    opencode(path, "crash", ids.clean[0])
    # drizzle's way of changing a column: a new table, the rows copied, the old one dropped
    # (rowids renumbered: the deleted row's gap closes, the new crash moves below the old tail)
    sql(path, "DELETE FROM message WHERE rowid = (SELECT min(rowid) FROM message)")
    script(
        path,
        """
        PRAGMA foreign_keys = OFF;
        BEGIN;
        CREATE TABLE __new_message (id text PRIMARY KEY, session_id text NOT NULL, time_created integer NOT NULL,
            time_updated integer NOT NULL, data text NOT NULL,
            CONSTRAINT fk_message_session_id_session_id_fk FOREIGN KEY (session_id) REFERENCES session(id)
            ON DELETE CASCADE);
        INSERT INTO __new_message (id, session_id, time_created, time_updated, data)
            SELECT id, session_id, time_created, time_updated, data FROM message ORDER BY rowid;
        DROP TABLE message;
        ALTER TABLE __new_message RENAME TO message;
        CREATE INDEX message_session_time_created_id_idx ON message (session_id, time_created, id);
        COMMIT;
    """,
    )
    assert ids.clean[0] in stuck(check(path, quick=quick, expect="full"))
    check(path, quick=quick, expect="incremental")


@TIERS
def test_column_added(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, _ = demo
    check(path, quick=quick, expect="full")
    sql(path, "ALTER TABLE session ADD COLUMN extra TEXT")
    check(path, quick=quick, expect="full")


@TIERS
def test_vacuum(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    """OpenCode's ``message``/``part`` have ``id text PRIMARY KEY`` (no INTEGER PRIMARY KEY pins the
    rowid). SQLite 3.40 keeps their rowids through VACUUM (only tables without any index are
    renumbered) and bumps ``schema_version``: the state falls back either way."""
    path, ids = demo
    check(path, quick=quick, expect="full")
    opencode(path, "crash", ids.clean[0])
    sql(path, "DELETE FROM session WHERE id = ?", ids.clean[1])  # OpenCode deletes a session's rows too
    sql(path, "DELETE FROM part WHERE session_id = ?", ids.clean[1])
    sql(path, "DELETE FROM message WHERE session_id = ?", ids.clean[1])
    sql(path, "VACUUM")
    assert ids.clean[0] in stuck(check(path, quick=quick, expect="full"))
    check(path, quick=quick, expect="incremental")


@TIERS
def test_rowids_renumbered_in_place(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    """What a VACUUM may do to rowids no INTEGER PRIMARY KEY pins, without a schema or size
    signal: every row moved to a new rowid (ten old ones gone), the rows written after the
    watermark among them below the old tail. Only the tail's id tells (the newest rowid no longer holds that row)."""
    path, ids = demo
    check(path, quick=quick, expect="full")
    opencode(path, "crash", ids.clean[0])
    schema = sql(path, "PRAGMA schema_version")[0][0]
    script(
        path,
        """
        BEGIN IMMEDIATE;
        CREATE TEMP TABLE m AS SELECT * FROM message WHERE rowid > (SELECT min(rowid) + 9 FROM message) ORDER BY rowid;
        CREATE TEMP TABLE p AS SELECT * FROM part WHERE rowid > (SELECT min(rowid) + 9 FROM part) ORDER BY rowid;
        DELETE FROM message; DELETE FROM part;
        INSERT INTO message SELECT * FROM m ORDER BY rowid;
        INSERT INTO part SELECT * FROM p ORDER BY rowid;
        COMMIT;
    """,
    )
    assert sql(path, "PRAGMA schema_version")[0][0] == schema  # temp tables live elsewhere
    assert ids.clean[0] in stuck(check(path, quick=quick, expect="full"))


@TIERS
def test_newest_row_deleted_and_its_rowid_reused(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, ids = demo
    check(path, quick=quick, expect="full")
    sql(path, "DELETE FROM message WHERE rowid = (SELECT max(rowid) FROM message)")
    sql(path, "DELETE FROM part WHERE rowid = (SELECT max(rowid) FROM part)")
    opencode(path, "crash", ids.clean[0])
    check(path, quick=quick, expect="full")


# -- the state file itself ---------------------------------------------------------------------
def state_file(path: Path, tier: str) -> Path:
    return state.state_dir() / f"{state.key(path)}.{tier}.json"


def edit(payload: dict[str, Any], **changes: Any) -> str:
    return json.dumps({**payload, **changes})


BAD_STATES: dict[str, Callable[[bytes], bytes]] = {
    "garbage": lambda raw: b"\x00\xff not json at all \x1b[31m",
    "empty": lambda raw: b"",
    "truncated": lambda raw: raw[: len(raw) // 2],
    "a list": lambda raw: b"[1, 2, 3]",
    "other format": lambda raw: edit(json.loads(raw), format=99).encode(),
    "other version": lambda raw: edit(json.loads(raw), ocinspect="0.0.1").encode(),
    "other tier": lambda raw: edit(
        json.loads(raw), tier="deep" if json.loads(raw)["tier"] == "quick" else "quick"
    ).encode(),
    "ids not strings": lambda raw: edit(json.loads(raw), messages=[1, 2]).encode(),
    "marks missing": lambda raw: edit(json.loads(raw), marks={}).encode(),
    "deeply nested": lambda raw: b"[" * 100_000 + b"]" * 100_000,
}


@TIERS
@pytest.mark.parametrize("damage", list(BAD_STATES))
def test_bad_state_file_is_ignored(demo: tuple[Path, DemoSessions], quick: bool, damage: str) -> None:
    path, _ = demo
    check(path, quick=quick, expect="full")
    target = state_file(path, "quick" if quick else "deep")
    target.write_bytes(BAD_STATES[damage](target.read_bytes()))
    check(path, quick=quick, expect="full")
    check(path, quick=quick, expect="incremental")  # and a good one was kept again


@TIERS
def test_unreadable_state_file_is_ignored(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, _ = demo
    check(path, quick=quick, expect="full")
    target = state_file(path, "quick" if quick else "deep")
    target.unlink()
    target.mkdir()  # reading it fails (even for root, who may read a file with mode 000)
    check(path, quick=quick, expect="full")


@TIERS
def test_state_of_another_file_is_ignored(demo: tuple[Path, DemoSessions], quick: bool, tmp_path: Path) -> None:
    path, ids = demo
    other = tmp_path / "other.db"
    shutil.copyfile(path, other)
    check(path, quick=quick, expect="full")
    check(other, quick=quick, expect="full")
    tier = "quick" if quick else "deep"
    opencode(other, "crash", ids.clean[0])
    shutil.copyfile(state_file(path, tier), state_file(other, tier))  # path's state under other's name
    assert ids.clean[0] in stuck(check(other, quick=quick, expect="full"))


def test_state_dir_unwritable_is_no_error(
    demo: tuple[Path, DemoSessions], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = demo
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))
    check(path, quick=True, expect="full")
    check(path, quick=True, expect="full")  # nothing could be kept: full again, quietly


@TIERS
def test_full_forces_a_full_pass(demo: tuple[Path, DemoSessions], quick: bool) -> None:
    path, _ = demo
    check(path, quick=quick, expect="full")
    check(path, quick=quick, expect="incremental")
    resumed, how = look(path, quick=quick, full=True)
    assert how == Pass("full", "asked for") and resumed == full_scan(path, quick=quick)
    check(path, quick=quick, expect="incremental")


def test_a_full_pass_is_due_after_a_day(demo: tuple[Path, DemoSessions]) -> None:
    """What a foreign writer can hide (an UPDATE making an old row stuck, with no event) is found
    by the first look once the last full pass is older than FULL_EVERY_S."""
    path, ids = demo
    clock = [1_000_000.0]
    look(path, quick=True, wall_clock=lambda: clock[0])
    (message,) = sql(
        path,
        "SELECT id FROM message WHERE session_id = ? AND json_extract(data, '$.role') = "
        "'assistant' ORDER BY time_created DESC LIMIT 1",
        ids.clean[0],
    )[0]
    sql(path, "UPDATE message SET data = json_remove(data, '$.time.completed') WHERE id = ?", message)
    clock[0] += resume.FULL_EVERY_S - 1
    hidden, how = look(path, quick=True, wall_clock=lambda: clock[0])
    assert how.kind == "incremental" and ids.clean[0] not in stuck(hidden)  # the documented blind spot
    clock[0] += 1
    found, how = look(path, quick=True, wall_clock=lambda: clock[0])
    assert how == Pass("full", "the last full pass is too old") and ids.clean[0] in stuck(found)


def test_state_dir_and_files_are_private(demo: tuple[Path, DemoSessions], tmp_path: Path) -> None:
    path, _ = demo
    base = Path(os.environ["XDG_STATE_HOME"])
    (base / "ocinspect").mkdir(parents=True)
    (base / "ocinspect").chmod(0o755)  # made by an earlier journal with a loose umask
    old = os.umask(0)
    try:
        check(path, quick=False, expect="full")
        recover_all(path, tmp_path / "journal")  # the write token too
    finally:
        os.umask(old)
    for directory in (base / "ocinspect", state.state_dir()):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = list(state.state_dir().iterdir())
    assert {f.name.split(".", 1)[1] for f in files} == {"quick.json", "deep.json", "writes"}
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


# -- the CLI -------------------------------------------------------------------------------------
# SQLite's own work, counted inside every connection the command opens: one tick per 100 virtual
# machine instructions (``set_progress_handler``); a row read is dozens of them. Bytes read
# (``/proc/self/io`` rchar) are reported too, but they include psutil's walk of ``/proc``.
PROBE = """
import sys
from sqlalchemy import event
from sqlalchemy.pool import Pool
ticks = [0]
def tick():
    ticks[0] += 1
    return 0
event.listen(Pool, "connect", lambda dbapi, record: dbapi.set_progress_handler(tick, 100))
def rchar():
    with open("/proc/self/io") as fh:
        return int(next(line for line in fh if line.startswith("rchar")).split()[1])
from inspector.cli import cli
before = rchar()
try:
    cli(sys.argv[1:], prog_name="ocinspect")
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("\\nWORK %d %d\\n" % (ticks[0], rchar() - before))
"""

CLOCK_KEYS = {"scanned_at", "checked_at", "elapsed_ms", "idle_ms"}  # what moves with the wall clock between two runs


def without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK_KEYS}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def cli_scan(db: Path, *args: str) -> tuple[dict[str, Any], int, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "--db", str(db), "scan", "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    ticks, rchar = done.stderr.rpartition("WORK ")[2].split()
    return json.loads(done.stdout), int(ticks), int(rchar)


@pytest.fixture(scope="module")
def bench_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import make_db  # bench/make_db.py: the benchmark's OpenCode-shaped file, small
    finally:
        sys.path.remove(str(ROOT / "bench"))
    # built once for the whole run even when the two tiers land on two xdist workers (they share
    # the parent of their temporary directories); the manifest is written last, when the file is whole
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "watermarks-bench" / "opencode.db"
    path.parent.mkdir(exist_ok=True)
    with open(path.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, or when a killed worker's file is
        if not make_db.manifest_path(path).exists():
            make_db.build(path, size=0.05, quiet=True)
    return path


@pytest.mark.parametrize("quick", [False, True], ids=["deep", "quick"])
def test_cli_scan_twice_same_output_far_fewer_bytes(bench_db: Path, quick: bool, tmp_path: Path) -> None:
    db = tmp_path / "opencode.db"
    src, dst = sqlite3.connect(bench_db), sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    tier = ("--quick",) if quick else ()
    first, full_work, full_bytes = cli_scan(db, *tier)
    second, resumed_work, resumed_bytes = cli_scan(db, *tier)
    forced, forced_work, _ = cli_scan(db, *tier, "--full")
    assert first["sessions"] and without_clock(second) == without_clock(first) == without_clock(forced)
    # the quick tier's full pass is the small message table only; the rest of both is per session
    assert resumed_work * (5 if quick else 20) < full_work, (resumed_work, full_work, resumed_bytes, full_bytes)
    assert forced_work * 10 > full_work * 9  # --full did it all again
    if not quick:  # the deep pass reads every part: bytes tell too (quick: /proc walk of psutil dominates)
        assert resumed_bytes * 4 < full_bytes, (resumed_bytes, full_bytes)

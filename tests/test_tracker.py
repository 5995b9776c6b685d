"""The one incremental tracker (refresh and the watchdog): watermarks, new rows, the start-over rule.

Real SQLite files (the demo database from the real DDL); a second connection writes.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from inspector.core.db.rows import IN_CHUNK, by_ids
from inspector.core.db.store import open_store
from inspector.core.db.v1 import sql as q
from inspector.core.diagnose.incremental import tracker
from inspector.core.diagnose.incremental.refresh import Marks
from inspector.core.synth.demo import build_demo_sessions
from tests.support.releases import NOW


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path, _ = build_demo_sessions(tmp_path, now=NOW)
    return path


def execute(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def look(
    path: Path, marks: tracker.Watermarks | None = None, tables: tuple[str, ...] = ("part", "message")
) -> tracker.Watermarks:
    store = open_store(path)
    try:
        with store.reading() as reads:
            return tracker.start(store, reads, tables) if marks is None else tracker.advance(store, reads, marks)
    finally:
        store.dispose()


def test_new_rows_are_the_span_after_the_tail(db: Path) -> None:
    before = look(db)
    assert tracker.appended(before, look(db, before), "message") is None
    top = before.tails["message"].rowid
    execute(
        db,
        "INSERT INTO message (id, session_id, time_created, time_updated, data) "
        "SELECT 'msg_zzzz_new', session_id, 1, 1, '{}' FROM message LIMIT 1",
    )
    after = look(db, before)
    assert tracker.appended(before, after, "message") == {"lo": top + 1, "hi": top + 1}
    assert after.tails["message"] == tracker.Tail(top + 1, "msg_zzzz_new")
    assert tracker.appended(before, after, "part") is None


def test_the_state_is_plain_frozen_values(db: Path) -> None:
    marks = look(db)
    with pytest.raises(dataclasses.FrozenInstanceError):
        marks.page_count = 0  # type: ignore[misc]
    plain = dataclasses.asdict(marks)
    again = tracker.Watermarks(**{**plain, "tails": {t: tracker.Tail(**v) for t, v in plain["tails"].items()}})
    assert again == marks and look(db, again) == marks


def test_a_subclass_keeps_its_own_fields(db: Path) -> None:
    base = look(db)
    marks = Marks(**vars(base), updated={"part": 5}, versions={"prt_x": 7})
    moved = look(db, marks)
    assert isinstance(moved, Marks) and moved.updated == {"part": 5} and moved.versions == {"prt_x": 7}


def test_a_file_that_shrank_starts_over_even_with_its_tails_intact(db: Path) -> None:
    execute(db, "PRAGMA auto_vacuum = FULL", "VACUUM")  # then a delete shrinks it, schema untouched
    marks = look(db, tables=("message",))
    execute(db, "DELETE FROM part")
    assert look(db, tables=("message",)).tails == marks.tails  # the tracked rows kept their rowids
    with pytest.raises(tracker.StartOver, match="shrank"):
        look(db, marks)


def test_the_newest_row_deleted_starts_over(db: Path) -> None:
    marks = look(db)
    execute(db, f"DELETE FROM message WHERE rowid = {marks.tails['message'].rowid}")
    with pytest.raises(tracker.StartOver, match="rows of message were renumbered or deleted"):
        look(db, marks)


def test_known_ids_are_read_in_chunks(db: Path) -> None:
    store = open_store(db)
    try:
        with store.read() as conn:
            every = [row[0] for row in conn.exec_driver_sql("SELECT id FROM message WHERE json_valid(data)")]
            assert len(every) > 1
            wanted = every + [f"msg_missing_{n}" for n in range(IN_CHUNK)]  # more than one IN list
            found = [row.id for row in by_ids(conn, q.MESSAGE_COMPLETED, wanted)]
    finally:
        store.dispose()
    assert sorted(found) == sorted(every)

"""Incremental refresh (issue 12, part 1): after any write, refresh() == a fresh deep scan.

A second connection writes the way OpenCode does (new rows, updates of known stuck rows, its
event log) or the way nothing should (VACUUM, a replaced file); after each write the refreshed
result must equal a full deep scan of the same file, or refresh must refuse (FullScanNeeded).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.incremental import refresh as rf
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import ScanResult
from inspector.core.opencode.live import OFFLINE, LiveStatus
from inspector.core.synth.demo import DemoSessions, build_demo_sessions

from .conftest import NOW, copy_db

LATER = NOW + 60_000


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Path, DemoSessions]:
    path, ids = build_demo_sessions(tmp_path, now=NOW)
    with sqlite3.connect(path) as conn:  # like OpenCode's own file
        conn.execute("PRAGMA journal_mode=WAL").fetchall()
    return path, ids


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def watcher(demo) -> Iterator[Watcher]:
    w = Watcher(demo[0])
    yield w
    w.close()


class Watcher:
    """full_scan once, then refresh after each write; compared with a fresh deep scan."""

    def __init__(self, path: Path, all_sessions: bool = False) -> None:
        self.path = path
        self.store = open_store(path)
        self.clock = Clock()
        self.all_sessions = all_sessions
        self.watched = rf.full_scan(
            self.store, ScanOptions(full=True, all_sessions=all_sessions, live=OFFLINE, now=NOW, watch_clock=self.clock)
        )

    def refresh(self, **kw) -> ScanResult:
        self.clock.t += 1
        self.watched = rf.refresh(
            self.store, self.watched, ScanOptions(live=OFFLINE, now=NOW, watch_clock=self.clock), **kw
        )
        return self.watched.result

    def fresh(self) -> ScanResult:
        store = open_store(self.path)
        try:
            return scan(store, ScanOptions(all_sessions=self.all_sessions, live=OFFLINE, now=NOW))
        finally:
            store.dispose()

    def check(self, **kw) -> ScanResult:
        result = self.refresh(**kw)
        assert result == self.fresh()
        return result

    def close(self) -> None:
        self.store.dispose()


def write(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def one(path: Path, sql: str, *params: object):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchone()
    finally:
        conn.close()


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def running(tool: str = "bash", command: str = "sleep 5", start: int = NOW) -> dict:
    return {
        "type": "tool",
        "tool": tool,
        "callID": f"call_{start}",
        "state": {
            "status": "running",
            "input": {"command": command},
            "time": {"start": start},
            "metadata": {"output": ""},
        },
    }


def completed(data: dict, end: int = LATER) -> dict:
    state = data["state"]
    return {
        **data,
        "state": {
            "status": "completed",
            "input": state.get("input", {}),
            "output": "ok",
            "title": "",
            "metadata": {"output": "ok"},
            "time": {"start": state.get("time", {}).get("start", NOW), "end": end},
        },
    }


def insert_part(path: Path, part_id: str, message_id: str, session_id: str, data: dict, t: int = NOW) -> None:
    write(
        path,
        "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?, ?)",
        part_id,
        message_id,
        session_id,
        t,
        t,
        dumps(data),
    )


def update_part(path: Path, part_id: str, data: dict, t: int = LATER) -> None:
    write(path, "UPDATE part SET data = ?, time_updated = ? WHERE id = ?", dumps(data), t, part_id)


def part_data(path: Path, part_id: str) -> dict:
    return json.loads(one(path, "SELECT data FROM part WHERE id = ?", part_id)[0])


def stuck_part_ids(result: ScanResult) -> set[str]:
    return {p.id for d in result.sessions for p in d.stuck_parts}


def a_finished_message(path: Path) -> tuple[str, str]:
    """(message id, session id) of an assistant turn that finished."""
    return one(
        path,
        "SELECT id, session_id FROM message WHERE json_extract(data, '$.role') = 'assistant' "
        "AND json_extract(data, '$.time.completed') IS NOT NULL ORDER BY id LIMIT 1",
    )


def log_event(path: Path, session_id: str, kind: str, payload: dict) -> None:
    """Append to OpenCode's sync event log as its SyncEvent.run does."""
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (session_id,)).fetchone()
        seq = 0 if row is None else row[0] + 1
        conn.execute(
            "INSERT INTO event_sequence (aggregate_id, seq) VALUES (?, ?) "
            "ON CONFLICT(aggregate_id) DO UPDATE SET seq = excluded.seq",
            (session_id, seq),
        )
        count = conn.execute("SELECT count(*) FROM event").fetchone()[0]
        conn.execute(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?, ?, ?, ?, ?)",
            (f"evt_{count:012x}test", session_id, seq, kind, dumps(payload)),
        )
        conn.commit()
    finally:
        conn.close()


# -- equality with a full scan after each kind of write ---------------------------------------
def test_nothing_changed(watcher) -> None:
    before = watcher.watched.result
    assert watcher.check() == before


def test_new_running_part_appears(watcher, demo) -> None:
    path, ids = demo
    message, session = a_finished_message(path)
    insert_part(path, "prt_zzzzzzzzzzzz0000000000001", message, session, running())
    result = watcher.check()
    assert "prt_zzzzzzzzzzzz0000000000001" in stuck_part_ids(result)


def test_completed_part_leaves(watcher, demo) -> None:
    path, ids = demo
    (diag,) = [d for d in watcher.watched.result.sessions if d.id == ids.parts_in_finished_turn]
    (part,) = diag.stuck_parts
    update_part(path, part.id, completed(part_data(path, part.id)))
    result = watcher.check()
    assert part.id not in stuck_part_ids(result)
    assert ids.parts_in_finished_turn not in {d.id for d in result.stuck}


def test_pending_becomes_running_is_reparsed(watcher, demo) -> None:
    path, ids = demo
    (diag,) = [d for d in watcher.watched.result.sessions if d.id == ids.pending_placeholder]
    (part,) = diag.stuck_parts
    data = part_data(path, part.id)
    data["state"] = {"status": "running", "input": {"filePath": "/srv/app.py"}, "time": {"start": NOW}}
    update_part(path, part.id, data)
    result = watcher.check()
    (now_part,) = [p for d in result.sessions if d.id == ids.pending_placeholder for p in d.stuck_parts]
    assert now_part.status == "running" and now_part.input_summary


def test_new_unfinished_turn_and_its_completion(watcher, demo) -> None:
    path, ids = demo
    _, session = a_finished_message(path)
    data = {"role": "assistant", "time": {"created": NOW}, "parentID": "msg_x", "modelID": "m"}
    write(
        path,
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?)",
        "msg_zzzzzzzzzzzz0000000000001",
        session,
        NOW,
        NOW,
        dumps(data),
    )
    assert session in {d.id for d in watcher.check().stuck}
    data["time"]["completed"] = LATER
    write(
        path,
        "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
        dumps(data),
        LATER,
        "msg_zzzzzzzzzzzz0000000000001",
    )
    assert session not in {d.id for d in watcher.check().stuck}


def test_compaction_mark_and_title_change(watcher, demo) -> None:
    path, ids = demo
    _, session = a_finished_message(path)
    write(path, "UPDATE session SET time_compacting = ?, title = 'renamed' WHERE id = ?", NOW, session)
    write(path, "UPDATE session SET title = 'retitled [b]x[/b]' WHERE id = ?", ids.crash_orphan)
    result = watcher.check()
    assert "compaction" in result.get(session).patterns
    assert result.get(ids.crash_orphan).session.title == "retitled [b]x[/b]"


def test_new_prompt_that_an_old_opencode_ignores(watcher, demo) -> None:
    path, ids = demo
    message, session = a_finished_message(path)
    # a user prompt created after the reply but with a smaller id (the id clock wrapped)
    write(
        path,
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?)",
        "msg_000000000001zzzzzzzzzzzzzz",
        session,
        LATER,
        LATER,
        dumps({"role": "user", "time": {"created": LATER}}),
    )
    assert "ignores-prompts" in watcher.check().get(session).patterns


def test_a_session_and_its_rows_deleted(watcher, demo) -> None:
    path, ids = demo
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("DELETE FROM session WHERE id = ?", (ids.question_wait,))
    conn.commit()
    conn.close()
    assert ids.question_wait not in {d.id for d in watcher.check().sessions}


def test_all_sessions_view(demo) -> None:
    path, ids = demo
    w = Watcher(path, all_sessions=True)
    try:
        message, session = a_finished_message(path)
        insert_part(path, "prt_zzzzzzzzzzzz0000000000002", message, session, running())
        write(path, "UPDATE session SET title = 'new title' WHERE id = ?", ids.clean[0])
        result = w.check()
        assert result.total_sessions == len(result.sessions) > len(result.stuck)
    finally:
        w.close()


def test_many_writes_in_a_row(watcher, demo) -> None:
    path, ids = demo
    message, session = a_finished_message(path)
    for n in range(12):
        part_id = f"prt_zzzzzzzzzzzz00000000001{n:02d}"
        insert_part(path, part_id, message, session, running(start=NOW + n))
        if n % 3 == 2:
            update_part(path, part_id, completed(part_data(path, part_id)))
        watcher.check()


# -- updates that make a row stuck: the event log, and the sweep -------------------------------
def _undo_like_update(path: Path, demo_ids: DemoSessions) -> tuple[str, str]:
    """A completed part put back to running *with its old time_updated* (what undo restores)."""
    part_id, session, old = one(
        path,
        "SELECT id, session_id, time_updated FROM part WHERE "
        "json_extract(data, '$.state.status') = 'completed' ORDER BY id LIMIT 1",
    )
    data = part_data(path, part_id)
    data["state"] = {"status": "running", "input": data["state"]["input"], "time": {"start": NOW}, "metadata": {}}
    write(path, "UPDATE part SET data = ? WHERE id = ?", dumps(data), part_id)
    return part_id, session


def test_update_named_by_the_event_log_is_found(watcher, demo) -> None:
    path, ids = demo
    part_id, session = _undo_like_update(path, ids)
    log_event(
        path,
        session,
        "message.part.updated.1",
        {"sessionID": session, "part": {**part_data(path, part_id), "id": part_id}, "time": NOW},
    )
    assert part_id in stuck_part_ids(watcher.check())


def test_a_message_made_unfinished_named_by_the_event_log_is_found(watcher, demo) -> None:
    """The message half of the same rule: a finished turn put back to unfinished (an undo from
    another process restores exactly that) with its event, no sweep: found by the next refresh."""
    path, _ = demo
    message_id, session = a_finished_message(path)
    data = json.loads(one(path, "SELECT data FROM message WHERE id = ?", message_id)[0])
    data["time"] = {"created": data["time"]["created"]}
    data.pop("finish", None)
    write(path, "UPDATE message SET data = ? WHERE id = ?", dumps(data), message_id)
    log_event(path, session, "message.updated.1", {"sessionID": session, "info": {**data, "id": message_id}})
    result = watcher.check()
    assert message_id in {m.id for d in result.sessions for m in d.unfinished_messages}


def test_update_without_event_waits_for_the_sweep_or_full_scan(watcher, demo) -> None:
    path, ids = demo
    part_id, session = _undo_like_update(path, ids)
    write(path, "UPDATE part SET time_updated = ? WHERE id = ?", LATER, part_id)
    assert part_id not in stuck_part_ids(watcher.refresh())  # documented: no event, no sweep
    assert part_id in stuck_part_ids(watcher.check(sweep=True))


def test_sweep_tolerates_a_writer_with_a_slow_clock(watcher, demo) -> None:
    path, ids = demo
    newest = watcher.watched.marks.updated["part"]
    part_id, _ = _undo_like_update(path, ids)
    write(path, "UPDATE part SET time_updated = ? WHERE id = ?", newest - 5 * 60_000, part_id)
    assert part_id in stuck_part_ids(watcher.check(sweep=True))


# -- the file is not the same any more: only a full scan is correct ---------------------------
def test_vacuum_that_renumbers_rowids_needs_a_full_scan(watcher, demo) -> None:
    path, ids = demo
    write(path, "DELETE FROM part WHERE rowid = (SELECT min(rowid) FROM part)")
    conn = sqlite3.connect(path)
    conn.execute("VACUUM")
    conn.close()
    with pytest.raises(rf.FullScanNeeded):
        watcher.refresh()


def test_newest_rows_deleted_then_rowids_reused_needs_a_full_scan(watcher, demo) -> None:
    path, _ = demo
    tail = watcher.watched.marks.tails["part"]
    write(path, "DELETE FROM part WHERE rowid = ?", tail.rowid)
    message, session = a_finished_message(path)
    insert_part(path, "prt_zzzzzzzzzzzz0000000000003", message, session, running())
    with pytest.raises(rf.FullScanNeeded, match="renumbered or deleted"):
        watcher.refresh()


def test_replaced_file_needs_a_full_scan(watcher, demo, tmp_path: Path) -> None:
    path, _ = demo
    other = copy_db(path, tmp_path / "other.db")
    shutil.move(other, path)
    with pytest.raises(rf.FullScanNeeded, match="replaced"):
        watcher.refresh()


def test_schema_change_needs_a_full_scan(watcher, demo) -> None:
    path, _ = demo
    write(path, "ALTER TABLE session ADD COLUMN extra TEXT")
    with pytest.raises(rf.FullScanNeeded, match="schema"):
        watcher.refresh()


# -- policy ----------------------------------------------------------------------------------
def test_next_step_is_bounded() -> None:
    policy = rf.Policy(full_every_s=100, sweep_every_s=10, live_every_s=5)
    watched = replace(_stub(), full_at=0.0, swept_at=0.0, live_at=0.0)
    assert rf.next_step(None, 0.0, policy) == "full"
    assert rf.next_step(watched, 5.0, policy) == "changes"
    assert rf.next_step(watched, 10.0, policy) == "sweep"
    assert rf.next_step(watched, 100.0, policy) == "full"


def _stub() -> rf.Watched:
    result = ScanResult(
        database="x", schema="v1", opencode_live=False, live_detail="", sessions=(), quick=False, scanned_at=0
    )
    marks = rf.Marks(identity=(0, 0), schema_version=0, page_count=0, tails={})
    return rf.Watched(
        result=result, marks=marks, live=OFFLINE, all_sessions=False, full_at=0.0, swept_at=0.0, live_at=0.0
    )


def test_refresh_needs_a_deep_result(demo) -> None:
    path, _ = demo
    store = open_store(path)
    try:
        watched = rf.full_scan(store, ScanOptions(full=True, live=OFFLINE, now=NOW))
        with pytest.raises(ValueError):
            rf.refresh(store, replace(watched, result=replace(watched.result, quick=True)), ScanOptions(live=OFFLINE))
    finally:
        store.dispose()


def test_same_result_ignores_the_time_taken(watcher) -> None:
    result = watcher.watched.result
    assert rf.same_result(result, replace(result, scanned_at=result.scanned_at + 5))
    assert not rf.same_result(result, replace(result, sessions=result.sessions[1:]))


def test_a_sweep_that_finds_too_much_gives_way_to_a_full_scan(watcher, demo, monkeypatch) -> None:
    path, ids = demo
    monkeypatch.setattr(rf, "SWEEP_MAX_ROWS", 1)
    write(path, "UPDATE part SET time_updated = ? WHERE rowid IN (SELECT rowid FROM part LIMIT 3)", LATER)
    watcher.refresh()  # no sweep: nothing to do
    with pytest.raises(rf.FullScanNeeded, match="full scan is cheaper"):
        watcher.refresh(sweep=True)


# -- liveness: asked again when findings change, without asking psutil on every refresh ------
class Detections:
    """Counts liveness checks (the real one needs a running OpenCode: see tests/e2e)."""

    def __init__(self, status) -> None:
        self.status = status
        self.calls = 0

    def __call__(self, db, directories=(), *, schema="v1"):
        self.calls += 1
        return self.status


def _unpinned(path: Path, clock: Clock, monkeypatch, status) -> tuple[rf.Watched, Detections, object]:
    detections = Detections(status)
    monkeypatch.setattr(rf, "detect", detections)
    import inspector.core.diagnose.scan as scan_module

    monkeypatch.setattr(scan_module, "detect", detections)
    store = open_store(path)
    watched = rf.full_scan(store, ScanOptions(full=True, now=NOW, watch_clock=clock, hung_after_ms=None))
    return watched, detections, store


def test_no_opencode_a_fresh_answer_stands_for_a_while(demo, monkeypatch) -> None:
    path, ids = demo
    clock = Clock()
    watched, detections, store = _unpinned(path, clock, monkeypatch, OFFLINE)
    try:
        assert detections.calls == 1 and not watched.pinned_live
        message, session = a_finished_message(path)
        insert_part(path, "prt_zzzzzzzzzzzz0000000000004", message, session, running())
        clock.t += 1
        watched = rf.refresh(store, watched, ScanOptions(now=NOW, watch_clock=clock))
        assert detections.calls == 1  # OpenCode was not running a second ago: that stands
        assert "prt_zzzzzzzzzzzz0000000000004" in stuck_part_ids(watched.result)
        clock.t += rf.DEFAULT_POLICY.live_every_s
        update_part(path, "prt_zzzzzzzzzzzz0000000000004", completed(part_data(path, "prt_zzzzzzzzzzzz0000000000004")))
        watched = rf.refresh(store, watched, ScanOptions(now=NOW, watch_clock=clock))
        assert detections.calls == 2  # findings changed and the answer is old: ask again
        clock.t += 1
        watched = rf.refresh(store, watched, ScanOptions(now=NOW, watch_clock=clock))
        assert detections.calls == 2  # nothing changed: nothing to ask
        watched = rf.refresh(store, watched, ScanOptions(now=NOW, watch_clock=clock), recheck_live=True)
        assert detections.calls == 3
    finally:
        store.dispose()


def test_opencode_running_is_asked_on_every_change(demo, monkeypatch) -> None:
    path, ids = demo
    clock = Clock()
    busy = LiveStatus(running=True, busy=frozenset({ids.crash_orphan}), detail="OpenCode is running")
    watched, detections, store = _unpinned(path, clock, monkeypatch, busy)
    try:
        assert watched.result.get(ids.crash_orphan).verdict == "live"
        assert rf.liveness_stale(watched, clock.t + rf.DEFAULT_POLICY.live_every_s)
        assert not rf.liveness_stale(watched, clock.t + 1)
        asked = detections.calls
        message, session = a_finished_message(path)
        insert_part(path, "prt_zzzzzzzzzzzz0000000000005", message, session, running())
        clock.t += 1
        watched = rf.refresh(store, watched, ScanOptions(now=NOW, watch_clock=clock))
        assert detections.calls == asked + 1  # a second ago is not fresh enough when it runs
    finally:
        store.dispose()

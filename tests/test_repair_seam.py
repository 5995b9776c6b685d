"""The repair side of the seam on real fixtures: ``RepairReads`` and ``Writes`` answer what repair
asked with SQL before, so a second generation (OpenCode 2) can answer the same questions.

Row values are compared with the raw rows (sqlite3, read-only) of a copy of a real 1.18.33 file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from inspector.core.db.eventlog import EventIds
from inspector.core.db.store import open_store
from inspector.core.db.writes import writing
from inspector.core.model import LogCursor, RowChange
from tests.support.databases import rows, sha256
from tests.support.releases import NOW

TWO = "stuck-two"  # two sessions, each with one running bash tool in an unfinished turn


def stuck_tools(db: Path) -> list[tuple[str, str, str, str, int]]:
    """(id, session, turn, data, time_updated) of the running tools, as stored."""
    return rows(
        db,
        "SELECT id, session_id, message_id, data, time_updated FROM part "
        "WHERE json_extract(data, '$.state.status') = 'running' ORDER BY id",
    )


def tool_change(tool: tuple[str, str, str, str, int], data: str, when: int) -> RowChange:
    tool_id, session_id, message_id, before, updated = tool
    return RowChange(
        table="part",
        row_id=tool_id,
        session_id=session_id,
        before={"data": before, "time_updated": updated},
        after={"data": data, "time_updated": when},
        summary="",
        message_id=message_id,
    )


def test_before_images_come_back_byte_exact_in_the_asked_order(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db(TWO)
    tools = stuck_tools(db)
    asked = [tools[1][0], "prt_not_there", tools[0][0]]
    turns = [t[2] for t in reversed(tools)]
    sessions = [t[1] for t in tools]
    with open_store(db).reading() as reads:
        images = reads.before_images(asked, turns, sessions)
    assert [(i.id, i.session_id, i.message_id, i.data, i.time_updated) for i in images.tools] == [tools[1], tools[0]]
    stored = {r[0]: r for r in rows(db, "SELECT id, session_id, data, time_updated FROM message")}
    assert [(i.id, i.session_id, i.data, i.time_updated) for i in images.turns] == [stored[t] for t in turns]
    assert [(s.id, s.time_compacting) for s in images.sessions] == [(s, None) for s in sessions]


def test_provenance_names_the_writers_and_the_newest_migration(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db(TWO)
    with open_store(db).reading() as reads:
        provenance = reads.provenance()
    assert [(v.version, v.sessions) for v in provenance.versions] == [("1.18.33", 2)]
    newest = rows(db, "SELECT id FROM migration ORDER BY time_completed DESC, id DESC LIMIT 1")
    assert provenance.newest_migration == newest[0][0]


def test_a_transaction_that_raises_writes_nothing(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db(TWO)
    before = sha256(db)
    tool = stuck_tools(db)[0]
    store = open_store(db, write=True)
    try:
        with writing(store) as session:
            try:
                with session.transaction() as writes:
                    change = tool_change(tool, '{"type":"tool","state":{"status":"error"}}', NOW)
                    assert writes.compare_and_set(change, source=change.before, target=change.after, guard=True)
                    assert writes.current_image(change, change.after) == change.after
                    raise RuntimeError("a conflict later in the unit")
            except RuntimeError:
                pass
    finally:
        store.dispose()
    assert stuck_tools(db)[0] == tool
    assert sha256(db) == before


def test_compare_and_set_writes_only_over_what_the_plan_saw(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db(TWO)
    tool = stuck_tools(db)[0]
    moved = tool_change(tool, "{}", NOW)
    moved = RowChange(**{**moved.__dict__, "before": {"data": tool[3], "time_updated": tool[4] - 1}})
    store = open_store(db, write=True)
    try:
        with writing(store) as session, session.transaction() as writes:
            assert not writes.compare_and_set(moved, source=moved.before, target=moved.after, guard=True)
            assert "changed since the plan was made (now running)" in writes.drift(moved)
    finally:
        store.dispose()
    assert stuck_tools(db)[0] == tool


def test_the_guard_refuses_a_tool_that_is_no_longer_stuck(fixture_db: Callable[..., Path]) -> None:
    """Undo writes unguarded (it puts a running tool back); a repair only over a stuck tool."""
    db = fixture_db(TWO)
    tool = stuck_tools(db)[0]
    done = json.loads(tool[3])
    done["state"]["status"] = "completed"
    first = tool_change(tool, json.dumps(done), NOW)
    store = open_store(db, write=True)
    try:
        with writing(store) as session:
            with session.transaction() as writes:
                assert writes.compare_and_set(first, source=first.before, target=first.after, guard=False)
            second = RowChange(
                **{**first.__dict__, "before": first.after, "after": {"data": "{}", "time_updated": NOW}}
            )
            with session.transaction() as writes:
                assert not writes.compare_and_set(second, source=second.before, target=second.after, guard=True)
                assert writes.compare_and_set(second, source=second.before, target=second.after, guard=False)
    finally:
        store.dispose()
    assert rows(db, "SELECT data FROM part WHERE id = ?", tool[0]) == [("{}",)]


def test_the_log_append_refuses_a_cursor_that_moved(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db(TWO)
    tool = stuck_tools(db)[0]
    change = tool_change(tool, tool[3], NOW)
    before = sha256(db)
    store = open_store(db, write=True)
    try:
        with writing(store) as session, session.transaction() as writes:
            cursors = writes.log_cursors([tool[1], "ses_without_a_log"])
            assert list(cursors) == [tool[1]]
            events = writes.log_events([(change, change.after)], cursors, EventIds(), NOW)
            assert [(e.aggregate_id, e.seq) for e in events] == [(tool[1], cursors[tool[1]].seq + 1)]
            stale = {tool[1]: LogCursor(tool[1], cursors[tool[1]].seq - 1)}
            assert not writes.append_log(events, stale)
    finally:
        store.dispose()
    assert sha256(db) == before

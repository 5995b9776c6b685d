"""Issue 10, end to end: a repaired session survives OpenCode's own workspace sync.

OpenCode 1.18 moves and syncs sessions by replaying their event log: ``POST /sync/history`` on
one server, ``POST /sync/replay`` on another. A replica built that way from a database that
``ocinspect recover`` repaired must hold exactly the repaired rows (nothing stuck); after
``ocinspect undo`` the replayed newer events must bring the replica to the restored rows. The
negative keeps the proof honest: a repair that writes rows without events (what ocinspect did
before) yields a replica that is stuck again.

Cost: OpenCode's boots. One crash serves both proofs (copied into a second home before any
repair); each proof still needs its own replica and a boot on its source to serve the log.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair import recover
from tests.support.databases import log_problems

from . import harness as h
from .test_e2e import explain, run_cli, scan

pytestmark = pytest.mark.e2e


def crash_bash_and_task(sb: h.Sandbox, binary: Path) -> dict[str, str]:
    """One server, two stuck chains (a bash session, a task parent + child), then ``kill -9``."""
    oc = sb.start_opencode(binary)
    bash = oc.create_session()
    oc.prompt_async(bash, "run the long tests")
    parent = oc.create_session()
    oc.prompt_async(parent, "SUBAGENT please check")
    h.wait_for_tool_part(sb.db_path, session_id=bash, tool="bash", timeout=60, server=oc)
    task = h.wait_for_tool_part(sb.db_path, session_id=parent, tool="task", timeout=60, server=oc)[0]
    child = task["state"]["metadata"]["sessionId"]
    h.wait_for_tool_part(sb.db_path, session_id=child, tool="bash", timeout=60, server=oc)
    oc.kill()
    return {"bash": bash, "parent": parent, "child": child}


def history(sb: h.Sandbox, binary: Path) -> list[dict[str, Any]]:
    """Every event OpenCode serves from ``sb``'s database (started, asked, stopped)."""
    oc = sb.start_opencode(binary)
    events = oc.request("POST", "/sync/history", {})
    oc.kill()
    assert isinstance(events, list) and events, events
    return events


def replay(replica: h.OpenCode, project: Path, events: list[dict[str, Any]]) -> None:
    """One ``/sync/replay`` call per session, its events in seq order (as OpenCode's sync does)."""
    by_session: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda e: (e["aggregate_id"], e["seq"])):
        by_session.setdefault(event["aggregate_id"], []).append(event)
    for session_id, items in by_session.items():
        body = {
            "directory": str(project),
            "events": [
                {"id": e["id"], "aggregateID": e["aggregate_id"], "seq": e["seq"], "type": e["type"], "data": e["data"]}
                for e in items
            ],
        }
        answer = replica.request("POST", "/sync/replay", body)
        assert answer == {"sessionID": session_id}, answer


def rows(db: Path, sessions: set[str]) -> dict[str, Any]:
    """Part and message rows of ``sessions`` as data (JSON decoded), keyed by id."""
    found: dict[str, Any] = {}
    with h.ro_connect(db) as conn:
        for table in ("part", "message"):
            for row_id, sid, data in conn.execute(f"SELECT id, session_id, data FROM {table}"):
                if sid in sessions:
                    found[row_id] = (table, sid, json.loads(data))
    return found


def stuck_sessions(sb: h.Sandbox) -> set[str]:
    rc, data, proc = scan(sb)
    return {s["id"] for s in data["sessions"]}


@pytest.fixture
def homes(tmp_path: Path, fake_model: h.FakeModel) -> Iterator[list[h.Sandbox]]:
    """Four OpenCode homes on one project (same git repo, so the same project id): two sources,
    each rebuilt into its own replica from its log."""
    boxes = [h.Sandbox(tmp_path / name, fake_model) for name in "abcd"]
    for box in boxes[1:]:
        box.project = boxes[0].project
    try:
        yield boxes
    finally:
        for box in boxes:
            box.kill_all()


def copy_home(source: h.Sandbox, dest: h.Sandbox) -> None:
    """``dest`` gets ``source``'s OpenCode data as it is (database, WAL and all): a second copy
    of one crash, so that two repairs of it cost one boot to crash."""
    data = dest.xdg["XDG_DATA_HOME"] / "opencode"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(source.xdg["XDG_DATA_HOME"] / "opencode", data)


def test_replica_from_the_log_equals_the_repair_and_then_the_undo_and_a_row_only_repair_is_stuck_again(
    homes: list[h.Sandbox], opencode_bin: Path
) -> None:
    """One crash, copied into a second home before any repair: ``recover`` then ``undo`` on the
    first (the replica follows both), a repair that writes rows without events on the second
    (the regression guard: its replica is stuck again)."""
    source, replica, row_only, row_only_replica = homes
    ids = crash_bash_and_task(source, opencode_bin)
    sessions = set(ids.values())
    copy_home(source, row_only)
    assert stuck_sessions(source) == sessions

    rc, data, proc = run_cli(source, "recover", "--all", "--yes", "--json")
    assert rc == 0 and data["events_appended"] == 6, explain(proc)  # 3 parts + 3 turns
    assert log_problems(source.db_path) == []
    repaired = rows(source.db_path, sessions)

    b = replica.start_opencode(opencode_bin)
    replay(b, source.project, history(source, opencode_bin))
    assert rows(replica.db_path, sessions) == repaired
    assert stuck_sessions(replica) == set()

    # undo: the log grows by the restored rows; replaying only the newer events (the
    # replica skips seqs it has) brings the replica back to exactly the restored rows
    rc, data, proc = run_cli(source, "undo", "--json")
    assert rc == 0 and data["restored"] == 6 and data["events_appended"] == 6, explain(proc)
    assert log_problems(source.db_path) == []
    restored = rows(source.db_path, sessions)
    assert restored != repaired
    replay(b, source.project, history(source, opencode_bin))
    assert rows(replica.db_path, sessions) == restored
    assert stuck_sessions(replica) == sessions
    b.kill()

    # The regression guard: rows written without their events are undone by a replay.
    assert stuck_sessions(row_only) == sessions
    plan = recover.plan(open_store(row_only.db_path), live=OFFLINE)
    conn = sqlite3.connect(row_only.db_path)
    with conn:  # ocinspect before issue 10: the repaired rows, no events
        for unit in plan.units:
            for change in unit.changes:
                conn.execute(
                    f"UPDATE {change.table} SET data = ?, time_updated = ? WHERE id = ?",
                    (change.after["data"], change.after["time_updated"], change.row_id),
                )
    conn.close()
    assert stuck_sessions(row_only) == set()
    assert len(log_problems(row_only.db_path)) == 6

    d = row_only_replica.start_opencode(opencode_bin)
    replay(d, row_only.project, history(row_only, opencode_bin))
    assert stuck_sessions(row_only_replica) == sessions

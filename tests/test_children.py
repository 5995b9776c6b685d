"""Linking a stuck task part to its subagent when OpenCode 1.2/1.3 wrote no link (inferred)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.opencode.live import OFFLINE
from tests.support.narrow import present
from tests.support.releases import RELEASES

V = "1.2.27"
NOW = RELEASES[V].now
PARENT = "ses_dd144065fffe2Ka5AunX4MqesF"
CHILD = "ses_dd14405aeffe4GsQpzgWAaq636"  # created 1796080400977
TASK = "prt_22ebbfaa600205hIziNKyjcBKr"  # started 1796080401063
TURN = "msg_22ebbfa160017liQmcSI5DJFTG"  # the parent's assistant turn, 1796080400918


def add_child(db: Path, sid: str, created: int, title: str = "other (@general subagent)") -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO session (id, project_id, parent_id, slug, directory, title, version, "
            "time_created, time_updated) SELECT ?, project_id, ?, 'x', directory, ?, version, ?, ? "
            "FROM session WHERE id = ?",
            (sid, PARENT, title, created, created, PARENT),
        )
    conn.close()


def task_link(db: Path) -> tuple[str | None, bool]:
    diag = present(scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW)).get(PARENT))
    (part,) = [p for p in diag.stuck_parts if p.id == TASK]
    return part.child_session_id, part.child_inferred


def test_the_child_created_during_the_turn_is_linked_and_marked_inferred(fixture_db: Callable[..., Path]) -> None:
    assert task_link(fixture_db("stuck-task", V)) == (CHILD, True)


def test_a_child_from_an_earlier_turn_is_not_taken(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task", V)
    add_child(db, "ses_dd1440f00ffeEarlierChild0000", 1796080400800, "explore (@general subagent)")
    assert task_link(db) == (CHILD, True)


def test_no_child_in_the_turn_means_no_link(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task", V)
    conn = sqlite3.connect(db)
    with conn:  # the subagent was created before this turn began: not this part's child
        conn.execute("UPDATE session SET time_created = 1796080400000 WHERE id = ?", (CHILD,))
    conn.close()
    assert task_link(db) == (None, False)
    # the tree is still known through parent_id
    assert present(scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW)).get(PARENT)).children == (CHILD,)


def test_a_child_named_by_another_task_part_is_not_taken(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task", V)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES "
            "('prt_22ebbfaa500000000000000000', ?, ?, 1796080401000, 1796080401000, ?)",
            (
                TURN,
                PARENT,
                '{"type":"tool","callID":"c0","tool":"task","state":{"status":"completed",'
                '"input":{"description":"explore"},"output":"","title":"explore",'
                f'"metadata":{{"sessionId":"{CHILD}"}},"time":{{"start":1,"end":2}}}}}}',
            ),
        )
    conn.close()
    assert task_link(db) == (None, False)


def test_parallel_tasks_get_the_child_their_description_names(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task", V)
    # a second stuck task part in the same turn ("review"), and its child created *closer* in
    # time to the first part than the first part's own child: the title decides
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES "
            "('prt_22ebbfaa600300000000000000', ?, ?, 1796080401064, 1796080401064, ?)",
            (
                TURN,
                PARENT,
                '{"type":"tool","callID":"c2","tool":"task","state":{"status":"running",'
                '"input":{"description":"review","prompt":"p","subagent_type":"general"},'
                '"time":{"start":1796080401064}}}',
            ),
        )
    conn.close()
    add_child(db, "ses_dd14405adffeReviewChild00000", 1796080401060, "review (@general subagent)")
    result = scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW))
    links = {p.id: (p.child_session_id, p.child_inferred) for p in present(result.get(PARENT)).stuck_parts}
    assert links == {TASK: (CHILD, True), "prt_22ebbfaa600300000000000000": ("ses_dd14405adffeReviewChild00000", True)}


def test_show_of_the_child_reaches_the_whole_tree(fixture_db: Callable[..., Path]) -> None:
    result = scan_related(open_store(fixture_db("stuck-task", V)), [CHILD], ScanOptions(live=OFFLINE, now=NOW))
    assert {d.id for d in result.sessions} == {PARENT, CHILD}

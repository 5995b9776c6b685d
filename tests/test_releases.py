"""Every OpenCode release's real fixtures: exact findings, the exact repair shape, exact undo.

Parametrized over ``tests/support/releases.py`` ``CASES`` (1.2.27, 1.14.41, 1.15.13, 1.18.14, 1.18.33;
bash, task, pending, plus 1.18.33's two/clean and 1.18.14's id-wrap files), so a core change
that works on the newest schema but not on an older one fails here, by release.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.db.store import open_store
from inspector.core.db.v1 import eventlog
from inspector.core.db.v1.plan import ABORT_ERROR, MESSAGE_ERROR
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair import recover
from tests.support.databases import rows
from tests.support.releases import FIXTURE_RELEASES, RELEASES, FixtureCase, StuckSession

LATER = 60_000  # the repair runs a minute after the release's test clock


def expected(case: FixtureCase) -> dict[str, StuckSession]:
    return {s.id: s for s in case.release.fixtures[case.scenario]}


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, exactly as stored (bytes of text and blobs included)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: list(conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')) for t in tables}
    finally:
        conn.close()


LOG_TABLES = ("event", "event_sequence")


def without_log(tables: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {t: r for t, r in tables.items() if t not in LOG_TABLES}


def assert_log_continued(
    case: FixtureCase, before: dict[str, list[tuple[Any, ...]]], path: Path, appended: int
) -> None:
    """Issue 10 on every release: old events untouched, one new event per written row where the
    release keeps a log (none where it does not), and the invariant rows == newest events."""
    after = dump(path)
    if not case.release.has_event_tables:
        assert not set(LOG_TABLES) & set(after)
        return
    old = before["event"]
    assert after["event"][: len(old)] == old, "events are only ever appended"
    assert len(after["event"]) - len(old) == (appended if case.release.writes_event_log else 0)
    with open_store(path).read() as conn:
        assert eventlog.check(conn) == []


def ddl_statements(text: str) -> set[str]:
    """The statements of a ``.schema`` dump, as ``sqlite_master.sql`` holds them (the sqlite3
    shell adds ``IF NOT EXISTS`` to quoted table names)."""
    statements = (s.strip().rstrip(";") for s in text.split(";\n"))
    return {s.replace("CREATE TABLE IF NOT EXISTS ", "CREATE TABLE ", 1) for s in statements if s}


# --------------------------------------------------------------------------------------------
# the fixtures are what the release writes
# --------------------------------------------------------------------------------------------


def test_fixture_schema_is_the_release_ddl(release_fixture: FixtureCase) -> None:
    release, path = release_fixture.release, release_fixture.path
    schema = {r[0].strip() for r in rows(path, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")}
    assert schema == ddl_statements(release.schema.read_text())
    tables = {r[0] for r in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert len(tables - {"sqlite_sequence"}) == release.tables
    assert (
        {"event", "event_sequence"} <= tables if release.has_event_tables else not tables & {"event", "event_sequence"}
    )
    versions = {r[0] for r in rows(path, "SELECT version FROM session")}
    assert versions == {release.version}


def test_event_log_written_only_by_releases_that_write_it(release_fixture: FixtureCase) -> None:
    release, path = release_fixture.release, release_fixture.path
    if not release.has_event_tables:
        return
    (events,) = rows(path, "SELECT count(*) FROM event")[0]
    assert (events > 0) == release.writes_event_log


def test_rows_equal_their_newest_events_as_the_release_wrote_them(release_fixture: FixtureCase) -> None:
    """The invariant holds on what each release wrote (vacuously where it keeps no log)."""
    if not release_fixture.release.has_event_tables:
        return
    with open_store(release_fixture.path).read() as conn:
        assert eventlog.check(conn) == []
        logged = conn.exec_driver_sql("SELECT count(*) FROM event_sequence").scalar_one()
    assert (logged > 0) == release_fixture.release.writes_event_log


def test_expectations_match_the_raw_rows(release_fixture: FixtureCase) -> None:
    """Independent of ocinspect: the hand-written expectations are exactly the unfinished
    assistant messages and pending/running tool parts in the file."""
    want = expected(release_fixture)
    path = release_fixture.path
    unfinished = {
        r[0]
        for r in rows(
            path,
            "SELECT id FROM message WHERE json_extract(data,'$.role') = "
            "'assistant' AND json_extract(data,'$.time.completed') IS NULL",
        )
    }
    active = {
        r[0]
        for r in rows(
            path,
            "SELECT id FROM part WHERE json_extract(data,'$.type') = 'tool' AND "
            "json_extract(data,'$.state.status') IN ('pending','running')",
        )
    }
    assert unfinished == {m for s in want.values() for m in s.unfinished}
    assert active == {p.id for s in want.values() for p in s.parts}
    if release_fixture.release.task_names_child:
        for s in want.values():
            assert not any(p.child_inferred for p in s.parts)
    else:  # 1.2/1.3: a running task part names no child
        for pid in (p.id for s in want.values() for p in s.parts if p.tool == "task"):
            (meta,) = rows(path, "SELECT json_extract(data,'$.state.metadata') FROM part WHERE id = ?", pid)[0]
            assert meta is None


# --------------------------------------------------------------------------------------------
# exact findings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quick", [False, True], ids=["deep", "quick"])
def test_scan_finds_exactly_the_stuck_sessions(release_fixture: FixtureCase, quick: bool) -> None:
    result = scan(open_store(release_fixture.path), ScanOptions(quick=quick, live=OFFLINE, now=release_fixture.now))
    want = expected(release_fixture)
    assert [d.id for d in result.sessions] == list(want)  # tree order: parents first
    for diag in result.sessions:
        w = want[diag.id]
        # a session whose only trouble is ignored prompts is nothing ocinspect can repair
        assert diag.verdict == ("unfixable" if w.patterns == ("ignores-prompts",) else "stale")
        assert diag.patterns == w.patterns
        assert diag.warnings == w.warnings
        assert diag.session.parent_id == w.parent_id
        assert diag.children == w.children
        assert tuple(m.id for m in diag.unfinished_messages) == w.unfinished
        got = tuple(
            (p.id, p.message_id, p.tool, p.status, p.started, p.child_session_id, p.child_inferred)
            for p in diag.stuck_parts
        )
        assert got == tuple(
            (p.id, p.message_id, p.tool, p.status, p.started, p.child, p.child_inferred) for p in w.parts
        )


def test_scan_json_names_exactly_the_stuck_sessions_and_parts(release_fixture: FixtureCase) -> None:
    result = CliRunner().invoke(cli, ["--db", str(release_fixture.path), "scan", "--json"])
    want = expected(release_fixture)
    assert result.exit_code == (1 if want else 0), result.output
    payload = json.loads(result.stdout)
    assert payload["schema"] == "v1"
    assert [s["id"] for s in payload["sessions"]] == list(want)
    for session in payload["sessions"]:
        w = want[session["id"]]
        assert session["patterns"] == list(w.patterns)
        assert session["warnings"] == list(w.warnings)
        assert session["unfinished_messages"] == list(w.unfinished)
        assert session["children"] == list(w.children)
        assert [
            (
                p["id"],
                p["message_id"],
                p["tool"],
                p["status"],
                p["started"],
                p["child_session_id"],
                p["child_session_inferred"],
            )
            for p in session["stuck_parts"]
        ] == [(p.id, p.message_id, p.tool, p.status, p.started, p.child, p.child_inferred) for p in w.parts]


def test_show_text_says_when_the_subagent_link_is_inferred(release_fixture: FixtureCase) -> None:
    for sid, w in expected(release_fixture).items():
        links = [p for p in w.parts if p.child]
        if not links:
            continue
        out = CliRunner().invoke(cli, ["--db", str(release_fixture.path), "show", sid]).stdout
        for p in links:
            mark = " (inferred)" if p.child_inferred else ""
            assert f"subagent session: {p.child}{mark}\n" in out


# --------------------------------------------------------------------------------------------
# exact repair shape and exact undo
# --------------------------------------------------------------------------------------------


def repaired_state(before: dict[str, Any], now: int) -> dict[str, Any]:
    """The reference's "repair OpenCode accepts", written out independently of recover.py."""
    state = before["state"]
    return {
        "status": "error",
        "input": state.get("input") or {},
        "error": ABORT_ERROR,
        "metadata": {**(state.get("metadata") or {}), "interrupted": True},
        "time": {"start": (state.get("time") or {}).get("start", now), "end": now},
    }


def test_repair_is_exactly_the_shape_opencode_accepts(release_fixture: FixtureCase, journal: Path) -> None:
    path, want = release_fixture.path, expected(release_fixture)
    now = release_fixture.now + LATER
    before = dump(path)
    parts = {r[0]: (json.loads(r[1]), r[2]) for r in rows(path, "SELECT id, data, time_updated FROM part")}
    messages = {r[0]: (json.loads(r[1]), r[2]) for r in rows(path, "SELECT id, data, time_updated FROM message")}

    plan = recover.plan(open_store(path), live=OFFLINE, now=now)
    result = recover.apply(plan, journal_directory=journal, now=now)

    repairable = [s for s in want.values() if s.unfinished or s.parts]
    assert set(result.sessions) == {s.id for s in repairable}
    assert result.parts_repaired == sum(len(s.parts) for s in want.values())
    assert result.messages_completed == sum(len(s.unfinished) for s in want.values())
    unfixable = {s.id for s in want.values() if not (s.unfinished or s.parts)}
    assert {skip.id for skip in result.skipped} == unfixable  # e.g. ignores-prompts alone

    after = dump(path)
    changed_parts = {p.id for s in want.values() for p in s.parts}
    changed_messages = {m for s in want.values() for m in s.unfinished}
    for pid, (data, _) in parts.items():
        (new_data, new_updated) = rows(path, "SELECT data, time_updated FROM part WHERE id = ?", pid)[0]
        if pid not in changed_parts:
            continue
        new = json.loads(new_data)
        assert new == {**data, "state": repaired_state(data, now)}
        assert list(new["state"]) == ["status", "input", "error", "metadata", "time"]
        assert new_updated == now
        assert new_data == json.dumps(new, ensure_ascii=False, separators=(",", ":"))
    for mid, (data, _) in messages.items():
        if mid not in changed_messages:
            continue
        (new_data, new_updated) = rows(path, "SELECT data, time_updated FROM message WHERE id = ?", mid)[0]
        want_data = {**data, "time": {**data["time"], "completed": now}}
        want_data.setdefault("error", MESSAGE_ERROR)
        assert json.loads(new_data) == want_data and new_updated == now
    # nothing else changed: every other row of every table is byte-identical (the sync log
    # only grows, by one event per written row, where the release keeps one)
    for table, old_rows in without_log(before).items():
        if table in ("part", "message"):
            skip = changed_parts if table == "part" else changed_messages
            assert [r for r in after[table] if r[0] not in skip] == [r for r in old_rows if r[0] not in skip]
        else:
            assert after[table] == old_rows, table
    assert_log_continued(release_fixture, before, path, len(changed_parts) + len(changed_messages))
    assert result.events_appended == (
        len(changed_parts) + len(changed_messages) if release_fixture.release.writes_event_log else 0
    )
    # never completed, and nothing left to repair
    statuses = {
        json.loads(r[0])["state"]["status"]
        for r in rows(path, "SELECT data FROM part WHERE json_extract(data,'$.type') = 'tool'")
    }
    assert "pending" not in statuses and "running" not in statuses
    left = scan(open_store(path), ScanOptions(live=OFFLINE, now=now))
    assert all(not d.repairable for d in left.sessions)


def test_undo_restores_every_row_byte_for_byte(release_fixture: FixtureCase, journal: Path) -> None:
    path = release_fixture.path
    now = release_fixture.now + LATER
    original = dump(path)
    result = recover.apply(recover.plan(open_store(path), live=OFFLINE, now=now), journal_directory=journal, now=now)
    if result.run_id is None:  # nothing stuck (clean): nothing journaled, nothing to undo
        assert dump(path) == original
        return
    assert dump(path) != original
    repaired = dump(path)
    undone = recover.undo(path, journal_directory=journal)
    assert undone.skipped == () and undone.restored == result.parts_repaired + result.messages_completed
    assert without_log(dump(path)) == without_log(original)
    assert_log_continued(release_fixture, repaired, path, undone.restored)


def test_cli_recover_all_then_undo(release_fixture: FixtureCase) -> None:
    path, want = release_fixture.path, expected(release_fixture)
    original = dump(path)
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", str(path), "recover", "--all", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["sessions"]) == {s.id for s in want.values() if s.unfinished or s.parts}
    assert payload["parts_repaired"] == sum(len(s.parts) for s in want.values())
    assert payload["messages_completed"] == sum(len(s.unfinished) for s in want.values())
    if payload["run_id"] is None:
        return
    after = json.loads(runner.invoke(cli, ["--db", str(path), "scan", "--json"]).stdout)
    assert all(s["stuck_parts"] == [] and s["unfinished_messages"] == [] for s in after["sessions"])
    undo = runner.invoke(cli, ["--db", str(path), "undo", "--json"])
    assert undo.exit_code == 0, undo.output
    assert without_log(dump(path)) == without_log(original)
    assert_log_continued(release_fixture, original, path, 2 * json.loads(undo.stdout)["restored"])


def test_every_fixture_release_has_bash_task_and_pending() -> None:
    assert FIXTURE_RELEASES == ("1.2.27", "1.14.41", "1.15.13", "1.18.14", "1.18.33")
    for version in FIXTURE_RELEASES:
        assert {"stuck-bash", "stuck-task", "stuck-pending"} <= set(RELEASES[version].fixtures), version

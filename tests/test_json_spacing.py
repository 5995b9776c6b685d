"""Detection must not depend on how the JSON is spaced (issue 12, part 2).

OpenCode writes compact ``JSON.stringify`` text, but a row written by any other JSON writer
(Python's ``json.dumps`` defaults, ``jq`` without ``-c``, a hand edit) is just as stuck for
OpenCode. The same databases written compact and spaced must give exactly the same findings and
exactly the same repairs.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import ScanResult
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair import recover
from inspector.core.synth.builder import JsonStyle, dumps
from inspector.core.synth.demo import build_demo_sessions
from tests.support.databases import copy_db, rows
from tests.support.releases import FIXTURES, NOW
from tests.support.synthetic import every_pattern

STYLES = ("spaced", "indent", "tabs")
LATER = NOW + 60_000


def findings(db: Path, **kw: Any) -> ScanResult:
    store = open_store(db)
    try:
        result = scan(store, ScanOptions(live=OFFLINE, now=NOW, **kw))
    finally:
        store.dispose()
    return replace(result, database="")


def repairs(db: Path) -> list[tuple[Any, ...]]:
    """The plan as (sessions, [(table, row, session, after, summary)]): what would be written."""
    store = open_store(db)
    try:
        the_plan = recover.plan(store, None, live=OFFLINE, now=LATER)
    finally:
        store.dispose()
    return [
        (unit.session_ids, [(c.table, c.row_id, c.session_id, c.after, c.summary) for c in unit.changes])
        for unit in the_plan.units
    ]


def repaired_rows(db: Path) -> dict[str, object]:
    """Every part/message after a repair, parsed (the written rows are compact either way)."""
    return {
        row_id: (updated, json.loads(data))
        for row_id, updated, data in rows(
            db, "SELECT id, time_updated, data FROM part UNION ALL SELECT id, time_updated, data FROM message"
        )
    }


def respace(source: Path, dest: Path, style: JsonStyle) -> Path:
    """A real OpenCode file whose JSON a foreign writer rewrote (values untouched)."""
    copy_db(source, dest)
    conn = sqlite3.connect(dest)
    try:
        for table in ("part", "message"):
            for row_id, data in list(conn.execute(f"SELECT id, data FROM {table}")):
                conn.execute(f"UPDATE {table} SET data = ? WHERE id = ?", (dumps(json.loads(data), style), row_id))
        conn.commit()
    finally:
        conn.close()
    return dest


@pytest.fixture
def demo_pair(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    style = request.param
    (tmp_path / "compact").mkdir()
    (tmp_path / style).mkdir()
    compact, ids = build_demo_sessions(tmp_path / "compact", now=NOW)
    spaced, same_ids = build_demo_sessions(tmp_path / style, now=NOW, json_style=style)
    assert ids == same_ids
    return compact, spaced


@pytest.mark.parametrize("demo_pair", STYLES, indirect=True)
def test_the_builder_really_writes_another_spacing(demo_pair: tuple[Path, Path]) -> None:
    compact, spaced = demo_pair
    sample = "SELECT data FROM part WHERE json_extract(data, '$.state.status') = 'running' ORDER BY id LIMIT 1"
    ((compact_text,),) = rows(compact, sample)
    ((spaced_text,),) = rows(spaced, sample)
    assert ':"running"' in compact_text
    assert ':"running"' not in spaced_text and json.loads(spaced_text) == json.loads(compact_text)


@pytest.mark.parametrize("quick", [False, True], ids=["deep", "quick"])
@pytest.mark.parametrize("demo_pair", STYLES, indirect=True)
def test_demo_findings_do_not_depend_on_spacing(demo_pair: tuple[Path, Path], quick: bool) -> None:
    compact, spaced = demo_pair
    expected = findings(compact, quick=quick)
    assert len(expected.stuck) >= 8
    assert findings(spaced, quick=quick) == expected


@pytest.mark.parametrize("demo_pair", STYLES, indirect=True)
def test_every_session_listed_the_same(demo_pair: tuple[Path, Path]) -> None:
    compact, spaced = demo_pair
    assert findings(spaced, all_sessions=True) == findings(compact, all_sessions=True)


@pytest.mark.parametrize("style", STYLES)
def test_every_pattern_found_whatever_the_spacing(tmp_path: Path, style: JsonStyle) -> None:
    ids = every_pattern(tmp_path / "compact.db")
    assert every_pattern(tmp_path / "spaced.db", json_style=style) == ids
    expected = findings(tmp_path / "compact.db")
    assert {d.id for d in expected.stuck} == {v for k, v in ids.items() if k != "ok"}
    assert findings(tmp_path / "spaced.db") == expected
    ranged = findings(tmp_path / "spaced.db", session_ids=sorted(ids.values()))
    assert ranged == findings(tmp_path / "compact.db", session_ids=sorted(ids.values()))


@pytest.mark.parametrize("demo_pair", STYLES, indirect=True)
def test_demo_repairs_do_not_depend_on_spacing(demo_pair: tuple[Path, Path], tmp_path: Path) -> None:
    compact, spaced = demo_pair
    planned = repairs(compact)
    assert planned and repairs(spaced) == planned
    for db in (compact, spaced):
        store = open_store(db)
        try:
            the_plan = recover.plan(store, None, live=OFFLINE, now=LATER)
        finally:
            store.dispose()
        result = recover.apply(the_plan, journal_directory=tmp_path / "journal", now=LATER)
        assert not [s for s in result.skipped if s not in the_plan.nothing_to_do]
        assert [d.id for d in findings(db).stuck if d.repairable] == []
    assert repaired_rows(spaced) == repaired_rows(compact)


@pytest.mark.parametrize("name", ["stuck-bash", "stuck-pending", "stuck-task", "stuck-two", "clean"])
@pytest.mark.parametrize("style", ["spaced", "indent"])
def test_real_fixture_rewritten_by_another_writer(tmp_path: Path, name: str, style: JsonStyle) -> None:
    source = FIXTURES / f"opencode-1.18.33-{name}.db"
    compact = copy_db(source, tmp_path / "compact.db")
    spaced = respace(source, tmp_path / "spaced.db", style)
    expected = findings(compact)
    assert findings(spaced) == expected
    assert findings(spaced, quick=True) == findings(compact, quick=True)
    assert repairs(spaced) == repairs(compact)

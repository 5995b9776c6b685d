"""JSON nested too deep for Python: one such row skips only its own unit (the rest is
repaired), and the scan's refusal names the row's session like every other corrupt-data line."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.errors import EXIT_ERROR, EXIT_OK, CorruptData
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair import recover
from tests.support.cli import invoke as cli_run
from tests.support.databases import rows
from tests.support.releases import NOW, SESSIONS

LATER = NOW + 60_000
DEEP_SESSION = "ses_df18ebf03ffecLn0zX09ai9ymn"  # of stuck-two; the other stays repairable
DEEP_PART = "prt_20e714af4001BB1L0VerrFlHOj"
OTHER_SESSION = "ses_df18ebe7cffeXWNiRuh4af1Ynr"


def deepen(db: Path, part_id: str, depth: int) -> None:
    """Give one stuck part valid JSON ``data`` nested ``depth`` arrays deep (OpenCode never
    writes this, a damaged or hostile file might)."""
    (data,) = rows(db, "SELECT data FROM part WHERE id = ?", part_id)[0]
    value = json.loads(data)
    value["state"]["metadata"]["deep"] = "__DEEP__"
    text = json.dumps(value).replace('"__DEEP__"', "[" * depth + "]" * depth)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE part SET data = ? WHERE id = ?", (text, part_id))
    conn.commit()
    conn.close()


def test_a_deep_row_skips_only_its_own_unit(fixture_db: Callable[..., Path], journal: Path) -> None:
    db = fixture_db("stuck-two")
    deepen(db, DEEP_PART, 500)
    assert {d.id: d.verdict for d in scan(open_store(db), ScanOptions(live=OFFLINE)).sessions} == {
        DEEP_SESSION: "stale",
        OTHER_SESSION: "stale",
    }
    plan = recover.plan(open_store(db), None, live=OFFLINE, now=LATER)
    assert plan.session_ids == (OTHER_SESSION,)
    (skip,) = plan.nothing_to_do
    assert skip.id == DEEP_SESSION and skip.kind == "corrupt" and DEEP_PART in skip.reason
    result = recover.apply(plan, journal_directory=journal, now=LATER)
    assert result.sessions == (OTHER_SESSION,)


def test_recover_all_repairs_the_rest_past_a_deep_row(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    deepen(db, DEEP_PART, 500)
    before = rows(db, "SELECT data FROM part WHERE id = ?", DEEP_PART)
    result = cli_run("--db", str(db), "recover", "--all", "--yes")
    assert result.exit_code == EXIT_OK, result.output  # like ignores-prompts: said, not an error
    assert f"Skipped {DEEP_SESSION}: " in result.stdout and DEEP_PART in result.stdout
    assert "Recovered 1 session(s)" in result.stdout
    assert rows(db, "SELECT data FROM part WHERE id = ?", DEEP_PART) == before
    remaining = json.loads(cli_run("--db", str(db), "scan", "--json").stdout)["sessions"]
    assert [s["id"] for s in remaining] == [DEEP_SESSION]


def test_json_too_deep_to_parse_names_its_session(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    deepen(db, DEEP_PART, 990)
    with pytest.raises(CorruptData) as caught:
        scan(open_store(db), ScanOptions(live=OFFLINE))
    assert DEEP_PART in str(caught.value) and DEEP_SESSION in str(caught.value)
    result = cli_run("--db", str(db), "scan")
    assert result.exit_code == EXIT_ERROR and DEEP_SESSION in result.stderr


def test_the_fixture_holds_the_sessions_these_tests_name() -> None:
    assert sorted(SESSIONS["stuck-two"]) == sorted([DEEP_SESSION, OTHER_SESSION])

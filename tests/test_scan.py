"""Diagnosis on the real OpenCode fixtures and on synthetic databases for the other patterns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.model import ScanResult
from inspector.core.opencode.live import OFFLINE, LiveStatus
from tests.support.releases import NOW, SESSIONS
from tests.support.synthetic import every_pattern


def diagnose(db: Path, **kw: Any) -> ScanResult:
    kw.setdefault("live", OFFLINE)
    return scan(open_store(db), ScanOptions(now=NOW, **kw))


def test_clean_fixture_has_nothing_stuck(fixture_db: Callable[..., Path]) -> None:
    assert diagnose(fixture_db("clean")).sessions == ()


@pytest.mark.parametrize("quick", [False, True])
def test_bash_crash_orphan(fixture_db: Callable[..., Path], quick: bool) -> None:
    (diag,) = diagnose(fixture_db("stuck-bash"), quick=quick).sessions
    assert diag.id == "ses_df18eeb6dffeePv0iTauMoOxIU"
    assert diag.verdict == "stale"
    assert diag.patterns == ("crash-orphan",)
    assert [m.id for m in diag.unfinished_messages] == ["msg_20e711917001ax9SiMVHXTS6oC"]
    (part,) = diag.stuck_parts
    assert (part.id, part.tool, part.status, part.started) == (
        "prt_20e711e21001KxiM1bR4EMS3Yv",
        "bash",
        "running",
        1795538624041,
    )
    assert part.input_summary == "sleep 600"


def test_two_independent_orphans(fixture_db: Callable[..., Path]) -> None:
    result = diagnose(fixture_db("stuck-two"))
    assert sorted(d.id for d in result.sessions) == sorted(SESSIONS["stuck-two"])
    assert all(d.patterns == ("crash-orphan",) and len(d.stuck_parts) == 1 for d in result.sessions)


def test_pending_placeholder(fixture_db: Callable[..., Path]) -> None:
    (diag,) = diagnose(fixture_db("stuck-pending")).sessions
    assert diag.patterns == ("pending-placeholder",)
    (part,) = diag.stuck_parts
    assert part.status == "pending" and part.started is None and part.input_summary == ""


def test_subagent_chain_links_parent_and_child(fixture_db: Callable[..., Path]) -> None:
    result = diagnose(fixture_db("stuck-task"))
    parent, child = result.sessions  # tree order: parent first
    assert parent.id == "ses_df18eab18ffeF8zm5QUo7WX29g"
    assert child.session.parent_id == parent.id
    assert parent.children == (child.id,)
    assert "subagent-chain" in parent.patterns and "subagent-chain" in child.patterns
    assert parent.stuck_parts[0].child_session_id == child.id


def test_scan_related_pulls_in_the_whole_chain(fixture_db: Callable[..., Path]) -> None:
    store = open_store(fixture_db("stuck-task"))
    result = scan_related(store, ["ses_df18ea478ffedUk3exGgsWE7Dw"], ScanOptions(live=OFFLINE, now=NOW))
    assert {d.id for d in result.sessions} == set(SESSIONS["stuck-task"])


def test_every_synthetic_pattern(tmp_path: Path) -> None:
    ids = every_pattern(tmp_path / "p.db")
    result = diagnose(tmp_path / "p.db")
    found = {d.id: d.patterns for d in result.sessions}
    assert ids["ok"] not in found
    for pattern in ("question-wait", "parts-in-finished-turn", "compaction", "interrupted-turn", "ignores-prompts"):
        assert pattern in found[ids[pattern]], (pattern, found.get(ids[pattern]))


def test_quick_tier_skips_parts_in_finished_turns(tmp_path: Path) -> None:
    ids = every_pattern(tmp_path / "p.db")
    quick = {d.id for d in diagnose(tmp_path / "p.db", quick=True).sessions}
    assert ids["parts-in-finished-turn"] not in quick
    assert ids["question-wait"] in quick


def test_all_sessions_lists_healthy_ones_as_ok(tmp_path: Path) -> None:
    ids = every_pattern(tmp_path / "p.db")
    result = diagnose(tmp_path / "p.db", all_sessions=True)
    verdicts = {d.id: d.verdict for d in result.sessions}
    assert verdicts[ids["ok"]] == "ok"
    assert result.total_sessions == len(ids)


def test_live_session_and_its_chain_are_live(fixture_db: Callable[..., Path]) -> None:
    busy = LiveStatus(running=True, busy=frozenset({"ses_df18ea478ffedUk3exGgsWE7Dw"}), detail="test")
    result = diagnose(fixture_db("stuck-task"), live=busy, hung_after_ms=None)
    assert {d.verdict for d in result.sessions} == {"live"}


def test_unknown_liveness(fixture_db: Callable[..., Path]) -> None:
    unsure = LiveStatus(running=None, detail="cannot inspect")
    (diag,) = diagnose(fixture_db("stuck-bash"), live=unsure).sessions
    assert diag.verdict == "unknown"


def test_scan_is_read_only_byte_for_byte(fixture_db: Callable[..., Path]) -> None:
    from tests.support.databases import sha256

    db = fixture_db("stuck-task")
    before = sha256(db)
    diagnose(db)
    diagnose(db, quick=True, all_sessions=True)
    assert sha256(db) == before
    assert not Path(str(db) + "-wal").exists()


def test_cancel_stops_a_deep_scan(fixture_db: Callable[..., Path]) -> None:
    import threading

    from inspector.core.diagnose.scan import Cancelled

    event = threading.Event()
    event.set()
    with pytest.raises(Cancelled):
        diagnose(fixture_db("stuck-two"), cancel=event)


def test_progress_reaches_total(fixture_db: Callable[..., Path]) -> None:
    seen: list[tuple[int, int]] = []
    diagnose(fixture_db("stuck-two"), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]

"""The demo database (``ocinspect --demo``): deterministic, every pattern, times relative to now."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.holds import HOLD_PATTERNS
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.patterns import PATTERNS
from inspector.core.diagnose.scan import scan
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair.recover import plan
from inspector.core.synth.demo import HOUR, MINUTE, DemoSessions, build_demo, build_demo_sessions
from tests.support.narrow import present
from tests.support.releases import NOW
from tests.support.tui import dump


def test_same_now_gives_the_same_database(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert dump(build_demo(tmp_path / "a", now=NOW)) == dump(build_demo(tmp_path / "b", now=NOW))


def test_every_pattern_and_a_clean_session(demo: tuple[Path, DemoSessions]) -> None:
    db, ids = demo
    result = scan(open_store(db), ScanOptions(all_sessions=True, live=OFFLINE, now=NOW))
    found = {p for d in result.sessions for p in d.patterns}
    assert found == set(PATTERNS) - set(HOLD_PATTERNS)  # a 1.x file: the 2.x holds are in test_v2_scan
    assert {d.id for d in result.stuck} == set(ids.stuck)
    assert all(present(result.get(s)).verdict == "ok" for s in ids.clean)
    child = present(result.get(ids.subagent_child))
    assert child.session.parent_id == ids.subagent_parent
    assert present(result.get(ids.subagent_parent)).children == (ids.subagent_child,)
    projects = {d.session.directory for d in result.sessions}
    assert len(projects) == 3


def test_times_are_relative_to_now(tmp_path: Path) -> None:
    later = NOW + 7 * 24 * HOUR
    path, ids = build_demo_sessions(tmp_path, now=later)
    diag = present(scan(open_store(path), ScanOptions(live=OFFLINE, now=later)).get(ids.crash_orphan))
    (part,) = diag.stuck_parts
    assert later - present(part.started) == 2 * HOUR + 13 * MINUTE
    assert part.input_summary == "npm run test:integration" and "RUNS" in part.output_tail


def test_recover_all_fixes_everything_fixable(demo: tuple[Path, DemoSessions]) -> None:
    db, ids = demo
    the_plan = plan(open_store(db), None, live=OFFLINE, now=NOW)
    assert set(the_plan.session_ids) == set(ids.stuck) - {ids.ignores_prompts}
    assert [s.id for s in the_plan.nothing_to_do] == [ids.ignores_prompts]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    build_demo(tmp_path, now=NOW)
    with pytest.raises(FileExistsError):
        build_demo(tmp_path, now=NOW)


async def test_demo_recoveries_are_journaled_in_the_demo_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ocinspect --demo`` must not add runs to the user's own journal ($XDG_STATE_HOME set)."""
    import tempfile

    from inspector.cli import Settings, tui_app
    from inspector.core.repair.journal import iter_runs
    from tests.support.tui import SIZE, press, settle

    user_state = tmp_path / "state"  # the user's XDG_STATE_HOME (set by the tui_cwd fixture)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    settings = Settings(None, None, 5000)  # owns the demo's directory until its cleanup closes
    app = tui_app(settings, demo=True)
    demo_dir = app.config.db_path.parent
    assert demo_dir.is_relative_to(tmp_path / "tmp")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "R")
        await press(pilot, "enter")
    assert list(iter_runs(present(app.config.journal_dir))), "the demo recovery wrote no journal"
    assert present(app.config.journal_dir).is_relative_to(demo_dir)
    assert not list(user_state.rglob("*.jsonl"))
    assert not list(user_state.rglob("*.json")), "the demo's watermarks landed in the user's state"
    settings.cleanup.close()
    assert not demo_dir.exists()

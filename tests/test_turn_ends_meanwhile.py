"""A turn that ends between the scan's snapshot and OpenCode's answer is not called stale.

OpenCode writes no row while a reply streams, so a snapshot taken in the last second of a reply
holds the unfinished message; if OpenCode has finished (and gone idle) by the time it is asked,
the session is "not listed busy" and its rows "unfinished": stale, though nothing is stuck.
Seen once in CI (e2e ``test_watch_stops_a_stalled_model_and_leaves_a_slow_reply``). Here a
second writer (``tests/opencode_writer.py``, as OpenCode writes) finishes the turn at the
moment OpenCode is asked; the real database file is read before and after.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose import scan as scan_module
from inspector.core.diagnose.incremental import resume
from inspector.core.diagnose.options import ScanOptions
from inspector.core.model import LiveStatus
from inspector.core.synth.demo import DemoSessions, build_demo_sessions

from .conftest import NOW

sys.path.insert(0, str(Path(__file__).parent))
from opencode_writer import Writer  # noqa: E402

RUNNING_IDLE = LiveStatus(running=True, detail="a stand-in OpenCode that lists nothing busy")


@pytest.fixture
def streaming(tmp_path: Path) -> tuple[Path, DemoSessions, str]:
    """The demo database plus one healthy session in the middle of a reply (a running bash)."""
    path, ids = build_demo_sessions(tmp_path, now=NOW)
    sid = ids.clean[0]
    writer = Writer(str(path), NOW)
    writer.crash(sid)
    writer.conn.close()
    return path, ids, sid


def answer(path: Path, sid: str, *, finish: bool) -> Callable[..., Callable[[set[str]], LiveStatus]]:
    """``liveness_for`` of a server that, when asked, has just ended the turn of ``sid`` (or not)."""

    def liveness_for(_: Path, schema: str = "v1") -> Callable[[set[str]], LiveStatus]:
        def finish_then_answer(directories: set[str]) -> LiveStatus:
            if finish:
                writer = Writer(str(path), NOW + 1_000)
                writer.finish(sid)
                writer.conn.close()
            return RUNNING_IDLE

        return finish_then_answer

    return liveness_for


@pytest.mark.parametrize("quick", [False, True], ids=["deep", "quick"])
@pytest.mark.parametrize("finish", [True, False], ids=["ended-meanwhile", "still-unfinished"])
def test_scan_reads_the_idle_sessions_again_after_the_answer(streaming, monkeypatch, quick: bool, finish: bool) -> None:
    path, ids, sid = streaming
    monkeypatch.setattr(scan_module, "liveness_for", answer(path, sid, finish=finish))
    result = scan_module.scan(open_store(path), ScanOptions(quick=quick, now=NOW + 2_000))
    verdicts = {d.id: d.verdict for d in result.sessions}
    if finish:
        assert sid not in verdicts
    else:
        assert verdicts[sid] == "stale"
    assert verdicts[ids.crash_orphan] == "stale"  # what really is stuck stays


def test_show_of_a_session_that_ended_meanwhile_shows_it_finished(streaming, monkeypatch) -> None:
    path, _, sid = streaming
    monkeypatch.setattr(scan_module, "liveness_for", answer(path, sid, finish=True))
    (diag,) = scan_module.scan(open_store(path), ScanOptions(session_ids=[sid], now=NOW + 2_000)).sessions
    assert (diag.id, diag.verdict, diag.stuck_parts) == (sid, "ok", ())


@pytest.mark.parametrize("quick", [False, True], ids=["deep", "quick"])
def test_a_resumed_scan_does_the_same_and_keeps_nothing_of_it(streaming, monkeypatch, quick: bool) -> None:
    path, ids, sid = streaming
    store = open_store(path)
    resume.scan_resumed(store, ScanOptions(quick=quick, full=True, live=RUNNING_IDLE, now=NOW))  # the kept state
    monkeypatch.setattr(scan_module, "liveness_for", answer(path, sid, finish=True))
    monkeypatch.setattr(resume, "liveness_for", answer(path, sid, finish=True))
    result, _ = resume.scan_resumed(store, ScanOptions(quick=quick, now=NOW + 2_000))
    assert sid not in {d.id for d in result.sessions}
    again, _ = resume.scan_resumed(store, ScanOptions(quick=quick, live=RUNNING_IDLE, now=NOW + 3_000))
    assert sid not in {d.id for d in again.sessions}
    assert ids.crash_orphan in {d.id for d in again.sessions}


def test_a_refresh_that_asks_again_does_the_same(streaming, monkeypatch) -> None:
    """Watch mode and the TUI: a refresh that asks OpenCode afresh reads the idle ones again."""
    from inspector.core.diagnose.incremental import refresh as rf

    path, ids, sid = streaming
    store = open_store(path)
    monkeypatch.setattr(scan_module, "liveness_for", answer(path, sid, finish=False))
    watched = rf.full_scan(store, ScanOptions(full=True, now=NOW))
    assert {d.id: d.verdict for d in watched.result.sessions}[sid] == "stale"
    finishing = answer(path, sid, finish=True)(path)
    monkeypatch.setattr(rf, "detect", lambda db, directories=None, schema="v1": finishing(set(directories or ())))
    later = rf.refresh(store, watched, ScanOptions(now=NOW + 2_000), recheck_live=True)
    assert sid not in {d.id for d in later.result.sessions}
    assert ids.crash_orphan in {d.id for d in later.result.sessions}
    again = rf.refresh(store, later, ScanOptions(now=NOW + 3_000), sweep=True)
    assert sid not in {d.id for d in again.result.sessions}

"""The watch's one kept diagnosis of each idle session (``repair/watch_idle.py``), shared by the
findings and ``--metrics``: a session turning idle is read once, whoever asks; both still say
what a one-shot scan of the same rows says; what moves in an idle session is seen at the next
look where the file changed, without waiting for the watchdog's periodic full pass.

Real SQLite files (``tests/support/hung_db.py``: the real DDL, rows as OpenCode writes them),
changed in place through a second connection as OpenCode does; liveness pinned. What was read
is counted twice: the scans the kept store made per session, and SQLite's own work
(``tests/support/sqlite_work.py``), which does not depend on how the code is organised.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.metrics.collector import WatchMetrics
from inspector.core.metrics.tally import HANG_KINDS, PATTERN_NAMES, VERDICTS, WAIT_KINDS, Tally, tally
from inspector.core.model import LiveStatus, Verdict
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair.watchdog import Watchdog
from tests.support.hung_db import MINUTE, Busy, build_busy
from tests.support.releases import NOW
from tests.support.sqlite_work import Work, counting

HUNG_AFTER = 15 * MINUTE
V2 = Path(__file__).resolve().parent / "fixtures" / "v2"
V2_STUCK = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"  # v2-stuck-bash.db's session, its shell running
Exported = dict[str, dict[Any, float]]


@pytest.fixture
def busy_db(tmp_path: Path) -> tuple[Path, Busy]:
    path = tmp_path / "busy.db"
    return path, build_busy(path, NOW)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def exported(metrics: WatchMetrics) -> Exported:
    """What a scrape says about the sessions (every count, by every label)."""

    def one(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, labels)
        assert found is not None, (name, labels)
        return found

    by_pattern = {
        (v, p): one("ocinspect_sessions_by_pattern", verdict=v, pattern=p) for v in VERDICTS for p in PATTERN_NAMES
    }
    return {
        "sessions": {v: one("ocinspect_sessions", verdict=v) for v in VERDICTS},
        "by_pattern": {k: n for k, n in by_pattern.items() if n},
        "hung": {k: one("ocinspect_hung_sessions", kind=k) for k in HANG_KINDS},
        "waiting": {k: one("ocinspect_waiting_sessions", kind=k) for k in WAIT_KINDS},
        "oldest": {v: one("ocinspect_oldest_stuck_seconds", verdict=v) for v in VERDICTS},
    }


def expected(counted: Tally) -> Exported:
    return {
        "sessions": {k: float(n) for k, n in counted.sessions.items()},
        "by_pattern": {k: float(n) for k, n in counted.by_pattern.items() if n},
        "hung": {k: float(n) for k, n in counted.hung.items()},
        "waiting": {k: float(n) for k, n in counted.waiting.items()},
        "oldest": dict(counted.oldest_s),
    }


def one_shot(db: Path, live: LiveStatus, now: int) -> Tally:
    """What ``scan --quick`` says of the same rows with the same liveness, counted."""
    store = open_store(db)
    try:
        result = scan(store, ScanOptions(quick=True, live=live, now=now, hung_after_ms=HUNG_AFTER))
    finally:
        store.dispose()
    return tally(result.sessions, now)


def watch(db: Path, clock: Clock, live: Callable[[], LiveStatus], metrics: WatchMetrics | None) -> Watchdog:
    return Watchdog(
        db, abort_after_ms=None, hung_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: live(), observer=metrics
    )


def not_busy(live: LiveStatus, sid: str) -> LiveStatus:
    """The same answer, with ``sid`` no longer listed busy (its server went idle on it)."""
    return dataclasses.replace(live, busy=live.busy - {sid}, owners=tuple(o for o in live.owners if o[0] != sid))


@pytest.mark.parametrize("how", ["opencode-stops", "one-goes-idle"])
def test_a_session_turning_idle_is_read_once_for_the_findings_and_the_metrics(
    busy_db: tuple[Path, Busy], how: str
) -> None:
    """Two watches of the same file, one with ``--metrics``: each look costs SQLite the same
    work in both (the metrics read nothing of their own), each says the same findings, and the
    metrics equal a one-shot scan's counts at every look."""
    db, ids = busy_db
    first = ids.live()
    then = OFFLINE if how == "opencode-stops" else not_busy(first, ids.hung_bash)
    answers = [first, first, then, then, then]
    clock, at = Clock(), [0]
    with counting() as work:
        metrics = WatchMetrics()
        plain = watch(db, clock, lambda: answers[at[0]], None)
        observed = watch(db, clock, lambda: answers[at[0]], metrics)
        try:
            for i, live in enumerate(answers):
                at[0], clock.now = i, NOW + 1000 * i
                found_plain, cost_plain = polled(plain, work)
                found_observed, cost_observed = polled(observed, work)
                assert found_observed == found_plain, i
                assert cost_observed == cost_plain, i  # not a tick more for the metrics
                assert exported(metrics) == expected(one_shot(db, live, clock.now)), i
            newly_idle = ids.busy if how == "opencode-stops" else {ids.hung_bash}
            reads = observed.idle.read_count
            if how == "opencode-stops":  # stale at once: read at the look it turned idle, kept since
                assert {reads[sid] for sid in newly_idle} == {1}
            else:  # beside a running OpenCode the findings read it once more on the next look, no more
                assert reads[ids.hung_bash] == 2
            # the crash leftover: read, read again for the findings' second look beside a running
            # OpenCode, and (OpenCode stopped) once more, as the liveness answer moved its verdict
            assert reads[ids.stale] == (3 if how == "opencode-stops" else 2)
            assert observed.idle.read_count == plain.idle.read_count
        finally:
            plain.close()
            observed.close()


def polled(dog: Watchdog, work: Work) -> tuple[list[tuple[str, Verdict]], int]:
    before = work.ticks
    found = [(e.finding.id, e.finding.verdict) for e in dog.poll() if e.finding is not None]
    return found, work.ticks - before


# How each generation ends a running tool in place, its row rewritten and its ``time_updated``
# bumped: 1.x rewrites the tool's ``part`` row, 2.x the turn's row that holds the tool.
END_TOOL = {
    "v1": (
        "SELECT id FROM part WHERE session_id = ? AND json_extract(data, '$.state.status') = 'running'",
        "part",
        "$.state",
    ),
    "v2": (
        "SELECT id FROM session_message WHERE session_id = ? AND type = 'assistant'",
        "session_message",
        "$.content[0].state",
    ),
}


def end_tool(db: Path, generation: str, sid: str) -> None:
    find, table, state = END_TOOL[generation]
    with sqlite3.connect(db) as conn:
        (row,) = conn.execute(find, (sid,)).fetchall()
        conn.execute(
            f"UPDATE {table} SET time_updated = time_updated + 1, "
            f"data = json_set(data, '{state}.status', 'error', '{state}.error', 'killed') WHERE id = ?",
            row,
        )


@pytest.mark.parametrize("generation", ["v1", "v2"])
def test_a_tool_updated_in_place_in_an_idle_session_is_counted_at_the_next_look(
    busy_db: tuple[Path, Busy], tmp_path: Path, generation: str
) -> None:
    """A stale session's running tool ends in place (its row rewritten, as OpenCode does): with
    ``--metrics``, the next look where the file changed re-reads that session alone, without the
    periodic full pass; a watch without them (its findings are verdicts, which that does not
    move) only marks it moved and reads nothing."""
    if generation == "v1":
        db, changed = busy_db[0], busy_db[1].stale
    else:
        db, changed = Path(shutil.copyfile(V2 / "v2-stuck-bash.db", tmp_path / "opencode.db")), V2_STUCK
    clock = Clock()
    metrics = WatchMetrics()
    dog, plain = watch(db, clock, lambda: OFFLINE, metrics), watch(db, clock, lambda: OFFLINE, None)
    try:
        dog.poll()
        plain.poll()
        before = exported(metrics)
        assert before == expected(one_shot(db, OFFLINE, clock.now))
        end_tool(db, generation, changed)
        clock.now += 1000  # far from the minute's full pass
        for watching in (dog, plain):  # still the same stale session: nothing new
            assert [e for e in watching.poll() if e.finding is not None] == []
        after = exported(metrics)
        assert after == expected(one_shot(db, OFFLINE, clock.now))
        assert after["by_pattern"] != before["by_pattern"]  # the change is one the metrics show
        assert dog.idle.read_count[changed] == 2
        assert {n for sid, n in dog.idle.read_count.items() if sid != changed} <= {1}
        assert set(plain.idle.read_count.values()) == {1} and plain.idle.kept[changed].moved
    finally:
        dog.close()
        plain.close()


def test_unknown_sessions_are_read_once_for_the_metrics_alone(busy_db: tuple[Path, Busy]) -> None:
    """Liveness cannot be told: the findings read none of the idle sessions (``unknown`` is
    never a finding), the metrics read each once and count it ``unknown``."""
    db, ids = busy_db
    clock = Clock()
    cannot_tell = LiveStatus(running=None, detail="test: could not ask")
    metrics, plain = WatchMetrics(), watch(db, clock, lambda: cannot_tell, None)
    observed = watch(db, clock, lambda: cannot_tell, metrics)
    try:
        for _ in range(3):
            clock.now += 1000
            assert [e for dog in (plain, observed) for e in dog.poll() if e.kind != "notice"] == []
        assert plain.idle.scans == 0
        assert observed.idle.scans == 1
        assert exported(metrics) == expected(one_shot(db, cannot_tell, clock.now))
        assert exported(metrics)["sessions"]["unknown"] == len(ids.busy) + 1
    finally:
        plain.close()
        observed.close()


def test_a_new_prompt_or_a_replaced_file_is_read_again_and_nothing_else(busy_db: tuple[Path, Busy]) -> None:
    """A prompt appended to one idle session (a new row: its open turns stay the same) re-reads
    that session alone; the file replaced by a copy of itself (the tracker starts over) re-reads
    them all; the minute's full pass of the candidates alone re-reads none."""
    db, ids = busy_db
    clock = Clock()
    metrics = WatchMetrics()
    dog = watch(db, clock, lambda: OFFLINE, metrics)
    try:
        dog.poll()
        first = dict(dog.idle.read_count)
        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO message (id, session_id, time_created, time_updated, data) "
                "SELECT id || 'z', session_id, time_created + 1, time_updated + 1, data FROM message "
                "WHERE session_id = ? AND json_extract(data, '$.role') = 'user'",
                (ids.stale,),
            )
        clock.now += 1000
        dog.poll()
        assert dog.idle.read_count == {**first, ids.stale: 2}
        clock.now += 60_000
        dog.poll()
        assert dog.idle.read_count == {**first, ids.stale: 2}
        copy = db.with_name("copy.db")
        shutil.copyfile(db, copy)
        copy.replace(db)
        clock.now += 1000
        dog.poll()
        assert dog.idle.read_count == {sid: n + 1 for sid, n in {**first, ids.stale: 2}.items()}
        assert exported(metrics) == expected(one_shot(db, OFFLINE, clock.now))
    finally:
        dog.close()

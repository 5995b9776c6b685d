"""``watch --metrics``: what the watch's Prometheus metrics count, and how they are served.

Real SQLite files (``tests/support/hung_db.py``: the real DDL, rows as OpenCode writes them; copies
of the real fixtures for the command line); the liveness answer is pinned where a test needs
busy sessions, as in ``tests/test_hung.py``. The real Prometheus server scraping a real watch:
``tests/test_metrics_prometheus.py``.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.db.store import open_store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.metrics.address import Address, parse_address
from inspector.core.metrics.collector import WatchMetrics
from inspector.core.metrics.tally import PATTERN_NAMES, VERDICTS, tally
from inspector.core.model import LiveStatus, PendingRequest
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair.abort import AbortOutcome, AbortTarget
from inspector.core.repair.watchdog import Watchdog
from tests.support.databases import sha256
from tests.support.hung_db import MINUTE, Busy, build_busy
from tests.support.metrics_watch import metrics_watch
from tests.support.narrow import present
from tests.support.releases import NOW

ROOT = Path(__file__).resolve().parents[1]
V2 = ROOT / "tests" / "fixtures" / "v2"
HUNG_AFTER = 15 * MINUTE
LABELS = {"verdict": set(VERDICTS), "pattern": set(PATTERN_NAMES)}


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def value(metrics: WatchMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    assert found is not None, (name, labels)
    return found


@pytest.fixture
def busy_db(tmp_path: Path) -> tuple[Path, Busy]:
    path = tmp_path / "busy.db"
    return path, build_busy(path, NOW)


def asking(ids: Busy) -> LiveStatus:
    """The busy sessions, the permission one waiting on a prompt its server holds."""
    prompt = PendingRequest("per_1", ids.permission, "permission", 4096, permission="bash", since=NOW - 20 * MINUTE)
    return ids.live(requests=(prompt,))


def stopped(store: object, target: AbortTarget, **kw: Any) -> AbortOutcome:
    return AbortOutcome(target, True, "stopped by OpenCode", (target.root,))


# parsing the address -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("9464", "127.0.0.1", 9464, True),
        (":9464", "127.0.0.1", 9464, True),
        ("localhost:0", "localhost", 0, True),
        ("127.0.0.2:9464", "127.0.0.2", 9464, True),
        ("[::1]:9464", "::1", 9464, True),
        ("0.0.0.0:9464", "0.0.0.0", 9464, False),
        ("[::]:9464", "::", 9464, False),
        ("metrics.example:9464", "metrics.example", 9464, False),
    ],
)
def test_the_metrics_listen_on_loopback_unless_a_host_is_written(
    text: str, host: str, port: int, loopback: bool
) -> None:
    address = parse_address(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize(
    "text", ["", "abc", "9464x", "1.2.3.4:65536", "::1:9464", "[nope]:1", "ho st:1", "a:-1", "a\n:1"]
)
def test_a_bad_metrics_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


# what the watch counts ----------------------------------------------------------------------


def test_every_verdict_and_pattern_is_counted_from_what_the_watch_saw(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    metrics = WatchMetrics()
    dog = Watchdog(
        db,
        abort_after_ms=None,
        hung_after_ms=HUNG_AFTER,
        clock=Clock(NOW),
        detect_live=lambda *a: asking(ids),
        observer=metrics,
    )
    try:
        assert {e.kind for e in dog.poll()} == {"finding"}  # observing only: reported, nothing acted on
    finally:
        dog.close()
    counts = {v: value(metrics, "ocinspect_sessions", verdict=v) for v in VERDICTS}
    assert counts == {"stale": 1, "live": 6, "hung": 4, "waiting": 1, "unknown": 0, "unfixable": 0}
    assert value(metrics, "ocinspect_hung_sessions", kind="tool-silent") == 4
    assert value(metrics, "ocinspect_waiting_sessions", kind="permission") == 1
    assert value(metrics, "ocinspect_waiting_sessions", kind="question") == 0
    assert value(metrics, "ocinspect_sessions_by_pattern", verdict="stale", pattern="crash-orphan") == 1
    assert value(metrics, "ocinspect_sessions_by_pattern", verdict="hung", pattern="subagent-chain") == 2
    assert value(metrics, "ocinspect_oldest_stuck_seconds", verdict="hung") >= HUNG_AFTER / 1000
    assert value(metrics, "ocinspect_looks_total", result="ok") == 1
    assert value(metrics, "ocinspect_last_look_timestamp_seconds") == NOW / 1000
    assert value(metrics, "ocinspect_database_bytes") == db.stat().st_size
    assert value(metrics, "ocinspect_hung_after_seconds") == HUNG_AFTER / 1000
    assert value(metrics, "ocinspect_watch_info", version="0.1.0", schema="v1") == 1


def test_labels_are_bounded_and_name_no_session(busy_db: tuple[Path, Busy]) -> None:
    from prometheus_client import generate_latest

    db, ids = busy_db
    metrics = WatchMetrics()
    dog = Watchdog(db, abort_after_ms=None, clock=Clock(NOW), detect_live=lambda *a: asking(ids), observer=metrics)
    try:
        dog.poll()
    finally:
        dog.close()
    text = generate_latest(metrics.registry).decode()
    assert "ses_" not in text and str(db.parent) not in text
    for family in metrics.registry.collect():
        for sample in family.samples:
            for label, got in sample.labels.items():
                assert got in LABELS.get(label, {got}), (sample.name, label, got)
    assert len(text.splitlines()) < 400  # a few hundred series whatever the database holds


def test_a_look_where_nothing_changed_reads_nothing_more_for_the_metrics(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    clock = Clock(NOW)
    metrics = WatchMetrics()
    dog = Watchdog(db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: OFFLINE, observer=metrics)
    try:
        dog.poll()
        assert value(metrics, "ocinspect_sessions", verdict="stale") == len(ids.busy) + 1  # nobody runs: all stale
        assert (dog.sql_polls, dog.idle.scans) == (1, 1)  # one scan for the findings and the metrics
        for _ in range(5):
            clock.now += 1000
            dog.poll()
        assert (dog.sql_polls, dog.idle.scans) == (1, 1)  # the idle sessions were read once
        assert value(metrics, "ocinspect_looks_total", result="ok") == 6
        clock.now += 60_000  # the watchdog's periodic full pass finds the same turns: nothing is read again
        dog.poll()
        assert (dog.sql_polls, dog.idle.scans) == (2, 1)
    finally:
        dog.close()


def test_aborts_and_resolved_sessions_are_counted(busy_db: tuple[Path, Busy]) -> None:
    from tests.support.standin import close_chain

    db, ids = busy_db
    clock = Clock(NOW)
    metrics = WatchMetrics()
    dog = Watchdog(
        db, abort_after_ms=HUNG_AFTER, clock=clock, detect_live=lambda *a: ids.live(), abort=stopped, observer=metrics
    )
    try:
        events = [e for e in dog.poll() if e.kind != "finding"]
        assert {e.kind for e in events} == {"aborted"}
        assert value(metrics, "ocinspect_actions_total", action="abort", outcome="performed") == len(events) == 3
        assert value(metrics, "ocinspect_actions_total", action="abort", outcome="refused") == 0
        assert value(metrics, "ocinspect_stuck_sessions_resolved_total", verdict="stale") == 0
        close_chain(db, [ids.stale, ids.hung_bash])  # as a recovery (or OpenCode) closes their turns
        clock.now += 1000
        dog.poll()
        assert value(metrics, "ocinspect_stuck_sessions_resolved_total", verdict="stale") == 1
        assert value(metrics, "ocinspect_stuck_sessions_resolved_total", verdict="hung") == 1
        assert value(metrics, "ocinspect_sessions", verdict="stale") == 0
    finally:
        dog.close()


def test_an_abort_nothing_could_be_sent_for_is_counted_refused(busy_db: tuple[Path, Busy]) -> None:
    db, ids = busy_db
    metrics = WatchMetrics()

    def nobody(store: object, target: AbortTarget, **kw: Any) -> AbortOutcome:
        return AbortOutcome(target, False, "no OpenCode server lists this session busy any more; nothing was sent")

    dog = Watchdog(
        db,
        abort_after_ms=HUNG_AFTER,
        clock=Clock(NOW),
        detect_live=lambda *a: ids.live(),
        abort=nobody,
        observer=metrics,
    )
    try:
        dog.poll()
    finally:
        dog.close()
    assert value(metrics, "ocinspect_actions_total", action="abort", outcome="refused") == 3
    assert value(metrics, "ocinspect_actions_total", action="abort", outcome="performed") == 0


def test_the_event_streams_are_reported(busy_db: tuple[Path, Busy]) -> None:
    import json
    import time

    from inspector.core.opencode.signals import Signals
    from tests.support.hung_db import DIR
    from tests.support.standin import StandIn

    db, ids = busy_db
    with StandIn(db, directory=DIR) as server:
        server.events = [f"data: {json.dumps({'type': 'server.connected', 'properties': {}})}\n\n"]
        live = ids.live(port=server.port, servers=((DIR, server.port),))
        hub = Signals(backoff_s=0.05, backoff_max_s=0.1)
        metrics = WatchMetrics()
        dog = Watchdog(
            db, abort_after_ms=None, clock=Clock(NOW), detect_live=lambda *a: live, signals=hub, observer=metrics
        )
        try:
            assert hub.silence_s() is None  # nothing followed yet
            opened = time.monotonic()  # before the look that asks for the stream
            dog.poll()
            deadline = opened + 10
            while hub.events_seen < 1:
                assert time.monotonic() < deadline, "no event came"
                time.sleep(0.02)
            dog.poll()
            assert present(hub.silence_s()) < time.monotonic() - opened  # heard after it was asked for
        finally:
            dog.close()
    assert hub.silence_s() is None  # closed: nothing followed
    assert value(metrics, "ocinspect_event_streams") == 1
    assert value(metrics, "ocinspect_events_total") >= 1
    assert value(metrics, "ocinspect_event_stream_lag_seconds") >= 0


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("v2-stuck-bash", "claim-orphan"),
        ("v2-stuck-exhausted", "exhausted"),
        ("v2-stuck-orphan-child", "orphan-child"),
        ("v2-imported-from-v1-stuck-bash", "imported-unfinished"),
    ],
)
def test_an_opencode_2_database_is_counted_by_pattern(name: str, pattern: str, tmp_path: Path) -> None:
    db = shutil.copyfile(V2 / f"{name}.db", tmp_path / "opencode.db")
    result = scan(open_store(db), ScanOptions(quick=True, live=OFFLINE, now=NOW))
    assert result.schema == "v2"
    counted = tally(result.sessions, NOW)
    assert sum(n for (_, p), n in counted.by_pattern.items() if p == pattern) >= 1, counted.by_pattern
    assert sum(counted.sessions.values()) == len(result.stuck)


# the command line ---------------------------------------------------------------------------


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return str(answer.read().decode())


def sample(text: str, series: str) -> float | None:
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.fixture
def watching(fixture_db: Callable[..., Path]) -> Iterator[tuple[subprocess.Popen[str], Path, str]]:
    """``watch --metrics 127.0.0.1:0`` (observing only) on a copy of the real stuck-bash fixture."""
    db = fixture_db("stuck-bash")
    with metrics_watch(db) as (proc, url, says):
        assert "stuck sessions are reported, nothing is changed" in says
        yield proc, db, url


def test_watch_with_only_metrics_serves_them_and_changes_nothing(
    watching: tuple[subprocess.Popen[str], Path, str],
) -> None:
    import time

    proc, db, url = watching
    before = sha256(db)
    deadline = time.monotonic() + 30
    text = scrape(url)
    while sample(text, 'ocinspect_sessions{verdict="stale"}') != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
        text = scrape(url)
    assert sample(text, 'ocinspect_sessions{verdict="stale"}') == 1
    assert sample(text, 'ocinspect_sessions_by_pattern{pattern="crash-orphan",verdict="stale"}') == 1
    assert present(sample(text, "ocinspect_last_look_timestamp_seconds")) > 0
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and err.endswith("ocinspect: stopped watching\n")
    assert [line.split("  ")[1] for line in out.splitlines()] == ["stale"]  # its one finding, no action
    assert sha256(db) == before


def test_watch_without_anything_to_do_is_still_refused(fixture_db: Callable[..., Path]) -> None:
    result = CliRunner().invoke(cli, ["--db", str(fixture_db("stuck-bash")), "watch"])
    assert result.exit_code == 2 and "--metrics HOST:PORT" in result.output


@pytest.mark.parametrize("address", ["nope:port", "::1:9464", "1.2.3.4:70000"])
def test_a_bad_metrics_address_is_one_line_and_exit_2(fixture_db: Callable[..., Path], address: str) -> None:
    db = fixture_db("stuck-bash")
    before = sha256(db)
    result = CliRunner().invoke(cli, ["--db", str(db), "watch", "--metrics", address])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--metrics" in result.output
    assert sha256(db) == before


def test_a_metrics_port_in_use_is_one_line_and_exit_2(fixture_db: Callable[..., Path]) -> None:
    import socket

    db = fixture_db("stuck-bash")
    before = sha256(db)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--db", str(db), "watch", "--metrics", f"127.0.0.1:{port}"])
    assert result.exit_code == 2, result.output
    assert (
        result.output.strip().splitlines()[-1].startswith(f"ocinspect: error: cannot serve metrics at 127.0.0.1:{port}")
    )
    assert "Traceback" not in result.output
    assert sha256(db) == before


def test_metrics_address_round_trips_for_the_url() -> None:
    assert Address("::1", 9464).url() == "http://[::1]:9464/metrics"
    assert Address("127.0.0.1", 0).url(41000) == "http://127.0.0.1:41000/metrics"


def test_an_opencode_2_database_is_served_by_pattern(tmp_path: Path) -> None:
    """The same watch on the real 2.1.2 fixture: its generation named, its stuck session counted by v2's pattern."""
    import time

    db = shutil.copyfile(V2 / "v2-stuck-bash.db", tmp_path / "opencode.db")
    before = sha256(db)
    with metrics_watch(db) as (proc, url, says):
        deadline = time.monotonic() + 30
        text = scrape(url)
        while sample(text, 'ocinspect_sessions{verdict="stale"}') != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            text = scrape(url)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert sample(text, 'ocinspect_watch_info{schema="v2",version="0.1.0"}') == 1
    assert sample(text, 'ocinspect_sessions{verdict="stale"}') == 1
    assert sample(text, 'ocinspect_sessions_by_pattern{pattern="claim-orphan",verdict="stale"}') == 1
    assert sha256(db) == before

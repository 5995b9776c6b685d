"""Benchmark smoke checks: correctness only, never timing (see bench/README.md)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(BENCH))

import baseline as bl  # noqa: E402
import make_db  # noqa: E402

ID = re.compile(r"^(ses|msg|prt)_[0-9a-f]{12}[0-9A-Za-z]{14}$")


def build(out: Path, size: float = 0.005, seed: int = 1) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, str(BENCH / "make_db.py"), "--size", str(size), "--seed", str(seed), "--out", str(out)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    manifest: dict[str, Any] = json.loads(make_db.manifest_path(out).read_text())
    return manifest


def shared(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """``make(path)`` run once for the whole test run, even when xdist splits it over workers
    (they share the parent of their temporary directories); the others wait for it. The benches'
    files are seeded (``test_build_is_deterministic``), so one build serves every test that only
    reads it; a test that changes one works on :func:`copy_with_manifest`."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path = root / "bench-shared" / name
    path.parent.mkdir(exist_ok=True)
    with open(path.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed; a worker killed mid-build releases it too
        if not make_db.manifest_path(path).exists():  # written last: its presence means the build finished
            make(path)
    return path


def copy_with_manifest(db: Path, out: Path) -> Path:
    """A private copy of a bench file and its manifest, which bench/run.py reuses as is when the
    manifest's size and seed are the ones asked for (instead of building its own)."""
    shutil.copyfile(db, out)
    shutil.copyfile(make_db.manifest_path(db), make_db.manifest_path(out))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """``make_db.py --size 0.005 --seed 1``, what ``run.py --smoke`` would build for itself."""
    out = shared(tmp_path_factory, "tiny.db", build)
    manifest: dict[str, Any] = json.loads(make_db.manifest_path(out).read_text())
    return out, manifest


@pytest.fixture(scope="module")
def tiny_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make_db_v2.py`` at the smoke size, seed 1 (what the flat_v2 row builds at 1×)."""
    import make_db_v2

    return shared(
        tmp_path_factory, "tiny-v2.db", lambda out: make_db_v2.build(out, size=0.005, stuck=len(make_db_v2.SHAPES))
    )


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql.rstrip().rstrip(";")).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("variant", sorted(bl.VARIANTS))
def test_baseline_sql_finds_exactly_the_manifest(tiny: tuple[Path, dict[str, Any]], variant: str) -> None:
    db, manifest = tiny
    if variant == "arrow" and sqlite3.sqlite_version_info < (3, 38):
        pytest.skip("->> needs SQLite 3.38")
    rows = query(db, bl.VARIANTS[variant])
    found = bl.parse_rows("\n".join(f"{k}|{i}" for k, i in rows))
    assert found == bl.expected_from_manifest(manifest)
    assert found["part"] and found["message"] and found["session"]


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 CLI")
def test_baseline_sql_through_the_cli(tiny: tuple[Path, dict[str, Any]]) -> None:
    db, manifest = tiny
    out = subprocess.run(
        ["sqlite3", str(db), bl.BASELINE_SQL], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert bl.parse_rows(out) == bl.expected_from_manifest(manifest)


def test_every_pattern_is_planted_with_fixture_shapes(tiny: tuple[Path, dict[str, Any]]) -> None:
    db, manifest = tiny
    assert {s["pattern"] for s in manifest["stuck"]} == set(make_db.PATTERNS)
    assert query(db, "PRAGMA journal_mode")[0][0] == "wal"
    tables = {r[0] for r in query(db, "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")}
    assert {
        "session",
        "message",
        "part",
        "part_message_id_id_idx",
        "part_session_idx",
        "message_session_time_created_id_idx",
        "session_message",
    } <= tables
    for (ident,) in query(db, "SELECT id FROM session UNION ALL SELECT id FROM message UNION ALL SELECT id FROM part"):
        assert ID.match(ident), ident
    for (data,) in query(db, "SELECT data FROM message"):
        assert "id" not in json.loads(data) and "sessionID" not in json.loads(data)
    parts = {r[0]: json.loads(r[1]) for r in query(db, "SELECT id, data FROM part")}
    for entry in manifest["stuck"]:
        states = [parts[p]["state"] for p in entry["parts"]]
        if entry["pattern"] == "pending-placeholder":
            assert states == [{"status": "pending", "input": {}, "raw": ""}]
        if entry["pattern"] == "subagent-chain" and entry["parent_id"] is None:
            (child,) = entry["children"]
            task = next(s for p, s in zip(entry["parts"], states, strict=True) if parts[p]["tool"] == "task")
            assert task["status"] == "running" and task["metadata"]["sessionId"] == child
            assert query(db, f"SELECT parent_id FROM session WHERE id = '{child}'") == [(entry["session_id"],)]
        if entry["pattern"] == "question-wait":
            assert [parts[p]["tool"] for p in entry["parts"]] == ["question"]
        if entry["pattern"] == "compaction":
            assert entry["time_compacting"] is not None
        if entry["pattern"] == "parts-in-finished-turn":
            (msg,) = query(
                db,
                f"SELECT m.data FROM part p JOIN message m ON m.id = p.message_id WHERE p.id = '{entry['parts'][0]}'",
            )
            assert json.loads(msg[0])["time"]["completed"]


def test_build_is_deterministic(tiny: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """The same size and seed build the same rows: a second build against the shared one (made
    by the command line; this one in-process, with the command line's defaults)."""

    def digest(db: Path) -> str:
        h = hashlib.sha256()
        for table in ("session", "message", "part"):
            for row in query(db, f"SELECT * FROM {table} ORDER BY id"):
                h.update(repr(row).encode())
        return h.hexdigest()

    a, ma = tiny
    b = tmp_path / "b.db"
    mb = make_db.build(b, size=0.005, seed=1, quiet=True)
    assert ma["params"] == mb["params"] and ma["stuck"] == mb["stuck"]
    assert digest(a) == digest(b)


def test_inject_crash_orphans_for_the_recover_row(tiny: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    db = copy_with_manifest(tiny[0], tmp_path / "r.db")
    manifest = tiny[1]
    added = make_db.inject_crash_orphans(db, 4, exclude=set(manifest["stuck_sessions"]))
    assert len(added) == 4 and not set(added) & set(manifest["stuck_sessions"])
    found = bl.parse_rows("\n".join(f"{k}|{i}" for k, i in query(db, bl.BASELINE_SQL)))
    assert len(found["message"]) == len(manifest["unfinished_messages"]) + 4
    assert len(found["part"]) == len(manifest["stuck_parts"]) + 4


def test_run_smoke_exits_zero(tiny: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    db = copy_with_manifest(tiny[0], tmp_path / "one.db")
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--db", str(db)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert re.match(
        r"^quick/baseline=\S+ scan/baseline=\S+ naive/scan=\S+ rss_mb=\S+ first_paint_s=\S+ "
        r"recover1000_s=\S+ watch_busy_cpu_s=\S+ watch_idle_cpu_s=\S+ watch_stuck_shown_s=\S+ "
        r"watch_done_gone_s=\S+ start_s=\S+ timeline_ms=\S+ timeline/fullscan=\S+$",
        last,
    ), last
    assert re.search(r"timeline_ms=\d", last), proc.stdout  # the story of a stuck session was read
    assert re.search(r"start_s=\d", last), proc.stdout  # ocinspect run on the recovered (healthy) copy
    assert "WRONG" not in proc.stdout, proc.stdout
    # the watch rows ran: a second process wrote, the TUI showed and dropped its stuck part
    assert re.search(r"watch_stuck_shown_s=\d", last) and re.search(r"watch_done_gone_s=\d", last), proc.stdout
    assert "full deep scan ran" not in proc.stdout, proc.stdout
    assert "\nbuilding " not in proc.stdout, proc.stdout  # it measured the file it was given


def test_flat_row_smoke(tiny: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """Issue 19's row: both sizes, full and resumed passes, bytes read and faults measured, the
    resumed JSON the same as the full pass's, the copy healthy after its recover."""
    db = copy_with_manifest(tiny[0], tmp_path / "one.db")
    proc = subprocess.run(
        [
            *(sys.executable, str(BENCH / "run.py"), "--smoke", "--only", "flat"),
            *("--db", str(db), "--db4", str(tmp_path / "four.db")),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "n/a (" not in out and "WRONG" not in out and "DIFFERENT" not in out, out
    assert out.count("same JSON as the full pass") == 2 and "healthy, nothing said" in out, out
    row = next(line for line in out.splitlines() if line.startswith("scan --json (second: resumed)"))
    assert re.search(r"\d+\.\d\s+\d+\.\d\s+\d\.\d{3}\s+\d+\.\dk", row), row  # MB read and faults of both sizes
    assert re.search(r"\[second_read_4x\]\s+\d", out) and re.search(r"\[run_work_4x\]\s+\d", out), out
    assert json.loads((tmp_path / "four.manifest.json").read_text())["params"]["size"] == 0.02  # 4 × --size
    assert [x.split(" (")[0] for x in out.splitlines() if x.startswith("building ")] == [
        f"building {tmp_path / 'four.db'}"
    ]
    for what in ("stuck list shown, no kept state (full pass)", "deep view done, from the kept state"):
        line = next(x for x in out.splitlines() if x.startswith(what))
        assert re.search(r"\s0\.\d{3}\s+0\.\d{3}\s+\d+\.\d{2}$", line) or re.search(r"\d\.\d{3}\s+\d+\.\d{3}", line), (
            line
        )


def test_metrics_cost_smoke(tiny: tuple[Path, dict[str, Any]]) -> None:
    """bench/metrics_cost.py runs both watches beside the writer and prints its last line."""
    db, _ = tiny
    done = subprocess.run(
        [sys.executable, str(BENCH / "metrics_cost.py"), "--seconds", "1", "--reps", "1", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"watch_plain_cpu_s=\S+ watch_metrics_cpu_s=\S+ metrics/plain=\S+", done.stdout.splitlines()[-1]
    )
    assert "(0 commits" not in done.stdout  # the writer wrote beside both watches


def test_the_v2_file_holds_the_same_rows_as_the_v1_file_and_the_real_stuck_shapes(
    tiny_v2: Path, tmp_path: Path
) -> None:
    """bench/make_db_v2.py: make_db.py's sessions, messages and parts at the same size (as 2.1.2
    rows), every shape grafted from a real 2.1.2 fixture, found by a scan exactly."""
    import make_db_v2

    v1 = make_db.build(tmp_path / "v1.db", size=0.005, stuck=0, quiet=True)
    db = copy_with_manifest(tiny_v2, tmp_path / "v2.db")
    v2 = json.loads(make_db_v2.manifest_path(db).read_text())
    for key in ("sessions", "child_sessions", "messages", "parts", "tool_parts"):
        assert v2["counts"][key] == v1["counts"][key], key
    assert {s["shape"] for s in v2["stuck"]} == set(make_db_v2.SHAPES)
    assert query(db, "PRAGMA journal_mode")[0][0] == "wal"
    assert {r[0] for r in query(db, "SELECT name FROM sqlite_master WHERE type = 'index'")} >= {
        "session_v2_time_suspended_idx",
        "session_message_session_type_seq_idx",
    }
    grafted = ",".join(f"'{s['session_id']}'" for s in v2["stuck"])  # ids of [0-9A-Za-z_] only
    (generated,) = query(
        db,
        "SELECT count(*) FROM session_message WHERE type IN ('user', 'assistant', 'synthetic') "
        f"AND session_id NOT IN ({grafted})",
    )[0]
    assert generated == v1["counts"]["messages"]
    payload = json.loads(
        subprocess.run(
            [sys.executable, "-m", "inspector", "--db", str(db), "scan", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        ).stdout
    )
    assert {s["id"] for s in payload["sessions"] if s["verdict"] != "ok"} == set(v2["stuck_sessions"])


def test_flat_v2_row_smoke(tiny: tuple[Path, dict[str, Any]], tiny_v2: Path, tmp_path: Path) -> None:
    """The v2 flat row: both sizes, the resumed JSON the same as the full pass's, the stuck
    sessions the manifest's, the copy healthy after its recover, the 4×/1× ratios printed."""
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run.py"),
            "--smoke",
            "--only",
            "flat_v2",
            "--db",  # the 1.x file is not measured by this row: the shared one, not a build of its own
            str(copy_with_manifest(tiny[0], tmp_path / "one.db")),
            "--db-v2",
            str(copy_with_manifest(tiny_v2, tmp_path / "one-v2.db")),
            "--db4-v2",
            str(tmp_path / "four-v2.db"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "n/a (" not in out and "WRONG" not in out and "DIFFERENT" not in out and "STILL STUCK" not in out, out
    assert out.count("correct (") == 2 and "healthy, nothing said" in out, out
    assert out.count("same JSON as the full pass") == 3, out
    assert re.search(r"\[v2_run_work_4x\]\s+\d", out) and re.search(r"\[v2_quick_work_4x\]\s+\d", out), out
    assert json.loads((tmp_path / "four-v2.manifest.json").read_text())["params"]["size"] == 0.02  # 4 × --size
    assert [x for x in out.splitlines() if x.startswith("building ")] == [  # only the 4× file: not the 1× ones given
        f"building {tmp_path / 'four-v2.db'} (OpenCode 2.1.2, size 0.02, seed 1) …"
    ], out

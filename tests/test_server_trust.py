"""A running OpenCode is trusted only as far as it proves itself: end-to-end CLI runs.

Each test runs ``python -m inspector`` in a subprocess on a copy of a real fixture, beside a
process that looks like OpenCode (``tests/fake_opencode.py``: named ``opencode``, the file
open, a stand-in server on a loopback port) which misbehaves in one way: it trickles, it
answers too much, or it accepts a repair and writes nothing. The last tests make the OS refuse
ocinspect a look (another user's process, another user's directory).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.opencode.client import MAX_ANSWER_BYTES
from tests.support.releases import SESSIONS

from .fake_opencode import fake_opencode

REPO = Path(__file__).resolve().parents[1]
SID = SESSIONS["stuck-bash"][0]
PART = "prt_20e711e21001KxiM1bR4EMS3Yv"  # its running bash part
# Each subprocess is bounded, and so is each test (pytest-timeout): a hang fails, never blocks.
BOUND_S = 60


def ocinspect(*args: str, prefix: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the CLI (killed after ``BOUND_S``); returns the finished process and its peak RSS in KiB."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "inspector", *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            text=True,
        )
        timer = threading.Timer(BOUND_S, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read(), err.read()), usage.ru_maxrss


def part_status(db: Path) -> str:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (data,) = conn.execute("SELECT data FROM part WHERE json_extract(data, '$.type') = 'tool'").fetchone()
    finally:
        conn.close()
    return str(json.loads(data)["state"]["status"])


def one_session(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    sessions: list[dict[str, Any]] = json.loads(result.stdout)["sessions"]
    (session,) = sessions
    return session


@pytest.mark.timeout(3 * BOUND_S)
def test_a_trickling_server_does_not_hang_scan_or_report(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-bash")
    with fake_opencode(db, tmp_path, "--trickle", "/session/status=0.5") as server:
        scan, _ = ocinspect("--db", str(db), "scan", "--json")
        report, _ = ocinspect("--db", str(db), "report", SID, "--json")
    assert scan.returncode == 1, scan.stderr
    session = one_session(scan)
    assert session["verdict"] == "unknown"
    assert f"port {server.port} did not answer GET /session/status (timed out" in session["verdict_reason"]
    assert report.returncode == 0, report.stderr
    assert "Traceback" not in scan.stderr + report.stderr


@pytest.mark.timeout(2 * BOUND_S)
def test_run_starts_the_command_whatever_a_trickling_server_does(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_db("stuck-bash")
    started = tmp_path / "started"
    with fake_opencode(db, tmp_path, "--trickle", "/session/status=0.5") as server:
        run, _ = ocinspect(
            "--db", str(db), "run", "--", sys.executable, "-c", f"open({str(started)!r}, 'w').write('yes')"
        )
    assert run.returncode == 0, run.stderr
    assert started.read_text() == "yes"
    (warning,) = run.stderr.splitlines()
    assert warning.startswith("ocinspect: warning: 1 stuck session(s) left alone")
    assert f"port {server.port} did not answer GET /session/status (timed out" in warning
    assert part_status(db) == "running"  # left alone: OpenCode may be on it


@pytest.mark.timeout(2 * BOUND_S)
def test_a_huge_answer_is_refused_before_it_fills_memory(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-bash")
    with fake_opencode(db, tmp_path / "plain") as server:
        _, base_kib = ocinspect("--db", str(db), "scan", "--json")  # the same scan, a normal answer
    with fake_opencode(db, tmp_path, "--huge", f"/session/status={200 * 1000 * 1000}") as server:
        scan, peak_kib = ocinspect("--db", str(db), "scan", "--json")
    assert scan.returncode == 1, scan.stderr
    session = one_session(scan)
    assert session["verdict"] == "unknown"  # never "stale" on the strength of a refused answer
    assert (
        f"OpenCode on port {server.port} sent an answer to GET /session/status longer than 32 MiB: refused"
        in session["verdict_reason"]
    )
    # what the refused answer cost beyond the same scan of a normal one: the cap and one copy of
    # it at most (617 MiB before the cap). Relative to a baseline taken in the same test, so a
    # loaded machine's larger interpreter footprint cannot fail it.
    assert 0 < base_kib and peak_kib - base_kib < 2 * (MAX_ANSWER_BYTES >> 10) + 16 * 1024, (base_kib, peak_kib)


@pytest.mark.timeout(2 * BOUND_S)
@pytest.mark.parametrize("replay_writes", [True, False], ids=["turn-replayed", "nothing-written"])
def test_a_server_that_writes_nothing_is_not_a_repair(
    fixture_db: Callable[..., Path], tmp_path: Path, journal: Path, replay_writes: bool
) -> None:
    db = fixture_db("stuck-bash")
    options = ["--no-part-writes"] + ([] if replay_writes else ["--no-replay-writes"])
    with fake_opencode(db, tmp_path, *options) as server:
        plan, _ = ocinspect("--db", str(db), "recover", "--all", "--dry-run", "--json")
        result, _ = ocinspect("--db", str(db), "recover", "--all", "--yes", "--json")
    assert json.loads(plan.stdout)["via"] == {SID: "opencode"}, plan.stderr
    assert result.returncode == 1, result.stdout + result.stderr
    payload = json.loads(result.stdout)
    assert payload["sessions"] == [] and payload["via"] == {}
    (skip,) = payload["skipped"]
    assert skip["id"] == SID
    assert part_status(db) == "running"
    if replay_writes:  # the turn was written, the part was not: the part is named
        assert skip["kind"] == "server"
        assert skip["reason"] == (
            f"OpenCode on port {server.port} answered, but the database does not hold "
            f"the repair of part {PART}: not repaired"
        )
    else:  # the turn's replay is read back from the file before anything else is believed
        assert skip["kind"] == "conflict" and "kept skipping the replayed turn" in skip["reason"]
    (run_file,) = journal.glob("*.jsonl")
    records = [json.loads(line) for line in run_file.read_text().splitlines()]
    assert {"kind": "skipped", "index": 0, "reason": skip["reason"]} in records
    assert not any(r["kind"] == "committed" for r in records)


def _setpriv() -> str:
    found = shutil.which("setpriv")
    if os.geteuid() != 0 or found is None:
        pytest.skip("needs root and setpriv: the test makes the kernel refuse ocinspect a look")
    return found


@pytest.mark.timeout(2 * BOUND_S)
def test_another_users_opencode_is_named_with_what_to_do(fixture_db: Callable[..., Path], world_dir: Path) -> None:
    """An ``opencode`` process of uid 65534 (``nobody``); ocinspect runs without the capability
    that lets root look into other users' processes (``CAP_SYS_PTRACE``), as any other user
    runs: psutil gets AccessDenied for that process's open files, exactly as for a real one."""
    setpriv = _setpriv()
    db = fixture_db("stuck-bash")
    fake = world_dir / "opencode"
    shutil.copy("/bin/sleep", fake)
    fake.chmod(0o755)
    other = subprocess.Popen([str(fake), "120"], user=65534, group=65534, extra_groups=[])
    try:
        scan, _ = ocinspect("--db", str(db), "scan", "--json", prefix=(setpriv, "--bounding-set", "-sys_ptrace"))
        recover, _ = ocinspect(
            "--db", str(db), "recover", "--all", "--yes", prefix=(setpriv, "--bounding-set", "-sys_ptrace")
        )
    finally:
        other.kill()
        other.wait()
    assert scan.returncode == 1, scan.stderr
    session = one_session(scan)
    assert session["verdict"] == "unknown"
    assert f"{other.pid} (user nobody)" in session["verdict_reason"]
    assert "may be using this database" in session["verdict_reason"]
    assert "run ocinspect as" in session["verdict_reason"]
    assert recover.returncode == 3  # refused, as for any unknown session, with the override named
    assert f"{other.pid} (user nobody)" in recover.stdout + recover.stderr
    assert part_status(db) == "running"


@pytest.mark.timeout(3 * BOUND_S)
@pytest.mark.parametrize(
    "command", [["scan"], ["report", SID], ["recover", "--all", "--yes"], []], ids=["scan", "report", "recover", "tui"]
)
def test_a_database_in_another_users_directory_is_one_line(
    fixture_db: Callable[..., Path], world_dir: Path, command: list[str]
) -> None:
    """``--db`` in a 0700 directory of uid 65534, ocinspect without the capabilities that let
    root read any file: what any other user gets (EACCES on the way to the file)."""
    setpriv = _setpriv()
    private = world_dir / "private"
    private.mkdir()
    db = private / "opencode.db"
    shutil.copy(fixture_db("stuck-bash"), db)
    before = db.read_bytes()
    for path in (db, private):
        os.chown(path, 65534, 65534)
    db.chmod(0o600)
    private.chmod(0o700)
    result, _ = ocinspect(
        "--db", str(db), *command, prefix=(setpriv, "--bounding-set", "-dac_override,-dac_read_search")
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"ocinspect: error: {db} cannot be read (permission denied: it or a directory above it belongs to "
        "another user; run ocinspect as that user)"
    ]
    assert db.read_bytes() == before


@pytest.mark.timeout(2 * BOUND_S)
def test_run_starts_the_command_beside_a_database_it_may_not_read(
    fixture_db: Callable[..., Path], world_dir: Path, tmp_path: Path
) -> None:
    setpriv = _setpriv()
    private = world_dir / "private"
    private.mkdir()
    db = private / "opencode.db"
    shutil.copy(fixture_db("stuck-bash"), db)
    os.chown(private, 65534, 65534)
    private.chmod(0o700)
    started = tmp_path / "started"
    run, _ = ocinspect(
        "--db",
        str(db),
        "run",
        "--",
        sys.executable,
        "-c",
        f"open({str(started)!r}, 'w').write('yes')",
        prefix=(setpriv, "--bounding-set", "-dac_override,-dac_read_search"),
    )
    assert run.returncode == 0, run.stderr
    assert started.read_text() == "yes"
    assert run.stderr.splitlines() == [
        f"ocinspect: warning: {db} cannot be read (permission denied: it or a directory above it belongs to "
        "another user; run ocinspect as that user); starting without recovery"
    ]

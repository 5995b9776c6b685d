"""Other processes on a database, as OpenCode and its neighbours are: one holding the write
lock, one pinning a read snapshot, one writing a WAL the checkpoint cannot empty, one that
looks like OpenCode (its program is named ``opencode``). Each is a real ``python`` process using
SQLite, started with ``start`` and ended by the caller (``stop``, or ``crash`` for a ``kill -9``
that leaves its WAL behind, as a crashed OpenCode does)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.databases import copy_db

# Each script prints "ready" once it holds what it should, then sleeps until it is ended.
HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
conn.execute("BEGIN " + sys.argv[2])
conn.execute("CREATE TABLE IF NOT EXISTS ballast_lock(x)")
print("ready", flush=True)
time.sleep(600)
"""
PIN_SNAPSHOT = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN")
conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
print("ready", flush=True)
time.sleep(600)
"""
GROW_WAL = """
import os, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute("CREATE TABLE IF NOT EXISTS ballast(b BLOB)")
for _ in range(int(sys.argv[2])):
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO ballast VALUES (zeroblob(1048576))")
    conn.execute("COMMIT")
print("ready", flush=True)
time.sleep(600)
"""
OPEN_ONLY = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
print("ready", flush=True)
time.sleep(600)
"""


def wal_copy(fixture: Path, dest: Path) -> Path:
    """A private copy of ``fixture`` in WAL mode (OpenCode runs its database in WAL)."""
    copy_db(fixture, dest)
    conn = sqlite3.connect(dest)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return dest


def start(script: str, *args: str, program: str | None = None) -> subprocess.Popen[str]:
    """``script`` in a new python (``program``: another name for it, e.g. a link named opencode),
    returned once it said "ready"."""
    proc = subprocess.Popen(
        [program or sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    said = proc.stdout.readline()
    if said.strip() != "ready":
        proc.kill()
        raise AssertionError(f"helper did not start: {said!r} {proc.communicate()[1]}")
    return proc


def crash(proc: subprocess.Popen[str]) -> None:
    """``kill -9``: no connection closes, so the WAL stays as it was written."""
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


@contextmanager
def running(script: str, *args: str, program: str | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = start(script, *args, program=program)
    try:
        yield proc
    finally:
        crash(proc)


def opencode_named(tmp: Path) -> str:
    """A link to this python whose name is ``opencode`` (the kernel names the process by it)."""
    link = tmp / "bin" / "opencode"
    link.parent.mkdir(exist_ok=True)
    if not link.exists():
        os.symlink(sys.executable, link)
    return str(link)


def every_row(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two reads compare equal only if no row changed."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables: Sequence[str] = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in sorted(tables)}
    finally:
        conn.close()

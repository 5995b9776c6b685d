"""Shared fixtures: real OpenCode fixture databases copied into tmp_path, isolated env.

The originals in tests/fixtures are never opened for writing; every test works on a copy made
with SQLite's backup API (WAL-safe), as the reference requires.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
NOW = 1795540000000  # 2026-11-24T17:06:40Z, a little after the fixtures were captured

SESSIONS = {
    "stuck-bash": ["ses_df18eeb6dffeePv0iTauMoOxIU"],
    "stuck-two": ["ses_df18ebf03ffecLn0zX09ai9ymn", "ses_df18ebe7cffeXWNiRuh4af1Ynr"],
    "stuck-pending": ["ses_df18e866fffeGD4m89iOLPHhqg"],
    "stuck-task": ["ses_df18eab18ffeF8zm5QUo7WX29g", "ses_df18ea478ffedUk3exGgsWE7Dw"],
    "clean": [],
}


def copy_db(source: Path, dest: Path) -> Path:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return dest


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(path: Path, sql: str, *params: object) -> list[tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may find the developer's real OpenCode database or journal."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("OPENCODE_DB", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


@pytest.fixture
def fixture_db(tmp_path: Path) -> Callable[[str], Path]:
    """``fixture_db("stuck-bash")`` -> a private copy of tests/fixtures/opencode-1.18.33-stuck-bash.db."""

    def make(name: str) -> Path:
        dest = tmp_path / f"{name}.db"
        if not dest.exists():
            copy_db(FIXTURES / f"opencode-1.18.33-{name}.db", dest)
        return dest

    return make


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ocinspect" / "runs"

"""Shared fixtures: real OpenCode fixture databases copied into tmp_path, isolated env.

The originals in tests/fixtures are never opened for writing; every test works on a copy made
with SQLite's backup API (WAL-safe), as the reference requires.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inspector.core.db import contention

from .e2e import recorder
from .support.databases import copy_db
from .support.releases import CASES, LATEST, RELEASES, FixtureCase, fixture_file


def pytest_configure(config: pytest.Config) -> None:
    recorder.register(config)  # here, not in tests/e2e/conftest.py: an xdist controller loads only this one


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test may find the developer's real OpenCode database or journal."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the TUI's theme and keymap
    monkeypatch.delenv("OPENCODE_DB", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    # CLI text is wrapped to $COLUMNS (else 80 off a terminal): tests that read whole sentences
    # get lines that are never wrapped; test_cli_terminal.py unsets it to test the wrapping
    monkeypatch.setenv("COLUMNS", "1000")
    contention.reset()  # what an earlier test's locks made this process wait for is not this test's
    return home


@pytest.fixture
def fixture_db(tmp_path: Path) -> Callable[..., Path]:
    """``fixture_db("stuck-bash")`` -> a private copy of tests/fixtures/opencode-1.18.33-stuck-bash.db;
    ``fixture_db("stuck-task", "1.2.27")`` -> the same scenario written by OpenCode 1.2.27."""

    def make(name: str, release: str = LATEST) -> Path:
        dest = tmp_path / (f"{name}.db" if release == LATEST else f"{release}-{name}.db")
        if not dest.exists():
            copy_db(fixture_file(release, name), dest)
        return dest

    return make


@pytest.fixture(params=CASES, ids=[f"{v}-{s}" for v, s in CASES])
def release_fixture(request: pytest.FixtureRequest, fixture_db: Callable[..., Path]) -> FixtureCase:
    """Every fixture of every release (tests/support/releases.py ``CASES``), one test each."""
    version, scenario = request.param
    return FixtureCase(RELEASES[version], scenario, fixture_db(scenario, version))


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ocinspect" / "runs"


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A 0755 directory outside pytest's 0700 tree, so an unprivileged child can reach it."""
    path = Path(tempfile.mkdtemp(prefix="ocinspect-world-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for root, dirs, _files in os.walk(path):
            for name in dirs:
                os.chmod(os.path.join(root, name), stat.S_IRWXU)
        shutil.rmtree(path, ignore_errors=True)

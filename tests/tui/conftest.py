"""TUI test fixtures: private database copies, the demo database, a frozen clock, pinned liveness.

Every app runs with ``cwd`` = ``tmp_path`` and a *relative* database path, so the path shown in
the status line is the same on every machine (snapshots must not contain ``/tmp/pytest-…``).
The journal goes to ``$XDG_STATE_HOME`` under ``tmp_path`` (see the root ``isolated_env``), the
theme and keymap files to ``$XDG_CONFIG_HOME`` there: snapshots never see the user's settings.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.synth.demo import DemoSessions, build_demo_sessions
from inspector.tui import toasts
from inspector.tui.app import InspectorApp
from tests.support.databases import copy_db
from tests.support.releases import FIXTURES, NOW
from tests.support.tui import build_hostile_titles
from tests.support.waiting_db import Waiting, build_waiting


@pytest.fixture(autouse=True)
def toasts_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Toasts expire by the wall clock (5 s, results 10 s): on a loaded machine a snapshot taken
    after several key presses lost the "Recovered" toast that a fast run still shows. In tests
    they stay up, so what is on screen depends on the keys pressed, not on the machine's speed."""
    monkeypatch.setattr(toasts, "RESULT_TIMEOUT", 3600.0)
    monkeypatch.setattr(InspectorApp, "NOTIFICATION_TIMEOUT", 3600.0)


@pytest.fixture(autouse=True)
def tui_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # never the user's theme or keymap
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Callable[..., Path]:
    """``fixture_copy("stuck-bash")`` -> relative path ``stuck-bash.db`` of a private copy
    (``fixture_copy("stuck-task", "1.2.27")``: the file written by that OpenCode release)."""

    def make(name: str, release: str = "1.18.33") -> Path:
        copy_db(FIXTURES / f"opencode-{release}-{name}.db", tmp_path / f"{name}.db")
        return Path(f"{name}.db")

    return make


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSessions]:
    """The ``--demo`` database built once: its build is seeded, so every build is this file."""
    path, ids = build_demo_sessions(tmp_path_factory.mktemp("demo-template"), now=NOW)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no -wal left: the file is the database
    return path, ids


@pytest.fixture
def demo(tmp_path: Path, demo_template: tuple[Path, DemoSessions]) -> tuple[Path, DemoSessions]:
    """The ``--demo`` database, built for the frozen ``NOW``; relative path ``demo/opencode.db``
    (a private copy of the session's one)."""
    template, ids = demo_template
    (tmp_path / "demo").mkdir()
    shutil.copyfile(template, tmp_path / "demo" / template.name)
    return Path("demo") / template.name, ids


@pytest.fixture
def fixed_run_id(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin the random part of run ids so notifications in snapshots are stable."""
    monkeypatch.setattr(secrets, "token_hex", lambda n=3: "c0ffee")
    return "20261124T170640000Z-c0ffee"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """Titles, a command and tool output that would be markup or terminal escapes if interpreted."""
    build_hostile_titles(tmp_path / "hostile.db")
    return Path("hostile.db")


@pytest.fixture
def waiting(tmp_path: Path) -> tuple[Path, Waiting]:
    """Sessions waiting on a permission or a question, a stale one and a working one (waiting_db.py)."""
    ids = build_waiting(tmp_path / "waiting.db", NOW)
    return Path("waiting.db"), ids

"""Issue 20 §2 in the TUI: ``o`` quits and hands the session to OpenCode (the CLI execs it)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.model import LiveStatus
from inspector.tui.screens import SessionDetailScreen, SessionsScreen
from tests.support.crafted_ids import CRAFTED, rename_session
from tests.support.narrow import of_type
from tests.support.tui import BASH, SIZE, app_for, notifications, press, settle


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable ``opencode`` on PATH (never run here: the app only returns the command)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "opencode").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "opencode").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def stuck_bash_in(fixture_copy: Callable[..., Path], project: Path) -> Path:
    """A copy of the real stuck-bash database, its session in ``project`` (made a git root of
    its own: OpenCode reads no project config above it)."""
    db = fixture_copy("stuck-bash")
    (project / ".git").mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE session SET directory = ?", (str(project),))
    return db


async def test_o_exits_with_the_opencode_command(
    fixture_copy: Callable[..., Path], tmp_path: Path, on_path: Path
) -> None:
    project = tmp_path / "webapp"
    db = stuck_bash_in(fixture_copy, project)
    app = app_for(db, opencode_db=db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        await press(pilot, "o")  # the session is stuck: said first, nothing started
        assert app.return_value is None and isinstance(app.screen, SessionsScreen)
        assert (
            'Open in OpenCode: This session is still stuck: OpenCode will show it in "Thinking". Press r '
            "to recover it first, or o again to open it anyway."
        ) in notifications(app)
        await pilot.press("o")
        await pilot.pause()
    launch = app.return_value
    assert launch is not None
    assert launch.argv == ("opencode", str(project), f"--session={BASH}")
    assert launch.cwd == str(project)
    assert launch.env == (("OPENCODE_DB", str(db.resolve())),)


async def test_o_in_the_detail_attaches_to_a_live_server(
    fixture_copy: Callable[..., Path], tmp_path: Path, on_path: Path
) -> None:
    project = tmp_path / "webapp"
    db = stuck_bash_in(fixture_copy, project)
    live = LiveStatus(running=True, servers=((str(project), 4123),), versions=((4123, "1.18.33"),))
    app = app_for(db, live=live)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "enter")
        assert isinstance(app.screen, SessionDetailScreen)
        await press(pilot, "o")  # stuck: the first says so, the second opens it anyway
        assert app.return_value is None
        await pilot.press("o")
        await pilot.pause()
    assert app.return_value is not None
    assert app.return_value.argv == ("opencode", "attach", "http://127.0.0.1:4123", f"--session={BASH}")


async def test_o_says_why_when_the_directory_is_gone(fixture_copy: Callable[..., Path], on_path: Path) -> None:
    db = fixture_copy("stuck-bash")  # its directory, /home/dev/src/webapp, does not exist here
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "o")
        assert isinstance(app.screen, SessionsScreen)  # still running
        assert any("no longer exists" in n for n in notifications(app))
    assert app.return_value is None


async def test_o_says_when_opencode_is_not_installed(
    fixture_copy: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "webapp"
    db = stuck_bash_in(fixture_copy, project)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "o")
        assert any("opencode is not on PATH" in n for n in notifications(app))
    assert app.return_value is None


@pytest.mark.parametrize("crafted", CRAFTED, ids=repr)
async def test_o_never_hands_a_crafted_id_to_opencode(
    fixture_copy: Callable[..., Path], tmp_path: Path, on_path: Path, crafted: str
) -> None:
    """The session is shown (it is data) but ``o`` refuses it, twice: no stuck note lets it by."""
    project = tmp_path / "webapp"
    db = stuck_bash_in(fixture_copy, project)
    rename_session(db, BASH, crafted)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert of_type(app.screen, SessionsScreen).selected_session_id == crafted  # shown: it is data
        await press(pilot, "o", "o")
        assert isinstance(app.screen, SessionsScreen)
        said = [n for n in notifications(app) if "is not an OpenCode session id" in n]
        assert len(said) == 2 and all(n.startswith("Open in OpenCode: Session id '") for n in said)
    assert app.return_value is None


@pytest.mark.parametrize("shape", ["owned-by-nobody", "world-writable"])
async def test_o_refuses_a_directory_another_user_controls(
    fixture_copy: Callable[..., Path], tmp_path: Path, on_path: Path, shape: str
) -> None:
    project = tmp_path / "shared"
    db = stuck_bash_in(fixture_copy, project)
    (project / "opencode.json").write_text('{"mcp": {"x": {"type": "local", "command": ["touch", "/tmp/pwned"]}}}')
    if shape == "owned-by-nobody":
        os.chown(project, 65534, 65534)
        why = "is owned by nobody (uid 65534), not by you"
    else:
        project.chmod(0o777)
        why = "is writable by every user (mode 0777)"
    app = app_for(db, opencode_db=db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "o", "o")
        assert isinstance(app.screen, SessionsScreen)
        said = [n for n in notifications(app) if why in n]
        assert said and said[0] == (
            f"Open in OpenCode: Cannot open {BASH} in OpenCode: the session's project directory {project} {why}: "
            f"OpenCode would load the opencode.json, plugins and MCP commands anyone put there.\n"
            f"If you trust it, run: ocinspect --db {db} open {BASH} --trust-directory"
        )
    assert app.return_value is None

"""Issue 20 §2: ``ocinspect open ses_…`` continues a session in OpenCode itself.

The command is decided by ``core.opencode.launch`` (pure) from the session row of a real
OpenCode database; the CLI then *becomes* it (``exec``), so these run as real subprocesses. The
program started is a small stand-in script named ``opencode`` on ``PATH`` that prints what it
got; tests/e2e/test_e2e_open.py runs the real OpenCode binary.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.continue_plan import plan_continue
from inspector.core.diagnose.options import ScanOptions
from inspector.core.errors import DirectoryGone, SessionNotFound
from inspector.core.model import LiveStatus, Session
from inspector.core.opencode.launch import continue_command
from inspector.core.opencode.live import OFFLINE
from tests.support.cli import ocinspect
from tests.support.narrow import present
from tests.support.releases import SESSIONS

BASH = SESSIONS["stuck-bash"][0]

STAND_IN = """#!/bin/sh
echo "argv=$*"
echo "cwd=$(pwd)"
echo "db=${OPENCODE_DB-unset}"
exit 5
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "my project"  # a space: the printed line must quote it
    (directory / ".git").mkdir(parents=True)  # its own git root: OpenCode reads no config above it
    return directory


@pytest.fixture
def db_in(fixture_db: Callable[..., Path], project: Path) -> Path:
    """The real 1.18.33 stuck-bash database, its session's directory pointed at ``project``."""
    db = fixture_db("stuck-bash")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE session SET directory = ?", (str(project),))
    return db


def env_with(tmp_path: Path, *, stand_in: bool = True) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if stand_in:
        script = bin_dir / "opencode"
        script.write_text(STAND_IN)
        script.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    env.pop("OPENCODE_DB", None)
    return env


def session_of(db: Path) -> Session:
    store = open_store(db)
    try:
        from inspector.core.diagnose.scan import scan_related

        return present(scan_related(store, [BASH], ScanOptions(live=OFFLINE)).get(BASH)).session
    finally:
        store.dispose()


def test_offline_opens_the_tui_on_the_session_in_its_directory(db_in: Path, project: Path) -> None:
    launch = continue_command(session_of(db_in))
    assert launch.argv == ("opencode", str(project), f"--session={BASH}")
    assert launch.cwd == str(project) and launch.env == () and launch.attach_port is None


def test_a_live_server_is_attached_to_not_a_second_opencode(db_in: Path, project: Path) -> None:
    live = LiveStatus(running=True, servers=((str(project), 4096),), versions=((4096, "1.18.33"),))
    store = open_store(db_in)
    try:
        launch = plan_continue(store, BASH, live=live, database=db_in).launch
    finally:
        store.dispose()
    assert launch.argv == ("opencode", "attach", "http://127.0.0.1:4096", f"--session={BASH}")
    assert launch.attach_port == 4096 and launch.version == "1.18.33"
    assert launch.env == (("OPENCODE_DB", str(db_in.resolve())),)


def test_unknown_session_and_gone_directory_are_typed_errors(db_in: Path, project: Path) -> None:
    store = open_store(db_in)
    try:
        with pytest.raises(SessionNotFound):
            plan_continue(store, "ses_nope", live=OFFLINE)
        (project / ".git").rmdir()
        project.rmdir()
        (gone,) = plan_continue(store, BASH, live=OFFLINE).obstacles
        assert isinstance(gone, DirectoryGone) and "no longer exists" in str(gone)
    finally:
        store.dispose()


def test_print_gives_one_shell_line_with_opencode_db(db_in: Path, project: Path, tmp_path: Path) -> None:
    done = ocinspect("--db", str(db_in), "open", BASH, "--print", env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"cd '{project}' && OPENCODE_DB={db_in.resolve()} opencode '{project}' --session={BASH}\n")
    (warning,) = done.stderr.splitlines()  # the fixture's session is stuck
    assert warning.startswith(f"ocinspect: warning: {BASH} is still stuck")


def test_open_becomes_opencode_in_the_project_directory(db_in: Path, project: Path, tmp_path: Path) -> None:
    done = ocinspect("--db", str(db_in), "open", BASH, env=env_with(tmp_path))
    assert done.returncode == 5, done.stderr  # OpenCode's exit code: this process became it
    assert done.stdout.splitlines() == [f"argv={project} --session={BASH}", f"cwd={project}", f"db={db_in.resolve()}"]


def test_opencode_not_on_path_is_one_line_and_127(db_in: Path, tmp_path: Path) -> None:
    done = ocinspect("--db", str(db_in), "open", BASH, env=env_with(tmp_path, stand_in=False))
    assert done.returncode == 127
    stuck, line = done.stderr.splitlines()  # the fixture's session is stuck: said first
    assert stuck.startswith(f"ocinspect: warning: {BASH} is still stuck")
    assert line.startswith("ocinspect: error: opencode is not on PATH: install OpenCode")
    assert done.stdout == ""


def test_gone_directory_and_unknown_session_are_one_line_and_2(db_in: Path, project: Path, tmp_path: Path) -> None:
    unknown = ocinspect("--db", str(db_in), "open", "ses_nope", env=env_with(tmp_path))
    assert unknown.returncode == 2 and unknown.stderr.startswith("ocinspect: error: no session ses_nope")
    (project / ".git").rmdir()
    project.rmdir()
    gone = ocinspect("--db", str(db_in), "open", BASH, env=env_with(tmp_path))
    assert gone.returncode == 2
    assert gone.stderr.splitlines()[-1] == (
        f"ocinspect: error: cannot open {BASH} in OpenCode: the session's project directory {project} no longer exists"
    )

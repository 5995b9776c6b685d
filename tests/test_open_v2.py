"""``ocinspect open`` on an OpenCode 2 database: the command OpenCode 2.1.2 takes to continue a
session, the stuck-session warning and question, ``--print`` and a clean session.

2.1.2's ``opencode --help``: ``opencode [flags] [<directory>]`` with ``--session``,
``--standalone`` and ``--server URL``; there is no ``attach``. Without ``--standalone`` the
command joins (or boots) the managed service, whose boot re-runs every crashed turn of the file,
so when nothing serves the database the session opens on a private server
(``db/continue_forms.py``). Run as subprocesses on copies of the real 2.1.2 fixtures, with a
stand-in ``opencode`` on ``PATH`` that prints what it got (tests/e2e/v2/test_v2_open.py runs the
real 2.1.2 TUI).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.continue_plan import plan_continue
from inspector.core.model import LiveStatus
from tests.support.cli import ocinspect, ocinspect_on_a_terminal
from tests.test_open import env_with

V2 = Path(__file__).parent / "fixtures" / "v2"
STUCK = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"  # v2-stuck-bash: crashed mid-shell, its claim kept
CLEAN = "ses_daf4b6802ffekVu3qJ9UCwqUk2"  # v2-clean: one finished turn


@pytest.fixture
def project(tmp_path: Path) -> Path:
    directory = tmp_path / "my project"  # a space: the printed line must quote it
    (directory / ".git").mkdir(parents=True)
    return directory


def v2_db(tmp_path: Path, name: str, project: Path) -> Path:
    """A copy of the real 2.1.2 fixture ``name``, its sessions' directory pointed at ``project``."""
    db = tmp_path / f"{name}.db"
    shutil.copyfile(V2 / f"{name}.db", db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE session_v2 SET directory = ?", (str(project),))
    return db


def test_print_gives_the_2x_command_on_a_private_server(tmp_path: Path, project: Path) -> None:
    db = v2_db(tmp_path, "v2-stuck-bash", project)
    before = db.read_bytes()
    done = ocinspect("--db", str(db), "open", STUCK, "--print", env=env_with(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"cd '{project}' && OPENCODE_DB={db.resolve()} opencode --standalone --session={STUCK} '{project}'\n"
    )
    (warning,) = done.stderr.splitlines()
    assert warning.startswith(f"ocinspect: warning: {STUCK} is still stuck")
    assert f"recover it first: ocinspect --db {db} recover {STUCK}" in warning
    assert db.read_bytes() == before


def test_open_becomes_opencode_2_on_the_session(tmp_path: Path, project: Path) -> None:
    db = v2_db(tmp_path, "v2-stuck-bash", project)
    done = ocinspect("--db", str(db), "open", STUCK, env=env_with(tmp_path))
    assert done.returncode == 5, done.stderr  # OpenCode's exit code: this process became it
    assert done.stdout.splitlines() == [
        f"argv=--standalone --session={STUCK} {project}",
        f"cwd={project}",
        f"db={db.resolve()}",
    ]
    assert done.stderr.startswith(f"ocinspect: warning: {STUCK} is still stuck")


def test_a_clean_v2_session_opens_without_a_warning(tmp_path: Path, project: Path) -> None:
    db = v2_db(tmp_path, "v2-clean", project)
    printed = ocinspect("--db", str(db), "open", CLEAN, "--print", env=env_with(tmp_path))
    assert printed.returncode == 0 and printed.stderr == "", printed.stderr
    assert printed.stdout.endswith(f"opencode --standalone --session={CLEAN} '{project}'\n")
    done = ocinspect("--db", str(db), "open", CLEAN, env=env_with(tmp_path))
    assert done.returncode == 5 and done.stderr == ""
    assert done.stdout.splitlines()[0] == f"argv=--standalone --session={CLEAN} {project}"


@pytest.mark.parametrize(("answer", "started"), [("n", False), ("y", True)])
def test_on_a_terminal_open_asks_before_opening_a_stuck_v2_session(
    tmp_path: Path, project: Path, answer: str, started: bool
) -> None:
    db = v2_db(tmp_path, "v2-stuck-bash", project)
    returncode, out, err = ocinspect_on_a_terminal(
        "--db", str(db), "open", STUCK, env=env_with(tmp_path), answer=answer
    )
    assert f"{STUCK} is still stuck" in err and "Open it in OpenCode anyway? [y/N]" in err
    assert returncode == (5 if started else 0)
    if started:
        assert out.splitlines()[0] == f"argv=--standalone --session={STUCK} {project}"
    else:
        assert err.rstrip().endswith("Nothing was started.") and out == ""


def test_a_running_2x_server_is_joined_not_a_private_one_started(tmp_path: Path, project: Path) -> None:
    """OpenCode 2 runs on the file: its client joins the service (a private server beside it
    would be a second writer on the session)."""
    db = v2_db(tmp_path, "v2-stuck-bash", project)
    store = open_store(db)
    try:
        live = LiveStatus(running=True, processes=())
        launch = plan_continue(store, STUCK, live=live).launch
        unknown = plan_continue(store, STUCK, live=LiveStatus(running=None)).launch
    finally:
        store.dispose()
    assert launch.argv == ("opencode", f"--session={STUCK}", str(project))
    assert unknown.argv == launch.argv and launch.attach_port is None

"""Issue 20 §2 end to end: after a recovery, ``ocinspect open`` takes a person back into the
session with the real OpenCode (newest release), and a new prompt completes in that session.

Two proofs, one after the other on the same recovered session (the crash, the recovery and the
printed command are made once: each OpenCode boot is the cost of an e2e test): the interactive
one, ``ocinspect open`` exec'd on a pseudo-terminal becomes OpenCode's TUI on that session and a
prompt typed there completes in the same session; then the non-interactive one, ``opencode run
--session=ID PROMPT`` (the same ``--session=ID`` word the printed TUI command uses) completes
another prompt in it. Both are checked in the database (read-only).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from . import harness as h
from .terminal import Terminal
from .test_e2e import crash_mid_tool

pytestmark = pytest.mark.e2e

PROMPT = "TEXT thanks, now just say hi"
AGAIN = "TEXT and once more, say hi"


def env_for(sb: h.Sandbox, binary: Path) -> dict[str, str]:
    """OpenCode's sandbox environment with the binary on PATH (as ``opencode``) and this checkout."""
    bin_dir = sb.root / "bin"
    bin_dir.mkdir(exist_ok=True)
    link = bin_dir / "opencode"
    if not link.exists():
        link.symlink_to(binary)
    return sb.env(
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(h.REPO_ROOT),
        XDG_STATE_HOME=str(sb.ocinspect_state),
    )


def turns(db: Path, sid: str) -> list[tuple[str, str, int | None, str | None]]:
    """(message id, role, time.completed, first text) of the session, in order."""
    with h.ro_connect(db) as conn:
        rows = conn.execute(
            "SELECT m.id, json_extract(m.data, '$.role'), json_extract(m.data, '$.time.completed'), "
            "(SELECT json_extract(p.data, '$.text') FROM part p WHERE p.message_id = m.id "
            " AND json_extract(p.data, '$.type') = 'text' ORDER BY p.time_created, p.id LIMIT 1) "
            "FROM message m WHERE m.session_id = ? ORDER BY m.time_created, m.id",
            (sid,),
        ).fetchall()
    return [tuple(r) for r in rows]


def session_count(db: Path) -> int:
    with h.ro_connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM session").fetchone()[0])


def answered(db: Path, sid: str, prompt: str) -> bool:
    """A user message with ``prompt``, then an assistant reply with ``time.completed``."""
    rows = turns(db, sid)
    # ``opencode run`` quotes a message argument that has spaces: "TEXT thanks, …"
    asked = [i for i, r in enumerate(rows) if r[1] == "user" and (r[3] or "").strip('"') == prompt]
    return bool(asked) and any(r[1] == "assistant" and r[2] for r in rows[asked[-1] + 1 :])


def open_print(db: Path, sid: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``ocinspect --db DB open SID --print`` with ``env`` (OpenCode on its PATH), no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "inspector", "--db", str(db), "open", sid, "--print"],
        cwd=h.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def recovered_and_printed(sb: h.Sandbox, binary: Path) -> tuple[str, list[str], dict[str, str]]:
    sid, _ = crash_mid_tool(sb, binary, "run the long tests")
    done = sb.ocinspect("recover", sid, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    env = env_for(sb, binary)
    printed = open_print(sb.db_path, sid, env)
    assert printed.returncode == 0, printed.stderr
    words = shlex.split(printed.stdout)
    assert words == [
        "cd",
        str(sb.project),
        "&&",
        f"OPENCODE_DB={sb.db_path.resolve()}",
        "opencode",
        str(sb.project),
        f"--session={sid}",
    ], printed.stdout
    return sid, words, env


def test_open_execs_the_tui_then_the_printed_session_word_takes_a_prompt(
    sandbox: h.Sandbox, opencode_bin: Path
) -> None:
    sid, words, env = recovered_and_printed(sandbox, opencode_bin)
    before = session_count(sandbox.db_path)
    args = [sys.executable, "-m", "inspector", "--db", str(sandbox.db_path), "open", sid]
    term = Terminal.spawn(args, env, h.REPO_ROOT)  # ocinspect, which becomes OpenCode's TUI
    try:
        term.wait_for(b"interrupted", 120)  # the TUI is up, with the recovered session drawn
        term.type_prompt(PROMPT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not answered(sandbox.db_path, sid, PROMPT):
            term.read_for(1)
        assert answered(sandbox.db_path, sid, PROMPT), (turns(sandbox.db_path, sid), term.shown()[-3000:])
        assert session_count(sandbox.db_path) == before
    finally:
        term.close()

    # the printed command's --session=ID word, through OpenCode's non-interactive front end
    run = subprocess.run(
        ["opencode", "run", words[-1], AGAIN],
        cwd=sandbox.project,
        env={**env, "OPENCODE_DB": words[3].split("=", 1)[1]},
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert answered(sandbox.db_path, sid, AGAIN), turns(sandbox.db_path, sid)
    assert session_count(sandbox.db_path) == before  # the same session, not a new one

"""Issue 20 §2 end to end: after a recovery, ``ocinspect open`` takes a person back into the
session with the real OpenCode (newest release), and a new prompt completes in that session.

Two proofs: the non-interactive one (``opencode run --session=ID PROMPT``, the same
``--session=ID`` word the printed TUI command uses), and the interactive one: ``ocinspect open``
exec'd on a pseudo-terminal becomes OpenCode's TUI on that session; a prompt typed there
completes in the same session. Both are checked in the database (read-only).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from . import harness as h
from .test_e2e import crash_mid_tool

pytestmark = pytest.mark.e2e

PROMPT = "TEXT thanks, now just say hi"


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


def test_open_then_a_new_prompt_completes_in_the_same_session(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    sid, words, env = recovered_and_printed(sandbox, opencode_bin)
    before = session_count(sandbox.db_path)
    # the printed command's --session=ID word, through OpenCode's non-interactive front end
    run = subprocess.run(
        ["opencode", "run", words[-1], PROMPT],
        cwd=sandbox.project,
        env={**env, "OPENCODE_DB": words[3].split("=", 1)[1]},
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert answered(sandbox.db_path, sid, PROMPT), turns(sandbox.db_path, sid)
    assert session_count(sandbox.db_path) == before  # the same session, not a new one


def test_open_execs_the_tui_on_the_session_and_a_typed_prompt_completes(sandbox: h.Sandbox, opencode_bin: Path) -> None:  # noqa: C901
    sid, _, env = recovered_and_printed(sandbox, opencode_bin)
    before = session_count(sandbox.db_path)
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: ocinspect, which becomes OpenCode's TUI
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            os.chdir(h.REPO_ROOT)
            os.execvpe(
                sys.executable,
                [sys.executable, "-m", "inspector", "--db", str(sandbox.db_path), "open", sid],
                {**env, "TERM": "xterm-256color"},
            )
        finally:
            os._exit(127)
    screen = b""
    try:

        def read_for(seconds: float) -> None:
            nonlocal screen
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        return
                    screen += chunk
                    # answer the terminal queries a TUI may wait on (cursor position, device attributes)
                    if b"\x1b[6n" in chunk:
                        os.write(fd, b"\x1b[1;1R")
                    if b"\x1b[c" in chunk or b"\x1b[0c" in chunk:
                        os.write(fd, b"\x1b[?62;22c")

        def shown() -> bytes:
            return re.sub(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]", b"", screen)[-3000:]

        def wait_on_screen(needle: bytes, timeout: float) -> None:
            """Read until ``needle`` is drawn: a fixed wait raced the TUI's boot on a loaded machine,
            and keys typed before the session view was up were lost."""
            deadline = time.monotonic() + timeout
            while needle not in re.sub(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]", b"", screen):
                assert time.monotonic() < deadline and os.waitpid(pid, os.WNOHANG) == (0, 0), (needle, shown())
                read_for(0.5)

        wait_on_screen(b"interrupted", 120)  # the TUI is up, with the recovered session drawn
        for ch in PROMPT:
            os.write(fd, ch.encode())
            time.sleep(0.02)
        wait_on_screen(PROMPT.split()[-1].encode(), 30)  # the input box holds the prompt
        os.write(fd, b"\r")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not answered(sandbox.db_path, sid, PROMPT):
            read_for(1)
        assert answered(sandbox.db_path, sid, PROMPT), (turns(sandbox.db_path, sid), shown())
        assert session_count(sandbox.db_path) == before
    finally:
        try:
            os.kill(pid, signal.SIGKILL)  # the process we forked (now OpenCode); its helpers carry the marker
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)

"""The CLI as tests run it: the real command in a subprocess (what a user's shell runs), or
click's runner in-process (fast, for output checks that need no separate process)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from inspector.cli import cli

REPO = Path(__file__).resolve().parents[2]


def ocinspect(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m inspector ARGS`` from the repository root, no terminal (stdin /dev/null, output
    captured); ``env`` None: the test's environment (``isolated_env``). ``timeout`` only bounds a hang."""
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args],
        cwd=REPO,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=preexec,
    )


def invoke(*args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> Result:
    """The click command in-process, named as the real one; an exception fails the test with
    its traceback. ``env``: variables set (None: unset) while it runs."""
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False, prog_name="ocinspect")


def ocinspect_on_a_terminal(*args: str, env: Mapping[str, str], answer: str) -> tuple[int, str, str]:
    """``python -m inspector ARGS`` with a pseudo-terminal for stdin, ``answer`` typed into it
    (a question asked only on a terminal); output captured: (exit code, stdout, stderr)."""
    import os
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "inspector", *args],
            cwd=REPO,
            env=dict(env),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(leader, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    return proc.returncode, out, err

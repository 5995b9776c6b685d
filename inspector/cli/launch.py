"""Replacing this process with another program (``run``, ``open``, the TUI's "open in
OpenCode"): a program that cannot be started is refused before anything happens (exit 127)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

from inspector.cli.errors import EXIT_CANNOT_START, Failure

if TYPE_CHECKING:
    from inspector.core.opencode.launch import Launch


def exec_launch(launch: Launch, *, trust_directory: bool = False) -> NoReturn:
    """Replace this process with ``launch``: in its directory, with its environment added;
    a ``Failure`` (127) when OpenCode is not on ``PATH``."""
    import shutil

    from inspector.core.opencode.launch import obstacles

    program = launch.argv[0]
    if os.sep not in program and shutil.which(program) is None:
        raise Failure(
            f"{program} is not on PATH: install OpenCode (https://opencode.ai) or add its "
            f"directory to PATH, then run: {launch.shell_line()}",
            EXIT_CANNOT_START,
        )
    executable = resolve_command(program)
    for obstacle in obstacles(launch, trust_directory=trust_directory):  # again: the TUI may have run a while
        raise obstacle
    env = {**os.environ, **dict(launch.env)}
    exec_program(executable, list(launch.argv), env=env, cwd=launch.cwd)


def exec_program(
    executable: str, argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None
) -> NoReturn:
    """``exec`` with everything written so far flushed first; a ``Failure`` (127) if it fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        if cwd is not None:
            os.chdir(cwd)
        if env is None:
            os.execv(executable, argv)
        os.execve(executable, argv, env)
    except OSError as exc:
        raise Failure(f"cannot start {argv[0]!r}: {exc.strerror or exc}", EXIT_CANNOT_START) from None


def resolve_command(name: str) -> str:
    """The file ``exec`` will run for ``name`` (looked up in ``$PATH`` as ``execvp`` does unless
    it has a ``/``), or a ``Failure`` (127) when there is none it could run."""
    import shutil

    if os.sep in name or (os.altsep and os.altsep in name):
        if not os.path.exists(name):
            reason = "No such file or directory"
        elif os.path.isdir(name) or not os.access(name, os.X_OK):
            reason = "Permission denied"
        else:
            return name
    else:
        found = shutil.which(name) if name else None
        if found:
            return found
        reason = "No such file or directory"
    raise Failure(f"cannot start {name!r}: {reason}", EXIT_CANNOT_START)

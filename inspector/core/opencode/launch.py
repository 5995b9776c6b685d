"""How to continue a session in OpenCode itself: the command line, decided without side effects.

Measured from ``--help`` of the real binaries 1.2.27, 1.3.2, 1.14.41, 1.15.13, 1.18.14 and 1.18.33
(see docs/design/records.md): every one takes ``opencode [project] -s/--session ID`` (the TUI command) and
``opencode attach <url> -s/--session ID`` (a TUI on a running server). When a server is live on
the database we attach to it: a second ``opencode`` would start its own server on the same file,
two writers on one session. Otherwise the TUI opens the session in its own project directory.

The front ends only check (``directory_problem``) and hand the terminal over (``exec``).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.core.model import LiveStatus, Session

if TYPE_CHECKING:
    from inspector.core.db.store import Store

PROGRAM = "opencode"

# Releases whose ``--help`` was read for the options below (all the same two forms).
MEASURED_RELEASES = ("1.2.27", "1.3.2", "1.14.41", "1.15.13", "1.18.14", "1.18.33")
SESSION_OPTION = "--session"


@dataclass(frozen=True)
class Launch:
    """What to ``exec``: ``argv`` (``argv[0]`` is looked up in ``PATH``), in ``cwd``, with ``env``
    added to the environment. ``attach_port`` is set when it attaches to a running server."""

    session_id: str
    argv: tuple[str, ...]
    cwd: str
    env: tuple[tuple[str, str], ...] = ()
    attach_port: int | None = None
    version: str | None = None  # the OpenCode serving it, when known

    def shell_line(self) -> str:
        """The same command as one line a person can paste into a POSIX shell."""
        words = ["cd", shlex.quote(self.cwd), "&&"]
        words += [f"{key}={shlex.quote(value)}" for key, value in self.env]
        words += [shlex.quote(word) for word in self.argv]
        return " ".join(words)


def continue_command(session: Session, *, server_port: int | None = None, version: str | None = None,
                     database: str | os.PathLike[str] | None = None, program: str = PROGRAM) -> Launch:
    """The command that takes a person back into ``session`` with OpenCode.

    ``server_port``: the port of an OpenCode that serves this database for the session's
    directory (``LiveStatus.server_for``), else None. ``database``: the file to hand OpenCode as
    ``OPENCODE_DB`` when it is not the one OpenCode finds by itself (None: leave it alone).
    """
    env: tuple[tuple[str, str], ...] = ()
    if database is not None:
        env = (("OPENCODE_DB", str(Path(database).resolve())),)
    if server_port is not None:
        argv: tuple[str, ...] = (program, "attach", f"http://127.0.0.1:{server_port}", SESSION_OPTION, session.id)
    else:
        argv = (program, session.directory, SESSION_OPTION, session.id)
    return Launch(session_id=session.id, argv=argv, cwd=session.directory, env=env,
                  attach_port=server_port, version=version)


def directory_problem(directory: str) -> str | None:
    """Why OpenCode cannot be started in ``directory`` (None when it can)."""
    if not directory:
        return "the session records no project directory"
    if not os.path.isabs(directory):
        return f"the session's project directory {directory!r} is not an absolute path"
    if not os.path.exists(directory):
        return f"the session's project directory {directory} no longer exists"
    if not os.path.isdir(directory):
        return f"the session's project directory {directory} is not a directory"
    if not os.access(directory, os.X_OK):
        return f"the session's project directory {directory} cannot be entered (permission denied)"
    return None


def plan_continue(store: Store, session_id: str, *, live: LiveStatus | None = None,
                  database: str | os.PathLike[str] | None = None, program: str = PROGRAM) -> Launch:
    """Read ``session_id``'s row, ask whether an OpenCode serves its directory (unless ``live``
    is given) and return the command; ``SessionNotFound``/``DirectoryGone`` otherwise."""
    from inspector.core.db import queries as q
    from inspector.core.db.rows import session_from_row
    from inspector.core.errors import DirectoryGone, SessionNotFound
    from inspector.core.text import printable

    store.require_v1()
    with store.read() as conn:
        row = conn.execute(q.sessions_by_id(q.session_columns(store.session_columns)),
                           {"ids": [session_id]}).first()
    if row is None:
        raise SessionNotFound(f"no session {printable(session_id)} in {store.path}")
    session = session_from_row(row)
    problem = directory_problem(session.directory)
    if problem is not None:
        raise DirectoryGone(f"cannot open {session.id} in OpenCode: {problem}")
    if live is None:
        from inspector.core.opencode.live import detect

        live = detect(store.path, [session.directory])
    port = live.server_for(session.directory) if live.running else None
    return continue_command(session, server_port=port, version=live.version_of(port) if port else None,
                            database=database, program=program)

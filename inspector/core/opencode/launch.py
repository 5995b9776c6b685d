"""How to continue a session in OpenCode itself: the command line, decided without side effects.

Measured from ``--help`` of the real binaries 1.2.27, 1.3.2, 1.14.41, 1.15.13, 1.18.14 and 1.18.33
(see docs/design/records.md): every one takes ``opencode [project] -s/--session ID`` (the TUI command) and
``opencode attach <url> -s/--session ID`` (a TUI on a running server). When a server is live on
the database we attach to it: a second ``opencode`` would start its own server on the same file,
two writers on one session. Otherwise the TUI opens the session in its own project directory.
OpenCode 2 spells these differently (no ``attach``; a private server when none serves the file):
the shapes are the generation's data (``db/continue_forms.py``), chosen by the scan's schema.

Nothing read from the database can become an option: the session id is checked against
OpenCode's id shape (``core.ids``) and passed glued to its option (``--session=ses_…``; every
release above answers ``opencode run --session=ses_x… hi`` with "Session not found: ses_x…",
so its parser takes the glued form as the id), the directory only when it is absolute. Before OpenCode starts, the directory must exist and be
trusted (``directory_trust``): OpenCode runs the project config it finds there.

The front ends only render a :class:`Continuation` and hand the terminal over (``exec``).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.core.db.continue_forms import V1_FORM, ContinueForm
from inspector.core.db.generation import named
from inspector.core.errors import DirectoryGone, InspectorError, UntrustedDirectory
from inspector.core.ids import require_session_id
from inspector.core.opencode.directory_trust import distrust

if TYPE_CHECKING:
    from inspector.core.model import Diagnosis, LiveStatus, Schema, Session

PROGRAM = "opencode"

# Every tested release (1.2.27 … 1.18.33) has the two forms below (read from their ``--help``).
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


def continue_command(
    session: Session,
    *,
    server_port: int | None = None,
    version: str | None = None,
    database: str | os.PathLike[str] | None = None,
    program: str = PROGRAM,
    form: ContinueForm = V1_FORM,
    served: bool = True,
) -> Launch:
    """The command that takes a person back into ``session`` with OpenCode.

    ``server_port``: the port of an OpenCode that serves this database for the session's
    directory (``LiveStatus.server_for``), else None. ``form``: how the generation's
    ``opencode`` says it; ``served`` False when no OpenCode runs on the database (2.x then
    starts a private server). ``database``: the file to hand OpenCode as
    ``OPENCODE_DB`` when it is not the one OpenCode finds by itself (None: leave it alone).
    ``InvalidSessionId`` when the id is not OpenCode's shape; ``DirectoryGone`` when the
    directory is not an absolute path (no command can be written for it, not even printed).
    """
    session_id = require_session_id(session.id)
    if not os.path.isabs(session.directory):
        raise DirectoryGone(f"cannot open {session_id} in OpenCode: {directory_problem(session.directory)}")
    env: tuple[tuple[str, str], ...] = ()
    if database is not None:
        env = (("OPENCODE_DB", str(Path(database).resolve())),)
    # One word, the value glued to its option: whatever follows can never be read as an option.
    session_word = f"{SESSION_OPTION}={session_id}"
    url = f"http://127.0.0.1:{int(server_port)}" if server_port is not None else None
    argv = form.argv(program, session.directory, session_word, url=url, served=served)
    return Launch(
        session_id=session_id, argv=argv, cwd=session.directory, env=env, attach_port=server_port, version=version
    )


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


def obstacles(launch: Launch, *, trust_directory: bool = False) -> tuple[InspectorError, ...]:
    """What must keep ``launch`` from starting now (typed; empty when nothing does): its
    directory gone, or another user's (unless the person said they trust it). Checked when
    the command is planned and again just before ``exec``: the TUI may have run a while."""
    problem = directory_problem(launch.cwd)
    if problem is not None:
        return (DirectoryGone(f"cannot open {launch.session_id} in OpenCode: {problem}"),)
    found = None if trust_directory else distrust(launch.cwd)
    if found is not None:
        return (
            UntrustedDirectory(
                f"cannot open {launch.session_id} in OpenCode: {found.explain(launch.cwd)}",
                path=found.path,
                owner_uid=found.owner_uid,
                reason=found.reason,
            ),
        )
    return ()


@dataclass(frozen=True)
class Continuation:
    """``launch``, what stands in its way (``obstacles``: typed errors, the first one is what a
    front end refuses with; ``--print`` only warns) and whether the session is still ``stuck``
    (a turn nothing works on: OpenCode would show it in "Thinking"; recovering it first helps)."""

    launch: Launch
    obstacles: tuple[InspectorError, ...] = ()
    stuck: bool = False


def continuation(
    session: Session,
    *,
    diagnosis: Diagnosis | None,
    live: LiveStatus | None,
    database: str | os.PathLike[str] | None = None,
    program: str = PROGRAM,
    trust_directory: bool = False,
    schema: Schema = "v1",
) -> Continuation:
    """Everything a front end needs to continue ``session`` in OpenCode: the command (attached
    to the server ``live`` names for its directory, if any; in the form of the OpenCode that
    wrote ``schema``), what stands in its way, and whether ``diagnosis`` (this session's, from
    a scan; None: not stuck) says it is stale."""
    port = live.server_for(session.directory) if live is not None and live.running else None
    launch = continue_command(
        session,
        server_port=port,
        version=live.version_of(port) if live is not None and port else None,
        database=database,
        program=program,
        form=named(schema).continue_form,
        served=live is None or live.running is not False,
    )
    return Continuation(
        launch=launch,
        obstacles=obstacles(launch, trust_directory=trust_directory),
        stuck=diagnosis is not None and diagnosis.verdict == "stale",
    )

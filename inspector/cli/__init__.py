"""The ``ocinspect`` command: a thin click layer over ``inspector.core``.

Every command resolves the database, calls one core function, prints its result and returns
its exit code; repair logic lives only in ``inspector.core.repair``. Errors are one line on
stderr with a documented exit code (see ``EXIT CODES`` in ``--help``), never a traceback: both
are decided in one place, ``group.Group.invoke``. One module per command family; ``app`` holds
the group, its global options and the TUI's launch.
"""

from __future__ import annotations

import os
import sys

# Each command module adds its command to ``cli`` when imported; none loads core until it runs.
from inspector.cli import doctor, inbox, open_, paths, recover, report, run, scan, show, undo, watch  # noqa: F401
from inspector.cli.app import cli, tui_app
from inspector.cli.errors import CLI_HINTS
from inspector.cli.settings import Settings

__all__ = ["CLI_HINTS", "Settings", "cli", "main", "tui_app"]


def main() -> None:
    """Console-script entry point (``ocinspect``, ``python -m inspector``).

    Ends with ``os._exit`` once stdout and stderr are flushed: Python's own teardown of the
    imported SQLAlchemy modules takes ~30 ms (a tenth of a quick scan) and has nothing left to
    clean up, since every command closes its connections and journal itself (the demo's
    directory goes when the click context closes, before this). It also means no thread left
    behind (a liveness probe, an event stream) can hold the exit up. ``test_startup.py`` runs
    the real process: every byte of output arrives, with the documented exit code.
    """
    code: int = 0
    try:
        cli(prog_name="ocinspect")
    except SystemExit as stop:
        if isinstance(stop.code, int):
            code = stop.code
        elif stop.code is not None:  # sys.exit("message"): what Python would print, exit 1
            sys.stderr.write(f"{stop.code}\n")
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)

"""Handing the terminal to OpenCode on a session ("open in OpenCode"): the app quits with the
core's ``Launch`` and the CLI ``exec``s it; or one toast says why that cannot work."""

from __future__ import annotations

import shlex
import shutil
from typing import TYPE_CHECKING

from inspector.core.errors import InspectorError
from inspector.core.opencode.launch import continuation

from . import keys

if TYPE_CHECKING:
    from .host import Host

# Said before a stuck session is handed to OpenCode: its TUI would show it in "Thinking".
STUCK_OPEN_HINT = (
    'This session is still stuck: OpenCode will show it in "Thinking". Press '
    "{recover-session} to recover it first, or {open-in-opencode} again to open it anyway."
)


class Handoff:
    """Opens sessions of ``app``'s last scan in OpenCode."""

    def __init__(self, app: Host) -> None:
        self.app = app
        self._stuck_said: str | None = None  # the stuck session ``o`` warned about: ``o`` again opens it

    def open(self, session_id: str) -> None:
        """Quit and hand the terminal to OpenCode on ``session_id`` (the CLI ``exec``s it), or
        say in one toast why that cannot work (demo, an id or directory core refuses, OpenCode
        not installed). A session still stuck is said first; ``o`` again opens it anyway."""
        app = self.app
        result = app.scan_result
        diag = result.get(session_id) if result is not None else None
        if diag is None:
            app.notify("That session is not in the last scan.", severity="warning", markup=False)
            return
        if app.config.demo:
            app.notify(
                "This is the demo database: its sessions do not exist in OpenCode.", severity="warning", markup=False
            )
            return
        try:
            plan = continuation(
                diag.session,
                diagnosis=diag,
                live=result.live if result is not None else None,
                database=app.config.opencode_db,
                schema=result.schema if result is not None else "v1",
            )
        except InspectorError as exc:  # an id that is not OpenCode's shape, a relative directory
            self._refused(exc, None)
            return
        if plan.obstacles:
            self._refused(plan.obstacles[0], plan.launch.session_id)
            return
        launch = plan.launch
        if shutil.which(launch.argv[0]) is None:
            app.notify(
                f"{launch.argv[0]} is not on PATH: install OpenCode, or run it yourself:\n{launch.shell_line()}",
                title="Open in OpenCode",
                severity="error",
                markup=False,
            )
            return
        if plan.stuck and self._stuck_said != session_id:
            self._stuck_said = session_id
            app.notify(
                keys.keyed_text(STUCK_OPEN_HINT, keys.namer(app)),
                title="Open in OpenCode",
                severity="warning",
                markup=False,
            )
            return
        app.exit(launch)

    def _refused(self, error: InspectorError, session_id: str | None) -> None:
        """One toast: why core refused (its typed error) and, for a directory another user
        controls, the command that opens it anyway (only a valid ``session_id`` is quoted)."""
        app = self.app
        hint = None
        if error.hint == "trust-directory" and session_id is not None:
            db = ["--db", str(app.config.opencode_db)] if app.config.opencode_db is not None else []
            command = " ".join(shlex.quote(w) for w in ["ocinspect", *db, "open", session_id, "--trust-directory"])
            hint = f"If you trust it, run: {command}"
        text = str(error)
        app.notify(
            text[:1].upper() + text[1:] + "." + (f"\n{hint}" if hint else ""),
            title="Open in OpenCode",
            severity="error",
            markup=False,
        )

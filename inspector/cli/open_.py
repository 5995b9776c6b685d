"""``ocinspect open SESSION_ID``: continue a session in OpenCode itself (this process becomes it)."""

from __future__ import annotations

import sys

import click

from inspector.cli.app import cli
from inspector.cli.echo import say, warn
from inspector.cli.errors import hinted
from inspector.cli.launch import exec_launch
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_OK


@cli.command("open")
@click.argument("session_id")
@click.option(
    "--print",
    "--dry-run",
    "print_only",
    is_flag=True,
    help="Print the command (one shell line) instead of running it; what would stop it is a warning.",
)
@click.option(
    "--trust-directory",
    is_flag=True,
    help="Start OpenCode even in a directory another user owns or every user can write to.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before opening a session that is still stuck.")
@pass_settings
def open_(settings: Settings, session_id: str, print_only: bool, trust_directory: bool, yes: bool) -> int:
    """Continue SESSION_ID in OpenCode itself, in the session's project directory.

    \b
    ocinspect open ses_...            # opencode DIR --session=ses_...
    ocinspect open ses_... --print    # only say it

    When an OpenCode serves this database, its TUI attaches to that server
    (opencode attach http://127.0.0.1:PORT --session=ID); otherwise OpenCode starts on the
    session. OpenCode 2 has no attach: on its database the command is
    opencode --standalone --session=ID DIR when no OpenCode runs on it (a private server: the
    service's boot would re-run crashed turns), else opencode --session=ID DIR. This process
    becomes OpenCode: its terminal, signals and exit code. With --db,
    OpenCode gets OPENCODE_DB set to that database. An id that is not OpenCode's shape
    (ses_ and letters or digits) is never passed on (exit 2). OpenCode runs the project config
    (opencode.json, plugins, MCP commands) of its directory: a directory (or one above it, up
    to the git root) that another user owns or every user can write to is refused (exit 3)
    unless --trust-directory is given. A session still stuck is said first (on a terminal:
    asked, unless --yes).
    """
    import shlex

    from inspector.core.diagnose.continue_plan import plan_continue

    path = settings.path()
    store = settings.store()
    try:
        plan = plan_continue(
            store, session_id, database=path if settings.db is not None else None, trust_directory=trust_directory
        )
    finally:
        store.dispose()
    launch = plan.launch
    if plan.stuck:
        recover = [
            "ocinspect",
            *(["--db", str(settings.db)] if settings.db is not None else []),
            "recover",
            launch.session_id,
        ]
        warn(
            f"{launch.session_id} is still stuck: OpenCode will show it in "
            f'"Thinking"; recover it first: {" ".join(shlex.quote(w) for w in recover)}'
        )
    if print_only:
        for obstacle in plan.obstacles:
            warn(hinted(obstacle))
        say(launch.shell_line())
        return EXIT_OK
    if plan.obstacles:
        raise plan.obstacles[0]
    asking = plan.stuck and not yes and sys.stdin.isatty()  # OpenCode's screen would hide the warning
    if asking and not click.confirm("Open it in OpenCode anyway?", default=False, err=True):
        say("Nothing was started.", err=True)
        return EXIT_OK
    exec_launch(launch, trust_directory=trust_directory)

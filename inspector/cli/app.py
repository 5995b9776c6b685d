"""The ``ocinspect`` group: the global options, and the TUI when no command is given.

Textual is imported only when the TUI is launched, so scripted runs stay fast.
"""

from __future__ import annotations

from contextlib import ExitStack
from types import FrameType
from typing import TYPE_CHECKING

import click

from inspector import __version__
from inspector.cli.errors import Failure
from inspector.cli.group import Group
from inspector.cli.launch import exec_launch
from inspector.cli.params import DURATION, FULL_HELP
from inspector.cli.settings import DEMO_COMMANDS, Settings
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.output import has_terminal

if TYPE_CHECKING:
    from inspector.tui.app import InspectorApp


@click.group(cls=Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH", help="OpenCode database file (or data directory).")
@click.option("--channel", metavar="NAME", help="Pick opencode-<NAME>.db beside opencode.db.")
@click.option(
    "--busy-timeout",
    default=DEFAULT_BUSY_TIMEOUT_MS,
    show_default=True,
    metavar="MS",
    type=click.IntRange(0, 600_000),
    help="How long to wait for OpenCode's write lock.",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Use a built-in demo database, removed on exit (no OpenCode needed): "
    "the TUI and every command that reads or repairs one (" + ", ".join(sorted(DEMO_COMMANDS)) + ").",
)
@click.option("--read-only", is_flag=True, help="Browse only: recover, undo and run write nothing.")
@click.option(
    "--theme",
    metavar="NAME",
    help="TUI colour theme for this run, one of Textual's (e.g. nord, "
    "textual-light); the command palette's 'Theme' saves one.",
)
@click.option(
    "--hung-after",
    "hung_after",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Call a busy session hung when nothing of it moved for this long (TUI and every command).",
)
@click.option("--full", is_flag=True, help=FULL_HELP)
@click.version_option(__version__, "--version", prog_name="ocinspect")
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    channel: str | None,
    busy_timeout: int,
    demo: bool,
    read_only: bool,
    theme: str | None,
    hung_after: int | None,
    full: bool,
) -> None:
    """Find, explain and safely recover OpenCode sessions stuck in "Thinking".

    Without a command, opens the interactive TUI.
    """
    check_demo_option(ctx, demo, db=db, channel=channel)
    settings = ctx.obj = Settings(
        db,
        channel,
        busy_timeout,
        DEFAULT_HUNG_AFTER_MS if hung_after is None else hung_after,
        read_only=read_only,
        full=full,
        demo=demo,
    )
    ctx.call_on_close(settings.cleanup.close)
    if ctx.invoked_subcommand is not None:
        if demo:  # now, not on first use: `runs` reads the demo's journal without opening the database
            settings.demo_database()
        return
    check_theme_option(theme)
    if not demo:  # a database that cannot be opened says so first, terminal or not
        settings.path()
    if not has_terminal():  # Textual would draw its screen into a pipe or read keys from nowhere
        raise Failure("the TUI needs a terminal; use 'ocinspect scan' (or --help for the commands)")
    with settings.cleanup:
        app = tui_app(settings, demo=demo, theme=theme)
        if demo:  # a closed terminal window or a kill: quit the app, so the demo's directory goes too
            quit_on_signals(app, settings.cleanup)
        launch = app.run()
    if launch is not None:  # "open in OpenCode": Textual has given the terminal back by now
        exec_launch(launch)


def quit_on_signals(app: InspectorApp, cleanup: ExitStack) -> None:
    """SIGTERM and SIGHUP end ``app`` as its quit key does (in its event loop, which a signal
    handler may only wake), instead of killing the process before ``cleanup`` runs."""
    import asyncio
    import signal

    def handler(signum: int, frame: FrameType | None) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # before the app's loop runs, or after: end here
            raise SystemExit(128 + signum) from None
        loop.call_soon_threadsafe(app.exit)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        cleanup.callback(signal.signal, signum, signal.signal(signum, handler))


def check_demo_option(ctx: click.Context, demo: bool, *, db: str | None, channel: str | None) -> None:
    """``--demo`` replaces the database, so it cannot be combined with options that name one,
    nor with the commands that hand the database to OpenCode or describe the user's own files."""
    if not demo:
        return
    for name, value in (("--db", db), ("--channel", channel)):
        if value is not None:
            raise click.UsageError(f"--demo and {name} cannot be used together", ctx)
    command = ctx.invoked_subcommand
    if command is not None and command not in DEMO_COMMANDS:
        raise click.UsageError(
            f"--demo does not apply to '{command}' (it works with the TUI and {', '.join(sorted(DEMO_COMMANDS))})", ctx
        )


def check_theme_option(theme: str | None) -> None:
    if theme is None:
        return
    from inspector.tui.settings import UnknownTheme, check_theme

    try:
        check_theme(theme)
    except UnknownTheme as exc:
        raise Failure(str(exc)) from None


def tui_app(settings: Settings, *, demo: bool = False, theme: str | None = None) -> InspectorApp:
    """The TUI app, built but not running (tests drive it with ``run_test``).

    The demo (``demo`` or ``settings.demo``) builds its database in a fresh temporary directory
    that also holds its journal, so its recoveries never land in the user's own journal
    (``ocinspect runs``, ``undo``); closing ``settings.cleanup`` removes it. The theme and keymap
    come from ``$XDG_CONFIG_HOME/ocinspect/`` (``inspector/tui/settings.py``).
    """
    try:
        from inspector.tui.app import make_app
        from inspector.tui.config import AppConfig
        from inspector.tui.settings import config_dir
    except ImportError as exc:  # pragma: no cover - only while the TUI is not installed
        raise Failure(f"the TUI is not available ({exc}); use 'ocinspect scan'") from None
    check_theme_option(theme)
    settings.demo = settings.demo or demo
    path = settings.path()
    if settings.demo:
        from inspector.core.paths import journal_dir

        return make_app(
            AppConfig(
                path,
                demo=True,
                read_only=settings.read_only,
                journal_dir=journal_dir(),
                busy_timeout_ms=settings.busy_timeout,
                hung_after_ms=settings.hung_after_ms,
                settings_dir=config_dir(),
                theme=theme,
            )
        )
    return make_app(
        AppConfig(
            path,
            read_only=settings.read_only,
            busy_timeout_ms=settings.busy_timeout,
            hung_after_ms=settings.hung_after_ms,
            opencode_db=path if settings.db is not None else None,
            full=settings.full,
            settings_dir=config_dir(),
            theme=theme,
        )
    )

"""The ``ocinspect`` command: a thin click layer over ``inspector.core``.

Every command resolves the database, calls one core function and prints its result; repair logic
lives only in ``inspector.core.repair.recover``. Errors are one line on stderr with a documented exit
code (see ``EXIT CODES`` in ``--help``), never a traceback. Textual is imported only when the
TUI is launched, so scripted runs stay fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from inspector import __version__
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.core.errors import (
    EXIT_ERROR,
    EXIT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    InspectorError,
)
from inspector.output import (
    HelpFormatter,
    Styled,
    has_terminal,
    help_block,
    terminal_lines,
    write_lines,
    write_long,
)

if TYPE_CHECKING:  # core modules load on first use (see test_startup.py)
    from inspector.core.db.store import Store

# The --help epilog, wrapped to the help's width when shown (``Group.format_epilog``):
# ("code", text) rows under EXIT CODES, then paragraphs ("": a blank line).
EXIT_CODES = (
    (
        "0",
        "success (scan: nothing stale, hung or unknown, i.e. nothing recover can act on; live and "
        "waiting sessions (OpenCode works on them, or waits for a person's answer) exit 0; "
        "recover: every requested session repaired/stopped, or nothing to do)",
    ),
    (
        "1",
        "scan: stale, hung or unknown sessions found; recover: some sessions changed under us and were "
        "skipped, a hung session did not stop or an answer did not settle; watch: the same",
    ),
    (
        "2",
        "error: bad input, unsupported schema, locked or read-only database, unknown id, "
        "the TUI started without a terminal",
    ),
    (
        "3",
        "recover/undo refused: OpenCode is live on a session (or we cannot tell; see --force), "
        "a session is hung and --abort-hung was not given, or waits for an answer and "
        "--reject-waiting was not given; undo: a session got messages after the run (see --force); "
        "open: the project directory is another user's or writable by all (see --trust-directory)",
    ),
)
EPILOG_NOTES = (
    "'ocinspect run -- COMMAND' ends as COMMAND (same process), so its exit code is COMMAND's; "
    "2 if no COMMAND is given, 127 if COMMAND cannot be started.",
    "'ocinspect open SESSION_ID' ends as OpenCode (same process): 2 if the session or its "
    "project directory is gone, 127 if opencode is not on PATH.",
    "",
    "The database is found as OpenCode finds it: --db, then $OPENCODE_DB, then "
    "$XDG_DATA_HOME/opencode/opencode.db (default ~/.local/share/opencode/opencode.db). "
    "'ocinspect paths' prints it and where ocinspect keeps its settings, journal and state.",
    "",
    'Shell completion (see README): eval "$(_OCINSPECT_COMPLETE=bash_source ocinspect)" '
    "in ~/.bashrc (zsh_source for zsh; fish_source for fish).",
)


FULL_HELP = "Read the whole database, not only what changed since the last look (and keep a new state)."


def error_line(message: str) -> str:
    from inspector.core.text import printable

    # Messages can quote database text (ids, SQLite's own "could not decode" text): one line,
    # no control characters reaching the terminal.
    return f"ocinspect: error: {printable(message, single_line=True)}"


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(error_line(message), err=True)
    sys.exit(code)


class UsageLine(click.UsageError):
    """A usage error shown as the one ``ocinspect: error:`` line the README promises (exit 2),
    where click would print its usage block; ``--help`` still prints click's full help."""

    def show(self, file: Any = None) -> None:
        click.echo(error_line(self.message), err=True)


def usage_line(exc: click.UsageError) -> UsageLine:
    """``exc`` as one line ending with where to read more: ``(see 'ocinspect scan --help')``."""
    ctx = exc.ctx
    message = exc.format_message().rstrip(".")
    if isinstance(exc, click.NoSuchOption) and ctx is not None and ctx.parent is not None:
        root = ctx.find_root().command
        for param in root.params:
            if isinstance(param, click.Option) and exc.option_name in param.opts:
                value = "" if param.is_flag else f" {param.metavar or 'VALUE'}"
                message = (
                    f"{exc.option_name} is a global option: put global options before the command "
                    f"(ocinspect {exc.option_name}{value} {ctx.info_name} ...)"
                )
    words = ctx.command_path.split()[1:] if ctx is not None else []
    where = " ".join(["ocinspect", *words])
    return UsageLine(f"{message} (see '{where} --help')", ctx)


class Context(click.Context):
    """Help wrapped by ``output.HelpFormatter`` (no line break inside an option's name)."""

    formatter_class = HelpFormatter


class Command(click.Command):
    context_class = Context


class Group(click.Group):
    """Turns every ``InspectorError``, usage error (and any surprise) into one line on stderr."""

    context_class = Context
    command_class = Command

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """EXIT CODES and the notes, wrapped to the help's width (click would keep a ``\\b``
        block's long lines, or rewrap the table into one paragraph)."""
        if ctx.parent is not None:
            return
        width = formatter.width - formatter.current_indent - 2
        block = "\n".join(
            ["EXIT CODES", help_block(EXIT_CODES, width), "", help_block([("", note) for note in EPILOG_NOTES], width)]
        )
        formatter.write_paragraph()
        with formatter.indentation():
            for row in block.splitlines():
                formatter.write(f"{' ' * formatter.current_indent}{row}\n" if row else "\n")

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:  # the global options are parsed here, before ``invoke``
            return super().make_context(info_name, args, parent=parent, **extra)
        except UsageLine:
            raise
        except click.UsageError as exc:
            raise usage_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InspectorError as exc:
            hint = CLI_HINTS.get(exc.hint or "")
            fail(f"{exc} ({hint})" if hint else str(exc), exc.exit_code)
        except UsageLine:
            raise
        except click.UsageError as exc:  # a subcommand's options, a missing argument, an unknown command
            raise usage_line(exc) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            say("ocinspect: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the promise is "never a traceback"
            if os.environ.get("OCINSPECT_DEBUG"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (set OCINSPECT_DEBUG=1 for details)")


def warn_journal_problems(problems: list[Any]) -> None:
    """One ``ocinspect: warning:`` line per journal file that is not a readable run."""
    from inspector.core.text import printable

    for problem in problems:
        click.echo(f"ocinspect: warning: {printable(str(problem), single_line=True)}", err=True)


def warn_skipped_state(skipped: tuple[str, ...]) -> None:
    """One ``ocinspect: warning:`` line per file of the kept state that was not read."""
    for problem in skipped:
        say(f"ocinspect: warning: skipped {problem}; the scan read the whole database", err=True)


def progress_reporter(label: str) -> Callable[[int, int], None] | None:
    """A ``progress(done, total)`` callback drawing a percentage on stderr, only on a terminal."""
    if not sys.stderr.isatty():
        return None

    def report(done: int, total: int) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        end = "\n" if done >= total else ""
        click.echo(f"\r{label}… {percent:3d}%", err=True, nl=False)
        if end:
            click.echo("\r" + " " * (len(label) + 8) + "\r", err=True, nl=False)

    return report


def say(text: str, *, err: bool = False) -> None:
    """Every line the CLI writes (but the progress meter): ``printable`` on the way out, so no
    control or bidi character from the database reaches the terminal, whichever field held it."""
    from inspector.core.text import printable

    click.echo(printable(text), err=err)


def emit_json(value: Any) -> None:
    from inspector.core.text import safe_json

    click.echo(safe_json(value, indent=2))


def echo_lines(lines: list[str], *, err: bool = False) -> None:
    """Lines of a result for people: ``printable``, wrapped to the terminal, coloured on one
    (``output.write_lines``)."""
    write_lines(lines, err=err)


class Duration(click.ParamType[int]):
    """``90s``, ``10m``, ``2h`` (see ``core.durations``) -> milliseconds."""

    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from inspector.core.durations import parse_duration

        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
DEFAULT_HUNG_AFTER = f"{DEFAULT_HUNG_AFTER_MS // 60_000}m"  # as typed (`--help` must not load the duration parser)


def no_pager_option(func: Any) -> Any:
    return click.option(
        "--no-pager",
        is_flag=True,
        help="Print straight to the terminal, not through $PAGER (long output on a terminal).",
    )(func)


def hung_after_option(func: Any) -> Any:
    return click.option(
        "--hung-after",
        "hung_after",
        type=DURATION,
        default=None,
        metavar="DURATION",
        help=f"Call a busy session hung when nothing of it moved for this long (default {DEFAULT_HUNG_AFTER}; e.g. 90s, 10m, 2h).",
    )(func)


class Settings:
    """Global options, resolved lazily so ``--help`` never touches the disk."""

    def __init__(
        self,
        db: str | None,
        channel: str | None,
        busy_timeout: int,
        hung_after_ms: int = DEFAULT_HUNG_AFTER_MS,
        read_only: bool = False,
        full: bool = False,
        demo: bool = False,
    ) -> None:
        self.db = db
        self.full = full
        self.channel = channel
        self.busy_timeout = busy_timeout
        self.hung_after_ms = hung_after_ms
        self.read_only = read_only
        self.demo = demo
        self.cleanup = ExitStack()  # closed when the command ends (the demo's directory goes)
        self._demo_path: Path | None = None

    def hung_after(self, override: int | None) -> int:
        """A command's ``--hung-after``, else the global one, else 15 minutes."""
        return override if override is not None else self.hung_after_ms

    def path(self) -> Path:
        if self.demo:
            return self.demo_database()
        from inspector.core.db.locate import locate

        return locate(self.db, channel=self.channel)

    def demo_database(self) -> Path:
        """``--demo``: a fresh demo database in a temporary directory that also holds the journal
        and watermarks of this run (``demo_home``), removed when the command or TUI ends."""
        if self._demo_path is None:
            from inspector.core.synth.demo import build_demo, demo_home

            self._demo_path = build_demo(self.cleanup.enter_context(demo_home()))
            say(f"ocinspect: demo database at {self._demo_path} (removed on exit)", err=True)
        return self._demo_path

    def store(self) -> Store:
        from inspector.core.db.store import open_store

        return open_store(self.path(), busy_timeout_ms=self.busy_timeout)


pass_settings = click.make_pass_decorator(Settings)
PATH_NAMES = ("config", "settings", "keymap", "state", "journal", "watermarks", "database")  # `paths` NAME
# What --demo applies to: every command that reads or repairs a database, not those that hand
# it to OpenCode (run, open, watch) or print the user's own paths.
DEMO_COMMANDS = frozenset({"scan", "show", "recover", "undo", "runs", "report"})


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
    hung_after: int,
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
        fail("the TUI needs a terminal; use 'ocinspect scan' (or --help for the commands)")
    with settings.cleanup:
        app = tui_app(settings, demo=demo, theme=theme)
        if demo:  # a closed terminal window or a kill: quit the app, so the demo's directory goes too
            quit_on_signals(app, settings.cleanup)
        launch = app.run()
    if launch is not None:  # "open in OpenCode": Textual has given the terminal back by now
        exec_launch(launch)


def quit_on_signals(app: Any, cleanup: ExitStack) -> None:
    """SIGTERM and SIGHUP end ``app`` as its quit key does (in its event loop, which a signal
    handler may only wake), instead of killing the process before ``cleanup`` runs."""
    import asyncio
    import signal

    def handler(signum: int, frame: Any) -> None:
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
        fail(str(exc))


def tui_app(settings: Settings, *, demo: bool = False, theme: str | None = None) -> Any:
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
        fail(f"the TUI is not available ({exc}); use 'ocinspect scan'")
    check_theme_option(theme)
    prefs: dict[str, Any] = {"settings_dir": config_dir(), "theme": theme}
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
                **prefs,
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
            **prefs,
        )
    )


@cli.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Machine-readable output (see the JSON reference in docs/reference/json.md).",
)
@click.option("--quick", is_flag=True, help="Only unfinished turns (fast on huge databases).")
@click.option("--all-sessions", is_flag=True, help="List every session, not only stuck ones.")
@click.option("--full", is_flag=True, help=FULL_HELP)
@hung_after_option
@pass_settings
def scan(
    settings: Settings, as_json: bool, quick: bool, all_sessions: bool, full: bool, hung_after: int | None
) -> None:
    """List sessions stuck in a stale "Thinking" state (or hung in a live OpenCode) and say why.

    Reads only what changed since the last scan of this file (the state kept under
    $XDG_STATE_HOME/ocinspect/watermarks); --full reads everything and keeps a new state.
    """
    from inspector.core.diagnose.resume import scan_resumed
    from inspector.render import scan_json, scan_text

    result, how = scan_resumed(
        settings.store(),
        quick=quick,
        full=full or settings.full,
        all_sessions=all_sessions,
        progress=progress_reporter("Scanning"),
        hung_after_ms=settings.hung_after(hung_after),
    )
    warn_skipped_state(how.skipped)
    if as_json:
        emit_json(scan_json(result))
    else:
        echo_lines(scan_text(result))
    # only what recover (or an abort) can act on; "unfixable" says what to do instead, exit 0
    needs_attention = any(d.verdict in ("stale", "hung", "unknown") for d in result.stuck)
    sys.exit(EXIT_FOUND if needs_attention else EXIT_OK)


@cli.command()
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--timeline", is_flag=True, help="Tell the last turns' story (prompts, tools, steps) up to where it stopped."
)
@click.option(
    "--turns",
    type=click.IntRange(1, 50),
    default=3,
    show_default=True,
    metavar="N",
    help="With --timeline: how many turns.",
)
@hung_after_option
@no_pager_option
@pass_settings
def show(
    settings: Settings,
    session_id: str,
    as_json: bool,
    timeline: bool,
    turns: int,
    hung_after: int | None,
    no_pager: bool,
) -> None:
    """Explain one session: its unfinished turns, stuck tools and subagents."""
    if timeline:
        show_timeline(settings, session_id, turns=turns, as_json=as_json, pager=not no_pager)
        return
    from inspector.core.diagnose.scan import scan_related
    from inspector.render import scan_json, show_text

    result = scan_related(settings.store(), [session_id], hung_after_ms=settings.hung_after(hung_after))
    diag = result.get(session_id)
    assert diag is not None  # scan raised SessionNotFound otherwise
    if as_json:
        payload = scan_json(result)
        payload["session"] = next(s for s in payload["sessions"] if s["id"] == session_id)
        emit_json(payload)
    else:
        echo_lines(show_text(diag, result))


def show_timeline(settings: Settings, session_id: str, *, turns: int, as_json: bool, pager: bool = True) -> None:
    """``show --timeline``: the story only (no scan, no liveness check: two index reads)."""
    from inspector.core.diagnose.timeline import read_timeline
    from inspector.render_timeline import timeline_json, timeline_text

    story = read_timeline(settings.store(), session_id, turns=turns)
    if as_json:
        emit_json(timeline_json(story))
    else:
        text, colour = terminal_lines(timeline_text(story))
        write_long(text, pager=pager, colour=colour)


@cli.command()
@click.argument("session_ids", nargs=-1, metavar="[SESSION_ID]...")
@click.option("--all", "all_", is_flag=True, help="Recover every stale session.")
@click.option("--dry-run", is_flag=True, help="Print the plan, write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Also repair sessions OpenCode is live on (or may be). Dangerous.")
@click.option(
    "--abort-hung",
    is_flag=True,
    help="Stop hung sessions through OpenCode (POST /session/{id}/abort): the running tool is killed.",
)
@click.option(
    "--reject-waiting",
    is_flag=True,
    help="Reject, through OpenCode, the permission or question a waiting session is asked "
    "(OpenCode then closes the tool and ends the turn itself).",
)
@click.option(
    "--allow-once",
    "allow_once",
    multiple=True,
    metavar="SESSION_ID",
    help="Allow this session's pending permission once, through OpenCode (the tool then runs). "
    "Repeat per session; never implied by --all or --reject-waiting.",
)
@hung_after_option
@click.option(
    "--backup",
    metavar="PATH",
    type=click.Path(dir_okay=False),
    help="First copy the database to PATH (SQLite backup API).",
)
@click.option(
    "--direct", is_flag=True, help="Write the database file even when a running OpenCode could do the repair."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def recover(
    settings: Settings,
    session_ids: tuple[str, ...],
    all_: bool,
    dry_run: bool,
    yes: bool,
    force: bool,
    abort_hung: bool,
    reject_waiting: bool,
    allow_once: tuple[str, ...],
    hung_after: int | None,
    backup: str | None,
    direct: bool,
    as_json: bool,
) -> None:
    """Repair stuck sessions the way OpenCode itself aborts a turn (journaled, undoable).

    When OpenCode runs and the session is idle in it, the repair goes through its API (its
    open clients see it); otherwise, or with --direct, ocinspect writes the file itself.
    Hung sessions (busy in a running OpenCode, nothing moved for --hung-after) are refused
    unless --abort-hung: then OpenCode itself is asked to abort them, and they count as
    stopped only once OpenCode lists them idle with every turn closed. Waiting sessions (OpenCode
    waits for a person's answer to a permission or question) are refused unless --reject-waiting
    (or --allow-once for that session): the answer goes to OpenCode, which closes the tool itself;
    ocinspect never writes a waiting session, not even with --force.
    """
    from inspector.core.repair import operations
    from inspector.render import outcome_json, outcome_lines, prepared_lines

    if bool(session_ids) == all_:
        raise click.UsageError("give SESSION_ID(s) or --all (not both)")
    request = operations.Request(
        database=settings.path(),
        session_ids=None if all_ else tuple(session_ids),
        force=force,
        abort_hung=abort_hung,
        reject_waiting=reject_waiting,
        allow_once=tuple(dict.fromkeys(allow_once)),
        direct=direct,
        dry_run=dry_run,
        read_only=settings.read_only,
        backup_to=Path(backup) if backup else None,
        hung_after_ms=settings.hung_after(hung_after),
        busy_timeout_ms=settings.busy_timeout,
    )
    prepared = operations.prepare(request)
    if not as_json and (lines := prepared_lines(prepared, CLI_HINTS)):
        echo_lines(lines)
    if not (dry_run or prepared.is_empty or yes):
        if not sys.stdin.isatty():
            fail("not on a terminal: add --yes to apply the plan without asking (or --dry-run)")
        if as_json:
            echo_lines(prepared_lines(prepared, CLI_HINTS), err=True)
        if not click.confirm(confirm_question(prepared), default=False, err=as_json):
            say("Cancelled; nothing was changed.", err=True)
            sys.exit(EXIT_OK)
    outcome = operations.execute(prepared, progress=progress_reporter("Recovering"))
    if outcome.backup is not None:
        say(f"Backup written to {outcome.backup}", err=True)
    if as_json:
        emit_json(outcome_json(outcome))
    else:
        echo_lines(outcome_lines(outcome, "ocinspect undo"))
    sys.exit({"ok": EXIT_OK, "partial": EXIT_FOUND, "refused": EXIT_REFUSED}[outcome.status])


# How the CLI says what would get past a refusal (the core names no flag; the TUI names keys).
CLI_HINTS = {
    "force": "use --force to override",
    "abort-hung": "add --abort-hung to stop it through OpenCode (the running tool is killed)",
    "reject-waiting": "add --reject-waiting to reject it through OpenCode",
    "trust-directory": "add --trust-directory if you trust it",
    "force-moved-on": "use --force to put the old rows back anyway",
}


def confirm_question(prepared: Any) -> str:
    if prepared.answers:
        also = " and abort the hung sessions" if prepared.aborts else ""
        apply = " and apply this plan" if not prepared.plan.is_empty else ""
        return f"Answer the waiting sessions through OpenCode{also}{apply}?"
    if prepared.aborts and not prepared.plan.is_empty:
        return "Abort the hung sessions and apply this plan?"
    return "Abort the hung sessions through OpenCode?" if prepared.aborts else "Apply this plan?"


@cli.command()
@click.argument("run_id", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Undo even while OpenCode runs on this database, or when a session got messages after the run.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def undo(settings: Settings, run_id: str | None, force: bool, as_json: bool) -> None:
    """Restore the rows a recovery changed (default: the last run on this database)."""
    from inspector.core.errors import NothingToUndo
    from inspector.core.repair import operations
    from inspector.render import events_clause, line, undo_json

    problems: list[Any] = []
    # A named run without --db/--channel: its own database, as the journal says (a pasted hint works).
    named_only = run_id is not None and settings.db is None and settings.channel is None
    try:
        result = operations.undo(
            operations.UndoRequest(
                database=None if named_only else settings.path(),
                run_id=run_id,
                force=force,
                read_only=settings.read_only,
                busy_timeout_ms=settings.busy_timeout,
            ),
            problems=problems,
        )
    except NothingToUndo as nothing:  # a statement, not a failure
        if as_json:
            emit_json(
                {
                    "run_id": nothing.run_id,
                    "restored": 0,
                    "events_appended": 0,
                    "skipped": [],
                    "interrupted": False,
                    "nothing_to_undo": True,
                    "undone_at": nothing.undone_at,
                }
            )
        else:
            say(f"{str(nothing)[:1].upper()}{str(nothing)[1:]}.")
        sys.exit(nothing.exit_code)
    finally:
        warn_journal_problems(problems)
    if as_json:
        emit_json(undo_json(result))
    else:
        if result.interrupted and not result.restored:
            say(
                f"Run {result.run_id} was cut off while its journal was written, before any change was "
                "committed: nothing to undo."
            )
        else:
            say(f"Run {result.run_id}: restored {result.restored} row(s){events_clause(result.events_appended)}.")
        for skip in result.skipped:
            say(f"Left {line(skip.id)} as it is: {line(skip.reason)}")
    sys.exit(EXIT_OK)


@cli.command()
@click.option(
    "--abort-hung-after",
    "abort_after",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Abort, through OpenCode, sessions hung for this long (e.g. 90s, 10m, 2h).",
)
@click.option(
    "--reject-waiting-after",
    "reject_after",
    type=DURATION,
    default=None,
    metavar="DURATION",
    help="Reject, through OpenCode, permissions and questions pending for this long (never allows anything).",
)
@click.option(
    "--interval",
    type=DURATION,
    default="1s",
    show_default=True,
    metavar="DURATION",
    help="How often to look (each look is cheap: see docs/guide/stuck.md).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_settings
def watch(settings: Settings, abort_after: int | None, reject_after: int | None, interval: int, as_json: bool) -> None:
    """Watch for hung sessions and abort them through OpenCode (--abort-hung-after), and/or
    reject the prompts nobody answers (--reject-waiting-after); give one or both. Made for an
    unattended `opencode serve`.

    Every hung shape is stopped: a tool that never returns, a model stream OpenCode keeps
    restarting without new output, a retry that never ends. Sessions waiting for a person's
    answer are never aborted. Each server's event stream is followed too: it shows progress
    the database rows do not show yet.

    Prints one line per action; stops cleanly on Ctrl-C or SIGTERM. Exit 0, or 1 when some
    hung session did not stop or some answer did not settle.
    """
    import signal
    import threading

    from inspector.core.repair.watchdog import Watchdog
    from inspector.core.text import humanize_ms

    if abort_after is None and reject_after is None:
        raise click.UsageError("give --abort-hung-after DURATION, --reject-waiting-after DURATION, or both")
    path = settings.path()
    from inspector.core.opencode.signals import Signals

    dog = Watchdog(
        path,
        abort_after_ms=abort_after,
        reject_after_ms=reject_after,
        busy_timeout_ms=settings.busy_timeout,
        signals=Signals(),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    doing = []
    if abort_after is not None:
        doing.append(f"sessions hung for {humanize_ms(abort_after)} are aborted")
    if reject_after is not None:
        doing.append(f"permissions and questions pending for {humanize_ms(reject_after)} are rejected")
    say(f"ocinspect: watching {path}: {' and '.join(doing)} through OpenCode (Ctrl-C stops)", err=True)
    failed = False
    try:
        while not stop.is_set():
            for event in dog.poll():
                failed |= event.kind in ("not-stopped", "not-rejected")
                emit_watch_event(event, as_json)
            stop.wait(interval / 1000)
    finally:
        dog.close()
    say("ocinspect: stopped watching", err=True)
    sys.exit(EXIT_FOUND if failed else EXIT_OK)


def emit_watch_event(event: Any, as_json: bool) -> None:
    """One line per event: stdout for aborts, stderr for notices (JSON: everything on stdout)."""
    from inspector.core.text import iso, printable, safe_json
    from inspector.render import abort_json, answer_json, answered_line, outcome_line

    if as_json:
        payload: dict[str, Any] = {"time": iso(event.time), "event": event.kind}
        if event.target is not None:
            payload.update(abort_json(event.target, event.outcome))
        elif event.answer is not None:
            payload.update(answer_json(event.answer.request, event.answer.answer, event.answer))
        else:
            payload["message"] = event.message
        click.echo(safe_json(payload))
    elif event.answer is not None:
        say(f"{iso(event.time)}  {answered_line(event.answer)}")
    elif event.target is not None:
        say(f"{iso(event.time)}  {outcome_line(event.outcome)}  [{printable(event.target.reason, single_line=True)}]")
    else:
        say(f"{iso(event.time)}  {printable(event.message, single_line=True)}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def runs(settings: Settings, as_json: bool) -> None:
    """List recovery runs in the journal (newest first)."""
    from inspector.core.repair.journal import iter_runs, journal_dir, too_open
    from inspector.core.text import local_time

    problems: list[Any] = []
    found = list(iter_runs(journal_dir(), problems))
    warn_journal_problems(problems)
    wide = {r.path for r in found if too_open(r.path)}
    items: list[dict[str, Any]] = [
        {
            "run_id": r.run_id,
            "database": r.database,
            "created": r.created,
            "units": len(r.units),
            "committed": len(r.committed),
            "undone": r.undone,
            "interrupted": r.interrupted,
            "private": r.path not in wide,
        }
        for r in found
    ]
    if wide:
        # Journals hold copies of tool inputs and outputs (commands, file contents, secrets).
        say(
            f"ocinspect: warning: {len(wide)} journal file(s) in {journal_dir()} can be read by other "
            f"users (written before journals were private); fix with: chmod 600 {journal_dir()}/*.jsonl",
            err=True,
        )
    if as_json:
        emit_json(items)
        return
    if not items:
        say(f"No recovery runs in {journal_dir()}.")
    for item in items:
        state = (
            "undone"
            if item["undone"]
            else "interrupted before any change"
            if item["interrupted"]
            else (f"{item['committed']}/{item['units']} committed")
        )
        say(f"{item['run_id']}  {local_time(item['created'])}  {state}  {item['database']}")


@cli.command()
@click.argument("name", required=False, type=click.Choice(PATH_NAMES), metavar="[NAME]")
@click.option("--json", "as_json", is_flag=True, help="Every path as one JSON object.")
@pass_settings
def paths(settings: Settings, name: str | None, as_json: bool) -> None:
    """Print where ocinspect keeps its files, and the database it would open.

    \b
    ocinspect paths            # all of them, one a line
    ocinspect paths journal    # one, alone (for scripts)

    Nothing is created or opened. The database is the one the other commands would open with the
    same global options (--db, --channel, $OPENCODE_DB); exit 2 when NAME is database and there
    is none.
    """
    from inspector.core.paths import own_paths

    found: dict[str, str | None] = {key: str(path) for key, path in own_paths().items()}
    problem: str | None = None
    try:
        found["database"] = str(settings.path())
    except InspectorError as exc:
        found["database"], problem = None, str(exc)
    if name is not None:
        value = found[name]
        if value is None:
            fail(problem or "no database")
        say(value)
    elif as_json:
        emit_json({**found, "database_problem": problem})
    else:
        shown = {key: value if value is not None else f"(none: {problem})" for key, value in found.items()}
        echo_lines([Styled(f"{key:<12}{value}", hang=12) for key, value in shown.items()])


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--dry-run", is_flag=True, help="Only say what would be recovered, then start COMMAND.")
@click.option("--deep", is_flag=True, help="Also look for stuck tools inside finished turns (reads every part).")
@click.option("--full", is_flag=True, help=FULL_HELP)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[--] COMMAND [ARGS]...")
@pass_settings
def run(settings: Settings, dry_run: bool, deep: bool, full: bool, command: tuple[str, ...]) -> None:
    """Recover stale sessions, then replace this process with COMMAND.

    \b
    alias opencode='ocinspect run -- opencode'
    ocinspect run -- opencode serve --port 4096

    Only sessions nothing works on are repaired (journaled; 'ocinspect undo' reverts), and only
    when no OpenCode runs on the database. Whatever stands in the way (no database yet, a lock,
    a running OpenCode, a 2.x database…) is one warning line: COMMAND always starts, with this
    process's PID, terminal, signals and exit code. With --db, COMMAND gets OPENCODE_DB set to
    that database, so OpenCode opens the file that was checked. A COMMAND that cannot be found
    or run is refused (exit 127) before anything is looked at. With the global --read-only,
    nothing is recovered.
    """
    from inspector.core.repair.startup import recover_before_start
    from inspector.render import line, plan_text, plan_warning_lines

    if not command:
        raise click.UsageError("give the command to start, e.g. 'ocinspect run -- opencode'")
    if command[0].startswith("-") and command[0] != "-":  # `run --db X -- cmd`: an option, not a program
        raise click.NoSuchOption(command[0].partition("=")[0], ctx=click.get_current_context())
    executable = resolve_command(command[0])  # a start that cannot happen must not recover
    outcome = recover_before_start(
        settings.db,
        channel=settings.channel,
        dry_run=dry_run,
        deep=deep,
        busy_timeout_ms=min(settings.busy_timeout, 2000),
        read_only=settings.read_only,
        full=full or settings.full,
    )
    warn_skipped_state(outcome.scan.skipped if outcome.scan is not None else ())
    if outcome.warning:
        say(f"ocinspect: warning: {outcome.warning}", err=True)
    elif dry_run and outcome.plan is not None and not outcome.plan.is_empty:
        echo_lines([f"ocinspect: {text}" for text in plan_text(outcome.plan)], err=True)
        say("ocinspect: dry run; nothing was changed", err=True)
    elif outcome.recovered:
        result = outcome.result
        assert result is not None
        count = outcome.recovered
        say(
            f"ocinspect: recovered {count} stuck session{'s' if count != 1 else ''} before start "
            f"(run {result.run_id}; 'ocinspect undo {result.run_id}' reverts)",
            err=True,
        )
        assert outcome.plan is not None
        for skip in outcome.plan.unforeseen(result):
            say(f"ocinspect: skipped {line(skip.id)}: {line(skip.reason)}", err=True)
    if outcome.plan is not None and not outcome.warning and not dry_run:  # a dry run's plan says them
        for text in plan_warning_lines(outcome.plan):
            say(f"ocinspect: warning: {text}", err=True)
    if outcome.opencode_db is not None:  # --db: the file we looked at (or OpenCode will create)
        os.environ["OPENCODE_DB"] = str(outcome.opencode_db)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(executable, list(command))
    except OSError as exc:
        fail(f"cannot start {command[0]!r}: {exc.strerror or exc}", 127)


@cli.command()
@click.argument("session_id")
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Write the report to FILE (default: stdout).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON (the same fields).")
@click.option(
    "--include-content",
    is_flag=True,
    help="Include prompts, tool inputs and outputs, titles and paths (redacted by default).",
)
@no_pager_option
@pass_settings
def report(
    settings: Settings, session_id: str, output: str | None, as_json: bool, include_content: bool, no_pager: bool
) -> None:
    """Write a report on SESSION_ID to paste into an OpenCode bug report (Markdown).

    OpenCode versions and schema of the database, the verdict and pattern, the stuck turn step
    by step, the subagent chain, what ocinspect repaired (from its journal) and the platform.
    Redacted by default: prompts, tool inputs and outputs, titles and paths are replaced by
    their shape (<bash command, 42 chars>, ~/src/<project>), secret-looking text is removed,
    and no environment, host or user name is included.
    """
    from inspector.core.report.build import build_report
    from inspector.core.report.markdown import render
    from inspector.core.report.output import check_output, write_report
    from inspector.core.text import printable, safe_json

    if include_content:
        say(
            "ocinspect: warning: --include-content: the report holds prompts, tool inputs and outputs "
            "and paths of this session; read it before sharing it",
            err=True,
        )
    store = settings.store()
    problems: list[Any] = []
    try:
        if output is not None:
            check_output(output, store.path)
        doc = build_report(
            store, session_id, include_content=include_content, tool_version=__version__, problems=problems
        )
    finally:
        store.dispose()
        warn_journal_problems(problems)
    text = safe_json(doc, indent=2) + "\n" if as_json else printable(render(doc))
    if output is None:
        write_long(text, pager=not no_pager)
        return
    try:
        write_report(output, text, private=include_content)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    say(f"ocinspect: report written to {output}", err=True)


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
def open_(settings: Settings, session_id: str, print_only: bool, trust_directory: bool, yes: bool) -> None:
    """Continue SESSION_ID in OpenCode itself, in the session's project directory.

    \b
    ocinspect open ses_...            # opencode DIR --session=ses_...
    ocinspect open ses_... --print    # only say it

    When an OpenCode serves this database, its TUI attaches to that server
    (opencode attach http://127.0.0.1:PORT --session=ID); otherwise OpenCode starts on the
    session. This process becomes OpenCode: its terminal, signals and exit code. With --db,
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
        say(
            f"ocinspect: warning: {launch.session_id} is still stuck: OpenCode will show it in "
            f'"Thinking"; recover it first: {" ".join(shlex.quote(w) for w in recover)}',
            err=True,
        )
    if print_only:
        for obstacle in plan.obstacles:
            hint = CLI_HINTS.get(obstacle.hint or "")
            say(f"ocinspect: warning: {obstacle}" + (f" ({hint})" if hint else ""), err=True)
        say(launch.shell_line())
        return
    if plan.obstacles:
        raise plan.obstacles[0]
    asking = plan.stuck and not yes and sys.stdin.isatty()  # OpenCode's screen would hide the warning
    if asking and not click.confirm("Open it in OpenCode anyway?", default=False, err=True):
        say("Nothing was started.", err=True)
        sys.exit(EXIT_OK)
    exec_launch(launch, trust_directory=trust_directory)


def exec_launch(launch: Any, *, trust_directory: bool = False) -> NoReturn:
    """Replace this process with ``launch`` (an ``opencode.launch.Launch``): in its directory,
    with its environment added; one error line and 127 when OpenCode is not on ``PATH``."""
    import shutil

    from inspector.core.opencode.launch import obstacles

    program = launch.argv[0]
    if os.sep not in program and shutil.which(program) is None:
        fail(
            f"{program} is not on PATH: install OpenCode (https://opencode.ai) or add its "
            f"directory to PATH, then run: {launch.shell_line()}",
            127,
        )
    executable = resolve_command(program)
    for obstacle in obstacles(launch, trust_directory=trust_directory):  # again: the TUI may have run a while
        raise obstacle
    env = {**os.environ, **dict(launch.env)}
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.chdir(launch.cwd)
        os.execve(executable, list(launch.argv), env)
    except OSError as exc:
        fail(f"cannot start {launch.argv[0]!r}: {exc.strerror or exc}", 127)


def resolve_command(name: str) -> str:
    """The file ``exec`` will run for ``name`` (looked up in ``$PATH`` as ``execvp`` does unless
    it has a ``/``), or one error line and exit 127 when there is none it could run."""
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
    fail(f"cannot start {name!r}: {reason}", 127)


def main() -> None:
    """Console-script entry point.

    Ends with ``os._exit`` once stdout and stderr are flushed: Python's own teardown of the
    imported SQLAlchemy modules takes ~30 ms (a tenth of a quick scan) and has nothing left to
    clean up, since every command closes its connections and journal itself.
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

"""The ``ocinspect`` command: a thin click layer over ``inspector.core``.

Every command resolves the database, calls one core function and prints its result; repair logic
lives only in ``inspector.core.recover``. Errors are one line on stderr with a documented exit
code (see ``EXIT CODES`` in ``--help``), never a traceback. Textual is imported only when the
TUI is launched, so scripted runs stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click

from inspector import __version__
from inspector.core.errors import (
    EXIT_ERROR,
    EXIT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    InspectorError,
)

EPILOG = """\b
EXIT CODES
  0  success (scan: nothing stale; recover: every requested session repaired)
  1  scan: stale sessions found; recover: some sessions changed under us and were skipped
  2  error: bad input, unsupported schema, locked or read-only database, unknown id
  3  recover/undo refused: OpenCode is live on a session (or we cannot tell); see --force
\b
The database is found as OpenCode finds it: --db, then $OPENCODE_DB, then
$XDG_DATA_HOME/opencode/opencode.db (default ~/.local/share/opencode/opencode.db).
"""


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    from inspector.core.text import printable

    # Messages can quote database text (ids, SQLite's own "could not decode" text): one line,
    # no control characters reaching the terminal.
    click.echo(f"ocinspect: error: {printable(message, single_line=True)}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Turns every ``InspectorError`` (and any surprise) into one line on stderr."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InspectorError as exc:
            fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("ocinspect: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the promise is "never a traceback"
            if os.environ.get("OCINSPECT_DEBUG"):
                raise
            fail(f"unexpected {type(exc).__name__}: {exc} (set OCINSPECT_DEBUG=1 for details)")


def progress_reporter(label: str):
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


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def echo_lines(lines: list[str], *, err: bool = False) -> None:
    click.echo("\n".join(lines), err=err)


class Settings:
    """Global options, resolved lazily so ``--help`` never touches the disk."""

    def __init__(self, db: str | None, channel: str | None, busy_timeout: int) -> None:
        self.db = db
        self.channel = channel
        self.busy_timeout = busy_timeout

    def path(self) -> Path:
        from inspector.core.locate import locate

        return locate(self.db, channel=self.channel)

    def store(self):
        from inspector.core.store import open_store

        return open_store(self.path(), busy_timeout_ms=self.busy_timeout)


pass_settings = click.make_pass_decorator(Settings)


@click.group(cls=Group, invoke_without_command=True, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="PATH", help="OpenCode database file (or data directory).")
@click.option("--channel", metavar="NAME", help="Pick opencode-<NAME>.db beside opencode.db.")
@click.option("--busy-timeout", default=5000, show_default=True, metavar="MS", type=click.IntRange(0, 600_000), help="How long to wait for OpenCode's write lock.")
@click.option("--demo", is_flag=True, help="Open the TUI on a built-in demo database (no OpenCode needed).")
@click.option("--read-only", is_flag=True, help="TUI: browse only, recovery disabled.")
@click.version_option(__version__, "--version", prog_name="ocinspect")
@click.pass_context
def cli(ctx: click.Context, db: str | None, channel: str | None, busy_timeout: int, demo: bool, read_only: bool) -> None:
    """Find, explain and safely recover OpenCode sessions stuck in "Thinking".

    Without a command, opens the interactive TUI.
    """
    ctx.obj = Settings(db, channel, busy_timeout)
    if ctx.invoked_subcommand is None:
        launch_tui(ctx.obj, demo=demo, read_only=read_only)


def launch_tui(settings: Settings, *, demo: bool, read_only: bool) -> None:
    try:
        from inspector.tui.app import make_app
    except ImportError as exc:  # pragma: no cover - only while the TUI is not installed
        fail(f"the TUI is not available ({exc}); use 'ocinspect scan'")
    if demo:
        import tempfile

        from inspector.core.demo import build_demo

        directory = Path(tempfile.mkdtemp(prefix="ocinspect-demo-"))
        os.environ.setdefault("XDG_STATE_HOME", str(directory / "state"))
        path = build_demo(directory)
        click.echo(f"ocinspect: demo database at {path}", err=True)
        make_app(path, demo=True, read_only=read_only, busy_timeout_ms=settings.busy_timeout).run()
        return
    make_app(settings.path(), read_only=read_only, busy_timeout_ms=settings.busy_timeout).run()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (see README).")
@click.option("--quick", is_flag=True, help="Only unfinished turns (fast on huge databases).")
@click.option("--all-sessions", is_flag=True, help="List every session, not only stuck ones.")
@pass_settings
def scan(settings: Settings, as_json: bool, quick: bool, all_sessions: bool) -> None:
    """List sessions stuck in a stale "Thinking" state and say why."""
    from inspector.core.scan import scan as run_scan
    from inspector.render import scan_json, scan_text

    result = run_scan(
        settings.store(), quick=quick, all_sessions=all_sessions, progress=progress_reporter("Scanning")
    )
    if as_json:
        emit_json(scan_json(result))
    else:
        echo_lines(scan_text(result))
    needs_attention = any(d.verdict in ("stale", "unknown") for d in result.stuck)
    sys.exit(EXIT_FOUND if needs_attention else EXIT_OK)


@cli.command()
@click.argument("session_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def show(settings: Settings, session_id: str, as_json: bool) -> None:
    """Explain one session: its unfinished turns, stuck tools and subagents."""
    from inspector.core.scan import scan_related
    from inspector.render import scan_json, show_text

    result = scan_related(settings.store(), [session_id])
    diag = result.get(session_id)
    assert diag is not None  # scan raised SessionNotFound otherwise
    if as_json:
        payload = scan_json(result)
        payload["session"] = next(s for s in payload["sessions"] if s["id"] == session_id)
        emit_json(payload)
    else:
        echo_lines(show_text(diag, result))


@cli.command()
@click.argument("session_ids", nargs=-1, metavar="[SESSION_ID]...")
@click.option("--all", "all_", is_flag=True, help="Recover every stale session.")
@click.option("--dry-run", is_flag=True, help="Print the plan, write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Also repair sessions OpenCode is live on (or may be). Dangerous.")
@click.option("--backup", metavar="PATH", type=click.Path(dir_okay=False), help="First copy the database to PATH (SQLite backup API).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def recover(settings: Settings, session_ids: tuple[str, ...], all_: bool, dry_run: bool, yes: bool, force: bool, backup: str | None, as_json: bool) -> None:
    """Repair stuck sessions the way OpenCode itself aborts a turn (journaled, undoable)."""
    from inspector.core import recover as core
    from inspector.render import plan_text, run_json

    if bool(session_ids) == all_:
        raise click.UsageError("give SESSION_ID(s) or --all (not both)")
    if not dry_run:
        from inspector.core.store import roll_back_hot_journal

        roll_back_hot_journal(settings.path(), busy_timeout_ms=settings.busy_timeout)
    store = settings.store()
    plan = core.plan(store, None if all_ else list(session_ids), force=force)
    if not as_json:
        lines = plan_text(plan)
        if lines:
            echo_lines(lines)
    if dry_run or plan.is_empty:
        result = replace(core.dry_run(plan), dry_run=dry_run)
        if as_json:
            emit_json(run_json(result))
        elif plan.is_empty and not plan.refused:
            click.echo("Nothing to recover.")
        sys.exit(EXIT_REFUSED if plan.refused else EXIT_OK)
    if not yes:
        if not sys.stdin.isatty():
            fail("not on a terminal: add --yes to apply the plan without asking (or --dry-run)")
        if as_json:
            echo_lines(plan_text(plan), err=True)
        if not click.confirm("Apply this plan?", default=False, err=as_json):
            click.echo("Cancelled; nothing was changed.", err=True)
            sys.exit(EXIT_OK)
    if backup:
        from inspector.core.store import backup as make_backup

        click.echo(f"Backup written to {make_backup(store.path, backup)}", err=True)
    store.dispose()
    result = core.apply(plan, busy_timeout_ms=settings.busy_timeout, progress=progress_reporter("Recovering"))
    conflicts = [s for s in result.skipped if s not in plan.refused and s not in plan.nothing_to_do]
    if as_json:
        emit_json(run_json(result))
    else:
        click.echo(
            f"Recovered {len(result.sessions)} session(s): {result.parts_repaired} tool part(s) "
            f"aborted, {result.messages_completed} turn(s) closed. Run id {result.run_id}."
        )
        for skip in conflicts:
            click.echo(f"Skipped {skip.id}: {skip.reason}")
        click.echo(f"Undo with: ocinspect undo {result.run_id}")
    sys.exit(EXIT_REFUSED if plan.refused else EXIT_FOUND if conflicts else EXIT_OK)


@cli.command()
@click.argument("run_id", required=False)
@click.option("--force", is_flag=True, help="Undo even while OpenCode runs on this database.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def undo(settings: Settings, run_id: str | None, force: bool, as_json: bool) -> None:
    """Restore the rows a recovery changed (default: the last run on this database)."""
    from inspector.core import recover as core
    from inspector.core.errors import RepairRefused
    from inspector.core.live import detect
    from inspector.core.store import roll_back_hot_journal
    from inspector.render import undo_json

    path = settings.path()
    roll_back_hot_journal(path, busy_timeout_ms=settings.busy_timeout)
    store = settings.store()  # validates the file and schema before anything else
    store.dispose()
    store.require_v1()
    live = detect(path)
    if live.running is not False and not force:
        raise RepairRefused(f"{live.detail or 'OpenCode may be running'}; undo refused (use --force)")
    result = core.undo(path, run_id, busy_timeout_ms=settings.busy_timeout)
    if as_json:
        emit_json(undo_json(result))
    else:
        click.echo(f"Run {result.run_id}: restored {result.restored} row(s).")
        for skip in result.skipped:
            click.echo(f"Left {skip.id} as it is: {skip.reason}")
    sys.exit(EXIT_OK)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def runs(settings: Settings, as_json: bool) -> None:
    """List recovery runs in the journal (newest first)."""
    from inspector.core.journal import iter_runs, journal_dir
    from inspector.core.text import local_time

    items = [
        {"run_id": r.run_id, "database": r.database, "created": r.created,
         "units": len(r.units), "committed": len(r.committed), "undone": r.undone}
        for r in iter_runs(journal_dir())
    ]
    if as_json:
        emit_json(items)
        return
    if not items:
        click.echo(f"No recovery runs in {journal_dir()}.")
    for item in items:
        state = "undone" if item["undone"] else f"{item['committed']}/{item['units']} committed"
        click.echo(f"{item['run_id']}  {local_time(item['created'])}  {state}  {item['database']}")


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

"""``ocinspect recover``: repair stuck sessions (journaled), ask OpenCode to abort or answer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, emit_json, progress_reporter, say
from inspector.cli.errors import CLI_HINTS, Failure
from inspector.cli.params import hung_after_option
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_FOUND, EXIT_OK, EXIT_REFUSED

if TYPE_CHECKING:
    from inspector.core.repair.operations import Prepared

# The run's outcome (``operations.Outcome.status``) -> the documented exit code.
EXIT_BY_STATUS = {"ok": EXIT_OK, "partial": EXIT_FOUND, "refused": EXIT_REFUSED}


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
) -> int:
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
            raise Failure("not on a terminal: add --yes to apply the plan without asking (or --dry-run)")
        if as_json:
            echo_lines(prepared_lines(prepared, CLI_HINTS), err=True)
        if not click.confirm(confirm_question(prepared), default=False, err=as_json):
            say("Cancelled; nothing was changed.", err=True)
            return EXIT_OK
    outcome = operations.execute(prepared, progress=progress_reporter("Recovering"))
    if outcome.backup is not None:
        say(f"Backup written to {outcome.backup}", err=True)
    if as_json:
        emit_json(outcome_json(outcome))
    else:
        echo_lines(outcome_lines(outcome, "ocinspect undo"))
    return EXIT_BY_STATUS[outcome.status]


def confirm_question(prepared: Prepared) -> str:
    if prepared.answers:
        also = " and abort the hung sessions" if prepared.aborts else ""
        apply = " and apply this plan" if not prepared.plan.is_empty else ""
        return f"Answer the waiting sessions through OpenCode{also}{apply}?"
    if prepared.aborts and not prepared.plan.is_empty:
        return "Abort the hung sessions and apply this plan?"
    return "Abort the hung sessions through OpenCode?" if prepared.aborts else "Apply this plan?"

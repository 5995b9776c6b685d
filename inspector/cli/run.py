"""``ocinspect run -- COMMAND``: recover what is safe, then become COMMAND."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, say, warn, warn_skipped_state
from inspector.cli.launch import exec_program, resolve_command
from inspector.cli.params import FULL_HELP
from inspector.cli.settings import Settings, pass_settings

if TYPE_CHECKING:
    from inspector.core.repair.startup import StartupOutcome


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--dry-run", is_flag=True, help="Only say what would be recovered, then start COMMAND.")
@click.option("--deep", is_flag=True, help="Also look for stuck tools inside finished turns (reads every part).")
@click.option("--full", is_flag=True, help=FULL_HELP)
@click.option(
    "--let-opencode-resume",
    is_flag=True,
    help="OpenCode 2: leave crashed turns to the service, which re-runs them at boot (calling the model "
    "again) instead of settling them as interrupted first.",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[--] COMMAND [ARGS]...")
@pass_settings
def run(
    settings: Settings, dry_run: bool, deep: bool, full: bool, let_opencode_resume: bool, command: tuple[str, ...]
) -> None:
    """Recover stale sessions, then replace this process with COMMAND.

    \b
    alias opencode='ocinspect run -- opencode'
    ocinspect run -- opencode serve --port 4096

    Only sessions nothing works on are repaired (journaled; 'ocinspect undo' reverts), and only
    when no OpenCode runs on the database. Whatever stands in the way (no database yet, a lock,
    a running OpenCode, a legacy database…) is one warning line: COMMAND always starts, with this
    process's PID, terminal, signals and exit code. On an OpenCode 2 database, turns a crash (or
    'opencode service stop') left claimed are settled as interrupted, so the service's boot does
    not re-run them and call the model again; --let-opencode-resume leaves them to it.
    With --db, COMMAND gets OPENCODE_DB set to that database, so OpenCode opens the file that was
    checked. A COMMAND that cannot be found or run is refused (exit 127) before anything is
    looked at. With the global --read-only, nothing is recovered.
    """
    from inspector.core.repair.startup import recover_before_start

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
        let_opencode_resume=let_opencode_resume,
    )
    report(outcome, dry_run=dry_run)
    if outcome.opencode_db is not None:  # --db: the file we looked at (or OpenCode will create)
        os.environ["OPENCODE_DB"] = str(outcome.opencode_db)
    exec_program(executable, list(command))


def report(outcome: StartupOutcome, *, dry_run: bool) -> None:
    """What the recovery before the start did, on stderr (the command owns stdout)."""
    from inspector.render import line, plan_text, plan_warning_lines, rerun_line, settled_line

    warn_skipped_state(outcome.scan.skipped if outcome.scan is not None else ())
    if outcome.warning:
        warn(outcome.warning)
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
        for diag in outcome.settled:
            say(f"ocinspect: {settled_line(diag)}", err=True)
    if not outcome.warning:
        for diag in outcome.will_rerun:
            say(f"ocinspect: {rerun_line(diag)}", err=True)
    if outcome.plan is not None and not outcome.warning and not dry_run:  # a dry run's plan says them
        for text in plan_warning_lines(outcome.plan):
            warn(text)

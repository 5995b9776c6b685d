"""``ocinspect undo`` and ``ocinspect runs``: the journal of recovery runs, read and reverted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from inspector.cli.app import cli
from inspector.cli.echo import emit_json, say, warn, warn_journal_problems
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_OK

if TYPE_CHECKING:
    from inspector.core.repair.journal import JournalProblem, JournalRun


@cli.command()
@click.argument("run_id", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Undo even while OpenCode runs on this database, or when a session got messages after the run.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def undo(settings: Settings, run_id: str | None, force: bool, as_json: bool) -> int:
    """Restore the rows a recovery changed (default: the last run on this database)."""
    from inspector.core.errors import NothingToUndo
    from inspector.core.repair import operations
    from inspector.render import events_clause, line, undo_json

    problems: list[JournalProblem] = []
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
        return nothing.exit_code
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
    return EXIT_OK


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def runs(settings: Settings, as_json: bool) -> None:
    """List recovery runs in the journal (newest first)."""
    from inspector.core.repair.journal import iter_runs, journal_dir, too_open

    problems: list[JournalProblem] = []
    found = list(iter_runs(journal_dir(), problems))
    warn_journal_problems(problems)
    wide = {r.path for r in found if too_open(r.path)}
    if wide:
        # Journals hold copies of tool inputs and outputs (commands, file contents, secrets).
        warn(
            f"{len(wide)} journal file(s) in {journal_dir()} can be read by other "
            f"users (written before journals were private); fix with: chmod 600 {journal_dir()}/*.jsonl"
        )
    if as_json:
        emit_json([run_json(r, private=r.path not in wide) for r in found])
        return
    if not found:
        say(f"No recovery runs in {journal_dir()}.")
    for r in found:
        say(run_line(r))


def run_json(run: JournalRun, *, private: bool) -> dict[str, object]:
    return {
        "run_id": run.run_id,
        "database": run.database,
        "created": run.created,
        "units": len(run.units),
        "committed": len(run.committed),
        "undone": run.undone,
        "interrupted": run.interrupted,
        "private": private,
    }


def run_line(run: JournalRun) -> str:
    from inspector.core.text import local_time

    if run.undone:
        state = "undone"
    elif run.interrupted:
        state = "interrupted before any change"
    else:
        state = f"{len(run.committed)}/{len(run.units)} committed"
    return f"{run.run_id}  {local_time(run.created)}  {state}  {run.database}"

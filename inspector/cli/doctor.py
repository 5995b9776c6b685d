"""``ocinspect doctor``: the database's own health, and a guarded WAL checkpoint."""

from __future__ import annotations

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, emit_json
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_FOUND, EXIT_OK


@cli.command(short_help="Say whether the database itself is why sessions hang.")
@click.option("--check", is_flag=True, help="Also run SQLite's quick_check (reads the whole file).")
@click.option(
    "--checkpoint",
    is_flag=True,
    help="Copy the WAL into the database and truncate it; refused (exit 3) while OpenCode or any "
    "other process has the database open. Changes no row.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def doctor(settings: Settings, check: bool, checkpoint: bool, as_json: bool) -> int:
    """Say whether the database itself makes sessions hang: its write lock held (by which process,
    seen for how long), lock contention, a WAL the checkpoint cannot keep small, free pages and
    the journal mode; exit 1 when it finds one of those. Reads only (a read-only connection),
    but --checkpoint.
    """
    from inspector.core.health.look import look
    from inspector.render_health import checkpoint_json, checkpoint_text, doctor_text, health_json

    path = settings.path()
    health = look(path, pages=True, check=check, busy_timeout_ms=settings.busy_timeout)
    done = None
    if checkpoint:
        from inspector.core.health.checkpoint import checkpoint as run_checkpoint

        done = run_checkpoint(path, busy_timeout_ms=settings.busy_timeout)
    if as_json:
        payload = health_json(health)
        payload["checkpoint"] = checkpoint_json(done) if done is not None else None
        emit_json(payload)
    else:
        echo_lines(doctor_text(health) + (checkpoint_text(done) if done is not None else []))
    if done is not None:
        return EXIT_FOUND if done.busy else EXIT_OK
    return EXIT_FOUND if health.findings else EXIT_OK

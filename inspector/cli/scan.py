"""``ocinspect scan``: list the stuck sessions; exit 1 when one needs attention."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, emit_json, progress_reporter, warn_skipped_state
from inspector.cli.params import FULL_HELP, hung_after_option
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_FOUND, EXIT_OK

if TYPE_CHECKING:
    from inspector.core.health.look import Health
    from inspector.core.model import ScanResult


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
def scan(settings: Settings, as_json: bool, quick: bool, all_sessions: bool, full: bool, hung_after: int | None) -> int:
    """List sessions stuck in a stale "Thinking" state (or hung in a live OpenCode) and say why.

    Reads only what changed since the last scan of this file (the state kept under
    $XDG_STATE_HOME/ocinspect/watermarks); --full reads everything and keeps a new state.
    """
    from inspector.core.diagnose.incremental.resume import scan_resumed
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.health.beside_scan import hang_notice
    from inspector.render import scan_json, scan_text
    from inspector.render_health import hang_lines, health_json

    result, how = scan_resumed(
        settings.store(),
        ScanOptions(
            quick=quick,
            full=full or settings.full,
            all_sessions=all_sessions,
            progress=progress_reporter("Scanning"),
            hung_after_ms=settings.hung_after(hung_after),
        ),
    )
    warn_skipped_state(how.skipped)
    health = database_health(settings, result)
    if as_json:
        emit_json({**scan_json(result), "database_health": health_json(health) if health else None})
    else:
        echo_lines(scan_text(result) + hang_lines(hang_notice(result, health)))
    return EXIT_FOUND if result.needs_attention else EXIT_OK


def database_health(settings: Settings, result: ScanResult, session_id: str | None = None) -> Health | None:
    """The database's health where core says it is worth a look (a ``stat`` and the lock table:
    cheap), so ``scan`` and ``show`` can say when the database itself explains the hang."""
    from inspector.core.health.beside_scan import worth_a_look

    if not worth_a_look(result, session_id):
        return None
    from inspector.core.health.look import look

    return look(settings.path(), busy_timeout_ms=settings.busy_timeout)

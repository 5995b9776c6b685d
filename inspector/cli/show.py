"""``ocinspect show``: one session explained, or (``--timeline``) the story of its last turns."""

from __future__ import annotations

import click

from inspector.cli.app import cli
from inspector.cli.echo import echo_lines, emit_json
from inspector.cli.params import hung_after_option, no_pager_option
from inspector.cli.scan import database_health
from inspector.cli.settings import Settings, pass_settings
from inspector.output import terminal_lines, write_long


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
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.diagnose.scan import scan_related
    from inspector.core.health.beside_scan import hang_notice
    from inspector.render import scan_json, show_text
    from inspector.render_health import hang_lines, health_json

    result = scan_related(settings.store(), [session_id], ScanOptions(hung_after_ms=settings.hung_after(hung_after)))
    diag = result.get(session_id)
    assert diag is not None  # scan raised SessionNotFound otherwise
    health = database_health(settings, result, session_id)
    if as_json:
        payload = scan_json(result)
        payload["session"] = next(s for s in payload["sessions"] if s["id"] == session_id)
        payload["database_health"] = health_json(health) if health else None
        emit_json(payload)
    else:
        notice = hang_notice(result, health, session_id)
        echo_lines(show_text(diag, result) + (["", *hang_lines(notice)] if notice else []))


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

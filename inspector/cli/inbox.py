"""``ocinspect inbox``: the prompts a session was sent and has not got yet, and cancelling them."""

from __future__ import annotations

import click

from inspector.cli.app import cli
from inspector.cli.echo import emit_json, say
from inspector.cli.settings import Settings, pass_settings
from inspector.core.errors import EXIT_FOUND, EXIT_OK


@cli.command()
@click.argument("session_id")
@click.option(
    "--cancel",
    "cancel",
    multiple=True,
    metavar="ITEM_ID",
    help="Cancel this undelivered prompt through OpenCode (repeat per prompt).",
)
@click.option("--cancel-all", is_flag=True, help="Cancel every undelivered prompt of the session through OpenCode.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_settings
def inbox(settings: Settings, session_id: str, cancel: tuple[str, ...], cancel_all: bool, as_json: bool) -> int:
    """List the prompts SESSION_ID was sent and never got (OpenCode 2 delivers them only with
    the next prompt), or cancel them through the running OpenCode (--cancel, --cancel-all).

    Only a person decides this, per prompt or per session; nothing else cancels a prompt.
    Exit 0, or 1 when a prompt asked for was not cancelled (or is not in the inbox).
    """
    from inspector.core.repair.inbox import cancel_inbox
    from inspector.core.text import iso, shorten

    if cancel and cancel_all:
        raise click.UsageError("give --cancel ITEM_ID(s) or --cancel-all (not both)")
    result = cancel_inbox(
        settings.path(),
        session_id,
        None if cancel_all else cancel,
        list_only=not (cancel or cancel_all),
        read_only=settings.read_only,
        busy_timeout_ms=settings.busy_timeout,
    )
    done = {o.item.id: o for o in result.outcomes}
    if as_json:
        emit_json(
            {
                "session_id": result.session_id,
                "inbox": [
                    {
                        "id": item.id,
                        "delivery": item.delivery,
                        "text": item.text,
                        "created": iso(item.created),
                        "cancelled": done[item.id].cancelled if item.id in done else None,
                        "detail": done[item.id].detail if item.id in done else None,
                    }
                    for item in result.waiting
                ],
                "unknown": list(result.unknown),
            }
        )
    else:
        if not result.waiting:
            say(f"{session_id}: no prompt waits undelivered")
        for item in result.waiting:
            outcome = done.get(item.id)
            said = f" → {outcome.detail}" if outcome is not None else ""
            say(f"{item.id} ({item.delivery or 'queued'}) {shorten(item.text, 80)!r}{said}")
        for item_id in result.unknown:
            say(f"{item_id}: not in its inbox; nothing was sent", err=True)
    return EXIT_OK if result.ok else EXIT_FOUND

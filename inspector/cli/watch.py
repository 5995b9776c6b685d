"""``ocinspect watch``: abort hung sessions and reject unanswered prompts, until stopped."""

from __future__ import annotations

from types import FrameType
from typing import TYPE_CHECKING

import click

from inspector.cli.app import cli
from inspector.cli.echo import say
from inspector.cli.params import DURATION
from inspector.cli.settings import Settings, pass_settings
from inspector.cli.watch_metrics import METRICS_ADDRESS, METRICS_HELP, metrics_for, serve_metrics
from inspector.core.errors import EXIT_FOUND, EXIT_OK

if TYPE_CHECKING:
    from inspector.core.metrics.address import Address
    from inspector.core.repair.watchdog import WatchEvent


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
@click.option("--metrics", "metrics_at", type=METRICS_ADDRESS, default=None, metavar="HOST:PORT", help=METRICS_HELP)
@pass_settings
def watch(
    settings: Settings,
    abort_after: int | None,
    reject_after: int | None,
    interval: int,
    as_json: bool,
    metrics_at: Address | None,
) -> int:
    """Watch for hung sessions and abort them through OpenCode (--abort-hung-after), and/or
    reject the prompts nobody answers (--reject-waiting-after); give one or both. Made for an
    unattended `opencode serve`. --metrics serves what it sees to Prometheus; alone, the watch
    only observes.

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

    if abort_after is None and reject_after is None and metrics_at is None:
        raise click.UsageError("give --abort-hung-after DURATION, --reject-waiting-after DURATION, --metrics HOST:PORT")
    path = settings.path()
    from inspector.core.opencode.signals import Signals

    hung_after = abort_after if abort_after is not None or metrics_at is None else settings.hung_after_ms
    dog = Watchdog(
        path,
        abort_after_ms=abort_after,
        reject_after_ms=reject_after,
        busy_timeout_ms=settings.busy_timeout,
        signals=Signals(),
        hung_after_ms=hung_after,
        observer=metrics_for(metrics_at, hung_after),
    )
    serve_metrics(dog, metrics_at)
    stop = threading.Event()

    def stop_watching(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop_watching)
    doing = []
    if abort_after is not None:
        doing.append(f"sessions hung for {humanize_ms(abort_after)} are aborted")
    if reject_after is not None:
        doing.append(f"permissions and questions pending for {humanize_ms(reject_after)} are rejected")
    acts = f"{' and '.join(doing)} through OpenCode" if doing else "observing only, nothing is acted on"
    say(f"ocinspect: watching {path}: {acts} (Ctrl-C stops)", err=True)
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
    return EXIT_FOUND if failed else EXIT_OK


def emit_watch_event(event: WatchEvent, as_json: bool) -> None:
    """One line per event: stdout for aborts, stderr for notices (JSON: everything on stdout)."""
    from inspector.core.text import iso, printable, safe_json
    from inspector.render import abort_json, answer_json, answered_line, outcome_line

    if as_json:
        payload: dict[str, object] = {"time": iso(event.time), "event": event.kind}
        if event.target is not None:
            payload.update(abort_json(event.target, event.outcome))
        elif event.answer is not None:
            payload.update(answer_json(event.answer.request, event.answer.answer, event.answer))
        else:
            payload["message"] = event.message
        click.echo(safe_json(payload))
    elif event.answer is not None:
        say(f"{iso(event.time)}  {answered_line(event.answer)}")
    elif event.target is not None and event.outcome is not None:  # an abort always has its outcome
        say(f"{iso(event.time)}  {outcome_line(event.outcome)}  [{printable(event.target.reason, single_line=True)}]")
    else:
        say(f"{iso(event.time)}  {printable(event.message, single_line=True)}", err=True)

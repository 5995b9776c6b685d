"""``ocinspect watch``: abort hung sessions and reject unanswered prompts, until stopped."""

from __future__ import annotations

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
@click.option(
    "--exec",
    "hook",
    metavar="CMD",
    default=None,
    callback=lambda ctx, param, value: None if value is None else exec_argv(value),
    help="Run CMD (no shell: split like a shell would, `sh -c '...'` for one) for each new finding "
    "and action, its `watch --json` line on stdin.",
)
@click.option(
    "--exec-timeout",
    "hook_timeout",
    type=DURATION,
    default="10s",
    show_default=True,
    metavar="DURATION",
    help="Kill a hook (and what it started) still running after this long.",
)
@click.option("--metrics", "metrics_at", type=METRICS_ADDRESS, default=None, metavar="HOST:PORT", help=METRICS_HELP)
@pass_settings
def watch(
    settings: Settings,
    abort_after: int | None,
    reject_after: int | None,
    interval: int,
    as_json: bool,
    hook: tuple[str, ...] | None,
    hook_timeout: int,
    metrics_at: Address | None,
) -> int:
    """Watch for hung sessions and abort them through OpenCode (--abort-hung-after), and/or
    reject the prompts nobody answers (--reject-waiting-after); give one or both, or only
    --exec or --metrics to report and act on nothing. Made for an unattended `opencode serve`.
    --metrics serves what it sees to Prometheus.

    Each session that becomes stuck (stale, hung, waiting for a person) is reported once; with
    --exec CMD, each such finding and each action is piped to CMD as one JSON line.

    Every hung shape is stopped: a tool that never returns, a model stream OpenCode keeps
    restarting without new output, a retry that never ends. Sessions waiting for a person's
    answer are never aborted. Each server's event stream is followed too: it shows progress
    the database rows do not show yet.

    Prints one line per finding and action; stops cleanly on Ctrl-C or SIGTERM. Exit 0, or 1
    when some hung session did not stop, some answer did not settle, or a hook failed.
    """
    from inspector.cli.stopping import SignalStop
    from inspector.core.repair.watchdog import Watchdog
    from inspector.core.text import humanize_ms

    if abort_after is None and reject_after is None and hook is None and metrics_at is None:
        raise click.UsageError(
            "give --abort-hung-after DURATION, --reject-waiting-after DURATION, --exec CMD, --metrics HOST:PORT, "
            "or several"
        )
    path = settings.path()
    from inspector.core.opencode.signals import Signals

    dog = Watchdog(
        path,
        abort_after_ms=abort_after,
        reject_after_ms=reject_after,
        hung_after_ms=settings.hung_after_ms,
        busy_timeout_ms=settings.busy_timeout,
        signals=Signals(),
        observer=metrics_for(metrics_at),
    )
    serve_metrics(dog, metrics_at)
    from inspector.core.repair.watch_hooks import FAILED, WatchHooks

    hooks = None if hook is None else WatchHooks(hook, timeout_ms=hook_timeout)
    doing = []
    if abort_after is not None:
        doing.append(f"sessions hung for {humanize_ms(abort_after)} are aborted")
    if reject_after is not None:
        doing.append(f"permissions and questions pending for {humanize_ms(reject_after)} are rejected")
    what = f"{' and '.join(doing)} through OpenCode" if doing else "stuck sessions are reported, nothing is changed"
    if hooks is not None:
        what += "; each finding and action goes to --exec"
    say(f"ocinspect: watching {path}: {what} (Ctrl-C stops)", err=True)
    failed = False
    with SignalStop() as stop:  # a second Ctrl-C while hooks finish is caught too
        try:
            while not stop.stopped:
                for event in dog.poll() + (hooks.events() if hooks else []):
                    failed |= event.kind in FAILED
                    line = emit_watch_event(event, as_json)
                    if hooks is not None:
                        hooks.hand(event, line)
                stop.wait(interval / 1000)
        finally:
            for event in hooks.close() if hooks else []:  # queued hooks get one timeout to finish
                failed = True
                emit_watch_event(event, as_json)
            dog.close()
    say("ocinspect: stopped watching", err=True)
    return EXIT_FOUND if failed else EXIT_OK


def exec_argv(command: str) -> tuple[str, ...]:
    from inspector.core.repair.hook import hook_argv

    try:
        return hook_argv(command)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--exec'") from None


def emit_watch_event(event: WatchEvent, as_json: bool) -> str:
    """One line per event: stdout for findings and actions, stderr for notices and hook problems
    (JSON: everything on stdout); returns the event's JSON line (what a hook reads)."""
    from inspector.cli.watch_lines import finding_line, watch_json
    from inspector.core.text import iso, printable
    from inspector.render import answered_line, outcome_line

    line = watch_json(event)
    if as_json:
        click.echo(line)
    elif event.finding is not None:
        say(f"{iso(event.time)}  {finding_line(event.finding)}")
    elif event.answer is not None:
        say(f"{iso(event.time)}  {answered_line(event.answer)}")
    elif event.target is not None and event.outcome is not None:  # an abort always has its outcome
        say(f"{iso(event.time)}  {outcome_line(event.outcome)}  [{printable(event.target.reason, single_line=True)}]")
    else:
        say(f"{iso(event.time)}  {printable(event.message, single_line=True)}", err=True)
    return line

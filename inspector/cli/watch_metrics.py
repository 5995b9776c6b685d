"""``watch --metrics HOST:PORT``: the option's type and starting the server (the core does the rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from inspector.cli.echo import say

if TYPE_CHECKING:
    from inspector.core.metrics.address import Address
    from inspector.core.metrics.collector import WatchMetrics
    from inspector.core.repair.watchdog import Watchdog

METRICS_HELP = (
    "Serve Prometheus metrics at HOST:PORT (a port alone: loopback; another interface only when "
    "written out, e.g. 0.0.0.0:9464). With only this option, watch reports and acts on nothing."
)


class MetricsAddress(click.ParamType["Address", object]):
    name = "HOST:PORT"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Address:
        from inspector.core.metrics.address import Address, parse_address

        if isinstance(value, Address):
            return value
        try:
            return parse_address(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


METRICS_ADDRESS = MetricsAddress()


def metrics_for(address: Address | None) -> WatchMetrics | None:
    """The watch's metrics (None without ``--metrics``); served once the watch has opened its database."""
    if address is None:
        return None
    from inspector.core.metrics.collector import WatchMetrics

    return WatchMetrics()


def serve_metrics(dog: Watchdog, address: Address | None) -> None:
    """Listen at ``address`` and say where; a watch that cannot serve its metrics does not start."""
    if address is None or dog.observer is None:
        return
    from inspector.core.metrics.collector import WatchMetrics
    from inspector.core.metrics.server import serve

    assert isinstance(dog.observer, WatchMetrics)
    try:
        url = serve(address, dog.observer)
    except BaseException:
        dog.close()
        raise
    say(f"ocinspect: metrics at {url}", err=True)
    if not address.loopback:
        say(
            f"ocinspect: the metrics are served beyond this machine ({address.host}): anyone who can connect reads them",
            err=True,
        )

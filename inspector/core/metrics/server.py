"""Serve a ``WatchMetrics`` registry over HTTP (``prometheus_client``'s own threaded server).

The server thread only reads the metrics' state (under its lock); it never touches the database.
"""

from __future__ import annotations

from prometheus_client import start_http_server

from inspector.core.errors import InspectorError
from inspector.core.metrics.address import Address
from inspector.core.metrics.collector import WatchMetrics


class MetricsUnavailable(InspectorError):
    """The metrics address cannot be listened on (in use, not this machine's, not resolvable)."""

    kind = "metrics-address"


def serve(address: Address, metrics: WatchMetrics) -> str:
    """Start serving ``metrics`` at ``address``; stopped by ``metrics.close()``. The URL served
    (with the port the system chose when ``address.port`` is 0)."""
    try:
        server, thread = start_http_server(address.port, address.host, registry=metrics.registry)
    except OSError as exc:
        raise MetricsUnavailable(
            f"cannot serve metrics at {address.host}:{address.port}: {exc.strerror or exc}"
        ) from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    metrics.on_close(stop)
    return address.url(int(server.server_address[1]))

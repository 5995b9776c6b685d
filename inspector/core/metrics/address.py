"""Where ``watch --metrics`` listens: ``HOST:PORT``, loopback unless a host is given.

The metrics name no session, but they tell anyone who can connect how many sessions are stuck
and for how long: the default is the loopback interface, and any other interface is served
only when its address is written out (``0.0.0.0:9464``, ``[::]:9464``, ``10.0.0.5:9464``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"
_HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class Address:
    host: str
    port: int  # 0: any free port (the server says which)

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name other than localhost: it may resolve to anything

    def url(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/metrics"


def parse_address(text: str) -> Address:
    """``9464`` or ``:9464`` (loopback), ``HOST:PORT``, ``[IPV6]:PORT``; ValueError says why not."""
    text = text.strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        _require_ip(host, text)
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, e.g. [::1]:9464")
    elif host and not _HOSTNAME.fullmatch(host):
        raise ValueError(f"{text!r}: not a host name or address")
    if not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r}: the port must be a number from 0 to 65535")
    return Address(host or LOOPBACK, int(port))


def _require_ip(host: str, text: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{text!r}: not an IPv6 address in brackets") from None

"""What the turn servers of both generations share (``turn_servers.py``, ``v2_answers.py``):
their refusals, an undelivered prompt, and how an id goes into a route."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from inspector.core.opencode.client import ServerError


class NoTurnServer(ServerError):
    """No server we may ask serves that port on this database (gone, or not ours)."""

    kind = "server-gone"


class NotSupported(ServerError):
    """This OpenCode's API has no route for what was asked (a 1.x server has no inbox)."""

    kind = "server-unsupported"


@dataclass(frozen=True)
class InboxItem:
    """A prompt sent to a session and not yet delivered to its model (text is the sender's data)."""

    id: str
    session_id: str
    delivery: str
    text: str
    created: int | None


def quoted(value: str) -> str:
    """One path segment of a route, whatever the id holds."""
    return urllib.parse.quote(value, safe="")


__all__ = ["InboxItem", "NoTurnServer", "NotSupported", "quoted"]

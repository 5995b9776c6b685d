"""Stop and answer live OpenCode 2 turns through its own API (the v2 half of ``turn_servers``).

Measured on 2.1.2 (``docs/design/opencode-2.md``, "Answers through v2, measured"):

- ``POST /api/session/{id}/interrupt`` stops a running turn the way v2 closes one: the tool
  ``error`` ``aborted`` "Tool execution interrupted", an ``idle`` row ``interrupted``, the claim
  released; it answers ``{"interrupted": false}`` when the server runs no turn of that session.
  Interrupting a subagent's child closes the parent's ``subagent`` call as ``error``
  "Subagent cancelled (sessionID: …)" and **the parent goes on** (its model is called again).
- ``POST /api/session/{id}/permission/{rid}/reply`` ``{"decision": "reject"|"once"}`` (204). A
  bare reject closes the tool (``aborted`` "The user declined this tool call") but ends the
  execution as a *shutdown*: the claim stays and no ``idle`` row is written, so a service boot
  would re-run the turn. ``opencode run`` itself follows a reject with an interrupt, and so do
  we: the turn then ends ``interrupted`` with its claim released.
- A question is a *form* (``metadata.kind`` ``question``): ``DELETE /api/session/{id}/form/{fid}``
  dismisses it ("The user dismissed this question", the same shutdown ending), then an interrupt.
- ``DELETE /api/session/{id}/inbox/{item}`` (204, also for an item already gone) cancels a prompt
  not yet delivered; ``GET …/inbox`` lists them.

The password is the one the server was found with (its ``service.json`` or its environment),
never ours by default; a server without one we can read is refused before anything is sent.
"""

from __future__ import annotations

import json
import os

from inspector.core.model import Answer, PendingRequest, ServerStatus
from inspector.core.opencode.client import ServerAuthRequired, ServerClient
from inspector.core.opencode.turn_types import InboxItem, NoTurnServer, quoted
from inspector.core.opencode.v2_live import (
    NotV2Api,
    active_sessions,
    auth_reason,
    client_for,
    interrupt,
    permissions,
    questions,
)
from inspector.core.opencode.v2_servers import V2Server, find_v2_servers

REQUEST_TIMEOUT_S = 10.0  # one answer or interrupt: a loaded v2 server took over 2 s to stop a turn
MAX_INBOX_TEXT = 2000


class V2TurnServer:
    """One OpenCode 2 server (plain or the service) on one of its loopback ports."""

    stops_leaves_first = True  # measured: the parent of an interrupted subagent goes on

    def __init__(self, server: V2Server, port: int, *, timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.server = server
        self._port = port
        self.timeout = timeout

    @property
    def port(self) -> int:
        return self._port

    @property
    def client(self) -> ServerClient:
        return client_for(self.server, self._port, timeout=self.timeout)

    def busy(self, directory: str) -> dict[str, ServerStatus]:
        return active_sessions(self.client)  # v2 routes are global: ``directory`` is not needed

    def stop(self, session_id: str, directory: str) -> bool:
        return interrupt(self.server, self._port, session_id, timeout=self.timeout)

    def pending(self, directory: str) -> list[PendingRequest]:
        client = self.client
        found: list[PendingRequest] = []
        for sid in sorted(active_sessions(client)):
            found += permissions(client, sid) + questions(client, sid)
        return found

    def reply_permission(self, request: PendingRequest, answer: Answer) -> str:
        route = f"/api/session/{quoted(request.session_id)}/permission/{quoted(request.id)}/reply"
        self.client.post(route, {"decision": answer})
        if answer == "once":
            return route
        return f"{route}, {self._end_turn(request.session_id)}"

    def dismiss_question(self, request: PendingRequest) -> str:
        route = f"/api/session/{quoted(request.session_id)}/form/{quoted(request.id)}"
        self.client.request("DELETE", route)
        return f"DELETE {route}, {self._end_turn(request.session_id)}"

    def _end_turn(self, session_id: str) -> str:
        """Interrupt after a reject or a dismissal, so the turn ends with its claim released
        (alone, v2 ends it as a shutdown and keeps the claim). False is no error: the turn may
        have ended first; the caller reads the rows to see how it ended."""
        self.stop(session_id, "")
        return f"/api/session/{quoted(session_id)}/interrupt"

    def inbox(self, session_id: str) -> list[InboxItem]:
        """``GET /api/session/{id}/inbox``: the prompts not yet delivered, oldest first."""
        payload = self.client.get(f"/api/session/{quoted(session_id)}/inbox")
        items = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            raise NotV2Api(f"OpenCode on port {self._port}: its inbox list is not a list", port=self._port)
        return [_inbox_item(item, session_id) for item in items if isinstance(item, dict) and item.get("id")]

    def cancel_inbox(self, session_id: str, item_id: str) -> str:
        """``DELETE /api/session/{id}/inbox/{item}``; its 204 proves nothing (also for an item
        already gone): the caller lists the inbox again."""
        route = f"/api/session/{quoted(session_id)}/inbox/{quoted(item_id)}"
        self.client.request("DELETE", route)
        return f"DELETE {route}"


def _inbox_item(item: dict[str, object], session_id: str) -> InboxItem:
    payload = item.get("payload")
    text = payload.get("text") if isinstance(payload, dict) else None
    when = item.get("time")
    created = when.get("created") if isinstance(when, dict) else None
    return InboxItem(
        id=str(item["id"]),
        session_id=session_id,
        delivery=str(item.get("delivery") or ""),
        text=text[:MAX_INBOX_TEXT] if isinstance(text, str) else json.dumps(payload)[:MAX_INBOX_TEXT],
        created=created if isinstance(created, int) and not isinstance(created, bool) else None,
    )


def v2_turn_server(db: str | os.PathLike[str], port: int | None = None) -> V2TurnServer:
    """The OpenCode 2 server on ``db`` serving ``port`` (``None``: the only one there is).

    Refused before anything is sent: ``NoTurnServer`` when none does (or, without a port, when
    none or several do), ``ServerAuthRequired`` when we hold no password for it."""
    import psutil

    try:
        found = find_v2_servers(db).servers
    except (psutil.Error, OSError) as exc:
        raise NoTurnServer(f"could not list processes ({exc}); nothing was sent", port=port) from None
    if port is None:
        serving = [(s, p) for s in found for p in s.ports[:1]]
        if len(serving) != 1:
            many = f"{len(serving)} OpenCode 2 servers serve" if serving else "no OpenCode 2 server serves"
            raise NoTurnServer(f"{many} this database; nothing was sent")
        server, port = serving[0]
    else:
        match = next((s for s in found if port in s.ports), None)
        if match is None:
            raise NoTurnServer(
                f"no OpenCode 2 server on this database serves port {port} any more; nothing was sent", port=port
            )
        server = match
    if server.credentials is None:
        raise ServerAuthRequired(f"{auth_reason(server, port)}; nothing was sent", password_sent=False, port=port)
    return V2TurnServer(server, port)


__all__ = ["V2TurnServer", "v2_turn_server"]

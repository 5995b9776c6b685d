"""OpenCode 2's live signals: what moves while a turn really works, and what a turn waits on.

Measured on 2.1.2 (the table in ``docs/design/opencode-2.md``, "Live signals, measured"): while a
turn runs, its rows barely move. A streaming reply keeps ``content:[{"type":"text","text":""}]``
until the step ends; a shell's output goes to a file, not to the row (``state.metadata`` stays
``{}``); only a retry rewrites the row (``retry: {attempt, at, error}``). So a look at a v2 server
asks, for the sessions it lists running (each request within the client's deadline and size cap):

- ``GET /api/shell``: its running shells, each with ``metadata.sessionID`` and the ``file`` its
  output is appended to: the file's modification time is when the tool last printed (a ``stat``,
  never a read; only a file under the database's directory, where 2.1.2 keeps them);
- ``GET /api/session/{id}/message?limit=1``: the newest message, whose ``retry`` says the model
  call is being retried (attempt, error, next try): v1's ``retry`` status, in v2's words;
- ``GET /api/session/{id}/form``: the questions it waits on (the ``question`` tool opens a form).

A watch also follows ``GET /api/event`` (:func:`progress_of`): text/reasoning/tool-input deltas
with text, ``session.tool.called``/``progress``/``success``, a finished step. Not progress:
``session.step.started``, ``session.retry.scheduled``, ``session.step.failed`` — what a stalled
stream or a retry loop sends at every restart.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inspector.core.model import ServerStatus
from inspector.core.opencode.client import Credentials, ServerClient
from inspector.core.opencode.turn_types import quoted
from inspector.core.opencode.v2_json import integer, items, obj, text

EVENT_ROUTE = "/api/event"
SHELL_ROUTE = "/api/shell"
MAX_SHELLS = 1000  # shells looked at per answer (a server runs a handful)
_DELTAS = ("session.text.delta", "session.reasoning.delta", "session.tool.input.delta")
_MOVES = ("session.tool.called", "session.tool.progress", "session.tool.success", "session.step.ended")


def progress_of(event: Any) -> str | None:
    """The session a v2 event (``{id, created, type, data: {sessionID, …}}``) shows progress for."""
    if not isinstance(event, dict):
        return None
    kind, body = event.get("type"), event.get("data")
    if not isinstance(kind, str) or not isinstance(body, dict):
        return None
    session = body.get("sessionID")
    if not isinstance(session, str) or not session:
        return None
    if kind in _DELTAS:
        delta = body.get("delta")
        return session if isinstance(delta, str) and delta else None
    return session if kind in _MOVES else None


def shell_output_times(client: ServerClient, sessions: Iterable[str], data_dir: Path) -> dict[str, int]:
    """{session: epoch ms its newest running shell last printed}, from ``GET /api/shell``."""
    wanted = set(sessions)
    root = os.path.realpath(data_dir)
    found: dict[str, int] = {}
    for item in items(client.get(SHELL_ROUTE))[:MAX_SHELLS]:
        if not isinstance(item, dict) or item.get("status") != "running":
            continue
        sid = text(obj(item.get("metadata")).get("sessionID"))
        path = text(item.get("file"))
        if sid not in wanted or not path or "\0" in path:
            continue
        try:
            real = os.path.realpath(path)
            if os.path.commonpath([root, real]) != root:  # a path from the server: stat only our own tree
                continue
            printed = int(os.stat(real).st_mtime * 1000)
        except (OSError, ValueError):
            continue
        found[sid] = max(found.get(sid, 0), printed)
    return found


def turn_status(client: ServerClient, session_id: str) -> ServerStatus:
    """``running``, or ``retry`` with the attempt, the error and the next try when the newest
    message says the model call is being retried."""
    newest = items(client.get(f"/api/session/{quoted(session_id)}/message", query={"limit": 1}))
    message = newest[0] if newest and isinstance(newest[0], dict) else {}
    retry = message.get("retry")
    if message.get("type") != "assistant" or not isinstance(retry, dict):
        return ServerStatus(type="running", raw='{"type": "running"}')
    error = retry.get("error")
    said = text(error.get("message")) if isinstance(error, dict) else ""
    return ServerStatus(
        type="retry",
        attempt=integer(retry.get("attempt")),
        message=said,
        next=integer(retry.get("at")),
        raw=json.dumps({"type": "retry", **retry}, ensure_ascii=False),
    )


class _Known:
    """Where each v2 server found by a look listens and the password it was asked with, so the
    event stream of a watch opens with the same (bounded: only servers a look answered)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_port: dict[int, tuple[str, Credentials | None]] = {}

    def remember(self, port: int, host: str, credentials: Credentials | None) -> None:
        with self._lock:
            self._by_port[port] = (host, credentials)
            while len(self._by_port) > 256:
                self._by_port.pop(next(iter(self._by_port)))

    def client(self, port: int) -> ServerClient:
        with self._lock:
            host, credentials = self._by_port.get(port, ("127.0.0.1", None))
        return ServerClient(port, host=host, credentials=credentials)


KNOWN = _Known()


def event_stream(port: int, *, read_timeout: float) -> Any:
    """``GET /api/event`` of the server on ``port`` (see ``client.events`` for its bounds)."""
    return KNOWN.client(port).events(path=EVENT_ROUTE, read_timeout=read_timeout)

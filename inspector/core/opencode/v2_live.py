"""Is an OpenCode 2 server working on a session right now: the v2 half of ``live.detect``.

OpenCode 2 answers ``GET /api/session/active`` with the turns running **in that process**
(``{"data": {"ses_…": {"type": "running"}}}``): a claim left in the database by a crashed
process is not listed. So the answer maps onto v1's :class:`LiveStatus` as it is: a session a
server lists is busy there (``live``); a session no answering server lists is not being worked
on (``stale``, whatever its claim says); when a server on the database could not be asked, no
session it does not list can be called stale (``running`` None: ``unknown``, writes need
``--force``). v2 routes are global, not per directory, so ``servers`` (directory -> a v1 port
for v1's routes) stays empty; ``owners`` says which port lists each busy session, ``streams``
which ports' ``/api/event`` a watch follows. For each session a server lists, the look also asks
what ``v2_signals`` describes: a retry in its newest message (status ``retry``), its open
permissions and questions (``waiting``), when its running shell last printed (``progress``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inspector.core.model import LiveStatus, OpenCodeProcess, PendingRequest, ServerStatus
from inspector.core.opencode.client import (
    PASSWORD_ENV,
    ServerAuthRequired,
    ServerBadResponse,
    ServerClient,
    ServerError,
)
from inspector.core.opencode.processes import hidden_detail
from inspector.core.opencode.turn_types import quoted
from inspector.core.opencode.v2_json import integer, obj, text
from inspector.core.opencode.v2_servers import V2Discovery, V2Server, find_v2_servers
from inspector.core.opencode.v2_signals import KNOWN, shell_output_times, turn_status

ACTIVE_ROUTE = "/api/session/active"
MAX_SESSION_ID_CHARS = 256
NOT_RUNNING = "OpenCode is not running on this database"


class NotV2Api(ServerBadResponse):
    """A port that answered, but not as OpenCode 2's API (another program, or the web UI's page)."""


def active_sessions(client: ServerClient) -> dict[str, ServerStatus]:
    """``GET /api/session/active``: each session the server runs, with its entry as sent."""
    payload = client.get(ACTIVE_ROUTE)
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise NotV2Api(f"OpenCode on port {client.port}: {ACTIVE_ROUTE} is not OpenCode 2's answer", port=client.port)
    found: dict[str, ServerStatus] = {}
    for sid, value in data.items():
        if not sid or len(sid) > MAX_SESSION_ID_CHARS:
            continue
        kind = value.get("type") if isinstance(value, dict) else None
        found[sid] = ServerStatus(
            type=kind if isinstance(kind, str) and len(kind) <= 64 else "running",
            raw=json.dumps(value, ensure_ascii=False),
        )
    return found


def permissions(client: ServerClient, session_id: str) -> list[PendingRequest]:
    """``GET /api/session/{id}/permission``: the prompts the session waits on a person for."""
    items = _session_list(client, session_id, "permission")
    return [_permission(item, session_id, client.port) for item in items]


def questions(client: ServerClient, session_id: str) -> list[PendingRequest]:
    """``GET /api/session/{id}/form``: the questions the session waits on a person for.

    OpenCode 2 asks its ``question`` tool's questions as a *form* (``metadata.kind``
    ``question``, ``metadata.tool`` naming the call); other forms are not questions of a tool."""
    items = _session_list(client, session_id, "form")
    return [
        _question(item, session_id, client.port)
        for item in items
        if isinstance(item.get("metadata"), dict) and item["metadata"].get("kind") == "question"
    ]


def _session_list(client: ServerClient, session_id: str, what: str) -> list[dict[str, Any]]:
    """The objects of ``GET /api/session/{id}/{what}`` (``{"data": [...]}`` or the list itself)."""
    payload = client.get(f"/api/session/{quoted(session_id)}/{what}")
    items = payload.get("data") if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise NotV2Api(f"OpenCode on port {client.port}: its {what} list is not a list", port=client.port)
    return [item for item in items if isinstance(item, dict)]


def _request(item: dict[str, Any], session_id: str, port: int, tool: dict[str, Any], **fields: Any) -> PendingRequest:
    """A pending request of ``session_id`` (``tool``: the call it holds up, message and call id)."""
    return PendingRequest(
        id=text(item.get("id")),
        session_id=session_id,
        port=port,
        message_id=text(tool.get("messageID")),
        call_id=text(tool.get("id")),
        raw=json.dumps(item, ensure_ascii=False),
        **fields,
    )


def _permission(item: dict[str, Any], session_id: str, port: int) -> PendingRequest:
    resources = item.get("resources")
    created = integer(obj(item.get("time")).get("created"))
    return _request(
        item,
        session_id,
        port,
        obj(item.get("source")),  # 2.1.2 names the tool call it holds up in ``source``
        kind="permission",
        permission=text(item.get("action")) or text(item.get("permission")),
        patterns=tuple(r for r in resources if isinstance(r, str)) if isinstance(resources, list) else (),
        since=created,
    )


def _question(item: dict[str, Any], session_id: str, port: int) -> PendingRequest:
    fields = item.get("fields")
    first = obj(fields[0]) if isinstance(fields, list) and fields else {}
    return _request(
        item,
        session_id,
        port,
        obj(item["metadata"].get("tool")),
        kind="question",
        question=text(first.get("description")) or text(first.get("title")),
    )


def client_for(server: V2Server, port: int, *, timeout: float, budget: float | None = None) -> ServerClient:
    """A client for one of ``server``'s ports, with the password it was found with."""
    return ServerClient(port, host=server.host, credentials=server.credentials, timeout=timeout, budget=budget)


def interrupt(server: V2Server, port: int, session_id: str, *, timeout: float) -> bool:
    """``POST /api/session/{id}/interrupt``: True when the server stopped a turn it was running.
    It closes the turn in its own shape (tool aborted, ``idle`` ``interrupted``, claim released);
    a claim no live turn owns is not touched (answers False), so a repair must do that."""
    client = client_for(server, port, timeout=timeout)
    answer = client.post(f"/api/session/{quoted(session_id)}/interrupt", {})
    body = answer.get("data", answer) if isinstance(answer, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("interrupted"), bool):
        raise NotV2Api(f"OpenCode on port {port}: its interrupt answer is not OpenCode 2's", port=port)
    return bool(body["interrupted"])


class _Look:
    """One look at every server: what each lists, and why the others could not be asked."""

    def __init__(self, timeout: float, budget: float, data_dir: Path | None = None) -> None:
        self.timeout = timeout
        self.budget = budget
        self.data_dir = data_dir
        self.progress: dict[str, int] = {}
        self.streams: list[int] = []
        self.busy: dict[str, tuple[int, ServerStatus]] = {}
        self.waiting: set[str] = set()
        self.undecided: set[str] = set()
        self.requests: list[PendingRequest] = []
        self.failed: list[str] = []
        self.auth = False
        self.versions: list[tuple[int, str]] = []

    def ask(self, server: V2Server) -> None:
        if not server.ports:
            self.failed.append(f"OpenCode 2 (pid {server.pid}) uses this database but serves no loopback port to ask")
            return
        reasons: list[str] = []
        for port in server.ports:
            client = client_for(server, port, timeout=self.timeout, budget=self.budget)
            try:
                listed = active_sessions(client)
            except ServerAuthRequired:
                self.auth = True
                reasons.append(_auth_reason(server, port))
                continue
            except ServerError as exc:
                reasons.append(str(exc))
                continue
            if server.version:
                self.versions.append((port, server.version))
            KNOWN.remember(port, server.host, server.credentials)
            self.streams.append(port)
            for sid, status in self._ask_status(client, listed).items():
                self.busy.setdefault(sid, (port, status))
            self._ask_waiting(client, listed)
            self._ask_output(client, listed)
            return
        self.failed.append("; ".join(reasons) or f"OpenCode 2 (pid {server.pid}) did not answer")

    def _ask_status(self, client: ServerClient, listed: dict[str, ServerStatus]) -> dict[str, ServerStatus]:
        """Each listed session's status, ``retry`` where its newest message retries the model."""
        found = dict(listed)
        for sid in sorted(listed):
            try:
                found[sid] = turn_status(client, sid)
            except ServerError:
                continue  # its entry as listed: running
        return found

    def _ask_waiting(self, client: ServerClient, listed: Iterable[str]) -> None:
        for sid in sorted(listed):
            try:
                asked = permissions(client, sid) + questions(client, sid)
            except ServerError:
                self.undecided.add(sid)
                continue
            if asked:
                self.waiting.add(sid)
                self.requests.extend(asked)

    def _ask_output(self, client: ServerClient, listed: Iterable[str]) -> None:
        """When each listed session's running shell last printed (its output file's time)."""
        wanted = set(listed)
        if not wanted or self.data_dir is None:
            return
        try:
            printed = shell_output_times(client, wanted, self.data_dir)
        except ServerError:
            return
        for sid, when in printed.items():
            self.progress[sid] = max(self.progress.get(sid, 0), when)


def _auth_reason(server: V2Server, port: int) -> str:
    if server.password_from == "none":
        where = "the password in its service.json" if server.kind == "service" else "its password"
        return (
            f"OpenCode 2 on port {port} (pid {server.pid}) needs {where}: ocinspect could not read it "
            f"(set {PASSWORD_ENV} to the password it printed)"
        )
    return f"OpenCode 2 on port {port} (pid {server.pid}) refused the password from {server.password_from}"


auth_reason = _auth_reason  # the refusal's words, also where an answer is refused before it is sent


def detect_v2(
    db: str | os.PathLike[str], directories: Iterable[str] = (), *, timeout: float, budget: float
) -> LiveStatus:
    """``detect`` for an OpenCode 2 database (same answer type, so nothing above branches)."""
    import psutil

    try:
        found = find_v2_servers(db)
    except (psutil.Error, OSError) as exc:
        return LiveStatus(running=None, detail=f"could not list processes ({exc})")
    return status_of(found, directories, timeout=timeout, budget=budget, data_dir=Path(db).parent)


def status_of(
    found: V2Discovery, directories: Iterable[str], *, timeout: float, budget: float, data_dir: Path | None = None
) -> LiveStatus:
    """Ask every server ``found`` lists and fold the answers into one :class:`LiveStatus`;
    ``data_dir`` (the database's directory) holds the shells' output files the look may stat."""
    ignored = "".join(f"; {reason}" for reason in found.ignored)
    if not found.servers:
        if found.hidden:
            return LiveStatus(running=None, detail=hidden_detail(list(found.hidden)) + ignored)
        return LiveStatus(running=False, detail=NOT_RUNNING + ignored)
    look = _Look(timeout, budget, data_dir)
    for server in found.servers:
        look.ask(server)
    processes = tuple(OpenCodeProcess(pid=s.pid, ports=s.ports) for s in found.servers)
    pids = ", ".join(f"{s.pid} ({s.kind})" for s in found.servers)
    detail = f"OpenCode 2 is running on this database (pid {pids})"
    problems = look.failed + ([hidden_detail(list(found.hidden))] if found.hidden else [])
    reason = ""
    if problems:
        detail += "; " + "; ".join(problems)
        reason = f"OpenCode 2 is running on this database, but {'; '.join(problems)}"
    return LiveStatus(
        running=None if problems else True,
        processes=processes,
        busy=frozenset(look.busy),
        unknown_directories=frozenset(directories) if problems else frozenset(),
        detail=detail + ignored,
        owners=tuple(sorted((sid, port) for sid, (port, _) in look.busy.items())),
        waiting=frozenset(look.waiting),
        undecided=frozenset(look.undecided),
        unknown_reason=reason,
        versions=tuple(sorted(set(look.versions))),
        statuses=tuple((sid, look.busy[sid][1]) for sid in sorted(look.busy)),
        requests=tuple(look.requests),
        progress=tuple(sorted(look.progress.items())),
        streams=tuple(sorted(set(look.streams))),
    )

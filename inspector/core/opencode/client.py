"""Talk to one running OpenCode server (``opencode serve``) on a loopback port: JSON over HTTP.

Everything ocinspect asks a live OpenCode goes through :class:`ServerClient`, so the rules live
in one place:

- **Loopback only.** The host must be ``127.0.0.1``, ``localhost`` or ``::1``; no proxy is ever
  used (``http.client`` directly, so ``$http_proxy`` cannot reroute a request) and redirects are
  not followed.
- **Every call has a timeout** (``DEFAULT_TIMEOUT_S`` unless the caller passes one).
- **The server's password.** ``opencode serve`` protects its API with HTTP basic auth when
  ``OPENCODE_SERVER_PASSWORD`` is set (user ``OPENCODE_SERVER_USERNAME``, default ``opencode``).
  We read the same variables and send the header; a 401 becomes :class:`ServerAuthRequired`,
  which says whether we had a password to offer.
- **Per-directory instances.** OpenCode routes each request to the instance of one project
  directory, chosen by ``?directory=``. Asking about a directory boots an instance there
  (measured on 1.18.33: "creating instance" in the server log), so callers pass only
  directories that OpenCode sessions really use.
- **Typed errors.** :class:`ServerUnreachable` (refused, reset, timed out),
  :class:`ServerAuthRequired` (401), :class:`ServerHTTPError` (any other non-2xx, with status
  and body), :class:`ServerBadResponse` (not the JSON we asked for). All are
  :class:`~inspector.core.errors.InspectorError`, so an unexpected one still ends as one line.

``events()`` reads a server-sent-event stream (``GET /event``) with the same rules.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inspector.core.errors import InspectorError
from inspector.core.model import PendingRequest, ServerStatus

DEFAULT_TIMEOUT_S = 2.0
PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"
USERNAME_ENV = "OPENCODE_SERVER_USERNAME"
DEFAULT_USERNAME = "opencode"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_ERROR_BODY = 500


class ServerError(InspectorError):
    """Base class: a request to a running OpenCode server did not give what we asked for."""

    def __init__(self, message: str, *, port: int | None = None, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.port = port
        self.method = method
        self.path = path


class ServerUnreachable(ServerError):
    """Nothing answered (connection refused or reset, or no answer within the timeout)."""


class ServerAuthRequired(ServerError):
    """HTTP 401: the server wants its password; ``password_sent`` says whether we offered one."""

    def __init__(self, message: str, *, password_sent: bool, **where: Any) -> None:
        super().__init__(message, **where)
        self.password_sent = password_sent


class ServerHTTPError(ServerError):
    """Any other non-2xx answer; ``status`` and the start of ``body`` say what the server said."""

    def __init__(self, message: str, *, status: int, body: str, **where: Any) -> None:
        super().__init__(message, **where)
        self.status = status
        self.body = body


class ServerBadResponse(ServerError):
    """A 2xx answer whose body is not the JSON the route documents."""


@dataclass(frozen=True)
class Credentials:
    """HTTP basic-auth credentials for ``opencode serve`` (the password never appears in repr)."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials | None:
        """OpenCode's own variables; ``None`` when no password is set (an unprotected server)."""
        env = os.environ if env is None else env
        password = env.get(PASSWORD_ENV)
        if not password:
            return None
        return cls(env.get(USERNAME_ENV) or DEFAULT_USERNAME, password)

    def header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"


@dataclass(frozen=True)
class ServerEvent:
    """One server-sent event: ``data`` is the parsed JSON payload (or the raw text); ``id`` is
    the last event id the stream sent (it persists across events, as the SSE spec says)."""

    data: Any
    event: str = "message"
    id: str | None = None


_FROM_ENV: Any = object()


class ServerClient:
    """A client for one OpenCode server on a loopback port. Cheap to create; holds no socket."""

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        credentials: Credentials | None = _FROM_ENV,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"refusing to talk to {host!r}: ocinspect only talks to loopback servers")
        if not 0 < int(port) < 65536:
            raise ValueError(f"not a TCP port: {port!r}")
        self.port = int(port)
        self.host = host
        self.credentials = Credentials.from_env() if credentials is _FROM_ENV else credentials
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ServerClient({self.host}:{self.port}, auth={'yes' if self.credentials else 'no'})"

    # requests ----------------------------------------------------------------------------
    def target(self, path: str, *, directory: str | None = None, query: Mapping[str, Any] | None = None) -> str:
        """The request target: ``path`` plus ``?directory=…`` and ``query`` (URL-encoded)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        params = dict(query or {})
        if directory is not None:
            params["directory"] = directory
        return path + ("?" + urllib.parse.urlencode(params) if params else "")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        directory: str | None = None,
        query: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request and return the decoded JSON answer (``None`` for an empty body)."""
        target = self.target(path, directory=directory, query=query)
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        where: dict[str, Any] = {"port": self.port, "method": method, "path": path}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            try:
                connection.request(method, target, body=payload, headers=self._headers(payload is not None))
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise ServerUnreachable(
                    f"OpenCode on port {self.port} did not answer {method} {path} ({_reason(exc)})", **where
                ) from None
        finally:
            connection.close()
        self._check(response.status, raw, where)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ServerBadResponse(
                f"OpenCode on port {self.port} answered {method} {path} with something that is not JSON",
                **where,
            ) from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("PATCH", path, body, **kwargs)

    def events(
        self,
        path: str = "/event",
        *,
        directory: str | None = None,
        read_timeout: float = 30.0,
    ) -> Iterator[ServerEvent]:
        """Server-sent events from ``path``, one :class:`ServerEvent` at a time.

        The connection stays open while the caller iterates; closing the generator closes it.
        A read that waits longer than ``read_timeout`` raises :class:`ServerUnreachable`.
        """
        target = self.target(path, directory=directory)
        where: dict[str, Any] = {"port": self.port, "method": "GET", "path": path}
        connection = http.client.HTTPConnection(self.host, self.port, timeout=read_timeout)
        try:
            try:
                headers = self._headers(False)
                headers["Accept"] = "text/event-stream"
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                raise ServerUnreachable(
                    f"OpenCode on port {self.port} did not answer GET {path} ({_reason(exc)})", **where
                ) from None
            if response.status // 100 != 2:
                self._check(response.status, response.read(), where)
            yield from _parse_sse(response, where)
        finally:
            connection.close()

    # typed helpers for the routes ocinspect uses ---------------------------------------------
    def session_status(self, directory: str) -> dict[str, str]:
        """``GET /session/status``: session id -> ``busy``/``retry`` for the non-idle sessions."""
        payload = self.get("/session/status", directory=directory)
        if not isinstance(payload, dict):
            raise ServerBadResponse(
                f"OpenCode on port {self.port}: /session/status is not a JSON object", port=self.port
            )
        return {
            str(sid): str(value.get("type")) if isinstance(value, dict) else str(value)
            for sid, value in payload.items()
        }

    def statuses(self, directory: str) -> dict[str, ServerStatus]:
        """``GET /session/status`` with each entry whole: ``busy``, or ``retry`` with its attempt,
        message and next try (OpenCode 1.18.33; older releases send the same objects)."""
        payload = self.get("/session/status", directory=directory)
        if not isinstance(payload, dict):
            raise ServerBadResponse(
                f"OpenCode on port {self.port}: /session/status is not a JSON object", port=self.port
            )
        return {str(sid): status_from(value) for sid, value in payload.items()}

    def pending(self, directory: str) -> list[PendingRequest]:
        """Pending ``/permission`` and ``/question`` requests of ``directory``, whole.

        A release without one of the routes answers 404 there: that route is skipped.
        """
        found: list[PendingRequest] = []
        routes: tuple[tuple[str, Literal["permission", "question"]], ...] = (
            ("/permission", "permission"), ("/question", "question"))
        for route, kind in routes:
            try:
                payload = self.get(route, directory=directory)
            except ServerHTTPError as exc:
                if exc.status == 404:
                    continue
                raise
            if isinstance(payload, list):
                found.extend(request_from(item, kind, port=self.port, directory=directory)
                             for item in payload if isinstance(item, dict) and item.get("sessionID"))
        return found

    def abort(self, session_id: str, directory: str) -> Any:
        """``POST /session/{id}/abort``. OpenCode 1.18.33 answers ``true`` even for an idle or
        unknown session, so the answer proves nothing: watch ``session_status`` instead."""
        return self.post(f"/session/{urllib.parse.quote(session_id, safe='')}/abort", directory=directory)

    def reply_permission(self, request_id: str, reply: str, *, session_id: str, directory: str) -> str:
        """Answer a pending permission (``once``, ``always`` or ``reject``); returns the route used.

        OpenCode 1.18.33 (its ``GET /doc``) has ``POST /permission/{id}/reply`` ``{"reply": …}``
        (what ``opencode run`` itself calls) and the deprecated ``POST /session/{sid}/permissions/
        {id}`` ``{"response": …}``; a release without the first answers 404 there and gets the second.
        """
        quote = urllib.parse.quote
        route = f"/permission/{quote(request_id, safe='')}/reply"
        try:
            self.post(route, {"reply": reply}, directory=directory)
            return route
        except ServerHTTPError as exc:
            if exc.status != 404:
                raise
        route = f"/session/{quote(session_id, safe='')}/permissions/{quote(request_id, safe='')}"
        self.post(route, {"response": reply}, directory=directory)
        return route

    def reject_question(self, request_id: str, *, directory: str) -> str:
        """``POST /question/{id}/reject``: dismiss a pending question; returns the route used."""
        route = f"/question/{urllib.parse.quote(request_id, safe='')}/reject"
        self.post(route, directory=directory)
        return route

    def pending_requests(self, directory: str) -> set[str]:
        """Sessions waiting for a person: pending ``/permission`` or ``/question`` requests."""
        waiting: set[str] = set()
        for route in ("/permission", "/question"):
            payload = self.get(route, directory=directory)
            if isinstance(payload, list):
                waiting.update(str(item["sessionID"]) for item in payload
                               if isinstance(item, dict) and item.get("sessionID"))
        return waiting

    # internals ---------------------------------------------------------------------------
    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.credentials is not None:
            headers["Authorization"] = self.credentials.header()
        return headers

    def _check(self, status: int, raw: bytes, where: dict[str, Any]) -> None:
        if 200 <= status < 300:
            return
        what = f"{where['method']} {where['path']}"
        if status == 401:
            if self.credentials is None:
                message = (f"OpenCode on port {self.port} needs its password: set {PASSWORD_ENV} "
                           f"(and {USERNAME_ENV} if it is not '{DEFAULT_USERNAME}')")
            else:
                message = (f"OpenCode on port {self.port} refused the password in {PASSWORD_ENV} "
                           f"(user '{self.credentials.username}')")
            raise ServerAuthRequired(message, password_sent=self.credentials is not None, **where)
        body = raw[:_MAX_ERROR_BODY].decode("utf-8", errors="replace")
        raise ServerHTTPError(f"OpenCode on port {self.port} answered {what} with HTTP {status}",
                              status=status, body=body, **where)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


def _parse_sse(response: http.client.HTTPResponse, where: dict[str, Any]) -> Iterator[ServerEvent]:
    """The ``text/event-stream`` format: ``field: value`` lines, events end at a blank line."""
    data: list[str] = []
    event = "message"
    event_id: str | None = None
    while True:
        try:
            line = response.readline()
        except (OSError, http.client.HTTPException) as exc:
            raise ServerUnreachable(f"event stream on port {where['port']} stopped ({_reason(exc)})",
                                    **where) from None
        if not line:
            return
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text:
            if data:
                joined = "\n".join(data)
                try:
                    value: Any = json.loads(joined)
                except ValueError:
                    value = joined
                yield ServerEvent(data=value, event=event, id=event_id)
            data, event = [], "message"
            continue
        if text.startswith(":"):
            continue  # a comment (keep-alive)
        name, _, value_text = text.partition(":")
        value_text = value_text[1:] if value_text.startswith(" ") else value_text
        if name == "data":
            data.append(value_text)
        elif name == "event":
            event = value_text
        elif name == "id":
            event_id = value_text


def status_from(value: Any) -> ServerStatus:
    """One ``/session/status`` entry (an object, or a bare string from an odd server)."""
    if not isinstance(value, dict):
        return ServerStatus(type=str(value), raw=json.dumps(value))
    attempt = value.get("attempt")
    nxt = value.get("next")
    return ServerStatus(
        type=str(value.get("type")),
        attempt=attempt if isinstance(attempt, int) and not isinstance(attempt, bool) else None,
        message=message if isinstance(message := value.get("message"), str) else "",
        next=nxt if isinstance(nxt, int) and not isinstance(nxt, bool) else None,
        raw=json.dumps(value, ensure_ascii=False),
    )


def request_from(item: dict[str, Any], kind: Literal["permission", "question"], *, port: int,
                 directory: str = "") -> PendingRequest:
    """A ``/permission`` or ``/question`` entry as OpenCode 1.18.33 lists it (other keys ignored)."""
    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""

    def obj(value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    def seq(value: Any) -> list[Any]:
        return value if isinstance(value, list) else []

    tool, metadata = obj(item.get("tool")), obj(item.get("metadata"))
    patterns, questions = seq(item.get("patterns")), seq(item.get("questions"))
    first = obj(questions[0]) if questions else {}
    created = obj(item.get("time")).get("created")
    return PendingRequest(
        id=text(item.get("id")),
        session_id=text(item.get("sessionID")),
        kind=kind,
        port=port,
        directory=directory,
        permission=text(item.get("permission")) or text(item.get("type")),
        patterns=tuple(p for p in patterns if isinstance(p, str)),
        command=text(metadata.get("command")),
        question=text(first.get("question")),
        message_id=text(tool.get("messageID")),
        call_id=text(tool.get("callID")),
        since=created if isinstance(created, int) and not isinstance(created, bool) else None,
        raw=json.dumps(item, ensure_ascii=False),
    )

"""Talk to one running OpenCode server (``opencode serve``) on a loopback port: JSON over HTTP.

Everything ocinspect asks a live OpenCode goes through :class:`ServerClient`, so the rules live
in one place:

- **Loopback only.** The host must be ``127.0.0.1``, ``localhost`` or ``::1``; no proxy is ever
  used (``http.client`` directly, so ``$http_proxy`` cannot reroute a request) and redirects are
  not followed.
- **Every call has a deadline and a size cap.** The deadline (``DEFAULT_TIMEOUT_S`` unless the
  caller passes one) is for the whole exchange: connect, send, status line, headers and body.
  Every socket read waits at most the time left, so a server that trickles one byte at a time
  cannot stretch it. A client may also get a ``budget``: all its calls together end by then
  (what a liveness look allows one server). An answer longer than ``max_bytes``
  (``MAX_ANSWER_BYTES``) is refused (:class:`ServerAnswerTooLarge`) before it fills memory.
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
  and body), :class:`ServerBadResponse` (not the JSON we asked for),
  :class:`ServerAnswerTooLarge` (over the cap). All are
  :class:`~inspector.core.errors.InspectorError`, so an unexpected one still ends as one line.

``events()`` reads a server-sent-event stream (``GET /event``). A stream has no end, so it gets
no whole-exchange deadline: connecting and the headers get the client's deadline, then each
event must be complete within ``read_timeout`` of the one before (a keep-alive comment counts)
and at most ``MAX_EVENT_BYTES`` long.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from inspector.core.errors import InspectorError
from inspector.core.model import PendingRequest, ServerStatus

DEFAULT_TIMEOUT_S = 2.0
# The largest answer ocinspect reads. The biggest it asks for is one turn (a repair's read-back:
# its message and parts). Measured on the benchmark database (bench/make_db.py, 1.36 GB, tool
# outputs up to 200 KB): the largest part is 239 KB, the largest turn 251 KB, the largest whole
# session 3.2 MB; session status, pending requests, health and PATCH/replay answers are a few
# KB. 32 MiB is 128x the largest turn (room for big attachments), and bounds what a hostile or
# broken server can make ocinspect hold (a 200 MB answer used to cost 617 MiB of RSS).
MAX_ANSWER_BYTES = 32 << 20
# One server-sent event carries at most one part (``message.part.updated`` with its output).
MAX_EVENT_BYTES = MAX_ANSWER_BYTES
_CHUNK = 1 << 16
PASSWORD_ENV = "OPENCODE_SERVER_PASSWORD"
USERNAME_ENV = "OPENCODE_SERVER_USERNAME"
DEFAULT_USERNAME = "opencode"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_ERROR_BODY = 500


class ServerError(InspectorError):
    """Base class: a request to a running OpenCode server did not give what we asked for."""

    kind = "server"

    def __init__(self, message: str, *, port: int | None = None, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.port = port
        self.method = method
        self.path = path


class ServerUnreachable(ServerError):
    """Nothing answered (connection refused or reset, or no whole answer by the deadline)."""

    kind = "server-unreachable"


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


class ServerAnswerTooLarge(ServerBadResponse):
    """An answer (or one event) longer than the cap: refused, not read to the end."""

    kind = "server-too-large"

    def __init__(self, message: str, *, limit: int, **where: Any) -> None:
        super().__init__(message, **where)
        self.limit = limit


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
        max_bytes: int = MAX_ANSWER_BYTES,
        budget: float | None = None,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"refusing to talk to {host!r}: ocinspect only talks to loopback servers")
        if not 0 < int(port) < 65536:
            raise ValueError(f"not a TCP port: {port!r}")
        self.port = int(port)
        self.host = host
        self.credentials = Credentials.from_env() if credentials is _FROM_ENV else credentials
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.budget = budget
        self._budget_end = None if budget is None else time.monotonic() + budget

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
        deadline = self._deadline(timeout or self.timeout, where)
        connection = _BoundedConnection(self.host, self.port, deadline)
        try:
            try:
                connection.request(method, target, body=payload, headers=self._headers(payload is not None))
                response = connection.getresponse()
                raw = _read_capped(response, self.max_bytes, where)
            except (OSError, http.client.HTTPException) as exc:
                raise ServerUnreachable(
                    f"OpenCode on port {self.port} did not answer {method} {path} ({deadline.reason(exc)})", **where
                ) from None
        finally:
            connection.shut()
        self._check(response.status, raw, where)
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
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
        Connecting and the headers must be done within the client's timeout; after that each
        event must be complete within ``read_timeout`` of the previous one (a keep-alive
        comment counts), else :class:`ServerUnreachable`; an event longer than
        ``MAX_EVENT_BYTES`` raises :class:`ServerAnswerTooLarge`.
        """
        target = self.target(path, directory=directory)
        where: dict[str, Any] = {"port": self.port, "method": "GET", "path": path}
        deadline = self._deadline(self.timeout, where)
        connection = _BoundedConnection(self.host, self.port, deadline)
        try:
            try:
                headers = self._headers(False)
                headers["Accept"] = "text/event-stream"
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                if response.status // 100 != 2:
                    self._check(response.status, _read_capped(response, _MAX_ERROR_BODY * 8, where), where)
            except (OSError, http.client.HTTPException) as exc:
                raise ServerUnreachable(
                    f"OpenCode on port {self.port} did not answer GET {path} ({deadline.reason(exc)})", **where
                ) from None
            yield from _parse_sse(response, where, deadline, read_timeout, min(self.max_bytes, MAX_EVENT_BYTES))
        finally:
            connection.shut()

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
            ("/permission", "permission"),
            ("/question", "question"),
        )
        for route, kind in routes:
            try:
                payload = self.get(route, directory=directory)
            except ServerHTTPError as exc:
                if exc.status == 404:
                    continue
                raise
            if isinstance(payload, list):
                found.extend(
                    request_from(item, kind, port=self.port, directory=directory)
                    for item in payload
                    if isinstance(item, dict) and item.get("sessionID")
                )
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

    # internals ---------------------------------------------------------------------------
    def _deadline(self, seconds: float, where: dict[str, Any]) -> _Deadline:
        """This exchange's deadline: ``seconds`` from now, or the end of the budget if sooner."""
        if self._budget_end is None or time.monotonic() + seconds <= self._budget_end:
            return _Deadline(seconds)
        left = self._budget_end - time.monotonic()
        if left <= 0:
            raise ServerUnreachable(
                f"OpenCode on port {self.port} was not asked {where['method']} {where['path']}: it used up "
                f"the {self.budget:g} s allowed for it",
                **where,
            )
        return _Deadline(left, budget=True)

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
                message = (
                    f"OpenCode on port {self.port} needs its password: set {PASSWORD_ENV} "
                    f"(and {USERNAME_ENV} if it is not '{DEFAULT_USERNAME}')"
                )
            else:
                message = (
                    f"OpenCode on port {self.port} refused the password in {PASSWORD_ENV} "
                    f"(user '{self.credentials.username}')"
                )
            raise ServerAuthRequired(message, password_sent=self.credentials is not None, **where)
        body = raw[:_MAX_ERROR_BODY].decode("utf-8", errors="replace")
        raise ServerHTTPError(
            f"OpenCode on port {self.port} answered {what} with HTTP {status}", status=status, body=body, **where
        )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


class _Deadline:
    """One monotonic point in time every socket operation of an exchange must finish by."""

    def __init__(self, seconds: float, *, budget: bool = False) -> None:
        self.seconds = seconds
        self.budget = budget
        self.end = time.monotonic() + seconds

    def restart(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; a timeout once there are none (the operation is not even started)."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def reason(self, exc: BaseException) -> str:
        if isinstance(exc, (socket.timeout, TimeoutError)):
            what = "the time left for this server" if self.budget else f"{self.seconds:g} s"
            return f"timed out: no whole answer within {what}"
        return _reason(exc)


class _DeadlineSocket:
    """A socket whose every send and receive waits at most until the deadline: what
    ``http.client`` reads (status line, headers, body) goes through :meth:`recv_into`.

    Like ``socket.makefile``, a reader keeps the socket open after :meth:`close` until it is
    closed too (``http.client`` closes the connection and keeps reading a close-delimited body).
    """

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock = sock
        self.deadline = deadline
        self._readers = 0
        self._closed = False

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(self.deadline.left())
        self._sock.sendall(data)

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        self._sock.settimeout(self.deadline.left())
        return self._sock.recv_into(buffer, nbytes)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self), _CHUNK)

    def setsockopt(self, *args: Any) -> None:
        self._sock.setsockopt(*args)

    def close(self) -> None:
        self._closed = True
        if self._readers <= 0:
            self._sock.close()

    def reader_closed(self) -> None:
        self._readers -= 1
        if self._closed and self._readers <= 0:
            self._sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._sock.reader_closed()
        super().close()


class _BoundedConnection(http.client.HTTPConnection):
    """``HTTPConnection`` whose socket keeps to one deadline, connect included."""

    def __init__(self, host: str, port: int, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.seconds)
        self.deadline = deadline

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.deadline.left())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._raw: socket.socket | None = sock
        self.sock = _DeadlineSocket(sock, self.deadline)

    def shut(self) -> None:
        """Close the connection and its socket now, even while a response still holds it (a
        close-delimited body given up half-way: ``close`` alone leaves that to the response)."""
        self.close()
        raw = getattr(self, "_raw", None)
        if raw is not None:
            raw.close()


def _too_large(where: dict[str, Any], limit: int, what: str = "an answer") -> ServerAnswerTooLarge:
    return ServerAnswerTooLarge(
        f"OpenCode on port {where['port']} sent {what} to {where['method']} {where['path']} longer than "
        f"{_size(limit)}: refused",
        limit=limit,
        **where,
    )


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count} bytes"


def _read_capped(response: http.client.HTTPResponse, limit: int, where: dict[str, Any]) -> bytes:
    """The body, read in chunks, refused as soon as it is longer than ``limit``."""
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _too_large(where, limit)
    body = bytearray()
    while True:
        chunk = response.read(min(_CHUNK, limit + 1 - len(body)))
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            raise _too_large(where, limit)


def _parse_sse(  # noqa: C901
    response: http.client.HTTPResponse, where: dict[str, Any], deadline: _Deadline, read_timeout: float, limit: int
) -> Iterator[ServerEvent]:
    """The ``text/event-stream`` format: ``field: value`` lines, events end at a blank line.

    ``size`` counts the lines of the event being read (what is held in memory); each read asks
    for at most what is left of ``limit``, so one endless line cannot fill memory either."""
    data: list[str] = []
    size = 0
    event = "message"
    event_id: str | None = None
    deadline.restart(read_timeout)
    while True:
        try:
            line = response.readline(limit + 1 - size)
        except (OSError, http.client.HTTPException) as exc:
            raise ServerUnreachable(
                f"event stream on port {where['port']} stopped ({deadline.reason(exc)})", **where
            ) from None
        if not line:
            return
        size += len(line)
        if size > limit:
            raise _too_large(where, limit, "an event")
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if text.startswith(":"):  # a comment (keep-alive): kept nowhere
            size -= len(line)
            if not data:
                deadline.restart(read_timeout)
            continue
        if not text:
            if data:
                joined = "\n".join(data)
                try:
                    value: Any = json.loads(joined)
                except (ValueError, RecursionError):
                    value = joined
                yield ServerEvent(data=value, event=event, id=event_id)
            data, event, size = [], "message", 0
            deadline.restart(read_timeout)  # the next event has its own time; the caller's is not counted
            continue
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


def request_from(
    item: dict[str, Any], kind: Literal["permission", "question"], *, port: int, directory: str = ""
) -> PendingRequest:
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

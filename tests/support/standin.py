"""A real loopback HTTP server standing in for ``opencode serve`` where unit tests need one fast.

It speaks the few routes ocinspect uses, exactly as OpenCode 1.18.33 answers them (measured,
see ``inspector/core/repair/abort.py``): ``GET /session/status`` lists busy sessions as
``{"type": "busy"}`` for the ``?directory=`` asked about; ``POST /session/{id}/abort`` answers
``true`` whatever the session; ``GET /permission`` and ``/question`` list pending requests
(``permissions`` / ``questions``, objects as OpenCode lists them; ``ask_permission`` builds one);
``POST /permission/{id}/reply`` (and the deprecated ``/session/{sid}/permissions/{id}``) and
``POST /question/{id}/reject`` answer them; with a password every route answers 401 without the
right basic-auth header.

Hostile or broken servers, for the trust tests: ``trickle`` sends a route's whole answer one
byte at a time, ``huge`` answers a route with a JSON body of that many bytes (no
``Content-Length``: read until the connection closes), ``parts_write`` off takes a
``PATCH`` of a part and writes nothing; ``/session/{id}/message`` lists no messages and
``/session/{id}/message/{mid}`` answers a turn with nothing in it.

A reject does what OpenCode 1.18.33 does to the real file (measured with ``permission.bash =
"ask"``): the waiting tool part becomes ``error`` "The user rejected permission to use this
specific tool call.", the turn is finished and the session leaves ``/session/status``. ``once``
only takes the request off the list (the tool then runs).

When ``settle`` is on, an abort does what OpenCode does to the *real SQLite file*: the chain's
running tools and unfinished assistant turns are closed (task → error "Task cancelled", other
tools → completed "User aborted the command", turns → ``MessageAbortedError``) and the chain
leaves ``/session/status``. The end-to-end tests prove the real binary; this only keeps the
unit and TUI tests fast. Only ``sqlite3``, ``json`` and ``http.server``: not ocinspect's code.
"""

from __future__ import annotations

import base64
import http.server
import json
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any


class StandIn:
    def __init__(
        self, db: Path | None = None, *, directory: str = "/home/dev/src/webapp", password: str | None = None
    ) -> None:
        self.db = db
        self.directory = directory
        self.password = password
        self.busy: set[str] = set()
        self.waiting: set[str] = set()  # sessions with a pending permission request
        self.statuses: dict[str, dict[str, Any]] = {}  # session -> its status object (default busy)
        self.permissions: list[dict[str, Any]] = []  # whole /permission entries, as 1.18.33 lists them
        self.questions: list[dict[str, Any]] = []  # whole /question entries
        self.event_delay = 0.0  # seconds between two /event frames
        self.children: dict[str, list[str]] = {}  # parent -> children aborted with it
        self.settle = True  # False: abort answers true and nothing happens
        self.settle_delay = 0.0
        self.requests: list[tuple[str, str, dict[str, list[str]], str | None]] = []
        self.events: list[str] = []  # raw SSE frames served by GET /event
        self.answers: list[tuple[str, str]] = []  # (request id, reply) as received
        self.reply_route = True  # False: an older release without /permission/{id}/reply
        self.answer_settles = True  # False: answers are taken and nothing happens
        self.version: str | None = None  # what GET /global/health says (None: 404)
        self.trickle: dict[str, float] = {}  # path -> seconds between two bytes of its answer
        self.huge: dict[str, int] = {}  # path -> size in bytes of its (valid JSON) answer
        self.parts_write = True  # False: a PATCH of a part is answered, not written
        self.replay_writes = True  # False: /sync/replay is answered, not written
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> StandIn:
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                standin._handle(self, "GET")

            def do_POST(self) -> None:
                standin._handle(self, "POST")

            def do_PATCH(self) -> None:
                standin._handle(self, "PATCH")

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def paths(self, method: str | None = None) -> list[str]:
        return [p for m, p, _, _ in self.requests if method is None or m == method]

    # routes --------------------------------------------------------------------------------
    def _handle(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:  # noqa: C901
        url = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(url.query)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else None
        with self._lock:
            self.requests.append((method, url.path, query, body))
        if self.password is not None:
            token = base64.b64encode(f"opencode:{self.password}".encode()).decode()
            if handler.headers.get("Authorization") != f"Basic {token}":
                self._send(handler, 401, b"", {"www-authenticate": 'Basic realm="Secure Area"'})
                return
        directory = (query.get("directory") or [""])[0]
        here = directory == self.directory
        if url.path in self.trickle:
            self._trickle(handler, self.trickle[url.path])
        elif url.path in self.huge:
            self._huge(handler, self.huge[url.path])
        elif method == "GET" and url.path == "/global/health" and self.version is not None:
            self._json(handler, {"healthy": True, "version": self.version})
        elif method == "PATCH" and url.path.startswith("/session/") and "/part/" in url.path:
            self._patch_part(handler, json.loads(body or "{}"))
        elif method == "POST" and url.path == "/sync/replay":
            if self.replay_writes and self.db is not None:
                replay(self.db, json.loads(body or "{}").get("events") or [])
            self._json(handler, True)
        elif method == "GET" and url.path.startswith("/session/") and url.path.endswith("/message"):
            self._json(handler, [])  # lists no messages, whatever the session holds
        elif method == "GET" and url.path.startswith("/session/") and url.path.split("/")[-2:-1] == ["message"]:
            self._json(handler, {"info": {}, "parts": []})  # a turn with nothing in it
        elif method == "GET" and url.path == "/session/status":
            with self._lock:
                busy = sorted(self.busy) if here else []
            self._json(handler, {sid: self.statuses.get(sid, {"type": "busy"}) for sid in busy})
        elif method == "GET" and url.path == "/permission":
            with self._lock:
                listed = list(self.permissions)
            self._json(
                handler,
                [
                    {
                        "id": f"per_{s}",
                        "sessionID": s,
                        "permission": "bash",
                        "patterns": [],
                        "metadata": {},
                        "always": [],
                    }
                    for s in sorted(self.waiting)
                    if here
                ]
                + [p for p in listed if here],
            )
        elif method == "GET" and url.path == "/question":
            with self._lock:
                listed = list(self.questions)
            self._json(handler, [q for q in listed if here])
        elif method == "POST" and (answer := self._answer_route(url.path, body)) is not None:
            if self._answer(*answer):
                self._json(handler, True)
            else:
                self._send(handler, 404, b'{"name":"NotFoundError"}', {})
        elif method == "GET" and url.path == "/event":
            self._stream(handler)
        elif method == "POST" and url.path.startswith("/session/") and url.path.endswith("/abort"):
            sid = urllib.parse.unquote(url.path.split("/")[2])
            if self.settle and sid in self.busy:
                threading.Thread(target=self._settle, args=(sid,), daemon=True).start()
            self._json(handler, True)
        elif url.path == "/echo":
            self._json(
                handler,
                {
                    "method": method,
                    "query": query,
                    "body": json.loads(body) if body else None,
                    "content_type": handler.headers.get("Content-Type"),
                    "authorization": handler.headers.get("Authorization"),
                },
            )
        elif url.path == "/text":
            self._send(handler, 200, b"<html>not json</html>", {"Content-Type": "text/html"})
        elif url.path == "/boom":
            self._send(handler, 500, b'{"name":"UnknownError","data":{"message":"boom"}}', {})
        elif url.path == "/slow":
            time.sleep(3)
            self._json(handler, True)
        else:
            self._send(handler, 404, b'{"name":"NotFound"}', {})

    def ask_permission(
        self, session_id: str, message_id: str, call_id: str, command: str, request_id: str | None = None
    ) -> dict[str, Any]:
        """A pending bash permission exactly as OpenCode 1.18.33 lists it."""
        item = {
            "id": request_id or f"per_{session_id}",
            "sessionID": session_id,
            "permission": "bash",
            "patterns": [command],
            "metadata": {"command": command},
            "always": [command.split()[0] + " *"],
            "tool": {"messageID": message_id, "callID": call_id},
        }
        self.permissions.append(item)
        return item

    def ask_question(self, session_id: str, message_id: str, call_id: str, question: str) -> dict[str, Any]:
        item = {
            "id": f"que_{session_id}",
            "sessionID": session_id,
            "questions": [{"question": question, "header": "Question", "options": []}],
            "tool": {"messageID": message_id, "callID": call_id},
        }
        self.questions.append(item)
        return item

    def _answer_route(self, path: str, body: str | None) -> tuple[str, str] | None:
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        data = json.loads(body) if body else {}
        if len(parts) == 3 and parts[0] == "permission" and parts[2] == "reply" and self.reply_route:
            return parts[1], str(data.get("reply"))
        if len(parts) == 4 and parts[0] == "session" and parts[2] == "permissions":
            return parts[3], str(data.get("response"))
        if len(parts) == 3 and parts[0] == "question" and parts[2] == "reject":
            return parts[1], "reject"
        return None

    def _answer(self, request_id: str, reply: str) -> bool:
        with self._lock:
            found = [r for r in self.permissions + self.questions if r["id"] == request_id]
            if not found:
                return False
            item = found[0]
            self.answers.append((request_id, reply))
            if not self.answer_settles:
                return True
            self.permissions = [r for r in self.permissions if r["id"] != request_id]
            self.questions = [r for r in self.questions if r["id"] != request_id]
        if reply == "reject":
            tool = item.get("tool") or {}
            error = REJECTED if "permission" in item else DISMISSED
            if self.db is not None:
                reject_call(self.db, tool.get("messageID", ""), tool.get("callID", ""), error)
            with self._lock:
                self.busy.discard(item["sessionID"])
        return True

    def _settle(self, sid: str) -> None:
        if self.settle_delay:
            time.sleep(self.settle_delay)
        chain = [sid, *self.children.get(sid, [])]
        if self.db is not None:
            close_chain(self.db, chain)
        with self._lock:
            self.busy.difference_update(chain)

    def _stream(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        for frame in list(self.events):
            if self.event_delay:
                time.sleep(self.event_delay)
            handler.wfile.write(frame.encode())
            handler.wfile.flush()
        handler.close_connection = True

    def _patch_part(self, handler: http.server.BaseHTTPRequestHandler, part: dict[str, Any]) -> None:
        """OpenCode answers a part's PATCH with the part; written only when ``parts_write``."""
        if self.parts_write and self.db is not None:
            data = {k: v for k, v in part.items() if k not in ("id", "sessionID", "messageID")}
            conn = sqlite3.connect(self.db, timeout=5)
            try:
                with conn:
                    conn.execute(
                        "UPDATE part SET data = ?, time_updated = ? WHERE id = ?",
                        (json.dumps(data, separators=(",", ":")), int(time.time() * 1000), part.get("id")),
                    )
            finally:
                conn.close()
        self._json(handler, part)

    @staticmethod
    def _trickle(handler: http.server.BaseHTTPRequestHandler, every: float) -> None:
        """A valid answer (``{}``), status line and headers included, one byte every ``every`` s."""
        raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        handler.close_connection = True
        try:
            for i in range(len(raw)):
                handler.wfile.write(raw[i : i + 1])
                handler.wfile.flush()
                time.sleep(every)
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _huge(handler: http.server.BaseHTTPRequestHandler, size: int) -> None:
        """A JSON object of ``size`` bytes, close-delimited (no length announced), 1 MiB at a time."""
        handler.close_connection = True
        head, tail = b'{"pad":"', b'"}'
        chunk = b"a" * (1 << 20)
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
            handler.wfile.write(head)
            left = size - len(head) - len(tail)
            while left > 0:
                handler.wfile.write(chunk[:left])
                left -= len(chunk)
            handler.wfile.write(tail)
            handler.wfile.flush()
        except OSError:
            pass  # the client gave up

    @staticmethod
    def _json(handler: http.server.BaseHTTPRequestHandler, value: Any) -> None:
        StandIn._send(handler, 200, json.dumps(value).encode(), {"Content-Type": "application/json"})

    @staticmethod
    def _send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


REJECTED = "The user rejected permission to use this specific tool call."
DISMISSED = "The user dismissed this question"  # measured on 1.3.2 … 1.18.33 (tests/e2e/test_signals.py)


def reject_call(db: Path, message_id: str, call_id: str, error: str) -> None:
    """What OpenCode writes on a rejected permission (or dismissed question): the waiting tool
    part → ``error`` with that text, its turn finished."""
    now = int(time.time() * 1000)
    conn = sqlite3.connect(db, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for pid, data in conn.execute("SELECT id, data FROM part WHERE message_id = ?", (message_id,)).fetchall():
            part = json.loads(data)
            state = part.get("state") or {}
            if part.get("callID") != call_id or state.get("status") not in ("pending", "running"):
                continue
            start = (state.get("time") or {}).get("start", now)
            part["state"] = {
                "status": "error",
                "input": state.get("input", {}),
                "error": error,
                "metadata": state.get("metadata", {}),
                "time": {"start": start, "end": now},
            }
            conn.execute(
                "UPDATE part SET data = ?, time_updated = ? WHERE id = ?",
                (json.dumps(part, separators=(",", ":")), now, pid),
            )
        row = conn.execute("SELECT data FROM message WHERE id = ?", (message_id,)).fetchone()
        if row is not None:
            message = json.loads(row[0])
            message.setdefault("time", {})["completed"] = now
            message.setdefault("finish", "tool-calls")
            conn.execute(
                "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
                (json.dumps(message, separators=(",", ":")), now, message_id),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()


def replay(db: Path, events: list[dict[str, Any]]) -> None:
    """What ``POST /sync/replay`` does to the rows of ``message.updated.1`` events (the row
    written from the event's ``info``; the log itself is left out: nothing here reads it)."""
    conn = sqlite3.connect(db, timeout=5)
    try:
        with conn:
            for event in events:
                info = dict((event.get("data") or {}).get("info") or {})
                if event.get("type") != "message.updated.1" or not info.get("id"):
                    continue
                mid = info.pop("id")
                info.pop("sessionID", None)
                conn.execute(
                    "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
                    (json.dumps(info, separators=(",", ":")), int(time.time() * 1000), mid),
                )
    finally:
        conn.close()


def close_chain(db: Path, sessions: list[str]) -> None:
    """Close the chain's turns and tools the way OpenCode 1.18.33 does on abort."""
    now = int(time.time() * 1000)
    conn = sqlite3.connect(db, timeout=5)
    try:
        conn.execute("BEGIN IMMEDIATE")
        marks = ",".join("?" * len(sessions))
        for pid, data in conn.execute(f"SELECT id, data FROM part WHERE session_id IN ({marks})", sessions).fetchall():
            part = json.loads(data)
            state = part.get("state") or {}
            if part.get("type") != "tool" or state.get("status") not in ("pending", "running"):
                continue
            start = (state.get("time") or {}).get("start", now)
            if part.get("tool") == "task":
                part["state"] = {
                    "status": "error",
                    "input": state.get("input", {}),
                    "error": "Task cancelled",
                    "metadata": state.get("metadata", {}),
                    "time": {"start": start, "end": now},
                }
            else:
                output = "(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>"
                part["state"] = {
                    "status": "completed",
                    "input": state.get("input", {}),
                    "output": output,
                    "metadata": {"output": output, "exit": None, "truncated": False},
                    "title": state.get("title", ""),
                    "time": {"start": start, "end": now},
                }
            conn.execute(
                "UPDATE part SET data = ?, time_updated = ? WHERE id = ?",
                (json.dumps(part, separators=(",", ":")), now, pid),
            )
        for mid, data in conn.execute(
            f"SELECT id, data FROM message WHERE session_id IN ({marks})", sessions
        ).fetchall():
            message = json.loads(data)
            if message.get("role") != "assistant" or (message.get("time") or {}).get("completed"):
                continue
            message["time"]["completed"] = now
            message.setdefault("error", {"name": "MessageAbortedError", "data": {"message": "Aborted"}})
            conn.execute(
                "UPDATE message SET data = ?, time_updated = ? WHERE id = ?",
                (json.dumps(message, separators=(",", ":")), now, mid),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()

"""End-to-end harness: the real OpenCode binary, a scripted local model, crash and DB polling.

Nothing here mocks OpenCode.  The pieces:

* :func:`ensure_opencode` installs npm ``opencode-ai@<version>`` once into a cache dir
  (``${XDG_CACHE_HOME:-~/.cache}/ocinspect-e2e/opencode-<version>``), under a file lock.
* :class:`FakeModel` is a tiny OpenAI-compatible streaming chat server on 127.0.0.1 (stdlib,
  one thread in this process) that plays scripted scenarios chosen by keywords in the last user
  message (see :data:`SCENARIOS`).
* :class:`Sandbox` is an isolated ``HOME``/``XDG_*``/``TMPDIR`` tree with an ``opencode.json``
  pointing a custom provider at the fake model; :class:`OpenCode` runs ``opencode serve`` in it,
  talks to its HTTP API (every call has a timeout) and kills exactly its own process tree.
* :func:`wait_for_tool_part` & co. poll the OpenCode database read-only through SQLite.

Used by ``test_e2e.py`` and by ``capture.py`` (fixture regeneration); no pytest import here.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import fcntl
import hashlib
import http.server
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")

OPENCODE_VERSION = "1.18.33"
PROVIDER_ID = "fakeprov"
MODEL_ID = "fake"
TITLE = "Long running check"

# Every process the harness starts (and so every descendant, which inherits the environment)
# carries this variable; the value is unique per harness instance.  It is how teardown finds
# stray processes of *ours* without ever touching anyone else's.
MARKER_ENV = "OCINSPECT_E2E_RUN"

# Nothing listens on the discard port: any registry access by OpenCode fails at once, locally.
LOOPBACK_REGISTRY = "http://127.0.0.1:9/"

REPO_ROOT = Path(__file__).resolve().parents[2]


class HarnessError(RuntimeError):
    """A bounded wait ran out or OpenCode misbehaved; the message carries the evidence."""


class Unavailable(RuntimeError):
    """node/npm are not installed: the e2e tests cannot run here (a skip, not a failure)."""


# --------------------------------------------------------------------------------------------
# Installing OpenCode
# --------------------------------------------------------------------------------------------


# The environment as it was when this module was imported (before any test monkeypatches HOME
# or XDG_*): the install cache belongs to the real user, not to a test's temp HOME.
_IMPORT_ENV = dict(os.environ)


def cache_root() -> Path:
    base = _IMPORT_ENV.get("XDG_CACHE_HOME") or os.path.join(
        _IMPORT_ENV.get("HOME") or os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "ocinspect-e2e"


def opencode_binary_in(install_dir: Path, package: str = "opencode-linux-x64") -> Path:
    return install_dir.joinpath("node_modules", *package.split("/"), "bin", "opencode")


# What npm prints when it cannot reach the registry at all (as opposed to an install that fails):
# only then is an e2e test skipped rather than failed.
_NPM_OFFLINE = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET")


def ensure_opencode(version: str = OPENCODE_VERSION, *, timeout: float = 600.0) -> Path:
    """Return the path of the real ``opencode`` binary, installing it from npm once.

    ``OCINSPECT_E2E_OPENCODE`` may name an already installed binary instead.  Raises
    :class:`Unavailable` when node or npm is missing and :class:`HarnessError` when the npm
    install fails (e.g. the registry is down): that is a real failure, not a skip.
    """
    override = _IMPORT_ENV.get("OCINSPECT_E2E_OPENCODE")
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise HarnessError(f"OCINSPECT_E2E_OPENCODE={override!r} is not an executable file")
        return path
    return ensure_npm_binary(f"opencode-{version}", "opencode-ai", version, timeout=timeout)


def ensure_npm_binary(  # noqa: C901
    name: str,
    spec: str,
    version: str,
    *,
    binary_package: str = "opencode-linux-x64",
    ignore_scripts: bool = False,
    offline_is_unavailable: bool = False,
    timeout: float = 600.0,
) -> Path:
    """Install npm ``spec@version`` once into ``cache_root()/name`` and return its ``opencode``.

    One lock file per ``name``: parallel runs (xdist workers) wait for the one installing, which
    stages into a private directory and renames it into place only once the binary runs and
    prints ``version``.  ``offline_is_unavailable``: an npm that cannot reach its registry raises
    :class:`Unavailable` (a skip) instead of :class:`HarnessError`.
    """
    if sys.platform != "linux" or os.uname().machine not in ("x86_64", "amd64"):
        raise Unavailable(
            f"the e2e harness runs the linux-x64 OpenCode build; this is {sys.platform}/{os.uname().machine}"
        )
    root = cache_root()
    install_dir = root / name
    binary = opencode_binary_in(install_dir, binary_package)
    stamp = install_dir / ".installed"
    if stamp.is_file() and binary.is_file():
        return binary  # installed by an earlier run: node/npm are not needed to run it
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        raise Unavailable(
            f"{' and '.join(missing)} not found on PATH; the e2e tests install OpenCode (npm {spec}@{version}) with them"
        )

    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel runs wait for the one installing
        if stamp.is_file() and binary.is_file():
            return binary
        staging = root / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            (staging / "package.json").write_text('{"name": "ocinspect-e2e-opencode", "private": true}\n')
            cmd = [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                *(["--ignore-scripts"] if ignore_scripts else []),
                "--prefix",
                str(staging),
                f"{spec}@{version}",
            ]
            try:
                # the real user's environment (npm config, cache), not a test's temp HOME
                proc = subprocess.run(
                    cmd,
                    cwd=staging,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    stdin=subprocess.DEVNULL,
                    env=_IMPORT_ENV,
                )
            except subprocess.TimeoutExpired as exc:
                raise HarnessError(f"`{' '.join(cmd)}` did not finish in {timeout:.0f}s") from exc
            staged_binary = opencode_binary_in(staging, binary_package)
            if proc.returncode != 0 or not staged_binary.is_file():
                offline = next((code for code in _NPM_OFFLINE if code in proc.stderr), None)
                if offline_is_unavailable and offline:
                    raise Unavailable(f"the npm registry is unreachable ({offline}) installing {spec}@{version}")
                raise HarnessError(
                    f"installing OpenCode failed: `{' '.join(cmd)}` exited {proc.returncode}; "
                    f"binary present: {staged_binary.is_file()}\n--- npm stdout ---\n"
                    f"{proc.stdout[-4000:]}\n--- npm stderr ---\n{proc.stderr[-4000:]}"
                )
            staged_binary.chmod(0o755)
            check = subprocess.run(
                [str(staged_binary), "--version"],
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
                env=_IMPORT_ENV,
            )
            if check.returncode != 0 or version not in check.stdout:
                raise HarnessError(
                    f"installed OpenCode does not run: `opencode --version` exited "
                    f"{check.returncode}: {check.stdout!r} {check.stderr[-2000:]!r}"
                )
            (staging / ".installed").write_text(check.stdout)
            if install_dir.exists():
                shutil.rmtree(install_dir)
            staging.rename(install_dir)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return binary


# --------------------------------------------------------------------------------------------
# A fake clock (libfaketime) for the id-wrap scenarios
# --------------------------------------------------------------------------------------------

# OpenCode ids hold (ms * 0x1000 + counter) in 48 bits, so the id clock wraps every 2**36 ms;
# the last wrap was 2026-08-14T11:19:55.136Z.  Ids minted shortly before it sort after every id
# minted since.  OpenCode <= 1.18.14 orders messages by id and mishandles such sessions.
BEFORE_ID_WRAP = "@2026-08-14 11:17:00"  # libfaketime start time: ~3 minutes before the wrap

_FAKETIME_LIBS = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)


def _faketime_libs() -> list[str]:
    """The PyPI ``libfaketime`` package (a test dependency: CI needs no apt) first, then the
    system's (Debian's ``libfaketime``)."""
    found = []
    try:
        import libfaketime

        found.append(str(Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"))
    except ImportError:
        pass
    return found + list(_FAKETIME_LIBS)


def faketime_env(start: str = BEFORE_ID_WRAP) -> dict[str, str]:
    """Environment that starts a process's clock at ``start`` (it then runs normally).

    Raises :class:`Unavailable` when libfaketime is not installed (``apt install libfaketime``).
    Bun (OpenCode's runtime) reads the time through libc, so the preload works for it.
    """
    lib = next((path for path in _faketime_libs() if os.path.isfile(path)), None)
    if lib is None:
        raise Unavailable(
            "libfaketime is not installed (pip install libfaketime, or apt install libfaketime); the id-wrap "
            "scenarios need OpenCode to mint ids before 2026-08-14"
        )
    return {"LD_PRELOAD": lib, "FAKETIME": start, "FAKETIME_DONT_RESET": "1"}


# --------------------------------------------------------------------------------------------
# The fake model
# --------------------------------------------------------------------------------------------

# Keyword (case-sensitive, in the last user message) -> scenario.  First match wins.
SCENARIOS: list[tuple[str, str]] = [
    ("PENDING", "pending"),  # a bash tool call whose arguments stop half-way; stream held
    ("SUBAGENT", "task"),  # a task tool call (subagent "general")
    ("SUBASK", "task-ask"),  # a task whose subagent runs QUICK (`echo ok`: asks where that asks)
    ("QUICK", "quick"),  # bash `echo ok`, then text
    ("STREAM", "stream"),  # bash that prints a line every second for 10 minutes
    ("TEXT", "text"),  # plain text reply
    ("STALL", "stall"),  # a little text, then nothing, the connection held open
    ("SLOW", "slow"),  # a healthy slow reply: one word a second for SLOW_WORDS seconds
    ("OVERLOADED", "overloaded"),  # HTTP 503 "overloaded" on every attempt
    ("RATELIMIT", "ratelimit"),  # HTTP 429 on every attempt
    ("ASKME", "question"),  # the question tool: one question with two options
    ("FAST", "fast"),  # a fast healthy reply: FAST_RATE words a second for FAST_SECONDS (bench)
]
FAST_RATE = 50
FAST_SECONDS = 150
SLOW_WORDS = 20  # four times the 5 s --hung-after the tests give: silent long past it
STALL_TEXT = "Let me look"
STREAM_COMMAND = "for i in $(seq 600); do echo tick $i; sleep 1; done"
V2_CONTINUE_NOTICE = "The previous response was interrupted."
DEFAULT_SCENARIO = "sleep"  # bash `sleep 600` (also what the subagent child's prompt gets)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    return ""


def v2_tool_call(name: str, args: dict[str, Any], offered: set[Any]) -> tuple[str, dict[str, Any]]:
    """The same call in OpenCode 2's tool names when the request offers those instead.

    2.x renamed ``bash`` to ``shell`` ``{command, timeout}`` and ``task`` to ``subagent``
    ``{agent, description, prompt}``; its schemas reject unknown keys, so the arguments change too.
    """
    if name == "bash" and "bash" not in offered and "shell" in offered:
        return "shell", {"command": args["command"]}
    if name == "task" and "task" not in offered and "subagent" in offered:
        return "subagent", {
            "agent": args.get("subagent_type", "general"),
            "description": args.get("description", ""),
            "prompt": args.get("prompt", ""),
        }
    return name, args


class FakeModel:
    """OpenAI-compatible ``/v1/chat/completions`` streaming server, scripted by keyword.

    * a request without ``tools`` (OpenCode's title call) -> plain text :data:`TITLE`;
    * a request whose last message is a tool result -> plain text ``done.``;
    * otherwise the last user message picks a scenario from :data:`SCENARIOS`.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[dict[str, Any]] = []  # {"scenario", "body"} per chat request
        self._failed: dict[str, int] = {}  # error responses per turn (see retry_after_ms)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --
    def start(self) -> FakeModel:
        model = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:  # /v1/models, in case anything asks
                payload = json.dumps(
                    {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "ocinspect-e2e"}]}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                try:
                    model._serve(self, body)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass  # OpenCode was killed mid-stream: expected

        self._server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="ocinspect-e2e-fake-model",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases held streams
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FakeModel:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def scenarios_seen(self) -> list[str]:
        with self._lock:
            return [r["scenario"] for r in self.requests]

    # -- scripting --
    @staticmethod
    def choose(body: dict[str, Any]) -> str:
        messages = body.get("messages") or []
        if not body.get("tools"):
            return "title"
        if messages and messages[-1].get("role") == "tool":
            return "after-tool"
        # OpenCode 2 re-runs a broken stream after a user-role notice of its own: the person's
        # prompt before it still picks the scenario (a stall then stalls again, as a real one does).
        last_user = next(
            (
                m
                for m in reversed(messages)
                if m.get("role") == "user" and not _text_of(m.get("content")).startswith(V2_CONTINUE_NOTICE)
            ),
            None,
        )
        text = _text_of(last_user.get("content")) if last_user else ""
        for keyword, scenario in SCENARIOS:
            if keyword in text:
                return scenario
        return DEFAULT_SCENARIO

    def _hold(self, handler: http.server.BaseHTTPRequestHandler, limit: float = 900.0) -> None:
        sock = handler.connection
        deadline = time.monotonic() + limit
        while not self._stop.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                try:
                    if not sock.recv(1, socket.MSG_PEEK):
                        return  # peer closed
                except OSError:
                    return
                time.sleep(0.5)

    def retry_after_ms(self, body: dict[str, Any]) -> int | None:
        """The ``retry-after-ms`` header for this error response, if the prompt asks for one.

        ``RETRY_AFTER_MS=<ms>x<n>`` in the last user message: the first ``n`` failed calls of
        that turn carry ``retry-after-ms: <ms>``, later ones none. Every release takes a
        provider's ``retry-after-ms`` as the next retry's delay instead of its own backoff (2, 4,
        8, 16, 32 s), and falls back to that backoff (by attempt number) without it: so a test
        about how *ocinspect* reads a retry loop reaches attempt ``n + 1`` in ``n * ms`` and then
        stays there for OpenCode's long backoff, a wide window instead of a race. A turn is
        known by its messages: OpenCode resends the same ones on every retry.
        """
        last_user = next((m for m in reversed(body.get("messages") or []) if m.get("role") == "user"), None)
        found = re.search(r"RETRY_AFTER_MS=(\d+)x(\d+)", _text_of(last_user.get("content")) if last_user else "")
        if found is None:
            return None
        turn = hashlib.sha256(json.dumps(body.get("messages"), sort_keys=True).encode()).hexdigest()
        with self._lock:
            self._failed[turn] = self._failed.get(turn, 0) + 1
            return int(found.group(1)) if self._failed[turn] <= int(found.group(2)) else None

    @staticmethod
    def _error(
        handler: http.server.BaseHTTPRequestHandler, status: int, message: str, kind: str, retry_after: int | None
    ) -> None:
        """An OpenAI-style error response (what a real provider sends when overloaded/limited)."""
        payload = json.dumps({"error": {"message": message, "type": kind, "code": kind}}).encode()
        handler.send_response(status)
        if retry_after is not None:
            handler.send_header("retry-after-ms", str(retry_after))
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _serve(self, handler: http.server.BaseHTTPRequestHandler, body: dict[str, Any]) -> None:  # noqa: C901
        scenario = self.choose(body)
        with self._lock:
            self.requests.append({"scenario": scenario, "body": body, "at": time.time()})
        if scenario == "overloaded":
            self._error(handler, 503, "The model is overloaded", "overloaded_error", self.retry_after_ms(body))
            return
        if scenario == "ratelimit":
            self._error(handler, 429, "Rate limit reached", "rate_limit_exceeded", self.retry_after_ms(body))
            return
        stream = bool(body.get("stream", False))
        if not stream:  # OpenCode always streams; answer plainly just in case
            payload = json.dumps(
                {
                    "id": "chatcmpl-e2e",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": MODEL_ID,
                    "choices": [
                        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": TITLE}}
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            ).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return

        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            data = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        def done() -> None:
            data = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ID,
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\ndata: [DONE]\n\n".encode())
            handler.wfile.flush()

        def text(answer: str) -> None:
            chunk({"role": "assistant", "content": ""})
            chunk({"content": answer})
            chunk({}, "stop")
            done()

        offered = {t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)}

        def tool_call(name: str, args: dict[str, Any], *, hold_half: bool = False) -> None:
            name, args = v2_tool_call(name, args, offered)
            call_id = f"call_{uuid.uuid4().hex[:10]}"
            arguments = json.dumps(args)
            chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                    ],
                }
            )
            if hold_half:
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[: len(arguments) // 2]}}]})
                # never finish the arguments; hold until OpenCode hangs up (it was killed)
                # or this server stops
                self._hold(handler)
                return
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments}}]})
            chunk({}, "tool_calls")
            done()

        def stall() -> None:
            chunk({"role": "assistant", "content": ""})
            chunk({"content": STALL_TEXT})
            self._hold(handler)  # nothing more; OpenCode's chunk timeout ends it

        def slow(words: int = SLOW_WORDS, every: float = 1.0) -> None:
            chunk({"role": "assistant", "content": ""})
            for i in range(words):
                if self._stop.wait(every):
                    return
                chunk({"content": f"word{i} "})
            chunk({}, "stop")
            done()

        if scenario == "title":
            text(TITLE)
        elif scenario == "stall":
            stall()
        elif scenario == "slow":
            slow()
        elif scenario == "question":
            tool_call(
                "question",
                {
                    "questions": [
                        {
                            "question": "Deploy to production?",
                            "header": "Deploy",
                            "options": [
                                {"label": "yes", "description": "ship it"},
                                {"label": "no", "description": "wait"},
                            ],
                        }
                    ]
                },
            )
        elif scenario == "fast":
            slow(FAST_RATE * FAST_SECONDS, 1.0 / FAST_RATE)
        elif scenario in ("after-tool", "text"):
            text("done.")
        elif scenario == "quick":
            tool_call("bash", {"command": "echo ok", "description": "quick check"})
        elif scenario == "stream":
            tool_call("bash", {"command": STREAM_COMMAND, "description": "print progress"})
        elif scenario == "pending":
            tool_call("bash", {"command": "sleep 600", "description": "long sleep"}, hold_half=True)
        elif scenario == "task":
            tool_call("task", {"description": "explore", "prompt": "run the long check", "subagent_type": "general"})
        elif scenario == "task-ask":
            tool_call("task", {"description": "check", "prompt": "QUICK please", "subagent_type": "general"})
        else:
            tool_call("bash", {"command": "sleep 600", "description": "long sleep"})


# --------------------------------------------------------------------------------------------
# HTTP with timeouts (loopback only)
# --------------------------------------------------------------------------------------------


def http_json(
    method: str, url: str, body: Any = None, *, timeout: float = 10.0, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    host = urllib.parse.urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise HarnessError(f"refusing non-loopback URL {url}")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        status = exc.code
    if not raw:
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.2,
    what: str,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` until it returns something truthy; raise HarnessError after timeout."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last one
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_exc!r}" if last_exc else ""
            extra = ("\n" + on_timeout()) if on_timeout else ""
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}{detail}{extra}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def run(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` to its end, output captured, no stdin; HarnessError after ``timeout``."""
    try:
        return subprocess.run(
            cmd, cwd=cwd, env=env, text=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(
            f"`{' '.join(cmd)}` did not finish in {timeout:.0f}s; stdout={exc.stdout!r} stderr={exc.stderr!r}"
        ) from exc


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child ``SIGKILL``-ed when this process dies, however it
    dies (``kill -9`` of pytest included): a server the harness started must not outlive the
    run and keep its port, its database and a CPU. The setting survives ``exec``, so it also
    holds for a launcher that execs into ``opencode serve``. Its own children (a tool's
    ``sleep 600``) are not covered: they end by themselves.

    Linux sends the signal when the *thread* that forked the child ends, so start such children
    from the thread that lives as long as they must (the test's own).
    """
    parent = os.getpid()
    libc = _LIBC  # looked up before the fork: the child only makes the system call

    def preexec() -> None:
        if libc is None:
            return
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(126)

    return preexec


def kill_tree(pid: int) -> list[int]:
    """SIGKILL ``pid`` and all its descendants.  Freezes the root first so it cannot spawn."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return []
    with contextlib.suppress(psutil.Error):
        root.suspend()
    try:
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        procs = [root]
    for p in procs:  # freeze the others too so nobody forks between snapshot and kill
        with contextlib.suppress(psutil.Error):
            p.suspend()
    with contextlib.suppress(psutil.Error):
        procs = [root] + root.children(recursive=True)
    killed = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
            killed.append(p.pid)
    wait_dead(procs)
    return killed


def wait_dead(procs: list[psutil.Process], timeout: float = 10.0) -> None:
    """Wait until each process is gone or a zombie (dead, waiting for whoever reaps it)."""
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        still = []
        for p in pending:
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    still.append(p)
            except psutil.NoSuchProcess:
                pass
        pending = still
        if pending:
            time.sleep(0.05)
    if pending:
        raise HarnessError(f"processes survived SIGKILL for {timeout:.0f}s: {[p.pid for p in pending]}")


def kill_marked(marker: str) -> list[int]:
    """SIGKILL every process whose environment carries ``MARKER_ENV=marker`` (ours only)."""
    killed = []
    me = os.getpid()
    for p in psutil.process_iter(["pid"]):
        if p.pid == me:
            continue
        try:
            if p.environ().get(MARKER_ENV) == marker:
                p.kill()
                killed.append(p)
        except (psutil.Error, OSError):
            continue
    wait_dead(killed)
    return [p.pid for p in killed]


# --------------------------------------------------------------------------------------------
# Sandbox and OpenCode server
# --------------------------------------------------------------------------------------------


class Sandbox:
    """An isolated HOME / XDG_* / TMPDIR tree for one OpenCode "machine", plus a project dir."""

    def __init__(self, root: Path, model: FakeModel, *, marker: str | None = None, git: bool = True) -> None:
        self.root = Path(root)
        self.model = model
        self.marker = marker or uuid.uuid4().hex
        self.home = self.root / "home"
        self.xdg = {
            "XDG_DATA_HOME": self.root / "xdg" / "data",
            "XDG_CONFIG_HOME": self.root / "xdg" / "config",
            "XDG_STATE_HOME": self.root / "xdg" / "state",
            "XDG_CACHE_HOME": self.root / "xdg" / "cache",
            "XDG_RUNTIME_DIR": self.root / "xdg" / "runtime",
        }
        self.tmp = self.root / "tmp"
        self.project = self.root / "project"
        self.ocinspect_state = self.root / "ocinspect-state"
        self.servers: list[OpenCode] = []
        for d in [self.home, self.tmp, self.project, self.ocinspect_state, *self.xdg.values()]:
            d.mkdir(parents=True, exist_ok=True)
        self.xdg["XDG_RUNTIME_DIR"].chmod(0o700)
        (self.home / ".npmrc").write_text(f"registry={LOOPBACK_REGISTRY}\noffline=true\n")
        self.write_config()
        if git and shutil.which("git"):
            self.init_git()

    def init_git(self) -> None:
        """Make the project a git repository with one commit, as a user's project would be."""
        env = self.env(
            GIT_AUTHOR_NAME="ocinspect e2e",
            GIT_AUTHOR_EMAIL="e2e@example.invalid",
            GIT_COMMITTER_NAME="ocinspect e2e",
            GIT_COMMITTER_EMAIL="e2e@example.invalid",
            GIT_CONFIG_NOSYSTEM="1",
        )
        (self.project / "README.md").write_text("# webapp\n")
        for cmd in (
            ["git", "init", "-q", "-b", "main"],
            ["git", "add", "README.md"],
            ["git", "commit", "-q", "-m", "initial commit"],
        ):
            subprocess.run(
                cmd, cwd=self.project, env=env, check=True, capture_output=True, timeout=30, stdin=subprocess.DEVNULL
            )

    @property
    def db_path(self) -> Path:
        return self.xdg["XDG_DATA_HOME"] / "opencode" / "opencode.db"

    @property
    def config_path(self) -> Path:
        return self.xdg["XDG_CONFIG_HOME"] / "opencode" / "opencode.json"

    def write_config(self) -> None:
        config = {
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": False,
            "share": "disabled",
            "model": f"{PROVIDER_ID}/{MODEL_ID}",
            "small_model": f"{PROVIDER_ID}/{MODEL_ID}",
            "provider": {
                PROVIDER_ID: {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Fake provider (ocinspect e2e)",
                    "options": {"baseURL": self.model.base_url, "apiKey": "e2e-not-a-secret"},
                    "models": {
                        MODEL_ID: {
                            "name": "Fake model",
                            "tool_call": True,
                            "limit": {"context": 100000, "output": 4096},
                        }
                    },
                },
            },
            "permission": {"bash": "allow", "edit": "allow", "webfetch": "allow"},
        }
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for OpenCode (and ocinspect) processes: nothing of the real user leaks."""
        keep = ("PATH", "LANG", "LC_ALL", "TERM", "SYSTEMROOT")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.update({k: str(v) for k, v in self.xdg.items()})
        env.update(
            {
                "HOME": str(self.home),
                "TMPDIR": str(self.tmp),
                "OPENCODE_DISABLE_MODELS_FETCH": "1",
                "OPENCODE_DISABLE_AUTOUPDATE": "1",
                "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
                "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
                "OPENCODE_PURE": "1",
                # OpenCode installs @opencode-ai/plugin into each config dir in the background with
                # a bundled npm client; keep it off the network (it only logs a warning on failure).
                "npm_config_registry": LOOPBACK_REGISTRY,
                "npm_config_offline": "true",
                "npm_config_audit": "false",
                "npm_config_fund": "false",
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                MARKER_ENV: self.marker,
            }
        )
        env.update(extra)
        return env

    def ocinspect_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_STATE_HOME"] = str(self.ocinspect_state)
        env["XDG_DATA_HOME"] = str(self.xdg["XDG_DATA_HOME"])
        env["XDG_CONFIG_HOME"] = str(self.xdg["XDG_CONFIG_HOME"])
        env["XDG_CACHE_HOME"] = str(self.xdg["XDG_CACHE_HOME"])
        env["HOME"] = str(self.home)
        env["TMPDIR"] = str(self.tmp)
        env[MARKER_ENV] = self.marker
        env.pop("OPENCODE_DB", None)
        return env

    def ocinspect(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run ``python -m inspector --db <this db> ARGS`` as a subprocess."""
        cmd = [sys.executable, "-m", "inspector", "--db", str(self.db_path), *args]
        return run(cmd, cwd=REPO_ROOT, env=self.ocinspect_env(), timeout=timeout)

    def ocinspect_here(self, *args: str) -> subprocess.CompletedProcess[str]:
        """:meth:`ocinspect` inside this process (click's runner, the same environment; an
        exception fails the test): for a test that polls until a verdict shows, where a new
        interpreter per look costs ~0.45 CPU-s and the process itself is not what is tested.
        Assert on a real process's output."""
        from tests.support.cli import invoke

        cmd = ["--db", str(self.db_path), *args]
        result = invoke(*cmd, env={**self.ocinspect_env(), "OPENCODE_DB": None})
        return subprocess.CompletedProcess(
            ["ocinspect (in process)", *cmd], result.exit_code, result.stdout, result.stderr
        )

    def start_opencode(self, binary: Path, **kw: Any) -> OpenCode:
        server = OpenCode(binary, self, **kw)
        self.servers.append(server)
        return server.start()

    def kill_all(self) -> list[int]:
        """Kill every OpenCode this sandbox started, and any stray process carrying our marker."""
        killed: list[int] = []
        for server in self.servers:
            killed += server.kill()
        return killed + kill_marked(self.marker)

    def logs(self) -> str:
        return "\n".join(f"--- {s.log_path.name} ---\n{s.log()}" for s in self.servers)


class OpenCode:
    """One ``opencode serve`` process in a :class:`Sandbox`."""

    _count = 0

    def __init__(
        self,
        binary: Path,
        sandbox: Sandbox,
        *,
        port: int | None = None,
        boot_timeout: float = 60.0,
        password: str | None = None,
        env: dict[str, str] | None = None,
        launcher: tuple[str, ...] = (),
    ) -> None:
        self.binary = Path(binary)
        self.sandbox = sandbox
        self.extra_env = dict(env or {})
        self.port = port or free_port()
        self.boot_timeout = boot_timeout
        self.password = password  # OPENCODE_SERVER_PASSWORD: the API then needs basic auth
        self.launcher = launcher  # a command that execs into ``opencode serve …`` (same PID)
        OpenCode._count += 1
        self.log_path = sandbox.root / f"opencode-{OpenCode._count}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> OpenCode:
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 (kept open for the server's life; closed in kill())
        cmd = [*self.launcher, str(self.binary), *self.serve_args()]
        extra = {"OPENCODE_SERVER_PASSWORD": self.password} if self.password else {}
        if self.launcher:  # e.g. `python -m inspector run --`: this checkout's ocinspect
            extra["PYTHONPATH"] = str(REPO_ROOT)
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.sandbox.project,
            env=self.sandbox.env(**self.extra_env, **extra),
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
        try:
            self.wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def serve_args(self) -> list[str]:
        return ["serve", "--hostname", "127.0.0.1", "--port", str(self.port), "--print-logs", "--log-level", "INFO"]

    # answered once the server is up (2.x serves its API under /api instead)
    ready_path = "/session/status"

    def log(self, tail: int = 12000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return text[-tail:]

    def failure(self, message: str) -> HarnessError:
        return HarnessError(f"{message}\n--- opencode serve log ({self.log_path}) ---\n{self.log()}")

    def wait_ready(self) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise self.failure(f"opencode serve exited with {self.proc.returncode} while booting")
            # A request that reaches the server while it is still booting can hang forever
            # (measured on 1.18.33): poll with a short timeout and simply ask again.
            status, _ = http_json("GET", f"{self.url}{self.ready_path}", timeout=1.0, headers=self.auth_headers())
            return status == 200

        wait_until(
            ready,
            timeout=self.boot_timeout,
            interval=0.25,
            what=f"opencode serve on port {self.port} to answer",
            on_timeout=lambda: f"--- opencode serve log ---\n{self.log()}",
        )

    # -- API --
    def auth_headers(self) -> dict[str, str]:
        if not self.password:
            return {}
        token = base64.b64encode(f"opencode:{self.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float = 15.0, expect: Iterable[int] = (200, 204)
    ) -> Any:
        try:
            status, data = http_json(method, self.url + path, body, timeout=timeout, headers=self.auth_headers())
        except (OSError, urllib.error.URLError) as exc:
            raise self.failure(f"{method} {path} failed: {exc!r}") from exc
        if status not in tuple(expect):
            raise self.failure(f"{method} {path} -> HTTP {status}: {str(data)[:2000]}")
        return data

    def create_session(self, title: str | None = None) -> str:
        body = {"title": title} if title else {}
        return str(self.request("POST", "/session", body)["id"])

    def prompt_async(self, session_id: str, text: str) -> None:
        self.request(
            "POST",
            f"/session/{session_id}/prompt_async",
            {
                "parts": [{"type": "text", "text": text}],
                "model": {"providerID": PROVIDER_ID, "modelID": MODEL_ID},
            },
        )

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.request("GET", f"/session/{session_id}/message")
        return messages

    def status(self) -> dict[str, Any]:
        return (
            self.request("GET", "/session/status?" + urllib.parse.urlencode({"directory": str(self.sandbox.project)}))
            or {}
        )

    def is_busy(self, session_id: str) -> bool:
        entry = self.status().get(session_id)
        return entry is not None and entry.get("type") in ("busy", "retry")

    def wait_turn_complete(
        self, session_id: str, *, timeout: float = 60.0, min_assistant: int = 1
    ) -> list[dict[str, Any]]:
        """Wait until the session is idle and its last assistant message is completed."""

        def done() -> list[dict[str, Any]] | None:
            if self.is_busy(session_id):
                return None
            msgs = self.messages(session_id)
            assistants = [m for m in msgs if m["info"].get("role") == "assistant"]
            if len(assistants) < min_assistant:
                return None
            if not assistants[-1]["info"].get("time", {}).get("completed"):
                return None
            return msgs

        return wait_until(
            done,
            timeout=timeout,
            interval=0.3,
            what=f"session {session_id} to finish its turn",
            on_timeout=lambda: self.describe(session_id),
        )

    def wait_closed(self, session_id: str, *, timeout: float = 10.0) -> list[dict[str, Any]] | None:
        """The session's messages once OpenCode reports it idle *and* has written every assistant
        turn's end and no tool is pending/running; None after ``timeout``. (OpenCode can report a
        session idle some 20–35 ms before it writes the turn's end: measured on 1.2–1.14.)"""

        def closed() -> list[dict[str, Any]] | None:
            if self.is_busy(session_id):
                return None
            msgs = self.messages(session_id)
            for m in msgs:
                if m["info"].get("role") == "assistant" and not m["info"].get("time", {}).get("completed"):
                    return None
                for p in m["parts"]:
                    if p.get("type") == "tool" and p["state"]["status"] in ("pending", "running"):
                        return None
            return msgs

        try:
            return wait_until(closed, timeout=timeout, interval=0.1, what=f"session {session_id} closed")
        except HarnessError:
            return None

    def describe(self, session_id: str) -> str:
        try:
            msgs = json.dumps(self.messages(session_id), indent=1)[-6000:]
        except Exception as exc:  # noqa: BLE001
            msgs = f"(messages unavailable: {exc!r})"
        return f"--- messages of {session_id} ---\n{msgs}\n--- opencode serve log ---\n{self.log()}"

    # -- stopping --
    def kill(self) -> list[int]:
        """``kill -9`` this server and every process it started (the crash under test)."""
        if self.proc is None:
            return []
        killed: list[int] = []
        if self.proc.poll() is None:  # never signal a reaped pid: it may belong to someone else
            killed = kill_tree(self.proc.pid)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=10)
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None
        return killed

    stop = kill  # OpenCode keeps nothing it needs to flush; a hard stop is what users do too

    def __enter__(self) -> OpenCode:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()


class ServerPool:
    """``opencode serve`` processes kept between tests that never stop them: booting one and
    answering its first prompt costs 10-20 s on a loaded machine, and most such tests only need
    a server with a given configuration and a session of their own.

    One server per *slot* (e.g. "bash asks for permission" or not): a test asks for a slot with
    a release; the slot's server is reused when it runs that release and is clean (alive, no
    session busy, no permission or question pending), else it is replaced by a fresh one in a
    fresh sandbox, configured by ``setup`` before it boots. A test that failed calls
    :meth:`discard`: whatever it left behind goes with its server.
    """

    def __init__(self, root: Path, model: FakeModel) -> None:
        self.root = Path(root)
        self.model = model
        self._slots: dict[str, tuple[Path, Sandbox, OpenCode]] = {}
        self._count = 0

    def get(self, slot: str, binary: Path, setup: Callable[[Sandbox], None]) -> tuple[Sandbox, OpenCode]:
        held = self._slots.get(slot)
        if held is not None and held[0] == binary and self._clean(held[1], held[2]):
            return held[1], held[2]
        if held is not None:
            held[1].kill_all()
            del self._slots[slot]
        self._count += 1
        box = Sandbox(self.root / f"shared-{self._count}", self.model)
        setup(box)
        server = box.start_opencode(binary)
        self._slots[slot] = (binary, box, server)
        return box, server

    @staticmethod
    def _clean(box: Sandbox, server: OpenCode) -> bool:
        if server.proc is None or server.proc.poll() is not None:
            return False
        query = "?" + urllib.parse.urlencode({"directory": str(box.project)})
        try:
            if server.status() != {}:
                return False
            pending = [server.request("GET", path + query) for path in ("/permission", "/question")]
        except HarnessError:
            return False
        return pending == [[], []]

    def sandboxes(self) -> list[Sandbox]:
        return [box for _, box, _ in self._slots.values()]

    def discard(self) -> None:
        for _, box, _ in self._slots.values():
            box.kill_all()
        self._slots.clear()


# --------------------------------------------------------------------------------------------
# Reading the OpenCode database (read-only)
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def ro_connect(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        yield conn
    finally:
        conn.close()


def db_tool_parts(db: Path, session_id: str | None = None) -> list[dict[str, Any]]:
    """Tool parts (decoded ``data`` plus ``id``/``message_id``/``session_id``), oldest first."""
    if not db.exists():
        return []
    sql = "SELECT id, message_id, session_id, data FROM part WHERE json_extract(data, '$.type') = 'tool'"
    args: tuple[Any, ...] = ()
    if session_id:
        sql += " AND session_id = ?"
        args = (session_id,)
    sql += " ORDER BY time_created, id"
    with ro_connect(db) as conn:
        rows = conn.execute(sql, args).fetchall()
    out = []
    for pid, mid, sid, data in rows:
        d = json.loads(data)
        d.update({"id": pid, "message_id": mid, "session_id": sid})
        out.append(d)
    return out


def db_sessions(db: Path) -> list[dict[str, Any]]:
    with ro_connect(db) as conn:
        rows = conn.execute("SELECT id, parent_id, title, directory FROM session ORDER BY time_created, id").fetchall()
    return [dict(zip(("id", "parent_id", "title", "directory"), r, strict=True)) for r in rows]


def wait_for_tool_part(
    db: Path,
    *,
    session_id: str | None = None,
    tool: str | None = None,
    statuses: tuple[str, ...] = ("running",),
    timeout: float = 60.0,
    server: OpenCode | None = None,
    count: int = 1,
) -> list[dict[str, Any]]:
    """Poll the DB until ``count`` tool parts (optionally of ``tool``) are in ``statuses``."""

    def found() -> list[dict[str, Any]] | None:
        parts = [
            p
            for p in db_tool_parts(db, session_id)
            if p["state"]["status"] in statuses and (tool is None or p["tool"] == tool)
        ]
        return parts if len(parts) >= count else None

    return wait_until(
        found,
        timeout=timeout,
        interval=0.2,
        what=f"{count} {tool or 'tool'} part(s) {'/'.join(statuses)} in {db}"
        f"{' for ' + session_id if session_id else ''}",
        on_timeout=(
            lambda: (
                f"parts now: {json.dumps(db_tool_parts(db), indent=1)[-4000:]}"
                + (f"\n--- opencode serve log ---\n{server.log()}" if server else "")
            )
        ),
    )


def wait_for_child_session(db: Path, parent_id: str, *, timeout: float = 60.0, server: OpenCode | None = None) -> str:
    """Poll the DB until ``parent_id`` has a subagent child session; return the child's id.

    Linked through ``session.parent_id``: OpenCode 1.2/1.3 write no ``state.metadata.sessionId``
    on a running ``task`` part, so the part itself cannot name its child there.
    """

    def found() -> str | None:
        children = [s["id"] for s in db_sessions(db) if s["parent_id"] == parent_id]
        return children[0] if children else None

    return wait_until(
        found,
        timeout=timeout,
        interval=0.2,
        what=f"a child session of {parent_id} in {db}",
        on_timeout=(
            lambda: (
                f"sessions now: {db_sessions(db)}" + (f"\n--- opencode serve log ---\n{server.log()}" if server else "")
            )
        ),
    )


def snapshot(db: Path, dest: Path) -> Path:
    """Consistent single-file copy (includes rows only in the WAL): ``VACUUM INTO``."""
    dest = Path(dest)
    if dest.exists():
        dest.unlink()
    conn = sqlite3.connect(str(db), timeout=10)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("VACUUM INTO ?", (str(dest),))
    finally:
        conn.close()
    return dest


def copy_database(source: Path, dest: Path) -> None:
    """``dest`` becomes ``source``'s rows (SQLite's backup: the WAL included, rowids kept), no
    side files left: a crashed file made once, copied back for each test that starts from it."""
    for stale in (dest, Path(f"{dest}-wal"), Path(f"{dest}-shm")):
        stale.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    out = sqlite3.connect(str(dest), timeout=10)
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()

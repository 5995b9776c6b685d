"""End-to-end harness for OpenCode 2.x: the real ``opencode`` 2.1.2 binary, its two servers, its rows.

Built on the v1 harness (``tests/e2e/harness.py``), imported, not copied: the npm install under a
lock into the same cache, the scripted fake model (which answers 2.x in its tool names), the
sandboxed HOME/XDG tree, the process killing. What is new for 2.x:

* :func:`ensure_opencode_v2` installs only the platform package ``@opencode/cli-linux-x64``
  (``--ignore-scripts``: the umbrella ``@opencode/cli`` would pull every platform);
* :class:`V2Sandbox` also allows ``shell`` (2.x's name for ``bash``) and gives the managed service
  its own port (``$XDG_CONFIG_HOME/opencode/service.json``), so its ``service.json``
  (``$XDG_STATE_HOME/opencode/``) and database (``$XDG_DATA_HOME/opencode/opencode.db``) are
  the test's own;
* :class:`V2Server` is a plain ``opencode serve`` (never runs the restart sweep), :class:`V2Service`
  the managed ``opencode serve --service`` that ``opencode service start`` detaches (it does);
* ``session_rows``/``message_rows``/``tool_items``/… read the 2.x tables read-only.

What these shapes are and what 2.1.2 does with them: ``/work/shared/opencode-v2-reference.md``,
the table copied into ``docs/design/records.md``.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psutil

from .. import harness as h

V2_VERSION = "2.1.2"
V2_PACKAGE = "@opencode/cli-linux-x64"
# Overrides the install with a binary already on disk (as OCINSPECT_E2E_OPENCODE does for v1).
V2_OVERRIDE_ENV = "OCINSPECT_E2E_OPENCODE_V2"
PASSWORD = "e2e-v2-not-a-secret"

# The fake model's keywords (tests/e2e/harness.py SCENARIOS), named for what 2.x does with them.
LONG_SHELL = "run the long check"  # shell `sleep 600`
SUBAGENT = "SUBAGENT please"  # subagent general -> its child runs shell `sleep 600`
QUICK = "QUICK please"  # shell `echo ok`, then "done."
TEXT = "TEXT just say hi"  # a plain reply
QUESTION = "ASKME please"  # the question tool, one question with two options
ACTIVE_TOOL = ("running", "streaming")

T = TypeVar("T")


def ensure_opencode_v2(version: str = V2_VERSION) -> Path:
    """The ``opencode`` 2.x binary, installed once into the e2e cache (skips only when offline)."""
    override = h._IMPORT_ENV.get(V2_OVERRIDE_ENV)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise h.HarnessError(f"{V2_OVERRIDE_ENV}={override!r} is not an executable file")
        return path
    return h.ensure_npm_binary(
        f"opencode-{version}",
        V2_PACKAGE,
        version,
        binary_package=V2_PACKAGE,
        ignore_scripts=True,
        offline_is_unavailable=True,
    )


# --------------------------------------------------------------------------------------------
# Reading the 2.x database (read-only)
# --------------------------------------------------------------------------------------------


@contextmanager
def ro(db: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        conn.row_factory = sqlite3.Row
        yield conn
    finally:
        conn.close()


def _rows(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    if not db.exists():
        return []
    with ro(db) as conn:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def tables(db: Path) -> set[str]:
    return {r["name"] for r in _rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def session_rows(db: Path) -> list[dict[str, Any]]:
    """Every ``session_v2`` row (all columns: 2.x renames some, tests must not assume them)."""
    return _rows(db, "SELECT * FROM session_v2 ORDER BY time_created, id")


def session_row(db: Path, session_id: str) -> dict[str, Any]:
    rows = _rows(db, "SELECT * FROM session_v2 WHERE id = ?", (session_id,))
    if not rows:
        raise h.HarnessError(f"no session_v2 row {session_id} in {db}")
    return rows[0]


def message_rows(db: Path, session_id: str) -> list[dict[str, Any]]:
    """``session_message`` rows of one session by ``seq``, ``data`` decoded."""
    rows = _rows(db, "SELECT * FROM session_message WHERE session_id = ? ORDER BY seq", (session_id,))
    for row in rows:
        row["data"] = json.loads(row["data"])
    return rows


def tool_items(db: Path, session_id: str) -> list[dict[str, Any]]:
    """Every ``{type: "tool"}`` item of every assistant message's ``content[]``, plus ``message_id``."""
    found = []
    for row in message_rows(db, session_id):
        if row["type"] != "assistant":
            continue
        for item in row["data"].get("content") or []:
            if isinstance(item, dict) and item.get("type") == "tool":
                found.append({**item, "message_id": row["id"]})
    return found


def inbox_rows(db: Path, session_id: str) -> list[dict[str, Any]]:
    return _rows(db, "SELECT * FROM session_inbox WHERE session_id = ? ORDER BY enqueued_seq", (session_id,))


def kv_rows(db: Path) -> dict[str, Any]:
    return {r["key"]: json.loads(r["value"]) for r in _rows(db, "SELECT key, value FROM kv")}


def event_seq(db: Path, aggregate_id: str) -> int | None:
    rows = _rows(db, "SELECT seq FROM event_sequence WHERE aggregate_id = ?", (aggregate_id,))
    return int(rows[0]["seq"]) if rows else None


def unfinished_assistants(db: Path, session_id: str) -> list[dict[str, Any]]:
    return [
        r
        for r in message_rows(db, session_id)
        if r["type"] == "assistant" and not (r["data"].get("time") or {}).get("completed")
    ]


def describe(db: Path) -> str:
    """Every session with its rows: what a failed wait prints."""
    if not db.exists():
        return f"(no database at {db})"
    out = []
    for s in session_rows(db):
        keep = ("id", "parent_id", "time_suspended", "resume_attempts", "idle_outcome", "time_idle")
        out.append(json.dumps({k: s.get(k) for k in keep}))
        out += [f"  {r['seq']} {r['type']} {json.dumps(r['data'])[:600]}" for r in message_rows(db, s["id"])]
    return "\n".join(out)[-8000:]


def types_of(db: Path, session_id: str) -> list[str]:
    """The session's ``session_message`` types in ``seq`` order."""
    return [r["type"] for r in message_rows(db, session_id)]


def claim(db: Path, session_id: str) -> Any:
    """The session's claim (``time_suspended``): set while a turn is owed to it."""
    return session_row(db, session_id)["time_suspended"]


def stays(probe: Callable[[], bool], *, seconds: float, what: str) -> None:
    """Fail if ``probe`` turns false within ``seconds``: a bounded watch for something that must
    not happen (a plain server delivering or resuming on its own), polled, not slept through."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert probe(), what
        time.sleep(0.2)
    assert probe(), what


def wait_db(db: Path, probe: Callable[[], T | None], *, what: str, timeout: float = 45.0) -> T:
    """Poll ``probe`` (reading ``db``) until it returns something truthy, with a deadline."""
    value: T = h.wait_until(probe, timeout=timeout, interval=0.2, what=what, on_timeout=lambda: describe(db))
    return value


def wait_tool(
    db: Path, session_id: str, *, name: str = "shell", statuses: tuple[str, ...] = ("running",), timeout: float = 45.0
) -> dict[str, Any]:
    """The first ``name`` tool item of the session in one of ``statuses``."""

    def probe() -> dict[str, Any] | None:
        return next(
            (t for t in tool_items(db, session_id) if t.get("name") == name and t["state"]["status"] in statuses),
            None,
        )

    return wait_db(db, probe, what=f"a {name} tool {'/'.join(statuses)} in {session_id}", timeout=timeout)


def wait_child(db: Path, parent_id: str, *, timeout: float = 45.0) -> str:
    def probe() -> str | None:
        return next((s["id"] for s in session_rows(db) if s["parent_id"] == parent_id), None)

    return wait_db(db, probe, what=f"a child session of {parent_id}", timeout=timeout)


def write(db: Path, sql: str, args: tuple[Any, ...] = ()) -> int:
    """One write behind OpenCode's back (only the write-behind measurement does this)."""
    conn = sqlite3.connect(str(db), timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        count = conn.execute(sql, args).rowcount
        conn.execute("COMMIT")
        return count
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# The API both servers speak (under /api, HTTP basic auth, user "opencode")
# --------------------------------------------------------------------------------------------


class V2Api:
    """The 2.x routes the harness uses; subclasses say where the server is and how to reach it."""

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 15.0) -> tuple[int, Any]:
        raise NotImplementedError

    def api(self, method: str, path: str, body: Any = None, *, timeout: float = 15.0) -> Any:
        status, data = self.call(method, path, body, timeout=timeout)
        if status not in (200, 204):
            raise h.HarnessError(f"{method} {path} -> HTTP {status}: {str(data)[:2000]}")
        return data["data"] if isinstance(data, dict) and "data" in data else data

    def open_session(self, directory: Path) -> str:
        return str(self.api("POST", "/api/session", {"location": {"directory": str(directory)}})["id"])

    def prompt(self, session_id: str, text: str, *, delivery: str = "queue") -> dict[str, Any]:
        """Queue a user message; 2.x answers at once with the inbox item."""
        item: dict[str, Any] = self.api(
            "POST", f"/api/session/{session_id}/prompt", {"text": text, "delivery": delivery}
        )
        return item

    def active(self) -> dict[str, Any]:
        found: dict[str, Any] = self.api("GET", "/api/session/active") or {}
        return found

    def session(self, session_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.api("GET", f"/api/session/{session_id}")
        return found

    def list_messages(self, session_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("GET", f"/api/session/{session_id}/message")
        return found

    def interrupt(self, session_id: str) -> bool:
        return bool(self.api("POST", f"/api/session/{session_id}/interrupt", {})["interrupted"])


def _basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"opencode:{password}".encode()).decode()}


class V2Server(V2Api, h.OpenCode):
    """A plain ``opencode serve``: the server of ``--standalone``; it never sweeps claims at boot."""

    ready_path = "/api/session/active"

    def serve_args(self) -> list[str]:
        return ["serve", "--hostname", "127.0.0.1", "--port", str(self.port), "--print-logs", "--log-level", "info"]

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 15.0) -> tuple[int, Any]:
        status, data = h.http_json(method, self.url + path, body, timeout=timeout, headers=self.auth_headers())
        return status, data


@dataclass
class V2Service(V2Api):
    """The managed service as ``$XDG_STATE_HOME/opencode/service.json`` registers it."""

    url: str
    password: str
    pid: int

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 15.0) -> tuple[int, Any]:
        status, data = h.http_json(method, self.url + path, body, timeout=timeout, headers=_basic(self.password))
        return status, data


# --------------------------------------------------------------------------------------------
# The sandbox
# --------------------------------------------------------------------------------------------


class V2Sandbox(h.Sandbox):
    """A v1 sandbox that 2.x also runs in: ``shell`` allowed, its own service port."""

    def __init__(self, root: Path, model: h.FakeModel, binary: Path) -> None:
        super().__init__(root, model)
        self.binary = binary
        self.service_port = h.free_port()
        self.write_service_config()
        self.started: subprocess.CompletedProcess[str] | None = None  # the last `service start`

    def write_config(self, *, shell: str | dict[str, str] = "allow") -> None:
        """``shell``: its permission, one action or ``{command pattern: action}`` (the last match wins)."""
        super().write_config()
        config = json.loads(self.config_path.read_text())
        config["permission"]["shell"] = shell
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")

    def write_service_config(self) -> None:
        path = self.xdg["XDG_CONFIG_HOME"] / "opencode" / "service.json"
        path.write_text(json.dumps({"port": self.service_port}) + "\n")

    @property
    def service_json(self) -> Path:
        return self.xdg["XDG_STATE_HOME"] / "opencode" / "service.json"

    @property
    def opencode_log(self) -> Path:
        return self.xdg["XDG_DATA_HOME"] / "opencode" / "log" / "opencode.log"

    def start_plain(self, **kw: Any) -> V2Server:
        server = V2Server(self.binary, self, password=PASSWORD, **kw)
        self.servers.append(server)
        server.start()
        return server

    def cli(
        self, *args: str, timeout: float = 60.0, launcher: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``opencode ARGS`` in this sandbox (a command without ``--standalone`` boots the service);
        ``launcher``: a command that execs into it (``python -m inspector run --``, this checkout's)."""
        env = self.env(PYTHONPATH=str(h.REPO_ROOT)) if launcher else self.env()
        return h.run([*launcher, str(self.binary), *args], cwd=self.project, env=env, timeout=timeout)

    def start_service(self, *, timeout: float = 45.0, launcher: tuple[str, ...] = ()) -> V2Service:
        """``opencode service start``: the detached service boots (and sweeps) on this database."""
        self.forget_dead_service()
        done = self.cli("service", "start", timeout=timeout, launcher=launcher)
        self.started = done
        if done.returncode != 0:
            raise h.HarnessError(f"opencode service start exited {done.returncode}: {done.stdout} {done.stderr}")

        def registered() -> V2Service | None:
            info = json.loads(self.service_json.read_text())
            service = V2Service(str(info["url"]).rstrip("/"), str(info["password"]), int(info["pid"]))
            return service if service.call("GET", "/api/session/active", timeout=2)[0] == 200 else None

        found: V2Service = h.wait_until(
            registered, timeout=timeout, interval=0.2, what="the service to register and answer", on_timeout=self.tail
        )
        return found

    def forget_dead_service(self) -> None:
        """Remove the ``service.json`` a killed service left: ``service start`` would first spend
        ~5 s probing its dead url (measured), then boot the same service on the same database."""
        try:
            pid = int(json.loads(self.service_json.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return
        try:
            alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            alive = False
        if not alive:
            self.service_json.unlink(missing_ok=True)

    def stop_service(self, *, timeout: float = 45.0) -> subprocess.CompletedProcess[str]:
        """``opencode service stop``: the graceful stop."""
        return self.cli("service", "stop", timeout=timeout)

    def tail(self) -> str:
        try:
            return "--- opencode.log ---\n" + self.opencode_log.read_text(errors="replace")[-6000:]
        except OSError as exc:
            return f"(no opencode.log: {exc})"

    def logs(self) -> str:
        return super().logs() + "\n" + self.tail() + "\n--- rows ---\n" + describe(self.db_path)


@contextmanager
def sandboxed(root: Path, model: h.FakeModel, binary: Path) -> Iterator[V2Sandbox]:
    """An isolated 2.x home; every process started in it (the detached service too) is killed."""
    box = V2Sandbox(root, model, binary)
    try:
        yield box
    finally:
        box.kill_all()


# --------------------------------------------------------------------------------------------
# Making the stuck shapes, fresh
# --------------------------------------------------------------------------------------------


@dataclass
class Crash:
    """A session left by a killed server: its id, its child's (a subagent's), the tool left active."""

    session_id: str
    tool: dict[str, Any]
    child_id: str | None = None


def model_calls(model: h.FakeModel) -> int:
    """Requests that ran a turn (the title call excluded: it offers no tools)."""
    return sum(1 for s in model.scenarios_seen() if s != "title")


def crash_plain_mid_tool(
    sb: V2Sandbox,
    *,
    prompt: str = LONG_SHELL,
    name: str = "shell",
    statuses: tuple[str, ...] = ("running",),
    before_kill: Callable[[V2Server, str], object] | None = None,
) -> Crash:
    """(bash) A plain server, a prompt, its ``name`` tool in ``statuses``, then ``kill -9``;
    ``before_kill(server, session_id)`` waits for anything else the shape needs first."""
    server = sb.start_plain()
    sid = server.open_session(sb.project)
    server.prompt(sid, prompt)
    tool = wait_tool(sb.db_path, sid, name=name, statuses=statuses)
    if before_kill is not None:
        before_kill(server, sid)
    server.kill()
    return Crash(sid, tool)


def crash_plain_mid_subagent(sb: V2Sandbox, *, on_boot: Callable[[V2Server], object] | None = None) -> Crash:
    """(task) The parent's ``subagent`` tool and its child's ``shell`` both running, then ``kill -9``;
    ``on_boot(server)`` looks at the server as it booted, before the prompt."""
    server = sb.start_plain()
    if on_boot is not None:
        on_boot(server)
    sid = server.open_session(sb.project)
    server.prompt(sid, SUBAGENT)
    wait_tool(sb.db_path, sid, name="subagent")
    child = wait_child(sb.db_path, sid)
    wait_tool(sb.db_path, child)
    tool = wait_tool(sb.db_path, sid, name="subagent")
    server.kill()
    return Crash(sid, tool, child)


def crash_plain_with_inbox(sb: V2Sandbox, extra: tuple[tuple[str, str], ...]) -> Crash:
    """(queued) Prompts sent while the tool runs wait in ``session_inbox``; then ``kill -9``."""
    server = sb.start_plain()
    sid = server.open_session(sb.project)
    server.prompt(sid, LONG_SHELL)
    tool = wait_tool(sb.db_path, sid)
    for text, delivery in extra:
        server.prompt(sid, text, delivery=delivery)
    wait_db(sb.db_path, lambda: len(inbox_rows(sb.db_path, sid)) >= len(extra), what="the prompts in session_inbox")
    server.kill()
    return Crash(sid, tool)


def boot_service_until_resumed(
    sb: V2Sandbox, session_id: str, calls_before: int, *, attempts: int = 1, launcher: tuple[str, ...] = ()
) -> V2Service:
    """Boot the service on the crashed database and wait until it re-ran the turn: the claim's
    ``resume_attempts`` reached ``attempts`` and the fake model was called again."""
    service = sb.start_service(launcher=launcher)
    wait_db(
        sb.db_path,
        lambda: (
            (session_row(sb.db_path, session_id)["resume_attempts"] or 0) >= attempts
            and model_calls(sb.model) > calls_before
        ),
        what=f"the service to resume {session_id} (attempt {attempts}) and call the model",
    )
    return service


def kill_service(sb: V2Sandbox, service: V2Service) -> None:
    """``kill -9`` the service (detached, so not our child: its pid must carry our marker)."""
    try:
        ours = psutil.Process(service.pid).environ().get(h.MARKER_ENV) == sb.marker
    except psutil.Error:
        return  # already gone
    if not ours:
        raise h.HarnessError(f"pid {service.pid} from service.json is not this sandbox's service")
    h.kill_tree(service.pid)


def wait_permission(server: V2Server, session_id: str) -> list[dict[str, Any]]:
    """The session's open permission prompts, once there is one (``ask``: kill only then)."""

    def listed() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = server.api("GET", f"/api/session/{session_id}/permission")
        return found

    asked: list[dict[str, Any]] = h.wait_until(listed, timeout=30, what="a permission prompt")
    return asked


def finish_turn(sb: V2Sandbox, server: V2Api, session_id: str, prompt: str = QUICK) -> None:
    """(clean) One prompt, run to its ``idle`` row."""
    server.prompt(session_id, prompt)
    wait_db(
        sb.db_path,
        lambda: any(r["type"] == "idle" for r in message_rows(sb.db_path, session_id)),
        what=f"{session_id}'s turn to finish",
    )


def orphan_the_child(sb: V2Sandbox, crash: Crash) -> V2Service:
    """(orphan-child) Boot the service on a ``task`` crash: it re-runs the parent and releases
    the child's claim, leaving the child's tool ``running``; then end the parent's re-run turn
    (interrupt) so the parent is finished, as in the reference's fixture."""
    child = crash.child_id
    if child is None:
        raise h.HarnessError("orphan_the_child needs a subagent crash")
    service = boot_service_until_resumed(sb, crash.session_id, model_calls(sb.model))
    wait_db(sb.db_path, lambda: session_row(sb.db_path, child)["time_suspended"] is None, what="child released")
    if not service.interrupt(crash.session_id):
        raise h.HarnessError(f"the service did not interrupt the re-run of {crash.session_id}")
    wait_db(
        sb.db_path,
        lambda: session_row(sb.db_path, crash.session_id)["idle_outcome"] == "interrupted",
        what="the parent's interrupted idle row",
    )
    return service


def stop_service_mid_tool(sb: V2Sandbox, service: V2Service | None = None) -> Crash:
    """(graceful-stop) The service (``service``, or one booted now) runs a turn; ``opencode
    service stop`` while its tool runs."""
    service = service or sb.start_service()
    sid = service.open_session(sb.project)
    service.prompt(sid, LONG_SHELL)
    tool = wait_tool(sb.db_path, sid)
    stopped = sb.stop_service()
    if stopped.returncode != 0:
        raise h.HarnessError(f"opencode service stop exited {stopped.returncode}: {stopped.stderr}")
    h.wait_until(lambda: not sb.service_json.exists(), timeout=15, what="service.json removed at stop")
    return Crash(sid, tool)


def exhaust_by_boots(
    sb: V2Sandbox,
    crash: Crash,
    *,
    budget: int = 10,
    after_boot: Callable[[int, V2Service, dict[str, Any]], object] | None = None,
) -> None:
    """(exhausted) The real path: each service boot re-runs the turn and is ``kill -9``'d once
    the model re-issued its tool (a new ``running`` shell), until the boot after the budget
    publishes ``idle failed`` (11 boots: 67-82 s here). ``after_boot(attempt, service, tool)``
    looks at each boot (``tool``: the re-issued one) before it is killed."""
    db = sb.db_path
    seen = {crash.tool["id"]}
    for attempt in range(1, budget + 1):
        service = boot_service_until_resumed(sb, crash.session_id, model_calls(sb.model), attempts=attempt)

        def reissued() -> dict[str, Any] | None:
            return next(
                (
                    t
                    for t in tool_items(db, crash.session_id)
                    if t["state"]["status"] == "running" and t["id"] not in seen
                ),
                None,
            )

        tool = wait_db(db, reissued, what=f"boot {attempt}'s re-issued tool")
        seen.add(tool["id"])
        if after_boot is not None:
            after_boot(attempt, service, tool)
        kill_service(sb, service)
    service = sb.start_service()
    wait_db(
        db,
        lambda: session_row(db, crash.session_id)["idle_outcome"] == "failed",
        what=f"boot {budget + 1} to give up on {crash.session_id}",
    )
    kill_service(sb, service)


def crash_v1_then_import(sb: V2Sandbox, v1_binary: Path) -> tuple[str, V2Server]:
    """(imported-from-v1) A v1 server crashed mid-``bash`` on this sandbox's database, then a
    2.x plain server booted on it (which imports it in place); returns the session and server."""
    old = sb.start_opencode(v1_binary)
    sid = old.create_session()
    old.prompt_async(sid, LONG_SHELL)
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=45, server=old)
    old.kill()
    return sid, sb.start_plain()


def describe_processes(pids: Iterable[int]) -> str:
    """Each pid with its parent, its command line and its open database files (why a test that
    expected one server on a database found more)."""
    lines: list[str] = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                files = [f.path for f in proc.open_files() if ".db" in f.path]
                lines.append(f"pid {pid} ppid {proc.ppid()} {proc.status()} {proc.cmdline()!r} files {files!r}")
        except psutil.Error as exc:
            lines.append(f"pid {pid}: {type(exc).__name__}")
    return "\n".join(lines)

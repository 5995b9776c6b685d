"""Issue 14: hung sessions inside a running OpenCode, seen and stopped through OpenCode itself.

Real ``opencode serve`` (npm opencode-ai 1.18.33) on loopback with the scripted model: a session
whose ``bash sleep 600`` never returns, a ``task`` subagent chain whose child runs the same, and
a session whose bash prints a line every second (``STREAM``). ocinspect runs as a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import queue
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.stopping import PYTHON, stop_or_dump

from . import harness as h
from .probe_signals import configure
from .test_e2e import ACTIVE, assert_new_prompt_completes, by_id, explain, run_cli, tool_parts

pytestmark = pytest.mark.e2e


ASKS = "echo ok"  # the one bash command behind a permission prompt (the QUICK scenario runs it)


def signals_server(pool: h.ServerPool, binary: Path) -> tuple[h.Sandbox, h.OpenCode]:
    """A running OpenCode for these tests (chunk timeout 3 s; bash allowed, but ``echo ok`` asks
    for permission), shared with the other tests of these modules: each works in a session of
    its own and leaves it closed, which the pool checks before it hands the server on. One
    configuration for both kinds of test: one boot per release and worker, not two."""

    def setup(box: h.Sandbox) -> None:
        configure(box)
        config = json.loads(box.config_path.read_text())
        config["permission"]["bash"] = {"*": "allow", ASKS: "ask"}  # every release: the last match wins
        box.config_path.write_text(json.dumps(config, indent=2) + "\n")

    return pool.get("signals", binary, setup)


def start_bash(sb: h.Sandbox, oc: h.OpenCode, prompt: str = "run the long tests") -> tuple[str, dict[str, Any]]:
    sid = oc.create_session()
    oc.prompt_async(sid, prompt)
    part = h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=60, server=oc)[0]
    h.wait_until(lambda: oc.is_busy(sid), timeout=30, what=f"{sid} busy", on_timeout=lambda: oc.describe(sid))
    return sid, part


def start_chain(sb: h.Sandbox, oc: h.OpenCode) -> tuple[str, str]:
    parent = oc.create_session()
    oc.prompt_async(parent, "SUBAGENT please check")
    task = h.wait_for_tool_part(sb.db_path, session_id=parent, tool="task", timeout=60, server=oc)[0]
    child = task["state"]["metadata"]["sessionId"]
    h.wait_for_tool_part(sb.db_path, session_id=child, tool="bash", timeout=60, server=oc)
    h.wait_until(
        lambda: oc.is_busy(parent) and oc.is_busy(child),
        timeout=30,
        what="chain busy",
        on_timeout=lambda: oc.describe(parent),
    )
    return parent, child


def scan(sb: h.Sandbox, *args: str) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]:
    rc, data, proc = run_cli(sb, "scan", "--json", *args)
    assert rc in (0, 1) and isinstance(data, dict), explain(proc)
    return by_id(data), proc


def run_here(sb: h.Sandbox, *args: str) -> tuple[int, Any, subprocess.CompletedProcess[str]]:
    """``run_cli`` in this process (``Sandbox.ocinspect_here``): for the checks around a test's
    point (a poll, a scan that must find nothing, a recover that must stop nothing), where a new
    interpreter would cost ~0.45 CPU-s and the process is not what is tested."""
    proc = sb.ocinspect_here(*args)
    with contextlib.suppress(ValueError):  # no output, or not JSON: None, as run_cli says
        return proc.returncode, json.loads(proc.stdout), proc
    return proc.returncode, None, proc


def scan_here(sb: h.Sandbox, *args: str) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]:
    """:func:`scan` in this process (:func:`run_here`)."""
    rc, data, proc = run_here(sb, "scan", "--json", *args)
    assert rc in (0, 1) and isinstance(data, dict), explain(proc)
    return by_id(data), proc


def scan_until(
    sb: h.Sandbox,
    wanted: Callable[[dict[str, dict[str, Any]]], bool],
    *args: str,
    timeout: float,
    what: str,
    on_timeout: Callable[[], str] | None = None,
) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]:
    """The first real ``scan --json ARGS`` whose sessions satisfy ``wanted``: polled in this
    process until they do (cheap), then asked of a real process (the one asserted on)."""

    def seen(look: Callable[..., tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]]) -> Any:
        found, ran = look(sb, *args)
        return (found, ran) if wanted(found) else None

    h.wait_until(lambda: seen(scan_here), timeout=timeout, interval=0.5, what=what, on_timeout=on_timeout)
    found: tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]] = h.wait_until(
        lambda: seen(scan), timeout=30, interval=0.5, what=f"{what} (in a real process)", on_timeout=on_timeout
    )
    return found


def assert_closed_by_opencode(oc: h.OpenCode, sid: str) -> list[dict[str, Any]]:
    """Every assistant turn completed, no tool pending/running, as OpenCode's API reports it
    (within a few seconds: OpenCode reports idle a moment before it writes the turn's end)."""
    oc.wait_closed(sid)
    assert not oc.is_busy(sid), oc.describe(sid)
    msgs = oc.messages(sid)
    for m in msgs:
        if m["info"]["role"] == "assistant":
            assert m["info"].get("time", {}).get("completed"), oc.describe(sid)
    assert not [p["id"] for p in tool_parts(msgs) if p["state"]["status"] in ACTIVE], oc.describe(sid)
    return msgs


def assert_rows_equal_newest_events(db: Path, session_ids: list[str]) -> None:
    """OpenCode's sync invariant: each part/message row equals its newest event; seqs contiguous."""
    with h.ro_connect(db) as conn:
        for sid in session_ids:
            parts: dict[str, Any] = {}
            messages: dict[str, Any] = {}
            seqs = []
            for seq, kind, data in conn.execute(
                "SELECT seq, type, data FROM event WHERE aggregate_id = ? ORDER BY seq", (sid,)
            ):
                seqs.append(seq)
                payload = json.loads(data)
                if kind == "message.part.updated.1":
                    parts[payload["part"]["id"]] = payload["part"]
                elif kind == "message.updated.1":
                    messages[payload["info"]["id"]] = payload["info"]
            assert seqs == list(range(len(seqs))), f"{sid}: seqs {seqs}"
            (top,) = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (sid,)).fetchone()
            assert top == seqs[-1]
            for table, newest, keys in (
                ("part", parts, ("id", "sessionID", "messageID")),
                ("message", messages, ("id", "sessionID")),
            ):
                for rid, data in conn.execute(f"SELECT id, data FROM {table} WHERE session_id = ?", (sid,)):
                    event = {k: v for k, v in newest[rid].items() if k not in keys}
                    assert json.loads(data) == event, f"{table} {rid} differs from its newest event"


def test_hung_sessions_are_seen_then_stopped_through_opencode(pooled: h.ServerPool, opencode_bin: Path) -> None:
    sandbox, oc = signals_server(pooled, opencode_bin)
    bash, _ = start_bash(sandbox, oc)

    # Right away, with --hung-after 2s: the verdict follows the silence it measured.
    sessions, proc = scan_here(sandbox, "--hung-after", "2s")
    first = sessions[bash]
    assert first["verdict"] == ("live" if first["idle_ms"] < 2000 else "hung"), explain(proc)

    parent, child = start_chain(sandbox, oc)
    stream, _ = start_bash(sandbox, oc, "STREAM it")

    # Before the threshold everything busy is live (and says how long it has been silent).
    sessions, proc = scan_here(sandbox, "--hung-after", "60s")
    for sid in (bash, parent, child, stream):
        assert sessions[sid]["verdict"] == "live", explain(proc)
        assert 0 <= sessions[sid]["idle_ms"] < 60_000, explain(proc)

    # After 2 s of silence: the bash session and the whole chain are hung, the stream is live.
    sessions, proc = scan_until(
        sandbox,
        lambda found: all(found[s]["verdict"] == "hung" for s in (bash, parent, child)),
        "--hung-after",
        "2s",
        timeout=30,
        what="hung verdicts",
    )
    assert proc.returncode == 1, explain(proc)
    for sid in (bash, parent, child):
        assert sessions[sid]["idle_ms"] >= 2000, explain(proc)
        assert "sleep 600" in sessions[sid]["verdict_reason"], explain(proc)
        assert "nothing has moved" in sessions[sid]["verdict_reason"], explain(proc)
    assert sessions[stream]["verdict"] == "live", explain(proc)
    assert sessions[stream]["idle_ms"] < 2000, explain(proc)
    text = sandbox.ocinspect("scan", "--hung-after", "2s")
    assert f"ocinspect recover {parent} --abort-hung" in text.stdout, explain(text)

    # Without --abort-hung: refused like live, with the hint, nothing touched.
    before = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path)}
    rc, data, proc = run_cli(sandbox, "recover", bash, "--yes", "--json", "--hung-after", "2s")
    assert rc == 3, explain(proc)
    (skip,) = data["skipped"]
    assert (skip["id"], skip["kind"], skip["hint"]) == (bash, "hung", "abort-hung"), explain(proc)
    assert "--" not in skip["reason"], explain(proc)  # the core names no flag; the text output adds it
    assert {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path)} == before
    assert oc.is_busy(bash), oc.describe(bash)

    # The user stops the streaming session; then everything busy is hung and gets aborted.
    oc.request("POST", f"/session/{stream}/abort")
    h.wait_until(lambda: not oc.is_busy(stream), timeout=15, what="stream stopped")
    started = time.monotonic()
    rc, data, proc = run_cli(sandbox, "recover", "--all", "--yes", "--abort-hung", "--hung-after", "2s", "--json")
    took = time.monotonic() - started
    assert rc == 0, explain(proc)
    aborted = {a["id"]: a for a in data["aborted"]}
    assert set(aborted) == {bash, parent}, explain(proc)
    assert aborted[parent]["sessions"] == [parent, child], explain(proc)
    assert all(a["stopped"] is True for a in aborted.values()), explain(proc)
    assert aborted[parent]["aborted"] == [parent], explain(proc)  # the root alone settles the chain
    assert data["parts_repaired"] == 0 and data["messages_completed"] == 0, explain(proc)  # OpenCode did it
    print(f"recover --all --abort-hung took {took:.2f}s")

    assert oc.status() == {}, oc.status()
    for sid in (bash, parent, child):
        assert_closed_by_opencode(oc, sid)
    parent_task = next(p for p in tool_parts(oc.messages(parent)) if p["tool"] == "task")
    assert parent_task["state"]["status"] == "error" and parent_task["state"]["error"] == "Task cancelled"
    for sid in (bash, child):
        (turn,) = [m for m in oc.messages(sid) if m["info"]["role"] == "assistant"]
        assert turn["info"]["error"]["name"] == "MessageAbortedError", oc.describe(sid)
        (tool,) = tool_parts([turn])
        assert tool["tool"] == "bash" and tool["state"]["status"] not in ACTIVE, oc.describe(sid)
        assert "interrupted" not in (tool["state"].get("metadata") or {}), oc.describe(sid)  # not our shape
    assert_rows_equal_newest_events(sandbox.db_path, [bash, parent, child, stream])

    rc, data, proc = run_here(sandbox, "scan", "--json", "--hung-after", "2s")
    assert rc == 0 and data["sessions"] == [], explain(proc)
    assert_new_prompt_completes(oc, parent)


class LineReader:
    """Collects a subprocess's stdout lines in a thread (no partial reads, no lost lines)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self.thread.start()

    def _run(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)

    def events_until(self, deadline: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return found
            try:
                found.append(json.loads(self.lines.get(timeout=left)))
            except queue.Empty:
                return found


class Watch:
    """``ocinspect watch ARGS --json`` as a subprocess; its JSON lines collected in ``events``."""

    def __init__(self, sb: h.Sandbox, *args: str) -> None:
        cmd = [*PYTHON, "-m", "inspector", "--db", str(sb.db_path), "watch", *args, "--json"]
        self.proc = subprocess.Popen(
            cmd,
            cwd=h.REPO_ROOT,
            env=sb.ocinspect_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            preexec_fn=h.die_with_parent(),  # a watch never ends by itself
        )
        self.reader = LineReader(self.proc)
        self.events: list[dict[str, Any]] = []
        self.stderr = ""

    def collect(self, seconds: float) -> list[dict[str, Any]]:
        self.events += self.reader.events_until(time.monotonic() + seconds)
        return self.events

    def until(self, predicate: Any, timeout: float, step: float = 0.2) -> list[dict[str, Any]]:
        """Collect until some event satisfies ``predicate`` (or ``timeout``); those events."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not any(predicate(e) for e in self.events):
            self.collect(step)
        return [e for e in self.events if predicate(e)]

    def stop(self) -> int:
        def stacks() -> str:
            self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
            return self.stderr

        stop_or_dump(self.proc, 30, stacks)
        self.stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return self.proc.returncode

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_watch_stops_a_hung_session_and_leaves_a_streaming_one(
    pooled: h.ServerPool, opencode_bin: Path, tmp_path: Path
) -> None:
    """Also the ``--exec`` hook and the ``--metrics`` beside a real OpenCode (no boot of their own):
    the hook reads the hung finding, then the abort, each the very line ``watch --json`` printed;
    the metrics count the abort, the hung session gone, the live one and its event stream."""
    sandbox, oc = signals_server(pooled, opencode_bin)
    stream, _ = start_bash(sandbox, oc, "STREAM it")
    hooked = tmp_path / "hook.jsonl"
    hook = shlex.join([sys.executable, str(h.REPO_ROOT / "tests" / "support" / "hook_script.py"), str(hooked)])
    metrics = f"127.0.0.1:{free_port()}"
    with Watch(sandbox, "--abort-hung-after", "3s", "--exec", hook, "--metrics", metrics) as watch:
        hung, part = start_bash(sandbox, oc)
        started = part["state"]["time"]["start"] / 1000
        # the deadline bounds how long the watch may take; how long it took is printed, not
        # asserted (a wall-clock bound fails on a loaded machine, not on a slow watch)
        (event,) = watch.until(lambda e: e.get("id") == hung and e["event"] == "aborted", timeout=30)
        stopped_at = time.time()
        assert event["event"] == "aborted" and event["stopped"] is True, watch.events
        assert event["idle_ms"] >= 3000, watch.events
        assert event["sessions"] == [hung], watch.events
        print(f"watch stopped the hung session {stopped_at - started:.1f}s after its tool started")
        assert_closed_by_opencode(oc, hung)

        # The streaming session keeps running, watched, untouched.
        assert not [e for e in watch.collect(5) if e.get("id") == stream], watch.events
        assert oc.is_busy(stream), oc.describe(stream)
        # what the metrics say of it: the abort, the hung session gone, the live one, its stream
        text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5).read().decode()
        for series, wanted in (
            ('ocinspect_actions_total{action="abort",outcome="performed"}', 1),
            ('ocinspect_stuck_sessions_resolved_total{verdict="hung"}', 1),
            ('ocinspect_sessions{verdict="live"}', 1),
            ('ocinspect_sessions{verdict="hung"}', 0),
            ("ocinspect_event_streams", 1),
        ):
            assert f"\n{series} {float(wanted)}\n" in text, (series, text)
    assert watch.proc.returncode == 0, (watch.proc.returncode, watch.stderr)
    assert "stopped watching" in watch.stderr, watch.stderr
    mine = [json.loads(line) for line in hooked.read_text().splitlines() if json.loads(line).get("id") == hung]
    assert [(e["event"], e.get("verdict")) for e in mine] == [("finding", "hung"), ("aborted", None)], mine
    assert all(e in watch.events for e in mine)  # the lines watch printed
    oc.request("POST", f"/session/{stream}/abort")
    h.wait_until(lambda: not oc.is_busy(stream), timeout=15, what="stream stopped")  # the server is shared


def test_password_protected_server(sandbox: h.Sandbox, opencode_bin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENCODE_SERVER_PASSWORD: without it the verdict is unknown (the server needs its
    password); with it, hung, and the abort goes through."""
    oc = sandbox.start_opencode(opencode_bin, password="s3cret-e2e")
    sid, _ = start_bash(sandbox, oc)
    time.sleep(1.0)

    sessions, proc = scan_here(sandbox, "--hung-after", "1s")
    assert sessions[sid]["verdict"] == "unknown", explain(proc)
    assert "the server needs its password" in sessions[sid]["verdict_reason"], explain(proc)

    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "wrong")
    sessions, proc = scan_here(sandbox, "--hung-after", "1s")
    assert "refused the password" in sessions[sid]["verdict_reason"], explain(proc)

    monkeypatch.setenv("OPENCODE_SERVER_PASSWORD", "s3cret-e2e")
    sessions, proc = scan(sandbox, "--hung-after", "1s")
    assert sessions[sid]["verdict"] == "hung", explain(proc)
    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--abort-hung", "--hung-after", "1s", "--json")
    assert rc == 0 and data["aborted"][0]["stopped"] is True, explain(proc)
    assert_closed_by_opencode(oc, sid)
    oc.kill()


def test_waiting_for_permission_is_not_hung(pooled: h.ServerPool, opencode_bin: Path) -> None:
    """A bash waiting on a permission prompt looks ``running`` in the database (measured); the
    server's ``GET /permission`` says it waits for a person, so it is never called hung."""
    sandbox, oc = signals_server(pooled, opencode_bin)
    sid, part = start_bash(sandbox, oc, "QUICK check")
    assert part["state"]["status"] == "running"

    def asking() -> list[dict[str, Any]]:
        return [p for p in oc.request("GET", "/permission?directory=" + str(sandbox.project)) if p]

    (asked,) = h.wait_until(asking, timeout=15, what="the permission request")
    assert asked["sessionID"] == sid, asked
    time.sleep(1.5)
    sessions, proc = scan(sandbox, "--hung-after", "1s")
    assert sessions[sid]["verdict"] == "waiting", explain(proc)  # issue 18: its own verdict
    assert "waiting for your answer" in sessions[sid]["verdict_reason"], explain(proc)
    rc, data, proc = run_here(sandbox, "recover", "--all", "--yes", "--abort-hung", "--hung-after", "1s", "--json")
    assert rc == 3 and data["aborted"] == [], explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)
    # the server is shared: answer the prompt (reject) so the next test gets it clean
    oc.request("POST", f"/permission/{asked['id']}/reply?directory={sandbox.project}", {"reply": "reject"})
    assert_closed_by_opencode(oc, sid)

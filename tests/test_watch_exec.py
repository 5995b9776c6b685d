"""``ocinspect watch --exec CMD``: one JSON line per new finding or action on the hook's stdin.

The watch runs as the real command (``python -m inspector``) beside a database built from the
real DDL, in which a second process writing as OpenCode does (``tests/opencode_writer.py``)
leaves sessions stuck one after another; OpenCode is not running, so each becomes ``stale``.
The hook is a real program (``tests/support/hook_script.py``). No wall-clock assertion: each
check waits (with a deadline that only bounds a hang) for what the watch prints.
"""

from __future__ import annotations

import http.server
import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from inspector.core.model import LiveStatus
from inspector.core.opencode.live import OFFLINE
from inspector.core.repair.hook import HookRunner, hook_argv
from inspector.core.repair.watchdog import Watchdog
from inspector.core.synth.builder import DatabaseBuilder
from tests.support.cli import REPO
from tests.support.stopping import PYTHON, stop_or_dump

WRITER = REPO / "tests" / "opencode_writer.py"
HOOK = REPO / "tests" / "support" / "hook_script.py"
DIR = "/home/dev/src/hooked"
T0 = 1_795_600_000_000
WAIT = 60.0  # seconds; only bounds a hang (a loaded 2-core machine runs several watches)


def build(path: Path, titles: list[str]) -> list[str]:
    """One session per title, each with one finished turn: nothing stuck yet."""
    ids = []
    with DatabaseBuilder(path, seed=5) as b:
        project = b.project(DIR, created=T0)
        for i, title in enumerate(titles):
            t = T0 + 1000 * (i + 1)
            sid = b.session(project_id=project, title=title, directory=DIR, created=t)
            user = b.user_message(sid, f"prompt {i}", created=t + 10)
            b.assistant_message(sid, user, created=t + 20, completed=t + 30, finish="stop")
            ids.append(sid)
    return ids


def crash(db: Path, sid: str, step: int) -> None:
    """A turn left unfinished with a bash running, as OpenCode killed mid-tool leaves it."""
    subprocess.run(
        [sys.executable, str(WRITER), str(db), "crash", sid, str(T0 + 100_000 * step)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def hook_command(out: Path, *extra: str) -> str:
    return shlex.join([sys.executable, str(HOOK), str(out), *extra])


class WatchProcess:
    """``ocinspect --db DB watch ARGS`` in a subprocess; stdout and stderr lines collected."""

    def __init__(self, db: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*PYTHON, "-m", "inspector", "--db", str(db), "watch", "--interval", "100ms", *args],
            cwd=REPO,
            env=env,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.lines: list[str] = []
        self.err_lines: list[str] = []
        for pipe, into in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(pipe, into), daemon=True).start()

    @staticmethod
    def _read(pipe: Any, into: queue.Queue[str]) -> None:
        for line in pipe:
            into.put(line)

    def _drain(self) -> None:
        while not self.out.empty():
            self.lines.append(self.out.get())
        while not self.err.empty():
            self.err_lines.append(self.err.get())

    def events(self) -> list[dict[str, Any]]:
        self._drain()
        return [json.loads(line) for line in self.lines]

    def stderr_lines(self) -> list[str]:
        self._drain()
        return self.err_lines

    def until(self, found: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not found():
            assert time.monotonic() < deadline, f"no {what}: {self.lines} {self.err_lines}"
            assert self.proc.poll() is None, f"watch ended: {self.lines} {self.err_lines}"
            time.sleep(0.05)

    def stop(self) -> int:
        def stacks() -> str:
            time.sleep(0.1)  # the reader threads get the last lines
            return "".join(self.stderr_lines())

        code = stop_or_dump(self.proc, WAIT, stacks)
        time.sleep(0.1)  # the reader threads get the last lines
        self._drain()
        return code

    def __enter__(self) -> WatchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def has_lines(path: Path, count: int) -> Callable[[], bool]:
    return lambda: len(lines_of(path)) >= count


def gone(pid: int) -> bool:
    """The process ended (a zombie nobody reaped yet counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


# the CLI, end to end ------------------------------------------------------------------------------


def test_exec_gets_one_json_line_per_new_finding_in_order(tmp_path: Path) -> None:
    """Three sessions get stuck one after another: the hook reads three lines, in that order,
    each the very line ``watch --json`` printed; the first session stuck once more (a second
    unfinished turn: the same finding) runs nothing, the fourth session's finding shows the
    watch looked meanwhile. Observe-only: no threshold given, nothing written."""
    db = tmp_path / "hooked.db"
    ids = build(db, ["first", "second", "third", "fourth"])
    out = tmp_path / "hook.jsonl"
    with WatchProcess(db, "--exec", hook_command(out), "--json") as watch:
        for step, sid in enumerate(ids[:3], start=1):
            crash(db, sid, step)
            watch.until(has_lines(out, step), f"hook line {step}")
        crash(db, ids[0], 4)  # the first session, stuck again while still stuck: not new
        crash(db, ids[3], 5)
        watch.until(has_lines(out, 4), "hook line 4")
        watch.until(lambda: sum(e["event"] == "finding" for e in watch.events()) >= 4, "the fourth finding")
        assert watch.stop() == 0, watch.err_lines
    hooked = [json.loads(line) for line in lines_of(out)]
    assert [e["id"] for e in hooked] == [ids[0], ids[1], ids[2], ids[3]]
    assert all(e["event"] == "finding" and e["verdict"] == "stale" for e in hooked)
    assert {"stuck_parts", "patterns", "verdict_reason", "title", "time"} <= set(hooked[0])
    printed = [line for line in watch.lines if json.loads(line)["event"] == "finding"]
    assert lines_of(out) == [line.rstrip("\n") for line in printed]  # one schema: the same line
    assert "nothing is changed" in "".join(watch.err_lines)


def test_a_slow_hook_is_killed_a_failing_one_reported_and_the_watch_goes_on(tmp_path: Path) -> None:
    """A hook that sleeps (with a child) past ``--exec-timeout`` is killed with its process
    group and reported, while the watch keeps looking: the next session's finding is printed
    while the slow hook still runs; a hook that exits 1 is reported with its stderr; exit 1.
    Costs one timeout (8 s, long enough that a loaded machine still prints the next finding
    before it ends)."""
    db = tmp_path / "hooked.db"
    slow, fails = build(db, ["slow one", "fails loudly"])
    out = tmp_path / "hook.jsonl"
    pids_file = Path(f"{out}.pids")
    with WatchProcess(db, "--exec", hook_command(out), "--exec-timeout", "8s", "--json") as watch:
        crash(db, slow, 1)
        watch.until(pids_file.exists, "the slow hook started")
        hook_pid, child_pid = (int(p) for p in pids_file.read_text().split())
        crash(db, fails, 2)
        watch.until(lambda: any(e.get("id") == fails for e in watch.events()), "the second finding")
        events = watch.events()
        assert not any(e["event"].startswith("hook-") for e in events), events  # it looked on meanwhile
        assert not gone(hook_pid), "the slow hook ended before the watch printed the next finding"

        watch.until(lambda: any(e["event"] == "hook-timeout" for e in watch.events()), "the timeout")
        watch.until(lambda: any(e["event"] == "hook-failed" for e in watch.events()), "the failure")
        assert watch.stop() == 1
    (timeout,) = [e for e in watch.events() if e["event"] == "hook-timeout"]
    assert timeout["for_event"] == "finding" and timeout["for_id"] == slow, timeout
    assert "killed after 8s" in timeout["message"]
    assert gone(hook_pid) and gone(child_pid)  # its whole process group
    (failed,) = [e for e in watch.events() if e["event"] == "hook-failed"]
    assert failed["for_id"] == fails and failed["exit_code"] == 1, failed
    assert failed["message"].endswith("exited 1: boom"), failed
    assert [json.loads(line)["id"] for line in lines_of(out)] == [slow, fails]  # in order


def test_no_shell_and_database_text_only_on_stdin(tmp_path: Path) -> None:
    """``;``, ``$(...)``, backquotes and ``|`` in CMD reach the hook as literal arguments (no
    shell runs them); a hostile title (shell syntax, an escape sequence, a newline) reaches it
    only inside the JSON on stdin, never in argv or the environment. The hook exits 1: the
    text output reports it on stderr as one safe line, and the watch exits 1."""
    title = "fails $(touch HOOKPWNED) `id`\x1b]0;HOOKOWNED\x07\nline two"
    db = tmp_path / "hooked.db"
    (sid,) = build(db, [title])
    out = tmp_path / "hook.jsonl"
    pwned = tmp_path / "pwned"
    cmd = hook_command(out) + f" ; touch {pwned}1 $(touch {pwned}2) `touch {pwned}3` | tee {pwned}4"
    with WatchProcess(db, "--exec", cmd) as watch:
        crash(db, sid, 1)
        watch.until(lambda: any("exited 1" in line for line in watch.stderr_lines()), "the report")
        assert watch.stop() == 1
    (record,) = [json.loads(line) for line in lines_of(Path(f"{out}.record"))]
    literal = [";", "touch", f"{pwned}1", "$(touch", f"{pwned}2)", "`touch", f"{pwned}3`", "|", "tee", f"{pwned}4"]
    assert record["argv"][1:] == [str(out), *literal]
    assert not any(Path(f"{pwned}{n}").exists() for n in range(1, 5))
    assert json.loads(record["stdin"])["title"] == title
    for text in [*record["argv"], *record["env"].keys(), *record["env"].values()]:
        assert "HOOKPWNED" not in text and "HOOKOWNED" not in text, text
    report = next(line for line in watch.err_lines if "exited 1" in line)
    assert f"hook for finding {sid} exited 1: boom" in report
    assert "\x1b" not in "".join(watch.lines + watch.err_lines)
    assert "\\x1b]0;HOOKOWNED" in "".join(watch.lines)  # the finding's text line, escaped


@pytest.mark.parametrize(
    ("cmd", "says"),
    [("", "the command is empty"), ("'open", "cannot split"), ("no-such-hook-ocinspect", "command not found")],
)
def test_an_unusable_exec_is_a_usage_error(tmp_path: Path, cmd: str, says: str) -> None:
    db = tmp_path / "hooked.db"
    build(db, ["x"])
    proc = subprocess.run(
        [sys.executable, "-m", "inspector", "--db", str(db), "watch", "--exec", cmd],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_full_queue_is_counted_and_reported_by_the_watch(tmp_path: Path) -> None:
    """103 sessions already stuck when the watch starts, a hook that waits for a gate: one runs,
    100 wait (the queue), the others are dropped (2, or 3 when the worker had not taken the
    first yet) and said in one ``hook-dropped`` line; once the gate opens, the queued ones run
    in order (a shell loop: a few ms each) and the watch exits 1."""
    db = tmp_path / "hooked.db"
    with DatabaseBuilder(db, seed=9) as b:
        project = b.project(DIR, created=T0)
        for i in range(103):
            sid = b.session(project_id=project, title=f"s{i}", directory=DIR, created=T0 + i)
            b.assistant_message(sid, b.user_message(sid, "p", created=T0 + i), created=T0 + i)
    gate, ran = tmp_path / "gate", tmp_path / "ran"
    hook = f"sh -c 'while [ ! -e {gate} ]; do sleep 0.05; done; cat >> {ran}'"
    with WatchProcess(db, "--exec", hook, "--exec-timeout", "60s", "--json") as watch:
        watch.until(lambda: any(e["event"] == "hook-dropped" for e in watch.events()), "the drop")
        (dropped,) = [e for e in watch.events() if e["event"] == "hook-dropped"]
        gate.touch()
        watch.until(has_lines(ran, 103 - dropped["dropped"]), "the queued hooks")
        assert watch.stop() == 1
    assert dropped["dropped"] in (2, 3) and "queue of 100 was full" in dropped["message"], dropped
    assert [e["event"] for e in watch.events()].count("hook-dropped") == 1  # said once
    findings = [e["id"] for e in watch.events() if e["event"] == "finding"]
    hooked = [json.loads(line)["id"] for line in lines_of(ran)]
    assert len(findings) == 103 and len(hooked) == 103 - dropped["dropped"]
    assert hooked == [sid for sid in findings if sid in set(hooked)]  # in the order found


# the two examples of docs/guide/stuck.md, as printed there ---------------------------------------


def doc_block(containing: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", (REPO / "docs" / "guide" / "stuck.md").read_text(), re.DOTALL)
    (block,) = [b for b in blocks if containing in b]
    return str(block)


@pytest.mark.skipif(shutil.which("jq") is None, reason="the documented script needs jq")
def test_the_documented_notification_script(tmp_path: Path) -> None:
    """The ``notify-send`` script, with a stand-in ``notify-send`` on PATH that records its
    arguments: the title arrives as HTML-escaped text with no control character."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    notified = tmp_path / "notified.jsonl"
    for name, text in (
        ("ocinspect-notify", doc_block("notify-send")),
        (
            "notify-send",
            f"#!{sys.executable}\nimport json, sys\n"
            f"open({str(notified)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n",
        ),
    ):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    db = tmp_path / "hooked.db"
    (sid,) = build(db, ["a <b>bold</b> \x1b]0;t\x07 & more"])
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    with WatchProcess(db, "--exec", "ocinspect-notify", env=env) as watch:
        crash(db, sid, 1)
        watch.until(has_lines(notified, 1), "the notification")
        assert watch.stop() == 0, watch.err_lines
    (argv,) = [json.loads(line) for line in lines_of(notified)]
    assert argv == [
        "--app-name=ocinspect",
        "OpenCode session",
        "finding stale  a &lt;b&gt;bold&lt;/b&gt;  ]0;t  &amp; more",
    ]


class Receiver(http.server.BaseHTTPRequestHandler):
    """A webhook endpoint: records each POST; answers 500 to a session titled ``fails…``."""

    got: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.got.append((self.headers["Content-Type"], body))
        self.send_response(500 if b'"title": "fails' in body else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.skipif(shutil.which("curl") is None, reason="the documented command runs curl")
def test_the_documented_curl_webhook(tmp_path: Path) -> None:
    """The ``curl`` command line, its URL pointed at a loopback receiver: the body is the
    finding's ``watch --json`` line; an HTTP 500 is a failed hook (``--fail``: exit 22)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    documented = shlex.split(doc_block("--data-binary").replace("\\\n", " "))
    assert documented[:2] == ["ocinspect", "watch"]
    args = [a.replace("https://hooks.example.com/ocinspect", url) for a in documented[2:]]
    db = tmp_path / "hooked.db"
    fine, fails = build(db, ["fine", "fails here"])
    try:
        with WatchProcess(db, *args, "--json") as watch:
            crash(db, fine, 1)
            crash(db, fails, 2)
            watch.until(lambda: any(e["event"] == "hook-failed" for e in watch.events()), "the failed post")
            assert watch.stop() == 1
    finally:
        server.shutdown()
    printed = {json.loads(line)["id"]: line.rstrip("\n") for line in watch.lines if '"event": "finding"' in line}
    assert [(kind, json.loads(body)["id"]) for kind, body in Receiver.got] == [
        ("application/json", fine),
        ("application/json", fails),
    ]
    assert Receiver.got[0][1].decode().rstrip("\n") == printed[fine]
    (failed,) = [e for e in watch.events() if e["event"] == "hook-failed"]
    assert (failed["for_id"], failed["exit_code"]) == (fails, 22), failed


# the runner and the findings in core ------------------------------------------------------------


def test_a_full_queue_drops_and_counts(tmp_path: Path) -> None:
    """One hook blocked, a queue of two: the third and fourth events waiting are dropped,
    counted and reported once; what was queued still runs, in order."""
    out, gate = tmp_path / "hook.jsonl", tmp_path / "gate"
    runner = HookRunner(hook_argv(hook_command(out, "--gate", str(gate))), timeout_ms=60_000, queue_size=2)
    assert runner.submit('{"n": 1}', "finding", "ses_1")
    deadline = time.monotonic() + WAIT
    while not Path(f"{out}.started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    accepted = [runner.submit(f'{{"n": {n}}}', "finding", f"ses_{n}") for n in (2, 3, 4, 5)]
    assert accepted == [True, True, False, False]
    (dropped,) = runner.problems()
    assert dropped.kind == "hook-dropped" and dropped.dropped == 2 and "2 event(s)" in dropped.message
    assert runner.problems() == []  # said once
    gate.touch()
    assert runner.close() == []
    assert [json.loads(line)["n"] for line in lines_of(out)] == [1, 2, 3]
    assert runner.ran == 3 and runner.dropped == 2


def test_close_kills_a_hook_still_running_and_drops_the_rest(tmp_path: Path) -> None:
    out, gate = tmp_path / "hook.jsonl", tmp_path / "gate"
    runner = HookRunner(hook_argv(hook_command(out, "--gate", str(gate))), timeout_ms=60_000, queue_size=5)
    runner.submit("{}", "aborted", "ses_a")
    runner.submit("{}", "finding", "ses_b")
    deadline = time.monotonic() + WAIT
    while not Path(f"{out}.started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    problems = runner.close(grace_ms=200)
    kinds = {p.kind: p for p in problems}
    assert kinds["hook-timeout"].for_id == "ses_a" and "watch stopped" in kinds["hook-timeout"].message
    assert kinds["hook-dropped"].dropped == 1 and "watch stopped first" in kinds["hook-dropped"].message
    assert runner.ran == 1


def test_findings_are_new_once_and_again_after_they_settle(tmp_path: Path) -> None:
    """The watchdog with no threshold (observe-only) reports each stuck session once; a session
    that finished and got stuck again is new again. OpenCode pinned offline (no server asked)."""
    db = tmp_path / "hooked.db"
    a, b = build(db, ["a", "b"])
    clock = iter(range(T0 + 10_000_000, T0 + 20_000_000, 1000))
    dog = Watchdog(db, abort_after_ms=None, clock=lambda: next(clock), detect_live=lambda *_: OFFLINE)
    try:

        def found() -> list[str]:
            return [e.finding.id for e in dog.poll() if e.finding is not None]

        assert found() == []
        crash(db, a, 1)
        crash(db, b, 2)
        assert found() == [a, b]  # oldest stuck first
        assert found() == []
        writer_finish(db, a)
        assert found() == []
        crash(db, a, 3)
        assert found() == [a]
    finally:
        dog.close()


def writer_finish(db: Path, sid: str) -> None:
    subprocess.run([sys.executable, str(WRITER), str(db), "finish", sid], check=True, capture_output=True, timeout=60)


def test_stale_beside_a_running_opencode_is_reported_on_the_second_look(tmp_path: Path) -> None:
    """A turn OpenCode reports idle a few ms before its rows finish must not fire a hook: beside
    a running OpenCode, a session is reported ``stale`` only when the next look says so too."""
    db = tmp_path / "hooked.db"
    (a,) = build(db, ["a"])
    crash(db, a, 1)
    running = LiveStatus(running=True, detail="a server answered")
    unknown = LiveStatus(running=None, detail="could not tell")
    answers = iter([running, running, running, unknown, running])
    dog = Watchdog(db, abort_after_ms=None, clock=lambda: T0, detect_live=lambda *_: next(answers))
    try:

        def found() -> list[str]:
            return [e.finding.id for e in dog.poll() if e.finding is not None]

        assert found() == []
        assert found() == [a]
        assert found() == []
        assert found() == []  # unknown: neither says nor forgets
        assert found() == []
    finally:
        dog.close()


def test_the_hook_environment_is_the_watch_s_own(tmp_path: Path) -> None:
    """Nothing is added to the hook's environment (database text could only come in that way)."""
    out = tmp_path / "hook.jsonl"
    runner = HookRunner(hook_argv(hook_command(out)), timeout_ms=60_000)
    runner.submit('{"title": "t"}', "finding", "ses_x")
    assert runner.close() == []
    (record,) = [json.loads(line) for line in lines_of(Path(f"{out}.record"))]
    coerced = {"LC_CTYPE"}  # Python itself may set it in the hook (PEP 538), not the watch
    assert {k: v for k, v in record["env"].items() if k not in coerced} == {
        k: v for k, v in os.environ.items() if k not in coerced
    }

"""Machinery shared by the fault suites: real ``ocinspect`` subprocesses on real SQLite files.

Nothing here mocks the database or the core. Every helper either runs ``python3 -m inspector``
as a child process (which the tests may ``kill -9``: only children they started), or reads a
database through Python's own ``sqlite3`` so the checks are independent of the code under test.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.synth.builder import DatabaseBuilder
from tests.support.databases import copy_db as copy_db  # re-exported to the fault suites
from tests.support.databases import sha256 as sha256

PYTHON = sys.executable
HERE = Path(__file__).resolve().parent
T0 = 1795530000000  # 2026-11-24, the fixtures' era
TABLES = ("session", "message", "part")
KEYS = {"session": "id", "message": "id", "part": "id"}


# ---- counts ------------------------------------------------------------------------------------


def full_run() -> bool:
    return os.environ.get("OCINSPECT_FULL_RELIABILITY", "") not in ("", "0")


def count(name: str, default: int, full: int) -> int:
    """``OCINSPECT_<NAME>`` if set, else the full figure under ``OCINSPECT_FULL_RELIABILITY=1``."""
    value = os.environ.get(f"OCINSPECT_{name}")
    if value:
        return max(1, int(value))
    return full if full_run() else default


def base_seed() -> int:
    """``OCINSPECT_SEED`` replays a run; otherwise a fresh seed, printed by every failure."""
    value = os.environ.get("OCINSPECT_SEED")
    return int(value) if value else random.SystemRandom().randrange(1 << 31)


# ---- running the CLI ---------------------------------------------------------------------------


def cli_env(state: Path, home: Path | None = None, **extra: str) -> dict[str, str]:
    """The child's environment: its own journal (XDG_STATE_HOME) and home, no OPENCODE_DB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENCODE_", "OCINSPECT_DEBUG"))}
    env.update(
        XDG_STATE_HOME=str(state),
        HOME=str(home or state.parent),
        XDG_DATA_HOME=str((home or state.parent) / "data"),
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONIOENCODING="utf-8",
        COLUMNS="1000",  # CLI text is wrapped to it: assertions read whole sentences
    )
    env.update(extra)
    return env


def cli_args(db: Path | str, *args: str) -> list[str]:
    return [PYTHON, "-m", "inspector", "--db", str(db), *args]


@dataclass
class Ran:
    args: list[str]
    code: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __str__(self) -> str:  # shown by assertion failures
        return f"{' '.join(self.args[2:])} -> exit {self.code}\nstdout: {self.out[-2000:]}\nstderr: {self.err[-2000:]}"


def run_cli(
    db: Path | str,
    *args: str,
    state: Path,
    env: Mapping[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Ran:
    argv = cli_args(db, *args)
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        capture_output=True,
        env=dict(env) if env is not None else cli_env(state),
        preexec_fn=preexec,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )
    return Ran(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def invoke_cli(db: Path | str, *args: str, state: Path) -> Ran:
    """``run_cli`` in-process: the same click command and error handling (``Group.invoke``), with
    the child's environment, no interpreter start-up. For the cases of a behaviour whose real
    process is proven once by ``run_cli``; an exception escaping the command fails the test."""
    from tests.support.cli import invoke

    argv = ["--db", str(db), *args]
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("OPENCODE_", "OCINSPECT_DEBUG"))}
    env.update(cli_env(state))
    started = time.monotonic()
    result = invoke(*argv, env=env)
    return Ran(
        ["(in-process)", "inspector", *argv],
        result.exit_code,
        result.stdout_bytes,
        result.stderr_bytes,
        time.monotonic() - started,
    )


def assert_one_error_line(ran: Ran, fragment: str, code: int = 2) -> str:
    """Exit ``code``, exactly one ``ocinspect: error:`` line on stderr containing ``fragment``."""
    assert ran.code == code, ran
    assert b"Traceback" not in ran.stderr and b"Traceback" not in ran.stdout, ran
    lines = ran.err.strip("\n").split("\n")
    assert len(lines) == 1, ran
    assert lines[0].startswith("ocinspect: error: "), ran
    assert fragment in lines[0], (fragment, ran)
    assert_no_terminal_controls(ran.stderr)
    return lines[0]


def assert_no_terminal_controls(data: bytes) -> None:
    """No C0/C1 control bytes (ESC, BEL, NUL, CR…) may reach the terminal; tab/newline are fine."""
    text = data.decode("utf-8", "replace")
    bad = sorted({c for c in text if (ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F})
    assert not bad, f"control characters {bad!r} in output: {text[:500]!r}"


# ---- databases ---------------------------------------------------------------------------------


def connect(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` through a normal read-write open (recovers WAL / hot journal)."""
    conn = connect(path)
    try:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


Dump = dict[tuple[str, str], tuple[Any, ...]]


def dump(path: Path) -> Dump:
    """Every row of session/message/part, all columns, keyed by (table, id)."""
    conn = connect(path)
    try:
        out: Dump = {}
        for table in TABLES:
            cursor = conn.execute(f"SELECT * FROM {table}")
            names = [d[0] for d in cursor.description]
            for row in cursor:
                out[(table, row[names.index("id")])] = tuple(zip(names, row, strict=True))
        return out
    finally:
        conn.close()


def columns(row: tuple[Any, ...], wanted: Iterable[str]) -> dict[str, Any]:
    values = dict(row)
    return {c: values[c] for c in wanted}


def stuck_part_count(path: Path) -> int:
    conn = connect(path)
    try:
        return int(
            conn.execute(
                "SELECT count(*) FROM part WHERE json_extract(data,'$.type')='tool' "
                "AND json_extract(data,'$.state.status') IN ('pending','running')"
            ).fetchone()[0]
        )
    finally:
        conn.close()


def set_journal_mode(path: Path, mode: str) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0] == mode.lower()
    finally:
        conn.close()


@dataclass
class Layout:
    """What a built database holds: stuck sessions (by unit), their stuck parts and messages."""

    units: list[list[str]] = field(default_factory=list)  # parent first, then subagent children
    stuck_parts: dict[str, set[str]] = field(default_factory=dict)  # session -> part ids
    unfinished: dict[str, set[str]] = field(default_factory=dict)  # session -> message ids
    compacting: set[str] = field(default_factory=set)
    clean: list[str] = field(default_factory=list)

    @property
    def stuck_sessions(self) -> list[str]:
        return [s for unit in self.units for s in unit]


def build_stuck_db(
    path: Path, stuck: int, *, clean: int = 0, seed: int = 1, parts: int = 2, events: bool = False
) -> Layout:
    """``stuck`` stuck units of every repairable pattern (some are subagent chains), plus
    ``clean`` finished sessions, all through the real-DDL builder."""
    layout = Layout()
    directory = "/home/dev/src/webapp"
    with DatabaseBuilder(path, seed=seed, events=events) as b:
        project = b.project(directory, created=T0)

        def session(i: int, title: str, **kw: Any) -> tuple[str, str, int]:
            t = T0 + i * 10_000
            sid = b.session(project_id=project, title=title, directory=directory, created=t, **kw)
            user = b.user_message(sid, f"prompt {i}", created=t + 100)
            return sid, user, t

        def remember(sid: str, message: str | None, part_ids: Iterable[str]) -> None:
            layout.stuck_parts.setdefault(sid, set()).update(part_ids)
            layout.unfinished.setdefault(sid, set())
            if message:
                layout.unfinished[sid].add(message)

        for i in range(stuck):
            kind = i % 10
            if kind == 0:  # subagent chain: a stuck task in the parent, a stuck bash in the child
                sid, user, t = session(i, f"chain {i}")
                msg = b.assistant_message(sid, user, created=t + 200, directory=directory)
                child_t = t + 400
                child = b.session(
                    project_id=project,
                    title=f"subagent of {i}",
                    directory=directory,
                    created=child_t,
                    parent_id=sid,
                    agent="general",
                )
                task = b.tool_part(
                    msg,
                    sid,
                    tool="task",
                    status="running",
                    created=t + 300,
                    tool_input={"description": f"sub {i}", "prompt": "go", "subagent_type": "general"},
                    metadata={"sessionId": child},
                )
                cuser = b.user_message(child, "go", created=child_t + 50, agent="general")
                cmsg = b.assistant_message(child, cuser, created=child_t + 100, agent="general")
                cbash = b.tool_part(
                    cmsg,
                    child,
                    tool="bash",
                    status="running",
                    created=child_t + 150,
                    tool_input={"command": f"make test-{i}"},
                )
                remember(sid, msg, [task])
                remember(child, cmsg, [cbash])
                layout.units.append([sid, child])
            elif kind == 1:  # compaction left marked
                sid, user, t = session(i, f"compacting {i}", time_compacting=T0 + i * 10_000 + 150)
                msg = b.assistant_message(sid, user, created=t + 200, summary=True)
                remember(sid, msg, [])
                layout.compacting.add(sid)
                layout.units.append([sid])
            elif kind == 2:  # stuck part inside a finished turn
                sid, user, t = session(i, f"leftover {i}")
                msg = b.assistant_message(sid, user, created=t + 200, completed=t + 900, finish="stop")
                part = b.tool_part(
                    msg, sid, tool="read", status="running", created=t + 300, tool_input={"filePath": f"/etc/file{i}"}
                )
                remember(sid, None, [part])
                layout.units.append([sid])
            elif kind == 3:  # pending placeholder (crash while arguments streamed)
                sid, user, t = session(i, f"pending {i}")
                msg = b.assistant_message(sid, user, created=t + 200)
                part = b.tool_part(msg, sid, tool="bash", status="pending", created=t + 300)
                remember(sid, msg, [part])
                layout.units.append([sid])
            else:  # crash orphan with several tools in flight
                sid, user, t = session(i, f"orphan {i}")
                msg = b.assistant_message(sid, user, created=t + 200)
                b.part(msg, sid, {"type": "text", "text": f"Running step {i}"}, created=t + 250)
                ids = []
                for k in range(parts):
                    status = "running" if k % 2 == 0 else "pending"
                    ids.append(
                        b.tool_part(
                            msg,
                            sid,
                            tool="bash",
                            status=status,
                            created=t + 300 + k,
                            tool_input={"command": f"sleep {600 + k}"} if status == "running" else None,
                            metadata={"output": "partial\n"},
                        )
                    )
                remember(sid, msg, ids)
                layout.units.append([sid])
        for j in range(clean):
            sid, user, t = session(stuck + j, f"finished {j}")
            msg = b.assistant_message(sid, user, created=t + 200, completed=t + 800, finish="stop")
            b.tool_part(
                msg, sid, tool="bash", status="completed", created=t + 300, tool_input={"command": "ls"}, output="a\nb"
            )
            layout.clean.append(sid)
    return layout


# ---- the undo journal, read independently of inspector.core.repair.journal --------------------------------


@dataclass
class Journal:
    path: Path
    header: dict[str, Any] | None
    units: dict[int, dict[str, Any]]
    committed: set[int]
    skipped: dict[int, str]
    done: bool
    torn: bool


def read_journal(path: Path) -> Journal:
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = None
    units: dict[int, dict[str, Any]] = {}
    committed: set[int] = set()
    skipped: dict[int, str] = {}
    done = torn = False
    for number, line in enumerate(lines):
        try:
            record = json.loads(line)
        except ValueError:
            assert number == len(lines) - 1, f"{path}: damaged line {number + 1} that is not the last"
            torn = True
            break
        kind = record["kind"]
        if kind == "run":
            header = record
        elif kind == "unit":
            units[record["index"]] = record
        elif kind == "committed":
            committed.add(record["index"])
        elif kind == "skipped":
            skipped[record["index"]] = record["reason"]
        elif kind == "done":
            done = True
    return Journal(path, header, units, committed, skipped, done, torn)


def journals(state: Path) -> list[Path]:
    runs = state / "ocinspect" / "runs"
    return sorted(runs.glob("*.jsonl")) if runs.is_dir() else []


def unit_state(final: Dump, unit: dict[str, Any]) -> str:
    """``after`` if every row of the unit holds its after-image, ``before`` if every row holds its
    before-image, otherwise a description of the mix (a half-repaired unit)."""
    states = []
    for change in unit["changes"]:
        row = final.get((change["table"], change["id"]))
        if row is None:
            states.append("gone")
            continue
        if columns(row, change["after"]) == change["after"]:
            states.append("after")
        elif columns(row, change["before"]) == change["before"]:
            states.append("before")
        else:
            states.append("other")
    kinds = set(states)
    return kinds.pop() if len(kinds) == 1 else f"mixed{sorted(states)}"


# ---- privileges ------------------------------------------------------------------------------

_PR_CAPBSET_DROP = 24
_DAC_CAPS = (1, 2, 3)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
NOBODY = 65534


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _without_dac_caps() -> None:
    """Root minus the capabilities that ignore permission bits (dropped from the bounding set
    before exec, so the new program never has them): file modes then bind root too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in _DAC_CAPS:
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@functools.cache
def unprivileged() -> tuple[str, Callable[[], None] | None]:
    """How to run ocinspect so that permission bits apply: ``(description, preexec_fn)``.

    Not root: nothing to do. Root: the ``nobody`` user if it can run this Python and import the
    installed package; otherwise (e.g. the interpreter lives under a 0700 /root) root without
    CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH/CAP_FOWNER. Neither possible: an error, never a skip.
    """
    if os.geteuid() != 0:
        return "unprivileged user", None
    probe = [PYTHON, "-c", "import inspector.cli"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}
    failures = []
    for name, fn in (("user nobody", _as_nobody), ("root without DAC capabilities", _without_dac_caps)):
        try:
            proc = subprocess.run(probe, preexec_fn=fn, env=env, capture_output=True, timeout=60, cwd="/")
        except (OSError, subprocess.SubprocessError) as exc:
            failures.append(f"{name}: {exc}")
            continue
        if proc.returncode == 0:
            return name, fn
        failures.append(f"{name}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    raise RuntimeError("cannot run ocinspect without root's permission override: " + " | ".join(failures))


# ---- figures ---------------------------------------------------------------------------------


def report(suite: str, **figures: Any) -> None:
    """Print a suite's measured figures; also append them (JSON line) to
    ``$OCINSPECT_RELIABILITY_REPORT`` when set, which is how RESULTS.md is produced."""
    figures = {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}
    line = json.dumps({"suite": suite, **figures}, sort_keys=True)
    print(f"\n[reliability] {line}")
    target = os.environ.get("OCINSPECT_RELIABILITY_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

"""Every stuck shape of the v2 reference's table, made fresh by the real 2.1.2 in ONE database.

Most shapes do not disturb each other, so one sandbox holds them all and one recovery, one
service boot and one undo check them together (each boot of OpenCode is the cost of an e2e test).
The order is what lets them share the file:

1. a 1.18.33 server crashed mid-``bash`` (imported-from-v1): v2 imports a v1 file only at its
   first boot, so the v1 rows come first;
2. a plain 2.x server (that first boot: it imports) crashed mid-``subagent``;
3. the service boots on it: it re-runs the parent and only releases the child (orphan-child),
   the re-run is interrupted; a new turn in the same service, then ``opencode service stop``
   mid-tool (graceful-stop). Every later service boot re-runs every claimed root session, so
   this is the only boot before the crashes below;
4. one plain server runs bash, pending, question, ask, queued and task side by side and is
   ``kill -9``'d once (a plain server never sweeps, so the claims above and below stay);
5. ``opencode run --standalone`` crashed mid-``shell``.

``exhausted`` is not here: its eleven boots each re-run every claim in the file, so it would
have to come before all of the above (see ``test_v2_recover_every_shape.py``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import harness as h
from . import harness_v2 as v2

ASK_COMMAND = "seq *"  # only the STREAM scenario's loop runs `seq`: only that session is asked
STREAM = "STREAM please"
PENDING = "PENDING please"
INBOX = (("QUICK steer one", "steer"), ("TEXT queued two", "queue"))

CRASH = frozenset({"claim-orphan", "crash-orphan"})


@dataclass
class Shapes:
    """What the sandbox holds: each stuck session's shape and the patterns ocinspect must name."""

    patterns: dict[str, frozenset[str]] = field(default_factory=dict)  # stuck session -> patterns
    shape: dict[str, str] = field(default_factory=dict)  # stuck session -> shape name
    rerun: set[str] = field(default_factory=set)  # sessions the next service boot would re-run
    # what scan still names once repaired: the prompts stranded in an inbox wait for the next
    # prompt (only a prompt delivers them; ocinspect does not send one)
    after_repair: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def add(self, name: str, sid: str, patterns: frozenset[str], *, rerun: bool) -> None:
        self.patterns[sid] = patterns
        self.shape[sid] = name
        if rerun:
            self.rerun.add(sid)


def build(sb: v2.V2Sandbox, v1_binary: Path) -> Shapes:
    """Make every shape (but ``exhausted``) in ``sb``'s database; every process ends killed."""
    shapes = Shapes()
    imported = import_a_v1_crash(sb, v1_binary)
    shapes.add("imported-from-v1", imported, frozenset({"imported-unfinished", "interrupted-turn"}), rerun=False)
    orphan_and_stop(sb, shapes)
    crash_side_by_side(sb, shapes)
    standalone = crash_standalone(sb)
    shapes.add("standalone", standalone, CRASH, rerun=True)
    return shapes


def import_a_v1_crash(sb: v2.V2Sandbox, v1_binary: Path) -> str:
    """(imported-from-v1) 1.18.33 killed mid-``bash``; the next 2.x boot imports the file in place."""
    old = sb.start_opencode(v1_binary)
    sid = old.create_session()
    old.prompt_async(sid, v2.LONG_SHELL)
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=45, server=old)
    old.kill()
    return sid


def orphan_and_stop(sb: v2.V2Sandbox, shapes: Shapes) -> None:
    """(orphan-child, graceful-stop) A plain server (importing the v1 file) killed mid-subagent,
    the service booted on it; then a turn of its own stopped with ``opencode service stop``."""
    crash = v2.crash_plain_mid_subagent(sb)
    if v2.kv_rows(sb.db_path).get("migration.v1-v2") != {"phase": "completed"}:
        raise h.HarnessError("the first 2.x boot did not import the v1 database")
    assert crash.child_id is not None
    service = v2.orphan_the_child(sb, crash)
    shapes.add("orphan-child", crash.child_id, frozenset({"orphan-child", "crash-orphan"}), rerun=False)
    stopped = v2.stop_service_mid_tool(sb, service)
    shapes.add("graceful-stop", stopped.session_id, frozenset({"claim-kept"}), rerun=True)


def crash_side_by_side(sb: v2.V2Sandbox, shapes: Shapes) -> None:
    """(bash, pending, question, ask, queued, task) one plain server runs them all at once, then
    ``kill -9``. Only `seq` asks for permission, so only the ``ask`` session waits for a person."""
    sb.write_config(shell={"*": "allow", ASK_COMMAND: "ask"})
    db = sb.db_path
    server = sb.start_plain()
    prompts = {
        "bash": v2.LONG_SHELL,
        "pending": PENDING,
        "question": v2.QUESTION,
        "ask": STREAM,
        "queued": v2.LONG_SHELL,
        "task": v2.SUBAGENT,
    }
    sids = {name: server.open_session(sb.project) for name in prompts}
    for name, text in prompts.items():
        server.prompt(sids[name], text)
    v2.wait_tool(db, sids["bash"])
    v2.wait_tool(db, sids["pending"], statuses=("streaming",))
    v2.wait_tool(db, sids["question"], name="question")
    v2.wait_permission(server, sids["ask"])
    v2.wait_tool(db, sids["queued"])
    for text, delivery in INBOX:
        server.prompt(sids["queued"], text, delivery=delivery)
    v2.wait_db(db, lambda: len(v2.inbox_rows(db, sids["queued"])) == len(INBOX), what="the prompts in the inbox")
    v2.wait_tool(db, sids["task"], name="subagent")
    child = v2.wait_child(db, sids["task"])
    v2.wait_tool(db, child)
    server.kill()

    shapes.add("bash", sids["bash"], CRASH, rerun=True)
    shapes.add("pending", sids["pending"], frozenset({"claim-orphan", "pending-placeholder"}), rerun=True)
    shapes.add("question", sids["question"], frozenset({"claim-orphan", "question-wait"}), rerun=True)
    shapes.add("ask", sids["ask"], CRASH, rerun=True)
    shapes.add("queued", sids["queued"], CRASH | {"inbox-stranded"}, rerun=True)
    shapes.after_repair[sids["queued"]] = ("unfixable", ["inbox-stranded"])
    shapes.add("task", sids["task"], CRASH | {"subagent-chain"}, rerun=True)
    shapes.add("task child", child, CRASH | {"subagent-chain"}, rerun=False)


def crash_standalone(sb: v2.V2Sandbox) -> str:
    """(``opencode run --standalone``) its private plain server killed mid-``shell``."""
    db = sb.db_path
    known = {s["id"] for s in v2.session_rows(db)}
    log = (sb.root / "run-standalone.log").open("wb")
    try:
        proc = subprocess.Popen(
            [str(sb.binary), "run", "--standalone", v2.LONG_SHELL],
            cwd=sb.project,
            env=sb.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=h.die_with_parent(),
        )

        def running() -> str | None:
            if proc.poll() is not None:
                raise h.HarnessError(f"opencode run --standalone exited {proc.returncode}")
            fresh = [s["id"] for s in v2.session_rows(db) if s["id"] not in known]
            return next(
                (sid for sid in fresh if any(t["state"]["status"] == "running" for t in v2.tool_items(db, sid))), None
            )

        sid: str = v2.wait_db(db, running, what="opencode run --standalone's shell running")
        h.kill_tree(proc.pid)
        proc.wait(timeout=10)
    finally:
        log.close()
    return sid


# --------------------------------------------------------------------------------------------
# Checking a database against what was built
# --------------------------------------------------------------------------------------------


def dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, exactly as stored (the byte-exact undo compares these)."""
    with v2.ro(db) as conn:
        conn.row_factory = None
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: list(conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')) for t in names}  # noqa: S608


def copy_database(source: Path, dest: Path) -> None:
    """``dest`` becomes ``source``'s rows (SQLite's backup: the WAL included), no side files left."""
    for stale in (dest, Path(f"{dest}-wal"), Path(f"{dest}-shm")):
        stale.unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    out = sqlite3.connect(str(dest), timeout=10)
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()


def scan(sb: v2.V2Sandbox, tier: str = "--full") -> dict[str, Any]:
    """``ocinspect scan --json`` on the sandbox's database (``tier``: ``--full`` or ``--quick``)."""
    done = sb.ocinspect("scan", tier, "--json")
    if done.returncode not in (0, 1):
        raise h.HarnessError(f"ocinspect scan exited {done.returncode}: {done.stderr}")
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def found_patterns(report: dict[str, Any]) -> dict[str, frozenset[str]]:
    return {s["id"]: frozenset(s["patterns"]) for s in report["sessions"]}


def active_tools(db: Path) -> dict[str, list[str]]:
    """Sessions with a tool still ``running``/``streaming``: their tool names."""
    found = {
        s["id"]: [t["name"] for t in v2.tool_items(db, s["id"]) if t["state"]["status"] in v2.ACTIVE_TOOL]
        for s in v2.session_rows(db)
    }
    return {sid: names for sid, names in found.items() if names}


def claimed(db: Path) -> set[str]:
    return {s["id"] for s in v2.session_rows(db) if s["time_suspended"] is not None}


def synthetic_counts(db: Path) -> dict[str, int]:
    """Restart notices per session: a service boot re-running a turn adds one."""
    return {s["id"]: [r["type"] for r in v2.message_rows(db, s["id"])].count("synthetic") for s in v2.session_rows(db)}


def ended_turns(db: Path, sid: str) -> list[str]:
    """The outcomes of the session's ``idle`` rows, in order."""
    return [str(r["data"].get("outcome")) for r in v2.message_rows(db, sid) if r["type"] == "idle"]

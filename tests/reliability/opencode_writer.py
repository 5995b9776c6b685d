"""A stand-in for a live OpenCode server writing to its database (run as a separate process).

Modes:

``race``  Plays OpenCode finishing the tools it was running while ocinspect works on the same
          file: for a random half of the stuck sessions it streams progress into running parts
          (``metadata.output`` grows, ``time_updated`` bumps), turns pending parts into running
          ones, completes parts with an output, closes the turn once its last tool finished, and
          appends new user messages. Every write is one ``BEGIN IMMEDIATE`` transaction, like
          OpenCode's (``busy_timeout=5000``); a part is only advanced while it is still
          ``pending``/``running``. Each committed row is logged (JSON lines) *after* COMMIT, so the
          log holds exactly the writes that must survive.

          With ``--events`` every write also goes through OpenCode 1.18's sync log as
          ``SyncEvent.run`` does: the row, an ``event`` row with the next ``seq`` and the
          ``event_sequence`` bump, all in the write's transaction.

``hold``  Takes the write lock (``BEGIN IMMEDIATE`` or ``EXCLUSIVE``), writes an unrelated row,
          prints ``locked``, holds it for ``--hold`` seconds (negative: until a line arrives on
          stdin), optionally only once an ocinspect run's journal appeared (``--after-journal``),
          then commits or rolls back and keeps using the database: the app keeps running.

``touch`` Plays OpenCode touching rows an ocinspect run repaired (for the undo suites).

Only ``sqlite3`` and ``json``: this is deliberately not ocinspect's code.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

STUCK = ("pending", "running")


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class Log:
    def __init__(self, path: str) -> None:
        self.handle = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (open for the writer's life)

    def row(self, conn: sqlite3.Connection, table: str, row_id: str, action: str) -> None:
        if table == "session":
            (updated,) = conn.execute("SELECT time_updated FROM session WHERE id = ?", (row_id,)).fetchone()
            self.pending.append(
                {"kind": "write", "action": action, "table": table, "id": row_id, "time_updated": updated}
            )
            return
        data, updated = conn.execute(f"SELECT data, time_updated FROM {table} WHERE id = ?", (row_id,)).fetchone()
        self.pending.append(
            {"kind": "write", "action": action, "table": table, "id": row_id, "data": data, "time_updated": updated}
        )

    def begin(self) -> None:
        self.pending: list[dict[str, Any]] = []

    def commit(self) -> None:
        for record in self.pending:
            self.handle.write(dumps(record) + "\n")
        self.pending = []

    def note(self, **record: object) -> None:
        self.handle.write(dumps(record) + "\n")


EVENTS = False  # set by --events: log every write like OpenCode 1.18
_event_counter = 0


def log_event(conn: sqlite3.Connection, table: str, row_id: str) -> None:
    """Append the row's event (its whole data as the payload) and bump the session's seq."""
    global _event_counter
    if not EVENTS:
        return
    if table == "part":
        sid, mid, data = conn.execute(
            "SELECT session_id, message_id, data FROM part WHERE id = ?", (row_id,)
        ).fetchone()
        kind = "message.part.updated.1"
        payload = {
            "sessionID": sid,
            "part": {"id": row_id, "sessionID": sid, "messageID": mid, **json.loads(data)},
            "time": now_ms(),
        }
    else:
        sid, data = conn.execute("SELECT session_id, data FROM message WHERE id = ?", (row_id,)).fetchone()
        kind = "message.updated.1"
        payload = {"sessionID": sid, "info": {"id": row_id, "sessionID": sid, **json.loads(data)}}
    row = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (sid,)).fetchone()
    if row is None:
        return  # OpenCode never starts a log for a session it did not create with one
    seq = row[0] + 1
    _event_counter += 1
    t = now_ms()
    event_id = (
        f"evt_{(t * 0x1000 + _event_counter % 0xFFF) & 0xFFFFFFFFFFFF:012x}w{os.getpid():06d}{_event_counter:07d}"
    )
    conn.execute("UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (seq, sid))
    conn.execute(
        "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?,?,?,?,?)",
        (event_id, sid, seq, kind, dumps(payload)),
    )


def stuck_parts(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return list(
        conn.execute(
            "SELECT id, message_id, session_id FROM part WHERE json_extract(data,'$.type')='tool' "
            "AND json_extract(data,'$.state.status') IN ('pending','running') ORDER BY time_created, id"
        )
    )


def advance(conn: sqlite3.Connection, log: Log, part_id: str, step: str, rng: random.Random) -> None:
    """One OpenCode write on a part (and its message when the turn ends), in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    log.begin()
    try:
        data_text, message_id = conn.execute("SELECT data, message_id FROM part WHERE id = ?", (part_id,)).fetchone()
        data = json.loads(data_text)
        state = data.get("state") or {}
        if state.get("status") not in STUCK:
            conn.execute("ROLLBACK")
            log.note(
                kind="saw",
                id=part_id,
                status=state.get("status"),
                interrupted=bool((state.get("metadata") or {}).get("interrupted")),
            )
            return
        t = now_ms()
        if step == "progress":
            if state["status"] == "pending":  # the model finished streaming the arguments
                state = {
                    "status": "running",
                    "input": {"command": f"echo {rng.random()}"},
                    "time": {"start": t},
                    "metadata": {"output": ""},
                }
            else:
                metadata = dict(state.get("metadata") or {})
                metadata["output"] = str(metadata.get("output", "")) + f"line {rng.randrange(10**6)}\n"
                state = {**state, "metadata": metadata}
        else:
            start = (state.get("time") or {}).get("start", t)
            state = {
                "status": "completed",
                "input": state.get("input") or {},
                "output": f"done {rng.randrange(10**6)}",
                "title": "finished",
                "metadata": {"exit": 0},
                "time": {"start": start, "end": t},
            }
        data["state"] = state
        conn.execute("UPDATE part SET data = ?, time_updated = ? WHERE id = ?", (dumps(data), t, part_id))
        log_event(conn, "part", part_id)
        log.row(conn, "part", part_id, step)
        if step == "complete":
            left = conn.execute(
                "SELECT count(*) FROM part WHERE message_id = ? AND json_extract(data,'$.type')='tool' "
                "AND json_extract(data,'$.state.status') IN ('pending','running')",
                (message_id,),
            ).fetchone()[0]
            mdata = json.loads(conn.execute("SELECT data FROM message WHERE id = ?", (message_id,)).fetchone()[0])
            if left == 0 and (mdata.get("time") or {}).get("completed") is None:
                mdata["time"] = {**(mdata.get("time") or {}), "completed": t}
                mdata["finish"] = "tool-calls"
                conn.execute(
                    "UPDATE message SET data = ?, time_updated = ? WHERE id = ?", (dumps(mdata), t, message_id)
                )
                log_event(conn, "message", message_id)
                log.row(conn, "message", message_id, "finish-turn")
        conn.execute("COMMIT")
        log.commit()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def append_message(conn: sqlite3.Connection, log: Log, session_id: str, rng: random.Random, n: int) -> None:
    """A new user prompt (message + text part), as OpenCode writes one."""
    t = now_ms()
    mid = f"msg_{t * 0x1000 & 0xFFFFFFFFFFFF:012x}w{os.getpid():06d}{n:07d}"
    pid = f"prt_{t * 0x1000 & 0xFFFFFFFFFFFF:012x}w{os.getpid():06d}{n:07d}"
    conn.execute("BEGIN IMMEDIATE")
    log.begin()
    try:
        conn.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?,?,?,?,?)",
            (
                mid,
                session_id,
                t,
                t,
                dumps(
                    {
                        "role": "user",
                        "time": {"created": t},
                        "agent": "build",
                        "model": {"providerID": "fakeprov", "modelID": "fake"},
                    }
                ),
            ),
        )
        conn.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES (?,?,?,?,?,?)",
            (pid, mid, session_id, t, t, dumps({"type": "text", "text": f"are you there? {rng.random()}"})),
        )
        log_event(conn, "message", mid)
        log_event(conn, "part", pid)
        log.row(conn, "message", mid, "append")
        log.row(conn, "part", pid, "append")
        conn.execute("COMMIT")
        log.commit()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def wait_for_journal(runs: Path, timeout: float = 60.0) -> None:
    """Until an ocinspect run's journal exists: it is written just before the first commit."""
    deadline = time.monotonic() + timeout
    while not (runs.is_dir() and any(runs.iterdir())):
        if time.monotonic() > deadline:
            print("no journal appeared", flush=True)
            sys.exit(4)
        time.sleep(0.0002)


def race(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    conn = connect(args.db)
    log = Log(args.log)
    parts = stuck_parts(conn)
    sessions = sorted({s for _, _, s in parts})
    live = set(rng.sample(sessions, k=max(1, int(len(sessions) * args.fraction))))
    queues: list[list[tuple[str, str]]] = []
    for part_id, _message, session_id in parts:
        if session_id in live:
            steps = ["progress"] * rng.randrange(0, 3) + ["complete"]
            queues.append([(part_id, step) for step in steps])
    print("ready", flush=True)
    if args.after_journal:
        wait_for_journal(Path(args.after_journal))
    time.sleep(args.delay)
    log.note(kind="start", time=now_ms())
    appended = 0
    while queues:
        queue = rng.choice(queues)
        part_id, step = queue.pop(0)
        if not queue:
            queues.remove(queue)
        advance(conn, log, part_id, step, rng)
        if rng.random() < 0.2:
            appended += 1
            append_message(conn, log, rng.choice(sessions), rng, appended)
        time.sleep(rng.uniform(0, args.max_sleep))
    log.note(kind="end", time=now_ms())
    conn.close()


def hold(args: argparse.Namespace) -> None:
    conn = connect(args.db)
    if args.after_journal:
        wait_for_journal(Path(args.after_journal))
        time.sleep(args.delay)
    conn.execute(f"BEGIN {args.lock}")
    t = now_ms()
    session_id = conn.execute("SELECT id FROM session ORDER BY time_created LIMIT 1").fetchone()[0]
    conn.execute(
        "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?,?,?,?,?)",
        (f"msg_holder{t}", session_id, t, t, dumps({"role": "user", "time": {"created": t}})),
    )
    print(f"locked {t}", flush=True)
    if args.hold < 0:
        sys.stdin.readline()  # held until the test says so (it has seen ocinspect give up)
    else:
        time.sleep(args.hold)
    conn.execute("ROLLBACK" if args.rollback else "COMMIT")
    # The app keeps running: after ocinspect gave up it can still write.
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE session SET time_updated = time_updated + 1 WHERE id = ?", (session_id,))
    conn.execute("ROLLBACK" if args.rollback else "COMMIT")
    print("released", flush=True)
    conn.close()


def touch(args: argparse.Namespace) -> None:
    """Modify (or delete) the given rows the way OpenCode would, one transaction each."""
    conn = connect(args.db)
    log = Log(args.log)
    rng = random.Random(args.seed)
    targets = [line.split() for line in Path(args.targets).read_text().splitlines() if line.strip()]
    print("ready", flush=True)
    time.sleep(args.delay)
    for table, row_id, how in targets:
        conn.execute("BEGIN IMMEDIATE")
        log.begin()
        t = now_ms()
        if how == "delete":
            if table == "message":
                conn.execute("DELETE FROM part WHERE message_id = ?", (row_id,))
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
            log.pending.append({"kind": "delete", "table": table, "id": row_id})
        elif how == "bump":
            conn.execute(f"UPDATE {table} SET time_updated = ? WHERE id = ?", (t + 1, row_id))
            log.row(conn, table, row_id, how)
        else:  # "edit": OpenCode rewrites the JSON (e.g. a retried tool now completed)
            data = json.loads(conn.execute(f"SELECT data FROM {table} WHERE id = ?", (row_id,)).fetchone()[0])
            if table == "part":
                data["state"] = {
                    "status": "completed",
                    "input": data.get("state", {}).get("input", {}),
                    "output": f"retried {rng.random()}",
                    "title": "",
                    "metadata": {},
                    "time": {"start": t - 5, "end": t},
                }
            else:
                data["finish"] = "stop"
                data.pop("error", None)
            conn.execute(f"UPDATE {table} SET data = ?, time_updated = ? WHERE id = ?", (dumps(data), t, row_id))
            log.row(conn, table, row_id, how)
        conn.execute("COMMIT")
        log.commit()
        time.sleep(rng.uniform(0, args.max_sleep))
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("race", "hold", "touch"))
    parser.add_argument("db")
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fraction", type=float, default=0.5)
    parser.add_argument("--max-sleep", type=float, default=0.004)
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--lock", choices=("IMMEDIATE", "EXCLUSIVE"), default="IMMEDIATE")
    parser.add_argument("--rollback", action="store_true")
    parser.add_argument("--after-journal")
    parser.add_argument("--targets")
    parser.add_argument("--events", action="store_true")
    args = parser.parse_args()
    global EVENTS
    EVENTS = args.events
    {"race": race, "hold": hold, "touch": touch}[args.mode](args)


if __name__ == "__main__":
    main()

"""A second process that writes a database the way OpenCode 1.18 does (plain sqlite3, no ocinspect).

``python tests/opencode_writer.py DB ACTION SESSION_ID [T]``, one ``BEGIN IMMEDIATE`` transaction,
rows with ``time_updated`` set and, when the file has OpenCode's sync log, the event OpenCode's
``SyncEvent.run`` appends for each row. Prints the ids it wrote as JSON. Actions:

- ``crash``: a new prompt and an assistant turn left unfinished with a ``bash`` part running
  (what OpenCode killed mid-tool leaves);
- ``turn``: a new prompt and an assistant turn that finished, with a completed ``read``;
- ``stuck``: a ``bash`` part left running inside the session's newest *finished* assistant turn;
- ``compact``: the session marked compacting (``session.time_compacting``, as OpenCode before
  1.18 set it) and a user message with a ``compaction`` part;
- ``finish``: every unfinished assistant message of the session gets ``time.completed`` and its
  pending/running tool parts end ``error`` (OpenCode's own cleanup).

Only ``sqlite3``, ``json`` and ``random``: nothing of ocinspect is imported.
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
import sys
from typing import Any

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def new_id(prefix: str, when: int, rnd: random.Random) -> str:
    return f"{prefix}_{(when * 0x1000) & 0xFFFFFFFFFFFF:012x}" + "".join(rnd.choice(BASE62) for _ in range(14))


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Writer:
    def __init__(self, path: str, t: int) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.t = t
        self.rnd = random.Random()  # ids unique across calls; their time prefix orders them
        self.logged = (
            self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event'").fetchone()
            is not None
        )
        self.written: list[str] = []

    def tick(self) -> int:
        self.t += 7
        return self.t

    def log(self, session_id: str, kind: str, payload: dict[str, Any]) -> None:
        if not self.logged:
            return
        row = self.conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (session_id,)).fetchone()
        seq = 0 if row is None else row[0] + 1
        self.conn.execute(
            "INSERT INTO event_sequence (aggregate_id, seq) VALUES (?, ?) "
            "ON CONFLICT(aggregate_id) DO UPDATE SET seq = excluded.seq",
            (session_id, seq),
        )
        self.conn.execute(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?, ?, ?, ?, ?)",
            (new_id("evt", self.t, self.rnd), session_id, seq, kind, dumps(payload)),
        )

    def message(self, session_id: str, data: dict[str, Any], message_id: str | None = None) -> str:
        t = self.tick()
        mid = message_id or new_id("msg", t, self.rnd)
        self.conn.execute(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, time_updated = excluded.time_updated",
            (mid, session_id, t, t, dumps(data)),
        )
        self.log(
            session_id,
            "message.updated.1",
            {"sessionID": session_id, "info": {**data, "id": mid, "sessionID": session_id}},
        )
        self.written.append(mid)
        return mid

    def part(self, session_id: str, message_id: str, data: dict[str, Any], part_id: str | None = None) -> str:
        t = self.tick()
        pid = part_id or new_id("prt", t, self.rnd)
        self.conn.execute(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET data = excluded.data, time_updated = excluded.time_updated",
            (pid, message_id, session_id, t, t, dumps(data)),
        )
        self.log(
            session_id,
            "message.part.updated.1",
            {
                "sessionID": session_id,
                "part": {**data, "id": pid, "sessionID": session_id, "messageID": message_id},
                "time": t,
            },
        )
        self.written.append(pid)
        return pid

    def prompt_and_reply(self, sid: str, *, finished: bool) -> str:
        user = self.message(
            sid,
            {
                "role": "user",
                "time": {"created": self.t},
                "agent": "build",
                "model": {"providerID": "fakeprov", "modelID": "fake"},
            },
        )
        reply = {
            "role": "assistant",
            "time": {"created": self.t},
            "parentID": user,
            "modelID": "fake",
            "providerID": "fakeprov",
            "mode": "build",
            "agent": "build",
            "path": {"cwd": "/w", "root": "/w"},
            "cost": 0,
            "tokens": {"input": 1, "output": 1, "reasoning": 0, "cache": {"read": 0, "write": 0}},
        }
        return (
            self.message(sid, reply)
            if not finished
            else self.message(sid, {**reply, "time": {"created": self.t, "completed": self.t + 5}, "finish": "stop"})
        )

    def running_bash(self, sid: str, mid: str) -> str:
        return self.part(
            sid,
            mid,
            {
                "type": "tool",
                "callID": f"call_{self.t}",
                "tool": "bash",
                "state": {
                    "status": "running",
                    "input": {"command": "sleep 600", "description": "wait"},
                    "time": {"start": self.t},
                    "metadata": {"output": ""},
                },
            },
        )

    def crash(self, sid: str) -> None:
        mid = self.prompt_and_reply(sid, finished=False)
        self.part(sid, mid, {"type": "step-start"})
        self.running_bash(sid, mid)

    def turn(self, sid: str) -> None:
        mid = self.prompt_and_reply(sid, finished=True)
        self.part(
            sid,
            mid,
            {
                "type": "tool",
                "callID": f"call_{self.t}",
                "tool": "read",
                "state": {
                    "status": "completed",
                    "input": {"filePath": "/etc/hosts"},
                    "output": "ok",
                    "title": "hosts",
                    "metadata": {},
                    "time": {"start": self.t, "end": self.t + 1},
                },
            },
        )
        self.part(sid, mid, {"type": "text", "text": "done"})

    def stuck(self, sid: str) -> None:
        (mid,) = self.conn.execute(
            "SELECT id FROM message WHERE session_id = ? AND json_extract(data, '$.role') = 'assistant' "
            "AND json_extract(data, '$.time.completed') IS NOT NULL ORDER BY time_created DESC, id DESC LIMIT 1",
            (sid,),
        ).fetchone()
        self.running_bash(sid, mid)

    def compact(self, sid: str) -> None:
        t = self.tick()
        self.conn.execute("UPDATE session SET time_compacting = ?, time_updated = ? WHERE id = ?", (t, t, sid))
        cols = [c[1] for c in self.conn.execute("PRAGMA table_info(session)")]
        row = dict(zip(cols, self.conn.execute("SELECT * FROM session WHERE id = ?", (sid,)).fetchone(), strict=True))
        self.log(
            sid,
            "session.updated.1",
            {
                "sessionID": sid,
                "info": {
                    "id": sid,
                    "title": row["title"],
                    "directory": row["directory"],
                    "time": {"created": row["time_created"], "updated": t, "compacting": t},
                },
            },
        )
        user = self.message(
            sid,
            {
                "role": "user",
                "time": {"created": self.t},
                "agent": "build",
                "model": {"providerID": "fakeprov", "modelID": "fake"},
            },
        )
        self.part(sid, user, {"type": "compaction", "auto": True})

    def reopen(self, sid: str) -> None:
        """The newest finished turn made unfinished again, in place (its rowid kept): what a
        foreign restore of an old row does, written with its event as OpenCode writes."""
        mid, raw = self.conn.execute(
            "SELECT id, data FROM message WHERE session_id = ? AND json_extract(data, '$.role') = 'assistant' "
            "AND json_extract(data, '$.time.completed') IS NOT NULL ORDER BY time_created DESC, id DESC LIMIT 1",
            (sid,),
        ).fetchone()
        data = json.loads(raw)
        data["time"] = {"created": data["time"]["created"]}
        data.pop("finish", None)
        self.message(sid, data, message_id=mid)

    def finish(self, sid: str) -> None:
        rows = self.conn.execute(
            "SELECT id, data FROM message WHERE session_id = ? AND json_extract(data, '$.role') = 'assistant' "
            "AND json_extract(data, '$.time.completed') IS NULL",
            (sid,),
        ).fetchall()
        for mid, raw in rows:
            for pid, praw in self.conn.execute("SELECT id, data FROM part WHERE message_id = ?", (mid,)).fetchall():
                data = json.loads(praw)
                state = data.get("state") or {}
                if data.get("type") == "tool" and state.get("status") in ("pending", "running"):
                    start = (state.get("time") or {}).get("start", self.t)
                    data["state"] = {
                        "status": "error",
                        "input": state.get("input") or {},
                        "error": "Tool execution aborted",
                        "metadata": state.get("metadata") or {},
                        "time": {"start": start, "end": self.t},
                    }
                    self.part(sid, mid, data, part_id=pid)
            data = json.loads(raw)
            data["time"] = {**data.get("time", {}), "completed": self.t}
            data.setdefault("error", {"name": "MessageAbortedError", "data": {"message": "Aborted"}})
            self.message(sid, data, message_id=mid)


def main(argv: list[str]) -> int:
    path, action, session_id = argv[:3]
    writer = Writer(path, int(argv[3]) if len(argv) > 3 else 1_796_000_000_000)
    writer.conn.execute("BEGIN IMMEDIATE")
    getattr(writer, action)(session_id)
    writer.conn.execute("COMMIT")
    writer.conn.close()
    print(json.dumps(writer.written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

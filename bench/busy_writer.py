#!/usr/bin/env python3
"""Plays an OpenCode that is working: commits part rows the way OpenCode 1.18 does.

Every write is one ``BEGIN IMMEDIATE`` transaction that changes one ``part`` row and, when the
database has OpenCode's sync event log, appends the matching ``message.part.updated.1`` event
and bumps ``event_sequence`` (as ``SyncEvent.run`` does). Only ``sqlite3`` and ``json``: this is
deliberately not ocinspect's code. Used by ``bench/run.py`` (the watch-mode rows) and by the
TUI pilot tests (a second process writing to a real file).

Modes (each prints one JSON line per commit: ``{"part", "action", "at"}``, ``at`` = time.time()
right after COMMIT):

``work``      one agent turn, as OpenCode runs it: a user prompt and an unfinished assistant
              message in the newest session, then for ``--seconds`` one part row every
              ``--every`` s (a tool inserted ``pending``, then ``running``, then ``completed``; a
              text part inserted, then streamed), and the assistant message completed at the end.
``stuck``     insert one ``running`` tool part (``--part`` id) into the newest finished turn.
``complete``  complete the tool part ``--part``.

A ``running`` part in a finished turn is a stuck tool (``parts-in-finished-turn``); during
``work`` the session is listed for the whole turn (its assistant message is unfinished).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class Writer:
    def __init__(self, path: str, message: str | None) -> None:
        self.conn = connect(path)
        row = self.conn.execute(
            "SELECT id, session_id FROM message WHERE id = ?"
            if message
            else "SELECT id, session_id FROM message WHERE json_extract(data, '$.role') = 'assistant' "
            "AND json_extract(data, '$.time.completed') IS NOT NULL ORDER BY rowid DESC LIMIT 1",
            (message,) if message else (),
        ).fetchone()
        if row is None:
            raise SystemExit("busy_writer: no finished assistant message to write into")
        self.message, self.session = row
        self.events = (
            self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event'").fetchone()
            is not None
        )
        self.counter = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        stamp = (now_ms() * 4096 + self.counter) & 0xFFFF_FFFF_FFFF
        return f"{prefix}_{stamp:012x}bz{os.getpid() % 1_000_000:06d}{self.counter % 1_000_000:06d}"

    def commit(self, part_id: str, data: dict, action: str, table: str = "part") -> None:
        t = now_ms()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if table == "message":
                sql = (
                    "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (?, ?, ?, ?, ?)"
                    if action == "insert"
                    else "UPDATE message SET data = ?, time_updated = ? WHERE id = ?"
                )
                args = (part_id, self.session, t, t, dumps(data)) if action == "insert" else (dumps(data), t, part_id)
            elif action == "insert":
                sql = (
                    "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) "
                    "VALUES (?, ?, ?, ?, ?, ?)"
                )
                args = (part_id, self.message, self.session, t, t, dumps(data))
            else:
                sql, args = "UPDATE part SET data = ?, time_updated = ? WHERE id = ?", (dumps(data), t, part_id)
            self.conn.execute(sql, args)
            if self.events:
                self.log_event(part_id, data, t, table)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        print(json.dumps({"part": part_id, "action": action, "table": table, "at": time.time()}), flush=True)

    def log_event(self, row_id: str, data: dict, t: int, table: str) -> None:
        row = self.conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (self.session,)).fetchone()
        seq = 0 if row is None else row[0] + 1
        self.conn.execute(
            "INSERT INTO event_sequence (aggregate_id, seq) VALUES (?, ?) "
            "ON CONFLICT(aggregate_id) DO UPDATE SET seq = excluded.seq",
            (self.session, seq),
        )
        if table == "message":
            kind, payload = (
                "message.updated.1",
                {"sessionID": self.session, "info": {**data, "id": row_id, "sessionID": self.session}},
            )
        else:
            kind, payload = (
                "message.part.updated.1",
                {
                    "sessionID": self.session,
                    "part": {**data, "id": row_id, "sessionID": self.session, "messageID": self.message},
                    "time": t,
                },
            )
        self.conn.execute(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (?, ?, ?, ?, ?)",
            (self.new_id("evt"), self.session, seq, kind, dumps(payload)),
        )

    @staticmethod
    def running(start: int) -> dict:
        return {
            "type": "tool",
            "tool": "bash",
            "callID": f"call_busy{start}",
            "state": {
                "status": "running",
                "input": {"command": "npm test", "description": "Run tests"},
                "title": "Run tests",
                "metadata": {"output": ""},
                "time": {"start": start},
            },
        }

    @staticmethod
    def completed(start: int) -> dict:
        return {
            "type": "tool",
            "tool": "bash",
            "callID": f"call_busy{start}",
            "state": {
                "status": "completed",
                "input": {"command": "npm test", "description": "Run tests"},
                "output": "ok",
                "title": "Run tests",
                "metadata": {"output": "ok", "exit": 0},
                "time": {"start": start, "end": now_ms()},
            },
        }

    def start_of(self, part_id: str) -> int:
        row = self.conn.execute(
            "SELECT json_extract(data, '$.state.time.start') FROM part WHERE id = ?", (part_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] else now_ms()

    def work(self, seconds: float, every: float) -> None:
        """One agent turn: prompt, unfinished reply, a part row every ``every`` s, reply done."""
        started = now_ms()
        self.message = user = self.new_id("msg")
        self.commit(user, {"role": "user", "time": {"created": started}, "agent": "build"}, "insert", "message")
        self.message = reply = self.new_id("msg")
        info = {
            "parentID": user,
            "role": "assistant",
            "mode": "build",
            "agent": "build",
            "modelID": "fake",
            "providerID": "fakeprov",
            "time": {"created": now_ms()},
        }
        self.commit(reply, info, "insert", "message")
        until = time.monotonic() + seconds
        tick = time.monotonic()
        tool: tuple[str, int] | None = None
        text: str | None = None
        step = 0
        while time.monotonic() < until:
            tick += every
            time.sleep(max(0.0, tick - time.monotonic()))
            phase = step % 5
            if phase == 0:
                tool = (self.new_id("prt"), now_ms())
                pending = {
                    "type": "tool",
                    "tool": "bash",
                    "callID": f"call_busy{tool[1]}",
                    "state": {"status": "pending", "input": {}, "raw": ""},
                }
                self.commit(tool[0], pending, "insert")
            elif phase == 1 and tool:
                self.commit(tool[0], self.running(tool[1]), "update")
            elif phase == 2 and tool:
                self.commit(tool[0], self.completed(tool[1]), "update")
            elif phase == 3:
                text = self.new_id("prt")
                self.commit(text, {"type": "text", "text": "Tests pass"}, "insert")
            elif text:
                self.commit(text, {"type": "text", "text": "Tests pass; all done."}, "update")
            step += 1
        self.commit(
            reply, {**info, "time": {**info["time"], "completed": now_ms()}, "finish": "stop"}, "update", "message"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("db")
    ap.add_argument("mode", choices=("work", "stuck", "complete"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--every", type=float, default=0.5)
    ap.add_argument("--part", help="part id (stuck: the id to insert; complete: the part to complete)")
    ap.add_argument("--message", help="assistant message to write into (default: the newest finished one)")
    args = ap.parse_args(argv)
    writer = Writer(args.db, args.message)
    if args.mode == "work":
        writer.work(args.seconds, args.every)
    elif args.mode == "stuck":
        writer.commit(args.part or writer.new_id("prt"), writer.running(now_ms()), "insert")
    else:
        if not args.part:
            ap.error("complete needs --part")
        writer.commit(args.part, writer.completed(writer.start_of(args.part)), "update")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a running OpenCode 2.1.2 plain server does with rows written behind its back.

This decides whether ocinspect may ever write a v2 database while v2 runs on it. Measured (and
recorded in ``docs/design/records.md``, "OpenCode 2.1.2 measured by the e2e harness"): the
server keeps no copy of sessions, messages or the seq counter between requests. It reads each
from the database when it needs it, so a write behind its back is seen at once and kept. When it
next writes a message it re-reads the row, changes its fields and writes it whole, which drops
any JSON key its schema does not know.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
import time
from pathlib import Path
from typing import Any

import pytest

from . import harness_v2 as v2

pytestmark = pytest.mark.e2e


def idle_rows(db: Path, session_id: str) -> list[dict[str, Any]]:
    return [r for r in v2.message_rows(db, session_id) if r["type"] == "idle"]


def next_message_id(db: Path, session_id: str, now_ms: int) -> str:
    """An ``msg_`` id that sorts after every id of the session (12 hex digits of time, then
    14 random characters, as 2.x mints them)."""
    newest = max(r["id"] for r in v2.message_rows(db, session_id))
    stamp = max(int(newest[4:16], 16) + 1, now_ms * 0x1000)
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(14))
    return f"msg_{stamp:012x}{tail}"


def reference_repair(db: Path, session_id: str) -> int:
    """The repair the v2 reference says 2.x accepts, written test-only with plain SQL (the
    product's repair lives in inspector/core); returns the seq of the ``idle`` row it adds."""
    now = int(time.time() * 1000)
    idle_id = next_message_id(db, session_id, now)
    conn = sqlite3.connect(str(db), timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("BEGIN IMMEDIATE")
        (seq,) = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (session_id,)).fetchone()
        rows = conn.execute(
            "SELECT id, data FROM session_message WHERE session_id = ? AND type = 'assistant'", (session_id,)
        ).fetchall()
        for message_id, raw in rows:
            data = json.loads(raw)
            if data["time"].get("completed"):
                continue
            for item in data.get("content") or []:
                if item.get("type") != "tool" or item["state"]["status"] not in v2.ACTIVE_TOOL:
                    continue
                old = item["state"]
                item["state"] = {
                    "status": "error",
                    "input": old.get("input") or {},
                    "error": {"type": "aborted", "message": f"Tool execution interrupted: {item['name']}"},
                    **({"metadata": old["metadata"]} if old.get("metadata") else {}),
                }
                item["executed"] = bool(item.get("executed"))
                item["time"]["completed"] = now
                seq += 1
            data["time"]["completed"] = now
            data.pop("retry", None)
            conn.execute(
                "UPDATE session_message SET data = ?, time_updated = ? WHERE id = ?",
                (json.dumps(data, separators=(",", ":")), now, message_id),
            )
        seq += 1
        idle = {"time": {"created": now}, "outcome": "interrupted"}
        conn.execute(
            "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data)"
            " VALUES (?, ?, 'idle', ?, ?, ?, ?)",
            (idle_id, session_id, seq, now, now, json.dumps(idle, separators=(",", ":"))),
        )
        conn.execute("UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (seq, session_id))
        conn.execute(
            "UPDATE session_v2 SET time_suspended = NULL, resume_attempts = 0, idle_outcome = 'interrupted',"
            " time_idle = max(?, coalesce(time_idle, 0) + 1) WHERE id = ?",
            (now, session_id),
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return int(seq)


def test_idle_session_rows_written_behind_are_read_and_kept(sandbox: v2.V2Sandbox) -> None:
    """A finished session: a title, a message's text, and an ``idle`` row with the seq counter
    advanced, all written behind the plain server. Its API shows them at once; its next turn
    takes the next seq after ours (no collision) and leaves our rows as they are."""
    db = sandbox.db_path
    server = sandbox.start_plain()
    sid = server.open_session(sandbox.project)
    server.prompt(sid, v2.QUICK)
    v2.wait_db(db, lambda: idle_rows(db, sid), what="the first turn's idle row")

    reply = [r for r in v2.message_rows(db, sid) if r["type"] == "assistant"][-1]
    reply["data"]["content"][0]["text"] = "edited behind"
    v2.write(db, "UPDATE session_message SET data = ? WHERE id = ?", (json.dumps(reply["data"]), reply["id"]))
    v2.write(db, "UPDATE session_v2 SET title = 'written behind' WHERE id = ?", (sid,))
    assert server.session(sid)["title"] == "written behind"
    shown = [m for m in server.list_messages(sid) if m["id"] == reply["id"]]
    assert shown[0]["content"][0]["text"] == "edited behind"

    counter = v2.event_seq(db, sid)
    assert counter is not None
    now = int(time.time() * 1000)
    idle = {"time": {"created": now}, "outcome": "interrupted"}
    v2.write(
        db,
        "INSERT INTO session_message (id, session_id, type, seq, time_created, time_updated, data)"
        " VALUES (?, ?, 'idle', ?, ?, ?, ?)",
        (next_message_id(db, sid, now), sid, counter + 1, now, now, json.dumps(idle)),
    )
    v2.write(db, "UPDATE event_sequence SET seq = ? WHERE aggregate_id = ?", (counter + 1, sid))
    v2.write(db, "UPDATE session_v2 SET idle_outcome = 'interrupted', time_idle = ? WHERE id = ?", (now, sid))
    assert server.session(sid)["outcome"] == "interrupted"

    server.prompt(sid, v2.TEXT)
    v2.wait_db(db, lambda: len(idle_rows(db, sid)) == 3, what="the next turn's idle row")
    rows = v2.message_rows(db, sid)
    new_user = [r for r in rows if r["type"] == "user"][-1]
    assert new_user["seq"] > counter + 1  # the counter was re-read, not cached
    assert [r["data"]["outcome"] for r in idle_rows(db, sid)] == ["succeeded", "interrupted", "succeeded"]
    assert v2.session_row(db, sid)["title"] == "written behind"
    assert next(r for r in rows if r["id"] == reply["id"])["data"]["content"][0]["text"] == "edited behind"


def test_live_message_written_behind_is_reread_and_unknown_keys_dropped(sandbox: v2.V2Sandbox) -> None:
    """A turn running in the server: known fields written into its assistant row survive the
    server's next write of that row (it re-reads it), a key its schema lacks does not; a claim
    cleared behind it changes nothing (the running turn lives in the server's memory)."""
    db = sandbox.db_path
    server = sandbox.start_plain()
    sid = server.open_session(sandbox.project)
    server.prompt(sid, v2.LONG_SHELL)
    tool = v2.wait_tool(db, sid)
    row = next(r for r in v2.message_rows(db, sid) if r["id"] == tool["message_id"])
    data = row["data"]
    data["agent"] = "plan"
    data["content"][0]["state"]["input"]["command"] = "sleep 601"
    data["ocinspect_marker"] = 1
    v2.write(db, "UPDATE session_message SET data = ? WHERE id = ?", (json.dumps(data), row["id"]))

    # the claim cleared behind it too: whether a turn runs is the server's memory, not this column
    v2.write(db, "UPDATE session_v2 SET time_suspended = NULL WHERE id = ?", (sid,))
    assert sid in server.active()
    assert server.interrupt(sid) is True  # the server now writes tool.failed and step.failed into that row
    v2.wait_db(db, lambda: idle_rows(db, sid), what="the interrupted turn's idle row")
    after = next(r for r in v2.message_rows(db, sid) if r["id"] == tool["message_id"])["data"]
    assert after["time"].get("completed")
    assert after["content"][0]["state"]["status"] == "error"
    assert after["agent"] == "plan"
    assert after["content"][0]["state"]["input"] == {"command": "sleep 601"}
    assert "ocinspect_marker" not in after
    row_after = v2.session_row(db, sid)
    assert (row_after["time_suspended"], row_after["idle_outcome"]) == (None, "interrupted")


def test_reference_repair_behind_a_running_plain_server(sandbox: v2.V2Sandbox) -> None:
    """A crashed session repaired (the reference's repair) while a plain server runs on the
    database and has already loaded it: the server takes the repair as its own, and a new
    prompt runs one turn and calls the model once."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    sid = crash.session_id
    server = sandbox.start_plain()
    assert len(server.list_messages(sid)) == 2  # loaded before the write
    idle_seq = reference_repair(db, sid)

    assert server.session(sid)["outcome"] == "interrupted"
    assert sid not in server.active()
    shown = server.list_messages(sid)
    assert shown[0]["type"] == "idle"  # newest first
    calls = v2.model_calls(sandbox.model)
    server.prompt(sid, v2.TEXT)
    v2.wait_db(db, lambda: len(idle_rows(db, sid)) == 2, what="the new turn's idle row")
    assert v2.model_calls(sandbox.model) == calls + 1
    rows = v2.message_rows(db, sid)
    assert [r["type"] for r in rows] == ["user", "assistant", "idle", "user", "assistant", "idle"]
    assert rows[2]["seq"] == idle_seq and rows[3]["seq"] > idle_seq
    assert idle_rows(db, sid)[-1]["data"]["outcome"] == "succeeded"
    assert not [r for r in rows if r["type"] == "synthetic"]
    assert v2.session_row(db, sid)["time_suspended"] is None

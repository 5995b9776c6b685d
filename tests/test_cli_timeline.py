"""``ocinspect show ses_… --timeline`` (and ``--json``): the story, escaped, the stop marked."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.synth.builder import DatabaseBuilder
from tests.support.cli import invoke as run
from tests.support.databases import sha256

TASK_PARENT, TASK_CHILD = "ses_df18eab18ffeF8zm5QUo7WX29g", "ses_df18ea478ffedUk3exGgsWE7Dw"
TIMELINE_KEYS = {"session_id", "turns", "read_at", "sessions"}
SESSION_KEYS = {"id", "title", "parent_id", "depth", "parent_part_id", "truncated", "stop", "turns"}
STOP_KEYS = {"kind", "message_id", "part_ids", "since", "reason"}
MESSAGE_KEYS = {
    "id",
    "role",
    "time_created",
    "completed",
    "unfinished",
    "agent",
    "model",
    "finish",
    "error",
    "cost",
    "tokens",
    "summary",
    "corrupt",
    "parts",
}
PART_KEYS = {
    "id",
    "kind",
    "time_created",
    "start",
    "end",
    "duration_ms",
    "text",
    "text_chars",
    "tool",
    "status",
    "call_id",
    "title",
    "input_summary",
    "input_chars",
    "output_tail",
    "output_chars",
    "error",
    "reason",
    "tokens",
    "cost",
    "attempt",
    "child_session_id",
    "child_session_inferred",
    "interrupted",
    "stuck",
}
T0 = 1795500000000


def test_timeline_text_tells_the_chain_and_marks_the_stop(fixture_db: Callable[..., Path]) -> None:
    path = fixture_db("stuck-task")
    before = sha256(path)
    result = run("--db", str(path), "show", TASK_CHILD, "--timeline")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index(f"Session {TASK_PARENT}") < out.index(f"Session {TASK_CHILD}")  # parent first
    assert "prompt " in out and "SUBAGENT please check" in out and "run the long check" in out
    assert "▶ task running" in out and "▶ bash running" in out and "sleep 600" in out
    assert out.count("▶ stopped here: ") == 2
    assert "subagent session: " + TASK_CHILD in out
    # the story ends where it stopped (that line, wrapped to the width, is the last one)
    last, *wrapped = out.rstrip().rsplit("▶ stopped here: ", 1)[1].splitlines()
    assert last.startswith("bash left running") and all(w.startswith(" " * 8) for w in wrapped), out
    assert sha256(path) == before


def test_timeline_json_has_the_documented_keys(fixture_db: Callable[..., Path]) -> None:
    result = run("--db", str(fixture_db("stuck-task")), "show", TASK_PARENT, "--timeline", "--json", "--turns", "2")
    payload = json.loads(result.stdout)
    assert set(payload) == TIMELINE_KEYS and payload["turns"] == 2 and payload["session_id"] == TASK_PARENT
    assert [s["id"] for s in payload["sessions"]] == [TASK_PARENT, TASK_CHILD]
    for session in payload["sessions"]:
        assert set(session) == SESSION_KEYS and set(session["stop"]) == STOP_KEYS
        for turn in session["turns"]:
            assert set(turn) == {"prompt", "replies"}
            for message in [turn["prompt"], *turn["replies"]]:
                assert set(message) == MESSAGE_KEYS
                assert all(set(p) == PART_KEYS for p in message["parts"])
    child = payload["sessions"][1]
    assert child["depth"] == 1 and child["stop"]["kind"] == "tool"
    stuck = [p for t in child["turns"] for m in t["replies"] for p in m["parts"] if p["stuck"]]
    assert [p["id"] for p in stuck] == child["stop"]["part_ids"]


def test_timeline_text_from_the_database_stays_data(tmp_path: Path) -> None:
    path = tmp_path / "evil.db"
    with DatabaseBuilder(path) as b:
        project = b.project("/w", created=T0)
        sid = b.session(project_id=project, title="t\x1b]0;pwned\x07", directory="/w", created=T0)
        user = b.user_message(sid, "hi \x1b[31mred\u202e", created=T0 + 10)
        reply = b.assistant_message(sid, user, created=T0 + 20)
        b.tool_part(
            reply,
            sid,
            tool="bash",
            status="running",
            created=T0 + 30,
            tool_input={"command": "echo \x1b[2J"},
            output="out \x9b31m\n[bold]x[/bold]",
        )
    result = run("--db", str(path), "show", sid, "--timeline")
    out = result.stdout
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out and "\x07" not in out
    assert "\\x1b[31mred\\u202e" in out and "\\x9b31m" in out and "[bold]x[/bold]" in out
    assert "▶ stopped here" in out
    payload = json.loads(run("--db", str(path), "show", sid, "--timeline", "--json").stdout)
    assert payload["sessions"][0]["turns"][0]["prompt"]["parts"][0]["text"] == "hi \x1b[31mred\u202e"  # exact


def test_timeline_bad_input_is_one_line(tmp_path: Path, fixture_db: Callable[..., Path]) -> None:
    result = CliRunner().invoke(cli, ["--db", str(fixture_db("clean")), "show", "ses_nope", "--timeline"])
    assert result.exit_code == 2 and result.stderr.startswith("ocinspect: error: ") and result.stderr.count("\n") == 1
    v2 = tmp_path / "v2.db"
    conn = sqlite3.connect(v2)
    conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY); CREATE TABLE event (id TEXT);")
    conn.close()
    result = CliRunner().invoke(cli, ["--db", str(v2), "show", "ses_x", "--timeline"])
    assert result.exit_code == 2 and "OpenCode 2.x database" in result.stderr and result.stderr.count("\n") == 1
    result = CliRunner().invoke(cli, ["--db", str(v2), "show", "ses_x", "--timeline", "--turns", "0"])
    assert result.exit_code == 2 and result.stderr.startswith("ocinspect: error: ")

"""No field from the database reaches the terminal raw: every text output escapes control and
bidi characters (``text.printable``), and ``--json`` gives back the exact values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from inspector.core.text import printable
from tests.support.cli import invoke as run
from tests.support.databases import rows
from tests.support.hostile_db import PAYLOAD, HostileIds, build_hostile, hostile, unsafe_characters


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, HostileIds]:
    path = tmp_path / "hostile.db"
    return str(path), build_hostile(path)


def escaped(name: str) -> str:
    """How ``hostile(name)`` starts once escaped on one line (what a reader sees)."""
    return printable(hostile(name), single_line=True)[: len(name) + 12]


def test_printable_escapes_every_control_and_bidi_character() -> None:
    text = printable(PAYLOAD + "\t\n ok é 👍\u200d")
    assert unsafe_characters(text) == []
    assert "\\x1b]52;c;SGVsbG8=\\x07" in text and "\\x9b31m" in text and "\\x85" in text and "\\x7f" in text
    assert all(f"\\u{ord(c):04x}" in text for c in "\u202a\u202e\u2066\u2069\u200e\u200f\u061c\u2028\u2029")
    assert text.endswith("\t\n ok é 👍\u200d")  # tab, newline, letters, emoji and joiners stay


def test_safe_json_round_trips_and_shows_no_raw_control() -> None:
    from inspector.core.text import safe_json

    value = {"title": PAYLOAD, "nested": [PAYLOAD, "\\" + PAYLOAD]}
    text = safe_json(value, indent=2)
    assert unsafe_characters(text) == [] and json.loads(text) == value


@pytest.mark.parametrize(
    "command",
    [
        ["scan"],
        ["scan", "--all-sessions"],
        ["scan", "--quick"],
        ["show", "PARENT"],
        ["show", "CHILD"],
        ["recover", "--all", "--dry-run"],
        ["recover", "PARENT", "--dry-run"],
    ],
)
def test_text_output_escapes_every_field(db: tuple[str, HostileIds], command: list[str]) -> None:
    path, ids = db
    args = [{"PARENT": ids.parent, "CHILD": ids.child}.get(a, a) for a in command]
    result = run("--db", path, *args)
    assert result.exit_code in (0, 1), result.output
    assert unsafe_characters(result.stdout) == [], result.stdout[:2000]
    assert unsafe_characters(result.stderr) == []
    shown = {
        "scan": [
            "ses_parent",
            "ses_child",
            "TITLE",
            "CHILD_TITLE",
            "DIR",
            "TOOL",
            "COMMAND",
            "prt_tool",
            "prt_task",
            "DESCRIPTION",
            "CHILD_COMMAND",
            "prt_child",
        ],
        "show": [
            "ses_parent",
            "TITLE",
            "DIR",
            "msg_parent",
            "AGENT",
            "MODEL",
            "TOOL",
            "COMMAND",
            "PART_TITLE",
            "OUTPUT",
            "TASK_TITLE",
            "TASK_OUTPUT",
            "DESCRIPTION",
            "prt_task",
            "prt_tool",
            "ses_child",
        ],
        "recover": ["ses_parent", "ses_child", "prt_task", "prt_tool", "prt_child", "msg_parent", "msg_child", "TOOL"],
    }[command[0]]
    if command == ["show", "CHILD"]:
        shown = [
            "ses_child",
            "CHILD_TITLE",
            "DIR",
            "ses_parent",
            "msg_child",
            "AGENT",
            "MODEL",
            "CHILD_PART_TITLE",
            "CHILD_COMMAND",
            "CHILD_OUTPUT",
            "prt_child",
        ]
    missing = [name for name in shown if escaped(name) not in result.stdout]
    assert not missing, (missing, result.stdout[:3000])


def dump(path: str) -> list[tuple[Any, ...]]:
    return rows(Path(path), "SELECT id, data FROM part ORDER BY id") + rows(
        Path(path), "SELECT id, data FROM message ORDER BY id"
    )


def test_recovery_and_undo_output_escapes_every_field(db: tuple[str, HostileIds]) -> None:
    """Also: a NEL or U+2028 in a journaled row is data, not a line end (the journal was
    unreadable, so undo found no run)."""
    path, ids = db
    before = dump(path)
    applied = run("--db", path, "recover", "--all", "--yes")
    assert applied.exit_code == 0, applied.output
    assert escaped("ses_parent") in applied.stdout and dump(path) != before
    undone = run("--db", path, "undo")
    assert undone.exit_code == 0, undone.output
    assert dump(path) == before
    runs = run("runs")
    for result in (applied, undone, runs):
        assert unsafe_characters(result.stdout + result.stderr) == [], result.output[:2000]


@pytest.mark.parametrize(
    "command", [["scan", "--json"], ["show", "PARENT", "--json"], ["recover", "--all", "--dry-run", "--json"]]
)
def test_json_output_holds_the_exact_values_and_no_raw_control(db: tuple[str, HostileIds], command: list[str]) -> None:
    path, ids = db
    args = [ids.parent if a == "PARENT" else a for a in command]
    result = run("--db", path, *args)
    assert unsafe_characters(result.stdout) == [], result.stdout[:2000]
    payload = json.loads(result.stdout)
    if command[0] == "recover":
        assert set(payload["sessions"]) == {ids.parent, ids.child}
        return
    sessions = {s["id"]: s for s in payload["sessions"]}
    parent, child = sessions[ids.parent], sessions[ids.child]
    assert (parent["title"], parent["directory"]) == (hostile("TITLE"), "/home/dev/" + hostile("DIR"))
    assert child["parent_id"] == ids.parent and parent["children"] == [ids.child]
    assert parent["unfinished_messages"] == [ids.parent_message]
    parts = {p["id"]: p for p in parent["stuck_parts"]}
    assert parts[ids.tool_part]["tool"] == hostile("TOOL")
    assert parts[ids.tool_part]["title"] == hostile("PART_TITLE")
    assert parts[ids.task_part]["child_session_id"] == ids.child
    assert parts[ids.task_part]["message_id"] == ids.parent_message

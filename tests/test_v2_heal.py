"""The v2 heal is pure: the real 2.1.2 fixtures' rows in, the rows v2 accepts out (no writing here)."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.v2.heal import INTERRUPTED, OpenTurn, StoredMessage, heal, heal_tool
from inspector.core.db.v2.rows import claim_of

V2 = Path(__file__).parent / "fixtures" / "v2"
NOW = 1_796_700_000_000


def open_turns(name: str) -> dict[str, OpenTurn]:
    """Each session's open turn, read the way the v2 reads will (plain sqlite3, read-only)."""
    conn = sqlite3.connect(f"file:{V2 / name}?mode=ro&immutable=1", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        turns = {}
        for row in conn.execute("SELECT * FROM session_v2"):
            sid = row["id"]
            rows = list(conn.execute("SELECT * FROM session_message WHERE session_id = ? ORDER BY seq", (sid,)))
            stored = [StoredMessage(r["id"], r["seq"], json.loads(r["data"])) for r in rows if r["type"] == "assistant"]
            open_ = tuple(m for m in stored if _open(m.data))
            counter = conn.execute("SELECT seq FROM event_sequence WHERE aggregate_id = ?", (sid,)).fetchone()
            newest = max((r["seq"] for r in rows), default=0)
            closed = bool(rows) and rows[-1]["type"] == "idle"
            turns[sid] = OpenTurn(
                claim_of(dict(row), "time_suspended"), open_, closed, max(counter[0] if counter else 0, newest)
            )
        return turns
    finally:
        conn.close()


def _open(data: Mapping[str, Any]) -> bool:
    tools = [c for c in data.get("content", []) if c.get("type") == "tool"]
    return data["time"].get("completed") is None or any(t["state"]["status"] in ("running", "streaming") for t in tools)


def minter() -> Any:
    count = itertools.count(1)
    return lambda now: f"msg_{now:012x}{next(count):014d}"


def test_a_crash_mid_shell_heals_the_tool_completes_the_message_and_ends_the_turn() -> None:
    (turn,) = open_turns("v2-stuck-bash.db").values()
    healed = heal(turn, NOW, minter())
    ((_, data),) = healed.messages
    (tool,) = data["content"]
    assert tool["state"] == {
        "status": "error",
        "input": {"command": "sleep 600", "timeout": 0},
        "error": {"type": "aborted", "message": f"{INTERRUPTED}: shell"},
    }
    assert tool["time"]["completed"] == NOW and data["time"]["completed"] == NOW and tool["executed"] is False
    assert healed.tools_healed == 1 and healed.idle is not None
    assert (healed.idle.seq, healed.counter) == (turn.counter + 2, turn.counter + 2)
    assert healed.idle.data == {"time": {"created": NOW}, "outcome": "interrupted"}
    assert healed.session == {
        "time_suspended": None,
        "resume_attempts": 0,
        "idle_outcome": "interrupted",
        "time_idle": NOW,
    }


def test_a_streaming_tool_gets_an_object_for_its_empty_input() -> None:
    (turn,) = open_turns("v2-stuck-pending.db").values()
    (tool,) = heal(turn, NOW, minter()).messages[0][1]["content"]
    assert tool["state"]["input"] == {} and "metadata" not in tool["state"]


def test_the_exhausted_turn_is_healed_without_a_second_idle_row() -> None:
    (turn,) = open_turns("v2-stuck-exhausted.db").values()
    assert turn.closed and turn.claim.claimed_at is None
    healed = heal(turn, NOW, minter())
    assert healed.idle is None and healed.session == {} and healed.tools_healed == 1
    assert healed.counter == turn.counter + 1


def test_a_claim_kept_by_a_graceful_stop_is_released_with_an_idle_row_and_no_tool_touched() -> None:
    (turn,) = open_turns("v2-stuck-graceful-stop.db").values()
    healed = heal(turn, NOW, minter())
    assert healed.tools_healed == 0 and healed.messages == () and healed.idle is not None
    assert healed.counter == turn.counter + 1 and healed.session["time_suspended"] is None


def test_the_idle_time_never_goes_back() -> None:
    (turn,) = open_turns("v2-stuck-bash.db").values()
    later = OpenTurn(turn.claim.__class__(turn.claim.session_id, 1, 0, NOW + 50, "succeeded"), turn.messages, False, 3)
    assert heal(later, NOW, minter()).session["time_idle"] == NOW + 51


def test_a_parent_and_its_child_are_each_closed() -> None:
    turns = open_turns("v2-stuck-task.db")
    healed = {sid: heal(t, NOW, minter()) for sid, t in turns.items()}
    names = sorted(h.messages[0][1]["content"][0]["name"] for h in healed.values())
    assert names == ["shell", "subagent"] and all(h.idle is not None for h in healed.values())


def test_a_subagent_that_names_its_child_says_so_in_the_error() -> None:
    item = {
        "type": "tool",
        "id": "c",
        "name": "subagent",
        "state": {"status": "running", "input": {}, "metadata": {"sessionID": "ses_x"}},
    }
    healed = heal_tool(item, NOW)
    assert healed["state"]["error"]["message"] == f"{INTERRUPTED}: subagent (sessionID: ses_x)"
    assert healed["state"]["metadata"] == {"sessionID": "ses_x"}


def test_the_heal_never_changes_its_input() -> None:
    (turn,) = open_turns("v2-stuck-bash.db").values()
    before = json.dumps([m.data for m in turn.messages], sort_keys=True)
    heal(turn, NOW, minter())
    assert json.dumps([m.data for m in turn.messages], sort_keys=True) == before


@pytest.mark.parametrize("name", ["v2-imported-from-v1-stuck-bash.db", "v2-stuck-orphan-child.db"])
def test_a_turn_no_server_closes_gets_its_idle_row(name: str) -> None:
    open_ = [t for t in open_turns(name).values() if t.messages]
    assert open_ and all(heal(t, NOW, minter()).idle is not None for t in open_)

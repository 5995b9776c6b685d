"""OpenCode 2's rows read into the neutral snapshots, on the real 2.1.2 fixtures."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from inspector.core.db.v2.rows import (
    Claim,
    claim_column,
    claim_of,
    load_data,
    message_of,
    session_of,
    stuck_tools,
    tools_of,
)
from inspector.core.errors import CorruptData
from inspector.core.model import Part

V2 = Path(__file__).parent / "fixtures" / "v2"


def rows(name: str, sql: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{V2 / name}?mode=ro&immutable=1", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql)]
    finally:
        conn.close()


def claims(name: str) -> dict[str, Claim]:
    found = rows(name, "SELECT * FROM session_v2")
    column = claim_column(frozenset(found[0]))
    assert column is not None
    return {c.session_id: c for c in (claim_of(r, column) for r in found)}


def tools(name: str) -> list[Part]:
    out: list[Part] = []
    for r in rows(name, "SELECT * FROM session_message WHERE type = 'assistant' ORDER BY session_id, seq"):
        data = load_data(r["id"], r["session_id"], r["data"])
        out.extend(tools_of(message_of(r["id"], r["session_id"], r["time_created"], data), data))
    return out


def test_a_crash_mid_shell_is_a_claim_and_a_running_tool() -> None:
    (claim,) = claims("v2-stuck-bash.db").values()
    assert claim.claimed_at is not None and claim.resume_attempts == 0 and claim.idle_outcome is None
    (tool,) = stuck_tools(tools("v2-stuck-bash.db"))
    assert (tool.tool, tool.status, tool.input_summary) == ("shell", "running", "sleep 600")
    assert tool.id.startswith("call_") and tool.started is not None and not tool.message_completed


def test_a_tool_whose_arguments_were_streaming_is_stuck_with_no_input() -> None:
    (tool,) = stuck_tools(tools("v2-stuck-pending.db"))
    assert (tool.status, tool.input_summary, tool.started) == ("streaming", "", None)


def test_the_exhausted_turn_keeps_one_running_tool_after_ten_healed_ones() -> None:
    all_tools = tools("v2-stuck-exhausted.db")
    (stuck,) = stuck_tools(all_tools)
    assert stuck is all_tools[-1] and len(all_tools) == 11
    (claim,) = claims("v2-stuck-exhausted.db").values()
    assert claim.claimed_at is None and claim.idle_outcome == "failed"


def test_an_orphan_child_has_no_claim_and_a_running_tool() -> None:
    by_id = claims("v2-stuck-orphan-child.db")
    sessions = {s.id: s for s in (session_of(r) for r in rows("v2-stuck-orphan-child.db", "SELECT * FROM session_v2"))}
    (child,) = (s for s in sessions.values() if s.parent_id)
    assert by_id[child.id].claimed_at is None and by_id[child.id].idle_outcome is None
    assert [t.session_id for t in stuck_tools(tools("v2-stuck-orphan-child.db"))] == [child.id]


def test_a_subagent_tool_and_its_child_are_both_running_and_claimed() -> None:
    stuck = stuck_tools(tools("v2-stuck-task.db"))
    assert sorted(t.tool for t in stuck) == ["shell", "subagent"]
    assert all(c.claimed_at is not None for c in claims("v2-stuck-task.db").values())


def test_a_clean_database_has_nothing_stuck() -> None:
    assert stuck_tools(tools("v2-clean.db")) == []
    assert all(c.claimed_at is None and c.idle_outcome == "succeeded" for c in claims("v2-clean.db").values())


def test_a_v1_import_keeps_the_old_tool_name_and_no_running_tool() -> None:
    imported = tools("v2-imported-from-v1-stuck-bash.db")
    assert [t.tool for t in imported] == ["bash"] and stuck_tools(imported) == []
    assert imported[0].status == "error" and not imported[0].message_completed


@pytest.mark.parametrize(
    "columns, expected",
    [
        (frozenset({"id", "time_suspended"}), "time_suspended"),
        (frozenset({"id", "execution_claimed_at"}), "execution_claimed_at"),
        (frozenset({"id"}), None),
    ],
)
def test_the_claim_is_found_by_its_column_whatever_upstream_calls_it(
    columns: frozenset[str], expected: str | None
) -> None:
    assert claim_column(columns) == expected


@pytest.mark.parametrize("data", ['{"content": [', "[]", None, '"text"'])
def test_corrupt_json_names_the_row(data: str | None) -> None:
    with pytest.raises(CorruptData, match="session_message msg_1 .session ses_1. has corrupt JSON"):
        load_data("msg_1", "ses_1", data)

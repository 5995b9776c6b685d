"""ocinspect's v2 repair, checked against the real OpenCode 2.1.2 managed service.

A crash mid-shell repaired by the v2 plan (``db/v2/plan.py`` through the generic apply) is taken
by the service as a turn that ended: its boot sweep calls no model and adds no restart notice, and
a new prompt runs one turn. Undone, the same file is a crashed turn again: the boot re-runs it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from inspector.core.repair import recover
from inspector.core.text import now_ms
from tests.support import v2_standin as standin

from . import harness_v2 as v2
from .test_v2_shapes import stays, types_of

pytestmark = pytest.mark.e2e


def new_turn_ended(db: Path, sid: str, ended: int) -> bool:
    return types_of(db, sid).count("idle") == ended + 1


def crashed_and_repaired(
    sandbox: v2.V2Sandbox, runs: Path, monkeypatch: pytest.MonkeyPatch, *, subagent: bool = False
) -> tuple[v2.Crash, int]:
    """A plain server killed mid-shell (or mid-subagent, its child mid-shell), the file repaired
    by ocinspect's v2 plan: the crash and the model calls made so far."""
    standin.install(monkeypatch)
    crash = v2.crash_plain_mid_subagent(sandbox) if subagent else v2.crash_plain_mid_tool(sandbox)
    calls = v2.model_calls(sandbox.model)
    now = now_ms()
    result = recover.apply(standin.make_plan(sandbox.db_path, now), journal_directory=runs, now=now)
    assert result.run_id is not None and result.parts_repaired == (2 if subagent else 1)
    return crash, calls


def assert_left_alone(sandbox: v2.V2Sandbox, sid: str, calls: int) -> None:
    """The booted service called no model for the closed turn, added no restart notice, and the
    session stays closed as interrupted with no claim."""
    db = sandbox.db_path
    # the sweep re-calls the model ~6 s after a boot when it resumes a turn: watch longer
    stays(
        lambda: v2.model_calls(sandbox.model) == calls and "synthetic" not in types_of(db, sid),
        seconds=10,
        what="the service left the closed session alone",
    )
    row = v2.session_row(db, sid)
    assert (row["time_suspended"], row["resume_attempts"], row["idle_outcome"]) == (None, 0, "interrupted")


def test_the_service_takes_the_repaired_turn_as_ended(
    sandbox: v2.V2Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sandbox.db_path
    crash, calls = crashed_and_repaired(sandbox, tmp_path / "runs", monkeypatch)
    sid = crash.session_id

    service = sandbox.start_service()
    assert_left_alone(sandbox, sid, calls)
    assert sid not in service.active()
    assert len(service.list_messages(sid)) == 3  # every row loads through the API

    service.prompt(sid, v2.TEXT)
    v2.wait_db(db, lambda: types_of(db, sid).count("idle") == 2, what="the new turn's idle row")
    assert v2.model_calls(sandbox.model) == calls + 1
    assert types_of(db, sid) == ["user", "assistant", "idle", "user", "assistant", "idle"]
    assert v2.message_rows(db, sid)[-1]["data"]["outcome"] == "succeeded"
    v2.kill_service(sandbox, service)


def test_undone_the_service_reruns_the_turn(
    sandbox: v2.V2Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sandbox.db_path
    crash, calls = crashed_and_repaired(sandbox, tmp_path / "runs", monkeypatch)
    sid = crash.session_id
    undone = recover.undo(db, journal_directory=tmp_path / "runs")
    assert undone.skipped == () and undone.restored == 4

    service = v2.boot_service_until_resumed(sandbox, sid, calls)
    assert "synthetic" in types_of(db, sid)
    v2.kill_service(sandbox, service)


def test_a_repaired_subagent_chain_is_left_alone_and_both_sessions_answer(
    sandbox: v2.V2Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(task) The parent's ``subagent`` and its child's ``shell``, both claimed: the service boots
    on the repaired file without a model call, and a new prompt completes in each session."""
    db = sandbox.db_path
    crash, calls = crashed_and_repaired(sandbox, tmp_path / "runs", monkeypatch, subagent=True)
    assert crash.child_id is not None
    sessions = (crash.session_id, crash.child_id)

    service = sandbox.start_service()
    stays(
        lambda: v2.model_calls(sandbox.model) == calls and not any("synthetic" in types_of(db, s) for s in sessions),
        seconds=10,
        what="the service left the repaired chain alone",
    )
    for number, sid in enumerate(sessions, 1):
        assert v2.session_row(db, sid)["time_suspended"] is None
        ended = types_of(db, sid).count("idle")
        service.prompt(sid, v2.TEXT)
        v2.wait_db(db, partial(new_turn_ended, db, sid, ended), what="a new turn")
        assert v2.message_rows(db, sid)[-1]["data"]["outcome"] == "succeeded"
        assert v2.model_calls(sandbox.model) == calls + number
    v2.kill_service(sandbox, service)

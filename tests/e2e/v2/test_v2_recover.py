"""ocinspect's v2 repair, proven against the real OpenCode 2.1.2 on every shape of the reference's table.

Each shape is made fresh by the real binary (``every_shape.py``; ``exhausted`` by its eleven
killed service boots), then: ``ocinspect scan`` names exactly the stuck sessions, each with its
pattern, and the sessions a service boot would re-run; ``ocinspect recover --all`` repairs them
all in one run; ``undo`` puts every row of every table back byte for byte, and the service booted
on that file re-runs exactly the turns scan named (the repair is what stopped them); booted on
the repaired file instead, it calls no model, adds no restart notice, holds no claim, leaves no
tool running, lists nothing active, and a new prompt to every session completes.

Cost: what dominates is OpenCode's boots. One sandbox holds every shape but ``exhausted`` (made
by 1 v1 + 4 v2 boots) and is checked by one recovery and two service boots; ``exhausted`` needs
its own file, because each of its eleven boots re-runs every claimed session of the file it
boots on (inside the shared file it would have to come first, one test of both lengths added up
instead of two that xdist runs side by side). Measured on a 2-core machine at load 10-13:
~100 s for the shared test (build ~60 s, of it ~17 s the v1 crash; the two boots ~35 s, of it
10 s watching that no model is called), ~70 s for ``exhausted``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from . import every_shape as every
from . import harness_v2 as v2
from .test_v2_shapes import stays, types_of

pytestmark = pytest.mark.e2e

FAILED = "Execution was interrupted repeatedly and will not be resumed automatically."


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


def prove_recovery(
    sandbox: v2.V2Sandbox,
    tmp_path: Path,
    stuck: Mapping[str, frozenset[str]],
    rerun: set[str],
    after_repair: Mapping[str, tuple[str, list[str]]],
) -> None:
    """The checks of this module's docstring on the sandbox's crashed database: ``stuck`` maps
    each stuck session to its patterns, ``rerun`` the sessions a service boot re-runs,
    ``after_repair`` what scan still says once repaired (verdict, patterns)."""
    db = sandbox.db_path
    report = every.scan(sandbox)
    assert every.found_patterns(report) == stuck
    assert set(report["rerun_at_service_boot"]) == rerun
    assert every.found_patterns(every.scan(sandbox, "--quick")) == stuck
    crashed = every.dump(db)

    recovered = run_ocinspect(sandbox, "recover", "--all", "--yes", "--json")
    assert (set(recovered["sessions"]), recovered["skipped"]) == (set(stuck), [])
    repaired = tmp_path / "repaired.db"
    every.copy_database(db, repaired)
    after = every.scan(sandbox)
    assert {s["id"]: (s["verdict"], s["patterns"]) for s in after["sessions"]} == after_repair
    assert after["rerun_at_service_boot"] == []
    assert (every.claimed(db), every.active_tools(db)) == (set(), {})

    undone = run_ocinspect(sandbox, "undo", "--json")
    assert undone["run_id"] == recovered["run_id"] and not undone["skipped"]
    assert every.dump(db) == crashed, "undo did not restore every row byte for byte"
    if rerun:
        assert_the_boot_reruns(sandbox, stuck, rerun)
    every.copy_database(repaired, db)  # the file exactly as recover left it
    assert_the_boot_leaves_it_alone(sandbox)


def run_ocinspect(sandbox: v2.V2Sandbox, *args: str) -> dict[str, Any]:
    done = sandbox.ocinspect(*args)
    assert done.returncode == 0, f"ocinspect {' '.join(args)} exited {done.returncode}: {done.stderr}"
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def assert_the_boot_reruns(sandbox: v2.V2Sandbox, stuck: Mapping[str, frozenset[str]], rerun: set[str]) -> None:
    """The service booted on the undone file re-runs the turns scan named (a restart notice and
    a model call each) and only those; the other stuck sessions stay stuck."""
    db = sandbox.db_path
    calls, notices = v2.model_calls(sandbox.model), every.synthetic_counts(db)

    def resumed() -> set[str]:
        return {sid for sid, count in every.synthetic_counts(db).items() if count > notices.get(sid, 0)}

    service = sandbox.start_service()
    v2.wait_db(
        db,
        lambda: resumed() >= rerun and v2.model_calls(sandbox.model) >= calls + len(rerun),
        what="the service to re-run every crashed turn",
    )
    assert resumed() == rerun
    assert set(stuck) - rerun <= set(every.active_tools(db)) | {
        sid for sid in stuck if v2.unfinished_assistants(db, sid)
    }
    v2.kill_service(sandbox, service)


def assert_the_boot_leaves_it_alone(sandbox: v2.V2Sandbox) -> None:
    """The service booted on the repaired file calls no model and adds no restart notice; no
    claim, no running tool, nothing active; then a new prompt to every session completes."""
    db = sandbox.db_path
    calls, notices = v2.model_calls(sandbox.model), every.synthetic_counts(db)
    service = sandbox.start_service()
    # a boot that resumes a turn re-calls the model within ~6 s (measured): watch longer
    stays(
        lambda: v2.model_calls(sandbox.model) == calls and every.synthetic_counts(db) == notices,
        seconds=10,
        what="the service booted on the repaired file re-ran nothing",
    )
    assert (every.claimed(db), every.active_tools(db), service.active()) == (set(), {}, {})

    sessions = [s["id"] for s in v2.session_rows(db)]
    ended = {sid: len(every.ended_turns(db, sid)) for sid in sessions}
    for sid in sessions:
        service.list_messages(sid)  # every row loads through the API (a malformed one answers 500)
        service.prompt(sid, v2.TEXT)
    v2.wait_db(
        db,
        lambda: all(len(every.ended_turns(db, sid)) > ended[sid] for sid in sessions),
        what="a new turn to end in every session",
        timeout=90,
    )
    outcomes = {sid: every.ended_turns(db, sid)[ended[sid] :] for sid in sessions}
    assert outcomes == {sid: ["succeeded"] for sid in sessions}
    assert (every.claimed(db), every.active_tools(db), service.active()) == (set(), {}, {})
    assert not [sid for sid in sessions if v2.inbox_rows(db, sid)], "a prompt is still waiting in an inbox"
    v2.kill_service(sandbox, service)


def test_every_shape_in_one_database(sandbox: v2.V2Sandbox, opencode_bin: Path, tmp_path: Path) -> None:
    """bash, pending, question, ask, queued, task (and its child), orphan-child, graceful-stop,
    imported-from-v1 and ``opencode run --standalone``, side by side in one file."""
    shapes = every.build(sandbox, opencode_bin)
    prove_recovery(sandbox, tmp_path, shapes.patterns, shapes.rerun, shapes.after_repair)


def test_exhausted_by_eleven_real_boots(sandbox: v2.V2Sandbox, tmp_path: Path) -> None:
    """(exhausted) Eleven service boots each killed mid-turn: the budget is v2's constant (10,
    not configurable in 2.1.2), so all eleven are real. The last boot publishes ``idle failed``
    and leaves the tool ``running``; the boot on the undone file is that same boot's file byte
    for byte, so it is not booted again: the after-repair boot is."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    v2.exhaust_by_boots(sandbox, crash)
    sid = crash.session_id
    assert v2.model_calls(sandbox.model) == 1 + 10  # the turn, then one re-run per resumed boot
    row = v2.session_row(db, sid)
    assert (row["time_suspended"], row["resume_attempts"], row["idle_outcome"]) == (None, 0, "failed")
    rows = v2.message_rows(db, sid)
    assert rows[-1]["data"]["outcome"] == "failed" and rows[-1]["data"]["error"]["message"] == FAILED
    assert [r["type"] for r in rows].count("synthetic") == 10
    (unfinished,) = v2.unfinished_assistants(db, sid)
    assert unfinished["id"] == max(r["id"] for r in rows if r["type"] == "assistant")
    assert every.active_tools(db) == {sid: ["shell"]}

    prove_recovery(sandbox, tmp_path, {sid: frozenset({"exhausted", "crash-orphan"})}, set(), {})

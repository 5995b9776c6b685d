"""ocinspect's v2 repair, proven against the real OpenCode 2.1.2 on every shape of the reference's table.

Each shape is made fresh by the real binary (``every_shape.py``, which asserts each shape's rows
and what 2.1.2 does with it as it makes it; ``exhausted`` by its eleven killed service boots),
then: ``ocinspect scan`` names exactly the stuck sessions, each with its
pattern, and the sessions a service boot would re-run; ``ocinspect recover --all`` repairs them
all in one run; ``undo`` puts every row of every table back byte for byte, and the service booted
on that file re-runs exactly the turns scan named (the repair is what stopped them); booted on
the repaired file instead, it calls no model, adds no restart notice, holds no claim, leaves no
tool running, lists nothing active, and a new prompt to every session completes.

Cost: what dominates is OpenCode's boots. One sandbox holds every shape but ``exhausted`` (made
by 1 v1 + 5 v2 boots) and is checked by one recovery and two service boots; ``exhausted`` needs
its own file, because each of its eleven boots re-runs every claimed session of the file it
boots on (inside the shared file it would have to come first, one test of both lengths added up
instead of two that xdist runs side by side). Its first boot is also where a service boot
re-running a lone crashed turn is looked at. Measured on a 2-core machine at load 10-13:
~100 s for the shared test (build ~60 s, of it ~17 s the v1 crash; the two boots ~35 s, of it
10 s watching that no model is called), ~70 s for ``exhausted``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from .. import harness as h
from . import every_shape as every
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e

RESTART_NOTICE = every.RESTART_NOTICE
FAILED = "Execution was interrupted repeatedly and will not be resumed automatically."


def assert_left_alone(sandbox: v2.V2Sandbox, sid: str, calls: int) -> None:
    """The booted service called no model for the closed turn, added no restart notice, and the
    session stays closed as interrupted with no claim."""
    db = sandbox.db_path
    # the sweep re-calls the model ~6 s after a boot when it resumes a turn: watch longer
    v2.stays(
        lambda: v2.model_calls(sandbox.model) == calls and "synthetic" not in v2.types_of(db, sid),
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
    rerun_also: Callable[[v2.V2Service], object] | None = None,
) -> None:
    """The checks of this module's docstring on the sandbox's crashed database: ``stuck`` maps
    each stuck session to its patterns, ``rerun`` the sessions a service boot re-runs,
    ``after_repair`` what scan still says once repaired (verdict, patterns); ``rerun_also``
    looks at the service that re-ran them before it is killed."""
    db = sandbox.db_path
    report = every.scan(sandbox)
    assert every.found_patterns(report) == stuck
    assert set(report["rerun_at_service_boot"]) == rerun
    assert every.found_patterns(every.scan(sandbox, "--quick")) == stuck
    crashed = every.dump(db)

    recovered = run_ocinspect(sandbox, "recover", "--all", "--yes", "--json")
    assert (set(recovered["sessions"]), recovered["skipped"]) == (set(stuck), [])
    repaired = tmp_path / "repaired.db"
    h.copy_database(db, repaired)
    after = every.scan(sandbox)
    assert {s["id"]: (s["verdict"], s["patterns"]) for s in after["sessions"]} == after_repair
    assert after["rerun_at_service_boot"] == []
    assert (every.claimed(db), every.active_tools(db)) == (set(), {})

    undone = run_ocinspect(sandbox, "undo", "--json")
    assert undone["run_id"] == recovered["run_id"] and not undone["skipped"]
    assert every.dump(db) == crashed, "undo did not restore every row byte for byte"
    if rerun:
        assert_the_boot_reruns(sandbox, stuck, rerun, rerun_also)
    h.copy_database(repaired, db)  # the file exactly as recover left it
    assert_the_boot_leaves_it_alone(sandbox)


def run_ocinspect(sandbox: v2.V2Sandbox, *args: str) -> dict[str, Any]:
    done = sandbox.ocinspect(*args)
    assert done.returncode == 0, f"ocinspect {' '.join(args)} exited {done.returncode}: {done.stderr}"
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def assert_the_boot_reruns(
    sandbox: v2.V2Sandbox,
    stuck: Mapping[str, frozenset[str]],
    rerun: set[str],
    also: Callable[[v2.V2Service], object] | None = None,
) -> None:
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
    if also is not None:
        also(service)
    v2.kill_service(sandbox, service)


def assert_the_boot_leaves_it_alone(sandbox: v2.V2Sandbox) -> None:
    """The service booted on the repaired file calls no model and adds no restart notice; no
    claim, no running tool, nothing active; then a new prompt to every session completes."""
    db = sandbox.db_path
    calls, notices = v2.model_calls(sandbox.model), every.synthetic_counts(db)
    service = sandbox.start_service()
    # a boot that resumes a turn re-calls the model within ~6 s (measured): watch longer
    v2.stays(
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
    imported-from-v1 and ``opencode run --standalone``, side by side in one file, each checked
    as it is made; a plain server reopening the file and a new prompt healing one more crashed
    turn (``every_shape.build``)."""
    shapes = every.build(sandbox, opencode_bin)
    stopped = shapes.sid("graceful-stop")

    def the_stop_kept_work_for_the_boot(service: v2.V2Service) -> None:
        """(graceful-stop) the claim the stop kept is work for the next boot: the turn is re-run
        (its restart notice is checked with the others), the model re-issued its tool call."""
        assert v2.wait_tool(sandbox.db_path, stopped)["id"] != shapes.stopped_tool

    prove_recovery(
        sandbox, tmp_path, shapes.patterns, shapes.rerun, shapes.after_repair, the_stop_kept_work_for_the_boot
    )


def assert_the_boot_reran(sandbox: v2.V2Sandbox, crash: v2.Crash, service: v2.V2Service, again: dict[str, Any]) -> None:
    """(bash, then the service) The managed service's boot sweep heals the old message, adds the
    restart notice and CALLS THE MODEL AGAIN, which re-issues its tool: the problem to prevent."""
    db, sid = sandbox.db_path, crash.session_id
    assert v2.session_row(db, sid)["resume_attempts"] == 1
    assert v2.claim(db, sid) is not None  # the resumed turn holds the claim again
    rerun = sandbox.model.requests[-1]["body"]["messages"]
    assert RESTART_NOTICE in str(rerun[-1]["content"])
    # the heal writes the tool first, the message's time.completed next: wait for both
    v2.wait_db(
        db,
        lambda: crash.tool["message_id"] not in {m["id"] for m in v2.unfinished_assistants(db, sid)},
        what="the crashed message healed",
    )
    healed = next(t for t in v2.tool_items(db, sid) if t["id"] == crash.tool["id"])
    assert healed["state"]["status"] == "error"
    assert healed["state"]["error"] == {"type": "aborted", "message": "Tool execution interrupted: shell"}
    notices = [r for r in v2.message_rows(db, sid) if r["type"] == "synthetic"]
    assert len(notices) == 1 and notices[0]["data"]["text"].startswith(RESTART_NOTICE)
    # the model re-issued its tool call: a new running shell in a new unfinished message
    assert again["id"] != crash.tool["id"] and again["name"] == "shell"
    assert sid in service.active()


def test_exhausted_by_eleven_real_boots(sandbox: v2.V2Sandbox, tmp_path: Path) -> None:
    """(exhausted) Eleven service boots each killed mid-turn: the budget is v2's constant (10,
    not configurable in 2.1.2), so all eleven are real. The last boot publishes ``idle failed``
    and leaves the tool ``running``; the boot on the undone file is that same boot's file byte
    for byte, so it is not booted again: the after-repair boot is. The first boot is the lone
    crashed turn's re-run (``assert_the_boot_reran``)."""
    db = sandbox.db_path
    crash = v2.crash_plain_mid_tool(sandbox)
    # (bash) ``kill -9`` of a plain server mid-``shell``, on a file 2.x created: no v1 tables
    every.assert_crashed_turn(db, crash.session_id, crash.tool)
    assert (crash.tool["name"], crash.tool["state"]["status"]) == ("shell", "running")
    assert crash.tool["state"]["input"] == {"command": "sleep 600"}
    assert not {"session", "message", "part"} & v2.tables(db)
    assert v2.model_calls(sandbox.model) == 1

    def first_boot(attempt: int, service: v2.V2Service, again: dict[str, Any]) -> None:
        if attempt == 1:
            assert_the_boot_reran(sandbox, crash, service, again)

    v2.exhaust_by_boots(sandbox, crash, after_boot=first_boot)
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

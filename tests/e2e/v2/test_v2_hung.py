"""Hung and waiting OpenCode 2 sessions, judged on the real 2.1.2 (``scan --hung-after``, ``--json``).

What 2.1.2 publishes for each shape is in ``docs/design/opencode-2.md`` ("Live signals,
measured"); what ocinspect makes of it is asserted here, through the CLI a person runs.

Cost: one plain server runs every shape at once (ten sessions, one boot: ~10 s under load; one
test, so that two workers never boot it twice), and each check polls ``scan --json`` in this
process (then asserts on a real one) until the verdicts settle (the stalled stream needs OpenCode's
3 s chunk timeout and its retry; 20 s of the slow reply and the printing tool are watched so
they are seen never to be called hung). Each hung turn is then stopped through v2 (the
retry loops at once, the stalled stream once re-prompted: 2.1.2 ends a stalled turn by itself
after ~27 s, about when the first check ends) and answers a new prompt: ~7 s more on the same
server. The resume loop needs the managed service, so its own sandbox: a plain server crashed
mid-tool, then one service boot; it is stopped through the service too (~2 s more).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inspector.core.opencode.live import detect
from inspector.core.opencode.signals import Signals
from inspector.core.repair import operations
from inspector.core.repair.abort import AbortOutcome

from .. import harness as h
from . import harness_v2 as v2
from .test_v2_answers import ended, takes_a_new_prompt

pytestmark = pytest.mark.e2e

HUNG_AFTER = "5s"
HUNG_AFTER_MS = 5000
# The documented bound: --hung-after, plus OpenCode's own cycle (a 3 s chunk timeout and its
# retry for a stalled stream), plus a scan under load.
WITHIN_S = 45.0
SHAPES = {
    "silent": v2.LONG_SHELL,
    "subagent": v2.SUBAGENT,
    "stalled": "STALL please",
    "overloaded": "OVERLOADED please",
    "ratelimited": "RATELIMIT please",
    "permission": v2.QUICK,
    "question": v2.QUESTION,
    "child-asks": "SUBASK please",
    "slow": "SLOW please",
    "printing": "STREAM please",
}
NEVER_HUNG = ("slow", "printing")


@dataclass
class Fleet:
    sandbox: v2.V2Sandbox
    server: v2.V2Server
    sessions: dict[str, str]
    started: float

    def child_of(self, shape: str) -> str:
        return v2.wait_child(self.sandbox.db_path, self.sessions[shape])


def configure(box: v2.V2Sandbox) -> None:
    """A 3 s chunk timeout (a stalled stream is cut, and re-run, quickly); ``echo ok`` asks."""
    config = json.loads(box.config_path.read_text())
    config["provider"][h.PROVIDER_ID]["options"]["chunkTimeout"] = 3000
    config["permission"]["shell"] = {"*": "allow", "echo ok": "ask"}
    box.config_path.write_text(json.dumps(config, indent=2) + "\n")


@pytest.fixture
def fleet(tmp_path: Path, opencode_v2: Path) -> Iterator[Fleet]:
    """One server, every shape at once: used by one test (its three checks, in order), so that
    no two workers ever boot it twice."""
    with h.FakeModel() as model, v2.sandboxed(tmp_path / "oc", model, opencode_v2) as box:
        configure(box)
        server = box.start_plain()
        sessions = {shape: server.open_session(box.project) for shape in SHAPES}
        for shape, prompt in SHAPES.items():
            server.prompt(sessions[shape], prompt)
        yield Fleet(box, server, sessions, time.monotonic())


def scan(
    box: v2.V2Sandbox, *args: str, here: bool = False
) -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]]:
    """``scan --hung-after 5s --json``: a real process, or (``here``: for polling) this one."""
    run = box.ocinspect_here if here else box.ocinspect
    proc = run("scan", "--hung-after", HUNG_AFTER, "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    return {s["id"]: s for s in data["sessions"]}, proc


def explain(found: dict[str, dict[str, Any]]) -> str:
    return json.dumps(
        {sid: (s.get("verdict"), s.get("hang"), s.get("verdict_reason")) for sid, s in found.items()}, indent=1
    )


def test_each_shape_gets_its_verdict_is_named_and_each_hung_model_is_stopped(fleet: Fleet) -> None:
    """The three checks of one fleet, in the order its turns go (each check's own docstring)."""
    each_shape_gets_its_verdict_and_real_work_is_never_hung(fleet)
    show_names_the_hang(fleet)
    a_stalled_or_retrying_turn_is_stopped_through_v2_and_takes_a_new_prompt(fleet)


def each_shape_gets_its_verdict_and_real_work_is_never_hung(fleet: Fleet) -> None:
    """Every shape's verdict within ``WITHIN_S`` (polled in this process, a scan every ~0.5 s:
    a new interpreter per look would cost ~0.45 CPU-s each), the slow reply and the printing
    tool never hung, the retry loops hung on every look; a real ``scan`` exits 1."""
    ids = fleet.sessions
    parent_child = fleet.child_of("subagent")
    asking_child = fleet.child_of("child-asks")
    expected: dict[str, tuple[str, str | None]] = {
        ids["silent"]: ("hung", "tool-silent"),
        ids["subagent"]: ("hung", "tool-silent"),
        parent_child: ("hung", "tool-silent"),
        ids["stalled"]: ("hung", "model-stalled"),
        ids["overloaded"]: ("hung", "retry-loop"),
        ids["ratelimited"]: ("hung", "retry-loop"),
        ids["permission"]: ("waiting", None),
        ids["question"]: ("waiting", None),
        ids["child-asks"]: ("waiting", None),
        asking_child: ("waiting", None),
    }
    signals = Signals()  # what a watch follows: the server's /api/event, beside the scans
    streamed: dict[str, int] = {}
    seen_at: dict[str, float] = {}
    said: dict[str, dict[str, Any]] = {}  # each session's entry when its verdict was first seen
    never: dict[str, list[str]] = {ids[s]: [] for s in NEVER_HUNG}
    steady: dict[str, list[str]] = {ids["overloaded"]: [], ids["ratelimited"]: []}
    last: dict[str, dict[str, Any]] = {}
    deadline = fleet.started + WITHIN_S
    while time.monotonic() < deadline and (len(seen_at) < len(expected) or time.monotonic() - fleet.started < 25):
        last, _ = scan(fleet.sandbox, here=True)
        followed = signals.merge(detect(fleet.sandbox.db_path, [str(fleet.sandbox.project)], schema="v2"))
        streamed |= {s: signals.snapshot()[s] for s in (ids["slow"], ids["printing"]) if s in signals.snapshot()}
        assert followed.streams == (fleet.server.port,)
        for sid, (verdict, hang) in expected.items():
            found = last.get(sid, {})
            if sid not in seen_at and (found.get("verdict"), found.get("hang")) == (verdict, hang):
                seen_at[sid] = time.monotonic() - fleet.started
                said[sid] = found
        for sid, verdicts in never.items():
            if sid in last:
                verdicts.append(last[sid]["verdict"])
        for sid, verdicts in steady.items():  # a retry loop stays one across the attempts
            if sid in seen_at and sid in last:
                verdicts.append(last[sid]["verdict"])
        time.sleep(0.5)
    signals.close()
    assert ids["slow"] in streamed, "the slow reply's deltas were not seen on /api/event"
    missing = {sid: expected[sid] for sid in expected if sid not in seen_at}
    assert not missing, f"not seen within {WITHIN_S}s: {missing}\n{explain(last)}"
    for sid, verdicts in never.items():
        assert verdicts and "hung" not in verdicts, (sid, verdicts)
    for sid, verdicts in steady.items():
        assert set(verdicts) <= {"hung"}, (sid, verdicts)
    names = {sid: shape for shape, sid in ids.items()} | {
        parent_child: "subagent's child",
        asking_child: "asking child",
    }
    print({names[sid]: round(t, 1) for sid, t in seen_at.items()})

    # What each verdict says: the tool and the shape, the retry, what is asked and since when.
    # (2.1.2 gives a stalled stream four attempts, then ends the turn ``failed`` by itself.)
    found = said
    silent = found[ids["silent"]]
    assert "sleep 600" in silent["verdict_reason"] and silent["idle_ms"] >= 5000, explain(found)
    assert "in subagent" in found[ids["subagent"]]["verdict_reason"], explain(found)
    assert "model stalled" in found[ids["stalled"]]["verdict_reason"], explain(found)
    overloaded = found[ids["overloaded"]]
    assert "retry loop" in overloaded["verdict_reason"], explain(found)
    assert "overloaded" in overloaded["verdict_reason"], explain(found)
    asked = found[ids["permission"]]["opencode_status"]["pending"]
    assert [(a["kind"], a["patterns"]) for a in asked] == [("permission", ["echo ok"])], explain(found)
    assert isinstance(asked[0]["since"], int), asked
    (question,) = found[ids["question"]]["opencode_status"]["pending"]
    assert (question["kind"], question["question"]) == ("question", "Deploy to production?"), question
    assert f"via {asking_child}" in found[ids["child-asks"]]["verdict_reason"], explain(found)
    assert scan(fleet.sandbox)[1].returncode == 1  # hung sessions found


def show_names_the_hang(fleet: Fleet) -> None:
    sid = fleet.sessions["silent"]
    v2.wait_tool(fleet.sandbox.db_path, sid)

    def said() -> str | None:
        proc = fleet.sandbox.ocinspect("show", sid, "--hung-after", HUNG_AFTER, "--no-pager")
        return proc.stdout if "tool-silent" in proc.stdout else None

    text = h.wait_until(said, timeout=WITHIN_S, interval=1.0, what="show to say tool-silent")
    assert "sleep 600" in text


def stop_when_hung(db: Path, sid: str) -> tuple[AbortOutcome, str]:
    """Stop ``sid`` through ``operations`` (what ``recover --abort-hung`` calls) once it is hung;
    the outcome, and the hung verdict's reason the plan was made on."""

    def prepared() -> operations.Prepared | None:
        plan = operations.prepare(
            operations.Request(
                database=db, session_ids=(sid,), abort_hung=True, hung_after_ms=HUNG_AFTER_MS, settle_timeout_s=20
            )
        )
        return plan if plan.aborts else None

    plan: operations.Prepared = h.wait_until(prepared, timeout=WITHIN_S, interval=0.5, what=f"{sid} to be hung")
    (target,) = plan.aborts
    assert target.root == sid, target
    (outcome,) = operations.execute(plan).aborted
    assert outcome.stopped, outcome.detail
    return outcome, target.reason


def a_stalled_or_retrying_turn_is_stopped_through_v2_and_takes_a_new_prompt(fleet: Fleet) -> None:
    """The answer to each hung model: v2's interrupt, its ``idle`` row ``interrupted``, the
    server up, and a plain prompt answered after (the fake model picks by the last prompt)."""
    box, server, ids = fleet.sandbox, fleet.server, fleet.sessions
    db = box.db_path
    stalled, overloaded, ratelimited = ids["stalled"], ids["overloaded"], ids["ratelimited"]

    # 2.1.2 gave the first stalled turn four attempts and ended it itself; the same session stalls again
    ended(db, stalled, "failed")
    server.prompt(stalled, "STALL please, again")

    # a 503 loop, through operations; a 429 loop, through the CLI (its password from the server's side)
    _, reason = stop_when_hung(db, overloaded)
    assert "retry loop" in reason and "overloaded" in reason, reason
    cli = box.ocinspect("recover", ratelimited, "--abort-hung", "--hung-after", HUNG_AFTER, "--yes", "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (stopped,) = json.loads(cli.stdout)["aborted"]
    assert (stopped["id"], stopped["stopped"]) == (ratelimited, True), stopped
    for sid in (overloaded, ratelimited):
        ended(db, sid, "interrupted")

    _, reason = stop_when_hung(db, stalled)
    assert "model stalled" in reason, reason
    ended(db, stalled, "interrupted")

    active = server.active()  # the server answers, and runs none of them
    assert server.proc is not None and server.proc.poll() is None
    assert not {stalled, overloaded, ratelimited} & set(active), active
    for sid in (stalled, overloaded, ratelimited):
        takes_a_new_prompt(box, server, sid)
        # a retried call's row may keep no time.completed after the interrupt; the next prompt completes it
        assert v2.unfinished_assistants(db, sid) == [], v2.describe(db)
        assert v2.session_row(db, sid)["time_suspended"] is None


def test_a_turn_the_service_keeps_resuming_is_a_resume_loop(sandbox: v2.V2Sandbox) -> None:
    """The service re-ran this turn twice before (set in the row: eleven real boots cost ~100 s);
    its boot re-runs it a third time: ``resume_attempts`` 3, a resume loop, while it runs. It is
    stopped through the service (``recover --abort-hung``, its ``service.json`` password): the
    loop ends there, and the session takes a new prompt."""
    crash = v2.crash_plain_mid_tool(sandbox)
    v2.write(sandbox.db_path, "UPDATE session_v2 SET resume_attempts = 2 WHERE id = ?", (crash.session_id,))
    service = v2.boot_service_until_resumed(sandbox, crash.session_id, v2.model_calls(sandbox.model), attempts=3)

    def looked(here: bool) -> dict[str, Any] | None:
        found, _ = scan(sandbox, here=here)
        mine = found.get(crash.session_id)
        return mine if mine and mine["verdict"] == "hung" else None

    h.wait_until(lambda: looked(True), timeout=WITHIN_S, interval=0.5, what="the resume loop")
    mine = h.wait_until(lambda: looked(False), timeout=30, interval=0.5, what="the resume loop (a real scan)")
    assert mine["hang"] == "resume-loop", mine
    assert "re-ran this turn 3 times" in mine["verdict_reason"], mine

    cli = sandbox.ocinspect("recover", crash.session_id, "--abort-hung", "--hung-after", HUNG_AFTER, "--yes", "--json")
    assert cli.returncode == 0, cli.stdout + cli.stderr
    (stopped,) = json.loads(cli.stdout)["aborted"]
    assert (stopped["id"], stopped["stopped"]) == (crash.session_id, True), stopped
    ended(sandbox.db_path, crash.session_id, "interrupted")
    assert v2.session_row(sandbox.db_path, crash.session_id)["resume_attempts"] == 0
    assert crash.session_id not in service.active()
    takes_a_new_prompt(sandbox, service, crash.session_id)

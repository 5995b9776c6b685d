"""Issue 19 end to end: where the last look left off is kept across processes, and a crash of the
real OpenCode between two ``ocinspect run``s is found by the second one.

The first ``run -- true`` on a healthy database leaves a state file; OpenCode 1.18.33 is then
killed mid-tool; the next ``run -- true`` resumes from that state and still recovers the new
stuck session. ``undo`` of that run brings it back into the next (resumed) ``scan``, and a
``--full`` scan agrees with the resumed one every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from . import harness as h
from .test_e2e import assert_new_prompt_completes, crash_mid_tool, explain, run_cli

pytestmark = pytest.mark.e2e


def run_true(sb: h.Sandbox) -> subprocess.CompletedProcess[str]:
    """``ocinspect run -- true`` as a person's start script runs it (ocinspect's own state dir)."""
    cmd = [sys.executable, "-m", "inspector", "--db", str(sb.db_path), "run", "--", "true"]
    return subprocess.run(
        cmd,
        cwd=h.REPO_ROOT,
        env=sb.ocinspect_env(),
        text=True,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def state_files(sb: h.Sandbox) -> dict[str, str]:
    root = sb.ocinspect_state / "ocinspect" / "watermarks"
    return {p.name: p.read_text(errors="replace") for p in sorted(root.glob("*"))} if root.is_dir() else {}


def full_passes(sb: h.Sandbox) -> dict[str, float]:
    """When each kept state's last full pass began: a resumed look leaves it as it was."""
    found = {}
    for name, text in state_files(sb).items():
        try:
            found[name] = json.loads(text)["full_at"]
        except (ValueError, KeyError, TypeError):
            continue
    return found


def stuck_ids(sb: h.Sandbox, *extra: str) -> tuple[list[str], Any]:
    rc, data, proc = run_cli(sb, "scan", "--json", *extra)
    assert rc in (0, 1) and isinstance(data, dict), explain(proc)
    return sorted(s["id"] for s in data["sessions"]), data


def test_a_crash_between_two_runs_is_found_from_the_watermark(sandbox: h.Sandbox, opencode_bin: Path) -> None:
    oc = sandbox.start_opencode(opencode_bin)
    done = oc.create_session()
    oc.prompt_async(done, "QUICK check")
    oc.wait_turn_complete(done, timeout=60, min_assistant=2)
    oc.kill()

    first = run_true(sandbox)
    assert first.returncode == 0 and first.stderr == "", explain(first)
    saved = state_files(sandbox)
    assert saved, "the first run kept no state"
    assert stuck_ids(sandbox)[0] == stuck_ids(sandbox, "--full")[0] == []

    sid, part = crash_mid_tool(sandbox, opencode_bin, "run the long tests")
    before = full_passes(sandbox)
    assert before, saved
    resumed, _ = stuck_ids(sandbox)
    assert full_passes(sandbox).items() >= before.items()  # that scan resumed: no full pass began
    full, _ = stuck_ids(sandbox, "--full")
    assert resumed == full == [sid]
    marks = full_passes(sandbox)

    second = run_true(sandbox)
    assert second.returncode == 0, explain(second)
    assert full_passes(sandbox).items() >= marks.items()  # found from the watermark, not a full pass
    (line,) = second.stderr.splitlines()
    assert line.startswith("ocinspect: recovered 1 stuck session before start (run "), line
    run_id = line.split("(run ", 1)[1].split(";", 1)[0]
    assert stuck_ids(sandbox)[0] == [] and stuck_ids(sandbox, "--full")[0] == []
    statuses = {p["id"]: p["state"]["status"] for p in h.db_tool_parts(sandbox.db_path, sid)}
    assert statuses == {part["id"]: "error"}

    # undo restores the rows at their old rowids, below the watermark: the next scan must see them
    rc, data, proc = run_cli(sandbox, "undo", run_id, "--json")
    assert rc == 0 and data["restored"], explain(proc)
    assert stuck_ids(sandbox)[0] == [sid]
    assert stuck_ids(sandbox, "--full")[0] == [sid]

    third = run_true(sandbox)
    assert third.returncode == 0 and "recovered 1 stuck session" in third.stderr, explain(third)
    server = sandbox.start_opencode(opencode_bin)
    assert_new_prompt_completes(server, sid)
    server.kill()
    print(json.dumps(list(saved)))

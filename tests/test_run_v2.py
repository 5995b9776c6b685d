"""``ocinspect run`` on an OpenCode 2 database: crashed turns are settled as interrupted before the
command starts, so the service's boot re-runs nothing (no model call nobody asked for);
``--let-opencode-resume`` leaves them to OpenCode. ``scan`` names what a boot would re-run.

Real subprocesses on copies of the real 2.1.2 fixtures (``exec`` replaces the process).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import ocinspect
from tests.support.databases import copy_db, rows, sha256, stuck_tools

V2 = Path(__file__).parent / "fixtures" / "v2"
BASH = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"


def copy(tmp_path: Path, name: str) -> Path:
    return copy_db(V2 / f"{name}.db", tmp_path / "opencode.db")


def claims(db: Path) -> dict[str, int | None]:
    return {sid: claim for sid, claim in rows(db, "SELECT id, time_suspended FROM session_v2")}


def test_a_crash_mid_shell_is_settled_before_the_command(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    assert claims(db)[BASH] is not None
    ran = ocinspect("--db", str(db), "run", "--", "sh", "-c", "echo started; exit 3")
    assert ran.returncode == 3, ran.stderr
    assert ran.stdout == "started\n"
    recovered, settled = ran.stderr.splitlines()
    assert recovered.startswith("ocinspect: recovered 1 stuck session before start (run ")
    assert settled == (
        f"ocinspect: settled {BASH} (crashed mid-shell): the service will not re-run it; "
        "continue it with a new prompt or 'ocinspect open'"
    )
    assert claims(db)[BASH] is None
    assert rows(db, "SELECT resume_attempts, idle_outcome FROM session_v2 WHERE id = ?", BASH) == [(0, "interrupted")]
    idle = rows(db, "SELECT data FROM session_message WHERE session_id = ? AND type = 'idle'", BASH)
    assert [json.loads(d)["outcome"] for (d,) in idle] == ["interrupted"]
    # nothing left for a boot to re-run, nothing stuck
    after = ocinspect("--db", str(db), "scan", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout)["rerun_at_service_boot"] == []


def test_let_opencode_resume_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "run", "--let-opencode-resume", "--", "true")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == (
        f"ocinspect: left {BASH} (crashed mid-shell) to OpenCode: the next service boot re-runs it, "
        "calling the model again\n"
    )
    assert sha256(db) == digest


def test_let_opencode_resume_still_settles_what_no_server_finishes(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-orphan-child")
    ran = ocinspect("--db", str(db), "run", "--let-opencode-resume", "--", "true")
    assert ran.returncode == 0, ran.stderr
    assert "(orphaned subagent): it no longer shows as thinking" in ran.stderr
    assert json.loads(ocinspect("--db", str(db), "scan", "--json").stdout)["sessions"] == []


def test_a_subagent_chain_is_settled_whole(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-task")
    ran = ocinspect("--db", str(db), "run", "--", "true")
    assert ran.returncode == 0, ran.stderr
    assert "recovered 2 stuck sessions" in ran.stderr
    assert "(crashed mid-subagent): the service will not re-run it" in ran.stderr
    assert set(claims(db).values()) == {None}


def test_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    db = copy(tmp_path, "v2-stuck-bash")
    digest = sha256(db)
    ran = ocinspect("--db", str(db), "run", "--dry-run", "--", "true")
    assert ran.returncode == 0, ran.stderr
    assert "dry run; nothing was changed" in ran.stderr
    assert sha256(db) == digest


@pytest.mark.parametrize(
    ("name", "reruns"),
    [
        ("v2-stuck-bash", 1),
        ("v2-stuck-graceful-stop", 1),
        ("v2-stuck-task", 1),  # the parent: the service only releases the child's claim
        ("v2-stuck-orphan-child", 0),
        ("v2-stuck-exhausted", 0),
        ("v2-imported-from-v1-stuck-bash", 0),
        ("v2-clean", 0),
    ],
)
def test_scan_names_what_a_service_boot_would_re_run(tmp_path: Path, name: str, reruns: int) -> None:
    db = copy(tmp_path, name)
    found = json.loads(ocinspect("--db", str(db), "scan", "--json").stdout)
    assert len(found["rerun_at_service_boot"]) == reruns
    text = ocinspect("--db", str(db), "scan").stdout
    summary = [line for line in text.splitlines() if "would be re-run" in line]
    assert len(summary) == (1 if reruns else 0)
    if reruns:
        assert summary[0].startswith("1 session would be re-run by the next OpenCode service boot")


@pytest.mark.parametrize("option", [(), ("--let-opencode-resume",)])
def test_a_1x_database_is_recovered_as_before_with_or_without_the_option(
    fixture_db: Callable[..., Path], option: tuple[str, ...]
) -> None:
    db = fixture_db("stuck-two")
    ran = ocinspect("--db", str(db), "run", *option, "--", "true")
    assert ran.returncode == 0, ran.stderr
    (line,) = ran.stderr.splitlines()
    assert line.startswith("ocinspect: recovered 2 stuck sessions before start (run ")
    assert stuck_tools(db) == 0

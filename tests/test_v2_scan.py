"""OpenCode 2 databases diagnosed through the seam: every real 2.1.2 fixture, both tiers, the
``next`` sentence, ``show``, a renamed claim column; the file is never written."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from inspector.cli import cli

V2 = Path(__file__).parent / "fixtures" / "v2"

# fixture -> {session id: (patterns, words of its "next" sentence)}
CLAIMED = "the next service boot re-runs this turn, calling the model again (attempt 1 of 10)"
FOR_GOOD = "no server finishes it, it stays stuck"
EXPECTED: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "v2-clean": {},
    "v2-stuck-bash": {
        "ses_daf4c8d96ffeAGO55FNvmDcFBJ": (
            ("claim-orphan", "crash-orphan"),
            f"crashed mid-shell; a plain server shows it thinking forever; {CLAIMED}",
        )
    },
    "v2-stuck-pending": {
        "ses_daf4b4b68ffevVfKStwGoGHCVs": (
            ("claim-orphan", "pending-placeholder"),
            f"crashed mid-shell; a plain server shows it thinking forever; {CLAIMED}",
        )
    },
    "v2-stuck-question": {
        "ses_daf4b73ebffec5HvWJgJrVOFCh": (
            ("claim-orphan", "question-wait"),
            f"crashed mid-question; a plain server shows it thinking forever; {CLAIMED}",
        )
    },
    "v2-stuck-ask": {"ses_daf45b617ffeWuecwr1KT6Pd5U": (("claim-orphan", "crash-orphan"), CLAIMED)},
    "v2-stuck-task": {
        "ses_daf4c7c10ffew1UjuuDtYnuYWw": (
            ("claim-orphan", "crash-orphan", "subagent-chain"),
            f"crashed mid-subagent; a plain server shows it thinking forever; {CLAIMED}",
        ),
        "ses_daf4c74c3ffeqY2Q3qA4QfBYl8": (
            ("claim-orphan", "crash-orphan", "subagent-chain"),
            "the next service boot releases the claim but leaves the turn open, so it stays stuck",
        ),
    },
    "v2-stuck-orphan-child": {
        "ses_daf428f63ffeR4ZKFOBtxusMUm": (
            ("orphan-child", "crash-orphan"),
            f"a subagent's turn left running after its parent moved on; {FOR_GOOD}",
        )
    },
    "v2-stuck-exhausted": {
        "ses_daf4ad894ffetK851ziR8QLDIC": (
            ("exhausted", "crash-orphan"),
            f"OpenCode gave up resuming it after 10 attempts; {FOR_GOOD}",
        )
    },
    "v2-stuck-graceful-stop": {
        "ses_daf47ec4fffe4zQSY8DYzISF3W": (
            ("claim-kept",),
            f"stopped with its turn still claimed; a plain server shows it thinking forever; {CLAIMED}",
        )
    },
    "v2-stuck-queued": {
        "ses_daf41bdd5ffeTEHcABHduq2Jh6": (
            ("claim-orphan", "inbox-stranded", "crash-orphan"),
            f"{CLAIMED}; 2 prompts wait undelivered",
        )
    },
    "v2-imported-from-v1-stuck-bash": {
        "ses_df18eeb6dffeePv0iTauMoOxIU": (
            ("imported-unfinished", "interrupted-turn"),
            f"imported from OpenCode 1.x with its turn unfinished; {FOR_GOOD}",
        )
    },
    "v2-imported-from-v1-stuck-pending": {
        "ses_df18e866fffeGD4m89iOLPHhqg": (("imported-unfinished", "interrupted-turn"), FOR_GOOD)
    },
    "v2-imported-from-v1-stuck-task": {
        "ses_df18eab18ffeF8zm5QUo7WX29g": (("imported-unfinished", "interrupted-turn", "subagent-chain"), FOR_GOOD),
        "ses_df18ea478ffedUk3exGgsWE7Dw": (("imported-unfinished", "interrupted-turn", "subagent-chain"), FOR_GOOD),
    },
}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def copy_of(name: str, tmp_path: Path) -> Path:
    path = tmp_path / "opencode.db"
    shutil.copyfile(V2 / f"{name}.db", path)
    return path


def test_every_v2_fixture_is_a_case() -> None:
    assert {p.stem for p in V2.glob("*.db")} == set(EXPECTED)


@pytest.mark.parametrize("tier", [(), ("--quick",)], ids=["deep", "quick"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scan_json_finds_exactly_the_stuck_sessions(name: str, tier: tuple[str, ...], tmp_path: Path) -> None:
    path = copy_of(name, tmp_path)
    before = path.read_bytes()
    result = run("--db", str(path), "scan", "--json", *tier)
    expected = EXPECTED[name]
    assert result.exit_code == (1 if expected else 0), result.stderr
    payload = json.loads(result.output)
    assert payload["schema"] == "v2"
    found = {s["id"]: s for s in payload["sessions"]}
    assert set(found) == set(expected)
    for sid, (patterns, words) in expected.items():
        assert tuple(found[sid]["patterns"]) == patterns
        assert words in found[sid]["next"]
        assert found[sid]["verdict"] == "stale"
    assert path.read_bytes() == before


def test_scan_text_and_show_say_what_happens_next(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-queued", tmp_path)
    before = path.read_bytes()
    scanned = run("--db", str(path), "scan")
    assert scanned.exit_code == 1
    assert "next: crashed mid-shell" in scanned.output
    shown = run("--db", str(path), "show", "ses_daf41bdd5ffeTEHcABHduq2Jh6")
    assert shown.exit_code == 0, shown.stderr
    next_lines = [line for line in shown.output.splitlines() if line.startswith("Next")]
    assert len(next_lines) == 1 and "crashed mid-shell" in next_lines[0]
    assert "Prompts waiting undelivered (inbox-stranded)" in shown.output
    assert path.read_bytes() == before


def test_a_v1_session_has_no_next(fixture_db: object) -> None:
    from tests.support.releases import SESSIONS

    assert callable(fixture_db)
    result = run("--db", str(fixture_db("stuck-bash")), "scan", "--json")
    sessions = json.loads(result.output)["sessions"]
    assert sorted(s["id"] for s in sessions) == sorted(SESSIONS["stuck-bash"])
    assert {s["next"] for s in sessions} == {""}
    shown = run("--db", str(fixture_db("stuck-bash")), "show", sessions[0]["id"])
    assert not [line for line in shown.output.splitlines() if line.startswith("Next")]


def altered(path: Path, change: str) -> None:
    """The claim column changed as a later (or broken) OpenCode 2 would leave it."""
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX session_v2_time_suspended_idx")
    conn.execute(change)
    conn.commit()
    conn.close()


def test_a_renamed_claim_column_is_diagnosed_and_never_written(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-bash", tmp_path)
    altered(path, "ALTER TABLE session_v2 RENAME COLUMN time_suspended TO execution_claimed_at")
    before = path.read_bytes()
    scanned = run("--db", str(path), "scan", "--json")
    assert scanned.exit_code == 0, scanned.stderr  # nothing recover can act on: it will not write this file
    [session] = json.loads(scanned.output)["sessions"]
    assert session["patterns"] == ["claim-orphan", "crash-orphan"]
    refused = run("--db", str(path), "recover", "--all")
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "the execution claim is execution_claimed_at, not time_suspended" in refused.stderr
    assert path.read_bytes() == before


def test_scan_says_when_it_will_not_write_the_file_and_sends_nobody_to_recover(tmp_path: Path) -> None:
    """A 2.x file of a shape not proven is diagnosed, and `scan` and `show` say that recovery is
    not offered (not "'ocinspect recover --all' settles it", which would then refuse)."""
    path = copy_of("v2-stuck-bash", tmp_path)
    altered(path, "ALTER TABLE session_v2 RENAME COLUMN time_suspended TO execution_claimed_at")
    text = run("--db", str(path), "scan")
    assert text.exit_code == 0, text.stderr  # recovery is not offered: nothing it can act on
    assert "recovery is not offered:" in text.output and "execution_claimed_at" in text.output
    assert "recover --all' settles" not in text.output
    assert "ocinspect will not write this file (see above)" in text.output
    [sid] = [s["id"] for s in json.loads(run("--db", str(path), "scan", "--json").output)["sessions"]]
    shown = run("--db", str(path), "show", sid)
    assert "Recovery  not offered:" in shown.output and "execution_claimed_at" in shown.output
    payload = json.loads(run("--db", str(path), "scan", "--json").output)
    assert payload["write_refusal"]["kind"] == "v2"
    assert "execution_claimed_at" in payload["write_refusal"]["message"]
    proven_scan = run("--db", str(copy_of("v2-stuck-bash", tmp_path)), "scan", "--json")
    assert proven_scan.exit_code == 1  # the same stuck session on a file it writes: recover can act
    proven = json.loads(proven_scan.output)
    assert proven["write_refusal"] is None


def test_a_v2_database_without_a_claim_column_is_not_diagnosed(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-bash", tmp_path)
    altered(path, "ALTER TABLE session_v2 DROP COLUMN time_suspended")
    result = run("--db", str(path), "scan")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no execution claim column" in result.stderr


def test_the_timeline_tells_a_v2_story_up_to_the_stuck_tool(tmp_path: Path) -> None:
    path = copy_of("v2-stuck-task", tmp_path)
    before = path.read_bytes()
    result = run("--db", str(path), "show", "ses_daf4c74c3ffeqY2Q3qA4QfBYl8", "--timeline")
    assert result.exit_code == 0, result.stderr
    assert "run the long check" in result.output
    assert "stopped here: shell left running" in result.output
    assert path.read_bytes() == before


def test_a_v2_tool_opens_whole_by_its_call_id(tmp_path: Path) -> None:
    from inspector.core.db.store import open_store
    from inspector.core.diagnose import timeline

    store = open_store(copy_of("v2-stuck-bash", tmp_path))
    try:
        detail = timeline.part_detail(store, "call_1796650268725344")
        assert detail is not None and detail.tool == "shell" and detail.status == "running"
        assert '"sleep 600"' in detail.input_json
        assert timeline.part_detail(store, "call_gone") is None
    finally:
        store.dispose()


def test_prompts_stranded_in_a_finished_session_are_found_without_an_open_row(tmp_path: Path) -> None:
    """No claim, no open turn: only the inbox holds the session (nothing to repair in its rows)."""
    path = copy_of("v2-clean", tmp_path)
    conn = sqlite3.connect(path)
    [sid] = conn.execute("SELECT id FROM session_v2").fetchone()
    conn.execute(
        "INSERT INTO session_inbox VALUES ('msg_x', ?, 'user', '{\"text\":\"later\"}', 'queue', 99, 1)", (sid,)
    )
    conn.commit()
    conn.close()
    for tier in ((), ("--quick",)):
        [session] = json.loads(run("--db", str(path), "scan", "--json", *tier).output)["sessions"]
        assert session["id"] == sid and session["patterns"] == ["inbox-stranded"]
        assert session["next"] == "1 prompt waits undelivered: nothing delivers them until the next prompt"
        assert session["stuck_parts"] == [] and session["unfinished_messages"] == []
        assert session["verdict"] == "unfixable"
        assert "send this session a prompt" in session["verdict_reason"]


def test_a_v2_file_is_resumed_and_refreshed_from_its_watermarks(tmp_path: Path) -> None:
    """Its changes are followed (rowids of ``session_message``/``session_v2``): a kept state
    stands in for a full pass, and a watch refresh needs no full scan."""
    from inspector.core.db.store import open_store
    from inspector.core.diagnose.incremental.refresh import full_scan, refresh
    from inspector.core.diagnose.incremental.resume import scan_resumed
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.opencode.live import OFFLINE

    store = open_store(copy_of("v2-stuck-bash", tmp_path))
    try:
        options = ScanOptions(live=OFFLINE, now=1, hung_after_ms=None)
        first, _ = scan_resumed(store, options)
        again, how = scan_resumed(store, options)
        assert how.kind == "incremental", how
        assert again == first
        assert [d.id for d in again.stuck] == ["ses_daf4c8d96ffeAGO55FNvmDcFBJ"]
        watched = full_scan(store, options)
        assert refresh(store, watched, options).result == watched.result
    finally:
        store.dispose()

"""The CLI contract: JSON shapes, exit codes, and one clean stderr line for every bad input."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import invoke as run
from tests.support.cli import ocinspect
from tests.support.databases import rows, sha256
from tests.support.releases import SESSIONS
from tests.support.unusable_db import foreign as _foreign
from tests.support.unusable_db import opencode_2x as _v2

SCAN_KEYS = {
    "database",
    "database_health",
    "schema",
    "opencode_live",
    "quick",
    "hung_after_ms",
    "scanned_at",
    "rerun_at_service_boot",
    "write_refusal",
    "sessions",
}
SESSION_KEYS = {
    "id",
    "title",
    "directory",
    "parent_id",
    "verdict",
    "verdict_reason",
    "patterns",
    "next",
    "warnings",
    "unfinished_messages",
    "stuck_parts",
    "children",
    "stuck_since",
    "last_activity",
    "idle_ms",
    "hang",
    "opencode_status",
}
PART_KEYS = {
    "id",
    "message_id",
    "tool",
    "status",
    "started",
    "elapsed_ms",
    "input_summary",
    "title",
    "child_session_id",
    "child_session_inferred",
    "in_finished_turn",
}
RUN_KEYS = {
    "run_id",
    "dry_run",
    "sessions",
    "parts_repaired",
    "messages_completed",
    "sessions_uncompacted",
    "events_appended",
    "via",
    "skipped",
    "journal",
    "plan",
}


def test_help_lists_commands_and_exit_codes() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in ("scan", "show", "recover", "undo", "EXIT CODES", "--demo"):
        assert word in result.output


def test_version() -> None:
    assert run("--version").output.startswith("ocinspect, version ")


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_scan_json_contract_on_every_fixture(fixture_db: Callable[..., Path], name: str) -> None:
    result = run("--db", str(fixture_db(name)), "scan", "--json")
    payload = json.loads(result.stdout)
    assert set(payload) == SCAN_KEYS
    assert payload["schema"] == "v1" and payload["opencode_live"] is False
    assert sorted(s["id"] for s in payload["sessions"]) == sorted(SESSIONS[name])
    for session in payload["sessions"]:
        assert set(session) == SESSION_KEYS and session["verdict"] == "stale"
        assert all(set(p) == PART_KEYS for p in session["stuck_parts"])
    assert result.exit_code == (1 if SESSIONS[name] else 0)


def test_scan_json_names_the_exact_part(fixture_db: Callable[..., Path]) -> None:
    payload = json.loads(run("--db", str(fixture_db("stuck-bash")), "scan", "--json").stdout)
    (session,) = payload["sessions"]
    assert session["patterns"] == ["crash-orphan"]
    assert session["unfinished_messages"] == ["msg_20e711917001ax9SiMVHXTS6oC"]
    (part,) = session["stuck_parts"]
    assert part["id"] == "prt_20e711e21001KxiM1bR4EMS3Yv"
    assert (part["tool"], part["status"], part["started"], part["input_summary"]) == (
        "bash",
        "running",
        1795538624041,
        "sleep 600",
    )


def test_show_text_explains(fixture_db: Callable[..., Path]) -> None:
    result = run("--db", str(fixture_db("stuck-task")), "show", "ses_df18eab18ffeF8zm5QUo7WX29g")
    assert result.exit_code == 0
    assert "Subagent chain" in result.stdout and "subagent session: ses_df18ea478ffedUk3exGgsWE7Dw" in result.stdout


def test_show_json(fixture_db: Callable[..., Path]) -> None:
    result = run("--db", str(fixture_db("stuck-task")), "show", "ses_df18ea478ffedUk3exGgsWE7Dw", "--json")
    payload = json.loads(result.stdout)
    assert payload["session"]["parent_id"] == "ses_df18eab18ffeF8zm5QUo7WX29g"


def test_recover_all_then_undo(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    original = rows(db, "SELECT id, data, time_updated FROM part ORDER BY id")
    result = run("--db", str(db), "recover", "--all", "--yes", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == RUN_KEYS
    assert sorted(payload["sessions"]) == sorted(SESSIONS["stuck-two"])
    assert (payload["parts_repaired"], payload["messages_completed"], payload["dry_run"]) == (2, 2, False)
    assert run("--db", str(db), "scan").exit_code == 0
    undo = run("--db", str(db), "undo", "--json")
    assert undo.exit_code == 0 and json.loads(undo.stdout)["restored"] == 4
    assert json.loads(undo.stdout)["events_appended"] == 4 == payload["events_appended"]
    assert payload["via"] == {sid: "direct" for sid in SESSIONS["stuck-two"]}
    assert rows(db, "SELECT id, data, time_updated FROM part ORDER BY id") == original
    again = run("--db", str(db), "undo")  # nothing left: a statement naming the run, not an error
    assert again.exit_code == 0 and again.stderr == ""
    assert f"its last recovery run, {payload['run_id']}, was already undone at " in again.stdout


def test_recover_dry_run_json_writes_nothing(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task")
    digest = sha256(db)
    result = run("--db", str(db), "recover", "--all", "--dry-run", "--json")
    payload = json.loads(result.stdout)
    assert payload["dry_run"] is True and payload["run_id"] is None and payload["parts_repaired"] == 2
    assert sha256(db) == digest


def test_recover_without_yes_off_a_terminal_refuses(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    digest = sha256(db)
    result = run("--db", str(db), "recover", "--all")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "ocinspect: error: not on a terminal: add --yes to apply the plan without asking (or --dry-run)"
    ]
    assert sha256(db) == digest


def test_recover_needs_ids_or_all(fixture_db: Callable[..., Path]) -> None:
    assert run("--db", str(fixture_db("stuck-bash")), "recover").exit_code == 2


def test_nothing_to_recover(fixture_db: Callable[..., Path]) -> None:
    result = run("--db", str(fixture_db("clean")), "recover", "--all", "--yes")
    assert result.exit_code == 0 and "Nothing to recover." in result.stdout


def test_backup_before_recover(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-bash")
    copy = tmp_path / "backup.db"
    assert run("--db", str(db), "recover", "--all", "--yes", "--backup", str(copy)).exit_code == 0
    assert rows(copy, "SELECT count(*) FROM part WHERE json_extract(data,'$.state.status')='running'") == [(1,)]


def test_locate_via_env(fixture_db: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCODE_DB", str(fixture_db("stuck-bash")))
    assert run("scan").exit_code == 1


# ---- bad input: one line on stderr, exit 2, file unchanged --------------------------------------


def _corrupt_message(path: Path, fixture_db: Callable[..., Path]) -> None:
    from tests.support.databases import copy_db
    from tests.support.releases import FIXTURES

    copy_db(FIXTURES / "opencode-1.18.33-stuck-bash.db", path)
    conn = sqlite3.connect(path)
    conn.execute(
        'UPDATE message SET data = \'{"role":"assistant","time":{\' WHERE id = \'msg_20e711917001ax9SiMVHXTS6oC\''
    )
    conn.commit()
    conn.close()


BAD: dict[str, tuple[Callable[[Path, Callable[..., Path]], object], str]] = {
    "missing": (lambda p, f: None, "no such file"),
    "empty": (lambda p, f: p.write_bytes(b""), "is empty"),
    "garbage": (lambda p, f: p.write_bytes(os.urandom(4096)), "not a SQLite database"),
    "truncated": (
        lambda p, f: p.write_bytes(
            (Path(__file__).parent / "fixtures" / "opencode-1.18.33-clean.db").read_bytes()[:5000]
        ),
        "damaged",
    ),
    "foreign": (lambda p, f: _foreign(p), "not OpenCode's"),
    "v2": (lambda p, f: _v2(p), "OpenCode 2.x"),
    "corrupt-json": (_corrupt_message, "corrupt JSON"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", [["scan", "--json"], ["recover", "--all", "--yes"]])
def test_bad_input_is_one_line_exit_2_unchanged(
    tmp_path: Path, fixture_db: Callable[..., Path], case: str, command: list[str]
) -> None:
    path = tmp_path / f"{case}.db"
    build, expected = BAD[case]
    build(path, fixture_db)
    digest = sha256(path) if path.exists() else None
    result = run("--db", str(path), *command)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ocinspect: error: ") and expected in lines[0], lines
    assert "Traceback" not in result.output
    assert (sha256(path) if path.exists() else None) == digest


def test_directory_without_database(tmp_path: Path) -> None:
    result = run("--db", str(tmp_path), "scan")
    assert result.exit_code == 2 and "no OpenCode database in it" in result.stderr


def test_legacy_json_storage_is_reported(tmp_path: Path) -> None:
    (tmp_path / "storage" / "session" / "global").mkdir(parents=True)
    result = run("--db", str(tmp_path), "scan")
    assert result.exit_code == 2 and "legacy OpenCode JSON storage" in result.stderr


def test_legacy_json_beside_an_empty_opencode_db_is_legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "opencode"
    (data / "storage" / "session" / "global").mkdir(parents=True)
    (data / "opencode.db").write_bytes(b"")  # what any sqlite3 call on the path leaves behind
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    for args in (["--db", str(data)], ["--db", str(data / "opencode.db")], []):
        result = run(*args, "scan")
        assert result.exit_code == 2
        assert result.stderr == (
            f"ocinspect: error: {data} is legacy OpenCode JSON storage (≤ 1.1) (its "
            "opencode.db is an empty file); it has no SQLite database to diagnose — "
            "upgrade OpenCode, which migrates it\n"
        )
    assert (data / "opencode.db").stat().st_size == 0


def test_empty_opencode_db_without_legacy_storage_is_just_empty(tmp_path: Path) -> None:
    (tmp_path / "opencode.db").write_bytes(b"")
    result = run("--db", str(tmp_path / "opencode.db"), "scan")
    assert result.exit_code == 2 and "is empty, not an OpenCode database" in result.stderr


def test_unknown_session(fixture_db: Callable[..., Path]) -> None:
    for command in (["show", "ses_missing"], ["recover", "ses_missing", "--yes"]):
        result = run("--db", str(fixture_db("stuck-bash")), *command)
        assert result.exit_code == 2 and result.stderr.strip() == (
            f"ocinspect: error: no session ses_missing in {fixture_db('stuck-bash')}"
        )


def test_locked_database_on_recover(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = run("--db", str(db), "--busy-timeout", "200", "recover", "--all", "--yes")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 2
    assert result.stderr.strip().endswith("is locked by another process (waited for the busy timeout)")
    assert rows(db, "SELECT count(*) FROM part WHERE json_extract(data,'$.state.status')='running'") == [(1,)]


def test_markup_and_escapes_are_printed_as_data(tmp_path: Path) -> None:
    from inspector.core.synth.builder import DatabaseBuilder

    db = tmp_path / "evil.db"
    with DatabaseBuilder(db) as b:
        project = b.project("/p", created=1)
        sid = b.session(project_id=project, title="[bold red]x[/] \x1b[2J", directory="/p", created=1795530000000)
        user = b.user_message(sid, "hi", created=1795530000100)
        msg = b.assistant_message(sid, user, created=1795530000200)
        b.tool_part(
            msg,
            sid,
            tool="bash",
            status="running",
            tool_input={"command": "echo \x1b]0;pwned\x07"},
            created=1795530000300,
        )
    text = run("--db", str(db), "scan").stdout
    assert "\x1b" not in text and "\\x1b[2J" in text and "[bold red]x[/]" in text
    raw = run("--db", str(db), "scan", "--json").stdout
    assert "\x1b" not in raw
    payload = json.loads(raw)  # JSON gives back the exact title (json.dumps escaped it)
    assert payload["sessions"][0]["title"] == "[bold red]x[/] \x1b[2J"


def test_plan_refuses_live_sessions_and_dry_run_flag_is_honest(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    """Core refuses a busy session; the CLI's ``dry_run`` reflects --dry-run only (the refused,
    non-dry-run path needs a really busy OpenCode: tests/e2e checks it is reported ``false``)."""
    from inspector.core.db.store import open_store
    from inspector.core.opencode.live import LiveStatus
    from inspector.core.repair import recover as core

    db = fixture_db("stuck-bash")
    plan = core.plan(open_store(db), live=LiveStatus(running=True, busy=frozenset(SESSIONS["stuck-bash"])))
    assert plan.is_empty and plan.refused
    result = run("--db", str(db), "recover", "--all", "--dry-run", "--json")
    assert json.loads(result.stdout)["dry_run"] is True


def test_tool_names_from_the_database_cannot_reach_the_terminal(tmp_path: Path) -> None:
    from inspector.core.synth.builder import DatabaseBuilder

    db = tmp_path / "tool.db"
    with DatabaseBuilder(db) as b:
        project = b.project("/p", created=1)
        sid = b.session(project_id=project, title="t", directory="/p", created=1795530000000)
        user = b.user_message(sid, "hi", created=1795530000100)
        msg = b.assistant_message(sid, user, created=1795530000200)
        b.tool_part(msg, sid, tool="ba\x1b[31msh", status="running", tool_input={"command": "x"}, created=1795530000300)
    for command in (["scan"], ["show", sid], ["recover", "--all", "--dry-run"]):
        out = run("--db", str(db), *command).stdout
        assert "\x1b" not in out and "ba\\x1b[31msh" in out, command


def test_undo_on_a_2x_database_names_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    _v2(path)
    result = run("--db", str(path), "undo")
    assert result.exit_code == 2 and "OpenCode 2.x" in result.stderr


def test_recover_says_the_id_wrap_risk_before_writing(fixture_db: Callable[..., Path]) -> None:
    """Issue 11: a session OpenCode ≤ 1.18.14 will loop on is flagged in the plan itself."""
    db = fixture_db("id-wrap-stuck", "1.18.14")
    result = run("--db", str(db), "recover", "--all", "--dry-run")
    risky = [line for line in result.stdout.splitlines() if line.startswith("! ")]
    assert risky and all("upgrade opencode to 1.18.15 or newer" in line.lower() for line in risky), result.stdout
    assert result.stdout.index("! ") < result.stdout.index("Plan:")


@pytest.mark.parametrize(
    "args, fragment, where",
    [
        (["--hung-after", "10x", "scan"], "not a duration: '10x'", "ocinspect"),
        (["--hung-after", "99999999999999999999h", "scan"], "at most 30d", "ocinspect"),
        (["scan", "--hung-after", "9" * 400 + "h"], "at most 30d", "ocinspect scan"),
        (["watch", "--abort-hung-after", "31d"], "at most 30d", "ocinspect watch"),
        (["show"], "Missing argument 'SESSION_ID'", "ocinspect show"),
        (["scan", "--bogus"], "No such option", "ocinspect scan"),
        (["--bogus"], "No such option", "ocinspect"),
        (["frobnicate"], "No such command 'frobnicate'", "ocinspect"),
        (
            ["scan", "--db", "x.db"],
            "put global options before the command (ocinspect --db PATH scan ...)",
            "ocinspect scan",
        ),
        (["recover"], "give SESSION_ID(s) or --all", "ocinspect recover"),
        (["run"], "give the command to start", "ocinspect run"),
    ],
    ids=[
        "bad-duration",
        "huge-duration",
        "overflowing-duration",
        "watch-duration",
        "missing-arg",
        "unknown-option",
        "unknown-global-option",
        "unknown-command",
        "global-option-after",
        "recover-usage",
        "run-usage",
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], fragment: str, where: str) -> None:
    """The README promises one ``ocinspect: error:`` line for bad input, usage errors included."""
    done = ocinspect(*args)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("ocinspect: error: ") and fragment in line, line
    assert line.endswith(f"(see '{where} --help')"), line


def test_help_is_still_clicks_full_help() -> None:
    done = ocinspect("show", "--help")
    assert done.returncode == 0 and done.stdout.startswith("Usage: ocinspect show [OPTIONS] SESSION_ID")


# ---- the TUI's theme (--theme) and settings directory -------------------------------------------


def test_unknown_theme_is_one_line_exit_2_and_no_tui(tmp_path: Path) -> None:
    done = ocinspect("--theme", "neon", "--demo")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()  # not even the demo's "demo database at" line: nothing was built
    assert line.startswith("ocinspect: error: unknown theme 'neon' (themes: textual-dark, ") and "nord" in line, line


def test_theme_option_and_settings_dir_reach_the_app(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    from inspector.cli import Settings, tui_app

    app = tui_app(Settings(str(fixture_db("stuck-bash")), None, 5000), demo=False, theme="nord")
    assert app.config.theme == "nord"
    assert app.config.settings_dir == tmp_path / "config" / "ocinspect"  # $XDG_CONFIG_HOME (isolated_env)
    assert "--theme NAME" in run("--help").output


def test_a_1x_database_imported_by_opencode_2_is_read_and_repaired_as_2x(tmp_path: Path) -> None:
    """OpenCode 2 keeps the imported v1 rows but reads only its own tables: they are not the
    truth, and the repair leaves them as they are."""
    path = tmp_path / "opencode.db"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "v2" / "v2-imported-from-v1-stuck-bash.db", path)
    v1_rows = rows(path, "SELECT * FROM part ORDER BY id")
    scanned = run("--db", str(path), "scan", "--json")
    assert scanned.exit_code == 1, scanned.stderr
    payload = json.loads(scanned.output)
    assert payload["schema"] == "v2"
    assert [s["patterns"][0] for s in payload["sessions"]] == ["imported-unfinished"]
    repaired = run("--db", str(path), "recover", "--all", "--yes")
    assert repaired.exit_code == 0, repaired.stderr
    assert run("--db", str(path), "scan").exit_code == 0
    assert rows(path, "SELECT * FROM part ORDER BY id") == v1_rows


def test_a_2x_database_of_another_shape_is_diagnosed_and_never_written(tmp_path: Path) -> None:
    path = tmp_path / "opencode.db"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "v2" / "v2-stuck-bash.db", path)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE session_v2 RENAME COLUMN time_suspended TO execution_claimed_at")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    refused = run("--db", str(path), "recover", "--all", "--yes")
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "does not write it" in refused.stderr and "execution_claimed_at" in refused.stderr
    assert path.read_bytes() == before


def test_abort_hung_on_a_2x_database_with_no_server_repairs_what_is_stale(tmp_path: Path) -> None:
    """2.x is stopped through its own server (``opencode/v2_answers.py``); with none running
    nothing is hung, so ``--abort-hung`` is the plain repair (it used to refuse 2.x)."""
    path = tmp_path / "opencode.db"
    shutil.copyfile(Path(__file__).parent / "fixtures" / "v2" / "v2-stuck-bash.db", path)
    result = run("--db", str(path), "recover", "--all", "--abort-hung", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "1.x only" not in result.stderr
    assert run("--db", str(path), "scan").exit_code == 0

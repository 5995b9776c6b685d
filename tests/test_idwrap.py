"""OpenCode ≤ 1.18.14's id wrap: sessions at risk are flagged before anyone recovers or prompts
them, and the loop's leftovers are recognised. Real 1.18.14 fixtures (clock set before the
2026-08-14 wrap with libfaketime; see tests/fixtures/README.md)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from inspector.cli import cli
from inspector.core.db.store import open_store
from inspector.core.diagnose import idwrap
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan
from inspector.core.model import ScanResult
from inspector.core.opencode.live import OFFLINE, LiveStatus
from tests.support.narrow import present
from tests.support.releases import RELEASES

V = "1.18.14"
NOW = RELEASES[V].now
WRAP = 26 * (1 << 36)  # 2026-08-14T11:19:55.136Z
STUCK = "ses_0000295fcffez3QaKvu0zlJ9vL"  # id-wrap-stuck: stuck in bash, ids from before the wrap
FINISHED = "ses_000029fc5ffe1pcXhVCy1fLXJ5"  # id-wrap-stuck: finished turn, ids from before the wrap
LOOPED = "ses_0000292e4ffe379YQouS4GIuZo"  # id-wrap-loop: its old prompt answered 24+ times
IGNORED = "ses_000029fecffe29eo5zwQ22TefS"  # id-wrap-loop: its new prompt silently ignored


def opencode_id(ms: int, counter: int = 1) -> str:
    """A message id as OpenCode mints it (48 bits of ms * 0x1000 + counter)."""
    return f"msg_{(ms * 0x1000 + counter) % (1 << 48):012x}" + "A" * 14


def diagnose(db: Path, **kw: Any) -> ScanResult:
    kw.setdefault("now", NOW)
    return scan(open_store(db), ScanOptions(live=OFFLINE, **kw))


def set_versions(db: Path, version: str, session: str | None = None) -> None:
    conn = sqlite3.connect(db)
    with conn:
        if session:
            conn.execute("UPDATE session SET version = ? WHERE id = ?", (version, session))
        else:
            conn.execute("UPDATE session SET version = ?", (version,))
    conn.close()


def test_ids_minted_before_the_wrap_sort_after_the_bound_and_new_ids_before() -> None:
    bound = idwrap.message_id_bound(NOW)
    assert opencode_id(WRAP - 60_000) > bound  # a minute before the wrap
    assert opencode_id(WRAP - 600 * 86_400_000) > bound  # still, 600 days before it
    # ids more than one id period (~795 days) old sort before new ids again: not at risk
    assert opencode_id(NOW - (1 << 36) - 86_400_000) < bound
    assert opencode_id(WRAP + 60_000) < bound  # after the wrap
    assert opencode_id(NOW, 0xFFF) < bound  # minted now, any counter
    # before the wrap, nothing sorts after the clock
    assert opencode_id(WRAP - 60_000) < idwrap.message_id_bound(WRAP - 1000)


@pytest.mark.parametrize(
    ("versions", "writer"),
    [
        (["1.18.14"], "1.18.14"),
        (["1.2.27", "1.18.14"], "1.18.14"),
        (["1.18.14", "1.18.15"], None),
        (["1.18.33"], None),
        (["0.0.0-dev-202611301200"], None),  # dev builds: unknown, no warning
        ([None, "local"], None),
        ([], None),
    ],
)
def test_the_writer_is_the_newest_release_seen(versions: list[str | None], writer: str | None) -> None:
    assert idwrap.affected_writer(versions) == writer


def test_stuck_session_is_flagged_at_risk_before_recovery(fixture_db: Callable[..., Path]) -> None:
    result = diagnose(fixture_db("id-wrap-stuck", V), all_sessions=True)
    assert {d.id: (d.patterns, d.warnings) for d in result.sessions} == {
        STUCK: (("crash-orphan",), ("id-wrap-risk",)),
        FINISHED: ((), ("id-wrap-risk",)),  # not stuck, but a new prompt would be ignored
    }


def test_cli_says_it_in_scan_text_json_and_show(fixture_db: Callable[..., Path]) -> None:
    db = str(fixture_db("id-wrap-stuck", V))
    runner = CliRunner()
    text = runner.invoke(cli, ["--db", db, "scan"]).stdout
    assert (
        "! At risk: OpenCode ≤ 1.18.14 id wrap (id-wrap-risk): Upgrade OpenCode to 1.18.15 or newer "
        "before you continue this session." in text
    )
    payload = json.loads(runner.invoke(cli, ["--db", db, "scan", "--json"]).stdout)
    assert [(s["id"], s["warnings"]) for s in payload["sessions"]] == [(STUCK, ["id-wrap-risk"])]
    show = runner.invoke(cli, ["--db", db, "show", STUCK]).stdout
    assert "Advice:   Upgrade OpenCode to 1.18.15 or newer before you continue this session." in show
    assert show.index("id-wrap-risk") < show.index("Crash orphan")  # said before the repair


def test_no_warning_once_a_fixed_release_wrote_the_database(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("id-wrap-stuck", V)
    set_versions(db, "1.18.15", FINISHED)  # the user upgraded and started a session since
    assert {d.id: d.warnings for d in diagnose(db, all_sessions=True).sessions} == {STUCK: (), FINISHED: ()}


def test_no_warning_before_the_wrap(fixture_db: Callable[..., Path]) -> None:
    result = diagnose(fixture_db("id-wrap-stuck", V), now=WRAP - 30_000, all_sessions=True)
    assert {d.id: d.warnings for d in result.sessions} == {STUCK: (), FINISHED: ()}


def test_ids_minted_since_the_wrap_are_not_at_risk(fixture_db: Callable[..., Path]) -> None:
    (diag,) = diagnose(fixture_db("stuck-bash", V)).sessions  # 1.18.14, but captured in November
    assert diag.warnings == ()


def test_the_loop_leftovers_are_recognised(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("id-wrap-loop", V)
    with open_store(db).reading() as reads:
        (count,) = idwrap.loop_leftovers(reads, NOW).values()
    assert count >= 24
    result = diagnose(db)
    assert present(result.get(LOOPED)).patterns == ("crash-orphan", "interrupted-turn", "ignores-prompts")
    assert present(result.get(IGNORED)).patterns == ("ignores-prompts",)


def keep_replies(db: Path, n: int) -> None:
    """Drop all but the first ``n`` loop replies (and their parts)."""
    conn = sqlite3.connect(db)
    with conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM message WHERE session_id = ? AND id < 'msg_8' AND "
                "json_extract(data,'$.role') = 'assistant' ORDER BY time_created",
                (LOOPED,),
            )
        ]
        for mid in ids[n:]:
            conn.execute("DELETE FROM part WHERE message_id = ?", (mid,))
            conn.execute("DELETE FROM message WHERE id = ?", (mid,))
    conn.close()


@pytest.mark.parametrize(("replies", "loop"), [(3, True), (2, False)])
def test_a_loop_takes_several_replies_to_the_old_prompt(
    fixture_db: Callable[..., Path], replies: int, loop: bool
) -> None:
    db = fixture_db("id-wrap-loop", V)
    keep_replies(db, replies)
    assert ("ignores-prompts" in present(diagnose(db).get(LOOPED)).patterns) is loop


def test_loop_leftovers_are_only_looked_for_when_the_writer_has_the_bug(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("id-wrap-loop", V)
    set_versions(db, "1.18.33", IGNORED)
    result = diagnose(db)
    assert present(result.get(LOOPED)).patterns == ("crash-orphan", "interrupted-turn")
    assert present(result.get(IGNORED)).patterns == ("ignores-prompts",)  # newest prompt sorts first: always found


def test_a_session_that_only_ignores_prompts_is_unfixable(fixture_db: Callable[..., Path]) -> None:
    """Nothing in the database to repair: not "stale" (safe to recover), but what to do instead."""
    result = diagnose(fixture_db("id-wrap-loop", V))
    ignored, looped = present(result.get(IGNORED)), present(result.get(LOOPED))
    assert (ignored.verdict, ignored.repairable) == ("unfixable", False)
    assert (
        ignored.live_reason
        == "ocinspect cannot fix it: upgrade OpenCode to 1.18.15 or newer, then send the prompt again"
    )
    assert (looped.verdict, looped.repairable) == ("stale", True)  # its stuck rows can be repaired
    unknown = scan(
        open_store(fixture_db("id-wrap-loop", V)), ScanOptions(live=LiveStatus(running=None, detail="?"), now=NOW)
    )
    assert present(unknown.get(IGNORED)).verdict == "unfixable"  # forcing would not help either
    busy = LiveStatus(running=True, busy=frozenset({IGNORED}))
    assert (
        present(scan(open_store(fixture_db("id-wrap-loop", V)), ScanOptions(live=busy, now=NOW)).get(IGNORED)).verdict
        == "live"
    )


def test_scan_and_recover_agree_on_an_unfixable_session(fixture_db: Callable[..., Path]) -> None:
    """recover --all exits 0, so the scan after it exits 0 too: it says what to do instead."""
    db = str(fixture_db("id-wrap-loop", V))
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "scan"]).exit_code == 1  # the looped session is stale
    assert runner.invoke(cli, ["--db", db, "recover", "--all", "--yes"]).exit_code == 0
    scanned = runner.invoke(cli, ["--db", db, "scan"])
    assert scanned.exit_code == 0, scanned.output
    advice = "ocinspect cannot fix it: upgrade OpenCode to 1.18.15 or newer, then send the prompt again"
    assert "2 stuck sessions (2 unfixable)" in scanned.stdout and scanned.stdout.count(advice) == 2
    payload = json.loads(runner.invoke(cli, ["--db", db, "scan", "--json"]).stdout)
    assert {(s["id"], s["verdict"], s["verdict_reason"]) for s in payload["sessions"]} == {
        (LOOPED, "unfixable", advice),
        (IGNORED, "unfixable", advice),
    }
    again = runner.invoke(cli, ["--db", db, "recover", "--all", "--yes"])
    assert again.exit_code == 0 and "Nothing to recover." in again.stdout
    assert f"Skipped {IGNORED}: {advice}" in again.stdout
    shown = runner.invoke(cli, ["--db", db, "show", IGNORED])
    assert f"Verdict   unfixable: {advice}" in shown.stdout


def test_core_texts_name_no_cli_flag() -> None:
    from inspector.core.diagnose.patterns import PATTERNS, REOPEN_HINT, VERDICTS, WARNINGS
    from inspector.core.repair.operations import READ_ONLY

    texts = [
        *VERDICTS.values(),
        REOPEN_HINT,
        READ_ONLY,
        *(p.why + p.repair for p in PATTERNS.values()),
        *(w.why + w.advice for w in WARNINGS.values()),
    ]
    assert [t for t in texts if "--" in t] == []
    assert "unfixable" in VERDICTS

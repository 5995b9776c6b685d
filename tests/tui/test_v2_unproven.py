"""An OpenCode 2 file whose columns differ from the proven 2.1.2 shape (a later release renames
the claim column): the TUI diagnoses it, and its detail offers no ``r``, because core refuses to
write it (``Store.require_writable``; the scan carries that typed refusal), nor does the list
offer ``r``/``R``. A snapshot of the detail and a pilot test pressing ``R`` and ``r``, on a copy
of the real 2.1.2 ``v2-stuck-bash`` fixture."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

from inspector.core.errors import OpenCode2xSchema
from inspector.tui.screens import SessionDetailScreen
from tests.support.tui import app_for, keys_then_settle, press, screen_text, settle

V2 = Path(__file__).parent.parent / "fixtures" / "v2"
STUCK = "ses_daf4c8d96ffeAGO55FNvmDcFBJ"


def renamed_claim(directory: Path) -> Path:
    """``v2-stuck-bash`` with ``time_suspended`` renamed as upstream's later migration does
    (relative to ``directory``, the test's cwd, so the snapshot shows no temporary path)."""
    path = directory / "unproven.db"
    shutil.copyfile(V2 / "v2-stuck-bash.db", path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX session_v2_time_suspended_idx")
        conn.execute("ALTER TABLE session_v2 RENAME COLUMN time_suspended TO execution_claimed_at")
    return Path(path.name)


def test_the_detail_of_an_unproven_v2_file_offers_no_recovery(
    snap_compare: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    db = renamed_claim(tmp_path)
    assert snap_compare(app_for(db), terminal_size=(100, 40), run_before=keys_then_settle("enter"))


async def test_r_in_the_detail_of_an_unproven_v2_file_writes_nothing(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    db = renamed_claim(tmp_path)
    before = db.read_bytes()
    app = app_for(db)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        result = app.scan_result
        assert result is not None and isinstance(result.write_refusal, OpenCode2xSchema)
        listed = app.screen
        assert listed.check_action("recover_selected", ()) is False
        assert listed.check_action("recover_all", ()) is False
        await press(pilot, "R")
        assert app.screen is listed  # no plan, no confirmation dialog
        await press(pilot, "enter")
        screen = app.screen
        assert isinstance(screen, SessionDetailScreen) and screen.session_id == STUCK
        assert screen.check_action("recover_selected", ()) is False
        text = screen_text(app)
        assert "Crashed with its turn claimed" in text  # still diagnosed
        assert "to see the exact plan and confirm" not in text
        assert "ocinspect diagnoses it but does not write it" in " ".join(text.split())
        await press(pilot, "r")
        assert app.screen is screen  # no plan, no confirmation dialog
    assert db.read_bytes() == before

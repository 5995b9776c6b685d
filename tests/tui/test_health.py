"""The TUI's notice when the database itself explains a hang: a starved WAL (snapshot: its
sizes are the same on every run), and a write lock held by another process, named as literal
text (its command line carries markup that must not be read as markup).

The snapshot's database gets its 40 MiB WAL from a real writer killed before it could
checkpoint, as a crashed OpenCode leaves it (one write of ~1 s)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from inspector.core.health.look import LOCK_HELD_MS, look
from inspector.core.text import now_ms
from inspector.tui.widgets import HealthNotice
from tests.support.db_processes import GROW_WAL, HOLD_WRITE_LOCK, crash, running, start, wal_copy
from tests.support.releases import FIXTURES
from tests.support.tui import SIZE, app_for, keys_then_settle, settle


def starved(tmp_path: Path) -> Path:
    db = wal_copy(FIXTURES / "opencode-1.18.33-stuck-bash.db", tmp_path / "stuck-bash.db")
    crash(start(GROW_WAL, str(db), "40"))
    return Path("stuck-bash.db")


class TestDatabaseHealth:
    def test_starved_wal_notice(self, snap_compare: Callable[..., bool], tmp_path: Path) -> None:
        assert snap_compare(app_for(starved(tmp_path)), terminal_size=SIZE, run_before=keys_then_settle())


async def test_a_held_lock_names_its_holder_as_text(tmp_path: Path) -> None:
    db = wal_copy(FIXTURES / "opencode-1.18.33-stuck-bash.db", tmp_path / "stuck-bash.db")
    program = tmp_path / "[reverse]holder"  # the process's name is markup-shaped text
    program.symlink_to(sys.executable)
    with running(HOLD_WRITE_LOCK, str(db), "IMMEDIATE", program=str(program)) as holder:
        look(db, now=now_ms() - LOCK_HELD_MS)  # an earlier look saw it held, the busy timeout ago
        app = app_for(Path("stuck-bash.db"), now=None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            notice = app.screen.query_one(HealthNotice)
            assert notice.display
            text = str(notice.render())
    assert f"pid {holder.pid} [reverse]holder ({program} -c" in text
    assert "(write-lock)" in text


async def test_a_healthy_database_shows_no_notice(fixture_copy: Callable[..., Path]) -> None:
    app = app_for(fixture_copy("stuck-bash"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.db_health is not None and not app.db_health.findings
        assert not app.screen.query_one(HealthNotice).display

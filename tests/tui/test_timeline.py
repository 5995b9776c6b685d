"""The timeline screen (issue 20 §1) driven by keys: open, move, expand, back, follow the file."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from inspector.core.synth.builder import DatabaseBuilder
from inspector.tui.screens import PartScreen, SessionDetailScreen, TimelineScreen
from inspector.tui.screens.timeline import StoryList
from tests.support.narrow import of_type
from tests.support.releases import NOW
from tests.support.tui import SIZE, TASK_CHILD, TASK_PARENT, app_for, eventually, press, screen_text, settle

BIG = 50_000


def big_output_db(tmp_path: Path) -> tuple[Path, str, str]:
    """A session whose bash is running with an output far longer than the story's tail."""
    with DatabaseBuilder(tmp_path / "big.db") as b:
        project = b.project("/home/dev/src/webapp", created=NOW - 600_000)
        sid = b.session(
            project_id=project, title="long output", directory="/home/dev/src/webapp", created=NOW - 600_000
        )
        user = b.user_message(sid, "run it [bold]now[/bold]", created=NOW - 500_000)
        reply = b.assistant_message(sid, user, created=NOW - 499_000)
        part = b.tool_part(
            reply,
            sid,
            tool="bash",
            status="running",
            created=NOW - 498_000,
            started=NOW - 497_000,
            tool_input={"command": "make all"},
            output="FIRST-LINE\n" + "\n".join(f"line {i}" for i in range(BIG // 8)) + "\nLAST-LINE",
        )
    return Path("big.db"), sid, part


async def test_t_opens_the_story_marks_the_stop_and_escape_goes_back(fixture_copy: Callable[..., Path]) -> None:
    app = app_for(fixture_copy("stuck-task"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_session(TASK_PARENT)
        await settle(pilot)
        await press(pilot, "t")
        assert isinstance(app.screen, TimelineScreen)
        text = screen_text(app)
        assert "SUBAGENT please check" in text and "run the long check" in text
        assert text.count("▶ stopped here") == 2 and "▶ task running" in text and "▶ bash running" in text
        assert text.index(TASK_PARENT) < text.index(TASK_CHILD)
        rows = app.screen.query_one(StoryList)
        start = rows.highlighted_option
        assert start is not None and start.id == "p:prt_20e715b7e0013ItAjTBII9fyp4"  # the stuck task
        await press(pilot, "j")
        assert rows.highlighted_option is not None and rows.highlighted_option.id == "e:msg_20e7158520013jieWNCw05vdin"
        await press(pilot, "k", "k")
        assert rows.highlighted_option is not None and rows.highlighted_option.id.startswith("p:prt_20e715b7a")  # step
        await press(pilot, "end")
        assert rows.highlighted == rows.option_count - 1
        await press(pilot, "home")
        assert rows.highlighted == 0
        await press(pilot, "s")
        assert rows.highlighted_option is not None and rows.highlighted_option.id == start.id
        await press(pilot, "escape")
        assert isinstance(app.screen, SessionDetailScreen)


async def test_enter_fetches_the_part_whole_and_escape_returns(tmp_path: Path) -> None:
    db, sid, part = big_output_db(tmp_path)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_session(sid)
        await settle(pilot)
        await press(pilot, "t")
        timeline = app.screen
        assert isinstance(timeline, TimelineScreen) and timeline.timeline is not None
        entry = next(e for e in timeline.timeline.main.entries if e.id == part)
        assert "FIRST-LINE" not in entry.output_tail  # the story holds only the tail
        assert "run it [bold]now[/bold]" in screen_text(app)  # literal, not markup
        await press(pilot, "enter")
        assert isinstance(app.screen, PartScreen) and app.screen.part_id == part
        first = screen_text(app)
        assert "bash running" in first and '"command": "make all"' in first and "FIRST-LINE" in first
        await press(pilot, "end")
        assert "LAST-LINE" in screen_text(app)
        await press(pilot, "home")
        assert "FIRST-LINE" in screen_text(app)
        await press(pilot, "escape")
        assert of_type(app.screen, TimelineScreen) is timeline


async def test_the_story_follows_the_file_in_watch_mode(tmp_path: Path) -> None:
    db, sid, part = big_output_db(tmp_path)
    app = app_for(db, watch_interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.open_session(sid)
        await settle(pilot)
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        assert await eventually(pilot, lambda: screen.timeline is not None)
        assert "▶ bash running" in screen_text(app)
        conn = sqlite3.connect(tmp_path / "big.db")  # OpenCode finishes the tool
        conn.execute(
            "UPDATE part SET data = json_set(data, '$.state.status', 'completed', '$.state.output', 'all done',"
            " '$.state.time.end', ?) WHERE id = ?",
            (NOW - 1000, part),
        )
        conn.commit()
        conn.close()
        assert await eventually(pilot, lambda: "bash completed" in screen_text(app))
        assert "▶ bash" not in screen_text(app)
        assert screen.timeline is not None and screen.timeline.main.stop is not None
        assert screen.timeline.main.stop.kind == "message"  # the reply itself is still unfinished

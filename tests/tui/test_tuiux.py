"""What people expect of a TUI: a saved theme, a keymap file, the mouse everywhere, sortable columns.

Real app, real databases; the settings directory is the test's own ``$XDG_CONFIG_HOME``
(``tui_cwd`` in conftest), so nothing here can read or write the user's files.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.binding import Binding

from inspector.core.diagnose.options import ScanOptions
from inspector.core.synth.demo import DemoSessions
from inspector.tui import settings
from inspector.tui.app import InspectorApp, binding_ids
from inspector.tui.screens import ConfirmRecovery, ConfirmUndo, HelpScreen, SessionDetailScreen, SessionsScreen
from inspector.tui.screens.timeline import StoryList
from inspector.tui.widgets import SessionLink, SessionTable
from inspector.tui.widgets.key_footer import KeyLabel
from inspector.tui.widgets.session_table import Row, sort_key, sort_rows
from tests.support.narrow import of_type
from tests.support.releases import NOW
from tests.support.tui import (
    SIZE,
    TASK_CHILD,
    TASK_PARENT,
    app_for,
    dump,
    eventually,
    listed,
    notifications,
    press,
    screen_text,
    settle,
)


def header(app: InspectorApp) -> str:
    return screen_text(app).splitlines()[2]  # title bar, status line, then the table's header


def column_x(table: SessionTable, key: str) -> int:
    """An x offset inside the header cell of column ``key``."""
    x = 0
    for column in table.ordered_columns:
        if column.key.value == key:
            return x + 1
        x += column.get_render_width(table)
    raise KeyError(key)


@pytest.fixture
def config_home(tui_cwd: Path) -> Path:
    directory = settings.config_dir()
    assert directory == tui_cwd / "config" / "ocinspect"  # the fixture's, never the user's
    directory.mkdir(parents=True)
    return directory


# sorting ---------------------------------------------------------------------------------


async def test_s_cycles_the_sort_column_and_shift_s_reverses(demo: tuple[Path, DemoSessions]) -> None:
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        scan_order = listed(app)
        await press(pilot, "s")
        assert table.sorting.column == "title" and "Session ▲" in header(app)
        titles = [r.diag.session.title.casefold() for r in table.rows_shown if r.depth == 0]
        assert titles == sorted(titles)
        await press(pilot, "S")
        assert "Session ▼" in header(app)
        assert [r.diag.session.title.casefold() for r in table.rows_shown if r.depth == 0] == sorted(
            titles, reverse=True
        )
        await press(pilot, "s", "s")  # project, then verdict: most urgent first
        assert table.sorting.column == "verdict" and "Verdict ▲" in header(app)
        verdicts = [r.diag.verdict for r in table.rows_shown]
        assert verdicts[-1] == "unfixable" and listed(app)[-1] == ids.ignores_prompts
        for _ in range(4):  # pattern, parts, stuck for, then back to the scan's order
            await press(pilot, "s")
        assert table.sorting.column is None and "▲" not in header(app) and "▼" not in header(app)
        assert listed(app) == scan_order


async def test_stuck_for_sorts_longest_first_and_children_stay_under_their_parent(
    demo: tuple[Path, DemoSessions],
) -> None:
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        table.sort_by("stuck")
        await settle(pilot)
        assert "Stuck for ▼" in header(app)
        rows = table.rows_shown
        since = [r.diag.stuck_since for r in rows if r.depth == 0]
        known = [t for t in since if t is not None]
        assert known and since[: len(known)] == sorted(known)  # oldest stuck_since first: stuck the longest
        assert set(since[len(known) :]) <= {None}  # "-" last
        order = listed(app)
        assert order.index(ids.subagent_child) == order.index(ids.subagent_parent) + 1


async def test_the_sort_is_saved_with_the_theme_and_restored(
    demo: tuple[Path, DemoSessions], config_home: Path
) -> None:
    """s / S / a header click is kept in settings.toml (next to the theme) and used at the next start."""
    (config_home / settings.SETTINGS_FILE).write_text('theme = "nord"\n')
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "s", "s", "s", "S")  # title, project, verdict, then reversed
        assert app.screen.query_one(SessionTable).sorting.column == "verdict"
    saved = (config_home / settings.SETTINGS_FILE).read_text()
    assert 'theme = "nord"' in saved and 'sort = "verdict"' in saved and "sort_descending = true" in saved, saved
    again = app_for(db, demo=True, settings_dir=config_home)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = again.screen.query_one(SessionTable)
        assert (table.sorting.column, table.sorting.descending) == ("verdict", True)
        assert "Verdict ▼" in header(again) and again.theme == "nord"
        verdicts = [r.diag.verdict for r in table.rows_shown if r.depth == 0]
        assert verdicts[0] == "unfixable", verdicts  # most urgent last when reversed
        for _ in range(4):  # pattern, parts, stuck for, then the scan's order
            await press(pilot, "s")
        assert table.sorting.column is None
    assert "sort =" not in (config_home / settings.SETTINGS_FILE).read_text()


async def test_a_bad_saved_sort_is_a_notification(demo: tuple[Path, DemoSessions], config_home: Path) -> None:
    (config_home / settings.SETTINGS_FILE).write_text('sort = "colour"\n')
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one(SessionTable).sorting.column is None
        assert any("unknown sort column 'colour'" in n for n in notifications(app)), notifications(app)


def test_sort_is_stable_and_keeps_the_tree(demo: tuple[Path, DemoSessions]) -> None:
    """Rows with equal keys keep the given order, both ways; a child moves with its parent."""
    from inspector.core.db.store import open_store
    from inspector.core.diagnose.scan import depth_of, scan
    from inspector.core.opencode.live import OFFLINE

    db, ids = demo
    result = scan(open_store(db), ScanOptions(live=OFFLINE, now=NOW))
    rows = [Row(d, depth_of(d, result)) for d in result.sessions]
    by_verdict = sort_key("verdict", frozenset())
    for descending in (False, True):
        ordered = sort_rows(rows, by_verdict, descending)
        assert sorted(r.diag.id for r in ordered) == sorted(r.diag.id for r in rows)
        stale = [r.diag.id for r in ordered if r.diag.verdict == "stale" and r.depth == 0]
        assert stale == [r.diag.id for r in rows if r.diag.verdict == "stale" and r.depth == 0]
        ordered_ids = [r.diag.id for r in ordered]
        assert ordered_ids.index(ids.subagent_child) == ordered_ids.index(ids.subagent_parent) + 1


async def test_clicking_a_header_sorts_and_a_second_click_reverses(demo: tuple[Path, DemoSessions]) -> None:
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        project_x = column_x(table, "project")
        await pilot.click(SessionTable, offset=(project_x, 0))
        await settle(pilot)
        assert table.sorting.column == "project" and not table.sorting.descending
        projects = [r.diag.session.directory.rsplit("/", 1)[-1].casefold() for r in table.rows_shown if r.depth == 0]
        assert projects == sorted(projects)
        await pilot.click(SessionTable, offset=(project_x, 0))
        await settle(pilot)
        assert table.sorting.column == "project" and table.sorting.descending
        assert "Project ▼" in header(app)


async def test_the_sort_survives_a_watch_mode_refresh(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db, watch_interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        await press(pilot, "s", "S")  # title, descending
        before = listed(app)
        titles = [r.diag.session.title for r in table.rows_shown]
        conn = sqlite3.connect(db)
        conn.execute(
            "UPDATE session SET title = 'aaa first by name', time_updated = time_updated + 1 WHERE id = ?", (before[0],)
        )
        conn.commit()
        conn.close()
        for _ in range(100):
            await pilot.pause(0.05)
            if table.rows_shown[-1].diag.session.title == "aaa first by name":
                break
        assert table.sorting.column == "title" and table.sorting.descending
        assert listed(app) == [*before[1:], before[0]], titles
        assert "Session ▼" in header(app)


# theme -------------------------------------------------------------------------------------


async def test_the_theme_chosen_is_saved_and_comes_back(demo: tuple[Path, DemoSessions], config_home: Path) -> None:
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == settings.DEFAULT_THEME
        assert not (config_home / settings.SETTINGS_FILE).exists()  # nothing written before a choice
        app.theme = "nord"  # what the command palette's "Change theme" does
        await settle(pilot)
    assert 'theme = "nord"' in (config_home / settings.SETTINGS_FILE).read_text()
    again = app_for(db, demo=True, settings_dir=config_home)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.theme == "nord"
    override = app_for(db, demo=True, settings_dir=config_home, theme="dracula")  # --theme: this run only
    async with override.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert override.theme == "dracula"
    assert 'theme = "nord"' in (config_home / settings.SETTINGS_FILE).read_text()


async def test_the_command_palette_changes_and_saves_the_theme(
    demo: tuple[Path, DemoSessions], config_home: Path
) -> None:
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "ctrl+p")
        await pilot.press(*"theme")
        await settle(pilot)
        await press(pilot, "enter")  # "Theme": the list of themes
        await pilot.press(*"gruvbox")
        await settle(pilot)
        await press(pilot, "enter")
        assert app.theme == "gruvbox"
    assert 'theme = "gruvbox"' in (config_home / settings.SETTINGS_FILE).read_text()


async def test_a_theme_change_recolours_the_badges(demo: tuple[Path, DemoSessions]) -> None:
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        before = table.get_row_at(0)[2].style
        app.theme = "textual-light"
        await settle(pilot)
        assert table.get_row_at(0)[2].style != before


async def test_an_unknown_saved_theme_is_a_notification(demo: tuple[Path, DemoSessions], config_home: Path) -> None:
    (config_home / settings.SETTINGS_FILE).write_text('theme = "no-such-theme"\n')
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == settings.DEFAULT_THEME
        assert any("unknown theme 'no-such-theme'" in n for n in notifications(app))


def test_an_unknown_theme_argument_is_refused() -> None:
    with pytest.raises(settings.UnknownTheme, match="unknown theme 'neon'.*nord"):
        app_for(Path("x.db"), theme="neon")


async def test_the_theme_not_saved_is_said_not_a_crash(demo: tuple[Path, DemoSessions], tui_cwd: Path) -> None:
    blocked = tui_cwd / "config-file"
    blocked.write_text("a file where the directory should be")
    db, _ = demo
    app = app_for(db, demo=True, settings_dir=blocked / "ocinspect")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await settle(pilot)
        assert any("The theme is not saved" in n for n in notifications(app))


# keymap ------------------------------------------------------------------------------------


async def test_the_keymap_file_rebinds_keys(fixture_copy: Callable[..., Path], config_home: Path) -> None:
    (config_home / settings.KEYMAP_FILE).write_text('[keymap]\nrecover-session = "x"\nhelp = "f2"\n')
    db = fixture_copy("stuck-bash")
    app = app_for(db, settings_dir=config_home)
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        assert not notifications(app)
        await press(pilot, "r")  # no longer bound
        assert isinstance(app.screen, SessionsScreen)
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmRecovery)
        await press(pilot, "escape", "f2")
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "recover-session" in text  # the ids are in the help
        line = next(row for row in text.splitlines() if "recover-session" in row)
        assert line.split()[0] == "x", line  # the help shows the key the keymap gave


def drawn(renderable: object) -> str:
    """A Static's content as text (a Rich table too), wide enough not to wrap a sentence."""
    from rich.console import Console

    with open(os.devnull, "w") as sink:
        console = Console(width=400, record=True, file=sink)
        console.print(renderable)
        return console.export_text()


async def test_texts_name_the_key_the_keymap_gives(fixture_copy: Callable[..., Path], config_home: Path) -> None:
    """Hints, buttons, the empty state, toasts and the help say the key that works now."""
    (config_home / settings.KEYMAP_FILE).write_text(
        '[keymap]\ndetail-recover = "x"\nundo-last-run = "z"\nconfirm-recovery = "c"\ntoggle-all-sessions = "v"\n'
    )
    db = fixture_copy("stuck-bash")
    app = app_for(db, settings_dir=config_home)
    async with app.run_test(size=(100, 60)) as pilot:
        await settle(pilot)
        assert not notifications(app)
        await press(pilot, "enter")
        assert isinstance(app.screen, SessionDetailScreen)
        text = " ".join(screen_text(app).split())
        assert "Press x to see the exact plan and confirm." in text and "Press r " not in text, text
        assert "so z can undo it" in text, text
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmRecovery)
        text = screen_text(app)
        assert "Recover (c)" in text and "z undoes the last run" in text and "(y)" not in text, text
        await press(pilot, "c")
        assert isinstance(app.screen, SessionDetailScreen)
        assert "Press z to undo the last recovery" in " ".join(screen_text(app).split())
        assert any("Press z to undo." in n for n in notifications(app)), notifications(app)
        await press(pilot, "escape")
        assert isinstance(app.screen, SessionsScreen)
        assert "v lists every session · ctrl+r scans again" in screen_text(app)
        await press(pilot, "f1")
        assert isinstance(app.screen, HelpScreen)
        notes = " ".join(" ".join(drawn(s.content).split()) for s in app.screen.query("Static"))
        assert "z undoes the last recovery" in notes and "so z restores the exact rows" in notes, notes
        assert "u undoes" not in notes and "so u restores" not in notes


def test_every_key_template_names_a_real_binding() -> None:
    """A ``{binding-id}`` that no binding has would raise when drawn: every template is checked."""
    from inspector.tui import handoff as handoff_module
    from inspector.tui import writes as writes_module
    from inspector.tui.keys import fields
    from inspector.tui.screens import help as help_module
    from inspector.tui.screens.confirm_answer import ANSWER_KEY_HINT

    app = app_for(Path("x.db"))
    templates = [
        *writes_module.TUI_HINTS.values(),
        ANSWER_KEY_HINT,
        help_module.KEYMAP_NOTE,
        help_module.RECOVERED,
        help_module.RECOVERY_NOTE,
        handoff_module.STUCK_OPEN_HINT,
    ]
    named = [f for t in templates for f in fields(t)]
    assert len(named) >= len(templates)
    for binding_id in named:
        assert app.key_name(binding_id)


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("[keymap\nrecover-session = 'x'", "keymap.toml: not valid TOML"),
        ("recover-session = 'x'\n", "no [keymap] table"),
        ("[keymap]\nrecover-sesion = 'x'\n", "unknown binding id 'recover-sesion'"),
        ("[keymap]\nrecover-session = 3\n", "recover-session = 3 is not a key list"),
        ("[keymap]\nrecover-session = 'ctrl r'\n", "is not a key list"),
        (b"\xff\xfe[keymap]", "keymap.toml: cannot be read"),
    ],
)
async def test_a_bad_keymap_file_is_a_notification_and_the_keys_stay(
    fixture_copy: Callable[..., Path], config_home: Path, content: str | bytes, said: str
) -> None:
    path = config_home / settings.KEYMAP_FILE
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    db = fixture_copy("stuck-bash")
    app = app_for(db, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert any(said in n for n in notifications(app)), notifications(app)
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmRecovery)


async def test_a_key_that_clashes_is_said_and_ignored(fixture_copy: Callable[..., Path], config_home: Path) -> None:
    """Textual would silently take ``r`` from recover-session; the entry is refused instead."""
    (config_home / settings.KEYMAP_FILE).write_text('[keymap]\nrecover-all = "r"\nquit = "?"\nhelp = "x"\n')
    db = fixture_copy("stuck-two")
    app = app_for(db, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        said = notifications(app)
        assert any("recover-all = 'r': 'r' is already recover-session's key (Sessions list)" in n for n in said), said
        assert any("quit = '?'" in n for n in said) and not any("help = " in n for n in said), said
        await press(pilot, "r")
        assert isinstance(app.screen, ConfirmRecovery) and not app.screen.all_sessions
        await press(pilot, "escape", "R")
        assert isinstance(app.screen, ConfirmRecovery) and app.screen.all_sessions
        await press(pilot, "escape", "x")
        assert isinstance(app.screen, HelpScreen)


def test_every_binding_has_a_unique_id() -> None:
    app = app_for(Path("x.db"))
    groups = app.all_binding_groups()
    ids = binding_ids(groups)
    count = sum(1 for _, bindings in groups for _ in bindings)
    assert len(ids) == count and len(set(ids)) == len(ids)


# the mouse ---------------------------------------------------------------------------------


def footer_key(app: InspectorApp, action: str) -> KeyLabel:
    return next(k for k in app.screen.query(KeyLabel) if k.action == action)


async def test_footer_keys_are_clickable(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-two")
    app = app_for(db)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.click(footer_key(app, "recover_all"))
        await settle(pilot)
        assert isinstance(app.screen, ConfirmRecovery) and app.screen.all_sessions
        await pilot.click("#cancel")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        await pilot.click(footer_key(app, "help"))
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        await pilot.click(footer_key(app, "app.pop_screen"))
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        await pilot.click(footer_key(app, "cycle_sort"))
        await settle(pilot)
        assert app.screen.query_one(SessionTable).sorting.column == "title"


async def test_cancel_and_undo_buttons_work_with_the_mouse(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-bash")
    before = dump(db)
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        await pilot.click("#cancel")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen) and dump(db) == before
        await press(pilot, "r")
        await pilot.click("#confirm")
        await settle(pilot)
        assert dump(db) != before
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo)
        await pilot.click("#cancel")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen) and dump(db) != before
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo), notifications(app)
        await pilot.click("#confirm")
        await settle(pilot)
    assert dump(db) == before


async def test_the_force_checkbox_is_clickable(fixture_copy: Callable[..., Path]) -> None:
    from inspector.core.opencode.live import LiveStatus

    db = fixture_copy("stuck-bash")
    unsure = LiveStatus(running=None, detail="an opencode process is running that ocinspect cannot inspect")
    app = app_for(db, live=unsure)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r")
        assert app.screen.query_one("#confirm").disabled
        await pilot.click("#force")
        await settle(pilot)
        assert of_type(app.screen, ConfirmRecovery).plan.forced and not app.screen.query_one("#confirm").disabled


async def test_subagent_links_in_the_detail_are_clickable(fixture_copy: Callable[..., Path]) -> None:
    db = fixture_copy("stuck-task")
    app = app_for(db)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        app.open_session(TASK_PARENT)
        await settle(pilot)
        link = next(w for w in app.screen.query(SessionLink) if w.session_id == TASK_CHILD)
        app.screen.scroll_to_widget(link, animate=False)
        await settle(pilot)
        await pilot.click(link)
        await settle(pilot)
        assert isinstance(app.screen, SessionDetailScreen) and app.screen.session_id == TASK_CHILD
        up = next(w for w in app.screen.query(SessionLink) if w.session_id == TASK_PARENT)
        app.screen.scroll_to_widget(up, animate=False)
        await settle(pilot)
        await pilot.click(up)
        await settle(pilot)
        assert app.screen.session_id == TASK_PARENT
        await pilot.click(footer_key(app, "app.pop_screen"))  # the footer's Back
        await settle(pilot)
        assert app.screen.session_id == TASK_CHILD


def test_config_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert settings.config_dir({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "ocinspect"
    home = Path(os.environ["HOME"])
    assert settings.config_dir({"XDG_CONFIG_HOME": "relative/ignored"}) == home / ".config" / "ocinspect"
    assert settings.config_dir({}) == home / ".config" / "ocinspect"


async def test_keys_still_work_after_the_last_stuck_session_left_the_list(fixture_copy: Callable[..., Path]) -> None:
    """Once the list is empty, a closed dialog gave focus to the hidden filter input, which then
    swallowed every key (u, q, ...): the sessions screen focuses its table instead."""
    db = fixture_copy("stuck-bash")
    app = app_for(db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "r", "y", "u", "n")
        await press(pilot, "u")
        assert isinstance(app.screen, ConfirmUndo)


def test_the_docs_list_every_binding_id_with_its_keys() -> None:
    """The keymap table in the TUI guide is the ids' documentation: a new key needs its row."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "guide" / "tui.md").read_text()
    app = app_for(Path("x.db"))
    for _, bindings in app.all_binding_groups():
        for binding in bindings:
            assert isinstance(binding, Binding)
            assert f"| `{binding.id}` | " in readme and f"| `{binding.key}` |" in readme, binding.id


def readme_keymap_example() -> str:
    readme = (Path(__file__).resolve().parents[2] / "docs" / "guide" / "tui.md").read_text()
    section = readme[readme.index("### Theme and keys") :]
    start = section.index("```toml\n") + len("```toml\n")
    return section[start : section.index("```", start)]


async def test_the_readme_keymap_example_works_as_written(fixture_copy: Callable[..., Path], config_home: Path) -> None:
    """The documented example must load without a word of complaint, and its keys must work."""
    example = readme_keymap_example()
    assert "[keymap]" in example
    (config_home / settings.KEYMAP_FILE).write_text(example)
    db = fixture_copy("stuck-bash")
    app = app_for(db, settings_dir=config_home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not notifications(app), notifications(app)
        for line in example.splitlines()[1:]:
            binding_id, keys = (part.strip().strip('"') for part in line.split("="))
            assert app.keymap_overrides[binding_id] == keys
        await press(pilot, "x")
        assert isinstance(app.screen, ConfirmRecovery)
        await press(pilot, "escape", "h")
        assert isinstance(app.screen, HelpScreen)
        await press(pilot, "f1")
        assert isinstance(app.screen, SessionsScreen)


async def test_escape_from_the_filter_gives_the_keys_back_to_the_list(demo: tuple[Path, DemoSessions]) -> None:
    """``/``, type, ``esc``: the list has the focus again (arrows, enter, s) and the footer says so."""
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await press(pilot, "slash", *"auth", "escape")
        table = app.screen.query_one(SessionTable)
        assert app.focused is table
        assert "Open" in screen_text(app).splitlines()[-1] and "Sort" in screen_text(app).splitlines()[-1]
        row = table.cursor_row
        await press(pilot, "down")
        assert table.cursor_row == row + 1
        await press(pilot, "s")
        assert table.sorting.column == "title"
        await press(pilot, "enter")
        assert isinstance(app.screen, SessionDetailScreen)


async def test_the_list_moves_with_the_timelines_keys(demo: tuple[Path, DemoSessions]) -> None:
    """One key language: j/k, home/end and g/G move in the list as in the timeline and the pager."""
    db, ids = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        last = len(table.rows_shown) - 1
        for key, row in (("j", 1), ("j", 2), ("k", 1), ("end", last), ("home", 0), ("G", last), ("g", 0)):
            await press(pilot, key)
            assert table.cursor_row == row, key
        app.open_session(ids.crash_orphan)
        await settle(pilot)
        await press(pilot, "t")
        rows = app.screen.query_one("#timeline", StoryList)
        for key, row in (("g", 0), ("G", rows.option_count - 1)):
            await press(pilot, key)
            assert rows.highlighted == row, key


async def test_the_help_says_every_way_out_and_the_palette_has_one_help(demo: tuple[Path, DemoSessions]) -> None:
    db, _ = demo
    app = app_for(db, demo=True)
    async with app.run_test(size=(120, 200)) as pilot:  # the whole help on one screen
        await settle(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert titles.count("Help") == 1 and "Keys" not in titles, titles
        await press(pilot, "question_mark")
        assert "Close this help: esc, q, ?, f1. Back from any screen: esc. Quit: q, or ctrl+q" in screen_text(app)
        line = next(row for row in screen_text(app).splitlines() if "close-help" in row)
        assert all(key in line.split() for key in ("esc", "q", "?", "f1")), line
        for key in ("escape", "q", "question_mark", "f1"):
            assert isinstance(app.screen, HelpScreen)
            await press(pilot, key)
            assert isinstance(app.screen, SessionsScreen), key
            await press(pilot, "question_mark")


async def test_stuck_for_ticks_in_the_list_as_in_the_preview(fixture_copy: Callable[..., Path]) -> None:
    """The clock moves 65 s and nothing is written: the list's "Stuck for" and the preview's
    duration both advance (the screen's 1 s tick; no scan)."""
    from inspector.tui.format import elapsed
    from inspector.tui.widgets import SessionPreview

    db = fixture_copy("stuck-bash")
    clock = [NOW]
    app = app_for(db, now=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(SessionTable)
        diag = table.rows_shown[0].diag

        def shown() -> tuple[str, str]:
            preview = app.screen.query_one(SessionPreview)
            return table.get_cell(diag.id, "stuck").plain.strip(), str(preview.render())

        before = elapsed(diag.stuck_since, NOW)
        cell, preview = shown()
        assert cell == before and "running for 22m" in preview, shown()
        scans = app.scans.generation
        clock[0] = NOW + 65_000
        after = elapsed(diag.stuck_since, NOW + 65_000)
        assert after != before
        assert await eventually(pilot, lambda: shown()[0] == after), shown()
        assert await eventually(pilot, lambda: "running for 24m" in shown()[1]), shown()
        assert app.scans.generation == scans  # no scan was started for it

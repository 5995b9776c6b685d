"""Fixtures for the fault suites (marker ``reliability``).

Big stuck databases are built once per test session from the real DDL and copied per test with
SQLite's backup API. Counts are modest by default; ``OCINSPECT_FULL_RELIABILITY=1`` (or
``OCINSPECT_RACES`` / ``OCINSPECT_KILLS`` / …) runs the full figures reported in RESULTS.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.built_once import built_once

from .support import Layout, build_stuck_db, copy_db, set_journal_mode

KILL_UNITS = 1000  # the issue asks for >= 1,000 stuck sessions


def build_kill_templates(directory: Path) -> Layout:
    wal = directory / "stuck-wal.db"
    layout = build_stuck_db(wal, KILL_UNITS, clean=100, seed=11)
    delete = copy_db(wal, directory / "stuck-delete.db")
    set_journal_mode(wal, "WAL")
    set_journal_mode(delete, "DELETE")
    return layout


@pytest.fixture(scope="session")
def kill_templates(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], Layout]:
    """Two copies of one database with 1,000 stuck units (1,100 stuck sessions, 100 of them
    subagent children) and 100 clean ones: one in WAL mode (OpenCode's), one with a rollback
    journal (what a copied or older database may use). Built once per run (``built_once``),
    copied for the second mode."""
    directory, layout = built_once(tmp_path_factory, "kill-template", build_kill_templates)
    wal, delete = directory / "stuck-wal.db", directory / "stuck-delete.db"
    return {"wal": wal, "delete": delete}, layout


@pytest.fixture(scope="session")
def race_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Layout]:
    """40 stuck units with three tools in flight per orphan, a few clean sessions, WAL mode."""
    path = tmp_path_factory.mktemp("race-template") / "race.db"
    layout = build_stuck_db(path, 40, clean=5, seed=5, parts=3)
    set_journal_mode(path, "WAL")
    return path, layout


@pytest.fixture(scope="session")
def logged_race_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Layout]:
    """The race template with OpenCode 1.18's sync event log written for every row."""
    path = tmp_path_factory.mktemp("logged-race-template") / "race.db"
    layout = build_stuck_db(path, 40, clean=5, seed=5, parts=3, events=True)
    set_journal_mode(path, "WAL")
    return path, layout

"""Snapshots of an OpenCode 2 database in the TUI: the list and a session's detail (its holds'
patterns and the "Next" line), on a copy of the real 2.1.2 fixture (see test_snapshots.py for
how they are made deterministic)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SIZE, app_for, keys_then_settle

V2 = Path(__file__).parent.parent / "fixtures" / "v2"


@pytest.fixture
def v2_copy(tmp_path: Path) -> Callable[[str], Path]:
    """``v2_copy("v2-stuck-queued")`` -> relative path of a private copy (the cwd is tmp_path)."""

    def make(name: str) -> Path:
        shutil.copyfile(V2 / f"{name}.db", tmp_path / f"{name}.db")
        return Path(f"{name}.db")

    return make


class TestOpenCode2:
    def test_list_of_a_task_crash(self, snap_compare: Any, v2_copy: Callable[[str], Path]) -> None:
        db = v2_copy("v2-stuck-task")
        assert snap_compare(app_for(db), terminal_size=SIZE, run_before=keys_then_settle())

    def test_detail_of_a_queued_crash(self, snap_compare: Any, v2_copy: Callable[[str], Path]) -> None:
        db = v2_copy("v2-stuck-queued")
        assert snap_compare(app_for(db), terminal_size=(100, 40), run_before=keys_then_settle("enter"))

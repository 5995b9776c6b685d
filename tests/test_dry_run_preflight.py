"""A dry run tells what the real run would do and refuse: every row change (JSON too), and the
pre-flight refusals (backup target, journal directory) the real run meets before its first write.

End to end: ``python -m inspector`` in a subprocess on a copy of a real fixture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import ocinspect
from tests.support.databases import sha256


def test_the_json_dry_run_lists_every_row_the_text_dry_run_prints(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task")
    text = ocinspect("--db", str(db), "recover", "--all", "--dry-run")
    assert text.returncode == 0, text.stderr
    printed = [line.strip() for line in text.stdout.splitlines() if line.startswith("  ")]
    as_json = ocinspect("--db", str(db), "recover", "--all", "--dry-run", "--json")
    payload = json.loads(as_json.stdout)
    listed = [f"{c['table']} {c['id']}: {c['summary']}" for unit in payload["plan"] for c in unit["changes"]]
    assert printed and listed == printed
    assert [s for unit in payload["plan"] for s in unit["sessions"]] == payload["sessions"]
    assert all(unit["via"] == "direct" for unit in payload["plan"])
    assert {c["session_id"] for unit in payload["plan"] for c in unit["changes"]} == set(payload["sessions"])


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
def test_a_backup_target_that_exists_is_refused_by_the_dry_run_too(
    fixture_db: Callable[..., Path], tmp_path: Path, dry_run: bool
) -> None:
    db = fixture_db("stuck-bash")
    existing = tmp_path / "existing.bak"
    existing.write_text("keep me")
    before = sha256(db)
    mode = "--dry-run" if dry_run else "--yes"
    ran = ocinspect("--db", str(db), "recover", "--all", mode, "--backup", str(existing))
    assert ran.returncode == 2
    assert ran.stderr == f"ocinspect: error: backup target {existing} already exists; not overwriting it\n"
    assert existing.read_text() == "keep me" and sha256(db) == before


def test_a_backup_directory_that_is_missing_is_refused_by_the_dry_run(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_db("stuck-bash")
    ran = ocinspect("--db", str(db), "recover", "--all", "--dry-run", "--backup", str(tmp_path / "nowhere" / "x.bak"))
    assert (
        ran.returncode == 2 and "cannot write the backup" in ran.stderr and "is missing or not writable" in ran.stderr
    )


def test_a_journal_directory_that_cannot_be_made_is_refused_by_the_dry_run(
    fixture_db: Callable[..., Path], tmp_path: Path
) -> None:
    db = fixture_db("stuck-bash")
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("")
    env = dict(os.environ, XDG_STATE_HOME=str(blocker))
    before = sha256(db)
    dry = ocinspect("--db", str(db), "recover", "--all", "--dry-run", env=env)
    real = ocinspect("--db", str(db), "recover", "--all", "--yes", env=env)
    assert dry.returncode == real.returncode == 2
    assert dry.stderr.startswith("ocinspect: error: cannot create the journal directory ")
    assert real.stderr.startswith("ocinspect: error: cannot create the journal directory ")
    assert sha256(db) == before and blocker.read_text() == ""

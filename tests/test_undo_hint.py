"""The undo a command tells you to type works when pasted, and "nothing to undo" is no failure.

End to end: ``python -m inspector`` in a subprocess on a copy of a real fixture, the database
named with ``--db`` (nothing at the default path), the printed hint pasted as a shell would.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.support.cli import ocinspect
from tests.support.databases import sha256, stuck_tools


def paste(command: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(command)
    assert words[0] == "ocinspect"
    return ocinspect(*words[1:])


def test_the_hint_recover_prints_works_when_pasted(fixture_db: Callable[..., Path], tmp_path: Path) -> None:
    db = fixture_db("stuck-two")
    before = sha256(db)
    done = ocinspect("--db", str(db), "recover", "--all", "--yes")
    assert done.returncode == 0, done.stderr
    (hint,) = [line for line in done.stdout.splitlines() if line.startswith("Undo with: ")]
    assert stuck_tools(db) == 0
    undone = paste(hint.removeprefix("Undo with: "))
    assert undone.returncode == 0, undone.stderr
    assert "restored 4 row(s)" in undone.stdout
    assert stuck_tools(db) == 2 and sha256(db) != before  # rows back (time_updated aside: events, bumps)


def test_the_hint_run_prints_works_when_pasted(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    done = ocinspect("--db", str(db), "run", "--", "true")
    assert done.returncode == 0, done.stderr
    (line,) = done.stderr.splitlines()
    hint = line.split("; '", 1)[1].removesuffix("' reverts)")
    assert stuck_tools(db) == 0
    undone = paste(hint)
    assert undone.returncode == 0, undone.stderr
    assert stuck_tools(db) == 2


def test_undo_of_a_named_run_finds_its_database_in_the_journal(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-bash")
    run_id = json.loads(ocinspect("--db", str(db), "recover", "--all", "--yes", "--json").stdout)["run_id"]
    undone = ocinspect("undo", run_id, "--json")  # no --db: the default path holds no database
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout)["restored"] == 2
    assert stuck_tools(db) == 1


def test_nothing_to_undo_is_a_plain_statement_that_names_the_run_already_undone(
    fixture_db: Callable[..., Path],
) -> None:
    db = fixture_db("stuck-bash")
    before = sha256(db)
    empty = ocinspect("--db", str(db), "undo")
    assert (empty.returncode, empty.stderr) == (0, "")
    assert empty.stdout.startswith("Nothing to undo on ") and "holds no recovery run of it" in empty.stdout
    assert "failed" not in empty.stdout.lower() and "error" not in empty.stdout.lower()
    assert sha256(db) == before
    run_id = json.loads(ocinspect("--db", str(db), "recover", "--all", "--yes", "--json").stdout)["run_id"]
    assert ocinspect("--db", str(db), "undo").returncode == 0
    again = ocinspect("--db", str(db), "undo")
    assert (again.returncode, again.stderr) == (0, "")
    assert f"its last recovery run, {run_id}, was already undone at " in again.stdout
    as_json = json.loads(ocinspect("--db", str(db), "undo", "--json").stdout)
    assert as_json["nothing_to_undo"] is True and as_json["run_id"] == run_id and as_json["restored"] == 0
    named = ocinspect("--db", str(db), "undo", run_id)  # a named run already undone: as documented, exit 2
    assert named.returncode == 2 and f"run {run_id} was already undone" in named.stderr

"""Trust in the undo journal: one bad file never breaks every run, a damaged run is never undone
as "0 rows" (or half of it), and a second undo of a run says it was already undone."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from inspector.core.errors import (
    EXIT_ERROR,
    AlreadyUndone,
    InspectorError,
    JournalError,
)
from inspector.core.repair import recover
from inspector.core.repair.journal import (
    JournalProblem,
    iter_runs,
    journal_dir,
    read_run,
)
from tests.support.cli import invoke as cli_run
from tests.support.databases import rows, sha256

BAD_FILES: dict[str, bytes] = {
    "header-only": b'{"kind":"run","format":2}\n',
    "json-array": b"[1,2]\n",
    "random-bytes": bytes(range(256)) * 4,
    "empty": b"",
    "unit-without-changes": b'{"kind":"run","format":2,"run_id":"x","database":"/x","created":1,"units":1,"forced":false}\n'
    b'{"kind":"unit","index":0}\n',
    "bad-committed": b'{"kind":"run","format":2,"run_id":"x","database":"/x","created":1,"units":0,"forced":false}\n'
    b'{"kind":"committed","index":"zero"}\n',
}


def part_rows(db: Path) -> list[tuple[Any, ...]]:
    return rows(db, "SELECT id, data, time_updated FROM part ORDER BY id")


def recovered(db: Path) -> Path:
    """``db`` recovered through the CLI; the run's journal file."""
    result = cli_run("--db", str(db), "recover", "--all", "--yes", "--json")
    assert result.exit_code == 0, result.output
    return Path(json.loads(result.stdout)["journal"])


def cut(path: Path, where: str) -> None:
    """Truncate a real run file: inside its header, or inside its last unit record."""
    data = path.read_bytes()
    lines = data.splitlines(keepends=True)
    units = [i for i, line in enumerate(lines) if b'"kind":"unit"' in line]
    if where == "header":
        path.write_bytes(lines[0][: len(lines[0]) // 2])
    else:
        end = sum(len(line) for line in lines[: units[-1]]) + len(lines[units[-1]]) // 2
        path.write_bytes(data[:end])


def bad_file(directory: Path, name: str, content: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"29990101T000000000Z-{name}.jsonl"  # sorts newest: read before the good run
    path.write_bytes(content)
    return path


# -- 1. one malformed file never breaks the others ---------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_runs_lists_the_good_run_and_warns_once_per_bad_file(fixture_db: Callable[..., Path], name: str) -> None:
    db = fixture_db("stuck-two")
    good = recovered(db)
    bad = bad_file(journal_dir(), name, BAD_FILES[name])
    result = cli_run("runs", "--json")
    assert result.exit_code == 0, result.output
    assert [r["run_id"] for r in json.loads(result.stdout)] == [good.stem]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("ocinspect: warning: ") and str(bad) in warnings[0]
    text = cli_run("runs")
    assert text.exit_code == 0 and good.stem in text.stdout and str(bad) in text.stderr


def test_undo_works_past_every_bad_file_and_names_them(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    original = part_rows(db)
    good = recovered(db)
    bad = [bad_file(journal_dir(), name, content) for name, content in BAD_FILES.items()]
    result = cli_run("--db", str(db), "undo", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == good.stem and json.loads(result.stdout)["restored"] == 4
    assert part_rows(db) == original
    warnings = [line for line in result.stderr.splitlines() if line.startswith("ocinspect: warning: ")]
    assert len(warnings) == len(bad) and all(any(str(p) in w for w in warnings) for p in bad)


@pytest.mark.parametrize("where", ["header", "unit"])
def test_runs_skips_a_cut_off_real_run(fixture_db: Callable[..., Path], tmp_path: Path, where: str) -> None:
    db = fixture_db("stuck-two")
    cut_off = recovered(db)
    other = fixture_db("stuck-bash")
    good = recovered(other)
    cut(cut_off, where)
    result = cli_run("runs", "--json")
    assert result.exit_code == 0, result.output
    assert [r["run_id"] for r in json.loads(result.stdout)] == [good.stem]
    (warning,) = result.stderr.splitlines()
    assert str(cut_off) in warning
    problems: list[JournalProblem] = []
    assert [r.run_id for r in iter_runs(journal_dir(), problems)] == [good.stem]
    assert [p.path for p in problems] == [cut_off] and problems[0].reason
    if where == "unit":  # the header was whole: the problem says whose run it was
        assert (problems[0].run_id, problems[0].database) == (cut_off.stem, str(db.resolve()))


@pytest.mark.parametrize("named", [True, False])
def test_undo_of_a_cut_off_run_says_the_journal_is_damaged(fixture_db: Callable[..., Path], named: bool) -> None:
    db = fixture_db("stuck-two")
    path = recovered(db)
    cut(path, "unit")
    digest = sha256(db)
    args = ["--db", str(db), "undo"] + ([path.stem] if named else [])
    result = cli_run(*args)
    assert result.exit_code == EXIT_ERROR, result.output
    assert "damaged" in result.stderr and result.stdout == ""
    assert result.stderr.startswith("ocinspect: error: ") and len(result.stderr.splitlines()) == 1
    assert sha256(db) == digest
    with pytest.raises(JournalError, match="damaged"):
        read_run(path)


def test_a_torn_last_record_after_the_units_is_still_a_run(fixture_db: Callable[..., Path]) -> None:
    """A kill mid-append of ``committed``/``done``: the units are whole, undo still compares rows."""
    db = fixture_db("stuck-two")
    original = part_rows(db)
    path = recovered(db)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 5])  # inside the ``done`` record
    assert len(read_run(path).units) == 2
    result = cli_run("--db", str(db), "undo", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["restored"] == 4, result.output
    assert part_rows(db) == original


def test_a_complete_but_invalid_last_line_is_damage(fixture_db: Callable[..., Path]) -> None:
    """Only a line cut short (no newline) is a torn append; a whole garbage line is damage."""
    db = fixture_db("stuck-bash")
    path = recovered(db)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("not json\n")
    with pytest.raises(JournalError, match="damaged"):
        read_run(path)


def test_undo_refuses_when_the_newest_run_of_this_database_is_damaged(fixture_db: Callable[..., Path]) -> None:
    """An older intact run is not silently undone in place of the newer damaged one."""
    db = fixture_db("stuck-two")
    recovered(db)
    cli_run("--db", str(db), "undo")  # the first run is undone: recover again
    path = recovered(db)
    cut(path, "unit")
    digest = sha256(db)
    result = cli_run("--db", str(db), "undo")  # the cut-off run wrote rows: undo cannot tell them all
    assert result.exit_code == EXIT_ERROR and "damaged" in result.stderr and str(path) in result.stderr
    assert sha256(db) == digest


def test_a_run_killed_while_its_journal_was_written_has_nothing_to_undo(fixture_db: Callable[..., Path]) -> None:
    """A kill before the first commit leaves units cut off and no row changed: undo says so (exit 0)
    and marks it, so the next plain undo reaches the older run."""
    db = fixture_db("stuck-two")
    older = recovered(db)
    cli_run("--db", str(db), "undo", older.stem)
    newer = recovered(db)
    cli_run("--db", str(db), "undo", newer.stem)  # rows back as before the newer run, as after a kill
    lines = newer.read_bytes().splitlines(keepends=True)
    newer.write_bytes(b"".join(lines[:2]) + lines[2][:20])  # header, first unit, a torn second unit
    digest = sha256(db)
    result = cli_run("--db", str(db), "undo", newer.stem)
    assert result.exit_code == 0, result.output
    assert "before any change was committed: nothing to undo" in result.stdout
    assert sha256(db) == digest
    listed = cli_run("runs", "--json")
    assert newer.stem not in {r["run_id"] for r in json.loads(listed.stdout)}


# -- 2. undoing twice --------------------------------------------------------------------------


def test_second_undo_of_a_run_says_already_undone(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-two")
    path = recovered(db)
    first = cli_run("--db", str(db), "undo", path.stem)
    assert first.exit_code == 0, first.output
    digest = sha256(db)
    again = cli_run("--db", str(db), "undo", path.stem)
    assert again.exit_code == EXIT_ERROR
    assert f"run {path.stem} was already undone (at " in again.stderr
    assert "restored" not in again.output and sha256(db) == digest
    with pytest.raises(AlreadyUndone) as caught:
        recover.undo(db, path.stem)
    assert caught.value.kind == "already-undone" and isinstance(caught.value, InspectorError)
    assert caught.value.run_id == path.stem and caught.value.undone_at == read_run(path).undone_at

"""Issue 7.5 — undo after OpenCode changed repaired rows restores only the untouched rows and
reports the rest; OpenCode's writes are never overwritten, before or during the undo.

OpenCode is played by ``opencode_writer.py touch`` (a separate process): it bumps
``time_updated``, rewrites the JSON (a retried tool now ``completed``) or deletes parts that a
recovery run repaired.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .support import (
    HERE,
    PYTHON,
    Dump,
    base_seed,
    build_stuck_db,
    copy_db,
    count,
    dump,
    integrity,
    invoke_cli,
    journals,
    read_journal,
    report,
    run_cli,
    set_journal_mode,
)

pytestmark = pytest.mark.reliability

WRITER = HERE / "opencode_writer.py"
UNDOS = count("UNDOS", 5, 50)
UNDO_RACES = count("UNDO_RACES", 4, 50)
REASONS = {
    "bump": "changed since the run; left as it is",
    "edit": "changed since the run; left as it is",
    "delete": "row no longer exists",
}


@pytest.fixture(scope="module")
def undo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("undo-template") / "opencode.db"
    build_stuck_db(path, 60, clean=10, seed=21)
    set_journal_mode(path, "WAL")
    return path


def recovered(template: Path, work: Path) -> tuple[Path, Path, Dump, Dump, list[dict[str, Any]]]:
    work.mkdir()
    db = copy_db(template, work / "opencode.db")
    state = work / "state"
    original = dump(db)
    ran = invoke_cli(db, "recover", "--all", "--yes", "--force", "--json", state=state)  # the setup
    assert ran.code == 0, ran
    (path,) = journals(state)
    changes = [c for unit in read_journal(path).units.values() for c in unit["changes"]]
    return db, state, original, dump(db), changes


def touch(
    db: Path, work: Path, targets: list[tuple[str, str, str]], seed: int, *, delay: float = 0.0, max_sleep: float = 0.0
) -> subprocess.Popen[bytes]:
    listing = work / "targets.txt"
    listing.write_text("".join(f"{t} {i} {how}\n" for t, i, how in targets))
    proc = subprocess.Popen(
        [
            PYTHON,
            str(WRITER),
            "touch",
            str(db),
            "--targets",
            str(listing),
            "--log",
            str(work / "touch.jsonl"),
            "--seed",
            str(seed),
            "--delay",
            str(delay),
            "--max-sleep",
            str(max_sleep),
        ],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    return proc


def finish(proc: subprocess.Popen[bytes]) -> None:
    try:
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def their_writes(work: Path) -> dict[tuple[str, str], dict[str, Any]]:
    last = {}
    for line in (work / "touch.jsonl").read_text().splitlines():
        record = json.loads(line)
        last[(record["table"], record["id"])] = record
    return last


def pick(rng: random.Random, changes: list[dict[str, Any]], share: float) -> list[tuple[str, str, str]]:
    chosen = rng.sample(changes, k=max(1, int(len(changes) * share)))
    targets = []
    for change in chosen:
        hows = ["bump", "edit"] + (["delete"] if change["table"] == "part" else [])
        if change["table"] == "session":
            hows = ["bump"]
        targets.append((change["table"], change["id"], rng.choice(hows)))
    return targets


def test_undo_restores_only_untouched_rows(undo_template: Path, tmp_path: Path) -> None:
    seed = base_seed()
    totals: Counter[str] = Counter()
    for i in range(UNDOS):
        rng = random.Random(seed + i)
        context = f"iteration {i}, OCINSPECT_SEED={seed}"
        work = tmp_path / f"undo{i}"
        db, state, original, repaired, changes = recovered(undo_template, work)
        targets = pick(rng, changes, rng.choice((0.05, 0.2, 0.5)))
        finish(touch(db, work, targets, seed + i))
        theirs = their_writes(work)
        # in-process: the writer is done, what is tested is which rows come back
        undone = invoke_cli(db, "undo", "--force", "--json", state=state)
        assert undone.code == 0, (context, str(undone))
        result = undone.json()
        touched = {(t, row_id): how for t, row_id, how in targets}
        assert result["restored"] == len(changes) - len(touched), context
        assert {s["id"]: s["reason"] for s in result["skipped"]} == {
            row_id: REASONS[how] for (_t, row_id), how in touched.items()
        }, context
        final = dump(db)
        for change in changes:
            key = (change["table"], change["id"])
            if key not in touched:
                assert final[key] == original[key], (context, key, "not restored byte for byte")
            elif touched[key] == "delete":
                assert key not in final, (context, key)
            else:
                row = dict(final[key])
                assert (row.get("data"), row["time_updated"]) == (
                    theirs[key].get("data", row.get("data")),
                    theirs[key]["time_updated"],
                ), (context, key)
        untouched_elsewhere = {k for k in original if k not in {(c["table"], c["id"]) for c in changes}}
        assert all(final[k] == original[k] for k in untouched_elsewhere), context
        assert integrity(db) == "ok", context
        how = run_cli if i == 0 else invoke_cli  # one real process says it, the others in-process
        text = how(db, "undo", "--force", state=state)  # nothing left for this database
        assert text.code == 0 and "was already undone at" in text.out, text
        totals.update(undos=1, rows=len(changes), restored=result["restored"], left_as_opencode_wrote=len(touched))
    report("undo_after_opencode_changed_rows", seed=seed, **totals)


def test_undo_while_opencode_writes(undo_template: Path, tmp_path: Path) -> None:
    """OpenCode writes to repaired rows *while* the undo runs: every write of theirs survives,
    untouched rows come back byte for byte, and the report matches the rows."""
    seed = base_seed()
    totals: Counter[str] = Counter()
    for i in range(UNDO_RACES):
        rng = random.Random(seed + i)
        context = f"iteration {i}, OCINSPECT_SEED={seed}"
        work = tmp_path / f"race{i}"
        db, state, original, repaired, changes = recovered(undo_template, work)
        targets = pick(rng, changes, 0.3)
        proc = touch(db, work, targets, seed + i, delay=rng.uniform(0.1, 0.45), max_sleep=0.002)
        undone = run_cli(db, "undo", "--force", "--json", state=state)
        finish(proc)
        assert undone.code == 0, (context, str(undone))
        result = undone.json()
        theirs = their_writes(work)
        touched = {(t, row_id) for t, row_id, _how in targets}
        skipped = {s["id"] for s in result["skipped"]}
        assert result["restored"] + len(skipped) == len(changes), context
        assert skipped <= {row_id for _t, row_id in touched}, (context, "skipped a row nobody touched")
        final = dump(db)
        for change in changes:
            key = (change["table"], change["id"])
            if key in theirs:
                if theirs[key]["kind"] == "delete":
                    assert key not in final, (context, key)
                else:
                    row = dict(final[key])
                    assert row["time_updated"] == theirs[key]["time_updated"], (context, key, "OpenCode's write lost")
                    assert row.get("data") == theirs[key].get("data", row.get("data")), (context, key)
            else:
                assert final[key] == original[key], (context, key)
        assert integrity(db) == "ok", context
        totals.update(
            races=1,
            rows=len(changes),
            restored=result["restored"],
            skipped=len(skipped),
            opencode_writes=len(theirs),
            writes_after_restore=len(touched) - len(skipped),
        )
    report("undo_races", seed=seed, **totals)

"""Issue 7.1 — races with a live writer: 0 lost writes.

A second process plays OpenCode (``opencode_writer.py race``): it streams progress into the
stuck parts, completes them, closes their turns and appends prompts, while
``ocinspect recover --all --yes --force --json`` runs on the same file. The timing is random
(writer start delay, pause between writes, share of sessions it is live in). After both exit:

* every write the writer committed is still there, unless ocinspect later wrote that row with
  the writer's version as its compare-and-set before-image (it saw it); a part the writer
  completed is never ``error`` afterwards;
* every unit ocinspect reports repaired holds its after-image: parts ``error`` + ``interrupted``;
* every unit it did not commit holds none of its after-image and its sessions are reported as
  skipped with a reason; no row is lost; ``integrity_check`` is ok.

The logged variant (issue 10) runs the same races on a database with OpenCode 1.18's sync
event log, the writer logging every write as OpenCode does: afterwards the log invariant holds
(every row equals its newest event, seqs contiguous), every committed unit's events are in the
log and no event of a skipped unit is.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .support import (
    HERE,
    PYTHON,
    Dump,
    Layout,
    base_seed,
    columns,
    copy_db,
    count,
    dump,
    integrity,
    journals,
    read_journal,
    report,
    run_cli,
    unit_state,
)

pytestmark = pytest.mark.reliability

# Half the races start the writer as the journal appears, and about half of those lose units
# to it (measured: 106 of 200 races had a conflict): 24 races make a run without both a won and
# a lost race (asserted below) a one-in-millions event; the full run has 200.
RACES = count("RACES", 24, 200)
LOGGED_RACES = count("LOGGED_RACES", 16, 100)
WRITER = HERE / "opencode_writer.py"


@dataclass
class Outcome:
    violations: list[str] = field(default_factory=list)
    lost_writes: int = 0
    writer_writes: int = 0
    writer_saw_repaired: int = 0
    committed_units: int = 0
    conflict_units: int = 0
    locked_units: int = 0
    parts_repaired: int = 0
    exit_code: int = 0


def last_writes(log: Path) -> tuple[dict[tuple[str, str], dict[str, Any]], list[dict[str, Any]], int]:
    """The writer's last committed version of every row it wrote, its 'saw' notes, write count."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    saw: list[dict[str, Any]] = []
    writes = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == "write":
            writes += 1
            last[(record["table"], record["id"])] = record
        elif record["kind"] == "saw":
            saw.append(record)
    return last, saw, writes


def status_of(row: tuple[Any, ...]) -> tuple[str | None, bool]:
    state = json.loads(dict(row)["data"]).get("state") or {}
    return state.get("status"), bool((state.get("metadata") or {}).get("interrupted"))


def check(template: Dump, layout: Layout, final: Dump, writes: dict, state: Path, ran) -> Outcome:  # noqa: C901
    out = Outcome(exit_code=ran.code)
    v = out.violations
    if ran.code not in (0, 1) or b"Traceback" in ran.stderr:
        v.append(f"ocinspect failed: {ran}")
        return out
    result = ran.json()
    skipped = {s["id"]: s["reason"] for s in result["skipped"]}
    if any(not reason.strip() for reason in skipped.values()):
        v.append(f"a skip without a reason: {skipped}")
    if (ran.code == 1) != bool(skipped):
        v.append(f"exit {ran.code} but skipped={skipped}")

    # the journal says which units committed and holds their before/after images
    found = journals(state)
    changes: dict[tuple[str, str], dict[str, Any]] = {}
    committed_sessions: set[str] = set()
    if result["run_id"] is None:
        if found:
            v.append(f"journal written for an empty run: {found}")
    else:
        (path,) = found
        journal = read_journal(path)
        if not journal.done or journal.torn:
            v.append(f"finished run's journal is incomplete: {path}")
        for index, unit in journal.units.items():
            state_now = unit_state(final, unit)
            if index in journal.committed:
                out.committed_units += 1
                committed_sessions.update(unit["sessions"])
                if state_now != "after":
                    v.append(f"committed unit {unit['sessions']} is {state_now}, not fully repaired")
                for change in unit["changes"]:
                    changes[(change["table"], change["id"])] = change
                    if change["table"] == "part":
                        st = json.loads(change["after"]["data"])["state"]
                        if (st["status"], st["metadata"].get("interrupted"), st["error"]) != (
                            "error",
                            True,
                            "Tool execution aborted",
                        ):
                            v.append(f"repaired part {change['id']} is not error+interrupted: {st}")
                        out.parts_repaired += 1
            else:
                reason = journal.skipped.get(index, "")
                if "locked" in reason:
                    out.locked_units += 1
                else:
                    out.conflict_units += 1
                missing = [s for s in unit["sessions"] if not skipped.get(s)]
                if missing:
                    v.append(f"unit {unit['sessions']} not committed but not reported skipped: {missing}")
                for change in unit["changes"]:
                    row = final.get((change["table"], change["id"]))
                    if row is not None and columns(row, change["after"]) == change["after"]:
                        v.append(f"uncommitted unit {unit['sessions']} left its after-image on {change['id']}")
        if set(result["sessions"]) != committed_sessions:
            v.append(f"reported {sorted(result['sessions'])} but committed {sorted(committed_sessions)}")
        if result["parts_repaired"] != out.parts_repaired:
            v.append(f"reported {result['parts_repaired']} parts, journal committed {out.parts_repaired}")

    # 0 lost writes
    for key, write in writes.items():
        row = final.get(key)
        if row is None:
            v.append(f"LOST ROW: the writer's {key} is gone")
            out.lost_writes += 1
            continue
        now = columns(row, ("data", "time_updated"))
        theirs = {"data": write["data"], "time_updated": write["time_updated"]}
        if now == theirs:
            continue
        ours = changes.get(key)
        if ours is not None and ours["before"] == theirs and now == ours["after"]:
            continue  # ocinspect saw this very write (compare-and-set before-image) and built on it
        out.lost_writes += 1
        v.append(f"LOST WRITE on {key}: writer committed {write['action']}, row now {now['data'][:160]}")
    for key, write in writes.items():
        if (
            key[0] == "part"
            and write["action"] == "complete"
            and key in final
            and status_of(final[key])[0] != "completed"
        ):
            v.append(f"part {key[1]} completed by the writer is now {status_of(final[key])}")

    # nothing lost, nothing unexplained
    for key, row in template.items():
        if key not in final:
            v.append(f"LOST ROW {key}")
            continue
        if final[key] == row or key in writes:
            continue
        change = changes.get(key)
        if change is None or columns(final[key], change["after"]) != change["after"]:
            v.append(f"row {key} changed by nobody we know of")
    for key in final:
        if key not in template and key not in writes:
            v.append(f"row {key} appeared from nowhere")

    # every originally stuck part ended completed (writer), repaired (ocinspect) or reported
    for session, parts in layout.stuck_parts.items():
        for part in parts:
            status, interrupted = status_of(final[("part", part)])
            if status == "completed" and ("part", part) in writes:
                continue
            if status == "error" and interrupted and ("part", part) in changes:
                continue
            if status in ("pending", "running") and session in skipped:
                continue
            v.append(f"part {part} of {session} ended {status} (interrupted={interrupted}) unexplained")
    check_ok = integrity(Path(ran.args[ran.args.index("--db") + 1]))
    if check_ok != "ok":
        v.append(f"integrity_check: {check_ok}")
    return out


def check_log(db: Path, state: Path, result: dict[str, Any]) -> list[str]:
    """The sync log after a race: consistent, and holding exactly the committed units' events."""
    from inspector.core.db.store import open_store
    from inspector.core.db.v1 import eventlog

    store = open_store(db)
    try:
        with store.read() as conn:
            problems = [f"event log: {p.session_id}: {p.what}" for p in eventlog.check(conn)]
            present = {row[0] for row in conn.exec_driver_sql("SELECT id FROM event")}
    finally:
        store.dispose()
    if result["run_id"] is None:
        return problems
    (path,) = journals(state)
    journal = read_journal(path)
    for index, unit in journal.units.items():
        ours = {e["id"] for e in unit.get("events", [])}
        if index in journal.committed and not ours <= present:
            problems.append(f"committed unit {unit['sessions']} lacks {len(ours - present)} of its events")
        if index not in journal.committed and ours & present:
            problems.append(f"skipped unit {unit['sessions']} left {len(ours & present)} events in the log")
    return problems


def run_races(template_path: Path, layout, tmp_path: Path, races: int, *, events: bool) -> Counter[str]:
    template = dump(template_path)
    seed = base_seed()
    totals: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    for i in range(races):
        rng = random.Random(seed + i)
        work = tmp_path / f"race{i}"
        work.mkdir()
        db = copy_db(template_path, work / "opencode.db")
        log = work / "writer.jsonl"
        # Half the races start the writer at a random moment of the whole run; the other half
        # start it as ocinspect's journal appears, i.e. between its plan and its commits.
        if i % 2:
            timing = ["--delay", f"{rng.uniform(0.05, 0.5):.4f}"]
        else:
            timing = [
                "--after-journal",
                str(work / "state" / "ocinspect" / "runs"),
                "--delay",
                f"{rng.uniform(0.0, 0.004):.4f}",
            ]
        writer = subprocess.Popen(
            [
                PYTHON,
                str(WRITER),
                "race",
                str(db),
                "--log",
                str(log),
                "--seed",
                str(seed + i),
                *timing,
                "--fraction",
                str(rng.choice((0.3, 0.5, 0.8))),
                "--max-sleep",
                str(rng.choice((0.0005, 0.002, 0.005))),
                *(["--events"] if events else []),
            ],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        try:
            assert writer.stdout is not None and writer.stdout.readline() == b"ready\n"
            ran = run_cli(db, "recover", "--all", "--yes", "--force", "--json", state=work / "state")
            assert writer.wait(timeout=120) == 0, "the writer process failed"
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            if writer.stdout is not None:
                writer.stdout.close()
        writes, saw, count_writes = last_writes(log)
        outcome = check(template, layout, dump(db), writes, work / "state", ran)
        if events and not outcome.violations:
            outcome.violations.extend(check_log(db, work / "state", ran.json()))
        totals.update(
            races=1,
            lost_writes=outcome.lost_writes,
            writer_writes=count_writes,
            writer_found_already_repaired=sum(1 for s in saw if s["status"] == "error"),
            units_committed=outcome.committed_units,
            units_skipped_conflict=outcome.conflict_units,
            units_skipped_locked=outcome.locked_units,
            parts_repaired=outcome.parts_repaired,
            races_with_conflict=int(outcome.conflict_units > 0),
            races_writer_after_repair=int(any(s["status"] == "error" for s in saw)),
            exit_1=int(outcome.exit_code == 1),
        )
        if outcome.violations:
            failures.append(
                f"race {i} (OCINSPECT_SEED={seed}, iteration seed {seed + i}):\n  "
                + "\n  ".join(outcome.violations[:20])
            )
            if len(failures) >= 3:
                break
        else:
            shutil.rmtree(work)
    report(
        "races-logged" if events else "races",
        seed=seed,
        seconds=round(time.monotonic() - started, 1),
        violations=len(failures),
        **totals,
    )
    assert not failures, "\n".join(failures)
    assert totals["lost_writes"] == 0
    # The suite must really race: with random timing some units must have lost the race to the
    # writer (skipped) and some must have won it. A run where neither happened tested nothing.
    if races >= 16:
        assert totals["units_skipped_conflict"] > 0, totals
        assert totals["units_committed"] > 0, totals
    return totals


# bounded by its counts, not by time: on 4 xdist workers of a loaded 2-core machine it took 247 s,
# close to the suite's 300 s hang guard
@pytest.mark.timeout(900)
def test_recover_races_a_live_writer(race_template, tmp_path: Path) -> None:
    template_path, layout = race_template
    run_races(template_path, layout, tmp_path, RACES, events=False)


def test_recover_races_a_live_writer_that_logs_events(logged_race_template, tmp_path: Path) -> None:
    """Issue 10: OpenCode appending events between plan and apply makes the unit skip whole."""
    template_path, layout = logged_race_template
    run_races(template_path, layout, tmp_path, LOGGED_RACES, events=True)

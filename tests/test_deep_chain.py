"""A subagent chain 10,000 sessions deep: every command works, nothing recurses over the data.

A real SQLite file from OpenCode's DDL (``tests/support/deep_chain.py``). ``scan`` and ``run``
run as ``python -m inspector`` in a subprocess, as a person would run them; ``show``, ``report``
and the dry run in-process through click (the same code with pytest's frames below it: less
stack to spare than a real process, so no weaker a proof that nothing recurses).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.diagnose.scan import scan
from inspector.core.diagnose.tree import depth_of, tree_order
from inspector.core.model import ScanResult
from tests.support import cli
from tests.support.built_once import built_once
from tests.support.databases import copy_db, stuck_tools
from tests.support.deep_chain import deep_chain

DEPTH = 10_000


@pytest.fixture(scope="module")
def deep_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Built once per run (4 CPU-s), whichever worker gets here first (``built_once``)."""
    folder, ids = built_once(tmp_path_factory, "deep-chain", lambda d: deep_chain(d / "deep.db", DEPTH))
    return folder / "deep.db", ids


@pytest.fixture
def deep(deep_template: tuple[Path, list[str]], tmp_path: Path) -> tuple[Path, list[str]]:
    source, ids = deep_template
    return copy_db(source, tmp_path / "deep.db"), ids


def ocinspect(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return cli.ocinspect("--db", str(db), *args, timeout=300)


@pytest.fixture(scope="module")
def deep_scan(deep_template: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """The core's scan of a copy of the chain, made once for the tests that only read it."""
    source, _ = deep_template
    return scan(open_store(copy_db(source, tmp_path_factory.mktemp("deep-scan") / "deep.db")))


def test_the_core_orders_and_indents_the_whole_chain(
    deep_template: tuple[Path, list[str]], deep_scan: ScanResult
) -> None:
    _, ids = deep_template
    result = deep_scan
    assert [d.id for d in result.sessions] == ids  # root first, each child under its parent
    assert [depth_of(d, result) for d in result.sessions] == list(range(DEPTH))
    diagnoses = {d.id: d for d in result.sessions}
    assert list(tree_order(diagnoses)) == list(result.sessions)


def test_scan_text_and_json(deep: tuple[Path, list[str]]) -> None:
    db, ids = deep
    text = ocinspect(db, "scan")
    assert text.returncode == 1, text.stderr
    assert text.stderr == ""
    assert f"{DEPTH} stuck sessions ({DEPTH} stale)" in text.stdout
    assert f"[depth {DEPTH - 1}] {ids[-1]}" in text.stdout  # indented no deeper than the cap, depth said
    assert max(len(line) for line in text.stdout.splitlines()) < 300
    payload = json.loads(ocinspect(db, "scan", "--json").stdout)
    assert [s["id"] for s in payload["sessions"]] == ids
    assert payload["sessions"][1]["parent_id"] == ids[0]


def test_show_and_its_timeline(deep: tuple[Path, list[str]]) -> None:
    db, ids = deep
    middle = ids[DEPTH // 2]
    for args in (("show", middle), ("show", ids[-1], "--timeline"), ("show", ids[0], "--timeline", "--json")):
        done = cli.invoke("--db", str(db), *args)  # in-process: less stack left than a real process
        assert done.exit_code == 0, (args, done.stderr)
        assert done.stderr == "" and done.stdout


def test_recover_dry_run_and_report(deep: tuple[Path, list[str]]) -> None:
    db, ids = deep
    plan = cli.invoke("--db", str(db), "recover", "--all", "--dry-run")
    assert plan.exit_code == 0, plan.stderr
    assert f"Plan: {DEPTH} session(s), {DEPTH} tool part(s) → error, {DEPTH} turn(s) → completed." in plan.stdout
    report = cli.invoke("--db", str(db), "report", ids[DEPTH // 2])
    assert report.exit_code == 0, report.stderr
    assert stuck_tools(db) == DEPTH  # nothing written


def test_run_recovers_the_whole_chain_then_starts_the_command(deep: tuple[Path, list[str]]) -> None:
    db, _ = deep
    done = ocinspect(db, "run", "--", sys.executable, "-c", "print('STARTED')")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "STARTED\n"
    assert f"recovered {DEPTH} stuck sessions before start" in done.stderr
    assert stuck_tools(db) == 0


def test_the_tui_rows_keep_the_chain_when_sorted(deep_template: tuple[Path, list[str]], deep_scan: ScanResult) -> None:
    from inspector.tui.widgets.session_table import sort_key, sort_rows, visible_rows

    _, ids = deep_template
    rows_ = visible_rows(deep_scan)
    assert [r.depth for r in rows_] == list(range(DEPTH))
    for descending in (False, True):
        assert [r.diag.id for r in sort_rows(rows_, sort_key("title", frozenset()), descending)] == ids

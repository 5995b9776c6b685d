"""Start-up stays lean: each command imports only what it needs (issue 12, part 3).

Pinned through ``sys.modules`` of a real ``ocinspect`` process (the click command that
``python -m inspector`` and the console script run). SQLAlchemy is imported by every command
that reads the database (all SQL goes through it); what must not come along is the TUI, the
repair machinery, the HTTP client (only needed once a live OpenCode process was found) and, for
commands that never open a database, SQLAlchemy and psutil themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
before = set(sys.modules)  # the interpreter's own start-up (site, .pth files) is not ours
from inspector.cli import cli  # what ``main`` runs (``main`` itself ends with os._exit)
try:
    cli(sys.argv[1:], prog_name="ocinspect")
except SystemExit:
    pass
loaded = sorted(set(sys.modules) - before)
sys.stdout.flush()
sys.stderr.write("\\nMODULES " + " ".join(loaded) + "\\n")
"""

# The command line: the group and one module per command family, each adding its command to it
# when imported (core is imported only inside the command that runs).
CLI_MODULES = {
    "inspector.cli",
    "inspector.cli.app",
    "inspector.cli.doctor",
    "inspector.cli.echo",
    "inspector.cli.errors",
    "inspector.cli.group",
    "inspector.cli.inbox",
    "inspector.cli.launch",
    "inspector.cli.open_",
    "inspector.cli.params",
    "inspector.cli.paths",
    "inspector.cli.recover",
    "inspector.cli.report",
    "inspector.cli.run",
    "inspector.cli.scan",
    "inspector.cli.settings",
    "inspector.cli.show",
    "inspector.cli.undo",
    "inspector.cli.watch",
    "inspector.cli.watch_metrics",  # the --metrics option type (click only; the core loads when asked for)
}
# Exactly the inspector modules a quick scan needs: nothing of the TUI, recover, journal, demo.
SCAN_QUICK = CLI_MODULES | {
    "inspector",
    "inspector.render",
    "inspector.output",
    "inspector.core.paths",
    "inspector.core",
    "inspector.core.errors",
    "inspector.core.model",
    "inspector.core.text",
    "inspector.core.defaults",
    "inspector.core.db",
    "inspector.core.db.locate",
    "inspector.core.db.v1",
    "inspector.core.db.v1.sql",
    "inspector.core.db.v1.base",  # the seam: the v1 reads a scan asks through
    "inspector.core.db.v1.reads",
    "inspector.core.db.v1.scan_reads",
    "inspector.core.db.v1.judge_reads",
    "inspector.core.db.v1.repair_reads",
    "inspector.core.db.v1.row_checks",  # a mixin of the reads; the event log itself loads only to write
    # the seam: the generation chosen by open_store, the typed reads it answers
    "inspector.core.db.generation",
    "inspector.core.db.continue_forms",  # each generation's command to continue a session (data only)
    "inspector.core.db.reads",
    "inspector.core.db.reads.scan",
    "inspector.core.db.reads.judge",
    "inspector.core.db.reads.repair",
    "inspector.core.db.store",
    "inspector.core.db.ranges",
    "inspector.core.db.tails",  # the newest rows' statement, one for both generations
    "inspector.core.db.rows",
    "inspector.core.opencode",
    "inspector.core.opencode.live",
    "inspector.core.opencode.processes",  # which opencode processes hold the file (v1 and v2)
    "inspector.core.diagnose",
    "inspector.core.diagnose.scan",
    "inspector.core.diagnose.options",  # what the scan is asked to do (imports only core.defaults)
    "inspector.core.diagnose.findings",
    "inspector.core.diagnose.patterns",
    "inspector.core.diagnose.pattern_text",
    "inspector.core.diagnose.holds",
    "inspector.core.db.reads.holds",
    "inspector.core.diagnose.resume_risk",  # which sessions an OpenCode 2 service boot re-runs
    "inspector.core.diagnose.tree",
    "inspector.core.diagnose.hung",
    # pure helpers of the scan itself: the id-wrap risk, inferred subagent links
    "inspector.core.diagnose.idwrap",
    "inspector.core.diagnose.children",
    "inspector.core.diagnose.asked",
    # the watermarks kept across processes (issue 19): where the last look left off
    "inspector.core.diagnose.incremental",
    "inspector.core.diagnose.incremental.resume",
    "inspector.core.diagnose.incremental.state",
    "inspector.core.diagnose.incremental.tracker",
    "inspector.core.diagnose.incremental.changes",
    # the database's own health, looked at when something is stuck (a stat, the lock table)
    "inspector.render_health",
    "inspector.core.db.contention",
    "inspector.core.db.health",
    "inspector.core.db.locks",
    "inspector.core.health",
    "inspector.core.health.beside_scan",  # core's rule for when the health is said beside a scan
    "inspector.core.health.explain",
    "inspector.core.health.holders",
    "inspector.core.health.look",
    "inspector.core.health.sightings",
    # its files read without blocking, only when they are regular files of this user
    "inspector.core.ownfiles",
}
NEVER_FOR_SCAN = (
    "textual",
    "rich",
    "inspector.tui",
    "http.client",
    "urllib.request",
    "sqlalchemy.orm",
    "sqlalchemy.ext",
    "importlib.resources",
)
DATABASE_STACK = ("sqlalchemy", "psutil", "sqlite3", "concurrent.futures", "importlib.metadata")


def modules_of(*args: str) -> set[str]:
    """The modules one ``ocinspect ARGS`` process run from this checkout loads after start-up."""
    out = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    marker = out.stderr.rpartition("MODULES ")[2]
    assert marker.strip(), out.stderr
    return set(marker.split())


def loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_scan_quick_imports_only_what_it_needs(fixture_db: Callable[..., Path]) -> None:
    modules = modules_of("--db", str(fixture_db("stuck-bash")), "scan", "--quick", "--json")
    assert {m for m in modules if m.split(".")[0] == "inspector"} == SCAN_QUICK
    assert loaded(modules, NEVER_FOR_SCAN) == []
    assert {"sqlalchemy", "psutil"} <= modules  # every query through SQLAlchemy; liveness


@pytest.mark.parametrize(
    "args", [("--version",), ("--help",), ("scan", "--help"), ("recover", "--help")], ids=lambda a: " ".join(a)
)
def test_commands_without_a_database_load_no_database_stack(args: tuple[str, ...]) -> None:
    modules = modules_of(*args)
    assert loaded(modules, DATABASE_STACK + NEVER_FOR_SCAN) == []
    assert {m for m in modules if m.split(".")[0] == "inspector"} <= CLI_MODULES | {
        "inspector",
        "inspector.output",
        "inspector.core",
        "inspector.core.errors",
        "inspector.core.defaults",
    }


def test_runs_reads_the_journal_without_sqlalchemy_or_psutil() -> None:
    modules = modules_of("runs", "--json")
    assert loaded(modules, DATABASE_STACK + NEVER_FOR_SCAN) == []


@pytest.mark.parametrize(
    "args, code",
    [
        (("scan", "--json"), 1),
        (("scan", "--quick"), 1),
        (("--db", "/nonexistent/opencode.db", "scan"), 2),
        (("--version",), 0),
        (("recover",), 2),
    ],
    ids=["scan-json", "scan-text", "missing-db", "version", "usage-error"],
)
def test_the_process_ends_fast_with_all_output_and_the_right_code(
    fixture_db: Callable[..., Path], args: tuple[str, ...], code: int
) -> None:
    """``main`` ends with ``os._exit`` (skipping ~30 ms of interpreter teardown): every byte of
    output must still arrive, and the documented exit code."""
    db = ["--db", str(fixture_db("stuck-bash"))] if "--db" not in args else []
    done = subprocess.run(
        [sys.executable, "-m", "inspector", *db, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == code, done.stderr
    if args == ("scan", "--json"):
        assert json.loads(done.stdout)["sessions"][0]["id"] == "ses_df18eeb6dffeePv0iTauMoOxIU"
    elif code == 2:
        assert done.stderr.strip() and "Traceback" not in done.stderr
    else:
        assert done.stdout.strip()

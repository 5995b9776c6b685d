"""The import contracts in pyproject.toml catch what they promise: each is broken by one planted
import in a copy of the package (a contract that cannot fail guards nothing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"

UI = "core never imports the UI"
LAYERS = "core by stage"
SYNTH_DEPS = "synth (test and demo databases) builds on db"
SYNTH_USERS = "no real code path runs on synthetic data"
CYCLES = "no import circles"
SEAM_WRITE = "repair and report reach the database through the seam"
SEAM = "diagnose reads through the seam"


def lint(tree: Path) -> dict[str, str]:
    """Run lint-imports on ``tree``; contract name -> KEPT/BROKEN."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "400"}  # one line per contract
    ran = subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )
    verdicts = dict(re.findall(r"^(.+?) (KEPT|BROKEN)$", ran.stdout, flags=re.M))
    assert verdicts, ran.stdout + ran.stderr
    assert (ran.returncode == 0) == ("BROKEN" not in verdicts.values()), ran.stdout
    return verdicts


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "inspector", tmp_path / "inspector", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, *lines: str) -> None:
    path = tree / "inspector" / module
    path.write_text(path.read_text(encoding="utf-8") + "\n" + "\n".join(lines) + "\n", encoding="utf-8")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    verdicts = lint(tree)
    assert set(verdicts.values()) == {"KEPT"}, verdicts
    assert len(verdicts) == 7


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/text.py", "import rich.text", UI),
        ("core/diagnose/scan.py", "import textual.widgets", UI),
        ("core/repair/journal.py", "from inspector.tui import format", UI),
        ("core/db/rows.py", "from inspector.core.diagnose import tree", LAYERS),
        ("core/opencode/client.py", "from inspector.core.repair import journal", LAYERS),
        ("core/diagnose/tree.py", "from inspector.core.repair import cas", LAYERS),
        ("core/model.py", "from inspector.core.db.v1 import sql as queries", LAYERS),
        ("core/synth/builder.py", "from inspector.core.diagnose import tree", SYNTH_DEPS),
        ("core/repair/recover.py", "from inspector.core.synth import builder", SYNTH_USERS),
        ("core/diagnose/tree.py", "from inspector.core.diagnose import scan", CYCLES),
        ("core/repair/recover.py", "from sqlalchemy.engine import Connection", SEAM_WRITE),
        ("core/repair/cas.py", "from inspector.core.db.v1 import sql as q", SEAM_WRITE),
        ("core/report/build.py", "from inspector.core.db.v1.repair_reads import V1RepairReads", SEAM_WRITE),
        ("core/report/build.py", "import sqlalchemy", SEAM_WRITE),
        ("core/diagnose/hung.py", "from sqlalchemy.engine import Connection", SEAM),
        ("core/diagnose/tree.py", "from inspector.core.db.v1 import sql as q", SEAM),
        ("core/diagnose/children.py", "from inspector.core.db.v1.reads import V1Reads", SEAM),
    ],
)
def test_a_planted_import_breaks_its_contract(tree: Path, module: str, line: str, contract: str) -> None:
    plant(tree, module, line)
    broken = {name for name, verdict in lint(tree).items() if verdict == "BROKEN"}
    assert any(name.startswith(contract) for name in broken), broken


def test_type_checking_imports_are_not_dependencies(tree: Path) -> None:
    """model <-> opencode.live annotate each other; an annotation-only import breaks nothing."""
    plant(
        tree,
        "core/db/rows.py",
        "from typing import TYPE_CHECKING",
        "if TYPE_CHECKING:",
        "    from inspector.core.repair import journal",
    )
    assert set(lint(tree).values()) == {"KEPT"}


def ruff_format_check(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "inspector"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_format_check_is_live(tree: Path) -> None:
    """`ruff format --check` (a step of .ci/run) passes on the tree and fails on one planted line."""
    assert ruff_format_check(tree).returncode == 0
    plant(tree, "core/text.py", "PLANTED = ( 1,2 )")
    failed = ruff_format_check(tree)
    assert failed.returncode == 1 and "core/text.py" in failed.stdout


def test_the_complexity_bound_is_live(tree: Path) -> None:
    """The ruff C901 bound in pyproject.toml (max-complexity) flags a planted many-branched function."""
    branches = [f"    if x == {n}:\n        return {n}" for n in range(14)]
    plant(tree, "core/text.py", "def planted(x: int) -> int:", *branches, "    return -1")
    ran = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "C901", "inspector"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1 and "`planted` is too complex" in ran.stdout, ran.stdout


def mypy(tree: Path) -> subprocess.CompletedProcess[str]:
    """``python3 -m mypy`` with no arguments, as .ci/run calls it: pyproject.toml says what it checks."""
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tree / ".mypy_cache")],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_mypy_checks_the_tests_strictly(tmp_path: Path) -> None:
    """The mypy step covers tests/ with ``strict``: a planted untyped test function is reported."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "inspector").mkdir()
    (tmp_path / "inspector" / "__init__.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    planted = tmp_path / "tests" / "test_planted.py"
    planted.write_text("from pathlib import Path\n\n\ndef test_planted(tmp_path: Path) -> None:\n    assert tmp_path\n")
    assert mypy(tmp_path).returncode == 0, mypy(tmp_path).stdout
    planted.write_text("def test_planted(tmp_path):\n    assert tmp_path\n")
    ran = mypy(tmp_path)
    assert ran.returncode == 1, ran.stdout
    assert "tests/test_planted.py:1: error: Function is missing a type annotation" in ran.stdout, ran.stdout

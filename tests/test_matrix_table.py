"""The docs' "Tested OpenCode releases" table is the rendering of the e2e run's results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import matrix
from tests.support.releases import E2E_RELEASES


def test_readme_table_is_the_rendering_of_the_committed_results() -> None:
    assert matrix.main(["--check"]) == 0, "run: python tests/e2e/matrix.py"
    readme = matrix.README.read_text()
    assert matrix.block(matrix.load()) in readme


def test_results_cover_every_release_and_scenario() -> None:
    releases = matrix.load()["releases"]
    assert sorted(releases) == sorted(E2E_RELEASES)
    assert {(r, s) for r, runs in releases.items() for s in runs} == set(matrix.expected())


def test_a_failed_cell_shows_in_the_table() -> None:
    results = matrix.load()
    results["releases"]["1.2.27"]["task"] = {**results["releases"]["1.2.27"]["task"], "outcome": "failed"}
    row = next(line for line in matrix.render(results).splitlines() if line.startswith("| 1.2.27 "))
    assert "✘ failed" in row and row.endswith("| **failed** |")


INNER_CONFTEST = """
pytest_plugins = ["tests.e2e.conftest"]
from tests.conftest import pytest_configure  # noqa: E402,F401 (registers the recorder, as in the real run)
"""

INNER_TESTS = """
import pytest
from tests.support.releases import E2E_RELEASES

@pytest.mark.matrix("task")
@pytest.mark.parametrize("release", E2E_RELEASES)
def test_task(release, matrix_facts):
    matrix_facts["task_names_child"] = release != "1.2.27"

# two cells checked on one database: each has its own facts and outcome (test_e2e.py's Cells)
@pytest.mark.matrix("bash", "pending")
@pytest.mark.parametrize("release", E2E_RELEASES)
def test_bash_and_pending(release, matrix_facts):
    matrix_facts["bash"] = {"tables": 7, "outcome": "passed"}
    matrix_facts["pending"] = {"outcome": "failed" if release == "1.2.27" else "passed"}
    assert release != "1.2.27"
"""


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "2"]], ids=["serial", "xdist"])
def test_a_run_covering_the_matrix_writes_every_cell(tmp_path: Path, workers: list[str]) -> None:
    """The recorder sees every cell whether the matrix tests ran in this process or in xdist workers
    (where each worker sees only its share, and only the controller can write the whole file)."""
    project = tmp_path / "inner"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "conftest.py").write_text(INNER_CONFTEST)
    (project / "test_cells.py").write_text(INNER_TESTS)
    results = tmp_path / "results.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(matrix.REPO_ROOT),
        "OCINSPECT_E2E_RESULTS": str(results),
        # only the plugins the recorder runs under (xdist, asked for by name), not every installed one
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, str(project)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # the one failing cell, 1.2.27 pending
    releases = matrix.load(results)["releases"]
    assert {(r, s) for r, runs in releases.items() for s in runs} == set(matrix.expected())
    assert releases["1.2.27"]["pending"]["outcome"] == "failed"
    assert releases["1.18.33"]["pending"]["outcome"] == "passed"
    assert releases["1.2.27"]["bash"] == {"outcome": "passed", "tables": 7}  # its sibling cell failed, not it
    assert releases["1.2.27"]["task"]["task_names_child"] is False

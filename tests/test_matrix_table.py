"""The docs' "Tested OpenCode releases" table is the rendering of the e2e run's results."""

from __future__ import annotations

from tests.e2e import matrix
from tests.releases import E2E_RELEASES


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

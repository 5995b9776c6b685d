"""The release-matrix recorder: collects matrix cells from test reports and writes the results.

``tests/e2e/conftest.py`` tags each matrix test's report with its cell (``MATRIX_PROPERTY`` in
``user_properties``). Reports are what pytest-xdist sends from its workers to the controller, so
the recorder lives in the one process that sees the whole run: the controller, or the only
process without xdist. ``tests/conftest.py`` registers it there; a worker records nothing and
never writes (it saw only its share of the run).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import pytest

from . import matrix

MATRIX_PROPERTY = "ocinspect-matrix-cell"


class MatrixRecorder:
    """A pytest plugin object: one per run, in the process that sees every report."""

    def __init__(self) -> None:
        self.results: dict[tuple[str, str], dict[str, Any]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """The call's outcome, or a failed/skipped setup's (which counts too)."""
        for name, value in report.user_properties:
            if name != MATRIX_PROPERTY:
                continue
            release, scenario, entry = cast(tuple[str, str, dict[str, Any]], value)
            if report.when == "call" or report.outcome != "passed":
                key = (release, scenario)
                self.results.setdefault(key, entry)
                if report.when == "call":
                    self.results[key] = entry

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Write the results when this run covered the whole matrix (skipped cells do not count)."""
        results = self.results
        wanted = matrix.expected()
        if not results or any(results.get(k, {}).get("outcome") not in ("passed", "failed") for k in wanted):
            return
        releases: dict[str, dict[str, Any]] = {}
        for (release, scenario), entry in sorted(results.items()):
            releases.setdefault(release, {})[scenario] = entry
        target = Path(os.environ.get("OCINSPECT_E2E_RESULTS") or matrix.RESULTS)
        text = matrix.dumps({"releases": releases})
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def register(config: pytest.Config) -> None:
    """Install the recorder unless this process is an xdist worker."""
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(MatrixRecorder(), "ocinspect-e2e-matrix-recorder")

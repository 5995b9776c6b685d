"""Fixtures for the end-to-end tests against the real OpenCode binary (marker ``e2e``).

The release matrix: tests marked ``matrix(scenario, ...)`` and parametrized with ``release``
record each cell's outcome and what they measured (``matrix_facts``); when one run covered every (release,
scenario) of ``matrix.expected()``, the results are written to ``matrix-results.json`` (or
``$OCINSPECT_E2E_RESULTS``), from which ``matrix.py`` renders the docs' table. The cells
travel on the test reports; ``recorder.py`` (registered by ``tests/conftest.py``, so also in an
xdist controller, which never loads this file) collects and writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

from . import harness as h
from .recorder import MATRIX_PROPERTY

_FACTS = pytest.StashKey[dict[str, Any]]()
_CALL = pytest.StashKey[pytest.TestReport]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "matrix(scenario, ...): the cells of the tested-releases table a test checks")


def _install(version: str) -> Path:
    try:
        return h.ensure_opencode(version)
    except h.Unavailable as exc:
        pytest.skip(f"e2e: {exc}")
    except h.HarnessError as exc:
        pytest.fail(f"e2e: could not install OpenCode {version}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def opencode_bin() -> Path:
    """The newest release's ``opencode`` binary (npm opencode-ai), installed once into the cache."""
    return _install(h.OPENCODE_VERSION)


@pytest.fixture(scope="session")
def opencode_release() -> Callable[[str], Path]:
    """``opencode_release("1.2.27")`` -> that release's binary, installed once (per release)."""
    return _install


@pytest.fixture
def matrix_facts(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Facts a matrix test measured on the real binary (schema, event log, subagent link). A test
    of several cells keeps one dict per scenario here, each with the cell's own ``outcome``."""
    facts: dict[str, Any] = {}
    request.node.stash[_FACTS] = facts
    return facts


@pytest.fixture(scope="session")
def fake_model() -> Iterator[h.FakeModel]:
    """One scripted OpenAI-compatible model server on 127.0.0.1 for the whole run."""
    model = h.FakeModel().start()
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture
def sandbox(tmp_path: Path, fake_model: h.FakeModel) -> Iterator[h.Sandbox]:
    """An isolated OpenCode home; every process started in it is killed at teardown."""
    box = h.Sandbox(tmp_path / "oc", fake_model)
    try:
        yield box
    finally:
        box.kill_all()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory, fake_model: h.FakeModel) -> Iterator[h.ServerPool]:
    """OpenCode servers shared by the tests that never stop theirs (``harness.ServerPool``)."""
    pool = h.ServerPool(tmp_path_factory.mktemp("shared-opencode"), fake_model)
    try:
        yield pool
    finally:
        pool.discard()


@pytest.fixture
def pooled(request: pytest.FixtureRequest, server_pool: h.ServerPool) -> Iterator[h.ServerPool]:
    """``server_pool`` for one test: its servers are dropped when the test failed, so nothing it
    left behind (a busy session, a pending prompt) reaches the next test."""
    yield server_pool
    report = request.node.stash.get(_CALL, None)
    if report is None or not report.passed:
        server_pool.discard()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on pooled servers run grouped by release (in their own positions, the rest of the
    order kept), so that one worker reuses a server instead of booting one per test."""
    positions = [i for i, item in enumerate(items) if "pooled" in getattr(item, "fixturenames", ())]

    def release(item: pytest.Item) -> str:
        callspec = getattr(item, "callspec", None)
        return str(callspec.params.get("release", h.OPENCODE_VERSION)) if callspec else h.OPENCODE_VERSION

    for position, item in zip(positions, sorted((items[i] for i in positions), key=release), strict=True):
        items[position] = item


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """Attach the OpenCode server logs of a failed e2e test; tag matrix outcomes on the report.

    The outcome travels on the report (``user_properties``), not in this process's memory: under
    pytest-xdist the test runs in a worker and only its reports reach the controller, which is
    the one process that sees the whole run and so the one that writes the results.
    """
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL] = report
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        pool = funcargs.get("pooled")
        boxes = [funcargs.get("sandbox"), *(pool.sandboxes() if isinstance(pool, h.ServerPool) else ())]
        logs = "\n".join(box.logs() for box in boxes if isinstance(box, h.Sandbox) and box.servers)
        if logs:
            report.sections.append(("opencode serve logs", logs[-30000:]))
    marker = item.get_closest_marker("matrix")
    callspec = getattr(item, "callspec", None)
    if marker is None or callspec is None or "release" not in callspec.params:
        return
    facts: dict[str, Any] = item.stash.get(_FACTS, {})
    for scenario in marker.args:
        cell = facts.get(scenario, {}) if len(marker.args) > 1 else facts
        entry = {"outcome": report.outcome, **cell}
        report.user_properties.append((MATRIX_PROPERTY, [callspec.params["release"], scenario, entry]))

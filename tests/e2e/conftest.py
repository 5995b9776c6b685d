"""Fixtures for the end-to-end tests against the real OpenCode binary (marker ``e2e``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import harness as h


@pytest.fixture(scope="session")
def opencode_bin() -> Path:
    """The real ``opencode`` binary (npm opencode-ai), installed once into the user cache."""
    try:
        return h.ensure_opencode()
    except h.Unavailable as exc:
        pytest.skip(f"e2e: {exc}")
    except h.HarnessError as exc:
        pytest.fail(f"e2e: could not install OpenCode {h.OPENCODE_VERSION}: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def fake_model() -> Iterator[h.FakeModel]:
    """One scripted OpenAI-compatible model server on 127.0.0.1 for the whole run."""
    model = h.FakeModel().start()
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture
def sandbox(tmp_path: Path, opencode_bin: Path, fake_model: h.FakeModel) -> Iterator[h.Sandbox]:
    """An isolated OpenCode home; every process started in it is killed at teardown."""
    box = h.Sandbox(tmp_path / "oc", fake_model)
    try:
        yield box
    finally:
        box.kill_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Attach the OpenCode server logs of a failed e2e test to its report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        box = getattr(item, "funcargs", {}).get("sandbox")
        if isinstance(box, h.Sandbox) and box.servers:
            report.sections.append(("opencode serve logs", box.logs()[-30000:]))

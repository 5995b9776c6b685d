"""Fixtures for the OpenCode 2.x end-to-end tests (marker ``e2e``, like the v1 ones).

Each test gets its own fake model (so it can count the model calls a server made behind its
back) and its own :class:`V2Sandbox` (HOME, XDG dirs, service port: the service's
``service.json``, data dir and database are the test's own). The v1 conftest one level up
attaches the server logs of a failed test (this ``sandbox`` is a ``Sandbox`` too).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from .. import harness as h

# every_shape asserts each shape's rows as it makes them: pytest explains a failed one there too
pytest.register_assert_rewrite("tests.e2e.v2.every_shape")

from . import harness_v2 as v2  # noqa: E402


@pytest.fixture(scope="session")
def opencode_v2() -> Path:
    """The 2.1.2 binary (npm @opencode/cli-linux-x64), installed once into the e2e cache."""
    try:
        return v2.ensure_opencode_v2()
    except h.Unavailable as exc:
        pytest.skip(f"e2e: {exc}")
    except h.HarnessError as exc:
        pytest.fail(f"e2e: could not install OpenCode {v2.V2_VERSION}: {exc}", pytrace=False)


@pytest.fixture
def fake_model() -> Iterator[h.FakeModel]:
    """A fake model of this test's own: its request log counts only this test's model calls."""
    with h.FakeModel() as model:
        yield model


@pytest.fixture
def sandbox(tmp_path: Path, fake_model: h.FakeModel, opencode_v2: Path) -> Iterator[v2.V2Sandbox]:
    """An isolated 2.x home; every process started in it (the detached service too) is killed."""
    with v2.sandboxed(tmp_path / "oc", fake_model, opencode_v2) as box:
        yield box


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the service's log and the rows of a failed test that started no plain server (the
    v1 conftest attaches them when it did)."""
    report = yield
    box = getattr(item, "funcargs", {}).get("sandbox")
    if report.failed and isinstance(box, v2.V2Sandbox) and not box.servers:
        report.sections.append(("opencode 2.x logs and rows", box.logs()[-30000:]))
    return report

"""Issue 13.2: which units the plan routes through a running OpenCode, and which it writes itself.

The writes through OpenCode's API are proven against the real binary in
``tests/e2e/test_e2e_via_opencode.py``; here the routing decision, on real fixture files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.opencode.live import LiveStatus
from inspector.core.repair import recover
from inspector.core.repair.via_opencode import supports
from inspector.render import plan_text
from tests.support.releases import NOW, SESSIONS

DIRECTORY = "/home/dev/src/webapp"


def serving(version: str | None = "1.18.33", *, busy: frozenset[str] = frozenset()) -> LiveStatus:
    return LiveStatus(
        running=True,
        busy=busy,
        servers=((DIRECTORY, 4096),),
        versions=((4096, version),) if version else (),
        detail="OpenCode is running (port 4096)",
    )


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.18.33", True),
        ("1.18.0", True),
        ("1.19.2-beta.1", True),
        ("2.0.0", True),
        ("1.15.13", False),
        ("1.2.27", False),
        ("dev", False),
        ("", False),
        (None, False),
    ],
)
def test_supported_releases(version: str | None, expected: bool) -> None:
    assert supports(version) is expected


def test_an_idle_session_in_a_running_opencode_goes_through_it(fixture_db: Callable[..., Path]) -> None:
    db = fixture_db("stuck-task")
    plan = recover.plan(open_store(db), live=serving(), now=NOW)
    (unit,) = plan.units
    assert (unit.via_port, unit.directory) == (4096, DIRECTORY)
    assert "through the OpenCode serving it, port 4096" in plan_text(plan)[0]
    assert dict(recover.dry_run(plan).via) == {sid: "opencode" for sid in SESSIONS["stuck-task"]}


@pytest.mark.parametrize("version", ["1.15.13", None])
def test_an_opencode_without_the_sync_routes_is_written_around(
    fixture_db: Callable[..., Path], version: str | None
) -> None:
    plan = recover.plan(open_store(fixture_db("stuck-bash")), live=serving(version), now=NOW)
    assert plan.units[0].via_port is None


def test_direct_forces_the_file_path(fixture_db: Callable[..., Path]) -> None:
    plan = recover.plan(open_store(fixture_db("stuck-bash")), live=serving(), now=NOW, direct=True)
    assert plan.units[0].via_port is None
    assert dict(recover.dry_run(plan).via) == {SESSIONS["stuck-bash"][0]: "direct"}


def test_a_forced_live_session_is_never_sent_to_the_server_working_on_it(fixture_db: Callable[..., Path]) -> None:
    sid = SESSIONS["stuck-bash"][0]
    live = serving(busy=frozenset({sid}))
    assert recover.plan(open_store(fixture_db("stuck-bash")), live=live, now=NOW).is_empty
    forced = recover.plan(open_store(fixture_db("stuck-bash")), live=live, now=NOW, force=True)
    assert forced.units[0].via_port is None

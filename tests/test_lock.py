"""The test environment's lock file (``requirements/test.lock``, what ``.ci/run`` installs from)
matches ``pyproject.toml``: every direct dependency, test and docs extra is locked to a version its range
allows, and the lock names nothing as direct that pyproject no longer asks for.

Offline: this reads the two files; regenerate the lock with the command in its header.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "test.lock"
REGENERATE = (
    "uv pip compile pyproject.toml --extra test --extra docs --python-version 3.11 --universal "
    "-o requirements/test.lock"
)


def direct_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    reqs = [Requirement(r) for r in [*project["dependencies"], *extras["test"], *extras["docs"]]]
    return {canonicalize_name(r.name): r for r in reqs}


def parse_lock(text: str) -> tuple[dict[str, str], set[str]]:
    """(name -> pinned version, names the lock says pyproject asked for)."""
    pins: dict[str, str] = {}
    direct: set[str] = set()
    current = ""
    for line in text.splitlines():
        pin = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;]+)", line)
        if pin:
            current = canonicalize_name(pin.group(1))
            pins[current] = pin.group(2)
        elif current and "ocinspect (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def test_lock_header_names_the_command() -> None:
    assert REGENERATE in LOCK.read_text()


def test_every_direct_requirement_is_locked_within_its_range() -> None:
    pins, _ = parse_lock(LOCK.read_text())
    wanted = direct_requirements()
    missing = sorted(set(wanted) - set(pins))
    assert not missing, f"not in requirements/test.lock: {missing}; run: {REGENERATE}"
    outside = {
        name: (pins[name], str(req.specifier))
        for name, req in wanted.items()
        if not req.specifier.contains(pins[name], prereleases=True)
    }
    assert not outside, f"locked outside pyproject's range: {outside}; run: {REGENERATE}"


def test_lock_asks_for_nothing_pyproject_dropped() -> None:
    _, direct = parse_lock(LOCK.read_text())
    assert direct == set(direct_requirements()), f"run: {REGENERATE}"


def test_a_stale_lock_is_caught() -> None:
    text = LOCK.read_text()
    stale = re.sub(r"(?m)^pytest-xdist==\S+\n(    #.*\n)*", "", text)  # as if xdist had just been added
    stale = re.sub(r"(?m)^ruff==\S+", "ruff==0.16.0", stale)
    pins, direct = parse_lock(stale)
    wanted = direct_requirements()
    assert "pytest-xdist" not in pins and "pytest-xdist" not in direct
    assert not wanted["ruff"].specifier.contains(pins["ruff"])

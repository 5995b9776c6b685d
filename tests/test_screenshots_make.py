"""``screenshots/make.py`` is run by hand, rarely: it once failed for a session after a test
helper it imports moved. Its cheap part runs here (every database source it builds a shot on,
each shot's roles, every name it patches), not the shots themselves (an app run each)."""

from __future__ import annotations

import importlib.util
import pkgutil
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from inspector.core.db.store import open_store

MAKE = Path(__file__).resolve().parents[1] / "screenshots" / "make.py"


@pytest.fixture(scope="module")
def make() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("screenshots_make", MAKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_every_source_builds_the_sessions_its_shots_name(make: ModuleType, tmp_path: Path) -> None:
    sources = {make.demo, *(options.get("source", make.demo) for _, _, options in make.SHOTS)}
    roles: dict[object, set[str]] = {}
    for source in sources:
        data = tmp_path / source.__name__
        data.mkdir()
        built = source(data)  # the import that once failed runs here
        store = open_store(built.db)
        try:
            assert store.schema in ("v1", "v2"), source.__name__
        finally:
            store.dispose()
        roles[source] = set(built.roles)
    for name, steps, options in make.SHOTS:
        named = {step.partition(":")[2] for step in steps if step.startswith(("open:", "select:"))}
        assert named <= roles[options.get("source", make.demo)], name
    for name, _, role in make.CLI_SHOTS:
        assert role in roles[make.demo], name


def test_every_name_it_patches_exists() -> None:
    targets = re.findall(r'mock\.patch\(\s*"([\w.]+)"', MAKE.read_text())
    assert targets
    for target in targets:
        pkgutil.resolve_name(target)  # an AttributeError or ImportError names the one that moved

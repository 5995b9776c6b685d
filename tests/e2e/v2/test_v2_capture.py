"""capture_v2.py still reproduces the shipped 2.x fixtures (``tests/fixtures/v2``) from the real
binary: same schema, same sessions with the same claims, outcomes, message types and tools, the
sandbox's paths rewritten. Two shapes the fake model does not steer (the others are made by the
same makers and checked in ``every_shape.py``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .. import harness as h
from . import capture_v2
from . import harness_v2 as v2

pytestmark = pytest.mark.e2e

SHIPPED = h.REPO_ROOT / "tests" / "fixtures" / "v2"


def shape(db: Path) -> dict[str, Any]:
    """The fixture without its ids and times."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        schema = sorted(r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
        dirs = {r[0] for r in conn.execute("SELECT directory FROM session_v2")}
    finally:
        conn.close()
    sessions = [
        {k: v for k, v in s.items() if k not in ("id", "parent_id")} | {"child": s["parent_id"] is not None}
        for s in capture_v2.summarize(db)
    ]
    return {"schema": schema, "dirs": dirs, "sessions": sessions}


@pytest.mark.parametrize("name", ["stuck-task", "stuck-queued"])
def test_capture_reproduces_the_shipped_fixture(tmp_path: Path, opencode_v2: Path, name: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = capture_v2.capture(name, opencode_v2, tmp_path / "work", out)
    new = Path(result["file"])
    assert new.name == f"v2-{name}.db"
    assert (result["journal_mode"], result["integrity"], result["freelist"]) == ("delete", "ok", 0)
    assert not Path(f"{new}-wal").exists()
    assert shape(new) == shape(SHIPPED / new.name)
    assert shape(new)["dirs"] == {capture_v2.PROJECT_DIR}
    assert v2.tables(new) == v2.tables(SHIPPED / new.name)

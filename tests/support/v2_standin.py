"""Helpers for the v2 repair tests: the sessions of a file and a plan of all of them.

(Before the v2 reads were in ``for_schema`` this stood a v2 generation in; ``install`` is kept
as a no-op so the tests read the same either way.)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspector.core.db.store import open_store
from inspector.core.model import Diagnosis, Plan, Session


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to stand in: ``open_store`` chooses the real v2 generation."""


def sessions(db: Path) -> list[str]:
    """Every session of the file, parents first."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM session_v2 ORDER BY parent_id IS NOT NULL, id")]
    finally:
        conn.close()


def diagnosis(sid: str) -> Diagnosis:
    return Diagnosis(Session(sid, "", "", None, None, None, 0, 0), "stale", ("claim-orphan",))


def make_plan(db: Path, now: int) -> Plan:
    """The whole file as one unit (a parent and its children), planned on a read snapshot."""
    store = open_store(db)
    try:
        generation = store.require_readable()
        with store.reading() as reads:
            unit = generation.plan_unit(reads, [diagnosis(s) for s in sessions(db)], now)
    finally:
        store.dispose()
    return Plan(database=str(db), created=now, units=(unit,) if unit.changes else ())

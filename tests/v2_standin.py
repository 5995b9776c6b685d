"""A stand-in OpenCode 2 generation for the repair tests, until the v2 reads are in ``for_schema``.

It is the real write side (``V2Repair``) with ``V2Turns`` as its reads, the way the v2 reads will
mix it in; :func:`install` makes ``open_store`` / ``writing`` choose it for a v2 file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.engine import Connection

from inspector.core.db import generation as generation_module
from inspector.core.db import store as store_module
from inspector.core.db import writes as writes_module
from inspector.core.db.generation import Generation
from inspector.core.db.reads import Reads
from inspector.core.db.store import Store, open_store
from inspector.core.db.v2.repair import V2Repair
from inspector.core.db.v2.turns import V2Turns
from inspector.core.model import Diagnosis, Plan, Session


class StandInV2(V2Repair, Generation):
    name = "v2"

    def reads(self, store: Store, conn: Connection) -> Reads:
        return cast(Reads, V2Turns(store, conn))


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    original = generation_module.for_schema

    def for_schema(schema: str, *columns: Any) -> Generation | None:
        return StandInV2() if schema == "v2" else original(schema, *columns)

    monkeypatch.setattr(writes_module, "for_schema", for_schema)
    monkeypatch.setattr(store_module, "for_schema", for_schema)


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
        with store.reading() as reads:
            unit = StandInV2().plan_unit(reads, [diagnosis(s) for s in sessions(db)], now)
    finally:
        store.dispose()
    return Plan(database=str(db), created=now, units=(unit,) if unit.changes else ())

"""Columns, not versions: a v2 database shaped unlike the proven 2.1.2 is read where sound, never written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspector.core.db.v2.shape import shape_of

V2 = Path(__file__).parent / "fixtures" / "v2"


def columns_of(sql: str) -> dict[str, frozenset[str]]:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(sql)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: frozenset(r[1] for r in conn.execute(f"PRAGMA table_info('{t}')")) for t in tables}
    finally:
        conn.close()


PROVEN = columns_of((V2 / "schema-2.1.2.sql").read_text())


@pytest.mark.parametrize("ddl", ["schema-2.1.2.sql", "schema-2.1.2-imported-from-v1.sql"])
def test_the_proven_shapes_are_read_and_written(ddl: str) -> None:
    shape = shape_of(columns_of((V2 / ddl).read_text()))
    assert (shape.readable, shape.writable, shape.differs, shape.message()) == (True, True, (), "")


def test_upstream_s_renamed_claim_is_read_but_never_written() -> None:
    renamed = dict(PROVEN, session_v2=PROVEN["session_v2"] - {"time_suspended"} | {"execution_claimed_at"})
    shape = shape_of(renamed)
    assert shape.readable and not shape.writable
    assert "the execution claim is execution_claimed_at, not time_suspended" in shape.message()
    assert shape.message().endswith("diagnosed where its reads are sound, never written")


def test_a_missing_read_column_stops_the_diagnosis_and_names_it() -> None:
    shape = shape_of(dict(PROVEN, session_message=PROVEN["session_message"] - {"seq"}))
    assert not shape.readable and not shape.writable
    assert shape.message() == "its shape differs from OpenCode 2.1.2's (session_message lacks seq): not diagnosed"


def test_no_event_sequence_table_is_read_but_not_written() -> None:
    shape = shape_of({t: c for t, c in PROVEN.items() if t != "event_sequence"})
    assert shape.readable and not shape.writable and shape.differs == ("no event_sequence table",)


def test_no_claim_column_at_all_is_not_diagnosed() -> None:
    shape = shape_of(dict(PROVEN, session_v2=PROVEN["session_v2"] - {"time_suspended"}))
    assert not shape.readable and "no execution claim column" in shape.message()

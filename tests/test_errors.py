"""Front ends switch on an error's typed ``kind``, never on its text (issue 12, part 4)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from inspector.core import errors
from inspector.core.db.store import open_store


def _v2(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE session_v2 (id TEXT PRIMARY KEY); CREATE TABLE event (id TEXT);")
    conn.close()
    return path


def _empty(path: Path) -> Path:
    """A valid SQLite file without a single table."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.close()
    return path


def _legacy(path: Path) -> Path:
    (path / "storage" / "session" / "global").mkdir(parents=True)
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not a database at all, just bytes" * 4)
    return path


def _foreign(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id TEXT)")
    conn.close()
    return path


# The directory names carry the words the old text search looked for ("2.x", "legacy"), in the
# wrong places: the kind must come from the type.
CASES = {
    "v2": (lambda tmp: _v2(tmp / "legacy-copy.db"), errors.OpenCode2xSchema),
    "legacy": (lambda tmp: _legacy(tmp / "opencode-2.x-backup"), errors.LegacyStorage),
    "foreign": (lambda tmp: _foreign(tmp / "2.x-legacy.db"), errors.SchemaUnsupported),
    "foreign-empty": (lambda tmp: _empty(tmp / "empty.db"), errors.SchemaUnsupported),
    "foreign-garbage": (lambda tmp: _garbage(tmp / "garbage.db"), errors.NotADatabase),
    "missing": (lambda tmp: tmp / "legacy" / "nothing-2.x.db", errors.DatabaseNotFound),
}


def failure(path: Path) -> errors.InspectorError:
    with pytest.raises(errors.InspectorError) as caught:
        store = open_store(path)
        try:
            store.require_v1()
        finally:
            store.dispose()
    return caught.value


@pytest.mark.parametrize("case", sorted(CASES))
def test_unsupported_databases_have_a_typed_kind(tmp_path: Path, case: str) -> None:
    make, error_type = CASES[case]
    error = failure(make(tmp_path))
    assert type(error) is error_type
    assert error.kind == case.partition("-")[0]
    assert error.exit_code == errors.EXIT_ERROR


def test_every_error_names_its_own_kind() -> None:
    kinds = {cls.kind for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.InspectorError)}
    assert {"missing", "foreign", "v2", "legacy", "locked", "read-only", "corrupt", "refused"} <= kinds

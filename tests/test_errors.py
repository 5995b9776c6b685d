"""Front ends switch on an error's typed ``kind``, never on its text (issue 12, part 4)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from inspector.core import errors
from inspector.core.db.store import open_store, translate
from tests.support.unusable_db import foreign as _foreign
from tests.support.unusable_db import legacy_storage as _legacy
from tests.support.unusable_db import opencode_2x as _v2


def _empty(path: Path) -> Path:
    """A valid SQLite file without a single table."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")
    conn.close()
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"not a database at all, just bytes" * 4)
    return path


# The directory names carry the words the old text search looked for ("2.x", "legacy"), in the
# wrong places: the kind must come from the type.
CASES: dict[str, tuple[Callable[[Path], Path], type[errors.InspectorError]]] = {
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
    kinds = {
        cls.kind for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.InspectorError)
    }
    assert {"missing", "foreign", "v2", "legacy", "locked", "read-only", "corrupt", "refused"} <= kinds


# -- SQLite errors are classified by their result code, words only where no code exists ---------
def _sqlite_error(sql: str) -> DBAPIError:
    """A real error from SQLite, wrapped as SQLAlchemy hands it to ``translate``."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        return DBAPIError(sql, None, exc)
    finally:
        conn.close()
    raise AssertionError(f"{sql} did not fail")


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        # words the old text search looked for, in errors that are none of those things
        ("SELECT * FROM busy_locked_table", "no such table: busy_locked_table"),
        ("SELECT json_extract('{not json', '$.a')", "malformed JSON"),
        ("SELECT * FROM readonly_corrupt", "no such table: readonly_corrupt"),
    ],
)
def test_an_error_is_classified_by_its_code_not_its_words(tmp_path: Path, sql: str, said: str) -> None:
    path = tmp_path / "opencode.db"
    error = translate(_sqlite_error(sql), path)
    assert type(error) is errors.NotADatabase
    assert str(error) == f"{path}: SQLite error: {said}"


@pytest.mark.parametrize(
    ("code", "kind", "start"),
    [
        (sqlite3.SQLITE_BUSY, errors.DatabaseLocked, "is locked by another process"),
        (sqlite3.SQLITE_LOCKED, errors.DatabaseLocked, "is locked by another process"),
        (sqlite3.SQLITE_BUSY | (2 << 8), errors.DatabaseLocked, "is locked by another process"),  # BUSY_SNAPSHOT
        (sqlite3.SQLITE_READONLY, errors.DatabaseReadOnly, "is read-only for SQLite"),
        (sqlite3.SQLITE_READONLY_ROLLBACK, errors.DatabaseReadOnly, "has an unfinished transaction"),
        (sqlite3.SQLITE_NOTADB, errors.NotADatabase, "is damaged or not a SQLite database"),
        (sqlite3.SQLITE_CORRUPT, errors.NotADatabase, "is damaged or not a SQLite database"),
        (sqlite3.SQLITE_CANTOPEN, errors.NotADatabase, "cannot be opened by SQLite"),
        (sqlite3.SQLITE_PERM, errors.NotADatabase, "cannot be opened by SQLite"),
        (sqlite3.SQLITE_IOERR, errors.NotADatabase, ": SQLite error: "),
    ],
)
def test_each_result_code_has_its_kind(tmp_path: Path, code: int, kind: type, start: str) -> None:
    orig = sqlite3.OperationalError("some message")
    orig.sqlite_errorcode = code  # what the C module sets
    error = translate(DBAPIError("SELECT 1", None, orig), tmp_path / "opencode.db")
    assert type(error) is kind and start in str(error)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("database is locked", errors.DatabaseLocked),
        ("attempt to write a readonly database", errors.DatabaseReadOnly),
        ("file is not a database", errors.NotADatabase),
        ("something else", errors.NotADatabase),
    ],
)
def test_an_error_without_a_code_falls_back_to_its_words(tmp_path: Path, message: str, kind: type) -> None:
    error = translate(DBAPIError("SELECT 1", None, Exception(message)), tmp_path / "opencode.db")
    assert type(error) is kind
    assert kind is errors.DatabaseLocked or message in str(error)

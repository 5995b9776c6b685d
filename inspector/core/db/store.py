"""Open an OpenCode database through SQLite (so WAL content counts) and detect its schema.

Reads use a ``mode=ro`` URI connection: a scan can never change a byte of the file. Only
``open_store(..., write=True)`` (an actual repair or undo) opens read-write, and then every
transaction starts with ``BEGIN IMMEDIATE`` so we hold the write lock before reading what we
compare against.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import quote

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from inspector.core.db import contention
from inspector.core.db.contention import Access
from inspector.core.db.generation import for_schema
from inspector.core.db.locate import empty_beside_legacy, has_legacy_storage
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS
from inspector.core.errors import (
    DatabaseLocked,
    DatabaseNotFound,
    DatabaseReadOnly,
    LegacyStorage,
    NotADatabase,
    OpenCode2xSchema,
    SchemaUnsupported,
)
from inspector.core.model import Schema

if TYPE_CHECKING:
    from inspector.core.db.generation import Generation
    from inspector.core.db.reads import Reads

_V1_TABLES = {"session", "message", "part"}
_LOG_TABLES = {"event", "event_sequence"}
# The 2.x tables whose columns decide what ocinspect may do with the file (``db/v2/shape.py``).
V2_TABLES = frozenset({"session_v2", "session_message", "session_inbox", "event_sequence"})


@dataclass(frozen=True)
class Store:
    """An open database: the engine, its schema generation and the optional columns present."""

    path: Path
    engine: Engine | None
    schema: Schema
    writable: bool
    session_columns: frozenset[str] = frozenset()
    tables: frozenset[str] = frozenset()
    # 2.x: the columns of the tables its reads and writes use, per table (PRAGMA table_info)
    table_columns: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, hash=False)

    def columns_of(self, table: str) -> frozenset[str]:
        return self.table_columns.get(table, frozenset())

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent read transaction (a snapshot across all our queries)."""
        engine = self._need_engine()
        with _translated(self.path), engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Reads]:
        """One read snapshot, asked through the generation's typed reads (nothing above ``db/``
        sees a connection or a row)."""
        generation = self.require_readable()
        with self.read() as conn:
            yield generation.reads(self, conn)

    @contextmanager
    def writer(self) -> Iterator[WriteSession]:
        """One connection for many ``BEGIN IMMEDIATE`` transactions (a run of many units)."""
        if not self.writable:
            raise DatabaseReadOnly(f"{self.path} was opened read-only")
        engine = self._need_engine()
        with _translated(self.path, "write"), engine.connect() as conn:
            yield WriteSession(conn, self.path)

    def require_v1(self, what: str = "") -> None:
        """Only the v1 schema (``what``: the work that is 1.x-only so far, named in the refusal)."""
        if self.schema == "v2" and what and for_schema(self.schema, self.table_columns) is not None:
            raise OpenCode2xSchema(f"{self.path} is an OpenCode 2.x database: {what} works on OpenCode 1.x only so far")
        if self.schema != "v1":
            raise unsupported_error(self)

    def require_readable(self) -> Generation:
        """The generation that diagnoses this file, or the typed refusal saying why none does."""
        generation = for_schema(self.schema, self.table_columns)
        if generation is None:
            raise unsupported_error(self)
        return generation

    def require_writable(self) -> Generation:
        """The generation that repairs this file, or the typed refusal saying why none does: a
        2.x file is written only in the shape proven against the real OpenCode 2.1.2."""
        generation = self.require_readable()
        if self.schema == "v2":
            from inspector.core.db.v2.shape import shape_of

            if not shape_of(self.table_columns).writable:
                raise unsupported_error(self)
        return generation

    def has_session_column(self, name: str) -> bool:
        return name in self.session_columns

    @property
    def has_event_log(self) -> bool:
        """OpenCode ≥ 1.14 ships the sync log tables; only 1.18 writes them (per session)."""
        return _LOG_TABLES <= self.tables

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def _need_engine(self) -> Engine:
        if self.engine is None:
            raise LegacyStorage(f"{self.path} is legacy JSON storage, not a SQLite database")
        return self.engine


class WriteSession:
    """A write connection; ``transaction()`` is one ``BEGIN IMMEDIATE`` … ``COMMIT``."""

    def __init__(self, conn: Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with _translated(self.path, "write"), self.conn.begin():
            yield self.conn


@contextmanager
def _translated(path: Path, access: Access = "read") -> Iterator[None]:
    """Driver errors leave as one of our one-line errors (a lock given up on is counted)."""
    try:
        yield
    except DBAPIError as exc:
        error = translate(exc, path)
        if isinstance(error, DatabaseLocked):
            contention.record_busy(access)
        raise error from None


def _connect_factory(path: Path, *, write: bool, busy_timeout_ms: int) -> Callable[[], sqlite3.Connection]:
    uri = f"file:{quote(str(path.resolve()))}?mode={'rw' if write else 'ro'}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=busy_timeout_ms / 1000,
            isolation_level=None,  # we issue BEGIN ourselves (see the "begin" listener)
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if write:
            conn.execute("PRAGMA foreign_keys = ON")
            # OpenCode itself runs WAL with synchronous=NORMAL: commits are atomic and ordered,
            # durable at the next checkpoint. Our undo journal is fsynced separately, first.
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                conn.execute("PRAGMA synchronous = NORMAL")
        else:
            conn.execute("PRAGMA query_only = ON")
        return conn

    return connect


def make_engine(path: Path, *, write: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """A SQLAlchemy engine on ``path``; no pooling so threads (TUI workers) get own connections."""
    engine = create_engine(
        "sqlite+pysqlite://",
        creator=_connect_factory(path, write=write, busy_timeout_ms=busy_timeout_ms),
        poolclass=NullPool,
    )
    begin_sql = "BEGIN IMMEDIATE" if write else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        started = time.monotonic()
        conn.exec_driver_sql(begin_sql)
        if write:  # the statement only takes the lock: its time is the wait for another writer
            contention.record_wait((time.monotonic() - started) * 1000)

    return engine


# SQLite's companions of a database file: each is opened (and read) beside it.
SIDE_FILES = ("-journal", "-wal", "-shm")


def file_type(mode: int) -> str:
    """What a non-regular file is, in words (for the error line)."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "a special file"


def check_regular(path: Path) -> None:
    """The file and any ``-journal``/``-wal``/``-shm`` beside it must be regular files.

    Opening a FIFO to read waits forever for a writer (SQLite's hot-journal check does the
    same on a FIFO ``-journal``); a device or socket is no database either. ``stat`` cannot
    block, so this runs before anything opens the file.
    """
    for candidate in (path, *(Path(f"{path}{suffix}") for suffix in SIDE_FILES)):
        try:
            mode = candidate.stat().st_mode
        except OSError:
            continue  # missing (or unreachable): the open that follows says so
        if not stat.S_ISREG(mode):
            if candidate == path:
                raise NotADatabase(f"{path} is {file_type(mode)}, not a regular file; an OpenCode database is one")
            raise NotADatabase(
                f"{candidate} beside the database is {file_type(mode)}, not a regular file; SQLite cannot use it"
            )


def check_file(path: Path) -> None:
    """Cheap checks that give one clear sentence before SQLite gives a vague one."""
    if not path.exists():
        raise DatabaseNotFound(f"no such file: {path}")
    if path.is_dir():
        raise NotADatabase(f"{path} is a directory, not an OpenCode database")
    check_regular(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(16)
    except PermissionError:
        raise NotADatabase(f"{path} cannot be read (permission denied)") from None
    except OSError as exc:
        raise NotADatabase(f"{path} cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise NotADatabase(f"{path} is empty, not an OpenCode database")
    if header != b"SQLite format 3\x00":
        raise NotADatabase(f"{path} is not a SQLite database")


def check_writable(path: Path) -> None:
    """A repair needs to write the file and create SQLite's -wal/-journal files beside it."""
    if not os.access(path, os.W_OK):
        raise DatabaseReadOnly(f"{path} is read-only; ocinspect cannot repair it")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise DatabaseReadOnly(f"the directory {path.parent} is read-only; SQLite needs it to write {path.name}")


def open_store(
    path: str | os.PathLike[str],
    *,
    write: bool = False,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
) -> Store:
    """Open and classify a database. Raises an ``InspectorError`` with one clear line on failure."""
    path = Path(path)
    if path.is_dir() and has_legacy_storage(path):
        return Store(path=path, engine=None, schema="legacy", writable=False)
    if empty_beside_legacy(path):
        return Store(path=path.parent, engine=None, schema="legacy", writable=False)
    check_file(path)
    if write:
        check_writable(path)
        roll_back_hot_journal(path, busy_timeout_ms=busy_timeout_ms)
    # Classify through a read-only engine: a write engine's first statement would already
    # take the write lock (BEGIN IMMEDIATE), which a mere look must never do.
    engine = make_engine(path, write=False, busy_timeout_ms=busy_timeout_ms)
    try:
        with engine.connect() as conn:
            tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
            schema = classify(tables, path)
            columns: frozenset[str] = frozenset()
            table_columns: dict[str, frozenset[str]] = {}
            if schema == "v1":
                columns = _columns(conn, "session")
            elif schema == "v2":
                table_columns = {t: _columns(conn, t) for t in sorted(V2_TABLES & tables)}
    except DBAPIError as exc:
        engine.dispose()
        raise translate(exc, path) from None
    except Exception:
        engine.dispose()
        raise
    if write:
        engine.dispose()
        engine = make_engine(path, write=True, busy_timeout_ms=busy_timeout_ms)
    return Store(
        path=path,
        engine=engine,
        schema=schema,
        writable=write,
        session_columns=columns,
        tables=frozenset(tables),
        table_columns=table_columns,
    )


def _columns(conn: Connection, table: str) -> frozenset[str]:
    return frozenset(row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})"))


def roll_back_hot_journal(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> bool:
    """Roll back a hot ``-journal`` left by a process killed mid-transaction (rollback-journal
    databases only), as SQLite does on the first read of any read-write connection — what
    OpenCode does when it next opens the file. Until then a read-only open cannot read it.
    Only for commands about to write; a scan never does this."""
    journal = Path(f"{path}-journal")
    try:
        if journal.stat().st_size == 0:
            return False
    except OSError:
        return False
    check_regular(path)
    check_writable(path)
    conn = None
    try:  # a live writer's journal is not hot: then this just waits for its lock (busy timeout)
        conn = _connect_factory(path, write=True, busy_timeout_ms=busy_timeout_ms)()
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        raise translate(DBAPIError(None, None, exc), path) from None
    finally:
        if conn is not None:
            conn.close()
    return True


def classify(tables: set[str], path: Path) -> Schema:
    """2.x has ``session_v2``; v1 has ``session``+``message``+``part`` and no ``session_v2``.

    1.18.x already ships an empty ``session_message`` table, so that table proves nothing. A 1.x
    database that OpenCode 2 imported in place keeps its v1 rows, but OpenCode 2 reads only its
    own tables from then on: it is a 2.x database.
    """
    if "session_v2" in tables:
        return "v2"  # 1.x never creates it; a 1.x database OpenCode 2 imported keeps its v1 tables too
    if _V1_TABLES <= tables:
        return "v1"
    if not tables:
        raise SchemaUnsupported(f"{path} is an empty SQLite database, not OpenCode's")
    raise SchemaUnsupported(f"{path} is a SQLite database but not OpenCode's (no session/message/part tables)")


def translate(exc: DBAPIError, path: Path) -> Exception:
    """Turn a driver error into one of our one-line errors: by SQLite's result code, or (an
    error that carries none, e.g. raised by a driver layer) by the words of its message."""
    message = str(exc.orig) if exc.orig is not None else str(exc)
    code = getattr(exc.orig, "sqlite_errorcode", None)
    kind = _kind_of_code(code) if isinstance(code, int) else _kind_of_text(message.lower())
    if kind == "rollback":
        return DatabaseReadOnly(
            f"{path} has an unfinished transaction from a process that was killed "
            f"({path.name}-journal); a read-only look cannot roll it back: start OpenCode once "
            "or run 'ocinspect recover', which do"
        )
    if kind == "locked":
        return DatabaseLocked(f"{path} is locked by another process (waited for the busy timeout)")
    if kind == "read-only":
        return DatabaseReadOnly(
            f"{path} is read-only for SQLite (the file, or its directory where the -wal/-shm "
            f"files live, cannot be written) ({message})"
        )
    if kind == "damaged":
        return NotADatabase(f"{path} is damaged or not a SQLite database ({message})")
    if kind == "cannot-open":
        return NotADatabase(f"{path} cannot be opened by SQLite ({message})")
    return NotADatabase(f"{path}: SQLite error: {message}")


def _kind_of_code(code: int) -> str:
    """The class of a SQLite (extended) result code; the low byte is the primary code."""
    if code == sqlite3.SQLITE_READONLY_ROLLBACK:
        return "rollback"
    primary = code & 0xFF
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return "locked"
    if primary == sqlite3.SQLITE_READONLY:
        return "read-only"
    if primary in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT):
        return "damaged"
    if primary in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        return "cannot-open"
    return "other"


def _kind_of_text(lowered: str) -> str:
    """The fallback for errors without a code: the words SQLite's messages use."""
    if "locked" in lowered or "busy" in lowered:
        return "locked"
    if "readonly" in lowered or "read-only" in lowered:
        return "read-only"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return "damaged"
    if "unable to open" in lowered:
        return "cannot-open"
    return "other"


def check_backup_target(dest: Path) -> None:
    """What would keep the backup from being written (checked before anything else is done)."""
    if dest.exists() or dest.is_symlink():
        raise DatabaseReadOnly(f"backup target {dest} already exists; not overwriting it")
    parent = dest.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseReadOnly(f"cannot write the backup {dest} (its directory {parent} is missing or not writable)")


def backup(path: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """A consistent copy through SQLite's backup API (WAL content included), never ``cp``."""
    source_path, dest_path = Path(path), Path(dest)
    check_backup_target(dest_path)
    check_file(source_path)
    engine = make_engine(source_path)
    try:
        with engine.connect() as conn:
            raw = cast(sqlite3.Connection, conn.connection.dbapi_connection)  # pysqlite's own connection
            target = sqlite3.connect(str(dest_path))
            try:
                raw.backup(target)
            finally:
                target.close()
    except DBAPIError as exc:
        raise translate(exc, source_path) from None
    except sqlite3.Error as exc:
        raise DatabaseReadOnly(f"cannot write the backup {dest_path} ({exc})") from None
    finally:
        engine.dispose()
    return dest_path


def unsupported_error(store: Store) -> SchemaUnsupported:
    """The typed error for a store we cannot read (or write) (its ``kind`` says which), with its one line."""
    kind = OpenCode2xSchema if store.schema == "v2" else LegacyStorage
    return kind(unsupported_message(store))


def unsupported_message(store: Store) -> str:
    """Why we cannot diagnose (or write) a store, in one line."""
    if store.schema == "v2":
        from inspector.core.db.v2.shape import shape_of

        imported = " imported from 1.x" if _V1_TABLES <= store.tables else ""
        shape = shape_of(store.table_columns)
        if not shape.readable:
            return f"{store.path} is an OpenCode 2.x database (session_v2){imported}; {shape.message()}"
        why = f"; {shape.message()}" if shape.differs else ""
        return (
            f"{store.path} is an OpenCode 2.x database (session_v2){imported}; ocinspect diagnoses it "
            f"but does not write it{why}"
        )
    empty = " (its opencode.db is an empty file)" if empty_beside_legacy(store.path / "opencode.db") else ""
    return (
        f"{store.path} is legacy OpenCode JSON storage (≤ 1.1){empty}; it has no SQLite database "
        "to diagnose — upgrade OpenCode, which migrates it"
    )

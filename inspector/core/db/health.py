"""The database file's own numbers (sizes, pages, journal mode, integrity) and the one
maintenance write ``doctor --checkpoint`` may do: copy the WAL back into the database.

Every read here is a read-only pragma on a ``mode=ro`` connection, whatever the schema
generation (they describe the file, not OpenCode's tables). A read-only connection never
checkpoints, even when it is the last one to close, so a look leaves the files as they were.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from inspector.core.db.store import check_file, make_engine, translate
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS

QUICK_CHECK_LINES = 20  # what quick_check may say at most (a badly damaged file says thousands)


@dataclass(frozen=True)
class FileSizes:
    """Bytes of the database and its companions (0: the file is not there)."""

    database: int
    wal: int
    shm: int


@dataclass(frozen=True)
class PageStats:
    """What SQLite says about the file's pages; ``integrity`` only when asked (``quick_check``)."""

    journal_mode: str
    page_size: int
    page_count: int
    freelist_count: int
    integrity: tuple[str, ...] | None = None  # ("ok",) when sound

    @property
    def free_bytes(self) -> int:
        return self.freelist_count * self.page_size


@dataclass(frozen=True)
class Checkpointed:
    """What the checkpoint answered: ``busy`` 1 when another connection kept the TRUNCATE from
    finishing; frames in the WAL and frames copied back; the WAL's bytes before and after."""

    busy: int
    log_frames: int
    checkpointed_frames: int
    wal_before: int
    wal_after: int


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def file_sizes(path: Path) -> FileSizes:
    return FileSizes(_size(path), _size(Path(f"{path}-wal")), _size(Path(f"{path}-shm")))


def read_pages(path: Path, *, check: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> PageStats:
    """The pragmas of ``path`` on a read-only connection; ``check``: also ``quick_check``."""
    check_file(path)
    engine = make_engine(path, busy_timeout_ms=busy_timeout_ms)
    try:
        with engine.connect() as conn:

            def pragma(name: str) -> object:
                return conn.execute(text(f"PRAGMA {name}")).scalar()

            integrity: tuple[str, ...] | None = None
            if check:
                rows = conn.execute(text(f"PRAGMA quick_check({QUICK_CHECK_LINES})")).scalars()
                integrity = tuple(str(row) for row in rows)
            return PageStats(
                journal_mode=str(pragma("journal_mode")),
                page_size=int(str(pragma("page_size"))),
                page_count=int(str(pragma("page_count"))),
                freelist_count=int(str(pragma("freelist_count"))),
                integrity=integrity,
            )
    except DBAPIError as exc:
        raise translate(exc, path) from None
    finally:
        engine.dispose()


def checkpoint_truncate(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Checkpointed:
    """Copy every WAL frame into the database and truncate the WAL to 0 bytes.

    No row changes: a checkpoint writes pages the WAL already committed. The connection runs in
    autocommit (a checkpoint cannot run inside a transaction), so it gets no ``BEGIN IMMEDIATE``;
    SQLite takes the checkpointer's and then the writer's lock itself, waiting ``busy_timeout``.
    The caller decides first whether it may run at all (``health/checkpoint.py``).
    """
    check_file(path)
    before = _size(Path(f"{path}-wal"))
    uri = f"file:{quote(str(path.resolve()))}?mode=rw"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        return conn

    engine = create_engine("sqlite+pysqlite://", creator=connect, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            # PASSIVE copies the frames and says how many; TRUNCATE then resets the WAL to 0
            # bytes (and answers 0 frames, the WAL's new length)
            _, log, done = (int(v) for v in conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one())
            busy = int(conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()[0])
    except DBAPIError as exc:
        raise translate(exc, path) from None
    finally:
        engine.dispose()
    return Checkpointed(busy, log, done, before, _size(Path(f"{path}-wal")))

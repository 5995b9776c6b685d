"""Notice when OpenCode writes to the database without opening it: stat the file and its WAL.

A commit in WAL mode appends to ``-wal`` (mtime and size change); a checkpoint or a rollback-mode
commit rewrites the main file. Two ``stat`` calls every couple of seconds cost nothing and hold no
SQLite lock, so OpenCode is never slowed down by an idle ocinspect.
"""

from __future__ import annotations

import os
from pathlib import Path

Signature = tuple[tuple[int, int] | None, ...]


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def file_signature(db_path: Path) -> Signature:
    """(mtime, size) of the database and of its ``-wal`` file; ``None`` for a missing file."""
    return (_stat(db_path), _stat(Path(f"{db_path}-wal")))


def vanished(signature: Signature) -> bool:
    return signature[0] is None

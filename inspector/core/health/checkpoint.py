"""``doctor --checkpoint``: empty a WAL the automatic checkpoint could not, only when nobody
else uses the database.

The guard, in order: the file is a WAL-mode SQLite database ocinspect may write; no OpenCode
process has it open or is set to use it (the same process look as liveness); no other
process holds any of its locks (every SQLite connection in WAL mode holds one on ``-shm``) or
has one of its files open; and this is known for every process (another user's OpenCode that
cannot be looked into refuses it, as does a system without a lock table). Then one
``PRAGMA wal_checkpoint(TRUNCATE)``, which copies committed pages and changes no row.
"""

from __future__ import annotations

import os
from pathlib import Path

from inspector.core.db.health import Checkpointed, checkpoint_truncate, read_pages
from inspector.core.db.locks import read_locks
from inspector.core.db.store import check_file, check_writable
from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS
from inspector.core.errors import CheckpointRefused, NotWalMode
from inspector.core.health.holders import describe, words
from inspector.core.opencode.live import find_processes
from inspector.core.opencode.processes import hidden_detail, same_file


def checkpoint(path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Checkpointed:
    """Run the guarded checkpoint; ``CheckpointRefused`` (exit 3) when anything else may use the file."""
    check_file(path)
    pages = read_pages(path, busy_timeout_ms=busy_timeout_ms)
    if pages.journal_mode.lower() != "wal":
        raise NotWalMode(f"{path} is in {pages.journal_mode} journal mode, not WAL: it has no WAL to checkpoint")
    check_writable(path)
    ensure_unused(path)
    return checkpoint_truncate(path, busy_timeout_ms=busy_timeout_ms)


def ensure_unused(path: Path) -> None:
    """Refuse unless no OpenCode and no other process uses ``path``."""
    import psutil

    try:
        processes, hidden = find_processes(path)
    except (psutil.Error, OSError) as exc:
        raise CheckpointRefused(
            f"cannot tell whether OpenCode uses {path} (could not list processes: {exc})", reason="cannot-tell"
        ) from None
    if processes:
        pids = tuple(p.pid for p in processes)
        named = "; ".join(words(describe(pid)) for pid in pids)
        raise CheckpointRefused(
            f"OpenCode has {path} open ({named}); stop it first: a checkpoint runs only when nothing else "
            "uses the database",
            reason="opencode",
            pids=pids,
        )
    if hidden:
        raise CheckpointRefused(hidden_detail(hidden), reason="cannot-tell", pids=tuple(pid for pid, _ in hidden))
    table = read_locks(path)
    if not table.readable:
        raise CheckpointRefused(
            "cannot tell whether another process writes the database (this system has no /proc/locks)",
            reason="cannot-tell",
        )
    others = sorted((table.pids | _opened_by(path)) - {os.getpid()})
    if others:
        named = "; ".join(words(describe(pid)) for pid in others[:8])
        raise CheckpointRefused(
            f"another process uses {path} ({named}); a checkpoint runs only when nothing else uses the database",
            reason="in-use",
            pids=tuple(others),
        )


def _opened_by(path: Path) -> set[int]:
    """Every process of this user with the database, its WAL or its ``-shm`` open (a rollback-mode
    connection between transactions holds no lock, yet may write at any moment)."""
    import psutil

    db = Path(os.path.realpath(path))
    found: set[int] = set()
    for proc in psutil.process_iter(["pid"]):
        try:
            if any(same_file(f.path, db) for f in proc.open_files()):
                found.add(proc.info["pid"])
        except (psutil.Error, OSError):
            continue
    return found

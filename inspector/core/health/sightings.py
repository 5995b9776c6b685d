"""Since when a write lock has been seen held, across looks (``doctor``, ``scan``, the TUI).

The kernel says who holds a lock, not since when; so each look keeps, under
``$XDG_STATE_HOME/ocinspect/health/``, the holder it saw (pid and start time, so a reused pid is
a new holder) and when it was first seen. A look that sees no lock, or another holder, starts
over. A state file that cannot be read or written costs only the duration ("seen now").
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from inspector.core.ownfiles import NotOwnFile, read_own, replace_file
from inspector.core.paths import state_dir


@dataclass(frozen=True)
class Sighting:
    pid: int
    started: float
    role: str
    first_seen: int  # ms


def _file(database: Path) -> Path:
    key = hashlib.sha256(os.path.realpath(database).encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return state_dir() / "health" / f"{key}.json"


def _load(path: Path) -> Sighting | None:
    try:
        data = json.loads(read_own(path))
        return Sighting(int(data["pid"]), float(data["started"]), str(data["role"]), int(data["first_seen"]))
    except (OSError, NotOwnFile, ValueError, KeyError, TypeError):
        return None


def first_seen(database: Path, seen: Sighting | None) -> int | None:
    """When the holder of ``seen`` was first seen holding the lock (``seen.first_seen`` when it
    is new); forgets the last sighting when ``seen`` is None."""
    path = _file(database)
    kept = _load(path)
    if seen is None:
        if kept is not None:
            try:
                path.unlink()
            except OSError:
                pass
        return None
    if kept is not None and (kept.pid, kept.started, kept.role) == (seen.pid, seen.started, seen.role):
        return min(kept.first_seen, seen.first_seen)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        replace_file(path, json.dumps(seen.__dict__), 0o600)
    except OSError:
        pass
    return seen.first_seen

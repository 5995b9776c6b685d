"""What one app run is configured with: a small frozen value, never global state."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inspector.core.defaults import DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_HUNG_AFTER_MS
from inspector.core.opencode.live import LiveStatus


def wall_clock() -> int:
    """Milliseconds since the epoch, like every time OpenCode stores."""
    return int(time.time() * 1000)


def fixed_clock(now_ms: int) -> Callable[[], int]:
    """A clock stopped at ``now_ms`` (tests and screenshots pin time with it)."""
    return lambda: now_ms


@dataclass(frozen=True)
class AppConfig:
    """``clock`` and ``live`` exist so tests and screenshots can pin time and liveness; the user's
    settings are read only when ``settings_dir`` is given (the CLI gives it, tests a tmp dir)."""

    db_path: Path
    read_only: bool = False
    demo: bool = False
    clock: Callable[[], int] = wall_clock
    live: LiveStatus | None = None
    journal_dir: Path | None = None
    watch_interval: float | None = 2.0
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    hung_after_ms: int = DEFAULT_HUNG_AFTER_MS
    abort_settle_s: float = 10.0  # how long an abort waits for OpenCode to settle
    full: bool = False  # --full: the first view makes a full pass too (else: the changes since the last look)
    opencode_db: Path | None = None  # --db: what "open in OpenCode" hands OpenCode as OPENCODE_DB
    settings_dir: Path | None = None  # theme and keymap files (settings.py); None: none read or saved
    theme: str | None = None  # --theme: this run's theme, over the saved one

    def now(self) -> int:
        return int(self.clock())

    @property
    def first_view_full(self) -> bool:
        """The demo's first view is a full pass too: its database was just built."""
        return self.full or self.demo

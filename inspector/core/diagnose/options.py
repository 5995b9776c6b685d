"""What a scan is asked to do: one frozen value that every entry point (``scan``, ``scan_resumed``,
``full_scan``, ``refresh``, ``scan_related``) takes, instead of the same dozen keywords each.

A field says what it does, and its default is the one a user gets from ``ocinspect scan``
(``core/defaults.py``); a caller that wants less (no hung verdicts) says so in the value.
Nothing here talks to a server: only ``follow_signals`` does, and only when it is given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inspector.core.defaults import DEFAULT_HUNG_AFTER_MS

if TYPE_CHECKING:
    import threading

    from inspector.core.db.ranges import Progress
    from inspector.core.model import LiveStatus
    from inspector.core.opencode.signals import Signals

__all__ = ["DEFAULT_OPTIONS", "ScanOptions"]


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """How to scan. Frozen: a watch keeps one and hands it to every step."""

    # the quick tier only (unfinished turns); the deep tier also walks every tool part
    quick: bool = False
    # only these sessions (through the indexes); None: the whole database
    session_ids: Sequence[str] | None = None
    # the result lists every session, not only the stuck ones
    all_sessions: bool = False
    # read everything: do not resume from the state kept for this file (resume.py)
    full: bool = False
    # a live session nothing of which moved this long is hung; None: no session is ever called hung
    hung_after_ms: int | None = DEFAULT_HUNG_AFTER_MS
    # liveness pinned (tests, screenshots, a watchdog that asked already); None: OpenCode is asked
    live: LiveStatus | None = None
    # watch mode: follow the event stream of every server the liveness answer names and add the
    # progress they saw (a streaming reply writes no row until it ends); None: no subscription
    follow_signals: Signals | None = None
    # the instant every verdict is decided at (ms since the epoch); None: the clock's, at the start
    now: int | None = None
    # set from another thread to stop a full pass between two ranges (it raises ``Cancelled``)
    cancel: threading.Event | None = None
    # told how far a full pass got, per range read
    progress: Progress | None = None
    # seconds since the epoch: dates the kept state's full pass, which outlives the process
    wall_clock: Callable[[], float] = time.time
    # monotonic seconds: when a watch's steps ran (``Watched.full_at``, the refresh policy)
    watch_clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        if self.session_ids is not None and not isinstance(self.session_ids, tuple):
            object.__setattr__(self, "session_ids", tuple(self.session_ids))  # a list stays the caller's


DEFAULT_OPTIONS = ScanOptions()  # the one default value every entry point shares

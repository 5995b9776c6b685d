"""Ctrl-C and SIGTERM end a loop between two looks, without a lock in the signal handler.

A handler that calls ``threading.Event.set`` can hang the process for good: Python runs the
handler in the main thread between two bytecodes, and if the main thread is inside
``Event.wait`` at that moment it holds the event's (non-reentrant) lock, which ``set`` then
waits for forever. ``watch`` did that once in about every thousand SIGTERMs. Here the handler
only sets a flag and writes one byte to a pipe, and the wait is a ``select`` on that pipe.
"""

from __future__ import annotations

import os
import select
import signal
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | None


class SignalStop:
    """Installs handlers for ``signums`` until closed; :meth:`wait` sleeps until one arrives."""

    def __init__(self, signums: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.stopped = False
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        self._previous: list[tuple[int, Handler]] = []
        for signum in signums:
            self._previous.append((signum, signal.signal(signum, self._handle)))

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.stopped = True
        try:
            os.write(self._write, b"\0")
        except (BlockingIOError, OSError):  # the pipe is full (a byte is there already) or closed
            pass

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, less when a signal comes (before or during); True once stopped."""
        if not self.stopped:
            select.select([self._read], [], [], max(0.0, seconds))
        return self.stopped

    def close(self) -> None:
        for signum, previous in reversed(self._previous):
            signal.signal(signum, previous)
        self._previous.clear()
        for fd in (self._read, self._write):
            os.close(fd)

    def __enter__(self) -> SignalStop:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

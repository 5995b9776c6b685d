"""Stopping a long-running ``ocinspect`` (a watch) in a test, and seeing why when it will not stop.

A watch that hangs on SIGTERM failed a CI run once with nothing to go on. Started through
:data:`PYTHON` (``-X faulthandler``: the flag is not inherited by what the watch runs, unlike
``PYTHONFAULTHANDLER``), it prints every thread's stack on SIGABRT; :func:`stop_or_dump` sends
that when SIGTERM was not enough and fails with what it printed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

PYTHON = (sys.executable, "-X", "faulthandler")


def stop_or_dump(proc: subprocess.Popen[Any], timeout: float, stderr: Callable[[], str]) -> int:
    """SIGTERM and wait up to ``timeout``; on a hang, SIGABRT and fail with ``stderr()`` (the stacks)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise AssertionError(f"still running {timeout:g}s after SIGTERM; its threads then:\n{stderr()}") from None

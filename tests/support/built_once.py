"""A template built once per test run, not once per xdist worker.

Big template databases (a 10,000-deep chain, 1,000 stuck units) cost seconds of CPU each; every
xdist worker that runs one of their tests would build its own. The first worker builds it under
an exclusive ``flock`` in the run's shared temporary directory; the others wait for that lock
and reuse the finished file and what the builder returned (pickled). Tests copy the template;
they never write it.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def run_dir(factory: pytest.TempPathFactory) -> Path:
    """The temporary directory every worker of this run shares (this process's own without xdist)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], T]) -> tuple[Path, T]:
    """``build(folder)`` run once per test run (into a fresh folder); every caller gets
    ``(folder, what build returned)``."""
    shared = run_dir(factory) / f"built-once-{name}"
    shared.mkdir(exist_ok=True)
    done = shared / "built.pickle"
    with open(shared / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, even if build raises
        if not done.exists():
            # in the shared folder (no worker's own temp dir, whatever its retention policy);
            # a failed build leaves nothing the next one reuses
            folder = Path(tempfile.mkdtemp(prefix="build-", dir=shared))
            partial = shared / "built.pickle.partial"
            partial.write_bytes(pickle.dumps((str(folder), build(folder))))
            partial.rename(done)
    where, value = pickle.loads(done.read_bytes())
    return Path(where), value

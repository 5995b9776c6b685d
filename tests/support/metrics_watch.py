"""``ocinspect watch --metrics 127.0.0.1:0`` as a separate process (what a service manager runs)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.narrow import present
from tests.support.stopping import PYTHON

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def metrics_watch(db: Path) -> Iterator[tuple[subprocess.Popen[str], str, str]]:
    """Observing only, looking every 100 ms: (the process, the metrics URL it names, the line
    after it, which says what the watch does). Ended with SIGTERM (then SIGKILL) on the way out."""
    proc = subprocess.Popen(
        [
            *PYTHON,
            "-m",
            "inspector",
            "--db",
            str(db),
            "watch",
            "--metrics",
            "127.0.0.1:0",
            "--interval",
            "100ms",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first, second = present(proc.stderr).readline(), present(proc.stderr).readline()
        found = re.match(r"ocinspect: metrics at (http://127\.0\.0\.1:\d+/metrics)$", first.strip())
        assert found, first + second
        yield proc, found.group(1), second
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s: never leave a process behind."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

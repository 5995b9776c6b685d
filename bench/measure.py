"""Running one measured process for the bench: its wall time, exit code, output, its own peak
RSS, bytes read and page faults (through a tiny launcher), shared by ``run.py``'s rows and the
flat rows (``flat_common.py``, ``flat_v2.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Proc:
    wall: float
    rc: int
    stdout: str
    stderr: str
    rss_mb: float
    timed_out: bool = False
    rchar: int | None = None  # bytes read (``/proc/PID/io``), None where not known
    faults: int | None = None  # minor + major page faults


# A tiny launcher between us and the measured command. ``ru_maxrss`` survives ``exec``: a child
# forked straight from this (big) process would report at least our own RSS. The launcher is a
# ``python -S`` of a few MB; it times its child from fork to exit, reads the exited child's
# ``/proc/PID/io`` ``rchar`` (bytes it read, all threads) before reaping it (``WNOWAIT``), then
# its rusage, and writes "wall rss_kb rchar faults" (faults = minor + major page faults: a
# memory-mapped read costs faults instead of ``read`` bytes).
LAUNCHER = textwrap.dedent("""
    import os, sys, time
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[2], sys.argv[2:])
        finally:
            os._exit(127)
    rchar = -1
    if hasattr(os, "waitid"):
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        try:
            with open(f"/proc/{pid}/io") as fh:
                rchar = int(next(l for l in fh if l.startswith("rchar")).split()[1])
        except (OSError, StopIteration, ValueError):
            pass
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - began
    with open(sys.argv[1], "w") as fh:
        fh.write(f"{wall} {usage.ru_maxrss} {rchar} {usage.ru_minflt + usage.ru_majflt}")
    sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
""")


def run_proc(
    cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 900.0, cwd: str | None = None
) -> Proc:
    """Run ``cmd``; wall time, exit code, output and *its own* peak RSS (via the launcher)."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".stat") as stat,
    ):
        proc = subprocess.Popen(
            [sys.executable, "-S", "-c", LAUNCHER, stat.name, *cmd],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass
            proc.wait()
        out.seek(0)
        err.seek(0)
        stat.seek(0)
        fields = stat.read().split()
        wall, rss_kb = (float(fields[0]), int(fields[1])) if len(fields) >= 2 else (float("nan"), 0)
        rchar = int(fields[2]) if len(fields) >= 4 and int(fields[2]) >= 0 else None
        faults = int(fields[3]) if len(fields) >= 4 else None
        if sys.platform == "darwin":
            rss_kb //= 1024  # bytes there
        stderr = err.read().decode("utf-8", "replace")
        if timed_out:
            stderr += f" (killed after {timeout:.0f}s)"
        return Proc(
            wall,
            proc.returncode if not timed_out else -9,
            out.read().decode("utf-8", "replace"),
            stderr,
            rss_kb / 1024,
            timed_out,
            rchar,
            faults,
        )


def tail(text: str, n: int = 200) -> str:
    text = " ".join(text.strip().split())
    return text if len(text) <= n else "…" + text[-n:]


def ocinspect_cmd() -> list[str]:
    """The real console script (not a pyenv shim, whose bash wrapper would add ~50 ms)."""
    script = Path(sys.executable).parent / "ocinspect"
    if script.exists():
        return [str(script)]
    found = shutil.which("ocinspect")
    return [found] if found else [sys.executable, "-m", "inspector"]

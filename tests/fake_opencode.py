"""A process that looks like a running OpenCode to ocinspect: named ``opencode``, the database
open, and a stand-in server (``tests/support/standin.py``) on a loopback port.

End-to-end CLI tests run ``python -m inspector`` in a subprocess, which finds OpenCode the real
way (psutil: a process called ``opencode`` with the file open, its listening ports), so the
stand-in must live in such a process. The process is the Python interpreter started through a
symlink called ``opencode`` (its ``comm`` and ``argv[0]`` then say ``opencode``).

``python -m tests.fake_opencode --db DB --port-file F [--trickle PATH=S] [--huge PATH=BYTES]
[--no-part-writes] [--no-replay-writes] [--version V]``: serves until killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.standin import StandIn

REPO = Path(__file__).resolve().parents[1]


@dataclass
class FakeOpenCode:
    pid: int
    port: int


@contextmanager
def fake_opencode(db: Path, workdir: Path, *args: str) -> Iterator[FakeOpenCode]:
    """Start the fake process on ``db`` (options as on the command line above); stop it after."""
    bindir = workdir / "fake-bin"
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "opencode"
    if not link.exists():
        link.symlink_to(sys.executable)
    port_file = workdir / f"fake-opencode-{time.monotonic_ns()}.port"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENCODE_DB": str(db)}
    proc = subprocess.Popen(
        [str(link), "-m", "tests.fake_opencode", "--db", str(db), "--port-file", str(port_file), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake opencode did not start (exit {proc.poll()})")
            time.sleep(0.05)
        yield FakeOpenCode(pid=proc.pid, port=int(port_file.read_text()))
    finally:
        proc.kill()
        proc.wait(timeout=10)


def _pairs(items: list[str]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in items)


def main() -> None:
    parser = argparse.ArgumentParser(prog="opencode")
    parser.add_argument("--db", required=True, type=Path)
    parser.add_argument("--port-file", required=True, type=Path)
    parser.add_argument("--directory", default="/home/dev/src/webapp")
    parser.add_argument("--version", default="1.18.33")
    parser.add_argument("--trickle", action="append", default=[], help="PATH=SECONDS between two bytes")
    parser.add_argument("--huge", action="append", default=[], help="PATH=BYTES of JSON")
    parser.add_argument("--no-part-writes", action="store_true", help="answer a part's PATCH, write nothing")
    parser.add_argument("--no-replay-writes", action="store_true", help="answer /sync/replay, write nothing")
    args = parser.parse_args()
    held = args.db.open("rb")  # as OpenCode holds its database open: what liveness looks for
    server = StandIn(args.db, directory=args.directory)
    server.version = args.version
    server.trickle = {k: float(v) for k, v in _pairs(args.trickle).items()}
    server.huge = {k: int(v) for k, v in _pairs(args.huge).items()}
    server.parts_write = not args.no_part_writes
    server.replay_writes = not args.no_replay_writes
    server.start()
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.port))
    tmp.replace(args.port_file)
    try:
        signal.pause()
    finally:
        server.stop()
        held.close()


if __name__ == "__main__":
    main()

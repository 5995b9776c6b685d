"""A stand-in OpenCode *process*, for end-to-end CLI tests that need a live OpenCode.

``ocinspect`` finds a live OpenCode by its processes (``opencode/live.py``: a process named
``opencode`` whose ``OPENCODE_DB`` is the database, and its listening loopback ports). This starts
a Python process whose ``argv[0]`` is ``opencode``, with ``OPENCODE_DB`` set, serving
``tests.support.standin.StandIn`` with the busy sessions, statuses and pending requests of a ``Serve``
spec. The ocinspect under test then runs as a separate ``python -m inspector`` and sees it as
OpenCode, as it would see the real binary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_SERVE = """
import json, sys
from pathlib import Path
from tests.support.standin import StandIn

spec = json.loads(sys.argv[1])
server = StandIn(Path(spec["db"]), directory=spec["directory"])
server.busy = set(spec["busy"])
server.statuses = spec["statuses"]
for session, message, call, command in spec["permissions"]:
    server.ask_permission(session, message, call, command)
for session, message, call, question in spec["questions"]:
    server.ask_question(session, message, call, question)
server.start()
print(server.port, flush=True)
sys.stdin.read()  # serve until the test closes our stdin
server.stop()
"""


@dataclass
class Serve:
    """What the stand-in OpenCode answers: busy sessions, their status objects, pending asks."""

    directory: str
    busy: list[str] = field(default_factory=list)
    statuses: dict[str, dict[str, object]] = field(default_factory=dict)
    permissions: list[tuple[str, str, str, str]] = field(default_factory=list)  # session, message, call, command
    questions: list[tuple[str, str, str, str]] = field(default_factory=list)  # session, message, call, question


@contextmanager
def opencode_process(db: Path, serve: Serve) -> Iterator[int]:
    """Run the stand-in OpenCode on ``db`` while the block runs; yields its port."""
    spec = json.dumps({"db": str(db), **asdict(serve)})
    env = dict(os.environ, OPENCODE_DB=str(db), PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        ["opencode", "-c", _SERVE, spec],
        executable=sys.executable,
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip().isdigit(), f"the stand-in OpenCode did not start: {line!r}"
        yield int(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

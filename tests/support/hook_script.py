"""A ``watch --exec`` hook for tests, run as its own program: ``python hook_script.py OUT [--gate FILE]``.

It appends its stdin to ``OUT`` (one JSON line per run) and what it was started with (argv,
environment, stdin) as one JSON line to ``OUT.record``. What it then does depends on the
session title in the JSON it read, so one hook serves a whole scenario:

- a title with ``slow``: starts ``sleep 600`` (a child in its process group), writes both pids to
  ``OUT.pids``, and sleeps (only a timeout ends it);
- a title with ``fails``: says ``boom`` on stderr and exits 1;
- ``--gate FILE``: touches ``OUT.started``, then waits (at most a minute) until ``FILE`` exists.

Only the standard library: nothing of ocinspect is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    out = Path(argv[1])
    line = sys.stdin.read()
    with out.open("a", encoding="utf-8") as f:
        f.write(line)
    record = {"argv": argv, "env": dict(os.environ), "stdin": line}
    with Path(f"{out}.record").open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    if "--gate" in argv:
        gate = Path(argv[argv.index("--gate") + 1])
        Path(f"{out}.started").touch()
        deadline = time.monotonic() + 60
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return 0
    title = str(json.loads(line).get("title") or "")
    if "slow" in title:
        child = subprocess.Popen(["sleep", "600"])
        Path(f"{out}.pids").write_text(f"{os.getpid()} {child.pid}\n", encoding="utf-8")
        time.sleep(600)
    if "fails" in title:
        print("boom", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The harness's own promise about processes: an ``opencode serve`` it started dies with the
test process, however that dies (``kill -9`` of pytest included), instead of keeping its port,
its database and a CPU. Runs without OpenCode: the "binary" is a tiny stand-in server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

from . import harness as h

# Answers every GET with 200 ``{}`` on the ``--port`` it is given: enough for ``wait_ready``.
STAND_IN = """\
import http.server, sys
port = int(sys.argv[sys.argv.index("--port") + 1])
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""

# A test process in miniature: starts the "server" through the harness, says its pid, waits.
PARENT = """\
import sys, time
from pathlib import Path
from tests.e2e import harness as h
model = h.FakeModel().start()
box = h.Sandbox(Path(sys.argv[1]), model, marker=sys.argv[3], git=False)
server = box.start_opencode(Path(sys.argv[2]), boot_timeout=30)
print(server.pid, flush=True)
time.sleep(120)
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_started_server_dies_with_a_killed_test_process(tmp_path: Path) -> None:
    binary = tmp_path / "opencode"
    binary.write_text(f"#!{sys.executable}\n{STAND_IN}")
    binary.chmod(0o755)
    marker = uuid.uuid4().hex
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "box"), str(binary), marker],
        cwd=h.REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(h.REPO_ROOT)},
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert parent.stdout is not None
        server = int(parent.stdout.readline())
        assert not gone(server)
        parent.send_signal(signal.SIGKILL)  # what a killed pytest gets: no teardown runs
        parent.wait(timeout=30)
        h.wait_until(lambda: gone(server), timeout=15, interval=0.05, what=f"server pid {server} to die")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        h.kill_marked(marker)  # only if the test failed: the survivor carries our marker

#!/usr/bin/env python3
"""What following OpenCode 2's live signals costs, beside a real 2.1.2 server (``signals_cost.py`` for v2).

One real ``opencode serve`` 2.1.2 (the e2e harness: isolated home, scripted local model) and one
follower process doing what a watch does each second on a v2 database: the look
(``detect``: ``/api/session/active``, and for each running session its newest message, its
permissions and forms, the running shells), ``Signals.merge`` (one ``GET /api/event`` stream), and
the hung verdicts of the busy sessions (``scan`` of those sessions, ``--hung-after 10m``).
As the watch does, the file's signature decides whether its unfinished turns are read again, and
a look with none asks no server. Measured on the follower (user + system CPU seconds from /proc), in windows of ``--seconds``:

1. **idle**: the server runs, no session is busy (the stream sends only heartbeats);
2. **events**: one healthy reply streams ``FAST_RATE`` words a second (a ``session.text.delta``
   each; no row moves while it streams);
3. **busy**: and a shell prints a line a second (its output file moves; the looks ask its
   newest message, permissions, forms and the shells, and re-read the busy rows).

    python bench/v2_signals_cost.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import signals_cost  # noqa: E402
from bench.signals_cost import window  # noqa: E402
from inspector.core.opencode.client import Credentials, ServerClient, ServerError  # noqa: E402
from tests.e2e import harness as h  # noqa: E402
from tests.e2e.v2 import harness_v2 as v2  # noqa: E402


def follow(db: str, interval: float) -> None:
    """The follower: a watch's looks on a v2 database, until SIGTERM."""
    from inspector.core.db.filewatch import file_signature
    from inspector.core.db.store import open_store
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.diagnose.scan import scan
    from inspector.core.opencode.live import detect
    from inspector.core.opencode.signals import Signals

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    store = open_store(db)
    signals = Signals()
    signature, candidates = None, False
    while not stop.is_set():
        now = file_signature(Path(db))
        if now != signature:  # as the watch keeps its candidates: SQL only when the file changed
            with store.reading() as reads:
                candidates = bool(reads.open_turns())
            signature = now
        if not candidates:  # no unfinished turn: nothing to ask a server about
            stop.wait(interval)
            continue
        live = signals.merge(detect(db, schema="v2"))
        if live.busy:
            options = ScanOptions(session_ids=sorted(live.busy), quick=True, live=live, hung_after_ms=600_000)
            scan(store, options)
        stop.wait(interval)
    signals.close()


class Counter(signals_cost.Counter):
    """Counts the events of the server's ``/api/event`` (a subscription of its own)."""

    def __init__(self, port: int) -> None:
        super().__init__(port, "")

    def _run(self, port: int, directory: str) -> None:
        client = ServerClient(port, credentials=Credentials("opencode", v2.PASSWORD))
        try:
            for _ in client.events(path="/api/event", read_timeout=300):
                if self._stop.is_set():
                    return
                self.count += 1
        except (ServerError, OSError, ValueError):
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--follow", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.follow:
        follow(args.follow, args.interval)
        return 0
    seconds = min(args.seconds, (h.FAST_SECONDS - 15) / 2)
    binary = v2.ensure_opencode_v2()
    with (
        tempfile.TemporaryDirectory(prefix="ocinspect-v2sigcost-") as tmp,
        h.FakeModel() as model,
        v2.sandboxed(Path(tmp), model, binary) as sb,
    ):
        server = sb.start_plain()
        v2.finish_turn(sb, server, server.open_session(sb.project), v2.TEXT)
        env = sb.ocinspect_env()
        env["OPENCODE_SERVER_PASSWORD"] = v2.PASSWORD
        cmd = [sys.executable, str(Path(__file__).resolve()), "--follow", str(sb.db_path)]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        follower = psutil.Process(proc.pid)
        counter = Counter(server.port)
        time.sleep(5)  # start-up (imports, the first look) is not the following's cost
        idle_cpu, idle_events = window(follower, counter, seconds)
        fast = server.open_session(sb.project)
        server.prompt(fast, "FAST please")
        time.sleep(3)
        fast_cpu, fast_events = window(follower, counter, seconds)
        stream = server.open_session(sb.project)
        server.prompt(stream, "STREAM it")
        time.sleep(3)
        busy_cpu, busy_events = window(follower, counter, seconds)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        counter.stop()
    print(f"a v2 watch's looks and event stream beside opencode {v2.V2_VERSION}, windows of {seconds:.0f} s")
    rows = (
        ("idle server", idle_cpu, idle_events),
        ("a fast reply streaming (events, no row moves)", fast_cpu, fast_events),
        ("+ a shell printing every second", busy_cpu, busy_events),
    )
    signals_cost.report(rows, seconds, "v2")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What following OpenCode's event stream costs: ``ocinspect watch`` CPU beside a real server.

One real ``opencode serve`` (the e2e harness: isolated home, scripted local model) and one
``ocinspect watch --abort-hung-after 10m --json`` process following it. Measured on the watch
process (user + system CPU seconds from /proc, so the load of the machine does not count), in
windows of ``--seconds`` each, in one run:

1. **idle**: the server runs, no session is busy (the stream sends only heartbeats);
2. **events**: one healthy reply streams ``FAST_RATE`` words a second (a delta event each; no
   row moves while it streams, so the watch's looks cost nothing: this is the subscription);
3. **busy**: and a bash prints a line a second (rows move: the looks re-read the busy chains).

Printed: CPU seconds per minute for each window, the events the server sent meanwhile (counted
by a second, independent subscription), and busy/idle as a ratio. Needs the OpenCode binary
(installed by the e2e harness from npm into its cache).

    python bench/signals_cost.py [--seconds 60]
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

from inspector.core.opencode.client import ServerClient, ServerError  # noqa: E402
from tests.e2e import harness as h  # noqa: E402


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


class Counter:
    """Counts the events of one directory's stream (a subscription of its own)."""

    def __init__(self, port: int, directory: str) -> None:
        self.count = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, args=(port, directory), daemon=True).start()

    def _run(self, port: int, directory: str) -> None:
        try:
            for _ in ServerClient(port).events(directory=directory, read_timeout=300):
                if self._stop.is_set():
                    return
                self.count += 1
        except (ServerError, OSError, ValueError):
            return

    def stop(self) -> None:
        self._stop.set()


def window(watch: psutil.Process, counter: Counter, seconds: float) -> tuple[float, int]:
    cpu0, events0 = cpu_s(watch), counter.count
    time.sleep(seconds)
    return cpu_s(watch) - cpu0, counter.count - events0


def report(rows: tuple[tuple[str, float, int], ...], seconds: float, key: str) -> None:
    """The windows (idle, a fast reply, busy) per minute, and one ``key_…=`` line to compare runs."""
    per_min = 60.0 / seconds
    for label, cpu, events in rows:
        print(f"  {label:<48} {cpu * per_min:6.2f} CPU-s/min  {events * per_min:8.0f} events/min")
    (_, idle_cpu, idle_events), (_, fast_cpu, fast_events), (_, busy_cpu, busy_events) = rows
    per_k = (fast_cpu - idle_cpu) / (fast_events - idle_events) * 1000 if fast_events > idle_events else float("nan")
    print(f"  subscription: {per_k:.3f} CPU-s per 1,000 events (fast reply window minus idle)")
    print(
        f"{key}_idle_cpu_per_min={idle_cpu * per_min:.3f} {key}_events_cpu_per_min={fast_cpu * per_min:.3f} "
        f"{key}_busy_cpu_per_min={busy_cpu * per_min:.3f} events_per_min={busy_events * per_min:.0f} "
        f"cpu_s_per_1000_events={per_k:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    seconds = min(args.seconds, (h.FAST_SECONDS - 15) / 2)
    binary = h.ensure_opencode()
    with tempfile.TemporaryDirectory(prefix="ocinspect-sigcost-") as tmp, h.FakeModel() as model:
        sb = h.Sandbox(Path(tmp), model)
        try:
            oc = sb.start_opencode(binary)
            warm = oc.create_session()  # so the database exists and the watch finds the server
            oc.prompt_async(warm, "TEXT hello")
            oc.wait_turn_complete(warm, timeout=60)
            cmd = [
                sys.executable,
                "-m",
                "inspector",
                "--db",
                str(sb.db_path),
                "watch",
                "--abort-hung-after",
                "10m",
                "--json",
            ]
            proc = subprocess.Popen(
                cmd,
                cwd=REPO,
                env=sb.ocinspect_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            watch = psutil.Process(proc.pid)
            counter = Counter(oc.port, str(sb.project))
            time.sleep(5)  # start-up (imports, first scan) is not the subscription's cost
            idle_cpu, idle_events = window(watch, counter, seconds)
            fast = oc.create_session()
            oc.prompt_async(fast, "FAST please")
            time.sleep(3)
            fast_cpu, fast_events = window(watch, counter, seconds)
            stream = oc.create_session()
            oc.prompt_async(stream, "STREAM it")
            time.sleep(3)
            busy_cpu, busy_events = window(watch, counter, seconds)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            counter.stop()
            for sid in (fast, stream):
                oc.request("POST", f"/session/{sid}/abort")
        finally:
            sb.kill_all()
    print(
        f"ocinspect watch beside opencode {h.OPENCODE_VERSION}, windows of {seconds:.0f} s "
        f"(CPU = user+system of the watch process)"
    )
    rows = (
        ("idle server", idle_cpu, idle_events),
        ("a fast reply streaming (events, no row moves)", fast_cpu, fast_events),
        ("+ a bash printing every second (rows move too)", busy_cpu, busy_events),
    )
    report(rows, seconds, "watch")
    return 0


if __name__ == "__main__":
    sys.exit(main())

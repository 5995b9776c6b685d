#!/usr/bin/env python3
"""What ``watch --metrics`` costs: ``ocinspect watch`` CPU beside a busy writer, with and without.

Two ``ocinspect watch --abort-hung-after 10m`` processes in turn on one WAL-mode database (a
small ``make_db.py`` file unless ``--db`` names one, always on a copy), each while a second
process (``busy_writer.py work``) plays one agent turn, committing a part row every 0.5 s for
``--seconds``: **plain** (today's watch) and **metrics** (``--metrics 127.0.0.1:0``, scraped
once a second as Prometheus would). Measured on the watch process: user + system CPU seconds
(``/proc``, all threads, the scrapes' too) over the writer's window; alternated ``--reps`` times,
minimums compared. Budget: the watch's CPU beside a busy writer
(``watch_busy_cpu_s`` in ``bench/README.md``: ≤ 0.5 CPU-s per 20 s).

    python bench/metrics_cost.py [--seconds 20] [--reps 2] [--db FILE]

Last line: ``watch_plain_cpu_s=<s> watch_metrics_cpu_s=<s> metrics/plain=<r>``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUDGET_CPU_S_PER_20S = 0.5


def cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def small_db(dest: Path) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "make_db.py"), "--size", "0.05", "--out", str(dest)],
        check=True,
        capture_output=True,
    )


def fresh_copy(source: Path, dest: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        src.execute("VACUUM INTO ?", (str(dest),))
    finally:
        src.close()
    with sqlite3.connect(dest) as conn:  # like OpenCode's own file
        conn.execute("PRAGMA journal_mode=WAL").fetchall()


def scraper(url: str, stop: threading.Event, count: list[int]) -> None:
    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                answer.read()
        except OSError:  # the watch stopping under a scrape in flight
            return
        count[0] += 1


def one(db: Path, seconds: float, metrics: bool) -> tuple[float, int, int]:
    """(watch CPU-s over the writer's window, writer commits, scrapes)."""
    cmd = [sys.executable, "-m", "inspector", "--db", str(db), "watch", "--abort-hung-after", "10m"]
    if metrics:
        cmd += ["--metrics", "127.0.0.1:0"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    watch = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stop, scrapes = threading.Event(), [0]
    try:
        assert watch.stderr is not None
        if metrics:
            found = re.search(r"metrics at (\S+)", watch.stderr.readline())
            assert found, "watch --metrics did not say where"
            threading.Thread(target=scraper, args=(found.group(1), stop, scrapes), daemon=True).start()
        watch.stderr.readline()  # "watching ...": it has opened the database
        time.sleep(2.0)  # start-up and the first full pass are not what is measured
        proc = psutil.Process(watch.pid)
        before = cpu_s(proc)
        writer = subprocess.run(
            [
                sys.executable,
                str(HERE / "busy_writer.py"),
                str(db),
                "work",
                "--seconds",
                str(seconds),
                "--every",
                "0.5",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        used = cpu_s(proc) - before
        return used, len(writer.stdout.splitlines()), scrapes[0]
    finally:
        stop.set()
        watch.terminate()
        try:
            watch.wait(timeout=15)
        except subprocess.TimeoutExpired:
            watch.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--db", type=Path, default=None, help="a v1 database to copy (default: a small make_db.py file)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ocinspect-metrics-cost-") as tmp:
        source = args.db or Path(tmp) / "source.db"
        if args.db is None:
            small_db(source)
        print(f"load average at start: {os.getloadavg()[0]:.2f}; database {source.stat().st_size / 1e6:.0f} MB")
        runs: dict[str, list[float]] = {"plain": [], "metrics": []}
        for _ in range(args.reps):
            for kind in ("plain", "metrics"):
                copy = Path(tmp) / "watched.db"
                fresh_copy(source, copy)
                used, commits, scrapes = one(copy, args.seconds, kind == "metrics")
                runs[kind].append(used)
                print(f"  {kind:8} {used:.3f} CPU-s over {args.seconds:g} s ({commits} commits, {scrapes} scrapes)")
        shutil.rmtree(tmp, ignore_errors=True)
    plain, metrics = min(runs["plain"]), min(runs["metrics"])
    budget = BUDGET_CPU_S_PER_20S * args.seconds / 20
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"watch, writer every 0.5 s    plain {plain:.3f} CPU-s   with --metrics {metrics:.3f} CPU-s")
    verdict = "PASS" if metrics <= budget else "FAIL"
    print(f"budget {budget:.2f} CPU-s per {args.seconds:g} s: {verdict}")
    ratio = f"{metrics / plain:.2f}" if plain > 0 else "n/a"
    print(f"watch_plain_cpu_s={plain:.3f} watch_metrics_cpu_s={metrics:.3f} metrics/plain={ratio}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""ocinspect performance benchmark: everything measured side by side on the same file, one run.

Rows (see bench/README.md): the ``sqlite3`` CLI baseline (every SQL variant of baseline.py, the
fastest correct one is the reference), the naive Python loader, ``ocinspect scan`` / ``scan
--quick`` as processes, the core scan in-process, the TUI's first paint / stuck list / refresh
when nothing changed, the TUI in watch mode beside a second process writing (CPU, latency),
``recover --all`` of 1,000 stuck sessions on a copy, and peak RSS on the default and on a 4×
smaller database.

Timings are wall clock, best (min) and median of ``--reps`` repetitions; ratios use the minimums.
Targets are reported PASS/FAIL, never asserted. A row whose code is missing or broken prints
``n/a (reason)`` and the run goes on. The last line is machine-readable::

    quick/baseline=<r> scan/baseline=<r> naive/scan=<r> rss_mb=<n> first_paint_s=<s> recover1000_s=<s>
    watch_busy_cpu_s=<s> watch_idle_cpu_s=<s> watch_stuck_shown_s=<s> watch_done_gone_s=<s>
    start_s=<s> timeline_ms=<ms> timeline/fullscan=<r>
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baseline as bl  # noqa: E402
import flat_v2  # noqa: E402
import make_db  # noqa: E402
from flat_common import FLAT_KEYS, flat_copy, flat_json, flat_row, healthy_rows, print_flat_table  # noqa: E402
from measure import ocinspect_cmd, run_proc, tail  # noqa: E402

OUT = HERE / "out"
DEFAULT_DB = OUT / "opencode-bench.db"
ROWS = (
    "variants",
    "baseline",
    "naive",
    "scan",
    "core",
    "timeline",
    "tui",
    "watch",
    "recover",
    "start",
    "rss_small",
    "flat",
    "flat_v2",
)
TARGETS = {
    # key: (label, comparison, limit)
    "quick/baseline": ("scan --quick (process) / baseline", "<=", 0.25),
    "scan/baseline": ("scan (deep, process) / baseline", "<=", 1.2),
    "naive/scan": ("naive Python / scan (deep)", ">=", 10.0),
    "rss_mb": ("peak RSS of scan, MB", "<=", 150.0),
    "first_paint_s": ("TUI first paint, s", "<=", 0.3),
    "refresh_unchanged_ms": ("TUI refresh when unchanged, ms", "<=", 10.0),
    "recover1000_s": ("recover --all of 1,000 sessions, s", "<=", 2.0),
    "watch_busy_cpu_s": ("TUI CPU-s, a writer commits every 0.5 s, 20 s", "<=", 0.5),
    "watch_idle_cpu_s": ("TUI CPU-s idle, per 10 s", "<=", 0.1),
    "watch_stuck_shown_s": ("new stuck tool part on screen after, s (worst)", "<=", 3.0),
    "watch_done_gone_s": ("completed part off the list after, s (worst)", "<=", 3.0),
    "start_s": ("ocinspect run -- true, healthy database, s", "<=", 1.0),
    "timeline_ms": ("timeline of a stuck session (core, worst of 20), ms", "<=", 50.0),
    "timeline/fullscan": ("timeline / the same rows by a table pass", "<=", 0.01),
    # issue 19 (the ``flat`` row): 4× database against 1×, watermarks kept across processes
    "run_work_4x": ("run -- true healthy: bytes read 4×/1×", "<=", 1.15),
    "run_faults_4x": ("run -- true healthy: page faults 4×/1×", "<=", 1.15),
    "run_time_4x": ("run -- true healthy: time 4×/1×", "<=", 1.2),
    "quick_work_4x": ("scan --quick healthy: bytes read 4×/1×", "<=", 1.15),
    "quick_faults_4x": ("scan --quick healthy: page faults 4×/1×", "<=", 1.15),
    "quick_time_4x": ("scan --quick healthy: time 4×/1×", "<=", 1.2),
    "second_read_4x": ("second scan --json on 4×: bytes read / file size", "<=", 0.10),
    "second/baseline_4x": ("second scan --json on 4× / sqlite3 baseline on 4×", "<=", 0.2),
    "first/baseline_4x": ("first (full) scan --json on 4× / sqlite3 baseline on 4×", "<=", 0.8),
    "flat_rss_4x_mb": ("peak RSS of any flat row on 4×, MB", "<=", 150.0),
    # the ``flat_v2`` row: the same on OpenCode 2.1.2 databases (bench/flat_v2.py)
    "v2_run_work_4x": ("v2 run -- true healthy: bytes read 4×/1×", "<=", 1.15),
    "v2_run_faults_4x": ("v2 run -- true healthy: page faults 4×/1×", "<=", 1.15),
    "v2_run_time_4x": ("v2 run -- true healthy: time 4×/1×", "<=", 1.2),
    "v2_quick_work_4x": ("v2 scan --quick healthy: bytes read 4×/1×", "<=", 1.15),
    "v2_quick_faults_4x": ("v2 scan --quick healthy: page faults 4×/1×", "<=", 1.15),
    "v2_quick_time_4x": ("v2 scan --quick healthy: time 4×/1×", "<=", 1.2),
    "v2_deep_work_4x": ("v2 scan (deep) healthy, resumed: bytes read 4×/1×", "<=", 1.15),
    "v2_deep_time_4x": ("v2 scan (deep) healthy, resumed: time 4×/1×", "<=", 1.2),
    "v2_flat_rss_4x_mb": ("peak RSS of any v2 flat row on 4×, MB", "<=", 150.0),
}


FLAT_V2_TARGETS = frozenset(k for k in TARGETS if k.startswith("v2_"))
FLAT_TARGETS = frozenset(k for k in TARGETS if (k.endswith("_4x") or k.endswith("_4x_mb")) and k not in FLAT_V2_TARGETS)


# ------------------------------------------------------------------------------ rows' results
@dataclass
class Row:
    name: str
    times: list[float] = field(default_factory=list)
    note: str = ""
    check: str = ""
    na: str | None = None
    rss_mb: float | None = None
    unit: str = "s"

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times and self.na is None else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.na is None else None


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    if unit == "ms":
        return f"{value:.3f}"
    return f"{value:.3f}" if value < 100 else f"{value:.1f}"


# ------------------------------------------------------------------------------ database
def ensure_db(path: Path, *, size: float, seed: int, stuck: int | None, rebuild: bool) -> dict[str, Any]:
    """Build ``path`` unless it exists with the same parameters; return its manifest."""
    manifest_file = make_db.manifest_path(path)
    want_stuck = make_db.default_stuck(size) if stuck is None else stuck
    if path.exists() and manifest_file.exists() and not rebuild:
        manifest = json.loads(manifest_file.read_text())
        params = manifest.get("params", {})
        if (params.get("size"), params.get("seed"), params.get("stuck")) == (size, seed, want_stuck):
            return manifest
        print(f"{path.name}: manifest says {params}, wanted size={size} seed={seed} stuck={want_stuck}: rebuilding")
    print(f"building {path} (size {size}, seed {seed}) …", flush=True)
    began = time.perf_counter()
    manifest = make_db.build(path, size=size, stuck=want_stuck, seed=seed)
    print(f"built in {time.perf_counter() - began:.1f}s", flush=True)
    return manifest


def sql_exec(db: Path, sql: str) -> str:
    """The same SQL through Python's sqlite3 module (``kind|id`` lines), for checks."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "\n".join("|".join(str(v) for v in row) for row in conn.execute(sql.rstrip().rstrip(";")))
    finally:
        conn.close()


# ------------------------------------------------------------------------------ rows
class Bench:
    def __init__(self, args: argparse.Namespace, db: Path, manifest: dict[str, Any]) -> None:
        self.args = args
        self.db = db
        self.manifest = manifest
        self.expected = bl.expected_from_manifest(manifest)
        self.rows: list[Row] = []
        self.metrics: dict[str, float | None] = {}
        self.notes: dict[str, str] = {}
        self.sqlite_cli = shutil.which("sqlite3")
        self.tmp = Path(tempfile.mkdtemp(prefix="ocbench-", dir=args.tmp_dir))
        self.flat_v2_results: dict[str, Any] | None = None  # the flat_v2 row's, for --json

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        print(
            f"  {row.name:<46} {'n/a (' + row.na + ')' if row.na else fmt(row.best, row.unit) + ' ' + row.unit}"
            f"{'  ' + row.check if row.check else ''}",
            flush=True,
        )
        return row

    def check_found(self, found: dict[str, set[str]], kinds: tuple[str, ...] = ("part", "message", "session")) -> str:
        bad = [k for k in kinds if found.get(k, set()) != self.expected[k]]
        if not bad:
            return "correct (" + ", ".join(f"{len(self.expected[k])} {k}s" for k in kinds) + ")"
        return "WRONG: " + "; ".join(
            f"{k}: found {len(found.get(k, set()))}, expected {len(self.expected[k])}, "
            f"missing {len(self.expected[k] - found.get(k, set()))}, extra {len(found.get(k, set()) - self.expected[k])}"
            for k in bad
        )

    # -- 1. baseline ----------------------------------------------------------------------
    def baseline(self) -> None:
        names = list(bl.VARIANTS) if "variants" in self.args.rows else [bl.BASELINE]
        cli = self.sqlite_cli
        where = "sqlite3 CLI" if cli else "Python sqlite3 module (no sqlite3 CLI on PATH)"
        print(f"[1] baseline: minimal detection SQL via {where}")
        # warm the page cache with one untimed pass
        self._sql_run(bl.BASELINE_SQL)
        results: dict[str, Row] = {}
        for name in names:
            sql = bl.VARIANTS[name]
            row = Row(f"baseline[{name}]")
            found = None
            for _ in range(self.args.reps):
                wall, text, err = self._sql_run(sql)
                if err:
                    row.na = tail(err)
                    break
                row.times.append(wall)
                found = bl.parse_rows(text)
            if found is not None and row.na is None:
                row.check = self.check_found(found)
            results[name] = row
            self.add(row)
        correct = {n: r for n, r in results.items() if r.best is not None and r.check.startswith("correct")}
        if not correct:
            self.metrics["baseline_s"] = None
            self.notes["baseline"] = "no baseline variant ran correctly"
            return
        name = min(correct, key=lambda n: correct[n].best)  # type: ignore[arg-type,return-value]
        chosen = correct[name]
        self.metrics["baseline_s"] = chosen.best
        self.notes["baseline"] = f"fastest correct variant: {name}"
        base = Row("baseline (fastest correct)", list(chosen.times), check=chosen.check, note=name)
        self.add(base)

    def _sql_run(self, sql: str) -> tuple[float, str, str]:
        if self.sqlite_cli:
            p = run_proc([self.sqlite_cli, str(self.db), sql])
            return p.wall, p.stdout, p.stderr if p.rc else ""
        began = time.perf_counter()
        try:
            text = sql_exec(self.db, sql)
        except sqlite3.Error as exc:
            return time.perf_counter() - began, "", str(exc)
        return time.perf_counter() - began, text, ""

    # -- 2. naive -------------------------------------------------------------------------
    NAIVE = textwrap.dedent("""
        import json, sqlite3, sys
        conn = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
        found = {"part": [], "message": [], "session": []}
        for row in conn.execute("SELECT * FROM message"):
            data = json.loads(row[-1])
            if data.get("role") == "assistant" and (data.get("time") or {}).get("completed") is None:
                found["message"].append(row[0])
        for row in conn.execute("SELECT * FROM part"):
            data = json.loads(row[-1])
            if data.get("type") == "tool" and (data.get("state") or {}).get("status") in ("pending", "running"):
                found["part"].append(row[0])
        found["session"] = [r[0] for r in conn.execute("SELECT id FROM session WHERE time_compacting IS NOT NULL")]
        print(json.dumps(found))
    """)

    def naive(self) -> None:
        print("[2] naive: every message/part row through json.loads in Python")
        row = Row("naive python (sqlite3 + json.loads)")
        for _ in range(self.args.naive_reps):
            p = run_proc([sys.executable, "-c", self.NAIVE, str(self.db)])
            if p.rc:
                row.na = tail(p.stderr)
                break
            row.times.append(p.wall)
            row.rss_mb = max(row.rss_mb or 0, p.rss_mb)
            found = {k: set(v) for k, v in json.loads(p.stdout).items()}
            row.check = self.check_found(found) + f", rss {p.rss_mb:.0f} MB"
        self.add(row)
        self.metrics["naive_s"] = row.best

    # -- 3. ocinspect scan ------------------------------------------------------------------
    def scan_found(self, payload: dict[str, Any]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {"part": set(), "message": set(), "session": set()}
        for s in payload.get("sessions", []):
            if s.get("verdict", "stale") == "ok":
                continue
            found["session"].add(s.get("id"))
            found["message"].update(s.get("unfinished_messages") or [])
            for part in s.get("stuck_parts") or []:
                found["part"].add(part.get("id") if isinstance(part, dict) else part)
        return found

    def scan_process(
        self,
        quick: bool,
        db: Path | None = None,
        label: str | None = None,
        reps: int | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> Row:
        db = db or self.db
        manifest = manifest or self.manifest
        expected = bl.expected_from_manifest(manifest)
        # --full: these rows measure the full pass (the watermarks' resumed scans: the flat row)
        cmd = [*ocinspect_cmd(), "--db", str(db), "scan", "--json", "--full", *(["--quick"] if quick else [])]
        row = Row(label or f"ocinspect scan{' --quick' if quick else ''} --json")
        for _ in range(reps or self.args.reps):
            p = run_proc(cmd)
            if p.rc not in (0, 1):
                row.na = f"exit {p.rc}: {tail(p.stderr)}"
                break
            try:
                payload = json.loads(p.stdout)
            except ValueError:
                row.na = f"output is not JSON: {tail(p.stdout or p.stderr)}"
                break
            row.times.append(p.wall)
            row.rss_mb = max(row.rss_mb or 0, p.rss_mb)
            found = self.scan_found(payload)
            stuck_sessions = set(manifest["stuck_sessions"])
            if quick:
                # the quick tier finds unfinished turns (+ compaction); parts-in-finished-turn
                # need the deep tier
                missing = {
                    s["session_id"] for s in manifest["stuck"] if s["pattern"] != "parts-in-finished-turn"
                } - found["session"]
                extra = found["session"] - stuck_sessions
                row.check = (
                    f"{len(found['session'])} sessions, missing {len(missing)} of the "
                    f"unfinished-turn ones, extra {len(extra)}"
                )
            else:
                sess = set(found["session"])
                found["session"] = expected["session"]
                bad = [k for k in ("part", "message") if found[k] != expected[k]]
                row.check = (
                    f"correct ({len(expected['part'])} parts, {len(expected['message'])} messages)"
                    if not bad
                    else "WRONG: " + ", ".join(f"{k}s found {len(found[k])}, expected {len(expected[k])}" for k in bad)
                )
                row.check += (
                    ", sessions match"
                    if sess == stuck_sessions
                    else f", sessions {len(sess)} vs {len(stuck_sessions)} expected"
                )
            row.check += f"; rss {row.rss_mb:.0f} MB"
        return self.add(row)

    def scans(self) -> None:
        print("[3] ocinspect scan as a process (includes Python start-up and imports), and the core in-process")
        deep = self.scan_process(False)
        quick = self.scan_process(True)
        self.metrics["scan_s"] = deep.best
        self.metrics["quick_s"] = quick.best
        rss = [r.rss_mb for r in (deep, quick) if r.rss_mb is not None and r.na is None]
        self.metrics["rss_mb"] = max(rss) if rss else None
        if "core" in self.args.rows:
            self.core()

    CORE = textwrap.dedent("""
        import inspect, json, resource, sys, time
        began = time.perf_counter()
        from inspector.core.db.store import open_store
        from inspector.core.diagnose.options import ScanOptions
        from inspector.core.diagnose.scan import scan
        imported = time.perf_counter() - began
        db, quick, reps = sys.argv[1], sys.argv[2] == "quick", int(sys.argv[3])
        times, result = [], None
        for _ in range(reps):
            t = time.perf_counter()
            store = open_store(db)
            try:
                result = scan(store, ScanOptions(quick=quick))
            finally:
                store.dispose()
            times.append(time.perf_counter() - t)
        sessions = [d for d in result.sessions if getattr(d, "verdict", "stale") != "ok"]
        print(json.dumps({
            "times": times, "import_s": imported,
            "sessions": [d.session.id for d in sessions],
            "parts": [p.id for d in sessions for p in getattr(d, "stuck_parts", ())],
            "messages": [m.id for d in sessions for m in getattr(d, "unfinished_messages", ())],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }))
    """)

    def core(self) -> None:
        for quick in (False, True):
            row = Row(f"core scan(quick={quick}) in-process")
            p = run_proc(
                [sys.executable, "-c", self.CORE, str(self.db), "quick" if quick else "deep", str(self.args.reps)]
            )
            if p.rc:
                row.na = tail(p.stderr)
            else:
                data = json.loads(p.stdout)
                row.times = data["times"]
                row.rss_mb = data["rss_mb"]
                found = {
                    "part": set(data["parts"]),
                    "message": set(data["messages"]),
                    "session": self.expected["session"],
                }
                row.check = (
                    self.check_found(found, ("part", "message"))
                    if not quick
                    else f"{len(set(data['sessions']))} sessions"
                ) + (f"; imports {data['import_s']:.2f}s, rss {data['rss_mb']:.0f} MB")
            self.add(row)
            self.metrics[f"core_{'quick' if quick else 'deep'}_s"] = row.best

    # -- 3b. the turn's story (issue 20 §1) ----------------------------------------------------
    # read_timeline (store open included) for up to 20 stuck sessions, the one with the most
    # messages among them included; the reference is the same session's message and part rows
    # found by a table pass (NOT INDEXED), i.e. what the story would cost without its indexes.
    TIMELINE = textwrap.dedent("""
        import json, sqlite3, sys, time
        from inspector.core.db.store import open_store
        from inspector.core.diagnose.timeline import read_timeline
        db, reps, sessions = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        sizes = {s: conn.execute("SELECT count(*) FROM message WHERE session_id = ?", (s,)).fetchone()[0]
                 for s in sessions}
        worst = max(sessions, key=lambda s: sizes[s])
        read_timeline(open_store(db), worst)  # warm imports and the page cache once, untimed
        per_session, entries = {}, 0
        for sid in sessions:
            best = None
            for _ in range(reps):
                t = time.perf_counter()
                store = open_store(db)
                try:
                    story = read_timeline(store, sid)
                finally:
                    store.dispose()
                elapsed = time.perf_counter() - t
                best = elapsed if best is None else min(best, elapsed)
            per_session[sid] = best
            entries += sum(len(s.entries) for s in story.sessions)
        t = time.perf_counter()
        conn.execute("SELECT count(*), sum(length(data)) FROM message NOT INDEXED WHERE session_id = ?", (worst,)).fetchone()
        conn.execute("SELECT count(*), sum(length(data)) FROM part NOT INDEXED WHERE session_id = ?", (worst,)).fetchone()
        scan = time.perf_counter() - t
        print(json.dumps({"per_session": per_session, "worst": worst, "worst_messages": sizes[worst],
                          "entries": entries, "fullscan_s": scan}))
    """)

    def timeline(self) -> None:
        print("[3b] the turn's story: core read_timeline of stuck sessions (indexes only) vs a table pass")
        sessions = list(self.manifest["stuck_sessions"])[:20]
        row = Row("timeline open (core, per stuck session)", unit="ms")
        base = Row("same session's rows by table pass (NOT INDEXED)", unit="ms")
        if not sessions:
            row.na = base.na = "no stuck session in the manifest"
            self.add(row)
            return
        p = run_proc([sys.executable, "-c", self.TIMELINE, str(self.db), str(self.args.reps), json.dumps(sessions)])
        if p.rc:
            row.na = base.na = tail(p.stderr)
        else:
            data = json.loads(p.stdout)
            row.times = [v * 1000 for v in data["per_session"].values()]
            row.check = (
                f"{len(sessions)} sessions, {data['entries']} entries; worst {max(row.times):.2f} ms, "
                f"the biggest ({data['worst_messages']} messages) "
                f"{data['per_session'][data['worst']] * 1000:.2f} ms"
            )
            base.times = [data["fullscan_s"] * 1000]
            base.check = f"{data['worst_messages']} messages' session"
            self.metrics["timeline_ms"] = max(row.times)
            self.metrics["timeline_biggest_ms"] = data["per_session"][data["worst"]] * 1000
            self.metrics["timeline_fullscan_ms"] = base.times[0]
        self.add(row)
        self.add(base)

    # -- 4/5. TUI ---------------------------------------------------------------------------
    TUI = textwrap.dedent("""
        import asyncio, json, sys, time
        from pathlib import Path
        began = time.perf_counter()
        from inspector.tui.app import make_app
        from inspector.tui.config import AppConfig
        from textual.widgets import DataTable
        imported = time.perf_counter() - began
        db, timeout, spawned = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
        out = {"import_s": imported}

        def rows(app):
            try:
                return sum(t.row_count for t in app.screen.query(DataTable))
            except Exception:
                return 0

        async def settle(app, since, key):
            while time.perf_counter() - since < timeout:
                if app.scan_result is not None and not app.scanning and not getattr(app, "deep_pending", False):
                    out[key] = time.perf_counter() - since
                    return True
                await asyncio.sleep(0.002)
            return False

        async def main():
            t0 = time.perf_counter()
            app = make_app(AppConfig(db))
            async with app.run_test(size=(160, 48)) as pilot:
                out["first_paint_s"] = time.perf_counter() - t0
                out["first_paint_from_spawn_s"] = time.time() - spawned
                while time.perf_counter() - t0 < timeout:
                    if app.scan_result is not None and rows(app) > 0:
                        out["stuck_list_s"] = time.perf_counter() - t0
                        out["rows"] = rows(app)
                        break
                    await asyncio.sleep(0.002)
                await settle(app, t0, "deep_done_s")
                await pilot.pause()
                poll = getattr(app, "_poll_database", None)
                if poll is None:
                    out["refresh_na"] = "the app has no _poll_database()"
                else:
                    times = []
                    for _ in range(50):
                        t = time.perf_counter()
                        poll()
                        times.append(time.perf_counter() - t)
                        if app.scanning:
                            out["refresh_na"] = "an unchanged database started a rescan"
                            break
                        await asyncio.sleep(0)
                    out["refresh_unchanged_ms"] = [x * 1000 for x in times]
                t1 = time.perf_counter()
                app.action_refresh()
                await asyncio.sleep(0.01)
                await settle(app, t1, "rescan_s")
                await app.workers.wait_for_complete()
        asyncio.run(main())
        print(json.dumps(out))
    """)

    def tui(self) -> None:
        print("[4] TUI (headless run_test): first paint, stuck list shown; [5] refresh when nothing changed")
        p = run_proc(
            [sys.executable, "-c", self.TUI, str(self.db), str(self.args.tui_timeout), repr(time.time())],
            timeout=self.args.tui_timeout + 60,
        )
        reason = None
        if p.rc:
            reason = tail(p.stderr)
        else:
            try:
                data = json.loads(p.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                reason = f"no result: {tail(p.stdout + p.stderr)}"
        if reason:
            for name in ("TUI first paint", "TUI stuck list shown", "TUI refresh when unchanged"):
                self.add(Row(name, na=reason))
            self.metrics["first_paint_s"] = self.metrics["refresh_unchanged_ms"] = None
            return
        self.add(
            Row(
                "TUI first paint (make_app → run_test ready)",
                [data["first_paint_s"]],
                check=f"imports {data['import_s']:.2f}s before this",
            )
        )
        self.metrics["first_paint_s"] = data["first_paint_s"]
        self.metrics["first_paint_from_spawn_s"] = data.get("first_paint_from_spawn_s")
        if data.get("first_paint_from_spawn_s"):
            self.add(
                Row(
                    "TUI first paint from process start",
                    [data["first_paint_from_spawn_s"]],
                    check="interpreter start + imports + the above",
                )
            )
        shown = data.get("stuck_list_s")
        self.add(
            Row(
                "TUI stuck list shown",
                [shown] if shown else [],
                na=None if shown else "no rows appeared before the timeout",
                check=f"{data.get('rows', 0)} rows",
            )
        )
        self.metrics["stuck_list_s"] = shown
        if data.get("deep_done_s"):
            self.add(Row("TUI deep scan finished", [data["deep_done_s"]]))
        ms = data.get("refresh_unchanged_ms")
        na = data.get("refresh_na")
        self.add(
            Row(
                "TUI refresh when unchanged (watch poll)",
                ms or [],
                unit="ms",
                na=na if na or not ms else None,
                check=f"{len(ms or [])} polls, no rescan started" if ms and not na else "",
            )
        )
        self.metrics["refresh_unchanged_ms"] = min(ms) if ms and not na else None
        if data.get("rescan_s"):
            self.add(Row("TUI forced refresh (ctrl+r, full rescan)", [data["rescan_s"]]))

    # -- 5b. watch mode beside a working OpenCode ----------------------------------------------
    WATCH = textwrap.dedent("""
        import asyncio, json, resource, subprocess, sys, time
        from pathlib import Path
        from inspector.tui.app import make_app
        from inspector.tui.config import AppConfig
        db, writer, seconds, every, idle, rounds = (Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]),
                                                     float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
        out = {}

        def cpu():
            u = resource.getrusage(resource.RUSAGE_SELF)
            return u.ru_utime + u.ru_stime

        def shown(app):
            r = app.scan_result
            return {p.id for d in r.stuck for p in d.stuck_parts} if r else set()

        def write(*args):
            done = subprocess.run([sys.executable, writer, str(db), *args], capture_output=True, text=True,
                                  check=True)
            return [json.loads(line) for line in done.stdout.splitlines()]

        async def until(app, condition, timeout=30.0):
            began = time.time()
            while time.time() - began < timeout:
                if condition():
                    return time.time()
                await asyncio.sleep(0.005)
            return None

        async def main():
            app = make_app(AppConfig(db))  # defaults, as users run it: 2 s watch poll, real liveness check
            async with app.run_test(size=(160, 48)):
                await until(app, lambda: app.scan_result is not None and not app.scanning and
                            not app.deep_pending and app.scans.watched is not None, 300)
                full_at = app.scans.watched.full_at
                await asyncio.sleep(1.0)
                c = cpu(); await asyncio.sleep(idle); out["idle_cpu_s"] = cpu() - c
                c = cpu()
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, writer, str(db), "work", "--seconds", str(seconds), "--every", str(every),
                    stdout=asyncio.subprocess.PIPE)
                lines = await proc.stdout.read()
                await proc.wait()
                out["busy_cpu_s"] = cpu() - c
                out["busy_commits"] = len(lines.splitlines())
                out["stuck_shown_s"], out["done_gone_s"] = [], []
                for n in range(rounds):
                    await asyncio.sleep(0.7 * n % 2.0)  # land at different points of the poll cycle
                    part = f"prt_fffffffffff{n}bz000000000001"
                    (commit,) = write("stuck", "--part", part)
                    seen = await until(app, lambda: part in shown(app))
                    out["stuck_shown_s"].append(None if seen is None else seen - commit["at"])
                    await asyncio.sleep(0.3 * n % 1.0)
                    (commit,) = write("complete", "--part", part)
                    gone = await until(app, lambda: part not in shown(app))
                    out["done_gone_s"].append(None if gone is None else gone - commit["at"])
                out["full_scans"] = 0 if app.scans.watched.full_at == full_at else 1
        asyncio.run(main())
        print(json.dumps(out))
    """)

    def watch(self) -> None:
        print("[5b] watch mode: TUI CPU idle and while a second process commits, latency of changes on screen")
        copy = self.tmp / "watch.db"
        names = (
            f"TUI CPU idle ({self.args.watch_idle:g} s)",
            f"TUI CPU, writer every 0.5 s for {self.args.watch_seconds:g} s",
            "stuck tool part on screen after",
            "completed part leaves the list after",
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        began = time.perf_counter()
        self.vacuum_copy(copy)
        with sqlite3.connect(copy) as conn:  # like OpenCode's own file
            conn.execute("PRAGMA journal_mode=WAL").fetchall()
        prep = time.perf_counter() - began
        args = self.args
        p = run_proc(
            [
                sys.executable,
                "-c",
                self.WATCH,
                str(copy),
                str(HERE / "busy_writer.py"),
                str(args.watch_seconds),
                "0.5",
                str(args.watch_idle),
                str(args.watch_rounds),
            ],
            timeout=900,
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        try:
            data = json.loads(p.stdout.strip().splitlines()[-1]) if not p.rc else None
        except (ValueError, IndexError):
            data = None
        if data is None:
            for name in names:
                self.add(Row(name, na=f"exit {p.rc}: {tail(p.stderr or p.stdout)}"))
            return
        full = " (a full deep scan ran: the watch was not incremental)" if data["full_scans"] else ""
        self.add(Row(names[0], [data["idle_cpu_s"]], unit="CPU-s", check=f"copy of the bench DB ({prep:.0f}s to make)"))
        self.add(
            Row(
                names[1],
                [data["busy_cpu_s"]],
                unit="CPU-s",
                check=f"{data['busy_commits']} commits by a second process{full}",
            )
        )
        for name, key in ((names[2], "stuck_shown_s"), (names[3], "done_gone_s")):
            times = data[key]
            missed = sum(1 for t in times if t is None)
            row = Row(
                name,
                [t for t in times if t is not None],
                na=f"{missed} of {len(times)} never shown within 30 s" if missed else None,
                check=f"{len(times)} rounds, worst {max(t for t in times if t is not None):.2f}s" if not missed else "",
            )
            self.add(row)
        self.metrics["watch_idle_cpu_s"] = data["idle_cpu_s"]
        self.metrics["watch_busy_cpu_s"] = data["busy_cpu_s"]
        for key, metric in (("stuck_shown_s", "watch_stuck_shown_s"), ("done_gone_s", "watch_done_gone_s")):
            times = data[key]
            self.metrics[metric] = None if any(t is None for t in times) else max(times)

    # -- 6. recover -------------------------------------------------------------------------
    def vacuum_copy(self, dest: Path) -> None:
        """A consistent single-file copy of the bench database (WAL content included)."""
        src = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            src.execute("VACUUM INTO ?", (str(dest),))
        finally:
            src.close()

    def start(self) -> None:
        """``ocinspect run`` in front of every OpenCode start: what it adds on a healthy database
        (the copy the recover row repaired, or a fresh copy repaired here)."""
        print("[7] ocinspect run -- true on a healthy copy of the database (a clean start)")
        copy = self.tmp / "recover.db"
        env = dict(os.environ, XDG_STATE_HOME=str(self.tmp / "state"))
        if not copy.exists():
            self.vacuum_copy(copy)
            run_proc([*ocinspect_cmd(), "--db", str(copy), "recover", "--all", "--yes", "--force", "--json"], env=env)
        for deep in (False, True):
            row = Row(f"ocinspect run{' --deep' if deep else ''} -- true (healthy database)")
            for _ in range(self.args.reps):
                p = run_proc(
                    [*ocinspect_cmd(), "--db", str(copy), "run", *(["--deep"] if deep else []), "--", "true"], env=env
                )
                if p.rc != 0 or p.stderr.strip():
                    row.na = f"exit {p.rc}: {tail(p.stderr)}"
                    break
                row.times.append(p.wall)
            row.check = "nothing to recover, nothing said" if not row.na else ""
            self.add(row)
            self.metrics["start_deep_s" if deep else "start_s"] = row.best

    def recover(self) -> None:
        target = self.args.recover_n
        print(f"[6] recover --all of {target} stuck sessions on a VACUUM INTO copy, journal in a temp XDG_STATE_HOME")
        copy = self.tmp / "recover.db"
        row = Row(f"ocinspect recover --all ({target} sessions)")
        times, checks, total = [], [], 0
        for _ in range(self.args.recover_reps):
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            began = time.perf_counter()
            self.vacuum_copy(copy)
            existing = set(self.manifest["stuck_sessions"])
            injected = make_db.inject_crash_orphans(copy, max(0, target - len(existing)), exclude=existing)
            with sqlite3.connect(copy) as conn:  # like OpenCode's own file
                conn.execute("PRAGMA journal_mode=WAL").fetchall()
            total = len(existing) + len(injected)
            prep = time.perf_counter() - began
            env = dict(os.environ, XDG_STATE_HOME=str(self.tmp / "state"))
            p = run_proc(
                [*ocinspect_cmd(), "--db", str(copy), "recover", "--all", "--yes", "--force", "--json"], env=env
            )
            if p.rc not in (0, 1):
                row.na = f"exit {p.rc}: {tail(p.stderr)}"
                break
            try:
                result = json.loads(p.stdout)
            except ValueError:
                row.na = f"output is not JSON: {tail(p.stdout or p.stderr)}"
                break
            times.append(p.wall)
            row.name = f"ocinspect recover --all ({total} sessions)"
            left = bl.parse_rows(sql_exec(copy, bl.BASELINE_SQL))
            remaining = sum(len(v) for v in left.values())
            checks.append(
                f"{len(result.get('sessions', []))}/{total} sessions recovered, "
                f"{result.get('parts_repaired')} parts, {result.get('messages_completed')} turns; "
                f"{'nothing stuck left' if not remaining else f'{remaining} rows still stuck!'}; "
                f"copy+inject {prep:.1f}s"
            )
            row.rss_mb = max(row.rss_mb or 0, p.rss_mb)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
        row.times = times
        row.check = checks[-1] if checks else ""
        self.add(row)
        self.metrics["recover1000_s"] = row.best
        self.metrics["recover_sessions"] = float(total) if times else None

    # -- 7. RSS on a 4× smaller database ----------------------------------------------------
    def rss_small(self) -> None:
        size = self.args.size / 4
        path = self.db.with_name(f"{self.db.stem}-quarter.db")
        print(f"[7] peak RSS on a 4× smaller database (size {size:g})")
        small = ensure_db(path, size=size, seed=self.args.seed, stuck=None, rebuild=self.args.rebuild)
        mb = path.stat().st_size / 1e6
        reps = max(1, self.args.reps // 2)
        deep = self.scan_process(False, db=path, label=f"scan on ¼ DB ({mb:.0f} MB)", reps=reps, manifest=small)
        quick = self.scan_process(True, db=path, label=f"scan --quick on ¼ DB ({mb:.0f} MB)", reps=reps, manifest=small)
        rss = [r.rss_mb for r in (deep, quick) if r.rss_mb is not None and r.na is None]
        self.metrics["rss_small_mb"] = max(rss) if rss else None

    # -- 8. flat in database size (issue 19) -----------------------------------------------
    def flat(self) -> None:
        """Issue 19: the same rows on the 1× database and on a 4× one, on page copies (the
        backup API), each with its own $XDG_STATE_HOME: the full pass (``--full``) and the
        resumed one (the kept watermarks), bytes read, page faults, RSS; the sqlite3 baselines."""
        size4 = self.args.size * 4
        db4 = (self.args.db4 or OUT / "opencode-4x.db").resolve()
        print(f"[8] flat in database size (issue 19): 1× = {self.db.name}, 4× = {db4.name} (size {size4:g})")
        began = time.perf_counter()
        manifest4 = ensure_db(db4, size=size4, seed=self.args.seed, stuck=None, rebuild=False)
        if time.perf_counter() - began > 5:
            self.notes["flat_build_4x"] = f"4× database built in {time.perf_counter() - began:.0f} s"
        elif manifest4.get("build_seconds"):
            self.notes["flat_build_4x"] = f"4× database was built earlier in {manifest4['build_seconds']:.0f} s"
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for label, db, manifest in (("1×", self.db, self.manifest), ("4×", db4, manifest4)):
            copy, env, oc, size_bytes = flat_copy(self.tmp, "flat", label, db)
            rows: dict[str, dict[str, Any]] = {"file": {"bytes": size_bytes}}
            sql = [self.sqlite_cli, str(copy)] if self.sqlite_cli else None
            if sql:
                run_proc([*sql, bl.BASELINE_SQL])  # the copy's pages into the cache, untimed
                rows["baseline"] = flat_row(
                    self.args.reps,
                    f"sqlite3 baseline ({bl.BASELINE}, deep findings)",
                    [*sql, bl.BASELINE_SQL],
                    env,
                    ok=(0,),
                )
                rows["quick_sql"] = flat_row(
                    self.args.reps, "sqlite3 quick tier SQL (unfinished turns)", [*sql, bl.QUICK_SQL], env, ok=(0,)
                )
            rows["scan_full"] = flat_row(
                self.args.reps, "scan --json --full (first: full pass)", [*oc, "scan", "--json", "--full"], env
            )
            rows["scan_resumed"] = flat_row(
                self.args.reps, "scan --json (second: resumed)", [*oc, "scan", "--json"], env
            )
            checks = []
            for key in ("scan_full", "scan_resumed"):
                if "stdout" in rows[key]:
                    checks.append(
                        self.check_found(self.scan_found(json.loads(rows[key]["stdout"])), ("part", "message"))
                        if manifest is self.manifest
                        else self._check_manifest(json.loads(rows[key]["stdout"]), manifest)
                    )
            same = (
                "stdout" in rows["scan_full"]
                and "stdout" in rows["scan_resumed"]
                and flat_json(rows["scan_full"]["stdout"]) == flat_json(rows["scan_resumed"]["stdout"])
            )
            rows["scan_resumed"]["check"] = (
                ("same JSON as the full pass" if same else "DIFFERENT from the full pass") + "; " + "; ".join(checks)
            )
            # the TUI's first view: with no kept state (a full pass), then resuming from the scans' state
            rows["tui_full"] = self._flat_tui(copy, dict(env, XDG_STATE_HOME=str(self.tmp / f"state-{label[0]}x-none")))
            rows["tui_resumed"] = self._flat_tui(copy, env)
            # healthy: recover everything once (untimed; it replaces the write token: the next look is full)
            run_proc([*oc, "recover", "--all", "--yes", "--force", "--json"], env=env)
            left = bl.parse_rows(sql_exec(copy, bl.BASELINE_SQL))
            healthy = not (left["part"] or left["message"])
            rows.update(healthy_rows(self.args.reps, oc, env))
            for key in ("run_full", "run_resumed"):
                if rows[key].get("stderr", "").strip():
                    rows[key]["check"] = f"said: {tail(rows[key]['stderr'])}"
            rows["run_resumed"].setdefault("check", "healthy, nothing said" if healthy else "NOT healthy after recover")
            same = (
                "stdout" in rows["quick_full"]
                and "stdout" in rows["quick_resumed"]
                and flat_json(rows["quick_full"]["stdout"]) == flat_json(rows["quick_resumed"]["stdout"])
            )
            rows["quick_resumed"]["check"] = "same JSON as the full pass" if same else "DIFFERENT from the full pass"
            results[label] = rows
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
        self._flat_table(results)

    def _check_manifest(self, payload: dict[str, Any], manifest: dict[str, Any]) -> str:
        expected = bl.expected_from_manifest(manifest)
        found = self.scan_found(payload)
        bad = [k for k in ("part", "message") if found[k] != expected[k]]
        return (
            f"correct ({len(expected['part'])} parts, {len(expected['message'])} messages)"
            if not bad
            else "WRONG: " + ", ".join(f"{k}s found {len(found[k])}, expected {len(expected[k])}" for k in bad)
        )

    def _flat_tui(self, db: Path, env: dict[str, str]) -> dict[str, Any]:
        """The TUI (headless, the ``tui`` row's probe): when the stuck list is shown, when the
        deep view is done."""
        p = run_proc(
            [sys.executable, "-c", self.TUI, str(db), str(self.args.tui_timeout), repr(time.time())],
            env=env,
            timeout=self.args.tui_timeout + 60,
        )
        try:
            data = json.loads(p.stdout.strip().splitlines()[-1]) if not p.rc else None
        except (ValueError, IndexError):
            data = None
        if data is None:
            return {"na": tail(p.stderr or p.stdout)}
        return {
            "stuck_list_s": data.get("stuck_list_s"),
            "deep_done_s": data.get("deep_done_s"),
            "rows": data.get("rows", 0),
        }

    def _flat_tui_table(self, one: dict[str, dict[str, Any]], four: dict[str, dict[str, Any]]) -> None:
        print()
        print(f"{'TUI first view (headless)':<48} {'1× s':>7} {'4× s':>7} {'4×/1×':>6}")
        for key, label in (("tui_full", "no kept state (full pass)"), ("tui_resumed", "from the kept state")):
            a, b = one.get(key, {}), four.get(key, {})
            if "na" in a or "na" in b:
                print(f"  {label}: n/a ({a.get('na') or b.get('na')})")
                continue
            for metric, what in (("stuck_list_s", "stuck list shown"), ("deep_done_s", "deep view done")):
                x, y = a.get(metric), b.get(metric)
                r = f"{y / x:6.2f}" if x and y else "     —"
                print(f"{what + ', ' + label:<48} {x or 0:>7.3f} {y or 0:>7.3f} {r}")
                self.metrics[f"{key}_{metric}_4x"] = y
        m = self.metrics
        one_r, four_r = one.get("tui_resumed", {}), four.get("tui_resumed", {})
        if one_r.get("deep_done_s") and four_r.get("deep_done_s"):
            m["tui_deep_resumed_4x_over_1x"] = four_r["deep_done_s"] / one_r["deep_done_s"]

    def _flat_table(self, results: dict[str, dict[str, dict[str, Any]]]) -> None:
        one, four = results.get("1×", {}), results.get("4×", {})
        ratio = print_flat_table(
            "flat (issue 19)",
            FLAT_KEYS,
            results,
            ("scan_full", "scan_resumed", "quick_full", "quick_resumed", "run_resumed"),
        )
        self._flat_tui_table(one, four)
        m = self.metrics
        m["run_work_4x"], m["run_faults_4x"], m["run_time_4x"] = (
            ratio("run_resumed", "rchar"),
            ratio("run_resumed", "faults"),
            ratio("run_resumed", "time"),
        )
        m["quick_work_4x"], m["quick_faults_4x"], m["quick_time_4x"] = (
            ratio("quick_resumed", "rchar"),
            ratio("quick_resumed", "faults"),
            ratio("quick_resumed", "time"),
        )
        second, first, base4 = (
            four.get("scan_resumed", {}),
            four.get("scan_full", {}),
            four.get("baseline", {}).get("time"),
        )
        size4 = four.get("file", {}).get("bytes")
        m["second_read_4x"] = second["rchar"] / size4 if second.get("rchar") is not None and size4 else None
        m["second/baseline_4x"] = second["time"] / base4 if second.get("time") and base4 else None
        m["first/baseline_4x"] = first["time"] / base4 if first.get("time") and base4 else None
        rss = [
            r.get("rss_mb") for k, r in four.items() if k not in ("file", "baseline", "quick_sql") and r.get("rss_mb")
        ]
        m["flat_rss_4x_mb"] = max(rss) if rss else None
        self.flat_results = {
            label: {k: {f: v for f, v in r.items() if f not in ("stdout", "stderr")} for k, r in rows.items()}
            for label, rows in results.items()
        }

    # -- summary ----------------------------------------------------------------------------
    def ratio(self, a: str, b: str) -> float | None:
        x, y = self.metrics.get(a), self.metrics.get(b)
        return x / y if x is not None and y else None

    def summary(self) -> str:
        m = self.metrics
        values = {
            "quick/baseline": self.ratio("quick_s", "baseline_s"),
            "scan/baseline": self.ratio("scan_s", "baseline_s"),
            "naive/scan": self.ratio("naive_s", "scan_s"),
            "rss_mb": m.get("rss_mb"),
            "first_paint_s": m.get("first_paint_s"),
            "refresh_unchanged_ms": m.get("refresh_unchanged_ms"),
            "recover1000_s": m.get("recover1000_s"),
            "watch_busy_cpu_s": m.get("watch_busy_cpu_s"),
            "watch_idle_cpu_s": m.get("watch_idle_cpu_s"),
            "watch_stuck_shown_s": m.get("watch_stuck_shown_s"),
            "watch_done_gone_s": m.get("watch_done_gone_s"),
            "start_s": m.get("start_s"),
            "timeline_ms": m.get("timeline_ms"),
            "timeline/fullscan": self.ratio("timeline_biggest_ms", "timeline_fullscan_ms"),
            **{
                k: m.get(k)
                for k in (
                    "run_work_4x",
                    "run_faults_4x",
                    "run_time_4x",
                    "quick_work_4x",
                    "quick_faults_4x",
                    "quick_time_4x",
                    "second_read_4x",
                    "second/baseline_4x",
                    "first/baseline_4x",
                    "flat_rss_4x_mb",
                    *FLAT_V2_TARGETS,
                )
            },
        }
        print()
        print(f"{'row':<46} {'min':>9} {'median':>9} {'reps':>4}  check / note")
        print("-" * 120)
        for row in self.rows:
            if row.na:
                print(f"{row.name:<46} {'n/a':>9} {'':>9} {'':>4}  ({row.na})")
            else:
                print(
                    f"{row.name:<46} {fmt(row.best, row.unit):>9} {fmt(row.median, row.unit):>9} "
                    f"{len(row.times):>4}  {row.unit} {row.check}{' [' + row.note + ']' if row.note else ''}"
                )
        print()
        print(f"{'target':<60} {'value':>9} {'goal':>9}  result")
        print("-" * 80)
        for key, (label, op, limit) in TARGETS.items():
            v = values[key]
            if v is None:
                verdict = "n/a"
            else:
                ok = v <= limit if op == "<=" else v >= limit
                verdict = "PASS" if ok else "FAIL"
            if v is None and key in FLAT_TARGETS and "flat" not in self.args.rows:
                continue  # the flat row did not run: its targets would only be n/a lines
            if v is None and key in FLAT_V2_TARGETS and "flat_v2" not in self.args.rows:
                continue
            print(f"{label + ' [' + key + ']':<60} {fmt(v):>9} {op + ' ' + format(limit, 'g'):>9}  {verdict}")
        if m.get("rss_small_mb") is not None:
            print(f"{'peak RSS of scan on the ¼ DB, MB':<60} {m['rss_small_mb']:>9.0f}")
        for key, note in self.notes.items():
            print(f"note: {key}: {note}")
        n = m.get("recover_sessions")
        if n is not None and n != 1000:
            print(f"note: the recover row recovered {n:.0f} sessions, not 1,000")

        def show(v: float | None, digits: int) -> str:
            return "n/a" if v is None else f"{v:.{digits}f}"

        return (
            f"quick/baseline={show(values['quick/baseline'], 3)} scan/baseline={show(values['scan/baseline'], 3)} "
            f"naive/scan={show(values['naive/scan'], 1)} rss_mb={show(values['rss_mb'], 0)} "
            f"first_paint_s={show(values['first_paint_s'], 3)} recover1000_s={show(values['recover1000_s'], 3)} "
            f"watch_busy_cpu_s={show(values['watch_busy_cpu_s'], 3)} watch_idle_cpu_s={show(values['watch_idle_cpu_s'], 3)} "
            f"watch_stuck_shown_s={show(values['watch_stuck_shown_s'], 2)} "
            f"watch_done_gone_s={show(values['watch_done_gone_s'], 2)} start_s={show(values['start_s'], 3)} "
            f"timeline_ms={show(values['timeline_ms'], 2)} timeline/fullscan={show(values['timeline/fullscan'], 4)}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, help=f"benchmark database (default {DEFAULT_DB}, built if missing)")
    ap.add_argument("--size", type=float, default=None, help="size to build (default 1; --smoke: 0.005)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stuck", type=int, default=None, help="stuck incidents to plant when building")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the database(s) even if present")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per row (default 5; --smoke: 1)")
    ap.add_argument("--naive-reps", type=int, default=None, help="repetitions of the naive row (default 2)")
    ap.add_argument("--recover-reps", type=int, default=1, help="repetitions of the recover row (each on a fresh copy)")
    ap.add_argument("--recover-n", type=int, default=1000, help="stuck sessions to recover (default 1000)")
    ap.add_argument("--tui-timeout", type=float, default=120.0)
    ap.add_argument("--watch-rounds", type=int, default=None, help="stuck/complete latency rounds (default 5)")
    ap.add_argument("--watch-seconds", type=float, default=None, help="how long the writer works (default 20)")
    ap.add_argument("--watch-idle", type=float, default=None, help="idle CPU window (default 10)")
    ap.add_argument("--only", help=f"comma-separated rows to run, of: {','.join(ROWS)}")
    ap.add_argument("--skip", default="", help="comma-separated rows to skip")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny temp DB, 1 repetition, skips the heavy rows (¼-DB RSS); for tests"
    )
    ap.add_argument("--json", type=Path, help="also write every measurement to this JSON file")
    ap.add_argument("--tmp-dir", default=None, help="where the recover copy goes (default: system temp)")
    ap.add_argument(
        "--db4",
        type=Path,
        default=None,
        help="the flat row's 4× database (default bench/out/opencode-4x.db, built at 4 × --size if missing)",
    )
    ap.add_argument(
        "--db-v2",
        type=Path,
        default=None,
        help="the flat_v2 row's 1× OpenCode 2.1.2 database (default bench/out/opencode-v2-1x.db, built at --size)",
    )
    ap.add_argument(
        "--db4-v2",
        type=Path,
        default=None,
        help="the flat_v2 row's 4× database (default bench/out/opencode-v2-4x.db, built at 4 × --size)",
    )
    args = ap.parse_args(argv)
    if args.smoke:
        args.size = args.size or 0.005
        args.reps = args.reps or 1
        args.naive_reps = args.naive_reps or 1
        if args.recover_n == 1000:
            args.recover_n = 20
        args.watch_rounds = args.watch_rounds or 1
        args.watch_seconds = args.watch_seconds or 2.0
        args.watch_idle = args.watch_idle or 1.0
    args.size = args.size or 1.0
    args.reps = args.reps or 5
    args.naive_reps = args.naive_reps or 2
    args.watch_rounds = args.watch_rounds or 5
    args.watch_seconds = args.watch_seconds or 20.0
    args.watch_idle = args.watch_idle or 10.0
    rows = set(args.only.split(",")) if args.only else set(ROWS)
    rows -= set(filter(None, args.skip.split(",")))
    if args.smoke:
        rows.discard("rss_small")
    if not args.only:
        rows.discard("flat")  # builds a 4× database (~6.6 GB at the default size): ask for it
        rows.discard("flat_v2")  # builds two OpenCode 2 databases (1× and 4×): ask for it
    unknown = rows - set(ROWS)
    if unknown:
        ap.error(f"unknown rows: {', '.join(sorted(unknown))}")
    if "variants" in rows:
        rows.add("baseline")
    args.rows = rows
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    smoke_dir = None
    v2_only = args.rows == {"flat_v2"}  # the 1.x file is not measured: a tiny one stands in
    if args.db is None and (args.smoke or v2_only):
        smoke_dir = Path(tempfile.mkdtemp(prefix="ocbench-smoke-"))
        args.db = smoke_dir / "opencode-smoke.db"
    db = (args.db or DEFAULT_DB).resolve()
    size = 0.005 if v2_only and smoke_dir is not None else args.size
    manifest = ensure_db(db, size=size, seed=args.seed, stuck=args.stuck, rebuild=args.rebuild)
    bench = Bench(args, db, manifest)
    c = manifest["counts"]
    print(
        f"database {db}: {db.stat().st_size / 1e6:.1f} MB, {c['sessions']} sessions, {c['messages']} messages, "
        f"{c['parts']} parts; {len(manifest['stuck_sessions'])} stuck sessions, "
        f"{len(manifest['stuck_parts'])} stuck parts, {len(manifest['unfinished_messages'])} unfinished messages"
    )
    print(
        f"sqlite3 CLI: {bench.sqlite_cli or 'missing'}"
        f"{' ' + subprocess.run([bench.sqlite_cli, '--version'], capture_output=True, text=True).stdout.split()[0] if bench.sqlite_cli else ''}"
        f"; python sqlite3 {sqlite3.sqlite_version}; python {platform.python_version()}; "
        f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}; reps {args.reps}; ocinspect: {' '.join(ocinspect_cmd())}"
    )
    try:
        # no bench process reads or writes the user's kept watermarks (issue 19)
        os.environ["XDG_STATE_HOME"] = str(bench.tmp / "state")
        steps = [
            ("baseline", bench.baseline),
            ("naive", bench.naive),
            ("scan", bench.scans),
            ("timeline", bench.timeline),
            ("tui", bench.tui),
            ("watch", bench.watch),
            ("recover", bench.recover),
            ("start", bench.start),
            ("rss_small", bench.rss_small),
            ("flat", bench.flat),
            ("flat_v2", lambda: flat_v2.flat_v2(bench)),
        ]
        for name, step in steps:
            if name not in args.rows:
                continue
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - one broken row must not stop the others
                bench.add(Row(name, na=f"{type(exc).__name__}: {tail(str(exc))}"))
        print(f"load average at the end: {os.getloadavg()[0]:.2f} (other jobs on the machine skew timings)")
        last = bench.summary()
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "db": str(db),
                        "manifest_counts": c,
                        "metrics": bench.metrics,
                        "notes": bench.notes,
                        "rows": [
                            {
                                "name": r.name,
                                "times": r.times,
                                "na": r.na,
                                "check": r.check,
                                "rss_mb": r.rss_mb,
                                "unit": r.unit,
                                "note": r.note,
                            }
                            for r in bench.rows
                        ],
                        "flat": getattr(bench, "flat_results", None),
                        "flat_v2": bench.flat_v2_results,
                        "last_line": last,
                    },
                    indent=1,
                )
            )
        print(last)
    finally:
        shutil.rmtree(bench.tmp, ignore_errors=True)
        if smoke_dir is not None:
            shutil.rmtree(smoke_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

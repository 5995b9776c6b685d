"""What the flat rows share (``run.py``'s ``flat`` on 1.x files, ``flat_v2.py`` on OpenCode 2
files): a page copy with its own state directory, ``reps`` runs of one command measured, the JSON
compared without the fields that move with the clock, and the table of 1× against 4×. Kept apart
from ``run.py`` so the v2 row and the bench that runs it import it, not each other."""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from measure import ocinspect_cmd, run_proc, tail

FLAT_CLOCK_KEYS = frozenset({"scanned_at", "checked_at", "elapsed_ms", "idle_ms"})  # move with the wall clock


def page_copy(db: Path, copy: Path) -> int:
    """``db`` copied page by page (SQLite's backup API) in WAL mode, like OpenCode's own file;
    the copy's size."""
    src, dst = sqlite3.connect(f"file:{db}?mode=ro", uri=True), sqlite3.connect(copy)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL").fetchall()
    finally:
        src.close()
        dst.close()
    return copy.stat().st_size


def flat_copy(tmp: Path, name: str, label: str, db: Path) -> tuple[Path, dict[str, str], list[str], int]:
    """A flat row's page copy of ``db`` (timed, said), the environment with its own state dir
    (so the first scan is a full pass), the ocinspect command on the copy, and the copy's size."""
    copy = tmp / f"{name}-{label[0]}x.db"
    t = time.perf_counter()
    size_bytes = page_copy(db, copy)
    print(f"  {label}: page copy {size_bytes / 1e9:.2f} GB in {time.perf_counter() - t:.0f} s", flush=True)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / f"state-{name}-{label[0]}x"))
    return copy, env, [*ocinspect_cmd(), "--db", str(copy)], size_bytes


# The flat row's measurements, in the order its table shows them (the v2 row adds its own).
FLAT_KEYS = (
    "baseline",
    "quick_sql",
    "scan_full",
    "scan_resumed",
    "run_full",
    "run_resumed",
    "quick_full",
    "quick_resumed",
)


def print_flat_table(
    title: str,
    keys: tuple[str, ...],
    results: dict[str, dict[str, dict[str, Any]]],
    against_baseline: tuple[str, ...],
) -> Callable[[str, str], float | None]:
    """A flat row's table (each key at 1× and 4×: time, bytes read, faults, RSS, ratios) and the
    lines against each size's ``baseline``; returns the 4×/1× ratio of a key's field."""
    one, four = results.get("1×", {}), results.get("4×", {})

    def ratio(key: str, field: str) -> float | None:
        a, b = one.get(key, {}).get(field), four.get(key, {}).get(field)
        return b / a if a and b is not None else None

    def cell(v: float | None, unit: str = "") -> str:
        if v is None:
            return "—"
        if unit == "MB":
            return f"{v / 1e6:,.1f}"
        if unit == "k":
            return f"{v / 1e3:,.1f}k"
        return f"{v:.3f}"

    print()
    print(
        f"{title:<48} {'1× s':>7} {'4× s':>7} {'4×/1×':>6} {'1× MB rd':>9} {'4× MB rd':>9} {'4×/1×':>6}"
        f" {'1× flt':>8} {'4× flt':>8} {'4×/1×':>6} {'RSS 1×/4× MB':>13}"
    )
    print("-" * 140)
    for key in keys:
        a, b = one.get(key, {}), four.get(key, {})
        name = a.get("name") or b.get("name") or key
        if "na" in a or "na" in b:
            print(f"{name:<48} n/a ({a.get('na') or b.get('na')})")
            continue
        if not a and not b:
            continue
        check = b.get("check") or a.get("check")
        print(
            f"{name:<48} {cell(a.get('time')):>7} {cell(b.get('time')):>7} {cell(ratio(key, 'time')):>6} "
            f"{cell(a.get('rchar'), 'MB'):>9} {cell(b.get('rchar'), 'MB'):>9} {cell(ratio(key, 'rchar')):>6} "
            f"{cell(a.get('faults'), 'k'):>8} {cell(b.get('faults'), 'k'):>8} {cell(ratio(key, 'faults')):>6} "
            f"{a.get('rss_mb', 0):>6.0f}/{b.get('rss_mb', 0):<6.0f}" + (f"  {check}" if check else "")
        )
    for label, rows in results.items():
        base = rows.get("baseline", {}).get("time")
        size = rows["file"]["bytes"]
        parts: list[str] = []
        for key in against_baseline:
            t, rd = rows.get(key, {}).get("time"), rows.get(key, {}).get("rchar")
            if t is not None and base:
                parts.append(
                    f"{key} {t / base:.3f}× baseline"
                    + (f" reading {rd / size:.3f} of the file" if rd is not None else "")
                )
        print(f"  {label} ({size / 1e9:.2f} GB): " + ", ".join(parts))
    return ratio


def flat_json(text: str) -> Any:
    """A scan's JSON without the fields that move with the clock (a full and a resumed pass compare equal)."""

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in FLAT_CLOCK_KEYS}
        return [strip(x) for x in v] if isinstance(v, list) else v

    return strip(json.loads(text))


def flat_row(reps: int, name: str, cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    """``reps`` runs of ``cmd``: min wall / rchar / faults, max RSS, the last output."""
    times, reads, faults, rss, out, err = [], [], [], 0.0, "", ""
    for _ in range(reps):
        p = run_proc(cmd, env=env)
        if p.rc not in ok:
            return {"name": name, "na": f"exit {p.rc}: {tail(p.stderr)}"}
        times.append(p.wall)
        reads.append(p.rchar)
        faults.append(p.faults)
        rss = max(rss, p.rss_mb)
        out, err = p.stdout, p.stderr
    return {
        "name": name,
        "time": min(times),
        "median": statistics.median(times),
        "rchar": min(r for r in reads if r is not None) if any(r is not None for r in reads) else None,
        "faults": min(f for f in faults if f is not None) if any(f is not None for f in faults) else None,
        "rss_mb": rss,
        "stdout": out,
        "stderr": err,
    }


def healthy_rows(reps: int, oc: list[str], env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Both flat rows' measures on the recovered copy: ``run -- true`` and ``scan --quick
    --json``, each as a full pass then resumed from the state the full pass kept."""
    return {
        "run_full": flat_row(
            reps, "run --full -- true (healthy: full pass)", [*oc, "run", "--full", "--", "true"], env, ok=(0,)
        ),
        "run_resumed": flat_row(reps, "run -- true (healthy: resumed)", [*oc, "run", "--", "true"], env, ok=(0,)),
        "quick_full": flat_row(
            reps, "scan --quick --json --full (healthy: full pass)", [*oc, "scan", "--quick", "--json", "--full"], env
        ),
        "quick_resumed": flat_row(
            reps, "scan --quick --json (healthy: resumed)", [*oc, "scan", "--quick", "--json"], env
        ),
    }

"""The v2 flat row (``run.py --only flat_v2``): OpenCode 2.1.2 databases at 1× and 4×.

The same measurements as the 1.x ``flat`` row, on ``make_db_v2.py`` files with the same rows as
``make_db.py``'s at the same ``--size`` (the 1× file at ``--size``, the 4× one at 4 × ``--size``):
on page copies (SQLite backup API, WAL mode), each with its own ``$XDG_STATE_HOME``, the
``sqlite3`` references (a full detection pass over ``session_message``, and the quick tier's
session filter), ``scan --json --full`` then ``scan --json`` (resumed) on the stuck file, then
``recover --all`` once (untimed) and, on the now healthy copy, ``run --full -- true`` /
``run -- true``, ``scan --quick --json --full`` / ``scan --quick --json`` and ``scan --json
--full`` / ``scan --json``. Per row: time, bytes read, page faults, peak RSS; ratios 4×/1×.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path
from typing import Any, Protocol

import make_db_v2
from flat_common import FLAT_KEYS, flat_copy, flat_json, flat_row, healthy_rows, print_flat_table
from measure import run_proc


class Bench(Protocol):
    """What this row needs of the bench that runs it (``run.py``'s ``Bench``)."""

    args: argparse.Namespace  # size, seed, reps, smoke, db_v2, db4_v2
    tmp: Path
    sqlite_cli: str | None
    metrics: dict[str, float | None]
    flat_v2_results: dict[str, Any] | None


# The reference detection, as bare SQL: every stuck tool (a ``running``/``streaming`` item of a
# reply's ``content[]``, through the GLOB prefilter, then JSON) and every claim.
BASELINE_SQL = """
SELECT 'tool', json_extract(t.value, '$.id') FROM session_message m, json_each(m.data, '$.content') t
 WHERE m.type = 'assistant' AND (m.data GLOB '*"running"*' OR m.data GLOB '*"streaming"*')
   AND json_extract(t.value, '$.type') = 'tool'
   AND json_extract(t.value, '$.state.status') IN ('running', 'streaming');
SELECT 'claim', id FROM session_v2 WHERE time_suspended IS NOT NULL;
"""
# The quick tier's session filter alone (claims, turns never ended or ended ``failed``).
QUICK_SQL = """
SELECT 'session', id FROM session_v2
 WHERE time_suspended IS NOT NULL OR idle_outcome IS NULL OR idle_outcome = 'failed';
"""


def ensure(path: Path, *, size: float, seed: int) -> dict[str, Any]:
    """``path`` built at ``size`` unless it exists with the same parameters; its manifest."""
    manifest_file = make_db_v2.manifest_path(path)
    if path.exists() and manifest_file.exists():
        manifest: dict[str, Any] = json.loads(manifest_file.read_text())
        params = manifest.get("params", {})
        if (params.get("size"), params.get("seed")) == (size, seed):
            return manifest
    print(f"building {path} (OpenCode 2.1.2, size {size:g}, seed {seed}) …", flush=True)
    return make_db_v2.build(path, size=size, seed=seed)


def _stuck_sessions(text: str) -> set[str]:
    return {str(s["id"]) for s in json.loads(text).get("sessions", []) if s.get("verdict") != "ok"}


def _left_stuck(copy: Path) -> int:
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        return sum(len(conn.execute(s).fetchall()) for s in BASELINE_SQL.split(";") if s.strip())
    finally:
        conn.close()


def _one_size(bench: Bench, label: str, db: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    copy, env, oc, size_bytes = flat_copy(bench.tmp, "flat-v2", label, db)
    rows: dict[str, dict[str, Any]] = {"file": {"bytes": size_bytes}}
    if bench.sqlite_cli:
        sql = [bench.sqlite_cli, str(copy)]
        run_proc([*sql, BASELINE_SQL])  # the copy's pages into the cache, untimed
        rows["baseline"] = flat_row(
            bench.args.reps, "sqlite3 v2 detection (tools, claims)", [*sql, BASELINE_SQL], env, ok=(0,)
        )
        rows["quick_sql"] = flat_row(
            bench.args.reps, "sqlite3 v2 quick filter (session_v2)", [*sql, QUICK_SQL], env, ok=(0,)
        )
    rows["scan_full"] = flat_row(
        bench.args.reps, "scan --json --full (first: full pass)", [*oc, "scan", "--json", "--full"], env
    )
    rows["scan_resumed"] = flat_row(bench.args.reps, "scan --json (second: resumed)", [*oc, "scan", "--json"], env)
    want = set(manifest["stuck_sessions"])
    checks = []
    for key in ("scan_full", "scan_resumed"):
        if "stdout" in rows[key]:
            found = _stuck_sessions(rows[key]["stdout"])
            checks.append(
                f"correct ({len(want)} stuck sessions)"
                if found == want
                else f"WRONG: found {len(found)}, expected {len(want)}"
            )
    same = (
        "stdout" in rows["scan_full"]
        and "stdout" in rows["scan_resumed"]
        and flat_json(rows["scan_full"]["stdout"]) == flat_json(rows["scan_resumed"]["stdout"])
    )
    if "name" in rows["scan_resumed"]:
        rows["scan_resumed"]["check"] = (
            ("same JSON as the full pass" if same else "DIFFERENT from the full pass") + "; " + "; ".join(checks)
        )
    # healthy: recover everything once (untimed; it replaces the write token: the next look is full)
    run_proc([*oc, "recover", "--all", "--yes", "--force", "--json"], env=env)
    healthy = _left_stuck(copy) == 0
    rows.update(healthy_rows(bench.args.reps, oc, env))
    rows["deep_full"] = flat_row(
        bench.args.reps, "scan --json --full (healthy: full pass)", [*oc, "scan", "--json", "--full"], env
    )
    rows["deep_resumed"] = flat_row(bench.args.reps, "scan --json (healthy: resumed)", [*oc, "scan", "--json"], env)
    for key in ("run_full", "run_resumed"):
        if rows[key].get("stderr", "").strip():
            rows[key]["check"] = f"said: {rows[key]['stderr'].strip().splitlines()[-1][:120]}"
    if "name" in rows["run_resumed"]:
        rows["run_resumed"].setdefault("check", "healthy, nothing said" if healthy else "NOT healthy after recover")
    for full, resumed in (("quick_full", "quick_resumed"), ("deep_full", "deep_resumed")):
        if "stdout" in rows[full] and "stdout" in rows[resumed]:
            same = flat_json(rows[full]["stdout"]) == flat_json(rows[resumed]["stdout"])
            clean = not _stuck_sessions(rows[resumed]["stdout"])
            rows[resumed]["check"] = ("same JSON as the full pass" if same else "DIFFERENT from the full pass") + (
                ", nothing stuck" if clean else ", STILL STUCK"
            )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return rows


def flat_v2(bench: Bench) -> None:
    """The v2 flat row: both sizes, then the table and the ``v2_*_4x`` metrics."""
    args = bench.args
    out = bench.tmp if args.smoke else (Path(__file__).resolve().parent / "out")
    db1 = (args.db_v2 or out / "opencode-v2-1x.db").resolve()
    db4 = (args.db4_v2 or out / "opencode-v2-4x.db").resolve()
    print(f"[9] flat in database size, OpenCode 2.1.2: 1× = {db1.name} (size {args.size:g}), 4× = {db4.name}")
    manifests = {
        "1×": ensure(db1, size=args.size, seed=args.seed),
        "4×": ensure(db4, size=args.size * 4, seed=args.seed),
    }
    for label, m in manifests.items():
        c = m["counts"]
        print(
            f"  {label}: {c['sessions']} sessions, {c['messages']} messages (+{c['idle_rows']} idle rows), "
            f"{c['parts']} 1.x parts as {c['content_items']} content items ({c['tool_parts']} tools), "
            f"{len(m['stuck_sessions'])} stuck sessions grafted from the 2.1.2 fixtures"
        )
    results = {
        "1×": _one_size(bench, "1×", db1, manifests["1×"]),
        "4×": _one_size(bench, "4×", db4, manifests["4×"]),
    }
    _table(bench, results)


def _table(bench: Bench, results: dict[str, dict[str, dict[str, Any]]]) -> None:
    four = results["4×"]
    against = ("scan_full", "scan_resumed", "quick_resumed", "run_resumed", "deep_resumed")
    keys = (*FLAT_KEYS, "deep_full", "deep_resumed")  # and the deep scan on the healthy copy
    ratio = print_flat_table("flat, OpenCode 2.1.2", keys, results, against)
    m = bench.metrics
    for what, key in (("run", "run_resumed"), ("quick", "quick_resumed"), ("deep", "deep_resumed")):
        m[f"v2_{what}_work_4x"] = ratio(key, "rchar")
        m[f"v2_{what}_faults_4x"] = ratio(key, "faults")
        m[f"v2_{what}_time_4x"] = ratio(key, "time")
    rss = [r.get("rss_mb") for k, r in four.items() if k not in ("file", "baseline", "quick_sql") and r.get("rss_mb")]
    m["v2_flat_rss_4x_mb"] = max(rss) if rss else None
    bench.flat_v2_results = {
        label: {k: {f: v for f, v in r.items() if f not in ("stdout", "stderr")} for k, r in rows.items()}
        for label, rows in results.items()
    }

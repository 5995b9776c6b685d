#!/usr/bin/env python3
"""Regenerate the real OpenCode fixture databases from the e2e scenarios.

    python tests/e2e/capture.py --out DIR [--opencode-version 1.18.33] [--only stuck-bash ...]
                                [--project-dir /home/dev/src/webapp]

For each fixture this starts the real ``opencode serve`` of the chosen release (npm
``opencode-ai@<version>`` with ``opencode-linux-x64@<version>``, installed once into
``${XDG_CACHE_HOME:-~/.cache}/ocinspect-e2e``) in an isolated HOME/XDG_*/TMPDIR, drives it with the
scripted local model of ``harness.py``, ``kill -9``s it once the database shows the tool part
``running``/``pending`` (the clean one after its turn finished), then snapshots the database with
``VACUUM INTO`` (so rows that only lived in ``opencode.db-wal`` are included), rewrites the
temporary project path to ``--project-dir`` everywhere, and writes
``DIR/opencode-<version>-<name>.db``: one consistent rollback-journal SQLite file,
``integrity_check`` ok, freelist 0, no path of the harness left in it.

Nothing is written outside DIR and a temporary directory (removed unless ``--keep``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.e2e import harness as h  # noqa: E402

DEFAULT_PROJECT_DIR = "/home/dev/src/webapp"


# --------------------------------------------------------------------------------------------
# scenarios: each drives a running OpenCode and returns when the DB is in the wanted state
# --------------------------------------------------------------------------------------------


def _clean(sb: h.Sandbox, oc: h.OpenCode) -> None:
    sid = oc.create_session()
    oc.prompt_async(sid, "QUICK run the quick tests")
    oc.wait_turn_complete(sid, timeout=60, min_assistant=2)


def _stuck_bash(sb: h.Sandbox, oc: h.OpenCode) -> None:
    sid = oc.create_session()
    oc.prompt_async(sid, "run the long tests")
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=60, server=oc)


def _stuck_two(sb: h.Sandbox, oc: h.OpenCode) -> None:
    first = oc.create_session()
    second = oc.create_session()
    oc.prompt_async(second, "run the other long tests")
    oc.prompt_async(first, "run the long tests")
    for sid in (first, second):
        h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", timeout=60, server=oc)


def _stuck_pending(sb: h.Sandbox, oc: h.OpenCode) -> None:
    sid = oc.create_session()
    oc.prompt_async(sid, "PENDING edit")
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="bash", statuses=("pending",), timeout=60, server=oc)


def _stuck_task(sb: h.Sandbox, oc: h.OpenCode) -> None:
    sid = oc.create_session()
    oc.prompt_async(sid, "SUBAGENT please check")
    h.wait_for_tool_part(sb.db_path, session_id=sid, tool="task", timeout=60, server=oc)
    child = h.wait_for_child_session(sb.db_path, sid, timeout=60, server=oc)
    h.wait_for_tool_part(sb.db_path, session_id=child, tool="bash", timeout=60, server=oc)


SCENARIOS: dict[str, Callable[[h.Sandbox, h.OpenCode], None]] = {
    "clean": _clean,
    "stuck-bash": _stuck_bash,
    "stuck-two": _stuck_two,
    "stuck-pending": _stuck_pending,
    "stuck-task": _stuck_task,
}
DEFAULT_SCENARIOS = list(SCENARIOS)

# Scenarios that start (and restart) OpenCode themselves; they need libfaketime.
WRAP_PROMPT = "TEXT thanks, now just say hi"
LOOP_REPLIES = 24  # replies to the old prompt to wait for before the kill


def _before_the_wrap(sb: h.Sandbox, binary: Path) -> tuple[str, str]:
    """With the clock ~3 minutes before the 2026-08-14 id wrap: a finished session and a
    session stuck in ``bash sleep 600``; then ``kill -9``.  Returns (finished, stuck)."""
    oc = sb.start_opencode(binary, env=h.faketime_env())
    done = oc.create_session()
    oc.prompt_async(done, "QUICK run the quick tests")
    oc.wait_turn_complete(done, timeout=60, min_assistant=2)
    stuck = oc.create_session()
    oc.prompt_async(stuck, "run the long tests")
    h.wait_for_tool_part(sb.db_path, session_id=stuck, tool="bash", timeout=60, server=oc)
    time.sleep(0.3)
    oc.kill()
    return done, stuck


def _id_wrap_stuck(sb: h.Sandbox, binary: Path) -> None:
    _before_the_wrap(sb, binary)


def _id_wrap_loop(sb: h.Sandbox, binary: Path) -> None:
    """Then, at today's clock, one new prompt to each session: OpenCode <= 1.18.14 ignores the
    finished one's and answers the stuck one's old prompt over and over; killed mid-loop."""
    done, stuck = _before_the_wrap(sb, binary)
    oc = sb.start_opencode(binary)
    for sid in (done, stuck):
        oc.prompt_async(sid, WRAP_PROMPT)

    def looping() -> bool:
        with h.ro_connect(sb.db_path) as conn:
            n = conn.execute(
                "SELECT count(*) FROM message WHERE session_id = ? AND json_extract(data, '$.role') = 'assistant'",
                (stuck,),
            ).fetchone()[0]
        return bool(n >= LOOP_REPLIES + 1)

    h.wait_until(
        looping, timeout=60, interval=0.2, what=f"OpenCode to loop on {stuck}", on_timeout=lambda: oc.describe(stuck)
    )
    oc.kill()


STAGED: dict[str, Callable[[h.Sandbox, Path], None]] = {
    "id-wrap-stuck": _id_wrap_stuck,
    "id-wrap-loop": _id_wrap_loop,
}


# --------------------------------------------------------------------------------------------
# snapshot + path rewrite
# --------------------------------------------------------------------------------------------


def _text_columns(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    out = []
    tables = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    ]
    for table in tables:
        for _, col, ctype, *_ in conn.execute(f'PRAGMA table_info("{table}")'):
            if "INT" in (ctype or "").upper() or "REAL" in (ctype or "").upper():
                continue
            out.append((table, col))
    return out


def rewrite_paths(db: Path, replacements: list[tuple[str, str]]) -> int:
    """Replace path strings in every text column (JSON included).  Returns rows changed."""
    conn = sqlite3.connect(str(db))
    changed = 0
    try:
        with conn:
            for table, col in _text_columns(conn):
                for old, new in replacements:
                    cur = conn.execute(
                        f'UPDATE "{table}" SET "{col}" = replace("{col}", ?, ?) '
                        f'WHERE typeof("{col}") = \'text\' AND instr("{col}", ?) > 0',
                        (old, new, old),
                    )
                    changed += cur.rowcount
    finally:
        conn.close()
    return changed


def leftovers(db: Path, needle: str) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found = []
        for table, col in _text_columns(conn):
            n = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE typeof("{col}") = \'text\' AND instr("{col}", ?) > 0', (needle,)
            ).fetchone()[0]
            if n:
                found.append(f"{table}.{col} ({n} rows)")
        return found
    finally:
        conn.close()


def finalize(raw: Path, dest: Path) -> dict[str, Any]:
    """``VACUUM INTO`` a compact rollback-journal file and check it."""
    h.snapshot(raw, dest)
    conn = sqlite3.connect(str(dest))
    try:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
    finally:
        conn.close()
    for suffix in ("-wal", "-shm", "-journal"):
        Path(str(dest) + suffix).unlink(missing_ok=True)
    if mode != "delete" or integrity != "ok" or freelist != 0:
        raise h.HarnessError(f"{dest}: journal_mode={mode} integrity={integrity} freelist={freelist}")
    return {"journal_mode": mode, "integrity": integrity, "freelist": freelist}


def summarize(db: Path) -> dict[str, Any]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sessions = conn.execute("SELECT id, parent_id, title FROM session ORDER BY time_created, id").fetchall()
        msgs = conn.execute(
            "SELECT session_id, id, json_extract(data,'$.role'), "
            "json_extract(data,'$.time.completed') FROM message ORDER BY time_created, id"
        ).fetchall()
        parts = conn.execute(
            "SELECT session_id, id, json_extract(data,'$.tool'), json_extract(data,'$.state.status') "
            "FROM part WHERE json_extract(data,'$.type') = 'tool' ORDER BY time_created, id"
        ).fetchall()
    finally:
        conn.close()
    return {
        "sessions": [{"id": s, "parent_id": p, "title": t} for s, p, t in sessions],
        "messages": [{"session": s, "id": i, "role": r, "completed": c} for s, i, r, c in msgs],
        "tool_parts": [{"session": s, "id": i, "tool": t, "status": st} for s, i, t, st in parts],
    }


# --------------------------------------------------------------------------------------------


def capture(
    name: str,
    binary: Path,
    model: h.FakeModel,
    work: Path,
    out: Path,
    project_dir: str,
    version: str = h.OPENCODE_VERSION,
) -> dict[str, Any]:
    sb = h.Sandbox(work / name, model)
    try:
        if name in STAGED:
            STAGED[name](sb, binary)
        else:
            oc = sb.start_opencode(binary)
            SCENARIOS[name](sb, oc)
            time.sleep(0.3)  # let OpenCode finish the write it is in the middle of, like a real crash
            oc.kill()
    finally:
        sb.kill_all()
    raw = work / f"{name}.raw.db"
    h.snapshot(sb.db_path, raw)
    project = str(sb.project)
    replacements = [(project, project_dir), (project.lstrip("/"), project_dir.lstrip("/"))]
    rewrite_paths(raw, replacements)
    left = leftovers(raw, str(sb.root))
    if left:
        raise h.HarnessError(f"{name}: harness paths still present after rewrite in {left}")
    dest = out / f"opencode-{version}-{name}.db"
    checks = finalize(raw, dest)
    return {"file": str(dest), **checks, **summarize(dest)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="directory for the .db files")
    ap.add_argument(
        "--opencode-version",
        default=h.OPENCODE_VERSION,
        metavar="X",
        help=f"OpenCode release to run (npm opencode-ai@X; default {h.OPENCODE_VERSION})",
    )
    ap.add_argument(
        "--only",
        nargs="+",
        choices=sorted([*SCENARIOS, *STAGED]),
        help=f"capture only these (default: {' '.join(DEFAULT_SCENARIOS)}; "
        f"{' and '.join(STAGED)} need libfaketime and OpenCode <= 1.18.14 to show the bug)",
    )
    ap.add_argument(
        "--project-dir",
        default=DEFAULT_PROJECT_DIR,
        help=f"path written in place of the temporary project (default {DEFAULT_PROJECT_DIR})",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary sandboxes (and logs)")
    args = ap.parse_args(argv)

    try:
        binary = h.ensure_opencode(args.opencode_version)
    except (h.Unavailable, h.HarnessError) as exc:
        print(f"capture: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ocinspect-capture-"))
    results = {}
    try:
        with h.FakeModel() as model:
            for name in args.only or DEFAULT_SCENARIOS:
                t0 = time.monotonic()
                results[name] = capture(name, binary, model, work, args.out, args.project_dir, args.opencode_version)
                print(f"capture: {name}: {results[name]['file']} ({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    except (h.HarnessError, h.Unavailable) as exc:
        print(f"capture failed: {exc}\n(sandboxes kept in {work})", file=sys.stderr)
        return 1
    if args.keep:
        print(f"capture: sandboxes kept in {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"opencode": args.opencode_version, "fixtures": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

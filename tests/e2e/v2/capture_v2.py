#!/usr/bin/env python3
"""Regenerate the OpenCode 2.x fixture databases (``fixtures/v2/v2-*.db``) from the real binary.

    python tests/e2e/v2/capture_v2.py --out DIR [--only stuck-bash ...] [--keep]

Each shape is made fresh by the makers of ``harness_v2.py`` (the ones the e2e tests use) in its
own sandbox, every process of it killed, then snapshotted with ``VACUUM INTO``, the sandbox's
paths rewritten (project -> ``/home/dev/src/webapp``, home and XDG dirs -> ``/home/dev/...``)
and checked as v1's ``capture.py`` does (one rollback-journal file, integrity ok, no path of the
harness left). Writes ``DIR/v2-<shape>.db``; nothing outside DIR and a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.e2e import capture as v1capture  # noqa: E402
from tests.e2e import harness as h  # noqa: E402
from tests.e2e.v2 import harness_v2 as v2  # noqa: E402

PROJECT_DIR = "/home/dev/src/webapp"
HOME_DIR = "/home/dev"


def _clean(sb: v2.V2Sandbox) -> None:
    server = sb.start_plain()
    v2.finish_turn(sb, server, server.open_session(sb.project))
    server.kill()


def _ask(sb: v2.V2Sandbox) -> None:
    sb.write_config(shell="ask")
    v2.crash_plain_mid_tool(sb, before_kill=lambda server, sid: v2.wait_permission(server, sid))


def _orphan_child(sb: v2.V2Sandbox) -> None:
    v2.kill_service(sb, v2.orphan_the_child(sb, v2.crash_plain_mid_subagent(sb)))


def _exhausted(sb: v2.V2Sandbox) -> None:
    v2.exhaust_by_boots(sb, v2.crash_plain_mid_tool(sb))


def _imported_bash(sb: v2.V2Sandbox) -> None:
    v2.crash_v1_then_import(sb, h.ensure_opencode(h.OPENCODE_VERSION))[1].kill()


SHAPES: dict[str, Callable[[v2.V2Sandbox], object]] = {
    "clean": _clean,
    "stuck-bash": v2.crash_plain_mid_tool,
    "stuck-pending": lambda sb: v2.crash_plain_mid_tool(sb, prompt="PENDING please", statuses=("streaming",)),
    "stuck-question": lambda sb: v2.crash_plain_mid_tool(sb, prompt=v2.QUESTION, name="question"),
    "stuck-ask": _ask,
    "stuck-queued": lambda sb: v2.crash_plain_with_inbox(
        sb, (("QUICK steer one", "steer"), ("TEXT queued two", "queue"))
    ),
    "stuck-task": v2.crash_plain_mid_subagent,
    "stuck-orphan-child": _orphan_child,
    "stuck-graceful-stop": v2.stop_service_mid_tool,
    "stuck-exhausted": _exhausted,
    "imported-from-v1-stuck-bash": _imported_bash,
}


def replacements(sb: v2.V2Sandbox) -> list[tuple[str, str]]:
    """The sandbox's paths and what a user's machine would have there (longest first)."""
    mapping = {
        sb.project: PROJECT_DIR,
        sb.xdg["XDG_DATA_HOME"]: f"{HOME_DIR}/.local/share",
        sb.xdg["XDG_STATE_HOME"]: f"{HOME_DIR}/.local/state",
        sb.xdg["XDG_CONFIG_HOME"]: f"{HOME_DIR}/.config",
        sb.xdg["XDG_CACHE_HOME"]: f"{HOME_DIR}/.cache",
        sb.xdg["XDG_RUNTIME_DIR"]: "/run/user/1000",
        sb.tmp: "/tmp",
        sb.home: HOME_DIR,
    }
    pairs = [(str(old), new) for old, new in mapping.items()]
    pairs += [(old.lstrip("/"), new.lstrip("/")) for old, new in pairs]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


def capture(name: str, binary: Path, work: Path, out: Path) -> dict[str, Any]:
    with h.FakeModel() as model:
        sb = v2.V2Sandbox(work / name, model, binary)
        try:
            SHAPES[name](sb)
        finally:
            sb.kill_all()
        raw = work / f"{name}.raw.db"
        h.snapshot(sb.db_path, raw)
    v1capture.rewrite_paths(raw, replacements(sb))
    left = v1capture.leftovers(raw, str(sb.root))
    if left:
        raise h.HarnessError(f"{name}: harness paths still present after rewrite in {left}")
    dest = out / f"v2-{name}.db"
    return {"file": str(dest), **v1capture.finalize(raw, dest), "sessions": summarize(dest)}


def summarize(db: Path) -> list[dict[str, Any]]:
    """Each session's claim, outcome and message types: what a shape is, in one line each."""
    return [
        {
            "id": s["id"],
            "parent_id": s["parent_id"],
            "claimed": s["time_suspended"] is not None,
            "resume_attempts": s["resume_attempts"],
            "idle_outcome": s["idle_outcome"],
            "messages": [r["type"] for r in v2.message_rows(db, s["id"])],
            "tools": [(t["name"], t["state"]["status"]) for t in v2.tool_items(db, s["id"])],
        }
        for s in v2.session_rows(db)
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="directory for the .db files")
    ap.add_argument("--only", nargs="+", choices=sorted(SHAPES), help="capture only these (default: all)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary sandboxes (and logs)")
    args = ap.parse_args(argv)
    try:
        binary = v2.ensure_opencode_v2()
    except (h.Unavailable, h.HarnessError) as exc:
        print(f"capture_v2: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ocinspect-capture-v2-"))
    results = {}
    try:
        for name in args.only or list(SHAPES):
            started = time.monotonic()
            results[name] = capture(name, binary, work, args.out)
            print(f"capture_v2: {name}: {results[name]['file']} ({time.monotonic() - started:.1f}s)", file=sys.stderr)
    except (h.HarnessError, h.Unavailable) as exc:
        print(f"capture_v2 failed: {exc}\n(sandboxes kept in {work})", file=sys.stderr)
        return 1
    if args.keep:
        print(f"capture_v2: sandboxes kept in {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"opencode": v2.V2_VERSION, "fixtures": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Measure what OpenCode 2.1.2 publishes for each live shape (the table in docs/design/opencode-2.md).

One plain server, the scripted fake model (``chunkTimeout`` 3000 ms; ``shell`` asks before
``echo ok``), one session per shape, all running at once, for ``--seconds``. Recorded per session:
the ``GET /api/event`` types (count, first and last second, one example each), and every second
what ``/api/session/active``, the session's row (``resume_attempts``, claim), its newest assistant
row (``time_updated``, ``retry``, a digest of ``data``), the API's messages (a digest), its
permissions, forms and inbox say.

    python tests/e2e/v2/probe_v2_signals.py [--seconds 40] [--out FILE]

Not a test: ``test_v2_hung.py`` asserts what ocinspect relies on; this records what there is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from inspector.core.opencode.client import Credentials, ServerClient, ServerError  # noqa: E402
from tests.e2e import harness as h  # noqa: E402
from tests.e2e.v2 import harness_v2 as v2  # noqa: E402

SHAPES = {
    "tool-silent": v2.LONG_SHELL,
    "tool-progress": "STREAM please",
    "stalled": "STALL please",
    "slow": "SLOW please",
    "503": "OVERLOADED please",
    "429": "RATELIMIT please",
    "permission": v2.QUICK,
    "question": v2.QUESTION,
    "subagent": v2.SUBAGENT,
}


def configure(box: v2.V2Sandbox) -> None:
    config = json.loads(box.config_path.read_text())
    config["provider"][h.PROVIDER_ID]["options"]["chunkTimeout"] = 3000
    config["permission"]["shell"] = {"*": "allow", "echo ok": "ask"}
    box.config_path.write_text(json.dumps(config, indent=2) + "\n")


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:8]


class Events:
    def __init__(self, port: int) -> None:
        self.by_session: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        self.other: dict[str, int] = defaultdict(int)
        self.count = 0
        self.error = ""
        self.t0 = time.monotonic()
        self.port = port
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        creds = Credentials(username="opencode", password=v2.PASSWORD)
        try:
            stream = ServerClient(self.port, credentials=creds).events(path="/api/event", read_timeout=120)
            for item in stream:
                self.count += 1
                event = item.data if isinstance(item.data, dict) else {}
                kind = str(event.get("type"))
                data = event.get("data") if isinstance(event.get("data"), dict) else {}
                sid = data.get("sessionID") if isinstance(data, dict) else None
                if not isinstance(sid, str):
                    self.other[kind] += 1
                    continue
                now = round(time.monotonic() - self.t0, 1)
                seen = self.by_session[sid].get(kind)
                if seen is None:
                    self.by_session[sid][kind] = [1, now, now, json.dumps(event)[:700]]
                else:
                    seen[0] += 1
                    seen[2] = now
        except (ServerError, OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"


def look(server: v2.V2Server, sid: str) -> dict[str, Any]:
    row = v2.session_row(server.sandbox.db_path, sid)
    rows = v2.message_rows(server.sandbox.db_path, sid)
    newest = next((r for r in reversed(rows) if r["type"] == "assistant"), None)
    api_msgs = server.list_messages(sid)

    def safe(path: str) -> Any:
        try:
            return server.api("GET", path)
        except h.HarnessError as exc:
            return f"ERR {str(exc)[:80]}"

    return {
        "active": server.active().get(sid),
        "claim": row["time_suspended"] is not None,
        "resume_attempts": row["resume_attempts"],
        "rows": [r["type"] for r in rows],
        "assistant_updated": newest["time_updated"] if newest else None,
        "assistant_digest": digest(newest["data"]) if newest else None,
        "assistant_retry": (newest["data"].get("retry") if newest else None),
        "assistant_content": [
            (c.get("type"), (c.get("state") or {}).get("status"), len(str(c.get("text") or "")))
            for c in (newest["data"].get("content") or [] if newest else [])
        ],
        "api_digest": digest(api_msgs[-1] if api_msgs else None),
        "api_retry": (api_msgs[-1].get("retry") if api_msgs and isinstance(api_msgs[-1], dict) else None),
        "permission": safe(f"/api/session/{sid}/permission"),
        "form": safe(f"/api/session/{sid}/form"),
        "inbox": safe(f"/api/session/{sid}/inbox"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    binary = v2.ensure_opencode_v2()
    out: dict[str, Any] = {"shapes": {}}
    with tempfile.TemporaryDirectory() as tmp, h.FakeModel() as model, v2.sandboxed(Path(tmp), model, binary) as box:
        configure(box)
        server = box.start_plain()
        events = Events(server.port)
        time.sleep(1.0)
        sessions = {}
        for shape, prompt in SHAPES.items():
            if args.only and shape not in args.only:
                continue
            sid = server.open_session(box.project)
            server.prompt(sid, prompt)
            sessions[shape] = sid
        timeline: dict[str, list[Any]] = defaultdict(list)
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            for shape, sid in sessions.items():
                try:
                    timeline[shape].append((round(time.monotonic() - start, 1), look(server, sid)))
                except Exception as exc:  # noqa: BLE001 - a probe records what it can
                    timeline[shape].append((round(time.monotonic() - start, 1), f"ERR {exc}"))
            time.sleep(2.0)
        children = {s["id"]: s["parent_id"] for s in v2.session_rows(box.db_path) if s["parent_id"]}
        for shape, sid in sessions.items():
            kids = [c for c, p in children.items() if p == sid]
            out["shapes"][shape] = {
                "session": sid,
                "events": events.by_session.get(sid, {}),
                "child_events": {c: events.by_session.get(c, {}) for c in kids},
                "child_look": {c: look(server, c) for c in kids},
                "timeline": timeline[shape],
            }
        out["global_events"] = dict(events.other)
        out["event_count"] = events.count
        out["event_error"] = events.error
    text = json.dumps(out, indent=1, default=str)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Measure, per OpenCode release, which live signals it publishes (the table in NOTES.md).

For each release: a sandbox with the scripted model (``harness.FakeModel``), the provider's
``chunkTimeout`` at 3000 ms, and four turns:

- ``STALL``: a little text, then nothing (the connection stays open) — does ``/session/status``
  turn ``retry`` ("SSE read timed out")? Are new ``step-start`` rows written? Which events?
- ``SLOW``: one word a second — does any row move while the text streams? Which events carry it?
- ``OVERLOADED``: HTTP 503 on every call — the retry attempts, messages and how the turn ends;
- ``bash`` behind ``permission.bash = "ask"`` — ``GET /permission`` and the reply routes.

    python tests/e2e/probe_signals.py [--release 1.18.33 ...] [--out FILE]

Writes JSON (stdout or ``--out``). Not a test: the tests in ``test_signals.py`` assert what
ocinspect relies on; this records what there is to rely on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from inspector.core.opencode.client import ServerClient, ServerError  # noqa: E402
from tests.e2e import harness as h  # noqa: E402
from tests.support.releases import E2E_RELEASES  # noqa: E402

CHUNK_TIMEOUT_MS = 3000


def configure(sandbox: h.Sandbox, *, ask_bash: bool = False, chunk_timeout: int | None = CHUNK_TIMEOUT_MS) -> None:
    """Rewrite the sandbox's opencode.json: the provider's chunk timeout, bash behind a prompt."""
    config = json.loads(sandbox.config_path.read_text())
    options = config["provider"][h.PROVIDER_ID]["options"]
    if chunk_timeout is None:
        options.pop("chunkTimeout", None)
    else:
        options["chunkTimeout"] = chunk_timeout
    config["permission"] = {**config["permission"], "bash": "ask" if ask_bash else "allow"}
    sandbox.config_path.write_text(json.dumps(config, indent=2) + "\n")


class EventLog:
    """``GET /event`` of one directory, collected in a thread: (monotonic time, type, session)."""

    def __init__(self, oc: h.OpenCode) -> None:
        self.items: list[tuple[float, str, str | None, dict[str, Any]]] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._oc = oc
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            stream = ServerClient(self._oc.port).events(directory=str(self._oc.sandbox.project), read_timeout=120)
            for item in stream:
                if self._stop.is_set():
                    break
                data = item.data if isinstance(item.data, dict) else {}
                properties = data.get("properties")
                body: dict[str, Any] = properties if isinstance(properties, dict) else {}
                raw_part = body.get("part")
                part: dict[str, Any] = raw_part if isinstance(raw_part, dict) else {}
                sid = body.get("sessionID") or part.get("sessionID")
                self.items.append((time.monotonic(), str(data.get("type")), sid, body))
        except (ServerError, OSError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"

    def stop(self) -> None:
        self._stop.set()

    def types_for(self, sid: str, since: float = 0.0) -> dict[str, int]:
        return dict(Counter(kind for when, kind, s, _ in self.items if s == sid and when >= since))


def statuses(oc: h.OpenCode, sid: str, seconds: float, interval: float = 0.25) -> list[dict[str, Any]]:
    """The session's status objects over ``seconds`` (changes only)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        entry = oc.status().get(sid) or {}
        if not seen or seen[-1]["status"] != entry:
            seen.append({"t": round(seconds - (deadline - time.monotonic()), 2), "status": entry})
        time.sleep(interval)
    return seen


def rows(db: Path, sid: str) -> list[dict[str, Any]]:
    with h.ro_connect(db) as conn:
        return [
            {
                "type": json.loads(data).get("type"),
                "updated": updated,
                "text_len": len(json.loads(data).get("text") or ""),
            }
            for updated, data in conn.execute(
                "SELECT time_updated, data FROM part WHERE session_id = ? ORDER BY time_created, id", (sid,)
            )
        ]


def probe_stall(sb: h.Sandbox, oc: h.OpenCode, events: EventLog) -> dict[str, Any]:
    sid = oc.create_session()
    t0 = time.monotonic()
    oc.prompt_async(sid, "STALL please")
    seen = statuses(oc, sid, 14)
    kinds = Counter(json.dumps({k: v for k, v in s["status"].items() if k not in ("next", "attempt")}) for s in seen)
    found = rows(sb.db_path, sid)
    out = {
        "statuses": seen[:12],
        "status_kinds": sorted(kinds),
        "max_attempt": max((s["status"].get("attempt") or 0 for s in seen), default=0),
        "step_starts": sum(1 for r in found if r["type"] == "step-start"),
        "text_parts": [r["text_len"] for r in found if r["type"] == "text"],
        "events": events.types_for(sid, t0),
    }
    oc.request("POST", f"/session/{sid}/abort")
    h.wait_until(lambda: not oc.is_busy(sid), timeout=20, what="stall aborted")
    out["after_abort"] = [
        m["info"].get("error", {}).get("name") for m in oc.messages(sid) if m["info"]["role"] == "assistant"
    ]
    return out


def probe_slow(sb: h.Sandbox, oc: h.OpenCode, events: EventLog) -> dict[str, Any]:
    sid = oc.create_session()
    t0 = time.monotonic()
    oc.prompt_async(sid, "SLOW please")
    time.sleep(3)
    before = rows(sb.db_path, sid)
    seen = statuses(oc, sid, 8)
    after = rows(sb.db_path, sid)
    out = {
        "statuses": seen,
        "rows_moved_while_streaming": before != after,
        "text_rows": [r for r in after if r["type"] == "text"],
        "events": events.types_for(sid, t0),
    }
    oc.request("POST", f"/session/{sid}/abort")
    h.wait_until(lambda: not oc.is_busy(sid), timeout=20, what="slow aborted")
    return out


def probe_overloaded(oc: h.OpenCode, seconds: float) -> dict[str, Any]:
    sid = oc.create_session()
    t0 = time.monotonic()
    oc.prompt_async(sid, "OVERLOADED please")
    seen: list[dict[str, Any]] = []
    ended_after = None
    while time.monotonic() - t0 < seconds:
        entry = oc.status().get(sid)
        if entry is None and seen:
            ended_after = round(time.monotonic() - t0, 1)
            break
        if entry is not None and (
            not seen
            or seen[-1]["status"].get("attempt") != entry.get("attempt")
            or seen[-1]["status"].get("type") != entry.get("type")
        ):
            shown = dict(entry)
            if "next" in shown:
                shown["next_in_s"] = round((shown.pop("next") - time.time() * 1000) / 1000, 1)
            seen.append({"t": round(time.monotonic() - t0, 1), "status": shown})
        time.sleep(0.25)
    out: dict[str, Any] = {"statuses": seen, "ended_after_s": ended_after}
    if ended_after is None:
        oc.request("POST", f"/session/{sid}/abort")
        h.wait_until(lambda: not oc.is_busy(sid), timeout=20, what="overloaded aborted")
    out["error"] = [
        m["info"].get("error", {}).get("name") for m in oc.messages(sid) if m["info"]["role"] == "assistant"
    ]
    return out


def probe_permission(sb: h.Sandbox, oc: h.OpenCode) -> dict[str, Any]:
    sid = oc.create_session()
    oc.prompt_async(sid, "QUICK check")
    query = "?" + urllib.parse.urlencode({"directory": str(sb.project)})
    listed: Any = None
    status_code = None

    def asking() -> Any:
        nonlocal listed, status_code
        status_code, listed = h.http_json("GET", oc.url + "/permission" + query)
        return (
            [p for p in listed if p.get("sessionID") == sid]
            if status_code == 200 and isinstance(listed, list)
            else None
        )

    out: dict[str, Any] = {}
    try:
        found = h.wait_until(asking, timeout=20, what="permission listed")
        out["listed"] = found[0]
    except h.HarnessError:
        out["listed"] = None
        out["permission_route"] = status_code
    part = [p for p in h.db_tool_parts(sb.db_path, sid)]
    out["part_status_while_asking"] = [p["state"]["status"] for p in part]
    out["session_status_while_asking"] = oc.status().get(sid)
    routes = []
    if out["listed"]:
        pid = out["listed"]["id"]
        code, body = h.http_json("POST", oc.url + f"/permission/{pid}/reply" + query, {"reply": "reject"})
        routes.append({"route": "POST /permission/{id}/reply", "status": code})
        if code == 404 or code >= 400:
            code, body = h.http_json(
                "POST", oc.url + f"/session/{sid}/permissions/{pid}" + query, {"response": "reject"}
            )
            routes.append({"route": "POST /session/{sid}/permissions/{pid}", "status": code})
    out["reply_routes"] = routes
    try:
        h.wait_until(lambda: not oc.is_busy(sid), timeout=20, what="idle after reject")
        out["idle_after_reject"] = True
    except h.HarnessError:
        out["idle_after_reject"] = False
        oc.request("POST", f"/session/{sid}/abort")
    tools = [p for p in h.db_tool_parts(sb.db_path, sid)]
    out["tool_after"] = [(p["state"]["status"], p["state"].get("error")) for p in tools]
    code, _ = h.http_json("GET", oc.url + "/question" + query)
    out["question_route"] = code
    return out


def probe_release(release: str, root: Path, model: h.FakeModel, overloaded_s: float) -> dict[str, Any]:
    binary = h.ensure_opencode(release)
    result: dict[str, Any] = {}
    sb = h.Sandbox(root / release, model)
    try:
        configure(sb)
        oc = sb.start_opencode(binary)
        code, doc = h.http_json("GET", oc.url + "/doc")
        paths = sorted((doc or {}).get("paths", {})) if code == 200 and isinstance(doc, dict) else []
        result["routes"] = {
            p: (p in paths)
            for p in (
                "/session/status",
                "/event",
                "/global/event",
                "/permission",
                "/permission/{requestID}/reply",
                "/question",
                "/session/{sessionID}/abort",
            )
        }
        result["doc_status"] = code
        events = EventLog(oc)
        time.sleep(1)
        result["stall"] = probe_stall(sb, oc, events)
        result["slow"] = probe_slow(sb, oc, events)
        result["overloaded"] = probe_overloaded(oc, overloaded_s)
        result["event_stream_error"] = events.error
        events.stop()
        oc.kill()
        configure(sb, ask_bash=True)
        oc = sb.start_opencode(binary)
        result["permission"] = probe_permission(sb, oc)
        oc.kill()
    finally:
        sb.kill_all()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="append", help="a release (default: every E2E release)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--overloaded-seconds", type=float, default=90.0)
    args = parser.parse_args(argv)
    releases = args.release or list(E2E_RELEASES)
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ocinspect-probe-") as tmp, h.FakeModel() as model:
        for release in releases:
            started = time.monotonic()
            try:
                found[release] = probe_release(release, Path(tmp), model, args.overloaded_seconds)
            except h.HarnessError as exc:
                found[release] = {"error": str(exc)[-3000:]}
            found[release]["probe_seconds"] = round(time.monotonic() - started, 1)
            print(f"{release}: {found[release]['probe_seconds']} s", file=sys.stderr)
    text = json.dumps(found, indent=1, sort_keys=True, default=str) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

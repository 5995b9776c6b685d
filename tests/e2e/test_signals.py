"""Issue 18: every live hang shape, read from OpenCode's own signals, stopped or answered through it.

Real ``opencode serve`` with the scripted model (``harness.FakeModel``) and the provider's
``chunkTimeout`` at 3000 ms:

- ``STALL``: a little text, then nothing, the connection open — OpenCode times the stream out,
  says ``retry`` "SSE read timed out", restarts the step and stalls again, forever;
- ``SLOW``: a healthy reply of one word a second for 40 s (no row moves while it streams);
- ``OVERLOADED``: HTTP 503 on every model call (OpenCode retries 5 times, then ``APIError``);
- ``RATELIMIT``: HTTP 429 on every model call (retried like 503);
- ``QUICK`` (bash ``echo ok``, the one command behind ``"ask"``): a bash behind a permission prompt.

``SIGNALS`` says which release publishes what (measured with ``probe_signals.py``; the table in
NOTES.md): the model-stalled and waiting proofs run on every release that has the signal.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from . import harness as h
from .test_e2e import assert_new_prompt_completes, explain, run_cli
from .test_hung import (
    Watch,
    assert_closed_by_opencode,
    assert_rows_equal_newest_events,
    run_here,
    scan,
    scan_here,
    scan_until,
    signals_server,
)

pytestmark = pytest.mark.e2e

# What each release publishes (measured with probe_signals.py; the table in NOTES.md):
# "stall-retry": a stalled stream becomes status retry "SSE read timed out" and a restarted step,
#   forever (1.2/1.3/1.14 instead end the turn with an UnknownError after the chunk timeout);
# "retry-status": HTTP 503 gives status retry objects with attempt, message and next;
# "permission": GET /permission lists the pending prompt with its tool, POST /permission/{id}/reply
#   answers it; "question": the question tool runs in `serve`, GET /question lists it and POST
#   /question/{id}/reject dismisses it (tool error "The user dismissed this question"; 1.2.27:
#   "QuestionRejectedError(…)"), the turn then ends with finish "tool-calls"; "event-log": the database keeps the sync event log (1.18);
# HTTP 429 is retried like 503 on every release (status retry, backoff 2, 4, 8, 16 s…).
_EVERYWHERE = frozenset({"retry-status", "permission", "question"})
SIGNALS: dict[str, frozenset[str]] = {
    "1.2.27": _EVERYWHERE,
    "1.3.2": _EVERYWHERE,
    "1.14.41": _EVERYWHERE,
    "1.15.13": _EVERYWHERE | {"stall-retry"},
    "1.18.14": _EVERYWHERE | {"stall-retry", "event-log"},
    "1.18.33": _EVERYWHERE | {"stall-retry", "event-log"},
}


def releases_with(signal_name: str, present: bool = True) -> list[str]:
    return [r for r, found in SIGNALS.items() if (signal_name in found) == present]


def start(sb: h.Sandbox, oc: h.OpenCode, prompt: str) -> str:
    sid = oc.create_session()
    oc.prompt_async(sid, prompt)
    h.wait_until(lambda: oc.is_busy(sid), timeout=30, what=f"{sid} busy", on_timeout=lambda: oc.describe(sid))
    return sid


def ended_turn(oc: h.OpenCode, sid: str) -> dict[str, Any] | None:
    """The session's one assistant message once it carries an error or a completed time."""
    (turn,) = [m for m in oc.messages(sid) if m["info"]["role"] == "assistant"]
    info = turn["info"]
    return turn if info.get("error") or info.get("time", {}).get("completed") else None


def wait_status(oc: h.OpenCode, sid: str, predicate: Any, *, timeout: float, what: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        entry = oc.status().get(sid)
        return entry if entry and predicate(entry) else None

    return h.wait_until(found, timeout=timeout, interval=0.25, what=what, on_timeout=lambda: oc.describe(sid))


def wait_verdict(
    sb: h.Sandbox, oc: h.OpenCode, sid: str, verdict: str, hung_after: str, *, timeout: float
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Scan (``--hung-after``) until ``sid`` has ``verdict``: its JSON entry and that scan (a real
    process's, once the polls in this process saw it)."""
    found, proc = scan_until(
        sb,
        lambda found: sid in found and found[sid]["verdict"] == verdict,
        "--hung-after",
        hung_after,
        timeout=timeout,
        what=f"{verdict} verdict",
        on_timeout=lambda: oc.describe(sid),
    )
    return found[sid], proc


def events_invariant(sb: h.Sandbox, release: str, sids: list[str]) -> None:
    if "event-log" in SIGNALS.get(release, frozenset()):
        assert_rows_equal_newest_events(sb.db_path, sids)


@pytest.mark.parametrize("release", releases_with("stall-retry"))
def test_stalled_model_is_hung_and_stopped_by_recover(
    pooled: h.ServerPool, opencode_release: Any, release: str
) -> None:
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "STALL please")

    # Young: live, whatever the status says (once a scan lists it: OpenCode reports the session
    # busy a moment before it writes the turn's first row).
    def listed() -> tuple[dict[str, dict[str, Any]], subprocess.CompletedProcess[str]] | None:
        found, ran = scan_here(sandbox, "--hung-after", "60s")
        return (found, ran) if sid in found else None

    sessions, proc = h.wait_until(listed, timeout=30, what=f"{sid} listed", on_timeout=lambda: oc.describe(sid))
    assert sessions[sid]["verdict"] == "live", explain(proc)
    assert sessions[sid]["opencode_status"]["status"]["type"] in ("busy", "retry"), explain(proc)

    # OpenCode times the stream out and restarts the step: rows move, yet it gets nowhere.
    wait_status(oc, sid, lambda s: s.get("type") == "retry", timeout=30, what="the first retry")

    found, proc = wait_verdict(sandbox, oc, sid, "hung", "5s", timeout=60)
    assert found["hang"] == "model-stalled", explain(proc)
    assert found["idle_ms"] >= 5000, explain(proc)
    reason = found["verdict_reason"]
    assert "SSE read timed out" in reason or "restarted" in reason, explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)
    text = sandbox.ocinspect("scan", "--hung-after", "5s")
    assert f"ocinspect recover {sid} --abort-hung" in text.stdout, explain(text)

    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--abort-hung", "--hung-after", "5s", "--json")
    assert rc == 0, explain(proc)
    (aborted,) = data["aborted"]
    assert aborted["id"] == sid and aborted["stopped"] is True, explain(proc)
    assert data["parts_repaired"] == 0 and data["messages_completed"] == 0, explain(proc)  # OpenCode did it
    msgs = assert_closed_by_opencode(oc, sid)
    assistants = [m for m in msgs if m["info"]["role"] == "assistant"]
    assert assistants and all(m["info"].get("time", {}).get("completed") for m in assistants), oc.describe(sid)
    events_invariant(sandbox, release, [sid])
    rc, data, proc = run_here(sandbox, "scan", "--json", "--hung-after", "5s")
    assert rc == 0 and data["sessions"] == [], explain(proc)
    assert_new_prompt_completes(oc, sid)


@pytest.mark.parametrize("release", releases_with("stall-retry", present=False))
def test_a_stalled_stream_ends_the_turn_by_itself_on_older_releases(
    pooled: h.ServerPool, opencode_release: Any, release: str
) -> None:
    """Where a stall does not loop (measured: the turn ends with an error after the chunk
    timeout), ocinspect never calls it hung and, once it ended, finds nothing stuck."""
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "STALL please")
    sessions, proc = scan_here(sandbox, "--hung-after", "60s")
    assert sid not in sessions or sessions[sid]["verdict"] == "live", explain(proc)
    h.wait_until(
        lambda: not oc.is_busy(sid), timeout=30, what="the stalled turn to end", on_timeout=lambda: oc.describe(sid)
    )
    # OpenCode may report the session idle a moment before it writes the turn's end (seen on
    # 1.14.41 in CI): wait for the row, not only the status.
    turn = h.wait_until(
        lambda: ended_turn(oc, sid),
        timeout=15,
        what="the stalled turn's end written",
        on_timeout=lambda: oc.describe(sid),
    )
    assert turn["info"].get("error"), oc.describe(sid)
    rc, data, proc = run_cli(sandbox, "scan", "--json", "--hung-after", "1s")
    assert rc == 0 and data["sessions"] == [], explain(proc)
    assert_new_prompt_completes(oc, sid)


def unanswered(entry: dict[str, Any]) -> bool:
    """``unknown`` because OpenCode did not answer ocinspect's status request in time: seen when
    a loaded machine starves the server for seconds; no verdict at all, so not a wrong one."""
    return entry["verdict"] == "unknown" and "did not answer" in entry["verdict_reason"]


def test_watch_stops_a_stalled_model_and_leaves_a_slow_reply(pooled: h.ServerPool, opencode_bin: Path) -> None:
    """``watch --abort-hung-after 5s`` beside a healthy slow reply (a word a second for 20 s, no
    row written meanwhile) and a stalled stream: it stops the stall only; the slow reply is
    ``live`` to a one-shot ``scan --hung-after 5s`` the whole time and finishes by itself."""
    sandbox, oc = signals_server(pooled, opencode_bin)
    with Watch(sandbox, "--abort-hung-after", "5s") as watch:
        slow = start(sandbox, oc, "SLOW please")
        started = time.monotonic()
        stall = start(sandbox, oc, "STALL please")
        seen: list[tuple[float, str]] = []  # (seconds into the reply, verdict) of every scan
        # until the slow reply ends by itself; the deadline only bounds a machine under load, where
        # OpenCode takes longer than the model's 20 s to stream it
        while time.monotonic() - started < h.SLOW_WORDS * 3 and oc.is_busy(slow):
            watch.collect(1.0)
            sessions, proc = scan_here(sandbox, "--hung-after", "5s")
            if slow in sessions and not unanswered(sessions[slow]):
                seen.append((time.monotonic() - started, sessions[slow]["verdict"]))
                assert sessions[slow]["verdict"] == "live", explain(proc)
        took = time.monotonic() - started
        assert not oc.is_busy(slow), oc.describe(slow)
        assert took >= h.SLOW_WORDS - 5, f"the slow reply ended after {took:.0f}s"
        # scanned while its silence was twice --hung-after, however slow each scan is on this machine
        assert len([at for at, _ in seen if at >= 10]) >= 2, seen
        msgs = oc.wait_turn_complete(slow, timeout=30)
        last = [m for m in msgs if m["info"]["role"] == "assistant"][-1]
        assert last["info"].get("finish") == "stop", oc.describe(slow)
        assert not [e for e in watch.events if e.get("id") == slow and e.get("event") == "aborted"], watch.events

        (event,) = watch.until(lambda e: e.get("id") == stall and e.get("event") == "aborted", timeout=40)
        assert event["stopped"] is True and event["idle_ms"] >= 5000, watch.events
        assert_closed_by_opencode(oc, stall)
    assert watch.proc.returncode == 0, (watch.proc.returncode, watch.stderr)
    assert_rows_equal_newest_events(sandbox.db_path, [slow, stall])
    assert_new_prompt_completes(oc, stall)


def assert_retrying_and_left_alone(sb: h.Sandbox, oc: h.OpenCode, sid: str, *, attempt: int) -> dict[str, Any]:
    """At retry ``attempt``, well before ``--hung-after``: ``live``, the reason says it retries,
    and ``recover --all --abort-hung`` stops nothing. Returns the session's scan entry."""
    wait_status(
        oc,
        sid,
        lambda s: s.get("type") == "retry" and (s.get("attempt") or 0) >= attempt,
        timeout=30,
        what=f"retry attempt {attempt}",
    )

    # Between two retries OpenCode reports the attempt in flight as plain ``busy``; on a loaded
    # machine one scan can land there. Scan until it sees the retry (well inside --hung-after).
    def retrying() -> tuple[dict[str, Any], subprocess.CompletedProcess[str]] | None:
        sessions, ran = scan_here(sb, "--hung-after", "120s")
        entry = sessions[sid]
        seen = entry["verdict"] != "live" or entry["opencode_status"]["status"]["type"] == "retry"
        return (entry, ran) if seen else None

    found, proc = h.wait_until(
        retrying, timeout=60, interval=0.5, what="a scan that sees the retry", on_timeout=lambda: oc.describe(sid)
    )
    assert found["verdict"] == "live", explain(proc)
    assert found["opencode_status"]["status"]["type"] == "retry", explain(proc)
    assert "retrying, attempt" in found["verdict_reason"], explain(proc)
    rc, data, proc = run_here(sb, "recover", "--all", "--yes", "--abort-hung", "--hung-after", "120s", "--json")
    assert data["aborted"] == [], explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)
    return found


def assert_retry_loop_stopped(sb: h.Sandbox, oc: h.OpenCode, sid: str, *, attempt: int, hung_after: str) -> None:
    """Once OpenCode is at retry ``attempt`` (past ``hung_after`` with nothing kept), the session is a
    retry loop, and ``recover --abort-hung`` stops it through OpenCode, which closes the turn."""
    wait_status(
        oc,
        sid,
        lambda s: s.get("type") == "retry" and (s.get("attempt") or 0) >= attempt,
        timeout=40,
        what=f"retry attempt {attempt}",
    )
    found, proc = wait_verdict(sb, oc, sid, "hung", hung_after, timeout=30)
    assert found["hang"] == "retry-loop", explain(proc)
    rc, data, proc = run_cli(sb, "recover", sid, "--yes", "--abort-hung", "--hung-after", hung_after, "--json")
    assert rc == 0 and data["aborted"][0]["stopped"] is True, explain(proc)
    assert_closed_by_opencode(oc, sid)


@pytest.mark.parametrize("release", releases_with("retry-status"))
def test_retrying_on_503_says_so_and_is_not_stopped_early(
    pooled: h.ServerPool, opencode_release: Any, release: str
) -> None:
    """HTTP 503 on every call: OpenCode retries with growing backoff (2, 4, 8, 16, 32 s). While
    it retries the reason says so; before ``--hung-after`` nothing is stopped; past it, it is a
    retry loop and the abort goes through OpenCode. The first three failures ask for a 1 s
    retry (``retry-after-ms``): attempt 4 comes after 3 s instead of 14 s, and then OpenCode's
    own 16 s backoff holds it there while ocinspect looks."""
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "OVERLOADED please RETRY_AFTER_MS=1000x3")
    found = assert_retrying_and_left_alone(sandbox, oc, sid, attempt=2)
    assert "The model is overloaded" in found["verdict_reason"], found
    text = sandbox.ocinspect("scan", "--hung-after", "120s")
    assert "retrying, attempt" in text.stdout, explain(text)

    # Past --hung-after with no kept output, still retrying: a retry loop, stopped through OpenCode.
    # attempt 4 is at least 3 s (three 1 s delays) after the turn's rows last moved
    assert_retry_loop_stopped(sandbox, oc, sid, attempt=4, hung_after="2s")
    events_invariant(sandbox, release, [sid])
    assert_new_prompt_completes(oc, sid)


@pytest.mark.parametrize("release", releases_with("retry-status"))
def test_a_rate_limit_is_retrying_then_a_retry_loop(pooled: h.ServerPool, opencode_release: Any, release: str) -> None:
    """HTTP 429 on every call: while OpenCode retries the reason says so and nothing is stopped
    before ``--hung-after``. Every release retries 429 like 503, with backoff 2, 4, 8, 16 s… (it
    did not give up within 60 s on any of them, measured), so past ``--hung-after`` it is a retry
    loop, stopped through OpenCode. The first two failures ask for a 1.5 s retry
    (``retry-after-ms``): attempt 3 comes after 3 s instead of 6 s, then waits OpenCode's 8 s."""
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "RATELIMIT please RETRY_AFTER_MS=1500x2")
    assert_retrying_and_left_alone(sandbox, oc, sid, attempt=1)
    # attempt 3 is at least 3 s (two 1.5 s delays) after the turn's rows last moved
    assert_retry_loop_stopped(sandbox, oc, sid, attempt=3, hung_after="2s")
    events_invariant(sandbox, release, [sid])


@pytest.mark.parametrize("release", releases_with("permission"))
def test_permission_prompt_is_waiting_and_rejected_from_the_cli(
    pooled: h.ServerPool, opencode_release: Any, release: str
) -> None:
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "QUICK check")

    h.wait_until(
        lambda: scan_here(sandbox, "--hung-after", "1s")[0].get(sid, {}).get("verdict") == "waiting",
        timeout=30,
        interval=0.5,
        what="waiting verdict",
        on_timeout=lambda: oc.describe(sid),
    )
    time.sleep(1.5)
    sessions, proc = scan(sandbox, "--hung-after", "1s")
    found = sessions[sid]
    assert found["verdict"] == "waiting", explain(proc)  # never hung, however long it waits
    (pending,) = found["opencode_status"]["pending"]
    assert pending["kind"] == "permission" and pending["permission"] == "bash", explain(proc)
    assert pending["patterns"] == ["echo ok"], explain(proc)
    assert pending["command"] in ("echo ok", None), explain(proc)  # metadata.command: 1.18 only
    assert pending["since"], explain(proc)
    assert "echo ok" in found["verdict_reason"], explain(proc)
    text = sandbox.ocinspect("scan", "--hung-after", "1s")
    assert "echo ok" in text.stdout and "--reject-waiting" in text.stdout, explain(text)

    # Abort-hung does not touch it; recover without --reject-waiting refuses with the hint.
    rc, data, proc = run_here(sandbox, "recover", "--all", "--yes", "--abort-hung", "--hung-after", "1s", "--json")
    assert rc == 3 and data["aborted"] == [], explain(proc)
    assert [s["hint"] for s in data["skipped"] if s["id"] == sid] == ["reject-waiting"], explain(proc)
    assert oc.is_busy(sid), oc.describe(sid)

    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--reject-waiting", "--json")
    assert rc == 0, explain(proc)
    (answer,) = data["answered"]
    assert answer["answer"] == "reject" and answer["sent"] is True and answer["settled"] is True, explain(proc)
    assert data["parts_repaired"] == 0, explain(proc)  # OpenCode closed the tool itself

    # OpenCode finishes the turn itself: the tool is an error "rejected", the turn completes.
    msgs = oc.wait_turn_complete(sid, timeout=30)
    (tool,) = [p for m in msgs for p in m["parts"] if p.get("type") == "tool"]
    assert tool["state"]["status"] == "error" and "rejected" in tool["state"]["error"].lower(), oc.describe(sid)
    assert_closed_by_opencode(oc, sid)
    events_invariant(sandbox, release, [sid])
    rc, data, proc = run_here(sandbox, "scan", "--json")
    assert rc == 0 and data["sessions"] == [], explain(proc)
    assert_new_prompt_completes(oc, sid)


@pytest.mark.parametrize("release", releases_with("question"))
def test_a_question_nobody_answers_is_waiting_and_dismissed_from_the_cli(
    pooled: h.ServerPool, opencode_release: Any, release: str
) -> None:
    sandbox, oc = signals_server(pooled, opencode_release(release))
    sid = start(sandbox, oc, "ASKME please")

    found, proc = wait_verdict(sandbox, oc, sid, "waiting", "1s", timeout=30)
    (pending,) = found["opencode_status"]["pending"]
    assert pending["kind"] == "question" and pending["question"] == "Deploy to production?", explain(proc)
    assert "Deploy to production?" in found["verdict_reason"], explain(proc)
    rc, data, proc = run_cli(sandbox, "recover", sid, "--yes", "--reject-waiting", "--json")
    assert rc == 0, explain(proc)
    (answer,) = data["answered"]
    assert answer["kind"] == "question" and answer["sent"] is True and answer["settled"] is True, explain(proc)
    h.wait_until(lambda: not oc.is_busy(sid), timeout=20, what="idle after the dismissal")
    msgs = assert_closed_by_opencode(oc, sid)
    (tool,) = [p for m in msgs for p in m["parts"] if p.get("type") == "tool"]
    assert tool["tool"] == "question" and tool["state"]["status"] == "error", oc.describe(sid)
    assert "dismissed" in tool["state"]["error"] or "QuestionRejected" in tool["state"]["error"], oc.describe(sid)
    events_invariant(sandbox, release, [sid])
    rc, data, proc = run_here(sandbox, "scan", "--json")
    assert rc == 0 and data["sessions"] == [], explain(proc)
    assert_new_prompt_completes(oc, sid)


def test_watch_rejects_an_unanswered_prompt_after_the_delay(pooled: h.ServerPool, opencode_bin: Path) -> None:
    """``watch --reject-waiting-after 3s``: the prompt nobody answers is rejected through OpenCode,
    and never allowed."""
    sandbox, oc = signals_server(pooled, opencode_bin)
    with Watch(sandbox, "--reject-waiting-after", "3s") as watch:
        sid = start(sandbox, oc, "QUICK check")
        mine = watch.until(
            lambda e: sid in (e.get("session_id"), e.get("id")) and e["event"] != "finding", timeout=30, step=0.5
        )
        assert mine, watch.events
        assert all(e.get("answer") != "once" for e in watch.events), watch.events
        msgs = oc.wait_turn_complete(sid, timeout=30)
        (tool,) = [p for m in msgs for p in m["parts"] if p.get("type") == "tool"]
        assert tool["state"]["status"] == "error" and "rejected" in tool["state"]["error"].lower(), oc.describe(sid)
    assert watch.proc.returncode == 0, watch.stderr
    assert_rows_equal_newest_events(sandbox.db_path, [sid])
    print(json.dumps(mine))

"""Follow OpenCode's event stream: when did each busy session last make progress?

A streaming reply writes no row until it ends (measured on 1.18.33: the text part's
``time_updated`` stays at the step's start); its text reaches clients as events on
``GET /event``. Watch mode and the TUI keep one subscription per server and directory (OpenCode
routes ``/event`` to the instance of one directory), each in a daemon thread:

- **bounded**: it keeps only the newest progress time per session (at most ``MAX_SESSIONS``);
  a dropped stream is reopened with exponential backoff (``BACKOFF_S`` … ``BACKOFF_MAX_S``).
  A stream never ends, so no deadline for the whole exchange fits it: connecting and the
  headers get the client's deadline, then each event must be whole within ``READ_TIMEOUT_S``
  of the one before (bytes trickled without an end do not keep it alive) and at most
  ``client.MAX_EVENT_BYTES`` long; either failure drops the stream (then the backoff);
- **O(events)**: one JSON parse per event (``client.events``), a dict write for those that count;
  read in batches (``BATCH_S``) so a busy server costs a few wake-ups a second, not one per event.

What counts as progress (1.18.33's event names; a release that sends none simply adds nothing):
``message.part.delta`` and ``session.next.{text,reasoning,tool.input}.delta`` with a non-empty
delta, ``session.next.tool.progress``, and ``message.part.updated`` of a tool part or of a
text/reasoning part that holds text. Not: an updated ``step-start``/``step-finish`` or an empty
text part — exactly what a stalled model stream writes at every restart. Both the plain shape
(``{"type", "properties"}``) and ``/global/event``'s (``{"directory", "payload"}``) are read.

OpenCode 2 servers (``LiveStatus.streams``) are followed the same way on ``GET /api/event``
(one stream per server: its routes are global), read by ``v2_signals.progress_of``.

The one-shot ``scan`` does not subscribe: rows and ``/session/status`` decide there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from inspector.core.model import LiveStatus
from inspector.core.text import now_ms

# Events are read in batches: once the stream is caught up (a read had to wait), the next event
# wakes the thread, and it then sleeps this long so that what follows piles up in the socket
# buffer and is read with few wake-ups (a streaming reply sends ~50 deltas a second). Progress is
# then known up to this much late: nothing for thresholds of seconds to minutes.
BATCH_S = 0.25
_WAITED_S = 0.002  # a read that took longer than this waited for the server
BACKOFF_S = 0.5
BACKOFF_MAX_S = 30.0
READ_TIMEOUT_S = 60.0  # a stream silent this long is reopened (OpenCode sends heartbeats)
MAX_SESSIONS = 10_000
# A stream just asked for has not shown anything yet: a session that looks hung is not stopped
# on the strength of rows alone until its server's stream had this long to show progress.
WARMUP_S = 5.0
_DELTAS = (
    "message.part.delta",
    "session.next.text.delta",
    "session.next.reasoning.delta",
    "session.next.tool.input.delta",
)
_TEXT = ("text", "reasoning")
V2_STREAM = ""  # the directory of a v2 server's key: one stream per port (no session has "" as its directory)


def progress_of(event: Any) -> str | None:
    """The session an event shows progress for, or None (not progress, or not an event)."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("payload"), dict):  # /global/event wraps each event
        event = event["payload"]
    kind = event.get("type")
    body = event.get("properties")
    if not isinstance(body, dict):
        body = event.get("data")
    if not isinstance(kind, str) or not isinstance(body, dict):
        return None
    found = body.get("part")
    part: dict[str, Any] = found if isinstance(found, dict) else {}
    session = body.get("sessionID") or part.get("sessionID")
    if not isinstance(session, str) or not session:
        return None
    if kind in _DELTAS:
        delta = body.get("delta")
        return session if isinstance(delta, str) and delta else None
    if kind == "session.next.tool.progress":
        return session
    if kind == "message.part.updated":
        if part.get("type") == "tool":
            return session
        text = part.get("text")
        if part.get("type") in _TEXT and isinstance(text, str) and text:
            return session
    return None


class Signals:
    """Event subscriptions of one watch (the CLI's ``watch``, the TUI's watch mode).

    :meth:`merge` opens a subscription for every server and directory a liveness answer names
    (and closes those it no longer names), and returns that answer with ``progress`` filled in.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = now_ms,
        backoff_s: float = BACKOFF_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        read_timeout_s: float = READ_TIMEOUT_S,
        max_sessions: int = MAX_SESSIONS,
        warmup_s: float = WARMUP_S,
        batch_s: float = BATCH_S,
    ) -> None:
        self.clock = clock
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.read_timeout_s = read_timeout_s
        self.max_sessions = max_sessions
        self.warmup_s = warmup_s
        self.batch_s = batch_s
        self._opened: dict[tuple[int, str], float] = {}  # when each stream was asked for (monotonic)
        self._heard: dict[tuple[int, str], float] = {}  # when each stream last sent anything (monotonic)
        self._newest: dict[str, int] = {}
        self._lock = threading.Lock()
        self._streams: dict[tuple[int, str], threading.Event] = {}
        self.connects = 0  # streams opened (for tests and the bench)
        self.events_seen = 0

    # the shared state ------------------------------------------------------------------
    def record(self, session_id: str, when: int | None = None) -> None:
        with self._lock:
            self._newest.pop(session_id, None)  # re-insert: dict order is "least recently moved first"
            self._newest[session_id] = self.clock() if when is None else when
            while len(self._newest) > self.max_sessions:
                self._newest.pop(next(iter(self._newest)))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._newest)

    def merge(self, live: LiveStatus) -> LiveStatus:
        """``live`` with the newest progress of its busy sessions; follows its servers."""
        self.follow({(port, directory) for directory, port in live.servers} | {(p, V2_STREAM) for p in live.streams})
        seen = self.snapshot()
        for sid, when in live.progress:  # what the look itself saw (a v2 shell's output)
            seen[sid] = max(seen.get(sid, when), when)
        progress = tuple(sorted((sid, seen[sid]) for sid in live.busy if sid in seen))
        return replace(live, progress=progress) if progress != live.progress else live

    # subscriptions ---------------------------------------------------------------------
    def follow(self, wanted: set[tuple[int, str]] | frozenset[tuple[int, str]]) -> None:
        """Exactly one stream for each (port, directory) in ``wanted``."""
        for key in list(self._streams):
            if key not in wanted:
                self._streams.pop(key).set()
                self._opened.pop(key, None)
                self._heard.pop(key, None)
        for key in sorted(wanted - set(self._streams)):
            stop = threading.Event()
            self._streams[key] = stop
            self._opened[key] = time.monotonic()
            threading.Thread(target=self._run, args=(key, stop), daemon=True, name=f"ocinspect-events-{key[0]}").start()

    def warming(self, port: int | None, directory: str) -> bool:
        """The stream of ``port``/``directory`` was asked for less than ``warmup_s`` ago: it may
        not have shown the progress there is yet. False for a stream never asked for (nothing
        to wait for), and after the warm-up whether or not the server sends events (a release
        without ``/event`` must not block a watch)."""
        if port is None:
            return False
        opened = self._opened.get((port, directory)) or self._opened.get((port, V2_STREAM))
        return opened is not None and time.monotonic() - opened < self.warmup_s

    def silence_s(self) -> float | None:
        """How long the quietest followed stream has sent nothing (heartbeats count), since it
        was asked for if it never did; None when no stream is followed (``watch --metrics``)."""
        now = time.monotonic()
        quiet = [now - self._heard.get(key, opened) for key, opened in list(self._opened.items())]
        return max(quiet, default=None)

    @property
    def following(self) -> set[tuple[int, str]]:
        return set(self._streams)

    def close(self) -> None:
        """Stop every stream (each thread ends at its next event or read timeout)."""
        for stop in self._streams.values():
            stop.set()
        self._streams.clear()
        self._opened.clear()
        self._heard.clear()

    def _run(self, key: tuple[int, str], stop: threading.Event) -> None:
        from inspector.core.opencode import v2_signals
        from inspector.core.opencode.client import ServerClient, ServerError

        port, directory = key
        delay = self.backoff_s
        read = v2_signals.progress_of if directory == V2_STREAM else progress_of
        while not stop.is_set():
            try:
                self.connects += 1
                if directory == V2_STREAM:
                    stream = v2_signals.event_stream(port, read_timeout=self.read_timeout_s)
                else:
                    stream = ServerClient(port).events(directory=directory, read_timeout=self.read_timeout_s)
                try:
                    asked = time.monotonic()
                    for item in stream:
                        if stop.is_set():
                            break
                        waited = time.monotonic() - asked > _WAITED_S
                        self.events_seen += 1
                        self._heard[key] = time.monotonic()
                        delay = self.backoff_s  # it answers: the next drop starts the backoff over
                        session = read(item.data)
                        if session is not None:
                            self.record(session)
                        if waited and self.batch_s > 0:
                            stop.wait(self.batch_s)  # let the next events pile up: one wake-up for many
                        asked = time.monotonic()
                finally:
                    close = getattr(stream, "close", None)
                    if close is not None:
                        close()
            except (ServerError, ValueError, OSError):
                pass
            stop.wait(delay)
            delay = min(self.backoff_max_s, delay * 2)

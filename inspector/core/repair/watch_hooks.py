"""What of a watch goes to ``--exec``: each new finding and each action, as its ``watch --json`` line.

Notices are not handed on (they say how the watch itself fares), nor are the hook's own
problems (a failing hook reporting its failure to itself would loop). The front end makes the
line once, with the same function that prints ``watch --json``: one schema, not two.
"""

from __future__ import annotations

from inspector.core.repair.hook import DEFAULT_HOOK_QUEUE, DEFAULT_HOOK_TIMEOUT_MS, HookRunner
from inspector.core.repair.watchdog import EventKind, WatchEvent

HOOKED: frozenset[EventKind] = frozenset({"finding", "aborted", "not-stopped", "rejected", "not-rejected"})
FAILED: frozenset[EventKind] = frozenset({"not-stopped", "not-rejected", "hook-failed", "hook-timeout", "hook-dropped"})


def subject(event: WatchEvent) -> str | None:
    """The id an event is about: the session found or aborted, the request answered."""
    if event.finding is not None:
        return event.finding.id
    if event.target is not None:
        return event.target.root
    if event.answer is not None:
        return event.answer.request.id
    return None


class WatchHooks:
    """The watch's side of a :class:`HookRunner`: what to hand on, and its problems as events."""

    def __init__(
        self,
        argv: tuple[str, ...],
        *,
        timeout_ms: int = DEFAULT_HOOK_TIMEOUT_MS,
        queue_size: int = DEFAULT_HOOK_QUEUE,
    ) -> None:
        self.runner = HookRunner(argv, timeout_ms=timeout_ms, queue_size=queue_size)

    def hand(self, event: WatchEvent, line: str) -> None:
        """Queue ``line`` (the event's ``watch --json`` line) for the hook when it is a finding or an action."""
        if event.kind in HOOKED:
            self.runner.submit(line, event.kind, subject(event))

    def events(self) -> list[WatchEvent]:
        """The hook's failures, timeouts and drops since the last call, as watch events."""
        return [WatchEvent(p.time, p.kind, p.message, hook=p) for p in self.runner.problems()]

    def close(self) -> list[WatchEvent]:
        """Give queued hooks one timeout to finish, then stop them; what went wrong meanwhile."""
        return [WatchEvent(p.time, p.kind, p.message, hook=p) for p in self.runner.close()]

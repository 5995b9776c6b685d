"""A verdict's reason as a redacted report says it: ocinspect's words around shapes.

``Diagnosis.live_reason`` is written for the person at the terminal: it quotes what OpenCode
said (the command a permission would run, a question, why a model call failed) and what the
database holds (session ids, a hung tool's input). The last scrub only removes what *looks*
secret, so a redacted report says the reason again from the typed facts the diagnosis keeps,
through the same core wording, with every quoted text replaced by its shape (``Redactor``).
"""

from __future__ import annotations

from inspector.core.diagnose.asked import status_words, waiting_reason
from inspector.core.diagnose.patterns import unfixable_reason
from inspector.core.model import Diagnosis, LiveStatus
from inspector.core.text import humanize_ms

from .redact import Redactor

_BUSY = ("live", "waiting", "hung")


def report_reason(diag: Diagnosis, red: Redactor, *, opencode_live: bool | None, now: int) -> str:
    """The reason for ``diag``'s verdict; its own text only when the content was asked for."""
    if red.include_content:
        return diag.live_reason
    status = red.status(diag.opencode_status) if diag.opencode_status is not None else None
    retrying = status is not None and status.type == "retry"
    if diag.verdict == "waiting" and diag.waiting_on:
        asked = [red.request(r) for r in diag.waiting_on]
        words = waiting_reason(asked, now)
        if diag.id not in {r.session_id for r in diag.waiting_on}:  # a subagent of it asks
            words += f" (via {asked[0].session_id})"
        return words
    if diag.verdict == "live" and status is not None and retrying:
        return f"{status_words(status, now)} (OpenCode retries the failed model call itself)"
    if diag.verdict == "hung":
        words = f"hung ({diag.hang or 'no progress'})"
        if diag.idle_ms is not None:
            words += f": OpenCode lists it busy, but nothing has moved for {humanize_ms(diag.idle_ms)}"
        return words + (f"; {status_words(status, now)}" if status is not None and retrying else "")
    if diag.verdict == "unfixable":
        return unfixable_reason(diag.patterns)
    if diag.verdict == "ok":
        return ""
    # stale, unknown, live and waiting without details: the fixed sentences of ``LiveStatus``
    mine = frozenset({diag.id})
    facts = LiveStatus(
        running=opencode_live,
        busy=mine if diag.verdict in _BUSY else frozenset(),
        waiting=mine if diag.verdict == "waiting" else frozenset(),
        unknown_directories=frozenset({""}) if diag.verdict == "unknown" else frozenset(),
    )
    return facts.verdict(diag.id, "")[1]

"""The lines ``ocinspect watch`` prints: one JSON object per event (also what ``--exec`` reads on
its stdin, so the two can never differ), and the text line of a finding."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspector.core.model import Diagnosis
    from inspector.core.repair.watchdog import WatchEvent


def watch_json(event: WatchEvent) -> str:
    """One event as one line of JSON (``docs/reference/json.md``)."""
    from inspector.core.text import iso, safe_json
    from inspector.render import abort_json, answer_json, session_json

    payload: dict[str, object] = {"time": iso(event.time), "event": event.kind}
    if event.finding is not None:
        payload.update(session_json(event.finding, event.time))
    elif event.target is not None:
        payload.update(abort_json(event.target, event.outcome))
    elif event.answer is not None:
        payload.update(answer_json(event.answer.request, event.answer.answer, event.answer))
    else:
        payload["message"] = event.message
    if event.hook is not None:
        hook = event.hook
        payload.update(for_event=hook.for_event, for_id=hook.for_id, exit_code=hook.exit_code, dropped=hook.dropped)
    return safe_json(payload)


def finding_line(diag: Diagnosis) -> str:
    """``hung (tool-silent)  ses_…  "title"  [why]``: one line, database text made printable."""
    from inspector.core.text import printable

    kind = f"{diag.verdict} ({diag.hang})" if diag.hang else diag.verdict
    title = printable(diag.session.title, single_line=True)
    return f'{kind}  {diag.id}  "{title}"  [{printable(diag.live_reason, single_line=True)}]'

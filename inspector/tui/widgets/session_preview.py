"""A few lines under the table about the highlighted session: where, why, what was running."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from inspector.core.model import Diagnosis
from inspector.core.patterns import describe

from ..format import display_path, one_line, part_headline, part_what, verdict_of


def preview_content(diag: Diagnosis | None, *, now: int, recovered: frozenset[str]) -> Content:
    if diag is None:
        return Content("")
    head: list[str | tuple[str, str]] = [
        (one_line(diag.session.title) or "(untitled)", "bold"), "  ",
        (one_line(diag.id), "$foreground-muted"), "  ", display_path(diag.session.directory),
    ]
    lines = [Content.assemble(*head)]
    verdict = verdict_of(diag, recovered)
    if verdict == "recovered":
        lines.append(Content("Recovered by this app: the turn is closed as aborted. Press u to undo."))
    elif not diag.is_stuck:
        lines.append(Content("Nothing is stuck in this session."))
    elif verdict == "hung":
        lines.append(Content.assemble(("Hung in a live OpenCode: ", "bold $error"), one_line(diag.live_reason)))
        lines.append(Content("Press r to abort it through OpenCode (the running tool is killed)."))
    else:
        first = describe(diag.patterns[0])
        lines.append(Content.assemble((first.title + ": ", "bold"), first.why))
        if verdict in ("live", "unknown"):
            lines.append(Content.assemble((f"{verdict}: ", "bold $warning"), one_line(diag.live_reason)))
        for part in diag.stuck_parts[:2]:
            lines.append(Content.assemble(("▸ " + part_headline(part, now), "bold"), "  ", part_what(part)))
        if len(diag.stuck_parts) > 2:
            lines.append(Content(f"  … and {len(diag.stuck_parts) - 2} more stuck tools"))
    return Content("\n").join(lines)


class SessionPreview(Static):
    """Refreshed on every cursor move; ``enter`` opens the full detail."""

    def show(self, diag: Diagnosis | None, *, now: int, recovered: frozenset[str]) -> None:
        self.update(preview_content(diag, now=now, recovered=recovered))

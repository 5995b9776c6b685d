"""A few lines under the table about the highlighted session: where, why, what was running."""

from __future__ import annotations

from typing import Any

from textual.content import Content
from textual.widgets import Static

from inspector.core.diagnose.patterns import describe
from inspector.core.model import Diagnosis, Schema

from ..format import asked_lines, display_path, one_line, part_headline, part_what, verdict_of
from ..keys import KeyName, keyed, namer
from ..state import app_state
from .hanging import Hanging


def preview_content(
    diag: Diagnosis | None, *, now: int, recovered: frozenset[str], key: KeyName, schema: Schema = "v1"
) -> Content:
    if diag is None:
        return Content("")
    head: list[str | tuple[str, str]] = [
        (one_line(diag.session.title) or "(untitled)", "bold"),
        "  ",
        (one_line(diag.id), "$foreground-muted"),
        "  ",
        display_path(diag.session.directory),
    ]
    lines = [Content.assemble(*head)]
    verdict = verdict_of(diag, recovered)
    if verdict == "recovered":
        lines.append(
            keyed("Recovered by this app: the turn is closed as aborted. Press {undo-last-run} to undo.", key, style="")
        )
    elif not diag.is_stuck:
        lines.append(Content("Nothing is stuck in this session."))
    elif verdict == "hung":
        lines.append(Content.assemble(("Hung in a live OpenCode: ", "bold $error"), one_line(diag.live_reason)))
        lines.append(
            keyed("Press {recover-session} to abort it through OpenCode (the running tool is killed).", key, style="")
        )
    elif verdict == "waiting":
        lines.append(
            Content.assemble(
                ("Waiting for your answer in OpenCode: ", "bold $accent"),
                "nothing happens until someone answers; not hung.",
            )
        )
        asked = asked_lines(diag, now)
        lines += [Content.assemble(("▸ ", "bold"), text) for text in asked[:2]]
        if not asked:
            lines.append(Content(one_line(diag.live_reason)))
    else:
        first = describe(diag.patterns[0], schema)
        lines.append(Content.assemble((first.title + ": ", "bold"), first.why))
        if verdict in ("live", "unknown"):
            lines.append(Content.assemble((f"{verdict}: ", "bold $warning"), one_line(diag.live_reason)))
        elif verdict == "unfixable":
            lines.append(Content.assemble(("unfixable: ", "bold $error"), one_line(diag.live_reason)))
        for part in diag.stuck_parts[:2]:
            lines.append(Content.assemble(("▸ " + part_headline(part, now), "bold"), "  ", part_what(part)))
        if len(diag.stuck_parts) > 2:
            lines.append(Content(f"  … and {len(diag.stuck_parts) - 2} more stuck tools"))
    return Content("\n").join(lines)


class SessionPreview(Static):
    """Refreshed on every cursor move; ``enter`` opens the full detail."""

    _drawn: Content | None = None

    def show(self, diag: Diagnosis | None, *, now: int, recovered: frozenset[str], keep_height: bool = False) -> None:
        """``keep_height`` (watch-mode refreshes): never shrink, so the list above keeps its size
        and is not redrawn whole each time the previewed session gains or loses a line."""
        result = app_state(self).scan_result
        schema: Schema = result.schema if result is not None else "v1"
        content = preview_content(diag, now=now, recovered=recovered, key=namer(self.app), schema=schema)
        if content == self._drawn:  # a refresh that changed other sessions costs nothing here
            return
        width = self.content_size.width
        styles: Any = self.styles  # get_height() is annotated RulesMap (a TypedDict); textual documents widget.styles
        old = Hanging(self._drawn).get_height(styles, width) if self._drawn is not None and width > 0 else None
        new = Hanging(content).get_height(styles, width) if width > 0 else None
        if keep_height and old is not None and new is not None and new < old:
            content, new = content + Content("\n" * (old - new)), old
        self._drawn = content
        self.update(Hanging(content), layout=old is None or new != old)  # same height: repaint, no layout

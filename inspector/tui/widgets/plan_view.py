"""A recovery plan in words: every row that will change, from what to what, and what is refused."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import Static

from inspector.core.diagnose.patterns import describe_warning
from inspector.core.model import Plan

from ..format import one_line, plural
from ..keys import KeyName
from .hanging import Hanging

_TABLE_WORDS = {"part": "tool part", "message": "message", "session": "session"}


def plan_summary(plan: Plan, key: KeyName) -> str:
    if plan.is_empty and plan.refused:
        return (
            f"{plural(len(plan.refused), 'session')} refused; nothing will be changed unless you "
            f"tick Force ({key('toggle-force')})."
        )
    if plan.is_empty:
        return "Nothing will be changed."
    sessions = len(plan.session_ids)
    pieces = [plural(plan.parts, "tool part"), plural(plan.messages, "assistant turn")]
    compactions = sum(1 for u in plan.units for c in u.changes if c.table == "session")
    if compactions:
        pieces.append(plural(compactions, "compaction mark"))
    summary = f"{plural(sessions, 'session')} will change: " + ", ".join(pieces) + "."
    if plan.event_count:
        summary += f" {plural(plan.event_count, 'event')} appended to OpenCode's sync log."
    return summary


def plan_content(plan: Plan, titles: Mapping[str, str]) -> Content:  # noqa: C901
    """Units first (one transaction each), then refused sessions, then ones with nothing to do."""

    def name(session_id: str) -> str:
        return one_line(titles.get(session_id) or "(untitled)")

    lines: list[Content] = []
    for unit in plan.units:
        for position, session_id in enumerate(unit.session_ids):
            marker, style = ("▸ ", "bold") if position == 0 else ("  + ", "")
            route = f"  through OpenCode (port {unit.via_port})" if unit.via_port and position == 0 else ""
            lines.append(
                Content.assemble(
                    (marker + name(session_id), style),
                    "  ",
                    (one_line(session_id), "$foreground-muted"),
                    (route, "$success"),
                )
            )
            for change in unit.changes:
                if change.session_id != session_id:
                    continue
                lines.append(
                    Content.assemble(
                        "    ",
                        (one_line(change.summary), "$accent"),
                        (
                            "  " + _TABLE_WORDS.get(change.table, change.table) + " " + one_line(change.row_id),
                            "$foreground-muted",
                        ),
                    )
                )
    for session_id, warning in plan.warnings:
        risk = describe_warning(warning)
        lines.append(
            Content.assemble(
                ("▲ " + name(session_id) + ": " + risk.title, "bold $error"), "  ", (risk.advice, "bold $warning")
            )
        )
    if plan.refused:
        if lines:
            lines.append(Content(""))
        lines.append(Content.styled("Refused (not changed):", "bold $warning"))
        for skip in plan.refused:
            lines.append(Content.assemble("  ✗ ", (name(skip.id), "bold"), " — ", one_line(skip.reason)))
    if plan.nothing_to_do:
        if lines:
            lines.append(Content(""))
        lines.append(Content.styled("Nothing to do:", "bold"))
        for skip in plan.nothing_to_do:
            lines.append(Content.assemble("  • ", (name(skip.id), "bold"), " — ", one_line(skip.reason)))
    return Content("\n").join(lines)


class PlanView(Static):
    """Updated in place when the force toggle re-plans."""

    def show(self, plan: Plan, titles: Mapping[str, str]) -> None:
        self.update(Hanging(plan_content(plan, titles)))

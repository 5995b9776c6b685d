"""Link a stuck ``task`` part to its subagent session when OpenCode wrote no link.

OpenCode 1.2/1.3 keep no ``state.metadata`` on a running ``task`` part, so the part does not
name its child session. The child still has ``session.parent_id`` = the part's session, and it
is created during the part's turn: measured on the real 1.2.27 and 1.3.2, after the assistant
message and 0.1–0.7 s *before* the task part is written. So: among the parent's child sessions
not named by any other task part, created between the start of the part's turn and the next
message of the parent, take the one whose title is OpenCode's ``"<description> (@<agent>
subagent)"`` for this part if any, and of those the closest in time to the part. The link is
marked inferred wherever it is shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from inspector.core.db.reads.judge import ChildSession, JudgeReads, Subagents
from inspector.core.model import Part


def infer_children(reads: JudgeReads, parts: dict[str, Part]) -> dict[str, Part]:
    """``parts`` with inferred ``child_session_id`` on stuck task parts that lack one."""
    unlinked = [p for p in parts.values() if p.tool == "task" and p.child_session_id is None]
    if not unlinked:
        return parts
    return link_children(parts, reads.subagents(unlinked))


def link_children(parts: dict[str, Part], found: Subagents) -> dict[str, Part]:
    """The decision of :func:`infer_children`, over what was read (pure)."""
    unlinked = [p for p in parts.values() if p.tool == "task" and p.child_session_id is None]
    children: dict[str, list[ChildSession]] = defaultdict(list)
    for child in found.children:
        if child.id not in found.claimed:
            children[child.parent_id].append(child)
    if not children:
        return parts
    linked = dict(parts)
    taken: set[str] = set()
    for part in sorted(unlinked, key=lambda p: (p.started or p.time_created, p.id)):
        start = found.turn_start.get(part.message_id, part.time_created)
        end = found.next_turn.get(part.id)
        window = [
            c
            for c in children[part.session_id]
            if c.id not in taken and c.time_created >= start and (end is None or c.time_created < end)
        ]
        description = found.descriptions.get(part.id)
        named = [c for c in window if description and c.title.startswith(f"{description} (@")]
        pool = named or window
        if not pool:
            continue
        anchor = part.started or part.time_created
        child = min(pool, key=lambda c: (abs(c.time_created - anchor), c.id))
        taken.add(child.id)
        linked[part.id] = replace(part, child_session_id=child.id, child_inferred=True)
    return linked

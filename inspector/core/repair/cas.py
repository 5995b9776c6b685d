"""Compare-and-set, the one way ocinspect writes a row: only if it still holds what the plan saw.

Shared by the direct write (``recover``), the write through a running OpenCode (``via_opencode``)
and ``undo``; a row that moved makes its whole unit a :class:`Conflict`, never an overwrite. The
statements themselves are the generation's (``Writes.compare_and_set``); the policy is here.
"""

from __future__ import annotations

from inspector.core.db.writes import Writes
from inspector.core.model import RowChange

LOG_MOVED = "OpenCode appended to this session's event log since the plan was made; OpenCode may be running"


class Conflict(Exception):
    """A row (or a session's log) changed since the plan was made: the unit is skipped whole."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def apply_change(writes: Writes, change: RowChange) -> None:
    """Write ``change``'s after-image over its before-image (a tool must still be stuck), or
    raise :class:`Conflict` saying what the row holds instead."""
    if not writes.compare_and_set(change, source=change.before, target=change.after, guard=True):
        raise Conflict(writes.drift(change))

"""When a scan's front end speaks of the database's health (``scan``, ``show``, the TUI's list):
only while something is stuck, and in words only when the database itself explains a hang.
Decided once here so the CLI and the TUI cannot drift apart; they render what this returns."""

from __future__ import annotations

from inspector.core.health.look import Health
from inspector.core.model import ScanResult


def worth_a_look(result: ScanResult, session_id: str | None = None) -> bool:
    """Whether the health is looked at beside this scan (``session_id``: beside that one session):
    something there is stuck. While nothing hangs, the database's health is no news."""
    if session_id is None:
        return bool(result.stuck)
    diag = result.get(session_id)
    return diag is not None and diag.is_stuck


def hang_notice(result: ScanResult | None, health: Health | None, session_id: str | None = None) -> Health | None:
    """The health to put in words beside the scan, or None: something is stuck and the database
    itself explains the hang (a lock seen held only for a moment is a writer at work: no notice)."""
    if result is None or health is None or not worth_a_look(result, session_id):
        return None
    return health if health.explains_hang else None

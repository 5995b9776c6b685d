"""What keeps a session's turn open besides its rows' statuses: a neutral snapshot.

OpenCode 2 holds a turn with an *execution claim* (``session_v2.time_suspended``), counts the
service's restarts of it, remembers how the last turn ended and keeps undelivered prompts in an
inbox. OpenCode 1 has none of these (its reads answer ``None`` for every session), so the judges
that read a hold never ask which generation wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SessionHold:
    """One session's hold on its current turn, as the database records it."""

    session_id: str
    claimed_at: int | None = None  # the execution claim: set while a turn runs, or crashed running
    resume_attempts: int = 0  # how often a service restarted the current turn
    last_outcome: str | None = None  # how the last finished turn ended: succeeded | failed | interrupted
    inbox: int = 0  # prompts sent and never delivered to the model
    imported: bool = False  # a 1.x session that OpenCode 2 imported in place (it never resumes those)

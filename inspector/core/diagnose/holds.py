"""Judge a session's hold (``db/reads/holds.py``): why its turn stays open and what happens next.

Pure: a hold and what the scan found in the session in, pattern names and one sentence out. The
sentence says what each kind of OpenCode server will do with the session if nobody acts, because
with OpenCode 2 that differs: a plain server never sweeps (the session spins forever) while the
managed service re-runs a crashed root turn at its next boot — calling the model again — up to
``RESUME_BUDGET`` times, and a read-only CLI command is enough to start that service.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.db.reads.holds import SessionHold
from inspector.core.diagnose.pattern_text import Pattern

RESUME_BUDGET = 10  # measured on 2.1.2: boots 2–11 resume (attempts 1…10); the next gives up


@dataclass(frozen=True, slots=True)
class Turn:
    """What the scan found in the session's rows."""

    stuck_tools: tuple[str, ...] = ()  # names of the tools left running/streaming
    unfinished: bool = False  # an assistant turn without its completion time
    is_child: bool = False  # a subagent's session (the service releases, never resumes, those)


@dataclass(frozen=True, slots=True)
class Judgement:
    patterns: tuple[str, ...]
    next: str  # what happens if nobody acts; "" when the hold adds nothing


def judge_hold(hold: SessionHold | None, turn: Turn) -> Judgement:
    """The hold's patterns and its "what happens next" sentence (none for a session without one)."""
    if hold is None:
        return Judgement((), "")
    open_rows = bool(turn.stuck_tools) or turn.unfinished
    patterns: list[str] = []
    if hold.claimed_at is not None:
        patterns.append("claim-orphan" if open_rows else "claim-kept")
    elif open_rows and hold.imported:
        patterns.append("imported-unfinished")
    elif open_rows and hold.last_outcome == "failed" and not turn.is_child:
        patterns.append("exhausted")
    elif open_rows and turn.is_child:
        patterns.append("orphan-child")
    if hold.inbox:
        patterns.append("inbox-stranded")
    return Judgement(tuple(patterns), _next(hold, turn, patterns))


def _next(hold: SessionHold, turn: Turn, patterns: list[str]) -> str:
    where = f"mid-{turn.stuck_tools[0]}" if turn.stuck_tools else "mid-turn"
    waiting = f"; {_prompts(hold.inbox)} undelivered" if hold.inbox else ""
    if "claim-orphan" in patterns or "claim-kept" in patterns:
        what = f"crashed {where}" if "claim-orphan" in patterns else "stopped with its turn still claimed"
        if turn.is_child:
            return (
                f"{what}; a plain server shows it thinking forever; the next service boot releases "
                f"the claim but leaves the turn open, so it stays stuck{waiting}"
            )
        attempt = hold.resume_attempts + 1
        if attempt > RESUME_BUDGET:
            return f"{what}; a plain server shows it thinking forever; the next service boot gives up on it{waiting}"
        return (
            f"{what}; a plain server shows it thinking forever; the next service boot re-runs this "
            f"turn, calling the model again (attempt {attempt} of {RESUME_BUDGET}){waiting}"
        )
    if patterns and patterns[0] in _FOR_GOOD:
        return f"{_FOR_GOOD[patterns[0]]}; no server finishes it, it stays stuck{waiting}"
    if waiting:
        return f"{_prompts(hold.inbox)} undelivered: nothing delivers them until the next prompt"
    return ""


def _prompts(count: int) -> str:
    return "1 prompt waits" if count == 1 else f"{count} prompts wait"


_FOR_GOOD = {
    "orphan-child": "a subagent's turn left running after its parent moved on",
    "exhausted": f"OpenCode gave up resuming it after {RESUME_BUDGET} attempts",
    "imported-unfinished": "imported from OpenCode 1.x with its turn unfinished",
}

HOLD_PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern(
            "claim-orphan",
            "Crashed with its turn claimed",
            "OpenCode stopped while this turn ran and left its execution claim. A plain server "
            "shows the session thinking forever; OpenCode's service re-runs the turn at its next "
            "boot, calling the model again and repeating tool calls nobody asked to repeat.",
            "Close the turn as interrupted, as OpenCode's interrupt does: abort the running tools, "
            "complete the message, release the claim. Nothing re-runs; continue it when you choose.",
        ),
        Pattern(
            "claim-kept",
            "Stopped with its turn claimed",
            "OpenCode's service was stopped while this turn ran: the tools were closed but the "
            "execution claim stayed, so the next service boot re-runs the turn.",
            "Release the claim and record the turn as interrupted; nothing re-runs.",
        ),
        Pattern(
            "orphan-child",
            "Orphaned subagent",
            "A subagent's session still has a running tool, but nothing claims it: its parent "
            "went on without it and no OpenCode server will ever finish it.",
            "Abort the running tool and complete the turn.",
        ),
        Pattern(
            "exhausted",
            "Resume budget used up",
            f"OpenCode's service re-ran this crashed turn {RESUME_BUDGET} times, then gave up "
            '("interrupted repeatedly") and left the last attempt\'s tool running.',
            "Abort the leftover tool and complete the turn (OpenCode already recorded its end).",
        ),
        Pattern(
            "imported-unfinished",
            "Imported unfinished from 1.x",
            "OpenCode 2 imported this 1.x session with its turn unfinished; neither kind of "
            "server resumes or closes it.",
            "Complete the unfinished turn and record it as interrupted.",
        ),
        Pattern(
            "inbox-stranded",
            "Prompts waiting undelivered",
            "Prompts sent while the turn ran are still in the inbox; nothing delivers them until "
            "someone sends this session a new prompt.",
            "Left as they are: they are delivered with your next prompt (ocinspect never drops them).",
        ),
    )
}

"""The hold judge is pure: hand-built holds in, patterns and "what happens next" out (no database)."""

from __future__ import annotations

import pytest

from inspector.core.db.reads.holds import SessionHold
from inspector.core.diagnose.holds import HOLD_PATTERNS, RESUME_BUDGET, Turn, judge_hold

CLAIMED = SessionHold("ses_1", claimed_at=1_700_000_000_000)
SHELL = Turn(stuck_tools=("shell",), unfinished=True)


def test_a_session_without_a_hold_gets_nothing_from_this_judge() -> None:
    assert judge_hold(None, SHELL).patterns == () and judge_hold(None, SHELL).next == ""


def test_a_crash_mid_tool_says_the_service_will_call_the_model_again() -> None:
    judged = judge_hold(CLAIMED, SHELL)
    assert judged.patterns == ("claim-orphan",)
    assert "crashed mid-shell" in judged.next and "thinking forever" in judged.next
    assert f"attempt 1 of {RESUME_BUDGET}" in judged.next and "calling the model again" in judged.next


def test_the_attempt_counts_the_service_s_earlier_restarts() -> None:
    held = SessionHold("ses_1", claimed_at=1, resume_attempts=3)
    assert f"attempt 4 of {RESUME_BUDGET}" in judge_hold(held, SHELL).next
    spent = SessionHold("ses_1", claimed_at=1, resume_attempts=RESUME_BUDGET)
    assert "gives up" in judge_hold(spent, SHELL).next and "attempt" not in judge_hold(spent, SHELL).next


def test_a_claimed_child_is_released_by_the_service_but_stays_stuck() -> None:
    judged = judge_hold(CLAIMED, Turn(stuck_tools=("shell",), unfinished=True, is_child=True))
    assert judged.patterns == ("claim-orphan",) and "re-runs" not in judged.next and "stays stuck" in judged.next


def test_a_claim_kept_by_a_graceful_stop_is_re_run_although_no_row_is_open() -> None:
    judged = judge_hold(CLAIMED, Turn())
    assert judged.patterns == ("claim-kept",) and "re-runs this turn" in judged.next


@pytest.mark.parametrize(
    "hold, turn, pattern",
    [
        (SessionHold("c"), Turn(stuck_tools=("shell",), unfinished=True, is_child=True), "orphan-child"),
        (SessionHold("r", last_outcome="failed"), SHELL, "exhausted"),
        (SessionHold("i", imported=True), Turn(unfinished=True), "imported-unfinished"),
    ],
)
def test_the_shapes_no_server_ever_finishes_say_so(hold: SessionHold, turn: Turn, pattern: str) -> None:
    judged = judge_hold(hold, turn)
    assert judged.patterns == (pattern,) and "stays stuck" in judged.next and "re-runs" not in judged.next


def test_an_unclaimed_root_whose_last_turn_succeeded_adds_no_pattern() -> None:
    assert judge_hold(SessionHold("ok", last_outcome="succeeded"), Turn()).patterns == ()


def test_prompts_left_in_the_inbox_are_named_with_the_crash() -> None:
    judged = judge_hold(SessionHold("q", claimed_at=1, inbox=2), SHELL)
    assert judged.patterns == ("claim-orphan", "inbox-stranded") and "2 prompts wait undelivered" in judged.next
    alone = judge_hold(SessionHold("q", inbox=1), Turn())
    assert alone.patterns == ("inbox-stranded",) and alone.next.startswith("1 prompt waits undelivered")


def test_every_pattern_the_judge_names_is_described() -> None:
    assert set(HOLD_PATTERNS) == {
        "claim-orphan",
        "claim-kept",
        "orphan-child",
        "exhausted",
        "imported-unfinished",
        "inbox-stranded",
    }
    assert all(p.why and p.repair for p in HOLD_PATTERNS.values())

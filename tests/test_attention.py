"""The rule behind ``scan``'s exit code, in core: which verdicts someone has to act on."""

from __future__ import annotations

import pytest

from inspector.core.model import Diagnosis, ScanResult, Session, Verdict


def diagnosis(sid: str, verdict: Verdict, *, stuck: bool = True) -> Diagnosis:
    session = Session(sid, "t", "/p", None, None, None, 0, 0)
    return Diagnosis(session, verdict, ("stuck-tool",) if stuck else ())


def result(*sessions: Diagnosis) -> ScanResult:
    return ScanResult("db", "v1", None, "", sessions, quick=True, scanned_at=0)


@pytest.mark.parametrize(
    "verdict, attention",
    [
        ("stale", True),
        ("hung", True),
        ("unknown", True),
        ("unfixable", False),
        ("live", False),
        ("waiting", False),
        ("ok", False),
    ],
)
def test_one_stuck_session_needs_attention_by_its_verdict(verdict: Verdict, attention: bool) -> None:
    assert result(diagnosis("ses_a", verdict)).needs_attention is attention


def test_nothing_found_and_sessions_not_stuck_need_none() -> None:
    assert result().needs_attention is False
    # --all-sessions lists sessions with no stuck pattern: whatever their verdict, not counted
    assert result(diagnosis("ses_a", "stale", stuck=False)).needs_attention is False


def test_one_session_that_needs_attention_among_others_is_enough() -> None:
    found = result(diagnosis("ses_a", "live"), diagnosis("ses_b", "unfixable"), diagnosis("ses_c", "hung"))
    assert found.needs_attention is True


@pytest.mark.parametrize("verdict, attention", [("stale", False), ("unknown", False), ("hung", True)])
def test_on_a_file_it_will_not_write_only_what_opencode_can_stop_needs_attention(
    verdict: Verdict, attention: bool
) -> None:
    """A 2.x shape not proven: recovery is not offered, so a stale (or, with --force, unknown)
    session is no more actionable than an unfixable one; a hung turn's abort goes through OpenCode."""
    from dataclasses import replace

    from inspector.core.errors import SchemaUnsupported

    refused = replace(result(diagnosis("ses_a", verdict)), write_refusal=SchemaUnsupported("not proven"))
    assert refused.needs_attention is attention

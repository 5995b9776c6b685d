"""Count one look's diagnoses for the metrics: pure, from a fixed set of label values.

Labels stay bounded whatever a database holds: verdicts, patterns, hang and request kinds come
from ocinspect's own tables (a pattern it does not know counts as ``other``); no session id,
title or path ever becomes a label.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import get_args

from inspector.core.diagnose.patterns import PATTERNS
from inspector.core.model import Diagnosis, HangKind

# The verdicts of a session with an unfinished turn (``ok``: nothing stuck, not counted).
VERDICTS = ("stale", "live", "hung", "waiting", "unknown", "unfixable")
# A stuck session leaving with one of these was a problem someone (or something) solved.
PROBLEMS = ("stale", "hung", "unknown", "unfixable")
OTHER = "other"
PATTERN_NAMES = (*PATTERNS, OTHER)
HANG_KINDS: tuple[str, ...] = get_args(HangKind)
WAIT_KINDS = ("permission", "question")  # ``PendingRequest.kind``


@dataclass(frozen=True)
class Tally:
    """What one look saw, counted. ``verdicts`` (session id -> verdict) is for the watch's own
    bookkeeping (which stuck sessions went away), never exported."""

    sessions: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    by_pattern: dict[tuple[str, str], int] = field(default_factory=dict)
    hung: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HANG_KINDS, 0))
    waiting: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WAIT_KINDS, 0))
    oldest_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0.0))
    verdicts: dict[str, str] = field(default_factory=dict)


def tally(diagnoses: Iterable[Diagnosis], now: int) -> Tally:
    """Sessions by verdict, by verdict and pattern, hung by kind, waiting by what is asked, and
    the age of the oldest stuck turn per verdict (seconds since ``stuck_since``, at ``now`` ms)."""
    counted = Tally()
    for diag in diagnoses:
        if not diag.is_stuck or diag.verdict not in counted.sessions:
            continue
        verdict = diag.verdict
        counted.verdicts[diag.id] = verdict
        counted.sessions[verdict] += 1
        for pattern in dict.fromkeys(p if p in PATTERNS else OTHER for p in diag.patterns):
            key = (verdict, pattern)
            counted.by_pattern[key] = counted.by_pattern.get(key, 0) + 1
        if verdict == "hung" and diag.hang in counted.hung:
            counted.hung[diag.hang] += 1
        if verdict == "waiting":
            for kind in {r.kind for r in diag.waiting_on if r.kind in counted.waiting}:
                counted.waiting[kind] += 1
        if diag.stuck_since is not None:
            age = max(0.0, (now - diag.stuck_since) / 1000)
            counted.oldest_s[verdict] = max(counted.oldest_s[verdict], age)
    return counted

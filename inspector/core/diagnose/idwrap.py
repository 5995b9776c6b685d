"""OpenCode's id clock wrap, and the sessions it puts at risk on OpenCode ≤ 1.18.14.

An OpenCode id is ``msg_`` + 12 hex digits of ``(ms * 0x1000 + counter)`` kept to 48 bits + 14
random characters, so the id clock wraps every 2**36 ms (≈ 795 days); the last wrap was
2026-08-14T11:19:55Z. Ids minted before a wrap sort *after* every id minted since. OpenCode up
to 1.18.14 orders a session's messages by id, so in a session that holds such ids a new prompt
is either ignored (the old last reply looks newer) or, when the old last turn did not end with a
normal finish (a crash, an abort, a repair), answered over and over: measured on the real
1.18.14, ~90 model calls in 15 s, every reply answering the *old* prompt. 1.18.15 orders by time.

Two checks, both only when the database was written by OpenCode ≤ 1.18.14 (``session.version``,
newest release seen), so other databases pay one tiny query: sessions holding ids minted before
the wrap are *at risk* (a warning shown before anyone recovers or prompts them), and a loop
that already happened is recognised from its leftovers (the ``ignores-prompts`` pattern).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from inspector.core.db.reads.judge import JudgeReads

ID_PERIOD_MS = 1 << 36
FIXED_IN = (1, 18, 15)
LOOP_MIN_REPLIES = 3
AT_RISK = "id-wrap-risk"

_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def message_id_bound(now: int) -> str:
    """Message ids greater than this sort after every id OpenCode mints at ``now``."""
    return f"msg_{(now % ID_PERIOD_MS) * 0x1000 + 0xFFF:012x}~"


def parse_version(value: str | None) -> tuple[int, int, int] | None:
    """``1.18.14`` -> (1, 18, 14); dev builds (``0.0.0-…``) and anything else -> None."""
    match = _VERSION_RE.match(value or "")
    if not match:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch) if (major, minor, patch) != (0, 0, 0) else None


def affected_writer(versions: Iterable[str | None]) -> str | None:
    """The newest OpenCode release that created a session here, if it still has the bug."""
    parsed = [(v, parse_version(v)) for v in versions]
    known = [(p, v) for v, p in parsed if p is not None]
    if not known:
        return None  # dev builds or no sessions: we cannot tell, so we do not warn
    newest, raw = max(known)
    return raw if newest < FIXED_IN else None


def sessions_at_risk(reads: JudgeReads, session_ids: Sequence[str], now: int) -> set[str]:
    """Sessions holding message ids minted before the last wrap (they sort after new ids)."""
    return reads.sessions_with_turn_ids_above(session_ids, message_id_bound(now))


def loop_leftovers(reads: JudgeReads, now: int) -> dict[str, int]:
    """Sessions where OpenCode already looped: {session id: replies to an older prompt}.

    Reads only messages minted since the wrap (an id range of the primary key)."""
    return reads.loop_replies(message_id_bound(now), LOOP_MIN_REPLIES)

"""Durations typed by people: ``90s``, ``10m``, ``2h``, ``1h30m``, ``500ms``, ``1.5h``."""

from __future__ import annotations

import re

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TERM = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
EXAMPLES = "90s, 10m or 2h"
# Longer than any thinkable wait or hang threshold: a bigger value is a typo (and an absurd one
# would overflow a timer or a float), so it is refused rather than taken literally.
MAX_DURATION_MS = 30 * 86_400_000


def parse_duration(text: str) -> int:
    """Milliseconds for ``text``; raises ``ValueError`` with a message meant for a person.

    A unit is required (``15`` alone is ambiguous: seconds or minutes?); terms add up
    (``1h30m``); the result must be more than zero and at most ``MAX_DURATION_MS`` (30 days).
    """
    compact = str(text).strip().lower().replace(" ", "")
    if not compact:
        raise ValueError(f"empty duration; expected something like {EXAMPLES}")
    total = 0.0
    position = 0
    for match in _TERM.finditer(compact):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS_MS[match.group(2)]
        position = match.end()
    if position != len(compact):
        raise ValueError(f"not a duration: {_shown(text)}; expected something like {EXAMPLES}")
    if total < 1:
        raise ValueError(f"duration must be more than zero: {_shown(text)}")
    if total > MAX_DURATION_MS:  # also catches inf (a number too long for a float)
        raise ValueError(f"duration must be at most {format_duration(MAX_DURATION_MS)}: {_shown(text)}")
    return int(round(total))


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted, cut short: an error line must stay one readable line."""
    text = str(text)
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def format_duration(ms: int) -> str:
    """The shortest text ``parse_duration`` reads back as ``ms`` (``90000`` -> ``1m30s``)."""
    parts = []
    rest = int(ms)
    for unit in ("d", "h", "m", "s", "ms"):
        size = _UNITS_MS[unit]
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0ms"

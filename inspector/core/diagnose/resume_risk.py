"""Which stuck sessions OpenCode 2's service would re-run at its next boot, calling the model again.

Pure, from the diagnoses' patterns: a *root* session whose turn is still claimed (``claim-orphan``
after a crash, ``claim-kept`` after ``opencode service stop``) is resumed by the service's restart
sweep, and any CLI command without ``--standalone`` boots that service. A child's claim is only
released; a session a live server works on is not a crash. ``scan`` names these sessions and
``ocinspect run`` settles them first, so nothing re-runs without the person's consent.
"""

from __future__ import annotations

from collections.abc import Iterable

from inspector.core.model import Diagnosis

CLAIMED = ("claim-orphan", "claim-kept")
# the verdicts of a session no running server works on (a live/hung/waiting one is not a crash)
_LEFT_ALONE = ("stale", "unknown", "unfixable")


def is_claimed(diag: Diagnosis) -> bool:
    """The session's turn still carries OpenCode 2's execution claim."""
    return any(p in diag.patterns for p in CLAIMED)


def reruns_at_boot(diag: Diagnosis) -> bool:
    """The next service boot re-runs this session's turn (the model is called again)."""
    return is_claimed(diag) and diag.session.parent_id is None and diag.verdict in _LEFT_ALONE


def rerun_at_boot(diagnoses: Iterable[Diagnosis]) -> tuple[str, ...]:
    """The ids of the sessions the next service boot would re-run, in the order given."""
    return tuple(d.id for d in diagnoses if reruns_at_boot(d))

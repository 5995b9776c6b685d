"""What the judges read besides the findings: what moved in a chain (hung), children of task
parts, the writer versions (id wrap), a session's timeline."""

from __future__ import annotations

from typing import Protocol


class JudgeReads(Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

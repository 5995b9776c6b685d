"""What a scan reads: unfinished turns and stuck tools (all, in ranges, or of given sessions), the
session rows, and the incremental pair (where the tables end, what changed since)."""

from __future__ import annotations

from typing import Protocol


class ScanReads(Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

"""What repair and report read: the before-images of the rows a plan changes, what changed
after a run (undo), the database's provenance for the report."""

from __future__ import annotations

from typing import Protocol


class RepairReads(Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

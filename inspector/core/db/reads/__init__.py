"""What diagnose, repair and report may read from an OpenCode database: one interface.

Each schema generation implements it once (``db/v1/``; ``db/v2/`` next), so nothing above
``db/`` runs SQL or branches on the generation. A ``Reads`` is bound to one read snapshot
(``Store.reading()``); every method returns frozen snapshots (``core.model``), never rows.
The interface is split by who uses it, so a judge names only the reads it needs and its tests
can hand it a small fake instead of a database.
"""

from __future__ import annotations

from typing import Protocol

from inspector.core.db.reads.judge import JudgeReads
from inspector.core.db.reads.repair import RepairReads
from inspector.core.db.reads.scan import ScanReads

__all__ = ["JudgeReads", "Reads", "RepairReads", "ScanReads"]


class Reads(ScanReads, JudgeReads, RepairReads, Protocol):
    """Everything one read snapshot can answer."""

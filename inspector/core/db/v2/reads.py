"""``Reads`` for OpenCode 2.x: the mixins, one per user of the interface, in one class."""

from __future__ import annotations

from inspector.core.db.v2.judge_reads import V2JudgeReads
from inspector.core.db.v2.repair_reads import V2RepairReads
from inspector.core.db.v2.scan_reads import V2ScanReads


class V2Reads(V2ScanReads, V2JudgeReads, V2RepairReads):
    """Every read of :class:`inspector.core.db.reads.Reads` against OpenCode 2's tables."""

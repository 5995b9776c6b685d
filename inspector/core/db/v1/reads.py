"""``Reads`` for OpenCode 1.x: the mixins, one per user of the interface, in one class."""

from __future__ import annotations

from inspector.core.db.v1.judge_reads import V1JudgeReads
from inspector.core.db.v1.repair_reads import V1RepairReads
from inspector.core.db.v1.scan_reads import V1ScanReads


class V1Reads(V1ScanReads, V1JudgeReads, V1RepairReads):
    """Every read of :class:`inspector.core.db.reads.Reads` against the v1 tables."""

"""The v1 answers to :class:`inspector.core.db.reads.repair.RepairReads`."""

from __future__ import annotations

from inspector.core.db.v1.base import V1Base


class V1RepairReads(V1Base):
    """Mixed into :class:`inspector.core.db.v1.reads.V1Reads`."""

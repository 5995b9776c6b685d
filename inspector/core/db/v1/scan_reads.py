"""The v1 answers to :class:`inspector.core.db.reads.scan.ScanReads`."""

from __future__ import annotations

from inspector.core.db.v1.base import V1Base


class V1ScanReads(V1Base):
    """Mixed into :class:`inspector.core.db.v1.reads.V1Reads`."""

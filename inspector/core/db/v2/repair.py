"""The write side of the OpenCode 2 generation, for ``generation.V2`` to inherit.

``writes`` binds a ``BEGIN IMMEDIATE`` transaction to :class:`V2Writes`; ``plan_unit`` closes a
unit's turns on the plan's snapshot, which must be read through :class:`V2Turns` (the v2 reads
mix it in: it is their ``RowChecks`` as well).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from inspector.core.db.reads import Reads
from inspector.core.model import Diagnosis, PlanUnit

if TYPE_CHECKING:
    from inspector.core.db.store import Store
    from inspector.core.db.writes import Writes


class V2Repair:
    """``Generation.writes`` and ``Generation.plan_unit`` for OpenCode 2."""

    def writes(self, store: Store, conn: Connection) -> Writes:
        from inspector.core.db.v2.writes import V2Writes

        return V2Writes(store, conn)

    def plan_unit(self, reads: Reads, chain: Sequence[Diagnosis], now: int) -> PlanUnit:
        from inspector.core.db.v2.plan import plan_unit
        from inspector.core.db.v2.turns import V2Turns

        if not isinstance(reads, V2Turns):
            raise TypeError("the OpenCode 2 repair plans on the OpenCode 2 reads (which mix in V2Turns)")
        return plan_unit(reads, [d.id for d in chain], now)

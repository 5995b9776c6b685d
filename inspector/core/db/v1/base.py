"""What every v1 read holds: the store (its optional columns) and one read snapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from inspector.core.db.store import Store


class V1Base:
    """One read snapshot of a v1 database; the mixins in ``*_reads.py`` add the questions."""

    def __init__(self, store: Store, conn: Connection) -> None:
        self.store = store
        self.conn = conn

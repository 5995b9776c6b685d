"""How repair and undo write: one interface, implemented once per schema generation (``db/v1/``).

A :class:`Writes` is bound to one ``BEGIN IMMEDIATE`` transaction (:meth:`Writer.transaction`).
It only knows the mechanics of a generation (which statement compares and sets a row, how a
session's event log is continued); what to write, the journal, when a unit is a conflict and
what undo puts back stay generic in ``core/repair/``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from inspector.core.db.generation import Generation
from inspector.core.db.reads.repair import RowChecks
from inspector.core.model import LogCursor, LogEvent, RowChange

if TYPE_CHECKING:
    from inspector.core.db.store import Store, WriteSession


class Writes(RowChecks, Protocol):
    """The writes of one transaction (plus the row checks, answered inside it)."""

    def compare_and_set(
        self, change: RowChange, *, source: Mapping[str, Any], target: Mapping[str, Any], guard: bool
    ) -> bool:
        """Write ``target`` into ``change``'s row only where it still holds ``source``; ``guard``
        also asks a tool to be still pending/running. False: nothing was written."""

    def append_log(self, events: Sequence[LogEvent], cursors: Mapping[str, LogCursor]) -> bool:
        """Advance each session's log cursor by compare-and-set and add ``events``; False when a
        cursor moved since it was read (the caller rolls the transaction back)."""


def generation_of(store: Store) -> Generation:
    """The generation that reads and writes ``store``, or the error that says why none does."""
    return store.require_writable()


class Writer:
    """A run's write connection: one ``BEGIN IMMEDIATE`` transaction per unit."""

    def __init__(self, store: Store, session: WriteSession) -> None:
        self._store = store
        self._session = session

    @contextmanager
    def transaction(self) -> Iterator[Writes]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        generation = generation_of(self._store)
        with self._session.transaction() as conn:
            yield generation.writes(self._store, conn)


@contextmanager
def writing(store: Store) -> Iterator[Writer]:
    """The write side of ``store`` (opened with ``write=True``) for a run of transactions."""
    with store.writer() as session:
        yield Writer(store, session)

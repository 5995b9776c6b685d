"""Is this OpenCode 2 database shaped the way ocinspect proved its reads and writes against?

Columns, not versions: upstream renames columns between releases (``time_suspended`` becomes
``execution_claimed_at`` in a later migration), and a database records no release number of its
own. A database whose columns differ from the proven ones is still diagnosed where the reads it
needs are there, and never written; the message names what differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from inspector.core.db.v2.rows import CLAIM_COLUMNS, claim_column

PROVEN_RELEASE = "2.1.2"

# What the reads use (without them nothing is diagnosed) …
READ: dict[str, frozenset[str]] = {
    "session_v2": frozenset(
        {
            "id",
            "parent_id",
            "directory",
            "title",
            "version",
            "time_created",
            "time_updated",
            "time_idle",
            "idle_outcome",
            "resume_attempts",
        }
    ),
    "session_message": frozenset({"id", "session_id", "type", "seq", "time_created", "time_updated", "data"}),
}
# … and what the repair keeps in step besides (without them nothing is written).
WRITE: dict[str, frozenset[str]] = {"event_sequence": frozenset({"aggregate_id", "seq"})}


@dataclass(frozen=True, slots=True)
class Shape:
    """What ocinspect may do with the database, and why not more."""

    readable: bool
    writable: bool
    differs: tuple[str, ...]  # one phrase per difference from the proven shape, for the user

    def message(self) -> str:
        if not self.differs:
            return ""
        what = "diagnosed where its reads are sound, never written" if self.readable else "not diagnosed"
        return f"its shape differs from OpenCode {PROVEN_RELEASE}'s ({'; '.join(self.differs)}): {what}"


def shape_of(columns: Mapping[str, frozenset[str]]) -> Shape:
    """Compare the database's columns per table (``PRAGMA table_info``) with the proven shape."""
    differs = [_lacks(table, needed, columns) for table, needed in READ.items()]
    claim = claim_column(columns.get("session_v2", frozenset()))
    if claim is None:
        differs.append(f"session_v2 has no execution claim column ({' or '.join(CLAIM_COLUMNS)})")
    readable = not any(differs)
    differs += [_lacks(table, needed, columns) for table, needed in WRITE.items()]
    if claim is not None and claim != CLAIM_COLUMNS[0]:
        differs.append(f"the execution claim is {claim}, not {CLAIM_COLUMNS[0]}")
    found = tuple(d for d in differs if d)
    return Shape(readable, readable and not found, found)


def _lacks(table: str, needed: frozenset[str], columns: Mapping[str, frozenset[str]]) -> str:
    if table not in columns:
        return f"no {table} table"
    missing = needed - columns[table]
    return f"{table} lacks {', '.join(sorted(missing))}" if missing else ""

"""Where a generation's tables end, in one statement: the tracker's watermark, for either schema.

Each generation names the tables the tracker follows in its own words (``message``, ``part``,
``session``…) and says which of its tables holds each; the statement and the snapshot it becomes
are the same for both (see ``diagnose/incremental/tracker.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import TextClause, text

from inspector.core.db.reads.scan import Tail, Where


def where_we_are(tables: Mapping[str, str]) -> TextClause:
    """One statement (one round trip) for the tracker's identity check and resume points: the
    file's counters, per followed table ``t`` (held by ``tables[t]``) its newest row
    (``<t>_rowid``, ``<t>_id``) and the id now at the rowid that was newest (``:<t>_at``)."""
    columns = [
        "(SELECT schema_version FROM pragma_schema_version()) AS schema_version",
        "(SELECT page_count FROM pragma_page_count()) AS page_count",
        "(SELECT page_size FROM pragma_page_size()) AS page_size",
        "(SELECT application_id FROM pragma_application_id()) AS application_id",
    ]
    for t, real in tables.items():
        columns += [
            f"(SELECT max(rowid) FROM {real}) AS {t}_rowid",
            f"(SELECT id FROM {real} ORDER BY rowid DESC LIMIT 1) AS {t}_id",
            f"(SELECT id FROM {real} WHERE rowid = :{t}_at) AS {t}_at",
        ]
    return text("SELECT " + ",\n       ".join(columns))


def params(tables: tuple[str, ...], at: Mapping[str, int]) -> dict[str, int]:
    """The positions to check: the tails of the last watermark (0 for a table not in ``at``)."""
    return {f"{t}_at": at.get(t, 0) for t in tables}


def where_of(row: Any, tables: tuple[str, ...]) -> Where:
    """The statement's one row as the tracker's :class:`Where`."""
    mapping = row._mapping
    return Where(
        schema_version=int(row.schema_version),
        page_count=int(row.page_count),
        page_size=int(row.page_size),
        application_id=int(row.application_id),
        tails={t: Tail(int(mapping[f"{t}_rowid"] or 0), mapping[f"{t}_id"]) for t in tables},
        at={t: mapping[f"{t}_at"] for t in tables},
    )

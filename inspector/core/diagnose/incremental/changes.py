"""The rows that can have changed since a watermark: one reader for both incremental paths.

:mod:`resume` (across processes, both tiers) and :mod:`refresh` (watch mode and the TUI, the
deep tier) bring a set of findings up to date the same way. OpenCode makes a row stuck only
by inserting it and un-sticks only rows that are stuck, and where it keeps its sync event log
every row it writes is named by an event; so, in the caller's snapshot, :func:`read_changes`
reads

- the rows appended since (``rowid`` after the tails of ``message`` and, with ``parts``, ``part``);
- the rows the event log names since its tail, and the ``remembered`` ones, again by id, through
  the same stuck filter as a full scan; with ``versions`` (the ``time_updated`` each known row
  had when it was parsed), a known row whose version did not move is not parsed again.

What is tier- or caller-specific stays with the caller: the quick tier's parts of unfinished
turns, refresh's ``time_updated`` sweep (passed in as more ``remembered`` ids), the session table.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Literal

from inspector.core.db.reads.scan import ScanReads, Stuck
from inspector.core.diagnose.findings import Findings
from inspector.core.diagnose.incremental import tracker

__all__ = ["Changes", "absorb", "read_changes"]

Table = Literal["part", "message"]


@dataclass(frozen=True)
class Changes:
    """What the reader saw besides the findings: the event log's span, and the sessions that got
    new messages or events (only those can have a new newest prompt)."""

    log: tracker.Logged
    touched: frozenset[str]


def read_changes(
    reads: ScanReads,
    before: tracker.Watermarks,
    after: tracker.Watermarks,
    found: Findings,
    *,
    remembered: Mapping[Table, Set[str]],
    parts: bool,
    versions: dict[str, int] | None = None,
) -> Changes:
    """Bring ``found`` from ``before`` to ``after`` (both in ``reads``' snapshot)."""
    log = tracker.logged(reads, before, after)
    touched = set(log.sessions)
    kept = {} if versions is None else versions
    span = tracker.appended(before, after, "message")
    if span is not None:
        absorb(reads.unfinished_turns_appended(span), found, kept)
        touched |= reads.sessions_with_new_turns(span)
    # the turns first: where a tool lives inside its turn's row (2.x), reading the turn again
    # reads its tools too and tells the tool reads where each one is
    _recheck(reads, "message", set(remembered.get("message", ())) | log.messages, found, versions)
    if parts:
        span = tracker.appended(before, after, "part")
        if span is not None:
            absorb(reads.stuck_tools_appended(span), found, kept)
        _recheck(reads, "part", set(remembered.get("part", ())) | log.parts, found, versions)
    return Changes(log=log, touched=frozenset(touched))


def absorb(stuck: Stuck, found: Findings, versions: dict[str, int]) -> None:
    """Add the rows of ``stuck`` to ``found`` (the stuck ones, as a full scan keeps them) and
    note the version of each (the rows come through a stuck filter: few)."""
    found.add_messages(stuck.messages)
    found.add_parts(stuck.parts)
    versions.update(stuck.versions)


def _recheck(reads: ScanReads, table: Table, ids: set[str], found: Findings, versions: dict[str, int] | None) -> None:
    """Bring ``ids`` up to date: with ``versions``, a known row whose version (``time_updated``,
    which OpenCode and our repair bump on every write) did not change is left as it is; the
    others are read again, through the same stuck filter as a full scan, and parsed."""
    known = found.parts if table == "part" else found.messages
    if versions is None:
        changed = sorted(ids)
    else:
        current = reads.tool_versions(ids) if table == "part" else reads.turn_versions(ids)
        changed = [i for i in ids if i not in current or i not in known or versions.get(i) != current[i]]
    for row_id in changed:
        known.pop(row_id, None)
        if versions is not None:
            versions.pop(row_id, None)
    again = reads.stuck_tools_by_id(changed) if table == "part" else reads.unfinished_turns_by_id(changed)
    absorb(again, found, {} if versions is None else versions)

"""The findings of a health look in words, decided once here for every front end (each finding
as a sentence and what to do about it). Holder names and command lines are the processes' own
text: front ends show them as data (``printable``, Content), never as markup."""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.db.locks import Role
from inspector.core.health.holders import words
from inspector.core.health.look import LOCK_HELD_MS, Finding, Health
from inspector.core.text import humanize_bytes, humanize_ms

LOCK_WORDS: dict[Role, str] = {
    "writer": "write lock",
    "committing": "commit lock (reads wait for it too)",
    "checkpointer": "checkpoint lock",
    "recovery": "WAL recovery lock",
    "reader": "read lock",
    "connected": "a lock",
}


@dataclass(frozen=True)
class Said:
    finding: Finding
    text: str
    advice: str


def explain(health: Health) -> tuple[Said, ...]:
    """One ``Said`` per finding, in the order of ``health.findings``."""
    said: list[Said] = []
    for finding in health.findings:
        if finding == "write-lock":
            said.append(_lock(health))
        elif finding == "contention":
            said.append(_contention(health))
        elif finding == "wal-starved":
            said.append(_wal(health))
        else:
            said.append(_integrity(health))
    return tuple(said)


def _lock(health: Health) -> Said:
    lock = health.lock
    assert lock is not None
    seen = "seen held just now" if lock.held_ms < 1000 else f"seen held for {humanize_ms(lock.held_ms)}"
    text = f"the {LOCK_WORDS[lock.role]} is held by {words(lock.holder)}, {seen}"
    if lock.held_ms >= LOCK_HELD_MS:
        advice = (
            "while it is held every other writer, OpenCode too, gives up after its busy timeout; "
            "if that process is stuck, end it (its open transaction is rolled back)"
        )
    else:
        advice = "a writer at work holds it for a moment: look again; a lock still held means a stuck writer"
    return Said("write-lock", text, advice)


def _contention(health: Health) -> Said:
    seen = health.contention
    parts = []
    if seen.waits:
        parts.append(
            f"{seen.waits} write{'s' if seen.waits != 1 else ''} waited for the lock (longest {humanize_ms(seen.longest_wait_ms)})"
        )
    busy = seen.busy_reads + seen.busy_writes
    if busy:
        parts.append(
            f"{busy} read{'s' if busy != 1 else ''} or write{'s' if busy != 1 else ''} gave up with SQLITE_BUSY"
        )
    return Said(
        "contention",
        "our own access met the lock: " + ", ".join(parts),
        "another process keeps the database locked for long; the lock's holder is named when it is still held",
    )


def _wal(health: Health) -> Said:
    sizes = health.sizes
    ratio = sizes.wal // max(sizes.database, 1)
    text = (
        f"the WAL is {humanize_bytes(sizes.wal)}, {ratio}× the database ({humanize_bytes(sizes.database)}): "
        "its checkpoint is starved, and every read walks it"
    )
    if health.readers:
        pinned = "; ".join(words(reader) for reader in health.readers)
        text += f"; a read snapshot in it is held by {pinned}"
        advice = "end that reader's open read transaction; then OpenCode's next checkpoint (or a guarded one) empties the WAL"
    else:
        advice = (
            "stop OpenCode, then run 'ocinspect doctor --checkpoint' (it copies the WAL into the database "
            "and truncates it; no row changes)"
        )
    return Said("wal-starved", text, advice)


def _integrity(health: Health) -> Said:
    problems = health.pages.integrity if health.pages is not None and health.pages.integrity else ()
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return Said(
        "integrity",
        f"quick_check found the file damaged: {problems[0] if problems else '?'}{more}",
        "copy the database and its -wal aside before OpenCode writes more; sqlite3's .recover reads what is left",
    )

"""The database's health for the CLI: ``doctor``'s report, the one line ``scan`` and ``show``
add when the database explains a hang, and the JSON of both (docs/reference/json.md).

The words of each finding come from ``core.health.explain``; every value from outside (paths,
process names, command lines) goes through ``line`` (``printable``)."""

from __future__ import annotations

from typing import Any

from inspector.core.db.health import Checkpointed
from inspector.core.health.explain import explain
from inspector.core.health.holders import Holder, words
from inspector.core.health.look import Health
from inspector.core.text import humanize_bytes, humanize_ms, local_time
from inspector.output import Styled, styled
from inspector.render import field, line

FINDING_STYLE = "bold yellow"
WIDTH = 12  # "Contention  ": doctor's labels, the values in one column


def row(label: str, *value: str | tuple[str, str]) -> Styled:
    return styled((label, "bold"), " " * (WIDTH - len(label)), *value, hang=WIDTH)


def holder_json(holder: Holder) -> dict[str, Any]:
    return {
        "pid": holder.pid or None,
        "name": holder.name or None,
        "cmdline": list(holder.cmdline),
        "opencode": holder.opencode,
    }


def health_json(health: Health) -> dict[str, Any]:
    pages = health.pages
    lock = health.lock
    return {
        "database": health.database,
        "schema": health.schema or None,
        "checked_at": health.checked_at,
        "sizes": {"database": health.sizes.database, "wal": health.sizes.wal, "shm": health.sizes.shm},
        "pages": None
        if pages is None
        else {
            "journal_mode": pages.journal_mode,
            "page_size": pages.page_size,
            "page_count": pages.page_count,
            "freelist_count": pages.freelist_count,
            "quick_check": list(pages.integrity) if pages.integrity is not None else None,
        },
        "locks_readable": health.locks_readable,
        "write_lock": None
        if lock is None
        else {
            "role": lock.role,
            "holder": holder_json(lock.holder),
            "first_seen": lock.first_seen,
            "held_ms": lock.held_ms,
        },
        "readers": [holder_json(h) for h in health.readers],
        "waiters": [holder_json(h) for h in health.waiters],
        "contention": {
            "waits": health.contention.waits,
            "longest_wait_ms": health.contention.longest_wait_ms,
            "busy_reads": health.contention.busy_reads,
            "busy_writes": health.contention.busy_writes,
        },
        "findings": [{"kind": s.finding, "text": s.text, "advice": s.advice} for s in explain(health)],
        "explains_hang": health.explains_hang,
        "checkpoint_advised": health.checkpoint_advised,
    }


def checkpoint_json(done: Checkpointed) -> dict[str, Any]:
    return {
        "busy": bool(done.busy),
        "log_frames": done.log_frames,
        "checkpointed_frames": done.checkpointed_frames,
        "wal_before": done.wal_before,
        "wal_after": done.wal_after,
    }


def doctor_text(health: Health) -> list[str]:
    sizes, pages = health.sizes, health.pages
    schema = f"schema {health.schema}, " if health.schema else ""
    mode = f"journal mode {line(pages.journal_mode)}" if pages is not None else ""
    lines: list[str] = [styled((line(health.database), "bold"), f"  ({schema}{mode})")]
    ratio = f" ({sizes.wal / max(sizes.database, 1):.1f}× the database)" if sizes.wal else ""
    lines.append(
        row(
            "Files",
            f"database {humanize_bytes(sizes.database)} · WAL {humanize_bytes(sizes.wal)}{ratio} · "
            f"shm {humanize_bytes(sizes.shm)}",
        )
    )
    if pages is not None:
        lines.append(
            row(
                "Pages",
                f"{pages.page_count} of {pages.page_size} bytes · {pages.freelist_count} free "
                f"({humanize_bytes(pages.free_bytes)})",
            )
        )
        if pages.integrity is None:
            lines.append(row("Integrity", "not checked (doctor --check runs quick_check)"))
        elif pages.integrity == ("ok",):
            lines.append(row("Integrity", "quick_check: ok"))
        else:
            lines.append(row("Integrity", (f"quick_check: {len(pages.integrity)} problem(s)", FINDING_STYLE)))
            lines += [f"{' ' * WIDTH}{line(problem)}" for problem in pages.integrity]
    lines.append(row("Write lock", lock_words(health)))
    for reader in health.readers:
        lines.append(row("Reader", f"{line(words(reader))} holds a read snapshot in the WAL"))
    for waiter in health.waiters:
        lines.append(row("Waiting", f"{line(words(waiter))} waits for a lock"))
    lines.append(row("Contention", contention_words(health)))
    said = explain(health)
    if not said:
        lines += ["", "Healthy: nothing in the database itself keeps sessions from moving."]
    for item in said:
        lines += [
            "",
            styled((f"! {line(item.text)} ({item.finding})", FINDING_STYLE)),
            field("Advice:", line(item.advice), indent=2),
        ]
    return lines


def lock_words(health: Health) -> str:
    if not health.locks_readable:
        return "cannot tell (this system has no /proc/locks)"
    lock = health.lock
    if lock is None:
        return "free"
    since = f"first seen {local_time(lock.first_seen)}"
    return f"{lock.role}: {line(words(lock.holder))}, seen held for {humanize_ms(lock.held_ms)} ({since})"


def contention_words(health: Health) -> str:
    seen = health.contention
    if not seen.seen:
        return "none seen by this run"
    return (
        f"{seen.waits} wait(s) for the write lock (longest {humanize_ms(seen.longest_wait_ms)}), "
        f"{seen.busy_reads} read(s) and {seen.busy_writes} write(s) gave up with SQLITE_BUSY"
    )


def checkpoint_text(done: Checkpointed) -> list[str]:
    state = "busy: another connection kept it from finishing" if done.busy else "done"
    return [
        row(
            "Checkpoint",
            f"{state}; WAL {humanize_bytes(done.wal_before)} → {humanize_bytes(done.wal_after)} "
            f"({done.checkpointed_frames} of {done.log_frames} frames copied; no row changed)",
        )
    ]


def hang_lines(notice: Health | None) -> list[str]:
    """What ``scan`` and ``show`` add when core's ``hang_notice`` gives a health (else nothing)."""
    if notice is None:
        return []
    lines: list[str] = [styled(("The database itself may be why sessions hang:", FINDING_STYLE))]
    for item in explain(notice):
        lines.append(f"  ! {line(item.text)} ({item.finding})")
        lines.append(f"    {line(item.advice)}")
    lines.append("  'ocinspect doctor' shows the database's health")
    return lines

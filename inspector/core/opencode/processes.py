"""The ``opencode`` processes on this machine, as psutil shows them (both generations use these).

psutil is imported on first use: only a liveness check needs it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


def same_file(a: str | os.PathLike[str], db: Path) -> bool:
    """Whether ``a`` is the database ``db`` (already resolved) or its WAL or shared memory."""
    try:
        return os.path.realpath(a) in {str(db), f"{db}-wal", f"{db}-shm"}
    except (OSError, ValueError):
        return False


def looks_like_opencode(name: str, cmdline: list[str]) -> bool:
    """An ``opencode`` binary by its process name or the program of its command line."""
    return "opencode" in name.lower() or (bool(cmdline) and "opencode" in os.path.basename(cmdline[0]).lower())


def listening(proc: psutil.Process) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket ``proc`` or a child of it listens on."""
    import psutil

    found: set[tuple[str, int]] = set()
    try:
        family = [proc, *proc.children(recursive=True)]
    except (psutil.Error, OSError):
        family = [proc]
    for member in family:
        try:
            conns = member.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            continue
        found |= {(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}
    return found


def pre_exec_forks(found: Sequence[tuple[psutil.Process, list[str]]]) -> set[int]:
    """The pids among ``found`` that are a child of another one with the same command line.

    A server that starts a tool forks first and execs the tool after: in between, the child is
    a second ``opencode serve`` with the database open (its descriptors inherited). Under load
    that window is long enough to be seen, and it is the same server, not another one.
    """
    import psutil

    lines = {proc.pid: cmdline for proc, cmdline in found}
    forks: set[int] = set()
    for proc, cmdline in found:
        try:
            parent = proc.ppid()
        except psutil.Error:
            continue
        if parent in lines and lines[parent] == cmdline:
            forks.add(proc.pid)
    return forks


def owner(proc: psutil.Process) -> str:
    """The user a process runs as (a name, else its uid): readable even where its files are not."""
    import psutil

    try:
        return str(proc.username())
    except (psutil.Error, OSError, KeyError):
        return "another user"


def hidden_detail(hidden: list[tuple[int, str]]) -> str:
    """Which processes could not be looked into, and what would let ocinspect look."""
    users = sorted({user for _, user in hidden})
    named = ", ".join(f"{pid} (user {user})" for pid, user in hidden)
    whose = "another user's process" if len(hidden) == 1 else "other users' processes"
    who = users[0] if len(users) == 1 else "their users"
    return (
        f"opencode process{'es' if len(hidden) > 1 else ''} {named} may be using this database, but "
        f"ocinspect may not look into {whose}: run ocinspect as {who} (or with sudo) to tell"
    )

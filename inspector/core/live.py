"""Is OpenCode running on this database right now, and which sessions is it really working on?

OpenCode keeps "busy" in memory only, so the database alone cannot tell a crashed turn from one
still being worked on. We look for ``opencode`` processes (psutil) that use this database, find
their listening loopback ports and ask ``GET /session/status``, which lists non-idle sessions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any


class _LazyPsutil:
    """``psutil``, imported on first use: only a liveness check needs it, and a scan starts that
    check in a thread beside its SQL (see ``scan.py``), so the import costs no wall time there."""

    def __getattr__(self, name: str) -> Any:
        import psutil as module

        return getattr(module, name)


if TYPE_CHECKING:
    import psutil
else:
    psutil = _LazyPsutil()

STATUS_TIMEOUT_S = 1.0
_BUSY_TYPES = {"busy", "retry"}


@dataclass(frozen=True)
class OpenCodeProcess:
    pid: int
    ports: tuple[int, ...]


@dataclass(frozen=True)
class LiveStatus:
    """``running`` is True/False, or None when we could not tell (then writes need --force)."""

    running: bool | None
    processes: tuple[OpenCodeProcess, ...] = ()
    busy: frozenset[str] = frozenset()
    unknown_directories: frozenset[str] = frozenset()
    detail: str = ""

    def verdict(self, session_id: str, directory: str) -> tuple[str, str]:
        """(verdict, reason) for one session."""
        if self.running is False:
            return "stale", "OpenCode is not running on this database"
        if session_id in self.busy:
            return "live", "OpenCode reports this session busy (it is really working on it)"
        if self.running is None or directory in self.unknown_directories:
            return "unknown", self.detail or "could not ask the running OpenCode about this session"
        return "stale", "OpenCode is running but does not list this session as busy"


OFFLINE = LiveStatus(running=False, detail="OpenCode is not running on this database")


def _same_file(a: str, b: Path) -> bool:
    try:
        return os.path.realpath(a) in {str(b), str(b) + "-wal", str(b) + "-shm"}
    except (OSError, ValueError):
        return False


def _is_opencode(proc: psutil.Process) -> bool:
    name = (proc.info.get("name") or "").lower()
    if "opencode" in name:
        return True
    cmdline = proc.info.get("cmdline") or []
    return bool(cmdline) and "opencode" in os.path.basename(cmdline[0]).lower()


def _uses_database(proc: psutil.Process, db: Path) -> bool | None:
    """True/False, or None when the OS will not tell us (another user's process)."""
    denied = False
    try:
        if any(_same_file(f.path, db) for f in proc.open_files()):
            return True
    except (psutil.AccessDenied, psutil.ZombieProcess):
        denied = True
    except psutil.NoSuchProcess:
        return False
    try:
        env = proc.environ()
    except (psutil.AccessDenied, psutil.ZombieProcess):
        return None if denied else False
    except psutil.NoSuchProcess:
        return False
    if env.get("OPENCODE_DB"):
        return _same_file(env["OPENCODE_DB"], db)
    from .locate import data_dir  # local: keeps module import light

    default = data_dir(env)
    return _same_file(str(default / db.name), db) or (None if denied else False)


def _listening_ports(proc: psutil.Process) -> tuple[int, ...]:
    ports: set[int] = set()
    try:
        family = [proc, *proc.children(recursive=True)]
    except (psutil.Error, OSError):
        family = [proc]
    for member in family:
        try:
            conns = member.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            continue
        for conn in conns:
            if conn.status == psutil.CONN_LISTEN and conn.laddr:
                ports.add(conn.laddr.port)
    return tuple(sorted(ports))


def find_processes(db: Path) -> tuple[list[OpenCodeProcess], bool]:
    """OpenCode processes using ``db``; the flag says some process could not be inspected."""
    db = Path(os.path.realpath(db))
    found: list[OpenCodeProcess] = []
    uncertain = False
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.info["pid"] == me or not _is_opencode(proc):
            continue
        uses = _uses_database(proc, db)
        if uses is None:
            uncertain = True
        elif uses:
            found.append(OpenCodeProcess(pid=proc.info["pid"], ports=_listening_ports(proc)))
    return found, uncertain


def query_status(port: int, directory: str, timeout: float = STATUS_TIMEOUT_S) -> dict[str, str]:
    """``GET /session/status`` on loopback: session id -> status type for non-idle sessions."""
    import urllib.parse  # local: only needed when OpenCode is running (keeps CLI start-up lean)
    import urllib.request

    query = urllib.parse.urlencode({"directory": directory})
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/session/status?{query}",
        headers={"x-opencode-directory": directory, "accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (loopback)
        payload = json.loads(response.read().decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("unexpected /session/status payload")
    return {
        sid: (value.get("type") if isinstance(value, dict) else str(value))
        for sid, value in payload.items()
    }


def detect(db: str | os.PathLike[str], directories: Iterable[str] = ()) -> LiveStatus:
    """Find out whether OpenCode is live on ``db``; ask it about sessions in ``directories``."""
    db_path = Path(db)
    try:
        processes, uncertain = find_processes(db_path)
    except (psutil.Error, OSError) as exc:
        return LiveStatus(running=None, detail=f"could not list processes ({exc})")
    if not processes:
        if uncertain:
            return LiveStatus(
                running=None,
                detail="an opencode process is running that ocinspect is not allowed to inspect",
            )
        return OFFLINE
    pids = ", ".join(str(p.pid) for p in processes)
    ports = sorted({port for p in processes for port in p.ports})
    if not ports:
        return LiveStatus(
            running=None,
            processes=tuple(processes),
            detail=f"OpenCode (pid {pids}) uses this database but serves no HTTP port to ask",
        )
    busy: set[str] = set()
    unknown: set[str] = set()
    for directory in sorted(set(directories)):
        answered = False
        for port in ports:
            try:
                statuses = query_status(port, directory)
            except (OSError, ValueError):
                continue
            answered = True
            busy.update(sid for sid, kind in statuses.items() if kind in _BUSY_TYPES)
        if not answered:
            unknown.add(directory)
    detail = f"OpenCode is running on this database (pid {pids}, port {', '.join(map(str, ports))})"
    if unknown:
        detail += "; it did not answer /session/status"
    return LiveStatus(
        running=True,
        processes=tuple(processes),
        busy=frozenset(busy),
        unknown_directories=frozenset(unknown),
        detail=detail,
    )

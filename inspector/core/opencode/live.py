"""Is OpenCode running on this database right now, and which sessions is it really working on?

OpenCode keeps "busy" in memory only, so the database alone cannot tell a crashed turn from one
still being worked on. We look for ``opencode`` processes (psutil) that use this database, find
their listening loopback ports and ask ``GET /session/status`` (through ``server_api``, with the
server's password when ``OPENCODE_SERVER_PASSWORD`` is set), which lists non-idle sessions.
For directories with busy sessions we also ask which sessions wait for a person (a pending
permission or question, whole: what is asked, since when): those are ``waiting``, never "hung",
whatever the clock says. Each busy session's status object is kept whole (``retry`` carries the
attempt, the last error and the next try), so verdicts can say what OpenCode is doing.

A server gets ``SERVER_BUDGET_S`` for the whole look, each request ``STATUS_TIMEOUT_S``; one
that does not answer in time (or answers more than the client's cap) is not asked again in this
look, and the directories nobody answered for are ``unknown``, saying why. So a look costs at
most ``SERVER_BUDGET_S`` per server whatever the servers do (``ocinspect run`` relies on it).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.core.model import OFFLINE, LiveStatus, OpenCodeProcess, PendingRequest, ServerStatus
from inspector.core.opencode.processes import (
    hidden_detail,
    listening,
    looks_like_opencode,
    owner,
    pre_exec_forks,
    same_file,
)


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

if TYPE_CHECKING:  # server_api (http.client) is imported only when OpenCode is running
    from inspector.core.opencode.client import ServerAuthRequired, ServerClient

STATUS_TIMEOUT_S = (
    2.5  # one request, connect to last byte (an OpenCode booting an instance on a loaded machine needs >1 s)
)
SERVER_BUDGET_S = 5.0  # every request of one look at one server
_BUSY_TYPES = {"busy", "retry"}


# The answer's types live in ``model`` (plain frozen data, no psutil); re-exported here.
__all__ = ["OFFLINE", "LiveStatus", "OpenCodeProcess", "detect"]


def _is_opencode(proc: psutil.Process) -> bool:
    return looks_like_opencode(proc.info.get("name") or "", proc.info.get("cmdline") or [])


def _uses_database(proc: psutil.Process, db: Path) -> bool | None:
    """True/False, or None when the OS will not tell us (another user's process)."""
    denied = False
    try:
        if any(same_file(f.path, db) for f in proc.open_files()):
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
        return same_file(env["OPENCODE_DB"], db)
    from inspector.core.db.locate import data_dir  # local: keeps module import light

    default = data_dir(env)
    return same_file(str(default / db.name), db) or (None if denied else False)


def _listening_ports(proc: psutil.Process) -> tuple[int, ...]:
    return tuple(sorted({port for _, port in listening(proc)}))


def find_processes(db: Path) -> tuple[list[OpenCodeProcess], list[tuple[int, str]]]:
    """OpenCode processes using ``db``, and the (pid, user) of those that could not be inspected."""
    db = Path(os.path.realpath(db))
    using: list[tuple[psutil.Process, list[str]]] = []
    hidden: list[tuple[int, str]] = []
    me = os.getpid()
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        if proc.info["pid"] == me or not _is_opencode(proc):
            continue
        uses = _uses_database(proc, db)
        if uses is None:
            hidden.append((proc.info["pid"], owner(proc)))
        elif uses:
            using.append((proc, [str(a) for a in (proc.info.get("cmdline") or [])]))
    forks = pre_exec_forks(using)
    found = [OpenCodeProcess(pid=p.pid, ports=_listening_ports(p)) for p, _ in using if p.pid not in forks]
    return found, hidden


def _auth_reason(error: ServerAuthRequired) -> str:
    from inspector.core.opencode.client import PASSWORD_ENV, USERNAME_ENV

    if error.password_sent:
        return f"the server refused the password in {PASSWORD_ENV}"
    return f"the server needs its password: set {PASSWORD_ENV} (and {USERNAME_ENV} if not 'opencode')"


def _pending(client: ServerClient, directory: str, failed: dict[int, str]) -> list[PendingRequest] | None:
    """Requests waiting for a person in ``directory``; None when the server would not say
    (a release without the routes answers 404 there: ``client.pending`` skips it)."""
    from inspector.core.opencode.client import ServerError

    try:
        return client.pending(directory)
    except ServerError as exc:
        _give_up(client, exc, failed)
        return None


def _give_up(client: ServerClient, error: Exception, failed: dict[int, str]) -> None:
    """A server that did not answer in time, or answered too much or not JSON, is not asked
    again in this look (each further question could cost the whole timeout again)."""
    from inspector.core.opencode.client import ServerBadResponse, ServerUnreachable

    if isinstance(error, (ServerUnreachable, ServerBadResponse)):
        failed.setdefault(client.port, str(error))


def detect(  # noqa: C901
    db: str | os.PathLike[str], directories: Iterable[str] = (), *, schema: str = "v1"
) -> LiveStatus:
    """Find out whether OpenCode is live on ``db``; ask it about sessions in ``directories``.

    ``schema`` is the database's generation as ``open_store`` classified it (``Store.schema``):
    only OpenCode 2 serves a 2.x database (it imports a 1.x file in place at its first boot,
    and 1.x never reads ``session_v2``), and the two speak different APIs (a v2 server answers
    v1's ``/session/status`` with its web page), so the file decides which servers are asked.
    """
    if schema == "v2":
        from inspector.core.opencode.v2_live import detect_v2

        return detect_v2(db, directories, timeout=STATUS_TIMEOUT_S, budget=SERVER_BUDGET_S)
    db_path = Path(db)
    try:
        processes, hidden = find_processes(db_path)
    except (psutil.Error, OSError) as exc:
        return LiveStatus(running=None, detail=f"could not list processes ({exc})")
    if not processes:
        if hidden:
            return LiveStatus(running=None, detail=hidden_detail(hidden))
        return OFFLINE
    pids = ", ".join(str(p.pid) for p in processes)
    ports = sorted({port for p in processes for port in p.ports})
    if not ports:
        return LiveStatus(
            running=None,
            processes=tuple(processes),
            detail=f"OpenCode (pid {pids}) uses this database but serves no HTTP port to ask",
        )
    from inspector.core.opencode.client import Credentials, ServerAuthRequired, ServerClient, ServerError

    credentials = Credentials.from_env()
    busy: dict[str, int] = {}
    unknown: set[str] = set()
    waiting: set[str] = set()
    undecided: set[str] = set()
    auth: ServerAuthRequired | None = None
    servers: dict[str, int] = {}
    status_of: dict[str, ServerStatus] = {}
    requests: list[PendingRequest] = []
    clients = {
        port: ServerClient(port, credentials=credentials, timeout=STATUS_TIMEOUT_S, budget=SERVER_BUDGET_S)
        for port in ports
    }
    failed: dict[int, str] = {}
    for directory in sorted(set(directories)):
        answered = False
        for port in ports:
            if port in failed:
                continue
            client = clients[port]
            try:
                statuses = client.statuses(directory)
            except ServerAuthRequired as exc:
                auth = exc
                continue
            except ServerError as exc:
                _give_up(client, exc, failed)
                continue
            answered = True
            servers.setdefault(directory, port)
            here = {sid for sid, st in statuses.items() if st.type in _BUSY_TYPES}
            for sid in here:
                busy.setdefault(sid, port)
                status_of.setdefault(sid, statuses[sid])
            if here:
                asked = _pending(client, directory, failed)
                if asked is None:
                    undecided |= here
                else:
                    mine = [r for r in asked if r.session_id in here]
                    waiting |= {r.session_id for r in mine}
                    requests.extend(r for r in mine if r.id not in {k.id for k in requests})
        if not answered:
            unknown.add(directory)
    detail = f"OpenCode is running on this database (pid {pids}, port {', '.join(map(str, ports))})"
    reason = ""
    if unknown:
        if auth is not None:
            reason = f"OpenCode is running on this database, but {_auth_reason(auth)}"
            detail += f"; {_auth_reason(auth)}"
        elif failed:
            detail += "; " + "; ".join(failed[port] for port in sorted(failed))
        else:
            detail += "; it did not answer /session/status"
    return LiveStatus(
        running=True,
        processes=tuple(processes),
        busy=frozenset(busy),
        unknown_directories=frozenset(unknown),
        detail=detail,
        owners=tuple(sorted(busy.items())),
        waiting=frozenset(waiting),
        undecided=frozenset(undecided),
        unknown_reason=reason,
        servers=tuple(sorted(servers.items())),
        versions=tuple(_versions([clients[p] for p in sorted(set(servers.values())) if p not in failed])),
        statuses=tuple(sorted(status_of.items())),
        requests=tuple(requests),
    )


def _versions(clients: list[ServerClient]) -> list[tuple[int, str]]:
    """``GET /global/health`` of each answering server: which routes it has depends on it."""
    from inspector.core.opencode.client import ServerError

    found = []
    for client in clients:
        try:
            health = client.get("/global/health")
        except ServerError:
            continue
        if isinstance(health, dict) and isinstance(health.get("version"), str):
            found.append((client.port, health["version"]))
    return found

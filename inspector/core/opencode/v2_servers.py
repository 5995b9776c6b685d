"""Which OpenCode 2 servers run on a database, and how to reach each one.

OpenCode 2 has two kinds of server (``/work/shared``'s v2 reference, "Running it headless"):
the managed service (``opencode serve --service``), registered in ``$XDG_STATE_HOME/opencode/
service.json`` with its loopback url, pid and a generated password, and plain servers
(``opencode serve``, the private server of ``--standalone``), protected by HTTP basic auth with
the password of ``OPENCODE_SERVER_PASSWORD`` in their environment. Both keep the database at
``$XDG_DATA_HOME/opencode/opencode.db`` of their own environment.

We find them as processes (psutil): an ``opencode`` process counts when it has our database
open, or (where its open files are hidden) when its environment puts its database there. A
``service.json`` is used only for a process of this user that is alive, is ``opencode``,
listens on the file's loopback port and uses our database; any other is ignored with a reason.
A password is taken only from this user's processes and files, never from another user's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from inspector.core.opencode.client import DEFAULT_USERNAME, PASSWORD_ENV, USERNAME_ENV, Credentials
from inspector.core.opencode.processes import listening, looks_like_opencode, owner, pre_exec_forks, same_file
from inspector.core.opencode.v2_files import (
    MAX_FIELD_CHARS,
    MAX_PASSWORD_CHARS,
    SERVICE_FILE,
    ServiceFileInvalid,
    ServiceRecord,
    database_of,
    process_environ,
    read_service,
    state_dir,
)

if TYPE_CHECKING:
    import psutil

Kind = Literal["service", "plain", "other"]
PasswordSource = Literal["service.json", "its environment", "ours", "none"]
_LOOPBACK_V4 = ("127.", "::ffff:127.")
_ANY = ("0.0.0.0", "::", "::ffff:0.0.0.0")


@dataclass(frozen=True)
class V2Server:
    """One OpenCode 2 process on our database, with what we need to ask it (``ports`` empty:
    it serves nothing we may ask, so what it runs cannot be known)."""

    pid: int
    kind: Kind
    host: str
    ports: tuple[int, ...]
    credentials: Credentials | None = field(repr=False)
    password_from: PasswordSource
    version: str = ""


@dataclass(frozen=True)
class V2Discovery:
    """The servers on our database, the ``service.json`` files ignored (with why), and the
    ``opencode`` processes of other users whose database we could not tell (pid, user)."""

    servers: tuple[V2Server, ...] = ()
    ignored: tuple[str, ...] = ()
    hidden: tuple[tuple[int, str], ...] = ()


def _kind(cmdline: list[str]) -> Kind:
    args = cmdline[1:]
    if "serve" in args:
        return "service" if "--service" in args else "plain"
    return "plain" if "--standalone" in args else "other"


def _on_database(proc: psutil.Process, env: Mapping[str, str] | None, db: Path) -> bool | None:
    """True/False, or None when neither its open files nor its environment can be read."""
    import psutil

    try:
        if any(same_file(f.path, db) for f in proc.open_files()):
            return True
        listed = True
    except (psutil.AccessDenied, psutil.ZombieProcess):
        listed = False
    except psutil.NoSuchProcess:
        return False
    if env is None:
        return False if listed else None
    where = database_of(env)
    return where is not None and same_file(where, db)


def loopback_ports(sockets: Iterable[tuple[str, int]]) -> tuple[str, tuple[int, ...]]:
    """The host to ask and the ports listening where that host reaches (an address bound to
    another interface only is not asked)."""
    v4 = sorted({p for ip, p in sockets if ip.startswith(_LOOPBACK_V4) or ip in _ANY})
    if v4:
        return "127.0.0.1", tuple(v4)
    return "::1", tuple(sorted({p for ip, p in sockets if ip == "::1"}))


def credentials_from(env: Mapping[str, str] | None) -> Credentials | None:
    """``OPENCODE_SERVER_PASSWORD`` (and its user name) of an environment, when usable as basic auth."""
    if env is None:
        return None
    password = env.get(PASSWORD_ENV) or ""
    user = env.get(USERNAME_ENV) or DEFAULT_USERNAME
    if not password or len(password) > MAX_PASSWORD_CHARS or len(user) > MAX_FIELD_CHARS or ":" in user:
        return None
    try:
        (user + password).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return Credentials(user, password)


def _uid(proc: psutil.Process) -> int | None:
    import psutil

    try:
        return int(proc.uids().real)
    except (psutil.Error, OSError, AttributeError):
        return None


def _verify_service(record: ServiceRecord, db: Path, uid: int) -> str:
    """Why the service ``record`` names is not ours to ask ("" when it is)."""
    import psutil

    try:
        proc = psutil.Process(record.pid)
        name, cmdline = proc.name(), proc.cmdline()
    except psutil.NoSuchProcess:
        return f"its pid {record.pid} is not running"
    except (psutil.Error, OSError):
        return f"its pid {record.pid} cannot be looked into"
    if _uid(proc) != uid:
        return f"its pid {record.pid} belongs to another user ({owner(proc)})"
    if not looks_like_opencode(name, cmdline):
        return f"its pid {record.pid} is not an opencode process"
    sockets = listening(proc)
    if not any(port == record.port for _, port in sockets):
        return f"its pid {record.pid} does not listen on port {record.port}"
    if not _on_database(proc, process_environ(record.pid), db):
        return "that service uses another database"
    return ""


def _service_files(env: Mapping[str, str], services: Sequence[Mapping[str, str]]) -> list[Path]:
    """Our own ``service.json`` and that of every running service of this user (its state dir)."""
    found: list[Path] = []
    for source in [env, *services]:
        where = state_dir(source)
        if where is not None and where / SERVICE_FILE not in found:
            found.append(where / SERVICE_FILE)
    return found


def _services(paths: list[Path], db: Path, uid: int) -> tuple[dict[int, ServiceRecord], list[str]]:
    """The verified ``service.json`` records by pid, and why the others were ignored."""
    records: dict[int, ServiceRecord] = {}
    ignored: list[str] = []
    for path in paths:
        try:
            record = read_service(path)
        except FileNotFoundError:
            continue
        except (OSError, ServiceFileInvalid) as exc:
            reason = str(exc) if isinstance(exc, ServiceFileInvalid) else (exc.strerror or type(exc).__name__)
            ignored.append(f"{path} ignored: {reason}")
            continue
        why = _verify_service(record, db, uid)
        if why:
            ignored.append(f"{path} ignored: {why}")
        else:
            records.setdefault(record.pid, record)
    return records, ignored


def find_v2_servers(db: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> V2Discovery:
    """Every OpenCode 2 server on ``db`` (psutil errors propagate: the caller says it could not look)."""
    import psutil

    db_path = Path(os.path.realpath(db))
    env = os.environ if env is None else env
    uid = os.getuid() if hasattr(os, "getuid") else -1
    me = os.getpid()
    mine: list[tuple[Any, list[str], dict[str, str] | None]] = []
    hidden: list[tuple[int, str]] = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        info = proc.info
        cmdline = [str(a) for a in (info.get("cmdline") or [])]
        if info["pid"] == me or not looks_like_opencode(str(info.get("name") or ""), cmdline):
            continue
        own = _uid(proc) == uid
        proc_env = process_environ(info["pid"]) if own else None
        on = _on_database(proc, proc_env, db_path)
        if on is None:
            hidden.append((info["pid"], owner(proc)))
        elif on:
            mine.append((proc, cmdline, proc_env if own else None))
    forks = pre_exec_forks([(proc, cmdline) for proc, cmdline, _ in mine])
    mine = [entry for entry in mine if entry[0].pid not in forks]
    service_envs = [e for _, cmd, e in mine if e is not None and _kind(cmd) == "service"]
    records, ignored = _services(_service_files(env, service_envs), db_path, uid)
    ours = credentials_from(env)
    servers = [_server(proc, cmdline, proc_env, records.get(proc.pid), ours) for proc, cmdline, proc_env in mine]
    return V2Discovery(servers=tuple(servers), ignored=tuple(ignored), hidden=tuple(hidden))


def _server(
    proc: psutil.Process,
    cmdline: list[str],
    env: Mapping[str, str] | None,
    record: ServiceRecord | None,
    ours: Credentials | None,
) -> V2Server:
    kind = _kind(cmdline)
    if record is not None:  # verified: it listens on the file's port
        return V2Server(
            proc.pid,
            "service",
            record.host,
            (record.port,),
            Credentials(DEFAULT_USERNAME, record.password),
            "service.json",
            record.version,
        )
    host, ports = loopback_ports(listening(proc))
    own = credentials_from(env)
    if own is not None:
        return V2Server(proc.pid, kind, host, ports, own, "its environment")
    return V2Server(proc.pid, kind, host, ports, ours, "ours" if ours is not None else "none")

"""What OpenCode 2 leaves on disk about its servers: ``service.json`` and a process's environment.

Both are written by someone else and read as data only: every read is capped, every field is
checked for its type and size, and the service's ``url`` must name a loopback host (a
``service.json`` that points elsewhere is refused, never followed). Nothing read here becomes
a path we write, markup or a command-line option.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inspector.core.opencode.client import LOOPBACK_HOSTS

# service.json is about 200 bytes; anything much bigger is not OpenCode's.
MAX_SERVICE_FILE_BYTES = 64 << 10
# /proc/PID/environ is bounded by the kernel's argument limit (a few MiB); we need three variables.
MAX_ENVIRON_BYTES = 1 << 20
MAX_PASSWORD_CHARS = 1024
MAX_FIELD_CHARS = 256
SERVICE_FILE = "service.json"
DB_NAME = "opencode.db"


class ServiceFileInvalid(ValueError):
    """A ``service.json`` we will not use; the message says why (one line)."""


@dataclass(frozen=True)
class ServiceRecord:
    """One ``service.json``: the managed service's pid, loopback host and port, and password."""

    id: str
    version: str
    host: str
    port: int
    pid: int
    password: str = field(repr=False)


def state_dir(env: Mapping[str, str]) -> Path | None:
    """``$XDG_STATE_HOME/opencode`` or its home-relative default; None when ``env`` has neither
    (never our own home in place of another process's)."""
    xdg = env.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "opencode"
    home = env.get("HOME")
    if home and os.path.isabs(home):
        return Path(home) / ".local" / "state" / "opencode"
    return None


def database_of(env: Mapping[str, str]) -> Path | None:
    """Where OpenCode 2 keeps its database for a process with ``env``: ``$XDG_DATA_HOME/opencode/
    opencode.db`` or the home-relative default; None when ``env`` names neither."""
    xdg = env.get("XDG_DATA_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "opencode" / DB_NAME
    home = env.get("HOME")
    if home and os.path.isabs(home):
        return Path(home) / ".local" / "share" / "opencode" / DB_NAME
    return None


def read_capped(path: Path, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of a regular file (a FIFO or device is refused, not read:
    opening one without ``O_NONBLOCK`` could block for ever). OSError when unreadable."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ServiceFileInvalid("not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _text(info: Mapping[str, object], key: str, limit: int, *, empty: bool = False) -> str:
    value = info.get(key)
    if not isinstance(value, str):
        raise ServiceFileInvalid(f"'{key}' is not a string")
    if not value and not empty:
        raise ServiceFileInvalid(f"'{key}' is empty")
    if len(value) > limit:
        raise ServiceFileInvalid(f"'{key}' is longer than {limit} characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ServiceFileInvalid(f"'{key}' holds control characters")
    return value


def loopback_address(url: str) -> tuple[str, int]:
    """(host, port) of an ``http://`` URL on a loopback host; ServiceFileInvalid otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ServiceFileInvalid("'url' is not a URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http":
        raise ServiceFileInvalid("'url' is not an http:// URL")
    if host not in LOOPBACK_HOSTS:
        raise ServiceFileInvalid("'url' is not on a loopback host (127.0.0.1, ::1, localhost): not followed")
    if parts.username is not None or parts.password is not None:
        raise ServiceFileInvalid("'url' carries credentials")
    if port is None or not 0 < port < 65536:
        raise ServiceFileInvalid("'url' names no TCP port")
    return ("127.0.0.1" if host == "localhost" else host), port


def parse_service(raw: bytes) -> ServiceRecord:
    """One ``service.json`` = ``{id, version, url, pid, password}``, every field checked."""
    if len(raw) > MAX_SERVICE_FILE_BYTES:
        raise ServiceFileInvalid(f"larger than {MAX_SERVICE_FILE_BYTES >> 10} KiB")
    try:
        info = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ServiceFileInvalid("not JSON") from None
    if not isinstance(info, dict):
        raise ServiceFileInvalid("not a JSON object")
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 1 << 22:
        raise ServiceFileInvalid("'pid' is not a process id")
    host, port = loopback_address(_text(info, "url", MAX_FIELD_CHARS))
    return ServiceRecord(
        id=_text(info, "id", MAX_FIELD_CHARS, empty=True),
        version=_text(info, "version", MAX_FIELD_CHARS, empty=True),
        host=host,
        port=port,
        pid=pid,
        password=_text(info, "password", MAX_PASSWORD_CHARS),
    )


def read_service(path: Path) -> ServiceRecord:
    """The ``service.json`` at ``path``; ServiceFileInvalid (bad contents) or OSError (unreadable)."""
    return parse_service(read_capped(path, MAX_SERVICE_FILE_BYTES))


def parse_environ(raw: bytes) -> dict[str, str]:
    """``/proc/PID/environ`` (NUL-separated ``NAME=value``); a last entry cut by the cap is dropped."""
    if len(raw) > MAX_ENVIRON_BYTES:
        raw = raw[:MAX_ENVIRON_BYTES].rpartition(b"\0")[0]
    env: dict[str, str] = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.partition(b"=")
        if sep and name:
            env.setdefault(name.decode("utf-8", "replace"), value.decode("utf-8", "surrogateescape"))
    return env


def process_environ(pid: int) -> dict[str, str] | None:
    """A process's environment (capped), or None when the OS will not show it."""
    if sys.platform.startswith("linux"):
        try:
            return parse_environ(read_capped(Path(f"/proc/{pid}/environ"), MAX_ENVIRON_BYTES))
        except (OSError, ServiceFileInvalid):
            return None
    import psutil

    try:
        return dict(psutil.Process(pid).environ())
    except (psutil.Error, OSError):
        return None

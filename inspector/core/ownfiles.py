"""Reading and replacing ocinspect's own files (undo journal, kept scan state, write tokens, TUI
settings, reports).

They live in directories of this user, but anything can be put there: ``open()`` of a FIFO
blocks until a writer comes (a command that hangs, a ``run`` that never starts its command),
a symlink reads a file ocinspect did not write, a device reads forever. So every such file is
opened with ``O_NOFOLLOW | O_NONBLOCK`` and read only when ``fstat`` says it is a regular file
of this user; anything else raises :class:`NotOwnFile`, which callers name once and skip.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

__all__ = ["NotOwnFile", "process_alive", "read_own", "replace_file"]

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class NotOwnFile(OSError):
    """Not a regular file of this user (``str`` names the path and what it is)."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file of this user")
        self.path = path
        self.what = what


def read_own(path: Path) -> bytes:
    """The bytes of ``path``; :class:`NotOwnFile` when it is not a regular file of this user,
    ``OSError`` when it cannot be read (``FileNotFoundError`` when it does not exist)."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotOwnFile(path, "a symbolic link") from None
        if exc.errno == errno.ENXIO:  # a socket
            raise NotOwnFile(path, "a socket") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotOwnFile(path, _kind(info.st_mode))
        if info.st_uid != os.geteuid():
            raise NotOwnFile(path, f"a file of another user (uid {info.st_uid})")
        os.set_blocking(fd, True)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def process_alive(pid: int) -> bool:
    """Does process ``pid`` still exist (a writer named in one of these files)? Another user's
    process, or one that cannot be asked, counts as alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True
    return True


def replace_file(target: Path, text: str, mode: int, *, exact: bool = False, durable: bool = False) -> None:
    """Write ``text`` to a new file beside ``target`` and rename it over ``target``: a reader sees
    the old file or the new one, never half of one, and the new file is ours (``O_EXCL``,
    ``O_NOFOLLOW``: never one someone else prepared under that name). ``mode`` is the new file's
    (less the umask; ``exact``: exactly ``mode``); ``durable`` fsyncs it before the rename."""
    fd, temp = -1, target
    for _ in range(16):
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {target}")
    try:
        if exact:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise

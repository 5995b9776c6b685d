"""Find OpenCode's database the way OpenCode itself does.

Order: explicit ``--db`` › ``OPENCODE_DB`` › ``$XDG_DATA_HOME/opencode/opencode.db`` (XDG default
``~/.local/share``; OpenCode uses it on macOS too; ``%USERPROFILE%\\.local\\share`` on Windows).
Non-stable channels write ``opencode-<channel>.db`` beside the stable one.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from inspector.core.errors import DatabaseNotFound, NotADatabase

_CHANNEL_RE = re.compile(r"^opencode-(?P<channel>[A-Za-z0-9._-]+)\.db$")


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    """OpenCode's data directory: ``$XDG_DATA_HOME/opencode`` or its home-relative default."""
    env = os.environ if env is None else env
    xdg = env.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "opencode"
    if sys.platform == "win32" and env.get("USERPROFILE"):
        return Path(env["USERPROFILE"]) / ".local" / "share" / "opencode"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "opencode"


def unreachable(path: Path, exc: OSError) -> NotADatabase:
    """The one line for a path the OS will not let us look at (another user's directory)."""
    if isinstance(exc, PermissionError):
        return NotADatabase(
            f"{path} cannot be read (permission denied: it or a directory above it belongs to "
            "another user; run ocinspect as that user)"
        )
    return NotADatabase(f"{path} cannot be read ({exc.strerror or exc})")


def _kind(path: Path) -> str:
    """``dir``, ``file`` (anything else that exists) or ``missing``; a path we may not look at
    is one clear error, not an exception from deep inside pathlib."""
    try:
        return "dir" if path.is_dir() else "file" if path.exists() else "missing"
    except OSError as exc:
        raise unreachable(path, exc) from None


def channel_databases(directory: Path) -> dict[str, Path]:
    """Map channel name to database file in ``directory`` (``stable`` for ``opencode.db``)."""
    found: dict[str, Path] = {}
    try:
        if not directory.is_dir():
            return found
        stable = directory / "opencode.db"
        if stable.is_file():
            found["stable"] = stable
        for entry in sorted(directory.iterdir()):
            match = _CHANNEL_RE.match(entry.name)
            if match and entry.is_file():
                found[match.group("channel")] = entry
    except OSError as exc:
        raise unreachable(directory, exc) from None
    return found


def has_legacy_storage(directory: Path) -> bool:
    """OpenCode ≤ 1.1 kept JSON files under ``storage/session``; no SQLite file at all."""
    return (directory / "storage" / "session").is_dir()


def empty_beside_legacy(path: Path) -> bool:
    """An empty ``opencode.db`` next to a legacy ``storage/``: still legacy storage.

    Any ``sqlite3`` call on a missing path creates such a 0-byte file, so it says nothing about
    the data; the JSON files beside it are what the user has.
    """
    try:
        return path.is_file() and path.stat().st_size == 0 and has_legacy_storage(path.parent)
    except OSError:
        return False


def locate(
    db: str | os.PathLike[str] | None = None,
    *,
    channel: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Return the database path to open, or raise ``DatabaseNotFound`` saying where we looked.

    A directory given as ``--db`` is treated as a data directory (its ``opencode.db``, its channel
    files, or legacy ``storage/``). A legacy directory is returned as is; ``store`` reports it.
    """
    env = os.environ if env is None else env
    if db is not None:
        path = Path(db).expanduser()
        kind = _kind(path)
        if kind == "dir":
            return _pick_in_dir(path, channel, explicit=True)
        if kind == "missing":
            raise DatabaseNotFound(f"no such file: {path}")
        return path
    if env.get("OPENCODE_DB"):
        path = Path(env["OPENCODE_DB"]).expanduser()
        if _kind(path) == "missing":
            raise DatabaseNotFound(f"OPENCODE_DB points to {path}, which does not exist")
        return path
    return _pick_in_dir(data_dir(env), channel, explicit=False)


def named_file(db: str | os.PathLike[str], *, channel: str | None = None) -> Path:
    """The database file an explicit ``--db`` names, absolute, whether it exists yet or not.

    What a command started by ``ocinspect run`` gets as ``OPENCODE_DB``, so OpenCode opens the
    file ocinspect looked at (or creates it there, on a first start) and never the one an
    inherited ``OPENCODE_DB`` names. A data directory names its database, else the file
    OpenCode would create in it (``opencode.db``, or ``opencode-<channel>.db``).
    """
    path = Path(db).expanduser()
    try:
        if not path.is_dir():
            return path.resolve()
    except OSError:  # a path we may not look at: OpenCode gets it as given, and fails on it itself
        return path.absolute()
    try:
        found = _pick_in_dir(path, channel, explicit=True)
    except (DatabaseNotFound, NotADatabase):
        found = path
    if found.is_dir():  # nothing there yet, or legacy JSON storage OpenCode migrates into a file
        found = path / (f"opencode-{channel}.db" if channel else "opencode.db")
    return found.resolve()


def _pick_in_dir(directory: Path, channel: str | None, *, explicit: bool) -> Path:
    databases = channel_databases(directory)
    if channel is not None:
        if channel in databases:
            return databases[channel]
        known = ", ".join(sorted(databases)) or "none"
        raise DatabaseNotFound(f"no '{channel}' channel database in {directory} (found: {known})")
    if "stable" in databases:
        return databases["stable"]
    if len(databases) == 1:
        return next(iter(databases.values()))
    if databases:
        names = ", ".join(sorted(databases))
        raise DatabaseNotFound(f"several OpenCode databases in {directory} ({names}); pick one with --channel")
    if has_legacy_storage(directory):
        return directory
    if explicit:
        raise DatabaseNotFound(f"{directory} is a directory with no OpenCode database in it")
    raise DatabaseNotFound(
        f"no OpenCode database found at {directory / 'opencode.db'} (set --db or OPENCODE_DB, or try --demo)"
    )

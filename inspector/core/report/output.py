"""Where a report may be written, and how: never over what it reports on, and whole or not at all.

``-o`` takes any path, and a slip of the shell (``-o opencode.db``, a completion that picked the
``-wal``) would turn the database, one of its SQLite side files or ocinspect's own undo journal
into Markdown. Those are refused by what they are (real path and device/inode, so a symlink or
a hard link to them is refused too), not by their name. A report is written to a new file
beside the target (created exclusively, ``0600`` when it holds the session's content), synced,
then renamed over it: an existing ``0644`` file does not keep its mode, and nobody reads half
a report.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from inspector.core.diagnose.incremental.state import state_dir
from inspector.core.errors import OutputRefused
from inspector.core.ownfiles import replace_file
from inspector.core.repair.journal import journal_dir

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
PRIVATE_MODE = 0o600
SHARED_MODE = 0o644  # before the umask, as ``open`` creates files


def _database_files(database: Path) -> list[tuple[Path, str]]:
    """(path, what it is) for the database and its side files, beside the name it was given
    and beside its real path (where SQLite puts them when the name is a symlink)."""
    found: dict[Path, str] = {}
    for base in (Path(os.path.abspath(database)), Path(os.path.realpath(database))):
        found.setdefault(base, f"the OpenCode database {database}")
        for suffix in SQLITE_SIDE_FILES:
            found.setdefault(
                base.with_name(base.name + suffix), f"the {suffix[1:]} file of the OpenCode database {database}"
            )
    return list(found.items())


def _own_directories() -> list[Path]:
    """ocinspect's journal (undo) and watermark directories."""
    return [journal_dir(), state_dir()]


def _files_under(directory: Path) -> Iterator[Path]:
    for root, _dirs, files in os.walk(directory):
        for name in files:
            yield Path(root) / name


def _same_file(a: os.stat_result, b: Path) -> bool:
    try:
        other = os.stat(b)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (other.st_dev, other.st_ino)


def check_output(target: str | os.PathLike[str], database: Path) -> None:
    """``OutputRefused`` when ``target`` is the database, one of its side files (present or
    not) or a file of ocinspect's own."""
    real = Path(os.path.realpath(target))
    refused = f"will not write the report to {os.fspath(target)}: it is"
    for path, what in _database_files(database):
        if real == Path(os.path.realpath(path)):
            raise OutputRefused(f"{refused} {what}")
    for directory in _own_directories():
        own = Path(os.path.realpath(directory))
        if real.is_relative_to(own):
            raise OutputRefused(f"{refused} in ocinspect's own directory {own}")
    try:
        found = os.stat(real)
    except OSError:
        return  # nothing there yet: no other name can point at it
    for path, what in _database_files(database):
        if _same_file(found, path):
            raise OutputRefused(f"{refused} a hard link to {what}")
    if found.st_nlink > 1 and any(
        _same_file(found, own) for directory in _own_directories() for own in _files_under(directory)
    ):
        raise OutputRefused(f"{refused} a hard link to one of ocinspect's own files")


def write_report(target: str | os.PathLike[str], text: str, *, private: bool) -> None:
    """Write ``text`` to ``target`` (checked by ``check_output``): a new file renamed over the
    real path, ``0600`` when ``private``; an existing file that is not a regular one
    (``/dev/stdout``, a FIFO) is written in place, having no mode of its own to keep. Raises
    ``OSError``."""
    try:
        found: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        found = None
    if found is not None and not stat.S_ISREG(found.st_mode):
        with open(target, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    target = Path(os.path.realpath(target))  # a symlink's file is replaced, not the link
    if private:  # exactly 0600, whatever the umask
        replace_file(target, text, PRIVATE_MODE, exact=True, durable=True)
    elif found is not None:  # a redacted report keeps the mode the file had
        replace_file(target, text, stat.S_IMODE(found.st_mode), exact=True, durable=True)
    else:
        replace_file(target, text, SHARED_MODE, durable=True)

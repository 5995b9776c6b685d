"""The tracker's watermarks kept across processes: where the last look at a database left off.

One small JSON file per database and tier under ``$XDG_STATE_HOME/ocinspect/watermarks/``
(default ``~/.local/state/ocinspect``; the directory ``0700``, files ``0600``, written to a
temporary file and renamed), named by a hash of the database's real path. It holds the
:class:`tracker.Watermarks` (the file's ``(st_dev, st_ino)``, schema version, page count, page
size, ``application_id`` and per table its newest row: rowid *and* id) and the ids that were
still stuck at that point, so the next process reads only the rows after the watermarks plus
those ids (:mod:`resume`).

A state is only a hint: unreadable, of another format or version, of another path, or written
before an ocinspect write to the database (:func:`note_write`, see below) → it is ignored and the
caller makes a full pass. Nothing here raises on I/O: a state that cannot be written is simply
not kept.

Our own writes: ``undo`` restores before-images (rows that were stuck, at their old rowids, below
any watermark). Every ocinspect write calls :func:`note_write` before its first and after its
last commit; it replaces the database's *write token* (``<key>.writes``, random). A state records
the token read before its snapshot began and is used only while the token read inside the next
snapshot is the same: a write that committed in between changed it at least once. The token
written *before* a write names the writing process (``<random> <pid>``): a scan that reads it
while that process lives keeps no state, since the writer may still commit after the scan's
snapshot and then be killed before its closing token (which would leave the scan's token
standing). Once that process is gone, all its commits precede any later snapshot.

The token file's second line lists the rows ocinspect's writes made un-stuck (:class:`Watched`):
a backup copied back over the file in place (same inode, nothing appended since, often the same
size; in WAL mode even SQLite's change counter can be the same) brings them back stuck, which
no watermark sees; every resumed scan reads them again by id. Every file here is read with
``ownfiles.read_own``: a FIFO in its place is named (``problems``) and skipped, never waited on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from inspector import __version__
from inspector.core.diagnose.incremental.tracker import Tail, Watermarks
from inspector.core.ownfiles import NotOwnFile, process_alive, read_own, replace_file
from inspector.core.paths import watermarks_dir

__all__ = [
    "FORMAT",
    "Saved",
    "Tier",
    "Watched",
    "generation",
    "key",
    "load",
    "note_write",
    "save",
    "state_dir",
    "watched",
    "write_in_progress",
]

FORMAT = 3  # 2: the session table's summary (compacting ids, releases, row count); 3: the change counter
WATCHED_MAX = 4096  # ids of rows ocinspect made un-stuck kept in the token file (the newest)
DIR_MODE = 0o700
FILE_MODE = 0o600
Tier = Literal["quick", "deep"]


@dataclass(frozen=True)
class Saved:
    """One tier's state of one database: its watermarks and what was stuck at them."""

    tier: Tier
    path: str  # the database's real path
    marks: Watermarks
    messages: frozenset[str]  # unfinished assistant messages
    parts: frozenset[str]  # stuck tool parts (deep tier; the quick tier reaches them by message)
    ignored: frozenset[str]  # sessions whose newest prompt an old OpenCode ignores
    token: str  # the database's write token, read before the snapshot these describe
    full_at: float  # our wall clock (s) when the last full pass began: when the next one is due
    # the session table as the resumed scan of a logged file keeps it (resume.py), not re-read:
    compacting: frozenset[str] = frozenset()  # sessions marked compacting
    versions: frozenset[str] = frozenset()  # the OpenCode releases that wrote sessions
    sessions: int = -1  # how many rows; -1: not known (the session table is read again)


@dataclass(frozen=True)
class Watched:
    """Rows ocinspect's own writes made un-stuck (repaired tool parts, completed messages), kept
    with the write token. OpenCode never makes such a row stuck again; if a resumed scan finds
    one stuck that its state did not hold stuck, the file was rewritten behind every watermark
    (a backup copied back in place): only a full pass is right then."""

    messages: frozenset[str] = frozenset()
    parts: frozenset[str] = frozenset()


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/ocinspect/watermarks`` (default ``~/.local/state/...``)."""
    return watermarks_dir(env)


def real_path(db: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(db))


def key(db: str | os.PathLike[str]) -> str:
    """The name of ``db``'s files in :func:`state_dir` (``<key>.quick.json``, ``.deep.json``, ``.writes``)."""
    return hashlib.sha256(real_path(db).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _file(db: str | os.PathLike[str], suffix: str) -> Path:
    return state_dir() / f"{key(db)}.{suffix}"


# -- the write token ---------------------------------------------------------------------------
def _token_files(db: str | os.PathLike[str]) -> list[Path]:
    """The write token is kept twice: by the database's real path and by its ``(st_dev,
    st_ino)``, so a write through another name of the same file (a hard link, a bind mount)
    changes the token a state kept under this name sees."""
    files = [_file(db, "writes")]
    with contextlib.suppress(OSError):
        info = os.stat(db)
        files.append(state_dir() / f"file-{info.st_dev}-{info.st_ino}.writes")
    return files


def generation(db: str | os.PathLike[str], problems: list[str] | None = None) -> str:
    """The database's write token now ("" parts where no ocinspect write was ever noted; a part
    that cannot be trusted is a fresh random value, so no kept state matches it)."""
    return "|".join(token for token, _ in _read_tokens(db, problems))


def watched(db: str | os.PathLike[str], problems: list[str] | None = None) -> Watched:
    """The rows ocinspect's last writes to ``db`` made un-stuck (see :class:`Watched`)."""
    messages: set[str] = set()
    parts: set[str] = set()
    for _, rows in _read_tokens(db, problems):
        messages.update(rows.messages)
        parts.update(rows.parts)
    return Watched(frozenset(messages), frozenset(parts))


def _read_tokens(db: str | os.PathLike[str], problems: list[str] | None) -> list[tuple[str, Watched]]:
    """Each token file's token (its first line) and the rows it watches (the second line)."""
    found: list[tuple[str, Watched]] = []
    for file in _token_files(db):
        try:
            token, _, rows = read_own(file).decode("ascii").partition("\n")
        except FileNotFoundError:
            found.append(("", Watched()))
            continue
        except NotOwnFile as exc:
            if problems is not None:
                problems.append(str(exc))
            found.append((f"?{os.urandom(8).hex()}", Watched()))
            continue
        except (OSError, UnicodeError):
            found.append((f"?{os.urandom(8).hex()}", Watched()))
            continue
        found.append((token.strip(), _watched(rows)))
    return found


def _watched(text: str) -> Watched:
    try:
        raw = json.loads(text) if text.strip() else {}
        return Watched(_ids(raw.get("message", ())), _ids(raw.get("part", ())))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return Watched()


def note_write(db: str | os.PathLike[str], *, writing: bool = False, rows: Iterable[tuple[str, str]] = ()) -> None:
    """An ocinspect write to ``db`` is about to start (``writing``: the token names this process)
    or has ended: every kept state of it is stale from now on. ``rows`` are the ``(table, id)``
    the write made un-stuck: they join the watched rows (:class:`Watched`). If the token cannot
    be replaced, the states are removed instead."""
    token = os.urandom(16).hex() + (f" {os.getpid()}" if writing else "")
    before = watched(db)
    messages = [*sorted(before.messages), *(i for t, i in rows if t == "message" and i not in before.messages)]
    parts = [*sorted(before.parts), *(i for t, i in rows if t == "part" and i not in before.parts)]
    text = (
        token
        + "\n"
        + json.dumps({"message": messages[-WATCHED_MAX:], "part": parts[-WATCHED_MAX:]}, separators=(",", ":"))
    )
    try:
        for file in _token_files(db):
            _write(file, text, durable=True)
    except OSError:
        for tier in ("quick", "deep"):
            with contextlib.suppress(OSError):
                _file(db, f"{tier}.json").unlink()


def write_in_progress(token: str) -> bool:
    """Does ``token`` (from :func:`generation`) name a writing process that still runs?"""
    return any(_writer_alive(part) for part in token.split("|"))


def _writer_alive(token: str) -> bool:
    _, _, pid = token.partition(" ")
    return pid.isdigit() and process_alive(int(pid))  # another user's, or not askable: alive


# -- states ----------------------------------------------------------------------------------
def load(db: str | os.PathLike[str], tier: Tier, problems: list[str] | None = None) -> Saved | None:
    """The kept state of ``db``'s ``tier``, or None when there is none this version can trust
    (what is not a regular file of this user is named in ``problems``)."""
    try:
        raw = json.loads(read_own(_file(db, f"{tier}.json")).decode("utf-8"))
        if raw.get("format") != FORMAT or raw.get("ocinspect") != __version__ or raw.get("tier") != tier:
            return None
        if raw.get("path") != real_path(db):
            return None
        marks = raw["marks"]
        return Saved(
            tier=tier,
            path=raw["path"],
            marks=Watermarks(
                identity=(int(marks["identity"][0]), int(marks["identity"][1])),
                schema_version=int(marks["schema_version"]),
                page_count=int(marks["page_count"]),
                page_size=int(marks["page_size"]),
                application_id=int(marks["application_id"]),
                counter=int(marks["counter"]),
                tails={
                    str(t): Tail(int(rowid), None if at is None else str(at))
                    for t, (rowid, at) in marks["tails"].items()
                },
            ),
            messages=_ids(raw["messages"]),
            parts=_ids(raw["parts"]),
            ignored=_ids(raw["ignored"]),
            compacting=_ids(raw["compacting"]),
            versions=_ids(raw["versions"]),
            sessions=int(raw["sessions"]),
            token=str(raw["token"]),
            full_at=float(raw["full_at"]),
        )
    except NotOwnFile as exc:
        if problems is not None:
            problems.append(str(exc))
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError, UnicodeError, RecursionError):
        return None


def save(saved: Saved) -> None:
    """Keep ``saved`` (best effort: a state that cannot be written is not kept, silently)."""
    marks = saved.marks
    payload: dict[str, Any] = {
        "format": FORMAT,
        "ocinspect": __version__,
        "tier": saved.tier,
        "path": saved.path,
        "token": saved.token,
        "full_at": saved.full_at,
        "marks": {
            "identity": list(marks.identity),
            "schema_version": marks.schema_version,
            "page_count": marks.page_count,
            "page_size": marks.page_size,
            "application_id": marks.application_id,
            "counter": marks.counter,
            "tails": {t: [tail.rowid, tail.id] for t, tail in marks.tails.items()},
        },
        "messages": sorted(saved.messages),
        "parts": sorted(saved.parts),
        "ignored": sorted(saved.ignored),
        "compacting": sorted(saved.compacting),
        "versions": sorted(saved.versions),
        "sessions": saved.sessions,
    }
    with contextlib.suppress(OSError, ValueError):
        _write(_file(saved.path, f"{saved.tier}.json"), json.dumps(payload, separators=(",", ":")))


def _ids(values: Iterable[Any]) -> frozenset[str]:
    if isinstance(values, (str, bytes)) or not all(isinstance(v, str) for v in values):
        raise ValueError("ids must be a list of strings")
    return frozenset(values)


def _private_dirs(directory: Path) -> None:
    """``ocinspect/`` and ``ocinspect/watermarks/`` exist and are ours alone (``0700``)."""
    directory.parent.parent.mkdir(parents=True, exist_ok=True)
    for d in (directory.parent, directory):
        d.mkdir(mode=DIR_MODE, exist_ok=True)
        info = d.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            d.chmod(info.st_mode & DIR_MODE)  # only take group/other bits away


def _write(target: Path, text: str, *, durable: bool = False) -> None:
    """Atomically (temporary file, rename) and privately (``0600``); ``durable`` fsyncs first
    (the write token: a lost one would let a stale state stand; a lost state costs a full pass)."""
    _private_dirs(target.parent)
    replace_file(target, text, FILE_MODE, exact=True, durable=durable)

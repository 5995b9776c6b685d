"""The undo journal: before-images written and fsynced *before* any change is committed.

One JSON-lines file per run under ``$XDG_STATE_HOME/ocinspect/runs/`` (outside OpenCode's
database, so restoring never depends on the thing being restored). Records, in order:
``run`` (header), one ``unit`` per transaction with every row's before/after image and the
events appended to OpenCode's sync log, then, as the run goes, ``committed``/``skipped`` per
unit, ``done``, and later ``undo``. The images hold tool inputs and outputs (commands, file
contents, sometimes secrets): the directory is created ``0700`` and every run file ``0600``. A unit without a
``committed`` record may still have committed (a kill between COMMIT and the next write): undo
therefore always compares the live row with the after-image, never trusts the markers alone.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from inspector.core.errors import JournalError, RunNotFound
from inspector.core.model import Plan
from inspector.core.text import compact_json

FORMAT = 2  # 2: parts carry ``message_id``; units carry ``events`` and ``cursors``
DIR_MODE = 0o700
FILE_MODE = 0o600


def journal_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "ocinspect" / "runs"


def new_run_id(now_ms: int | None = None) -> str:
    """Sortable and unique: UTC timestamp plus 6 random hex digits."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ms / 1000))
    return f"{stamp}{now_ms % 1000:03d}Z-{secrets.token_hex(3)}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> Path:
    """Create the runs directory private to its user (and narrow one an older version made)."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        mode = directory.stat().st_mode
        if mode & 0o077 and directory.stat().st_uid == os.getuid():
            directory.chmod(mode & 0o700)  # only take group/other bits away, never add any
    except OSError as exc:
        raise JournalError(f"cannot create the journal directory {directory} ({exc.strerror or exc})") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise JournalError(f"the journal directory {directory} is not writable; nothing was changed")
    return directory


def too_open(path: Path) -> bool:
    """Readable or writable by group or others (journals written before they were private)."""
    try:
        return bool(path.stat().st_mode & 0o077)
    except OSError:
        return False


class JournalWriter:
    """Appends the records of one run; ``sync`` makes everything so far durable."""

    def __init__(self, path: Path, handle: TextIO) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def create(cls, directory: Path, run_id: str, plan: Plan, created: int) -> JournalWriter:
        ensure_dir(directory)
        path = directory / f"{run_id}.jsonl"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            handle = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"cannot write the journal {path} ({exc.strerror or exc})") from None
        writer = cls(path, handle)
        try:
            writer.write(
                {
                    "kind": "run",
                    "format": FORMAT,
                    "run_id": run_id,
                    "database": str(Path(plan.database).resolve()),
                    "created": created,
                    "units": len(plan.units),
                    "forced": plan.forced,
                }
            )
            for index, unit in enumerate(plan.units):
                writer.write(
                    {
                        "kind": "unit",
                        "index": index,
                        "sessions": list(unit.session_ids),
                        "changes": [
                            {
                                "table": c.table,
                                "id": c.row_id,
                                "session_id": c.session_id,
                                **({"message_id": c.message_id} if c.message_id else {}),
                                "before": c.before,
                                "after": c.after,
                            }
                            for c in unit.changes
                        ],
                        "cursors": [c.__dict__ for c in unit.cursors],
                        "events": [e.__dict__ for e in unit.events],
                    }
                )
            writer.sync()
            _fsync_dir(directory)
        except OSError as exc:
            writer.close()
            raise JournalError(f"cannot write the journal {path} ({exc.strerror or exc})") from None
        return writer

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(compact_json(record) + "\n")

    def sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        try:
            self._handle.close()
        except OSError:
            pass


@dataclass(frozen=True)
class JournalRun:
    """A run read back from disk."""

    path: Path
    run_id: str
    database: str
    created: int
    units: tuple[dict[str, Any], ...]
    committed: frozenset[int]
    undone: bool
    finished: bool


def read_run(path: Path) -> JournalRun:
    header: dict[str, Any] | None = None
    units: list[dict[str, Any]] = []
    committed: set[int] = set()
    undone = finished = False
    try:
        # not splitlines(): a NEL or U+2028 inside a journaled title or output is data, not a line end
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as exc:
        raise JournalError(f"cannot read the journal {path} ({exc.strerror or exc})") from None
    if lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines):  # a torn last line from a kill mid-append: ignore it
                break
            raise JournalError(f"journal {path} is damaged at line {number}") from None
        kind = record.get("kind")
        if kind == "run":
            if int(record.get("format", 1)) > FORMAT:
                raise JournalError(f"journal {path} was written by a newer ocinspect (format {record['format']})")
            header = record
        elif kind == "unit":
            units.append(record)
        elif kind == "committed":
            committed.add(int(record["index"]))
        elif kind == "observed":  # written through OpenCode's API: what the rows really hold
            _observed(units, record)
        elif kind == "done":
            finished = True
        elif kind == "undo":
            undone = True
    if header is None:
        raise JournalError(f"journal {path} has no header; it is not an ocinspect run")
    return JournalRun(
        path=path,
        run_id=str(header["run_id"]),
        database=str(header["database"]),
        created=int(header["created"]),
        units=tuple(units),
        committed=frozenset(committed),
        undone=undone,
        finished=finished,
    )


def _observed(units: list[dict[str, Any]], record: dict[str, Any]) -> None:
    index = int(record["index"])
    unit = next((u for u in units if int(u["index"]) == index), None)
    if unit is None:
        return
    seen = {(c["table"], c["id"]): c["after"] for c in record.get("changes", [])}
    for change in unit["changes"]:
        change["after"] = seen.get((change["table"], change["id"]), change["after"])


def iter_runs(directory: Path) -> Iterator[JournalRun]:
    """Runs in the journal, newest first; unreadable files are skipped."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl"), reverse=True):
        try:
            yield read_run(path)
        except JournalError:
            continue


def find_run(directory: Path, run_id: str | None, database: str) -> JournalRun:
    """The named run, or the newest not-yet-undone run for ``database``."""
    database = str(Path(database).resolve())
    if run_id is not None:
        path = directory / f"{Path(run_id).name}.jsonl"
        if not path.is_file():
            raise RunNotFound(f"no run {run_id} in the journal at {directory}")
        return read_run(path)
    for run in iter_runs(directory):
        if run.database == database and not run.undone:
            return run
    raise RunNotFound(f"no recovery run to undo for {database} (journal: {directory})")


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one record durably (used for the undo marker)."""
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(compact_json(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise JournalError(f"cannot append to the journal {path} ({exc.strerror or exc})") from None

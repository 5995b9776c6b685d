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

import contextlib
import json
import os
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, TypeGuard

from inspector.core.errors import AlreadyUndone, JournalError, NothingToUndo, RunNotFound
from inspector.core.model import INSERTABLE_COLUMNS, WRITABLE_COLUMNS, Plan
from inspector.core.ownfiles import NotOwnFile, process_alive, read_own
from inspector.core.paths import journal_dir as journal_dir  # where it always was, for its callers
from inspector.core.text import compact_json, local_time

FORMAT = 3  # 2: parts carry ``message_id``; units carry ``events`` and ``cursors``; 3: ``before: null`` (a row added)
DIR_MODE = 0o700
FILE_MODE = 0o600


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


PARTIAL = ".partial"  # a journal still being written: hidden, never read as a run


def _remove_abandoned(directory: Path) -> None:
    """Partial journals of writers that are gone (killed before their journal was whole)."""
    for partial in directory.glob(f".*{PARTIAL}"):
        pid = partial.name[: -len(PARTIAL)].rpartition(".")[2]
        if not pid.isdigit() or process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            partial.unlink()


def check_dir(directory: Path) -> None:
    """What :func:`ensure_dir` would refuse, found without creating anything (a dry run's check)."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise JournalError(f"cannot create the journal directory {directory} ({existing} is not a directory)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise JournalError(f"the journal directory {directory} is not writable; nothing was changed")


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
        """Write the run's header and units under a hidden name, fsync, then name it a run.

        A write that fails (a full disk) or a kill before the rename leaves no ``.jsonl``: a
        journal that is not complete never becomes a run that ``runs`` warns about or that
        ``undo`` takes for the last one; the partial file is removed (or, after a kill, by the
        next run)."""
        ensure_dir(directory)
        _remove_abandoned(directory)
        path = directory / f"{run_id}.jsonl"
        partial = directory / f".{run_id}.{os.getpid()}{PARTIAL}"
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
            handle = os.fdopen(fd, "w", encoding="utf-8")
        except OSError as exc:
            raise JournalError(f"cannot write the journal {path} ({exc.strerror or exc})") from None
        writer = cls(partial, handle)
        try:
            writer.write(
                {
                    "kind": "run",
                    # an older ocinspect reads a run that adds no row: only one that does needs 3
                    "format": FORMAT if any(c.absent for u in plan.units for c in u.changes) else 2,
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
                                "before": None if c.absent else c.before,
                                "after": c.after,
                            }
                            for c in unit.changes
                        ],
                        "cursors": [c.__dict__ for c in unit.cursors],
                        "events": [e.__dict__ for e in unit.events],
                        # tools and turns no row counts (OpenCode 2 keeps tools inside a turn's row)
                        **({"tools": unit.tools, "turns": unit.turns} if unit.tools or unit.turns else {}),
                    }
                )
            writer.sync()
            os.rename(partial, path)  # O_EXCL above and a unique run id: nothing is replaced
            writer.path = path
            _fsync_dir(directory)
        except OSError as exc:
            writer.close()
            with contextlib.suppress(OSError):
                os.unlink(partial)
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

    def discard(self) -> None:
        """Remove a run that committed nothing: it leaves no run to list or undo."""
        self.close()
        try:
            self.path.unlink()
        except OSError:
            pass


@dataclass(frozen=True)
class JournalRun:
    """A run read back from disk (every record checked: undo never meets a half-read run)."""

    path: Path
    run_id: str
    database: str
    created: int
    units: tuple[dict[str, Any], ...]
    committed: frozenset[int]
    undone: bool
    finished: bool
    undone_at: int | None = None  # the time of the first ``undo`` record, when it has one
    # killed while its journal was being written: nothing was committed (the first commit waits
    # until the whole journal is on disk), so there is nothing to undo
    interrupted: bool = False


@dataclass(frozen=True)
class JournalProblem:
    """A file in the journal directory that is not a readable run: named once, then skipped,
    so one bad file never hides every other run. ``run_id``/``database`` come from its header
    when that much could be read."""

    path: Path
    reason: str
    run_id: str | None = None
    database: str | None = None

    def __str__(self) -> str:
        return f"skipped {self.path}: {self.reason}"


class _Damaged(Exception):
    """Why a file is not a whole run (and the header fields read before the damage, if any)."""

    def __init__(self, reason: str, header: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        header = header or {}
        self.run_id = header["run_id"] if isinstance(header.get("run_id"), str) else None
        self.database = header["database"] if isinstance(header.get("database"), str) else None

    def problem(self, path: Path) -> JournalProblem:
        return JournalProblem(path, self.reason, self.run_id, self.database)


class _Unreadable(_Damaged):
    """The file could not be read at all (permissions, I/O): not known to be damaged."""


def read_run(path: Path) -> JournalRun:
    """The run in ``path``; ``JournalError`` naming the file when it is not a whole run."""
    try:
        run = _parse(path)
    except _Unreadable as unreadable:
        raise JournalError(f"the journal {path} {unreadable.reason}") from None
    except _Damaged as damage:
        raise JournalError(f"the journal {path} is damaged ({damage.reason})") from None
    if run.interrupted:
        raise JournalError(f"the journal {path} is damaged ({CUT_OFF})")
    return run


_AFTER_THE_UNITS = {"committed", "observed", "skipped", "done"}  # records a run writes once it writes rows
CUT_OFF = (
    "cut off while its journal was being written (a kill?): such a run committed nothing, unless the file was cut later"
)


def iter_runs(directory: Path, problems: list[JournalProblem] | None = None) -> Iterator[JournalRun]:
    """Runs in the journal, newest first. A file that is not a whole run (damaged, or cut off
    while it was written) is skipped and, when ``problems`` is given, added to it (front ends
    show each as one warning)."""
    for path in _run_paths(directory):
        try:
            run = _parse(path)
        except _Damaged as damage:
            if problems is not None:
                problems.append(damage.problem(path))
            continue
        if not run.interrupted:
            yield run
        elif problems is not None and not run.undone:
            problems.append(JournalProblem(path, CUT_OFF, run.run_id, run.database))


def find_run(
    directory: Path, run_id: str | None, database: str, problems: list[JournalProblem] | None = None
) -> JournalRun:
    """The run to undo: the named one, or the newest not-yet-undone run for ``database``.

    Refuses (``JournalError``) a damaged run it would undo, ``AlreadyUndone`` a named run already
    undone; unreadable files of no known database passed on the way go to ``problems``.
    """
    database = str(Path(database).resolve())
    if run_id is not None:
        path = directory / f"{Path(run_id).name}.jsonl"
        if not path.is_file():
            raise RunNotFound(f"no run {run_id} in the journal at {directory}")
        try:
            run = _parse(path)
        except _Damaged as damage:
            raise _undo_refused(path, damage, directory) from None
        if run.undone:
            when = f" (at {local_time(run.undone_at)})" if run.undone_at is not None else ""
            raise AlreadyUndone(
                f"run {run.run_id} was already undone{when}; nothing was changed",
                run_id=run.run_id,
                undone_at=run.undone_at,
            )
        return run
    last_undone: JournalRun | None = None
    for path in _run_paths(directory):
        try:
            run = _parse(path)
        except _Damaged as damage:
            if damage.database == database:  # the newest run on this database may be this one
                raise _undo_refused(path, damage, directory) from None
            if problems is not None:
                problems.append(damage.problem(path))
            continue
        if run.database == database and not run.undone:
            return run  # a run cut off while written too: ``recover.undo`` checks what it changed
        if run.database == database and last_undone is None:
            last_undone = run
    if last_undone is not None:
        when = f" at {local_time(last_undone.undone_at)}" if last_undone.undone_at is not None else ""
        raise NothingToUndo(
            f"nothing to undo on {database}: its last recovery run, {last_undone.run_id}, was already undone{when}",
            run_id=last_undone.run_id,
            undone_at=last_undone.undone_at,
        )
    raise NothingToUndo(f"nothing to undo on {database}: the journal ({directory}) holds no recovery run of it")


def database_of_run(directory: Path, run_id: str) -> Path:
    """The database a named run was made on (from its header): ``undo RUN`` needs no ``--db``."""
    path = directory / f"{Path(run_id).name}.jsonl"
    if not path.is_file():
        raise RunNotFound(f"no run {run_id} in the journal at {directory}")
    try:
        return Path(_parse(path).database)
    except _Damaged as damage:
        if damage.database is not None:  # damaged after its header: find_run says what is wrong
            return Path(damage.database)
        raise _undo_refused(path, damage, directory) from None


def _undo_refused(path: Path, damage: _Damaged, directory: Path) -> JournalError:
    if isinstance(damage, _Unreadable):
        return JournalError(f"the journal {path} {damage.reason}; nothing was restored")
    return damaged_run(path, damage.reason)


def damaged_run(path: Path, reason: str) -> JournalError:
    """Undo refused: the run's journal does not say every row the run changed."""
    return JournalError(
        f"the journal {path} is damaged ({reason}): ocinspect cannot tell every row that run "
        f"changed, so nothing was restored; undo an older run by its id (see 'ocinspect runs') or "
        f"move that file out of {path.parent}"
    )


def _run_paths(directory: Path) -> list[Path]:
    """Run files, newest first (run ids sort by time)."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.jsonl"), reverse=True)


def _parse(path: Path) -> JournalRun:  # noqa: C901
    """Read and check every record; ``_Damaged`` says the first thing that is not as written."""
    try:
        raw = read_own(path)
    except NotOwnFile as exc:
        raise _Unreadable(f"is {exc.what}, not a regular file of this user") from None
    except OSError as exc:
        raise _Unreadable(f"cannot be read ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Damaged("not UTF-8 text, so not an ocinspect run") from None
    records = _records(text)
    if not records:
        raise _Damaged("cut off inside its header" if text else "empty, so not an ocinspect run")
    header = _header(records[0])
    units: list[dict[str, Any]] = []
    committed: set[int] = set()
    undone_at: int | None = None
    undone = finished = past_units = False
    for number, record in records[1:]:
        kind = record["kind"]
        past_units |= kind in _AFTER_THE_UNITS
        if kind == "run":
            raise _Damaged(f"a second run header on line {number}", header)
        if kind == "unit":
            index = record.get("index")
            if not _is_int(index) or index != len(units) or not isinstance(record.get("changes"), list):
                raise _Damaged(f"the unit record on line {number} is malformed", header)
            units.append(record)
        elif kind == "committed":
            index = record.get("index")
            if not _is_int(index) or not 0 <= index < header["units"]:
                raise _Damaged(f"the committed record on line {number} names no unit", header)
            committed.add(index)
        elif kind == "observed":  # written through OpenCode's API: what the rows really hold
            if not _observed(units, record):
                raise _Damaged(f"the observed record on line {number} is malformed", header)
        elif kind == "done":
            finished = True
        elif kind == "undo":
            if not undone and _is_int(record.get("time")):
                undone_at = record["time"]
            undone = True
    interrupted = len(units) < header["units"] and not past_units
    if len(units) != header["units"] and not interrupted:
        raise _Damaged(f"cut off: it holds {len(units)} of the {header['units']} units its header announces", header)
    for unit in units:
        bad = next((c for c in unit["changes"] if not _valid_change(c)), None)
        if bad is not None:
            raise _Damaged(f"unit {unit['index']} holds a malformed row change", header)
    return JournalRun(
        path=path,
        run_id=header["run_id"],
        database=header["database"],
        created=header["created"],
        units=tuple(units),
        committed=frozenset(committed),
        undone=undone,
        finished=finished,
        undone_at=undone_at,
        interrupted=interrupted,
    )


def _records(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) pairs. Every record ends with a newline: a last line without one is
    an append cut short by a kill, and ignored unless it is whole JSON after all."""
    lines = text.split("\n")
    tail = lines.pop()
    records: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        records.append((number, _record(line, number)))
    if tail:
        try:
            records.append((len(lines) + 1, _record(tail, len(lines) + 1)))
        except _Damaged:
            pass
    return records


def _record(line: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        raise _Damaged(f"line {number} is not JSON") from None
    if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
        raise _Damaged(f"line {number} is not a journal record")
    return record


def _header(numbered: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    _, record = numbered
    if record["kind"] != "run":
        raise _Damaged("it does not start with a run header, so it is not an ocinspect run")
    version = record.get("format", 1)
    if not _is_int(version):
        raise _Damaged("its header has no valid format", record)
    if version > FORMAT:
        raise _Damaged(f"written by a newer ocinspect (format {version})", record)
    for name, valid in (("run_id", _is_text), ("database", _is_text), ("created", _is_int), ("units", _is_int)):
        if not valid(record.get(name)):
            raise _Damaged(f"its header has no valid {name!r}", record)
    if record["units"] < 0:
        raise _Damaged("its header has no valid 'units'", record)
    return record


def _valid_change(change: Any) -> bool:
    """A row change undo can put back: known table and columns, same columns both ways; a row
    the run added (``before: null``) holds every column an added row of its table has."""
    if not isinstance(change, dict) or change.get("table") not in WRITABLE_COLUMNS:
        return False
    if not (_is_text(change.get("id")) and _is_text(change.get("session_id"))):
        return False
    if change.get("message_id") is not None and not _is_text(change.get("message_id")):
        return False
    before, after = change.get("before"), change.get("after")
    if before is None and isinstance(after, dict):  # added by the run
        if set(after) != set(INSERTABLE_COLUMNS.get(change["table"], ())):
            return False
        return all(v is None or isinstance(v, (str, int, float)) for v in after.values())
    if not (isinstance(before, dict) and isinstance(after, dict)) or not before or set(before) != set(after):
        return False
    if not set(before) <= set(WRITABLE_COLUMNS[change["table"]]):
        return False
    return all(v is None or isinstance(v, (str, int, float)) for v in (*before.values(), *after.values()))


def _observed(units: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Fold an ``observed`` record into its unit's after-images; False when malformed."""
    index, changes = record.get("index"), record.get("changes")
    if not _is_int(index) or not isinstance(changes, list):
        return False
    if not all(isinstance(c, dict) and isinstance(c.get("after"), dict) for c in changes):
        return False
    unit = next((u for u in units if u["index"] == index), None)
    if unit is None:
        return True
    seen = {(c.get("table"), c.get("id")): c["after"] for c in changes}
    for change in unit["changes"]:
        if isinstance(change, dict):
            change["after"] = seen.get((change.get("table"), change.get("id")), change.get("after"))
    return True


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def append(path: Path, record: dict[str, Any]) -> None:
    """Append one record durably (used for the undo marker)."""
    try:  # never blocks on (or writes into) anything but the regular file that was read as the run
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotOwnFile(path, "not a regular file")
            handle.write(compact_json(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise JournalError(f"cannot append to the journal {path} ({exc.strerror or exc})") from None

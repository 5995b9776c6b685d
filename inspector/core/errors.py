"""One exception hierarchy, each with a human message, the CLI exit code it maps to, and a
``kind`` that front ends switch on (never on the message text, which is for people)."""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_FOUND = 1  # scan: stale sessions found; recover: some sessions were not repaired
EXIT_ERROR = 2  # bad input, unsupported schema, locked database, ...
EXIT_REFUSED = 3  # recover: a session is live (or liveness unknown) and --force was not given


class InspectorError(Exception):
    """Base class: ``str(err)`` is one line meant for a person, ``exit_code`` for scripts,
    ``kind`` for programs (the TUI picks its explanation screen by it)."""

    exit_code = EXIT_ERROR
    kind: ClassVar[str] = "error"

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        # What would get past it (``model.Hint``: "force", "abort-hung"): the front end says it
        # in its own words; the message never names a flag or a key.
        self.hint = hint

    def __str__(self) -> str:
        # Messages may quote database text (a corrupt row's id, SQLite's "could not decode"
        # text): one line, control characters escaped, wherever it is shown (CLI or TUI).
        from inspector.core.text import printable

        return printable(super().__str__(), single_line=True)


class DatabaseNotFound(InspectorError):
    """No OpenCode database at the given or default location."""

    kind = "missing"


class NotADatabase(InspectorError):
    """The path exists but is not a readable SQLite file (directory, empty, garbage, truncated)."""

    kind = "foreign"


class SchemaUnsupported(InspectorError):
    """The database is SQLite but not a schema we can read or write (2.x, legacy, foreign)."""

    kind = "foreign"


class OpenCode2xSchema(SchemaUnsupported):
    """An OpenCode 2.x database (``session_v2``): explained, never read or written."""

    kind = "v2"


class LegacyStorage(SchemaUnsupported):
    """OpenCode ≤ 1.1 JSON files (``storage/session/…``): no SQLite database to diagnose."""

    kind = "legacy"


class DatabaseLocked(InspectorError):
    """Another process held the write lock past our busy timeout."""

    kind = "locked"


class DatabaseReadOnly(InspectorError):
    """A repair was asked for but the file or its directory is not writable."""

    kind = "read-only"


class SessionNotFound(InspectorError):
    """A session id given by the user does not exist in the database."""

    kind = "unknown-session"


class DirectoryGone(InspectorError):
    """A session's project directory is missing (moved, deleted): OpenCode cannot be opened there."""

    kind = "directory-gone"


class InvalidSessionId(InspectorError):
    """A session row's id is not OpenCode's id shape (``ses_`` and letters or digits): shown as
    data, never handed to OpenCode, where it could be read as an option."""

    kind = "invalid-id"


class UntrustedDirectory(InspectorError):
    """The session's project directory (or one OpenCode reads project config from above it) is
    another user's or writable by every user: OpenCode would load that user's ``opencode.json``,
    plugins and MCP commands. Refused like git's "dubious ownership", unless the person trusts it."""

    exit_code = EXIT_REFUSED
    kind = "untrusted-directory"

    def __init__(self, message: str, *, path: str, owner_uid: int, reason: str) -> None:
        super().__init__(message, hint="trust-directory")
        self.path = path
        self.owner_uid = owner_uid
        self.reason = reason  # "owner" (another user's) or "world-writable"


class CorruptData(InspectorError):
    """A row's JSON ``data`` could not be parsed where we need it."""

    kind = "corrupt"


class JournalError(InspectorError):
    """The undo journal could not be written or read; nothing was changed."""

    kind = "journal"


class RunNotFound(InspectorError):
    """``undo`` was asked for a run id the journal does not know."""

    kind = "unknown-run"


class WritesDisabled(InspectorError):
    """The user opened the database read-only (``--read-only``): no recovery, no undo."""

    kind = "read-only-mode"


class OutputRefused(InspectorError):
    """A file to write (``report -o``) is the database, one of its -wal/-shm/-journal files or
    one of ocinspect's own journal or state files: written over, it would be lost."""

    kind = "output-refused"


class AlreadyUndone(InspectorError):
    """``undo`` was asked for a run the journal says is already undone (a second undo would
    only report every row as "never changed"): exit 2, like any request that cannot be done."""

    kind = "already-undone"

    def __init__(self, message: str, *, run_id: str, undone_at: int | None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.undone_at = undone_at


class NothingToUndo(InspectorError):
    """``undo`` of the last run on a database found none left to undo: a plain statement, not a
    failure (exit 0). ``run_id``/``undone_at``: that database's last run, already undone, if any."""

    exit_code = EXIT_OK
    kind = "nothing-to-undo"

    def __init__(self, message: str, *, run_id: str | None = None, undone_at: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.undone_at = undone_at


class RepairRefused(InspectorError):
    """A session is live (or its liveness is unknown) and the user did not force the repair."""

    exit_code = EXIT_REFUSED
    kind = "refused"


class SessionMovedOn(RepairRefused):
    """``undo`` refused: a session of the run got messages after it (a new prompt, a reply);
    its old rows put back would leave it stuck again behind a newer turn."""

    kind = "moved-on"

    def __init__(self, message: str, *, newer: tuple[tuple[str, str, int], ...]) -> None:
        super().__init__(message, hint="force-moved-on")
        self.newer = newer  # (session id, message id, time_created ms), oldest first


class NotWritable(InspectorError):
    """The database is read, but ocinspect has not proven its writes on this shape (OpenCode 2
    columns that differ from the release it was measured against): nothing is written."""

    kind = "not-writable"


class CheckpointRefused(InspectorError):
    """``doctor --checkpoint`` refused: OpenCode, or any other process, has the database open (or
    whether one has cannot be told). Never overridden: a checkpoint that waits out a writer, or
    races one that starts, helps nobody. ``reason``: "opencode", "in-use" or "cannot-tell"."""

    exit_code = EXIT_REFUSED
    kind = "checkpoint-refused"

    def __init__(self, message: str, *, reason: str, pids: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.reason = reason
        self.pids = pids


class NotWalMode(InspectorError):
    """A WAL checkpoint was asked for a database that does not run in WAL mode (nothing to do)."""

    kind = "not-wal"

"""``watch --exec CMD``: run the user's command once per event, off the watch loop.

The command is split with ``shlex`` and started without a shell (a user who wants one writes
``sh -c '…'``), so nothing in it is ever re-read as shell syntax. Database text reaches the
command only inside the one JSON line on its stdin: never in its arguments or environment.

A hook must never stall the watch: events go into a bounded queue that one worker thread
empties in order (one hook at a time, so hooks see events in the order they happened). A hook
past its timeout is killed with its whole process group; a full queue drops the event and
counts it. Every failure, timeout and drop becomes a :class:`HookProblem` the watch reports.
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Literal

from inspector.core.text import now_ms, printable

DEFAULT_HOOK_TIMEOUT_MS = 10_000  # a notification or a webhook call takes well under this
DEFAULT_HOOK_QUEUE = 100  # events waiting for the hook; more are dropped (and counted)
STDERR_TAIL = 400  # characters of a failed hook's stderr quoted in its report

ProblemKind = Literal["hook-failed", "hook-timeout", "hook-dropped"]


@dataclass(frozen=True)
class HookProblem:
    """A hook that failed, timed out or was never run (the queue was full, or watch stopped)."""

    time: int
    kind: ProblemKind
    message: str
    for_event: str | None = None  # the event kind the hook ran for ("finding", "aborted", ...)
    for_id: str | None = None  # the session (or request) id that event is about
    exit_code: int | None = None  # hook-failed: its exit status (negative: killed by that signal)
    dropped: int = 0  # hook-dropped: how many events were not handed to the hook


@dataclass(frozen=True)
class _Job:
    line: str
    for_event: str
    for_id: str | None


def hook_argv(command: str) -> tuple[str, ...]:
    """``CMD`` as an argv (``shlex``, no shell); ValueError with a sentence when it cannot run."""
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"cannot split the command: {exc}") from None
    if not argv:
        raise ValueError("the command is empty")
    if shutil.which(argv[0]) is None:
        raise ValueError(f"{printable(argv[0], single_line=True)}: command not found or not executable")
    return argv


class HookRunner:
    """One worker thread runs ``argv`` per submitted line, in order; :meth:`problems` says what
    went wrong since the last call (the watch prints it between two looks)."""

    def __init__(
        self,
        argv: tuple[str, ...],
        *,
        timeout_ms: int = DEFAULT_HOOK_TIMEOUT_MS,
        queue_size: int = DEFAULT_HOOK_QUEUE,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.argv = argv
        self.timeout_ms = timeout_ms
        self.queue_size = queue_size
        self.clock = clock
        self.ran = 0  # hooks started (for tests and the report at the end)
        self.dropped = 0  # events never handed to the hook
        # unbounded underneath so that close() can always queue its stop; submit() keeps the bound
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._problems: list[HookProblem] = []
        self._dropped_unsaid = 0  # dropped for a full queue since the last problems()
        self._unrun_unsaid = 0  # still queued when close() gave up on them
        self._running: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()  # close(): what is still queued is not run
        self._thread = threading.Thread(target=self._work, name="ocinspect-hook", daemon=True)
        self._thread.start()

    def submit(self, line: str, for_event: str, for_id: str | None) -> bool:
        """Queue one event's JSON line; never blocks. False (and counted) when the queue is full."""
        with self._lock:
            if self._queue.qsize() >= self.queue_size:  # only the worker takes: it never grows meanwhile
                self.dropped += 1
                self._dropped_unsaid += 1
                return False
            self._queue.put_nowait(_Job(line, for_event, for_id))
        return True

    def problems(self) -> list[HookProblem]:
        """What failed, timed out or was dropped since the last call (drops as one entry)."""
        with self._lock:
            found, self._problems = self._problems, []
            if self._dropped_unsaid:
                found.append(
                    HookProblem(
                        self.clock(),
                        "hook-dropped",
                        f"{self._dropped_unsaid} event(s) not handed to the hook: its queue of "
                        f"{self.queue_size} was full ({self.dropped} in all)",
                        dropped=self._dropped_unsaid,
                    )
                )
                self._dropped_unsaid = 0
            if self._unrun_unsaid:
                found.append(
                    HookProblem(
                        self.clock(),
                        "hook-dropped",
                        f"{self._unrun_unsaid} event(s) not handed to the hook: watch stopped first",
                        dropped=self._unrun_unsaid,
                    )
                )
                self._unrun_unsaid = 0
        return found

    def close(self, grace_ms: int | None = None) -> list[HookProblem]:
        """Let queued hooks run for at most ``grace_ms`` (default: one timeout), then kill the
        one still running and drop the rest; what went wrong, as :meth:`problems` says it."""
        grace = self.timeout_ms if grace_ms is None else grace_ms
        self._queue.put_nowait(None)
        self._thread.join(grace / 1000)
        if self._thread.is_alive():
            self._stopping.set()
        while self._thread.is_alive():  # again until it ends: a hook may be starting right now
            with self._lock:
                running = self._running
            if running is not None:
                _kill_group(running)
            self._thread.join(0.05)
        return self.problems()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._stopping.is_set():
                with self._lock:
                    self.dropped += 1
                    self._unrun_unsaid += 1
                continue
            problem = self._run(job)
            if problem is not None:
                with self._lock:
                    self._problems.append(problem)

    def _run(self, job: _Job) -> HookProblem | None:
        about = f"{job.for_event} {job.for_id}" if job.for_id else job.for_event
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,  # the watch's stdout is its own (JSON lines)
                    stderr=errors,
                    start_new_session=True,  # its own process group: a timeout kills all of it
                    close_fds=True,
                    env=dict(os.environ),  # the watch's own, nothing added: database text stays on stdin
                )
            except OSError as exc:
                return self._problem("hook-failed", f"hook for {about} could not start: {exc.strerror or exc}", job)
            with self._lock:
                self._running = proc
                self.ran += 1
            try:
                proc.communicate((job.line + "\n").encode(), timeout=self.timeout_ms / 1000)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.communicate()  # reaps it and closes its stdin
                return self._problem(
                    "hook-timeout", f"hook for {about} killed after {self.timeout_ms / 1000:g}s (its timeout)", job
                )
            finally:
                with self._lock:
                    self._running = None
            if self._stopping.is_set() and proc.returncode < 0:
                return self._problem("hook-timeout", f"hook for {about} killed: watch stopped", job)
            if proc.returncode == 0:
                return None
            how = f"exited {proc.returncode}" if proc.returncode > 0 else f"killed by signal {-proc.returncode}"
            tail = _tail(errors)
            return self._problem(
                "hook-failed",
                f"hook for {about} {how}" + (f": {tail}" if tail else ""),
                job,
                exit_code=proc.returncode,
            )

    def _problem(self, kind: ProblemKind, message: str, job: _Job, exit_code: int | None = None) -> HookProblem:
        return HookProblem(self.clock(), kind, message, job.for_event, job.for_id, exit_code)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the hook's process group (what it started too), ignoring one already gone."""
    if proc.returncode is not None:  # reaped: its pid may name another process by now
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(errors: IO[bytes]) -> str:
    """The end of what the hook wrote on stderr: one line, made safe to print."""
    errors.seek(0, os.SEEK_END)
    size = errors.tell()
    errors.seek(max(0, size - STDERR_TAIL * 4))
    text = errors.read().decode("utf-8", errors="replace").strip()
    return printable(text[-STDERR_TAIL:], single_line=True)

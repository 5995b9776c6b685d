"""The scan/refresh/watch state machine the app owns: which scan is current, the workers that
scan and refresh, and what the app's reactive state shows meanwhile.

Workers run in threads, call the core, and post the typed messages of ``messages.py``; the app
routes them back here on the main thread, where a message of an older scan (a smaller
``generation``) is dropped. No SQL is written here.

Watch mode: a timer stats the file (``inspector.core.db.filewatch``); when OpenCode wrote, the
core refreshes the last deep scan at O(changes) (``inspector.core.diagnose.incremental.refresh``), and decides
when a sweep or a full deep scan is due. This only calls it and redraws when the result really changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from textual.timer import Timer
from textual.worker import Worker, get_current_worker

from inspector.core.db.filewatch import Signature, file_signature, vanished
from inspector.core.db.store import open_store
from inspector.core.diagnose.incremental.refresh import (
    FullScanNeeded,
    Watched,
    full_scan,
    liveness_stale,
    next_step,
    refresh,
    same_result,
)
from inspector.core.diagnose.incremental.resume import scan_resumed
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import Cancelled
from inspector.core.errors import DatabaseNotFound, InspectorError, NotADatabase, SchemaUnsupported
from inspector.core.health.look import look
from inspector.core.model import ScanResult
from inspector.core.opencode.signals import Signals

from .format import display_path
from .messages import (
    DatabaseUnsupported,
    HealthSeen,
    Refreshed,
    ScanCancelled,
    ScanFailed,
    ScanFinished,
    ScanProgress,
)
from .screens import SessionsScreen, UnsupportedScreen

if TYPE_CHECKING:
    from .host import Host

# Errors that mean "this is not a database ocinspect can diagnose": the app explains them on
# UnsupportedScreen, chosen by the error's typed ``kind`` (missing, foreign, v2, legacy).
UNSUPPORTED = (DatabaseNotFound, NotADatabase, SchemaUnsupported)


class Scans:
    """Scans ``app.config.db_path`` for ``app``: the first view, ctrl+r, the watch poll, the
    rescan when a session turns hung. The results land in the app's reactives."""

    def __init__(self, app: Host) -> None:
        self.app = app
        self.generation = 0  # the current scan; messages of older ones are dropped
        self.watched: Watched | None = None  # the last deep scan's watermarks, refreshes start there
        self._result_all: bool | None = None
        self._worker: Worker[None] | None = None
        self._scanned_signature: Signature | None = None
        self._vanished = False
        self._hung_timer: Timer | None = None
        config = app.config
        # watch mode follows each server's GET /event for progress rows do not show yet (a
        # streaming reply writes its text row only when it ends); pinned liveness needs none
        self._signals = Signals() if config.watch_interval and config.live is None else None

    def close(self) -> None:
        if self._signals is not None:
            self._signals.close()

    def start(self, *, resume: bool = False) -> None:
        """Scan in a thread: the quick tier first when nothing for this view is shown yet.
        ``resume``: from the state the last look kept (the first view); else a full pass (ctrl+r,
        the bounded interval, a start-over), which keeps the state for the next start."""
        app = self.app
        self.generation += 1
        self.watched = None
        show_quick = app.scan_result is None or self._result_all != app.show_all
        app.scanning = True
        self._worker = self._start_worker(
            partial(self._scan, self.generation, app.show_all, show_quick, resume), "scan", "scan the database"
        )

    def cancel(self) -> None:
        if self._worker is not None and self._worker.is_running:
            self._worker.cancel()
            self.generation += 1
            self.stopped()
            self.app.notify("Scan cancelled; the list shows the last complete scan.", severity="warning")

    def stopped(self) -> None:
        """No scan runs any more (cancelled, failed, or its worker crashed)."""
        self.app.scanning = False
        self.app.deep_pending = False

    def _scan(self, generation: int, all_sessions: bool, show_quick: bool, resume: bool) -> None:  # noqa: C901
        app = self.app
        worker = get_current_worker()
        config = app.config
        signature = file_signature(config.db_path)

        def progress(phase: str) -> Callable[[int, int], None]:
            def report(done: int, total: int) -> None:
                app.post_message(ScanProgress(phase, done, total, generation))

            return report

        try:
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
        except UNSUPPORTED as exc:
            app.post_message(DatabaseUnsupported(exc.kind, str(exc), generation))
            return
        except InspectorError as exc:
            app.post_message(ScanFailed(exc, generation))
            return
        try:
            try:
                store.require_readable()
            except SchemaUnsupported as exc:
                app.post_message(DatabaseUnsupported(exc.kind, str(exc), generation))
                return
            options = ScanOptions(
                full=not resume,
                all_sessions=all_sessions,
                live=config.live,
                cancel=worker.cancelled_event,
                hung_after_ms=config.hung_after_ms,
                follow_signals=self._signals,
            )
            if show_quick:
                result, how = scan_resumed(
                    store,
                    replace(options, quick=True, now=config.now(), progress=progress("Quick scan: unfinished turns")),
                )
                for problem in how.skipped:  # a FIFO or a symlink where a state file belongs
                    app.call_from_thread(
                        app.notify, f"skipped {problem}", title="State file skipped", severity="warning", markup=False
                    )
                if worker.is_cancelled:
                    return
                app.post_message(ScanFinished(result, signature, False, all_sessions, generation))
            watched = full_scan(
                store, replace(options, now=config.now(), progress=progress("Deep scan: every tool part"))
            )
            if worker.is_cancelled:
                return
            app.post_message(ScanFinished(watched.result, signature, True, all_sessions, generation, watched))
            self._look_at_health(generation)
        except Cancelled:
            app.post_message(ScanCancelled(generation))
        except InspectorError as exc:
            app.post_message(ScanFailed(exc, generation))
        finally:
            store.dispose()

    def _look_at_health(self, generation: int) -> None:
        """The database's own health after the full scan (a ``stat`` and the lock table); a look
        that fails says nothing (the scan itself reported the database's errors)."""
        try:
            health = look(self.app.config.db_path, busy_timeout_ms=self.app.config.busy_timeout_ms)
        except (InspectorError, OSError):
            return
        self.app.post_message(HealthSeen(health, generation))

    # what the workers said (routed here by the app) ---------------------------------------
    def progress(self, event: ScanProgress) -> None:
        screen = next((s for s in self.app.screen_stack if isinstance(s, SessionsScreen)), None)
        if screen is not None and event.generation == self.generation:
            screen.show_progress(event.phase, event.done, event.total)

    def finished(self, event: ScanFinished) -> None:
        if event.generation != self.generation:
            return
        app = self.app
        while isinstance(app.screen, UnsupportedScreen):
            app.pop_screen()
        app.load_error = ""
        self._result_all = event.all_sessions
        app.deep_pending = not event.final
        app.refreshed = False
        app.scan_result = event.result
        if event.final:
            self._scanned_signature = event.signature
            self.watched = event.watched
            app.scanning = False
            self._rescan_when_hung(event.result)

    def _rescan_when_hung(self, result: ScanResult) -> None:
        """A hung session writes nothing, so the file watch never fires: scan again when the
        first live session would cross ``--hung-after`` (its badge then turns hung)."""
        if self._hung_timer is not None:
            self._hung_timer.stop()
            self._hung_timer = None
        config = self.app.config
        if not config.watch_interval:
            return
        waits = [
            config.hung_after_ms - d.idle_ms
            for d in result.sessions
            if d.verdict == "live" and d.idle_ms is not None and d.idle_ms < config.hung_after_ms
        ]
        if waits:
            self._hung_timer = self.app.set_timer(min(waits) / 1000 + 0.5, self.start, name="hung")

    def failed(self, event: ScanFailed) -> None:
        if event.generation != self.generation:
            return
        app = self.app
        self.stopped()
        if app.scan_result is None:
            app.load_error = str(event.error)
        app.notify(str(event.error), title="Scan failed", severity="error", markup=False)

    def cancelled(self, event: ScanCancelled) -> None:
        if event.generation == self.generation:
            self.stopped()

    def unsupported(self, event: DatabaseUnsupported) -> None:
        if event.generation != self.generation:
            return
        app = self.app
        self.stopped()
        if app.scan_result is not None:  # it was fine a moment ago: keep the list, say what happened
            app.notify(event.detail, title="Database unavailable", severity="error", markup=False)
            return
        if not isinstance(app.screen, UnsupportedScreen):
            app.push_screen(UnsupportedScreen(event.kind, app.config.db_path, event.detail))

    # watch mode ------------------------------------------------------------------------------
    def poll(self) -> None:
        """Cheap ``stat`` of the database and its WAL; when OpenCode (or anyone) wrote, refresh at
        O(changes), or run what the core says is due (a sweep, a full deep scan)."""
        app = self.app
        signature = file_signature(app.config.db_path)
        if vanished(signature):
            if not self._vanished:
                self._vanished = True
                app.notify(
                    f"{display_path(app.config.db_path)} is gone (moved or deleted?)",
                    title="Database vanished",
                    severity="error",
                    markup=False,
                )
            return
        if self._vanished:
            self._vanished = False
            app.notify("The database is back; scanning again.", markup=False)
            self.start()
            return
        if self._scanned_signature is None or app.scanning or self._refreshing():
            return
        clock = time.monotonic()
        live_due = self.watched is not None and liveness_stale(self.watched, clock)
        if signature == self._scanned_signature and not live_due:
            return
        step = next_step(self.watched, clock)
        if step == "full" or self.watched is None:
            self.start()
        else:
            work = partial(
                self._refresh, self.watched, signature, self.generation, sweep=step == "sweep", recheck_live=live_due
            )
            self._start_worker(work, "refresh", "refresh the scan")

    def _start_worker(self, work: Callable[[], None], group: str, description: str) -> Worker[None]:
        """One worker of ``group`` at a time: a newer scan (or refresh) cancels the older one."""
        return self.app.run_worker(
            work, thread=True, exclusive=True, group=group, exit_on_error=False, description=description
        )

    def _refreshing(self) -> bool:
        return any(w.group == "refresh" and w.is_running for w in self.app.workers)

    def _refresh(
        self, watched: Watched, signature: Signature, generation: int, *, sweep: bool, recheck_live: bool
    ) -> None:
        app = self.app
        config = app.config
        try:
            store = open_store(config.db_path, busy_timeout_ms=config.busy_timeout_ms)
        except InspectorError as exc:  # the full scan explains it (unsupported, unreadable, …)
            app.post_message(Refreshed(None, signature, True, generation, str(exc)))
            return
        try:
            new = refresh(
                store,
                watched,
                ScanOptions(live=config.live, now=config.now(), follow_signals=self._signals),
                sweep=sweep,
                recheck_live=recheck_live,
            )
        except FullScanNeeded as exc:
            app.post_message(Refreshed(None, signature, True, generation, str(exc)))
            return
        except InspectorError as exc:
            app.post_message(ScanFailed(exc, generation))
            return
        finally:
            store.dispose()
        app.post_message(Refreshed(new, signature, not same_result(watched.result, new.result), generation))

    def refreshed(self, event: Refreshed) -> None:
        app = self.app
        if event.generation != self.generation or app.scanning:
            return
        if event.watched is None:
            self.start()
            return
        self.watched = event.watched
        self._scanned_signature = event.signature
        if event.changed:
            app.refreshed = True
            app.scan_result = event.watched.result

    def worker_crashed(self, worker: Worker[object]) -> None:
        """A scan or refresh worker raised what it did not expect (the app says what)."""
        if worker.group == "scan":
            self.stopped()
        if worker.group == "refresh":
            self.watched = None  # the next change runs a full deep scan instead

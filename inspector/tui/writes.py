"""The TUI's three writes (recover, answer, undo) as :class:`~.write_flow.WriteFlow` values, the
one place their core requests are built, and how their results and refusals are told.

Every decision (read-only, live/unknown/hung, another workspace, undo while OpenCode runs) is
the core's (``operations``); this module only asks it and renders what it said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inspector.core.diagnose.patterns import REOPEN_HINT
from inspector.core.errors import NothingToUndo, RepairRefused, WritesDisabled
from inspector.core.model import UndoResult
from inspector.core.repair import operations
from inspector.core.repair.answer import asked
from inspector.core.repair.journal import JournalProblem

from . import keys, toasts
from .config import AppConfig
from .format import events_note, plural
from .messages import OperationFailed
from .screens import ConfirmAnswer, ConfirmRecovery, ConfirmUndo
from .screens.confirm_answer import ANSWER_KEY_HINT
from .write_flow import WriteFlow, WriteFlows

if TYPE_CHECKING:
    from .host import Host
    from .scanning import Scans

# How the TUI says what would get past a refusal (the core names no flag or key); ``{id}`` is
# the key of that binding (keys.py: the keymap file's, seen from the screen beneath).
TUI_HINTS = {
    ("Recovery", "force"): "Press {toggle-force} in the confirm dialog to force it, or quit OpenCode first.",
    ("Recovery", "abort-hung"): "Press {recover-session}: the confirm dialog stops hung sessions through OpenCode.",
    ("Recovery", "reject-waiting"): ANSWER_KEY_HINT,
    ("Undo", "force"): "Quit OpenCode first, then press {undo-last-run} again (or: ocinspect undo --force).",
    ("Undo", "force-moved-on"): (
        "Nothing was restored; {undo-last-run} never forces an undo. To put the old rows "
        "back anyway: ocinspect undo --force."
    ),
}


def write_request(
    config: AppConfig,
    session_ids: tuple[str, ...] | None,
    *,
    abort_hung: bool = False,
    reject_waiting: bool = False,
) -> operations.Request:
    """The core request for this app's database and options; only what was asked differs."""
    return operations.Request(
        database=config.db_path,
        session_ids=session_ids,
        abort_hung=abort_hung,
        reject_waiting=reject_waiting,
        read_only=config.read_only,
        hung_after_ms=config.hung_after_ms,
        busy_timeout_ms=config.busy_timeout_ms,
        journal_directory=config.journal_dir,
        settle_timeout_s=config.abort_settle_s,
        live=config.live,
        now=config.now(),
    )


def undo_request(config: AppConfig) -> operations.UndoRequest:
    """The core request to undo the last run on this app's database."""
    return operations.UndoRequest(
        database=config.db_path,
        read_only=config.read_only,
        busy_timeout_ms=config.busy_timeout_ms,
        journal_directory=config.journal_dir,
        live=config.live,
        now=config.now(),
    )


class Writes:
    """The app's writes: each request becomes a flow run by one :class:`WriteFlows`."""

    def __init__(self, app: Host, scans: Scans) -> None:
        self.app = app
        self.scans = scans  # scanned again after each write
        self.flows = WriteFlows(app)
        self.runs: dict[str, tuple[str, ...]] = {}  # run id -> the sessions it recovered (for undo)

    def titles(self) -> dict[str, str]:
        result = self.app.scan_result
        return {d.id: d.session.title for d in result.sessions} if result else {}

    # recover -------------------------------------------------------------------------------
    def recover(self, session_ids: tuple[str, ...] | None) -> None:
        # abort_hung: the confirm dialog shows the hung chains it will stop through OpenCode
        request = write_request(self.app.config, session_ids, abort_hung=True)
        self._prepared(
            "Recovery",
            "plan a recovery",
            request,
            ConfirmRecovery,
            self._confirm_recovery,
            "Recovery cancelled; nothing was changed.",
        )

    def _prepared(
        self,
        action: str,
        planning: str,
        request: operations.Request,
        dialog: type[ConfirmRecovery | ConfirmAnswer],
        confirm: Callable[[operations.Prepared], ConfirmRecovery | ConfirmAnswer | None],
        cancelled: str,
    ) -> None:
        """Recover and answer: both plan with ``prepare`` and write with ``execute``."""
        self.flows.start(
            WriteFlow(
                action=action,
                planning=planning,
                applying="apply a recovery",
                plan=lambda: operations.prepare(request),
                dialog=dialog,
                confirm=confirm,
                cancelled=cancelled,
                apply=operations.execute,
                done=self._recovered,
            )
        )

    def _confirm_recovery(self, prepared: operations.Prepared) -> ConfirmRecovery | None:
        plan = prepared.plan
        if prepared.is_empty and not plan.refused:
            reasons = "; ".join(s.reason for s in plan.nothing_to_do) or "no stuck session found"
            self.app.notify(f"Nothing to recover: {reasons}.", severity="warning", markup=False)
            return None
        return ConfirmRecovery(prepared, titles=self.titles())

    def _recovered(self, outcome: operations.Outcome) -> None:
        app = self.app
        for answered in outcome.answered:
            request = answered.request
            title = self.titles().get(request.session_id) or request.session_id
            verb = "Allowed once through OpenCode" if answered.answer == "once" else "Rejected through OpenCode"
            app.notify(
                f"{title}: {asked(request)}: {answered.detail}.",
                title=verb if answered.settled else "Not answered",
                severity="information" if answered.settled else "error",
                timeout=toasts.RESULT_TIMEOUT,
                markup=False,
            )
        for aborted in outcome.aborted:
            target = aborted.target
            more = len(target.sessions) - 1
            chain = f" (+{plural(more, 'subagent session')})" if more else ""
            app.notify(
                f"{target.title or target.root}{chain}: {aborted.detail}.",
                title="Stopped through OpenCode" if aborted.stopped else "Not stopped",
                severity="information" if aborted.stopped else "error",
                timeout=toasts.RESULT_TIMEOUT,
                markup=False,
            )
        result = outcome.result
        if outcome.undo_run_id:
            self.runs[outcome.undo_run_id] = result.sessions
            app.recovered_ids = app.recovered_ids | frozenset(result.sessions)
            app.notify(
                f"Run {result.run_id}: {plural(len(result.sessions), 'session')} recovered, "
                f"{plural(result.parts_repaired, 'tool part')} aborted, "
                f"{plural(result.messages_completed, 'turn')} closed"
                f"{events_note(result.events_appended)}. "
                + keys.keyed_text("Press {undo-last-run} to undo.", keys.namer(app))
                + (f"\n{REOPEN_HINT}" if outcome.through_opencode else ""),
                title="Recovered",
                timeout=toasts.RESULT_TIMEOUT,
                markup=False,
            )
        elif not outcome.prepared.plan.is_empty:
            app.notify("Nothing was changed.", markup=False)
        if outcome.unforeseen:
            lines = "\n".join(f"{s.id}: {s.reason}" for s in outcome.unforeseen[:5])
            app.notify(
                f"Not recovered:\n{lines}",
                title="Skipped",
                severity="warning",
                timeout=toasts.RESULT_TIMEOUT,
                markup=False,
            )
        self.scans.start()

    # answer --------------------------------------------------------------------------------
    def answer(self, session_id: str) -> None:
        """Answer what ``session_id`` waits on (reject by default; the dialog may allow once)."""
        request = write_request(self.app.config, (session_id,), reject_waiting=True)
        self._prepared(
            "Answer", "plan an answer", request, ConfirmAnswer, self._confirm_answer, "Nothing was answered."
        )

    def _confirm_answer(self, prepared: operations.Prepared) -> ConfirmAnswer | None:
        if not prepared.answers:
            reasons = "; ".join(s.reason for s in prepared.refused) or "it waits for no answer"
            self.app.notify(f"Nothing to answer: {reasons}.", severity="warning", markup=False)
            return None
        return ConfirmAnswer(prepared, titles=self.titles())

    # undo ----------------------------------------------------------------------------------
    def undo(self) -> None:
        """Find the last run and ask first (like recovery); the core refuses while OpenCode runs."""
        request = undo_request(self.app.config)
        self.flows.start(
            WriteFlow(
                action="Undo",
                planning="prepare an undo",
                applying="undo the last recovery",
                plan=lambda: self._prepare_undo(request),
                dialog=ConfirmUndo,
                confirm=lambda prepared: ConfirmUndo(prepared, titles={**prepared.titles, **self.titles()}),
                cancelled="Undo cancelled; nothing was changed.",
                apply=operations.execute_undo,
                done=self._undone,
                busy_first=True,
            )
        )

    def _prepare_undo(self, request: operations.UndoRequest) -> operations.UndoPrepared | None:
        """In the plan thread: "nothing to undo" is a statement, not a failure; a damaged
        journal file beside the run is said and skipped."""
        app = self.app
        problems: list[JournalProblem] = []
        try:
            return operations.prepare_undo(request, problems)
        except NothingToUndo as nothing:
            text = str(nothing)
            app.call_from_thread(app.notify, f"{text[:1].upper()}{text[1:]}.", title="Nothing to undo", markup=False)
            return None
        finally:
            for problem in problems:
                app.call_from_thread(
                    app.notify, str(problem), title="Journal file skipped", severity="warning", markup=False
                )

    def _undone(self, result: UndoResult) -> None:
        app = self.app
        sessions = self.runs.pop(result.run_id, ())
        app.recovered_ids = app.recovered_ids - frozenset(sessions)
        message = f"Run {result.run_id} undone: {plural(result.restored, 'row')} restored{events_note(result.events_appended)}."
        if result.skipped:
            message += f" {plural(len(result.skipped), 'row')} left as they are (changed since)."
        app.notify(
            message,
            title="Undone",
            severity="warning" if result.skipped else "information",
            timeout=toasts.RESULT_TIMEOUT,
            markup=False,
        )
        self.scans.start()

    # refusals ------------------------------------------------------------------------------
    def failed(self, event: OperationFailed) -> None:
        """A refusal names what gets past it in this TUI's keys; anything else is a failure."""
        error = event.error
        hint = TUI_HINTS.get((event.action, getattr(error, "hint", None) or ""))
        refused = isinstance(error, (RepairRefused, WritesDisabled))
        if hint:
            hint = keys.keyed_text(hint, keys.namer(self.app))
        self.app.notify(
            f"{error}" + (f"\n{hint}" if hint else ""),
            title=f"{event.action} refused" if refused else f"{event.action} failed",
            severity="warning" if refused else "error",
            markup=False,
        )

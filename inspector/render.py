"""Plain-text and JSON renderings of core results, for the CLI (no Rich, no Textual).

The JSON shapes are a public contract documented in docs/reference/json.md: keep keys stable; they carry the
database's values exactly (``text.safe_json`` escapes them). Every field from the database in a
text line goes through ``line`` (``text.printable``), and the CLI passes each line through
``printable`` once more before it is written.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from inspector.core.diagnose.asked import request_words
from inspector.core.diagnose.holds import HOLD_PATTERNS
from inspector.core.diagnose.patterns import describe, describe_warning
from inspector.core.diagnose.resume_risk import rerun_at_boot, reruns_at_boot
from inspector.core.diagnose.scan import depth_of
from inspector.core.errors import InspectorError
from inspector.core.model import Diagnosis, Part, PendingRequest, Plan, RunResult, ScanResult, Skip, UndoResult
from inspector.core.text import humanize_ms, iso, local_time, printable, shorten
from inspector.output import Styled, styled

if TYPE_CHECKING:  # abort.py and answer.py talk HTTP: imported only by the commands that use them
    from inspector.core.model import Answer, PendingRequest
    from inspector.core.repair.abort import AbortOutcome, AbortTarget
    from inspector.core.repair.answer import AnswerOutcome
    from inspector.core.repair.operations import Outcome, Prepared

Hints = dict[str, str]  # model.Hint -> the words this front end uses for it

# How a verdict is drawn on a colour terminal: what needs a person stands out, "ok" is quiet.
VERDICT_STYLES = {
    "stale": "bold yellow",
    "hung": "bold red",
    "unknown": "magenta",
    "unfixable": "red",
    "waiting": "cyan",
    "live": "green",
    "ok": "green",
}
WARNING_STYLE = "yellow"
LABEL_WIDTH = 10  # "Directory " : show's labels, the values in one column


def field(label: str, *value: str | tuple[str, str], indent: int = 0) -> Styled:
    """``Label     value`` of ``show``: the label bold, the value's wrapped lines under the value."""
    width = max(LABEL_WIDTH, len(label) + 1) if not indent else 10
    return styled(" " * indent, (label, "bold"), " " * (width - len(label)), *value, hang=indent + width)


def part_json(part: Part, now: int) -> dict[str, Any]:
    return {
        "id": part.id,
        "message_id": part.message_id,
        "tool": part.tool,
        "status": part.status,
        "started": part.started,
        "elapsed_ms": (now - part.started) if part.started else None,
        "input_summary": part.input_summary,
        "title": part.title,
        "child_session_id": part.child_session_id,
        "child_session_inferred": part.child_inferred,
        "in_finished_turn": part.message_completed,
    }


def session_json(diag: Diagnosis, now: int) -> dict[str, Any]:
    return {
        "id": diag.id,
        "title": diag.session.title,
        "directory": diag.session.directory,
        "parent_id": diag.session.parent_id,
        "verdict": diag.verdict,
        "verdict_reason": diag.live_reason,
        "patterns": list(diag.patterns),
        "next": diag.next_step,
        "warnings": list(diag.warnings),
        "unfinished_messages": [m.id for m in diag.unfinished_messages],
        "stuck_parts": [part_json(p, now) for p in diag.stuck_parts],
        "children": list(diag.children),
        "stuck_since": diag.stuck_since,
        "last_activity": diag.last_activity,
        "idle_ms": diag.idle_ms,
        "hang": diag.hang,
        "opencode_status": opencode_status_json(diag),
    }


def opencode_status_json(diag: Diagnosis) -> dict[str, Any] | None:
    """What OpenCode reported for a live/hung/waiting session: its ``/session/status`` object as
    sent, and the permissions/questions it waits on (``null`` for a session no server lists)."""
    status = diag.opencode_status
    if status is None and not diag.waiting_on:
        return None
    raw: Any = None
    if status is not None:
        try:
            raw = json.loads(status.raw) if status.raw else {"type": status.type}
        except ValueError:
            raw = {"type": status.type}
    return {"status": raw, "pending": [request_json(r) for r in diag.waiting_on]}


def request_json(request: PendingRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "session_id": request.session_id,
        "kind": request.kind,
        "permission": request.permission or None,
        "patterns": list(request.patterns),
        "command": request.command or None,
        "question": request.question or None,
        "since": request.since,
    }


def scan_json(result: ScanResult) -> dict[str, Any]:
    return {
        "database": result.database,
        "schema": result.schema,
        "opencode_live": result.opencode_live,
        "quick": result.quick,
        "hung_after_ms": result.hung_after_ms,
        "scanned_at": iso(result.scanned_at),
        "rerun_at_service_boot": list(rerun_at_boot(result.stuck)),
        "write_refusal": refusal_json(result.write_refusal),
        "sessions": [session_json(d, result.scanned_at) for d in result.sessions],
    }


def refusal_json(refusal: InspectorError | None) -> dict[str, str] | None:
    """Why ocinspect reads this file but will not write it (None: it may write it)."""
    return None if refusal is None else {"kind": refusal.kind, "message": str(refusal)}


def run_json(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "dry_run": result.dry_run,
        "sessions": list(result.sessions),
        "parts_repaired": result.parts_repaired,
        "messages_completed": result.messages_completed,
        "sessions_uncompacted": result.sessions_uncompacted,
        "events_appended": result.events_appended,
        "via": dict(result.via),
        "skipped": [skip_json(s) for s in result.skipped],
        "journal": result.journal_path,
    }


def undo_json(result: UndoResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "restored": result.restored,
        "events_appended": result.events_appended,
        "skipped": [skip_json(s) for s in result.skipped],
        "interrupted": result.interrupted,
    }


def skip_json(skip: Skip) -> dict[str, Any]:
    return {"id": skip.id, "reason": skip.reason, "kind": skip.kind, "hint": skip.hint}


def line(value: object) -> str:
    """One field from the database (or the outside world) on one line, safe to print."""
    return printable(value, single_line=True)


def live_line(result: ScanResult) -> str:
    if result.opencode_live is None:
        return f"OpenCode: unknown ({line(result.live_detail)})"
    return f"OpenCode: {'running' if result.opencode_live else 'not running'}"


def scan_text(result: ScanResult) -> list[str]:
    stuck = result.stuck
    lines: list[str] = [styled((line(result.database), "bold"), f"  (schema {result.schema}, {live_line(result)})")]
    if result.write_refusal is not None:
        lines.append(styled(("recovery is not offered: ", WARNING_STYLE), line(str(result.write_refusal))))
    if not stuck and not result.sessions:
        lines.append('No stuck sessions. Nothing is waiting in a stale "Thinking" state.')
        return lines
    if stuck:
        tier = " (quick scan: stuck parts in finished turns not checked)" if result.quick else ""
        counts: dict[str, int] = {}
        for diag in stuck:
            counts[diag.verdict] = counts.get(diag.verdict, 0) + 1
        verdicts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        lines.append(
            styled((f"{len(stuck)} stuck session{'s' if len(stuck) != 1 else ''}", "bold"), f" ({verdicts}){tier}:")
        )
    for diag in result.sessions:
        depth = depth_of(diag, result)
        indent, mark = tree_indent(depth), depth_mark(depth)
        title = shorten(line(diag.session.title), 50)
        if not diag.is_stuck:
            lines.append(styled(f"{indent}{mark}{line(diag.id)}  ", ("ok     ", VERDICT_STYLES["ok"]), f"  {title}"))
            lines += [styled(f"{indent}    ", (text, WARNING_STYLE)) for text in warning_lines(diag)]
            continue
        since = humanize_ms(result.scanned_at - diag.stuck_since) if diag.stuck_since else "-"
        lines.append(
            styled(
                f"{indent}{mark}{line(diag.id)}  ",
                (f"{diag.verdict:<7}", VERDICT_STYLES.get(diag.verdict, "")),
                f'  {", ".join(diag.patterns)}  "{title}"  stuck {since}  {line(diag.session.directory)}',
            )
        )
        lines += verdict_lines(diag, result, indent)
        if diag.next_step:
            lines.append(f"{indent}    next: {line(diag.next_step)}")
        lines += [styled(f"{indent}    ", (text, WARNING_STYLE)) for text in warning_lines(diag)]
        for part in diag.stuck_parts:
            lines.append(f"{indent}    {part_line(part, result.scanned_at)}")
    if reruns := rerun_at_boot(stuck):
        lines.append(rerun_summary(len(reruns), writable=result.write_refusal is None))
    return lines


def rerun_summary(count: int, *, writable: bool = True) -> Styled:
    """The one line that says a read-only OpenCode 2 command would repeat crashed work (and what
    settles it: nothing ocinspect offers on a file it will not write)."""
    sessions = f"{count} session{'s' if count != 1 else ''} would be re-run"
    settles = (
        f"'ocinspect recover --all' settles {'them' if count != 1 else 'it'}"
        if writable
        else "ocinspect will not write this file (see above)"
    )
    return styled(
        (sessions, WARNING_STYLE), f" by the next OpenCode service boot (it calls the model again): {settles}"
    )


def hold_words(diag: Diagnosis) -> str:
    """What an OpenCode 2 session was when it was settled: "crashed mid-shell", "orphaned subagent"…"""
    if "claim-orphan" in diag.patterns:
        return f"crashed mid-{line(diag.stuck_parts[0].tool)}" if diag.stuck_parts else "crashed mid-turn"
    if "claim-kept" in diag.patterns:
        return "stopped with its turn claimed"
    held = [HOLD_PATTERNS[p].title for p in diag.patterns if p in HOLD_PATTERNS and p != "inbox-stranded"]
    return held[0][:1].lower() + held[0][1:] if held else "stuck"


def settled_line(diag: Diagnosis) -> str:
    """One line per OpenCode 2 session ``ocinspect run`` settled before the start."""
    effect = "the service will not re-run it" if reruns_at_boot(diag) else "it no longer shows as thinking"
    return f"settled {line(diag.id)} ({hold_words(diag)}): {effect}; continue it with a new prompt or 'ocinspect open'"


def rerun_line(diag: Diagnosis) -> str:
    """One line per OpenCode 2 session ``ocinspect run --let-opencode-resume`` left to the service."""
    return (
        f"left {line(diag.id)} ({hold_words(diag)}) to OpenCode: the next service boot re-runs it, "
        "calling the model again"
    )


def verdict_lines(diag: Diagnosis, result: ScanResult, indent: str) -> list[str]:
    """What a stuck session's verdict adds under it in the scan (how to stop, answer, or why not)."""
    lines: list[str] = []
    if diag.verdict == "hung":
        lines.append(f"{indent}    hung: {line(diag.live_reason)}")
        if not diag.session.parent_id or result.get(diag.session.parent_id) is None:
            lines.append(f"{indent}    stop it through OpenCode: {abort_command(diag.id, result)}")
    elif diag.verdict == "waiting":
        lines.append(f"{indent}    {line(diag.live_reason)}")
        lines.append(
            f"{indent}    answer it in OpenCode, or reject it: ocinspect recover {line(diag.id)} --reject-waiting"
        )
    elif diag.verdict == "unfixable":
        lines.append(f"{indent}    {line(diag.live_reason)}")
    elif diag.verdict == "live" and diag.opencode_status is not None and diag.opencode_status.type == "retry":
        lines.append(f"{indent}    live: {line(diag.live_reason)}")
    return lines


# Deeper subagents are indented no further: a chain thousands deep would print megabytes of spaces.
MAX_INDENT_DEPTH = 12


def tree_indent(depth: int) -> str:
    """The indentation of a session at ``depth`` in a tree (at most ``MAX_INDENT_DEPTH`` levels)."""
    return "  " * (1 + min(depth, MAX_INDENT_DEPTH))


def depth_mark(depth: int) -> str:
    """Before the id of a session deeper than the indentation shows: its depth, in words."""
    return f"[depth {depth}] " if depth > MAX_INDENT_DEPTH else ""


def abort_command(session_id: str, result: ScanResult) -> str:
    """The command that stops a hung session, with the threshold the scan used (if not default)."""
    from inspector.core.defaults import DEFAULT_HUNG_AFTER_MS
    from inspector.core.durations import format_duration

    command = f"ocinspect recover {line(session_id)} --abort-hung"
    if result.hung_after_ms is not None and result.hung_after_ms != DEFAULT_HUNG_AFTER_MS:
        command += f" --hung-after {format_duration(result.hung_after_ms)}"
    return command


def warning_lines(diag: Diagnosis) -> list[str]:
    """One line per risk of acting on the session: said before anyone recovers or prompts it."""
    lines = []
    for name in diag.warnings:
        warning = describe_warning(name)
        lines.append(f"! {warning.title} ({name}): {warning.advice}")
    return lines


def part_line(part: Part, now: int) -> str:
    since = f"for {humanize_ms(now - part.started)}" if part.started else "(never started)"
    what = line(part.input_summary) or "(no input yet)"
    where = " in a finished turn" if part.message_completed else ""
    return f"{line(part.tool)} {line(part.status)}{where} {since}: {shorten(what, 70)}  [{line(part.id)}]"


def show_text(diag: Diagnosis, result: ScanResult) -> list[str]:  # noqa: C901
    now = result.scanned_at
    session = diag.session
    lines: list[str] = [
        field("Session", line(diag.id)),
        field("Title", line(session.title)),
        field("Directory", line(session.directory)),
    ]
    if session.parent_id:
        lines.append(field("Parent", line(session.parent_id)))
    lines.append(
        field("Created", f"{local_time(session.time_created)}   last activity {local_time(diag.last_activity)}")
    )
    verdict = diag.verdict if diag.is_stuck else "ok"
    lines.append(
        field(
            "Verdict",
            (verdict, VERDICT_STYLES.get(verdict, "")),
            f": {line(diag.live_reason)}" if diag.is_stuck else ": nothing is stuck",
        )
    )
    if diag.next_step:
        lines.append(field("Next", line(diag.next_step)))
    if diag.is_stuck and result.write_refusal is not None:
        lines.append(field("Recovery", ("not offered", WARNING_STYLE), f": {line(str(result.write_refusal))}"))
    if diag.verdict == "hung":
        lines.append(field("Hang", diag.hang or "tool-silent"))
        lines.append(
            field("Stop it", f"{abort_command(diag.id, result)}  (through OpenCode: the running tool is killed)")
        )
    if diag.opencode_status is not None:
        lines.append(field("OpenCode", line(diag.opencode_status.raw or diag.opencode_status.type)))
    for request in diag.waiting_on:
        since = (
            f"since {local_time(request.since)} ({humanize_ms(now - request.since)} ago)"
            if request.since is not None
            else "since: unknown"
        )
        lines.append(field("Asked", f"{line(request_words(request))}  {since}  [{line(request.id)}]"))
    for name in diag.warnings:
        warning = describe_warning(name)
        lines += [
            "",
            styled((f"! {warning.title} ({name})", WARNING_STYLE)),
            field("Why:", warning.why, indent=2),
            field("Advice:", warning.advice, indent=2),
        ]
    for name in diag.patterns:
        pattern = describe(name, result.schema)
        lines += [
            "",
            styled((f"{pattern.title} ({name})", "bold")),
            field("Why:", pattern.why, indent=2),
            field("Recovery:", pattern.repair, indent=2),
        ]
    if diag.unfinished_messages:
        lines += ["", styled(("Unfinished assistant turns:", "bold"))]
        for message in diag.unfinished_messages:
            lines.append(
                f"  {line(message.id)}  started {local_time(message.time_created)} "
                f"({humanize_ms(now - message.time_created)} ago), agent {line(message.agent or '-')}, "
                f"model {line(message.model or '-')}"
            )
    if diag.stuck_parts:
        lines += ["", styled(("Stuck tool parts:", "bold"))]
        for part in diag.stuck_parts:
            lines.append(f"  {part_line(part, now)}")
            if part.title:
                lines.append(f"      title: {shorten(line(part.title), 90)}")
            if part.child_session_id:
                inferred = " (inferred)" if part.child_inferred else ""
                lines.append(f"      subagent session: {line(part.child_session_id)}{inferred}")
            if part.output_tail.strip():
                tail = printable(part.output_tail.strip()).splitlines()[-5:]
                lines.append("      last output:")
                lines += [f"        {text}" for text in tail]
    if diag.children:
        lines += ["", "Stuck subagent sessions: " + ", ".join(line(c) for c in diag.children)]
    return lines


def plan_text(plan: Plan, hints: Hints | None = None) -> list[str]:
    lines: list[str] = []
    for unit in plan.units:
        label = " + ".join(line(s) for s in unit.session_ids)
        route = f" (through the OpenCode serving it, port {unit.via_port})" if unit.via_port else ""
        lines.append(f"Session {label}{route}:")
        for change in unit.changes:
            lines.append(f"  {change.table} {line(change.row_id)}: {line(change.summary)}")
    lines += [f"! {text}" for text in plan_warning_lines(plan)]
    for skip in plan.refused:
        hint = (hints or {}).get(skip.hint or "")
        lines.append(f"Refused {line(skip.id)}: {line(skip.reason)}" + (f" ({hint})" if hint else ""))
    for skip in plan.nothing_to_do:
        lines.append(f"Skipped {line(skip.id)}: {line(skip.reason)}")
    if plan.units:
        lines.append(
            f"Plan: {len(plan.session_ids)} session(s), {plan.parts} tool part(s) → error, "
            f"{plan.messages} turn(s) → completed{events_clause(plan.event_count)}."
        )
    return lines


def plan_warning_lines(plan: Plan) -> list[str]:
    """The risks of the sessions a plan names, one line each (said before anything is written)."""
    lines = []
    for session_id, name in plan.warnings:
        warning = describe_warning(name)
        lines.append(f"{line(session_id)}: {warning.title}: {warning.advice}")
    return lines


def events_clause(count: int) -> str:
    """How the plan keeps OpenCode's sync log in step (nothing said where there is no log)."""
    if not count:
        return ""
    return f", {count} event{'s' if count != 1 else ''} appended to OpenCode's sync log"


def abort_json(target: AbortTarget, outcome: AbortOutcome | None = None) -> dict[str, Any]:
    """One hung chain for ``recover --abort-hung --json`` and ``watch --json``.

    ``stopped`` is ``null`` when nothing was sent (a dry run).
    """
    return {
        "id": target.root,
        "sessions": list(target.sessions),
        "title": target.title,
        "idle_ms": target.idle_ms,
        "reason": target.reason,
        "stopped": None if outcome is None else outcome.stopped,
        "detail": None if outcome is None else outcome.detail,
        "aborted": [] if outcome is None else list(outcome.aborted),
    }


def abort_text(targets: tuple[AbortTarget, ...]) -> list[str]:
    from inspector.core.repair.abort import target_line

    if not targets:
        return []
    lines = ["Abort through OpenCode (the running tool is killed):"]
    lines += [f"  {line(target_line(t))}" for t in targets]
    return lines


def outcome_line(outcome: AbortOutcome) -> str:
    target = outcome.target
    more = len(target.sessions) - 1
    chain = f" (+{more} subagent session{'s' if more != 1 else ''})" if more else ""
    verb = "Stopped" if outcome.stopped else "Not stopped"
    return line(f"{verb} {target.root}{chain}: {outcome.detail}")


def answer_text(answers: tuple[tuple[PendingRequest, Answer], ...], now: int) -> list[str]:
    """What will be answered through OpenCode, one line per request (said before asking)."""
    from inspector.core.repair.answer import answer_line

    if not answers:
        return []
    lines = ["Answer through OpenCode (it closes or runs the tool itself; ocinspect writes no row):"]
    lines += [f"  {line(r.session_id)}: {line(answer_line(r, a, now))}" for r, a in answers]
    return lines


def answered_line(outcome: AnswerOutcome) -> str:
    """One answer sent (or not) and what OpenCode then did."""
    from inspector.core.repair.answer import asked

    verb = "Allowed once" if outcome.answer == "once" else "Rejected"
    if not outcome.settled:
        verb = f"Not {'allowed' if outcome.answer == 'once' else 'rejected'}"
    return line(f"{verb} {outcome.request.session_id} {asked(outcome.request)}: {outcome.detail}")


def answer_json(request: PendingRequest, answer: Answer, outcome: AnswerOutcome | None = None) -> dict[str, Any]:
    """One pending request and its answer for ``recover --json`` and ``watch --json``.

    ``sent``/``settled`` are ``null`` when nothing was sent (a dry run); ``raw`` is OpenCode's object.
    """
    import json

    from inspector.core.repair.answer import asked

    try:
        raw = json.loads(request.raw) if request.raw else None
    except ValueError:
        raw = request.raw
    return {
        "id": request.id,
        "session_id": request.session_id,
        "kind": request.kind,
        "answer": answer,
        "asked": asked(request),
        "permission": request.permission or None,
        "patterns": list(request.patterns),
        "command": request.command or None,
        "question": request.question or None,
        "since": iso(request.since),
        "port": request.port,
        "sent": None if outcome is None else outcome.sent,
        "settled": None if outcome is None else outcome.settled,
        "detail": None if outcome is None else outcome.detail,
        "route": None if outcome is None else outcome.route or None,
        "part_status": None if outcome is None else outcome.part_status,
        "request": raw,
    }


def prepared_lines(prepared: Prepared, hints: Hints) -> list[str]:
    """What a recovery is about to do: the answers and the chains to abort, then the plan."""
    return (
        answer_text(prepared.answers, prepared.plan.created)
        + abort_text(prepared.aborts)
        + plan_text(prepared.plan, hints)
    )


def outcome_lines(outcome: Outcome, undo_command: str) -> list[str]:
    """What a recovery did, for people: aborts, the run, what was skipped, how to undo it."""
    from inspector.core.diagnose.patterns import REOPEN_HINT

    prepared, result = outcome.prepared, outcome.result
    if prepared.is_empty or result.dry_run:
        nothing = prepared.is_empty and not prepared.refused
        return ["Nothing to recover."] if nothing else []
    lines = [answered_line(o) for o in outcome.answered]
    lines += [outcome_line(o) for o in outcome.aborted]
    if not prepared.plan.is_empty:
        if result.sessions:
            lines.append(
                f"Recovered {len(result.sessions)} session(s): {result.parts_repaired} tool part(s) "
                f"aborted, {result.messages_completed} turn(s) closed"
                f"{events_clause(result.events_appended)}. Run id {result.run_id}."
            )
        else:
            lines.append("Nothing was recovered.")
    lines += [f"Skipped {line(skip.id)}: {line(skip.reason)}" for skip in outcome.unforeseen]
    routes = dict(result.via)
    lines += [
        f"  {line(sid)}: {'via OpenCode' if routes.get(sid) == 'opencode' else 'direct'}" for sid in result.sessions
    ]
    if outcome.through_opencode:
        lines.append(REOPEN_HINT)
    if outcome.undo_run_id:
        lines.append(f"Undo with: {undo_command} {outcome.undo_run_id}")
    return lines


def plan_json(plan: Plan) -> list[dict[str, Any]]:
    """Every row the plan changes, unit by unit: the rows the text plan prints."""
    return [
        {
            "sessions": list(unit.session_ids),
            "via": "opencode" if unit.via_port else "direct",
            "changes": [
                {"table": c.table, "id": c.row_id, "session_id": c.session_id, "summary": c.summary}
                for c in unit.changes
            ],
        }
        for unit in plan.units
    ]


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """``recover --json``: the run (or dry run), and the aborts and answers when they were asked for."""
    data = run_json(outcome.result)
    prepared = outcome.prepared
    data["plan"] = plan_json(prepared.plan)
    if prepared.request.abort_hung:
        done = {o.target.root: o for o in outcome.aborted}
        data["aborted"] = [abort_json(t, done.get(t.root)) for t in prepared.aborts]
    if prepared.request.reject_waiting or prepared.request.allow_once:
        answered = {o.request.id: o for o in outcome.answered}
        data["answered"] = [answer_json(r, a, answered.get(r.id)) for r, a in prepared.answers]
    return data

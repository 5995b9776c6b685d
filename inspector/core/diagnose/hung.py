"""Hung: OpenCode lists a session busy, yet it gets nowhere. Three shapes (``Diagnosis.hang``):

**tool-silent** — a tool that never returns. A session OpenCode is really working on writes its
rows all the time (a running ``bash`` appends to ``state.metadata.output`` about once a second
while the command prints, a new step inserts a new message). So a busy chain is hung when

- no ``message``/``part`` row of the chain has been updated (and no event progress was seen,
  ``LiveStatus.progress``) for at least ``hung_after_ms``, and
- the newest tool part of the chain (or a parallel call of the same step) is still
  ``pending``/``running``.

**model-stalled** — the model stream stops and OpenCode restarts the step, forever (measured on
1.18.33: after the provider's chunk timeout the status turns ``retry`` "SSE read timed out", a
new ``step-start`` and an *empty* ``text`` part are written, and it stalls again). Rows move at
every cycle, so row silence cannot catch it. Instead: no tool is running, the chain's newest
**kept output** (a text/reasoning part with text, or a tool part, in a step that was not
restarted) is at least ``hung_after_ms`` old, and at least one step was restarted since (a
``step-start`` with no ``step-finish`` before the next ``step-start``). A healthy slow reply is
ONE step whose text row is written only when it ends: no restart, so never this shape. Event
progress in the current step counts as output after one restart (a transient stall, then a
healthy stream), not after two (a loop whose output never persists).

**retry-loop** — status ``retry`` past ``RETRY_ATTEMPTS_MAX`` attempts, or retrying while
nothing of the chain moved for ``hung_after_ms`` (the start is estimated from the rows: a
retrying call writes nothing).

**resume-loop** (OpenCode 2) — the managed service re-runs a turn that died (a crash, a kill)
at each boot, up to 10 times: a chain it lists running whose ``resume_attempts`` reached
``RESUME_LOOP_ATTEMPTS`` is a turn that keeps dying, whatever it does right now.

Never hung: a session waiting for a person (verdict ``waiting``, set before this runs), a
running ``question`` tool, a chain we could not ask about pending requests (``undecided``).
Only busy chains are examined, through indexes: O(busy sessions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from inspector.core.db.reads.judge import ChainMotion, JudgeReads
from inspector.core.diagnose.asked import status_words
from inspector.core.diagnose.tree import chain_of
from inspector.core.model import Diagnosis, HangKind, Part, ServerStatus
from inspector.core.opencode.live import LiveStatus
from inspector.core.text import humanize_ms, local_time, shorten

# A retry loop that is not ending by itself: OpenCode 1.18.33 gives up on HTTP 503 after 5
# attempts and on 429 after 3 (measured), so twice its longest run of a transient error is a
# loop (with its growing backoff, 10 attempts take several minutes).
RETRY_ATTEMPTS_MAX = 10
# OpenCode 2.1.2's service gives up after 10 resumes; three in a row is no accident.
RESUME_LOOP_ATTEMPTS = 3
_ACTIVE = ("pending", "running")
_TEXT = ("text", "reasoning")


@dataclass(frozen=True)
class Motion:
    """What the chain's recent rows say: when anything last moved, its newest tool part, when
    it last produced output that was kept, and how many steps OpenCode restarted since."""

    last_moved: int | None
    newest_tool: Part | None
    output_at: int | None = None
    restarts: int = 0
    step_at: int | None = None  # the newest step-start (the current step began then)


@dataclass
class _Step:
    start: int
    output: int | None = None  # newest text/reasoning with text in this step
    finished: bool = False
    streamed: bool = False  # the model's stream began (a text/reasoning part, even empty)


def classify_motion(  # noqa: C901
    chain: ChainMotion,
    known: Mapping[str, Part],
    turn_start: int | None = None,
    *,
    retrying: bool = False,
) -> Motion:
    """What the chain's recent rows (``JudgeReads.chain_motion``) say, as a :class:`Motion`.

    ``known`` maps ids of tool parts already read (the scan's stuck parts) to their ``Part``.
    ``turn_start`` is when the current turn began (the floor of ``output_at`` when it has
    produced nothing yet). ``retrying``: OpenCode's status is ``retry``; if the newest unfinished
    step's stream had begun, it is being restarted (measured: its text is dropped, a new step
    starts once the wait is over). A call refused before streaming (HTTP 503/429) leaves no text
    part: not a restart.
    """
    last = max(chain.message_updates, default=0)
    tools: list[tuple[int, str]] = []
    output = turn_start
    restarts: list[int] = []
    newest_step: int | None = None
    steps: dict[str, list[_Step]] = {}  # per message: OpenCode restarts a step in its message
    for row in sorted(chain.parts, key=lambda r: (r.time_created, r.id)):
        mine = steps.setdefault(row.message_id, [])
        last = max(last, row.time_updated)
        if row.type == "tool":
            tools.append((row.time_created, row.id))
            output = max(output or 0, row.time_updated)  # real work, whatever happened to its step
        elif row.type == "step-start":
            mine.append(_Step(row.time_created))
            newest_step = max(newest_step or 0, row.time_created)
        elif row.type == "step-finish" and mine:
            mine[-1].finished = True
        elif row.type in _TEXT:
            if mine:
                mine[-1].streamed = True
            if row.text_len == 0:
                continue
            if mine:
                mine[-1].output = max(mine[-1].output or 0, row.time_updated)
            else:
                output = max(output or 0, row.time_updated)
    for mine in steps.values():
        for index, step in enumerate(mine):
            if index + 1 < len(mine) and not step.finished:  # restarted: its output was dropped
                restarts.append(mine[index + 1].start)
            elif retrying and index + 1 == len(mine) and not step.finished and step.streamed:
                restarts.append(step.start + 1)  # its stream broke off: being restarted
            elif step.output is not None:
                output = max(output or 0, step.output)
    newest: Part | None = None
    for _, part_id in sorted(tools, reverse=True):
        newest = known.get(part_id) or chain.tools.get(part_id)
        if newest is not None:
            break
    if newest is not None and newest.status not in _ACTIVE:
        # Parallel calls of one step: the step still waits on a sibling that is running.
        siblings = [p for p in known.values() if p.message_id == newest.message_id and p.status in _ACTIVE]
        newest = max(siblings, key=lambda p: (p.time_created, p.id), default=newest)
    since = sum(1 for when in restarts if output is None or when > output)
    return Motion(
        last_moved=last or None, newest_tool=newest, output_at=output or None, restarts=since, step_at=newest_step
    )


@dataclass(frozen=True)
class Decision:
    hang: HangKind | None  # None: not hung
    reason: str
    idle_ms: int | None


def classify(
    reads: JudgeReads,
    diagnoses: dict[str, Diagnosis],
    *,
    live: LiveStatus,
    hung_after_ms: int,
    now: int,
    resumed: Mapping[str, int] | None = None,
) -> dict[str, Diagnosis]:
    """Every ``live`` chain gets ``idle_ms``; those that meet a definition become ``hung``.
    ``resumed``: how often OpenCode 2's service re-ran each session's current turn."""
    result = dict(diagnoses)
    done: set[str] = set()
    for sid, diag in diagnoses.items():
        if diag.verdict != "live" or sid in done:
            continue
        chain = chain_of(sid, diagnoses) or [sid]
        done.update(chain)
        known = {p.id: p for member in chain for p in diagnoses[member].stuck_parts}
        starts = [m.time_created for member in chain for m in diagnoses[member].unfinished_messages]
        status = chain_status(chain, live)
        rows = reads.chain_motion(chain, set(known))
        motion = classify_motion(
            rows,
            known,
            rows.turn_start or (max(starts) if starts else None),
            retrying=status is not None and status.type == "retry",
        )
        decision = decide(chain, motion, live, hung_after_ms, now)
        attempts = max((resumed or {}).get(member, 0) for member in chain)
        if attempts >= RESUME_LOOP_ATTEMPTS and decision.reason != QUESTION_WAITS:
            decision = Decision("resume-loop", resume_reason(attempts, decision), decision.idle_ms)
        for member in chain:
            current = result[member]
            if decision.hang is not None:
                result[member] = replace(
                    current, verdict="hung", live_reason=decision.reason, idle_ms=decision.idle_ms, hang=decision.hang
                )
            else:
                says_why = decision.reason and current.verdict == "live"
                reason = f"{current.live_reason}; {decision.reason}" if says_why else current.live_reason
                result[member] = replace(current, idle_ms=decision.idle_ms, live_reason=reason)
    return result


def chain_status(chain: Sequence[str], live: LiveStatus) -> ServerStatus | None:
    """The chain's status: a member that retries says more than one that is busy."""
    found = [st for st in (live.status_of(s) for s in chain) if st is not None]
    return next((st for st in found if st.type == "retry"), found[0] if found else None)


def decide(chain: Sequence[str], motion: Motion, live: LiveStatus, hung_after_ms: int, now: int) -> Decision:
    """The verdict for one busy chain: which hang (or none) and the reason in words."""
    progress = max((p for p in (live.progress_of(s) for s in chain) if p is not None), default=None)
    moved = max((t for t in (motion.last_moved, progress) if t is not None), default=None)
    if moved is None:
        return Decision(None, "", None)
    idle = max(0, now - moved)
    tool = motion.newest_tool
    status = chain_status(chain, live)
    retrying = status is not None and status.type == "retry"
    if tool is not None and tool.status in _ACTIVE and tool.tool == "question":
        return Decision(None, QUESTION_WAITS, idle)
    if any(s in live.undecided for s in chain):
        return Decision(None, "could not ask OpenCode whether it waits for your answer", idle)
    if tool is not None and tool.status in _ACTIVE:
        if idle < hung_after_ms:
            return Decision(None, f"last moved {humanize_ms(idle)} ago", idle)
        return Decision("tool-silent", hung_reason(tool, idle, moved, chain, now), idle)
    output = motion.output_at
    if (
        progress is not None
        and not retrying
        and motion.restarts < 2
        and (motion.step_at is None or progress > motion.step_at)
    ):
        output = max(output or 0, progress)  # the current step streams (seen on GET /event)
    quiet = None if output is None else max(0, now - output)
    if motion.restarts and quiet is not None and quiet >= hung_after_ms:
        return Decision("model-stalled", stalled_reason(quiet, motion.restarts, status, now), quiet)
    if retrying and status is not None:
        if (status.attempt or 0) > RETRY_ATTEMPTS_MAX or idle >= hung_after_ms:
            return Decision("retry-loop", retry_reason(status, idle, now), idle)
        return Decision(None, f"{status_words(status, now)}; nothing else moved for {humanize_ms(idle)}", idle)
    why = f"last moved {humanize_ms(idle)} ago; no tool is running"
    if motion.restarts:
        why += f"; OpenCode restarted the step {_times(motion.restarts)} without new output"
    return Decision(None, why, idle)


QUESTION_WAITS = "its question tool waits for your answer, so it is not hung"


def resume_reason(attempts: int, seen: Decision) -> str:
    """``resume loop: OpenCode's service re-ran this turn 4 times after it died …; last moved 3s ago``."""
    now = f"; {seen.reason}" if seen.reason else ""
    return (
        f"resume loop: OpenCode's service re-ran this turn {_times(attempts)} after it died (it gives up after 10){now}"
    )


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def stalled_reason(quiet: int, restarts: int, status: ServerStatus | None, now: int) -> str:
    """``model stalled: no new output for 6m although OpenCode restarted the step 3 times
    (last status: SSE read timed out, attempt 3)``."""
    if status is not None and status.type == "retry":
        said = ", ".join(
            x
            for x in (shorten(status.message, 100), f"attempt {status.attempt}" if status.attempt is not None else "")
            if x
        )
        last = f"last status: {said or 'retry'}"
    else:
        last = f"status: {status.type}" if status is not None else "status: busy"
    return (
        f"model stalled: no new output for {humanize_ms(quiet)} although OpenCode restarted the "
        f"step {_times(restarts)} ({last})"
    )


def retry_reason(status: ServerStatus, idle: int, now: int) -> str:
    """``retry loop: retrying, attempt 12: …; next try in 30s; nothing else moved for 16m``."""
    return f"retry loop: {status_words(status, now)}; nothing else moved for {humanize_ms(idle)}"


def hung_reason(tool: Part, idle: int, last_moved: int | None, chain: Sequence[str], now: int) -> str:
    """``OpenCode lists it busy, but nothing has moved for 16m …: bash running for 17m: sleep 600``."""
    started = tool.started or tool.time_created
    what = f"{tool.tool} {tool.status} for {humanize_ms(now - started)}"
    if tool.input_summary:
        what += f": {shorten(tool.input_summary, 60)}"
    where = f" (in subagent {tool.session_id})" if len(chain) > 1 and tool.session_id != chain[0] else ""
    return (
        f"OpenCode lists it busy, but nothing has moved for {humanize_ms(idle)} "
        f"(last activity {local_time(last_moved)}): {what}{where}"
    )

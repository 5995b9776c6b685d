"""The stuck patterns, in words a user understands: what happened and what recovery does.

One table shared by the CLI (``show``), the TUI (detail and help screens) and the README. The
texts name no CLI flag or TUI key: each front end adds its own hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, replace

from inspector.core.db.generation import named
from inspector.core.diagnose.holds import HOLD_PATTERNS
from inspector.core.diagnose.pattern_text import Pattern
from inspector.core.model import Message, Part, Schema

UPGRADE_ADVICE = "upgrade OpenCode to 1.18.15 or newer, then send the prompt again"


PATTERNS: dict[str, Pattern] = {
    p.name: p
    for p in (
        Pattern(
            "crash-orphan",
            "Crash orphan",
            "OpenCode stopped (crash or kill) while a tool was running; the turn never finished, "
            "so {open_turn_effect}.",
            'Mark the running tool as aborted (error "{tool_error}") and close the '
            "turn as aborted, exactly as OpenCode does when you press Esc.",
        ),
        Pattern(
            "pending-placeholder",
            "Pending placeholder",
            "OpenCode stopped while the model was still streaming a tool call's arguments; the "
            "tool never started and its input is empty.",
            "Mark the placeholder as aborted and close the turn.",
        ),
        Pattern(
            "parts-in-finished-turn",
            "Stuck part in a finished turn",
            "The turn is marked finished, but one of its tools is still pending or running in the database.",
            "Mark the leftover tool as aborted; the finished turn is left as it is.",
        ),
        Pattern(
            "subagent-chain",
            "Subagent chain",
            "A task (subagent) tool is stuck in the parent session and its child session is "
            "stuck too; both must be closed together.",
            "Repair the parent and every stuck child in one transaction.",
        ),
        Pattern(
            "question-wait",
            "Question or permission wait",
            "A tool was waiting for your answer (question or permission), but the server that "
            "asked is gone; nobody can answer it any more.",
            "Mark the waiting tool as aborted and close the turn; ask again in a new prompt.",
        ),
        Pattern(
            "compaction",
            "Compaction stuck",
            "OpenCode started compacting (summarising) the session and never finished; the "
            "session stays marked as compacting.",
            "Clear the session's compacting mark (and close the unfinished summary turn).",
        ),
        Pattern(
            "interrupted-turn",
            "Interrupted turn",
            "The assistant's turn never finished (OpenCode stopped while the model was "
            "writing), although no tool was running.",
            "Close the turn as aborted.",
        ),
        Pattern(
            "ignores-prompts",
            "Ignores prompts (ID wrap)",
            "Newer prompts sort before older messages by ID (OpenCode ≤ 1.18.14 after its id "
            "clock wrapped on 2026-08-14), so OpenCode never answers them: it thinks they were "
            "answered already, or it answers the old prompt again and again (a loop of replies).",
            f"Not fixable by editing the database: {UPGRADE_ADVICE}.",
            fixable=False,
            advice=UPGRADE_ADVICE,
        ),
    )
} | HOLD_PATTERNS  # OpenCode 2's holds, judged in ``holds.py``

REOPEN_HINT = (
    "Repaired through the running OpenCode: open clients already show the tools aborted; reopen "
    'the session (or reload the web UI) to clear its "Thinking" — OpenCode 1.18 publishes no '
    "update of a finished turn."
)


@dataclass(frozen=True)
class Risk:
    """A risk of acting on a session (not a stuck state): shown before anyone recovers it."""

    name: str
    title: str
    why: str
    advice: str


WARNINGS: dict[str, Risk] = {
    w.name: w
    for w in (
        Risk(
            "id-wrap-risk",
            "At risk: OpenCode ≤ 1.18.14 id wrap",
            "This database is written by OpenCode ≤ 1.18.14 and this session's ids were minted "
            "before the 2026-08-14 id wrap (they sort after every new id). A new prompt in it "
            "makes those releases ignore the prompt or loop, answering the old prompt again and "
            "again (measured: ~90 model calls in 15 s), whether or not the session was repaired.",
            "Upgrade OpenCode to 1.18.15 or newer before you continue this session.",
        ),
    )
}

VERDICTS: dict[str, str] = {
    "stale": "Nothing is working on this session any more: safe to recover.",
    "live": "OpenCode is really working on this session right now: leave it alone.",
    "hung": "Busy in OpenCode, but getting nowhere for longer than the hung threshold (a tool that "
    "never returns, a model stream OpenCode keeps restarting without new output, or a "
    "retry that never ends): stop it through OpenCode.",
    "waiting": "OpenCode waits for a person to answer a permission or a question: nothing happens "
    "until someone answers it (through OpenCode). Never hung, never repaired.",
    "unknown": "OpenCode is running but could not be asked; a recovery must be forced.",
    "unfixable": "ocinspect cannot fix it: nothing in the database is left to repair.",
    "ok": "Nothing is stuck in this session.",
}


def unfixable_reason(patterns: tuple[str, ...]) -> str:
    """Why recovery cannot help a session whose only patterns are not fixable, and what to do."""
    advice = "; ".join(dict.fromkeys(describe(p).advice for p in patterns if describe(p).advice))
    return f"ocinspect cannot fix it: {advice or 'nothing in the database is left to repair'}"


def describe_warning(name: str) -> Risk:
    """The warning's description; unknown names get a neutral one rather than an error."""
    return WARNINGS.get(name) or Risk(name, name, "", "")


def describe(name: str, schema: Schema = "v1") -> Pattern:
    """The pattern's description in the words of the OpenCode that wrote ``schema`` (the error
    its repair writes, what an open turn does there); unknown names get a neutral one."""
    pattern = PATTERNS.get(name)
    if pattern is None:
        return Pattern(name, name, "", "")
    if "{" not in pattern.why + pattern.repair:
        return pattern
    generation = named(schema)
    words = {"tool_error": generation.tool_error, "open_turn_effect": generation.open_turn_effect}
    return replace(pattern, why=pattern.why.format_map(words), repair=pattern.repair.format_map(words))


def patterns_for(
    session_id: str,
    messages: Sequence[Message],
    parts: Sequence[Part],
    *,
    stuck_ids: Set[str],
    parent_of: Mapping[str, str | None],
    has_children: bool,
    compacting: bool,
    ignores_prompts: bool,
) -> list[str]:
    """The patterns of one stuck session, from its unfinished turns and stuck tool calls (in
    time order), in the order they were found, each once."""
    patterns: list[str] = []
    unfinished = {m.id for m in messages}
    with_parts = {p.message_id for p in parts}
    for part in parts:
        if part.message_id not in unfinished:
            patterns.append("parts-in-finished-turn")
        elif part.tool == "question":
            patterns.append("question-wait")
        elif part.status == "pending" and not part.input_summary:
            patterns.append("pending-placeholder")
        else:
            patterns.append("crash-orphan")
        if part.tool == "task" and part.child_session_id in stuck_ids:
            patterns.append("subagent-chain")
    for message in messages:
        if message.is_summary:
            patterns.append("compaction")
        elif message.id not in with_parts:
            patterns.append("interrupted-turn")
    if compacting:
        patterns.append("compaction")
    if parent_of.get(session_id) in stuck_ids or has_children:
        patterns.append("subagent-chain")
    if ignores_prompts:
        patterns.append("ignores-prompts")
    return list(dict.fromkeys(patterns))

"""The judges decide over snapshots alone: each one here gets hand-built snapshots, no database.

What the reads return on a real file is proven by the scan, hung, children and id-wrap tests on
real fixtures; these pin the decisions themselves (and would catch a judge that starts reading).
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from inspector.core.db.reads.judge import ChainMotion, ChildSession, PartShape, Subagents
from inspector.core.diagnose import idwrap
from inspector.core.diagnose.children import link_children
from inspector.core.diagnose.hung import Motion, classify_motion, decide
from inspector.core.diagnose.patterns import patterns_for
from inspector.core.model import LiveStatus, Message, Part, ServerStatus

NOW = 1_800_000_000_000
MIN = 60_000
HUNG_AFTER = 5 * MIN
SID = "ses_root"


def part(
    pid: str,
    *,
    tool: str = "bash",
    status: str = "running",
    message_id: str = "msg_a",
    session_id: str = SID,
    created: int = NOW - 20 * MIN,
    summary: str = "sleep 600",
    child: str | None = None,
) -> Part:
    return Part(
        id=pid,
        message_id=message_id,
        session_id=session_id,
        tool=tool,
        status=status,
        call_id=None,
        started=created,
        time_created=created,
        input_summary=summary,
        child_session_id=child,
    )


def message(mid: str, *, summary: bool = False, created: int = NOW - 30 * MIN) -> Message:
    return Message(id=mid, session_id=SID, role="assistant", time_created=created, completed=None, is_summary=summary)


def shape(pid: str, kind: str, at: int, *, message_id: str = "msg_a", text_len: int = 0) -> PartShape:
    return PartShape(
        id=pid, session_id=SID, message_id=message_id, time_created=at, time_updated=at, type=kind, text_len=text_len
    )


def busy(*, status: ServerStatus | None = None) -> LiveStatus:
    return LiveStatus(running=True, busy=frozenset({SID}), statuses=((SID, status),) if status else ())


# -- hung: the motion of a chain, and the verdict over it -------------------------------------


def test_a_running_tool_with_nothing_moving_is_tool_silent() -> None:
    tool = part("prt_bash")
    chain = ChainMotion(message_updates=(NOW - 20 * MIN,), parts=(shape("prt_bash", "tool", NOW - 20 * MIN),))
    motion = classify_motion(chain, {tool.id: tool}, NOW - 30 * MIN)
    assert motion == Motion(last_moved=NOW - 20 * MIN, newest_tool=tool, output_at=NOW - 20 * MIN)
    decision = decide([SID], motion, busy(), HUNG_AFTER, NOW)
    assert decision.hang == "tool-silent" and decision.idle_ms == 20 * MIN


def test_a_running_tool_that_moved_recently_is_not_hung() -> None:
    tool = part("prt_bash")
    chain = ChainMotion(parts=(shape("prt_bash", "tool", NOW - MIN),))
    decision = decide([SID], classify_motion(chain, {tool.id: tool}), busy(), HUNG_AFTER, NOW)
    assert decision.hang is None and decision.idle_ms == MIN


@pytest.mark.parametrize("same_step", [False, True])
def test_the_newest_tool_is_the_one_read_whole_unless_a_sibling_still_runs(same_step: bool) -> None:
    """A newer tool the scan did not know comes whole in the snapshot; if it finished but a
    parallel call of the same step (same message) still runs, the step waits on that one."""
    older = part("prt_old")
    newer = part("prt_new", status="completed", created=NOW - 10 * MIN, message_id="msg_a" if same_step else "msg_b")
    chain = ChainMotion(
        parts=(
            shape("prt_old", "tool", NOW - 20 * MIN),
            shape("prt_new", "tool", NOW - 10 * MIN, message_id=newer.message_id),
        ),
        tools={"prt_new": newer},
    )
    assert classify_motion(chain, {older.id: older}).newest_tool == (older if same_step else newer)


def test_steps_restarted_without_output_are_model_stalled() -> None:
    """Three steps of one message, the first two never finished, an empty text each time."""
    rows = []
    for n, at in enumerate((NOW - 20 * MIN, NOW - 14 * MIN, NOW - 8 * MIN)):
        rows += [shape(f"prt_s{n}", "step-start", at), shape(f"prt_t{n}", "text", at + 1)]
    chain = ChainMotion(parts=tuple(rows))
    motion = classify_motion(chain, {}, NOW - 25 * MIN)
    assert (motion.restarts, motion.output_at, motion.step_at) == (2, NOW - 25 * MIN, NOW - 8 * MIN)
    decision = decide([SID], motion, busy(), HUNG_AFTER, NOW)
    assert decision.hang == "model-stalled" and decision.idle_ms == 25 * MIN


def test_one_slow_step_is_not_a_restart() -> None:
    chain = ChainMotion(parts=(shape("prt_s", "step-start", NOW - 20 * MIN), shape("prt_t", "text", NOW - 20 * MIN)))
    motion = classify_motion(chain, {}, NOW - 25 * MIN)
    assert motion.restarts == 0
    assert decide([SID], motion, busy(), HUNG_AFTER, NOW).hang is None


def test_a_broken_stream_while_retrying_counts_as_a_restart() -> None:
    chain = ChainMotion(parts=(shape("prt_s", "step-start", NOW - 20 * MIN), shape("prt_t", "text", NOW - 20 * MIN)))
    assert classify_motion(chain, {}, NOW - 25 * MIN, retrying=True).restarts == 1
    assert classify_motion(chain, {}, NOW - 25 * MIN, retrying=False).restarts == 0


def test_retrying_past_the_attempts_is_a_retry_loop() -> None:
    chain = ChainMotion(message_updates=(NOW - MIN,))
    retry = ServerStatus(type="retry", attempt=12, message="503")
    decision = decide([SID], classify_motion(chain, {}), busy(status=retry), HUNG_AFTER, NOW)
    assert decision.hang == "retry-loop"
    early = ServerStatus(type="retry", attempt=2, message="503")
    assert decide([SID], classify_motion(chain, {}), busy(status=early), HUNG_AFTER, NOW).hang is None


def test_a_question_tool_is_never_hung() -> None:
    asked = part("prt_q", tool="question")
    chain = ChainMotion(parts=(shape("prt_q", "tool", NOW - 60 * MIN),))
    assert decide([SID], classify_motion(chain, {asked.id: asked}), busy(), HUNG_AFTER, NOW).hang is None


# -- the id wrap -------------------------------------------------------------------------------


class TurnIds:
    """The one read ``sessions_at_risk`` makes, over hand-written message ids."""

    def __init__(self, ids: dict[str, list[str]]) -> None:
        self.ids = ids
        self.bounds: list[str] = []

    def sessions_with_turn_ids_above(self, session_ids: Iterable[str], bound: str) -> set[str]:
        self.bounds.append(bound)
        return {sid for sid in session_ids if any(mid > bound for mid in self.ids.get(sid, []))}


def test_sessions_holding_ids_minted_before_the_wrap_are_at_risk() -> None:
    bound = idwrap.message_id_bound(NOW)
    before_wrap = "msg_" + "f" * 12 + "x" * 14  # the clock's top: minted just before it wrapped
    since_wrap = "msg_" + "0" * 12 + "x" * 14
    assert since_wrap < bound < before_wrap
    reads = TurnIds({"ses_old": [since_wrap, before_wrap], "ses_new": [since_wrap]})
    assert idwrap.sessions_at_risk(reads, ["ses_old", "ses_new"], NOW) == {"ses_old"}  # type: ignore[arg-type]
    assert reads.bounds == [bound]


@pytest.mark.parametrize(
    ("versions", "writer"),
    [
        (["1.18.14", "1.2.27"], "1.18.14"),
        (["1.18.14", "1.18.15"], None),  # the newest writer has the fix
        (["0.0.0-dev-123"], None),  # a dev build: we cannot tell
        ([], None),
    ],
)
def test_only_a_writer_with_the_bug_is_affected(versions: list[str], writer: str | None) -> None:
    assert idwrap.affected_writer(versions) == writer


# -- subagents OpenCode did not link -------------------------------------------------------------


def test_an_unlinked_task_gets_the_child_created_in_its_turn_named_for_it() -> None:
    task = part("prt_task", tool="task", created=NOW - 10 * MIN)
    found = Subagents(
        children=(
            ChildSession("ses_before", SID, "old (@general subagent)", NOW - 40 * MIN),  # before the turn
            ChildSession("ses_other", SID, "something else (@general subagent)", NOW - 10 * MIN),
            ChildSession("ses_named", SID, "fix the build (@general subagent)", NOW - 11 * MIN),
            ChildSession("ses_claimed", SID, "fix the build (@general subagent)", NOW - 10 * MIN),
        ),
        claimed=frozenset({"ses_claimed"}),
        turn_start={"msg_a": NOW - 12 * MIN},
        descriptions={"prt_task": "fix the build"},
        next_turn={"prt_task": None},
    )
    linked = link_children({task.id: task}, found)
    assert linked[task.id].child_session_id == "ses_named" and linked[task.id].child_inferred


def test_a_child_after_the_next_turn_is_not_linked() -> None:
    task = part("prt_task", tool="task", created=NOW - 10 * MIN)
    found = Subagents(
        children=(ChildSession("ses_late", SID, "x (@general subagent)", NOW - 5 * MIN),),
        turn_start={"msg_a": NOW - 12 * MIN},
        next_turn={"prt_task": NOW - 6 * MIN},
    )
    assert link_children({task.id: task}, found)[task.id].child_session_id is None


# -- the patterns of a stuck session -----------------------------------------------------------


def patterns(messages: list[Message], parts: list[Part], **kw: object) -> list[str]:
    args: dict[str, object] = {
        "stuck_ids": {SID},
        "parent_of": {},
        "has_children": False,
        "compacting": False,
        "ignores_prompts": False,
    } | kw
    return patterns_for(SID, messages, parts, **args)  # type: ignore[arg-type]


def test_patterns_of_tools_and_turns() -> None:
    turn = message("msg_a")
    assert patterns([turn], [part("prt_1")]) == ["crash-orphan"]
    assert patterns([turn], [part("prt_1", tool="question")]) == ["question-wait"]
    assert patterns([turn], [part("prt_1", status="pending", summary="")]) == ["pending-placeholder"]
    assert patterns([], [part("prt_1")]) == ["parts-in-finished-turn"]
    assert patterns([turn], []) == ["interrupted-turn"]
    assert patterns([message("msg_s", summary=True)], []) == ["compaction"]


def test_patterns_of_the_session() -> None:
    assert patterns([], [], compacting=True, ignores_prompts=True) == ["compaction", "ignores-prompts"]
    assert patterns([], [], has_children=True) == ["subagent-chain"]
    assert patterns([], [], parent_of={SID: "ses_parent"}, stuck_ids={SID, "ses_parent"}) == ["subagent-chain"]
    child_call = part("prt_task", tool="task", child="ses_child")
    assert patterns([message("msg_a")], [child_call], stuck_ids={SID, "ses_child"}) == [
        "crash-orphan",
        "subagent-chain",
    ]
    # each pattern once, in the order found
    assert patterns([message("msg_a")], [part("prt_1"), part("prt_2")]) == ["crash-orphan"]

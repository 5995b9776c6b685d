"""What the judges read besides the findings: what moved in a chain (hung), the candidates for
a subagent OpenCode did not link (children), the id-wrap leftovers, a session's story (timeline).

The story's snapshots (``TurnMessage`` with its ``Entry`` list, ``PartDetail``) are built here,
in ``db/``, from whatever a generation stores; ``diagnose.timeline`` orders them into turns and
says where the story stops. Fields keep the database's text exactly (``input_summary`` excepted,
a rendering); renderers pass every text through ``text.printable``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Literal, Protocol

from inspector.core.model import Part

SCAN_MESSAGES = 2000  # the newest messages searched for turn starts
MAX_MESSAGES = 300  # messages shown per session (the newest); older ones: ``truncated``
SMALL_ROW = 16_000  # characters of a row fetched whole; larger rows are reduced in the database
TEXT_HEAD = 600  # characters of a text/reasoning part, an error
OUTPUT_TAIL = 2000  # characters at the end of a tool's output
INPUT_LIMIT = 4000  # a tool input longer than this is summarised from its keys only
DETAIL_CAP = 1_000_000  # characters of one part's input/output/text in ``part_detail``
RECENT_MESSAGES = 16  # per session: the turn being worked on is always among the newest messages

STUCK_STATUSES = ("pending", "running")

EntryKind = Literal[
    "text",
    "reasoning",
    "tool",
    "step-start",
    "step-finish",
    "retry",
    "compaction",
    "patch",
    "file",
    "agent",
    "subtask",
    "snapshot",
    "other",
    "corrupt",
]


@dataclass(frozen=True)
class Tokens:
    """What a step (or a message) cost in tokens, as OpenCode recorded it."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.reasoning + self.cache_read + self.cache_write


@dataclass(frozen=True)
class Entry:
    """One part of a message, reduced to what the story shows."""

    id: str
    message_id: str
    kind: EntryKind
    time_created: int
    start: int | None = None
    end: int | None = None
    text: str = ""  # text/reasoning: the head; subtask/agent/file: its name or description
    text_chars: int = 0  # the whole text's length
    tool: str | None = None
    status: str | None = None  # tools: pending/running/completed/error
    call_id: str | None = None
    title: str | None = None
    input_summary: str = ""
    input_chars: int = 0
    input_head: str = ""  # the input as compact JSON, its first TEXT_HEAD characters (the report)
    command_chars: int | None = None  # a tool input's ``command``: its length (the report's shape)
    output_tail: str = ""  # the last OUTPUT_TAIL characters of the output
    output_chars: int = 0  # the whole output's length
    error: str = ""  # a tool's error, a retry's error message (its head)
    error_chars: int = 0  # the whole error's length
    reason: str | None = None  # step-finish: why the step ended (stop, tool-calls, length…)
    tokens: Tokens | None = None
    cost: float | None = None
    attempt: int | None = None  # retry
    child_session_id: str | None = None  # task: the subagent session
    child_inferred: bool = False  # the child was found by parent_id and time (1.2/1.3)
    interrupted: bool = False  # metadata.interrupted: a repair (or OpenCode's abort) ended it
    stuck: bool = False  # a tool left pending/running: where the story stopped

    @property
    def duration_ms(self) -> int | None:
        if self.start is None or self.end is None:
            return None
        return max(0, self.end - self.start)

    @property
    def output_truncated(self) -> bool:
        return self.output_chars > len(self.output_tail)

    def first_lines(self, count: int = 3) -> list[str]:
        """The first ``count`` non-empty lines of ``text``."""
        return [line for line in self.text.splitlines() if line.strip()][:count]


@dataclass(frozen=True)
class TurnMessage:
    """A user prompt or an assistant reply, with its parts in order."""

    id: str
    role: str
    time_created: int
    completed: int | None = None
    agent: str | None = None
    model: str | None = None
    provider: str | None = None
    finish: str | None = None
    error_name: str | None = None
    error_message: str = ""  # its head
    error_chars: int = 0  # the whole message's length
    cost: float | None = None
    tokens: Tokens | None = None
    is_summary: bool = False
    corrupt: bool = False
    entries: tuple[Entry, ...] = ()

    @property
    def unfinished(self) -> bool:
        """An assistant reply OpenCode never finished (no ``time.completed``)."""
        return self.role == "assistant" and self.completed is None and not self.corrupt

    @property
    def prompt_text(self) -> str:
        """A user message's words: its text parts, joined."""
        return "\n".join(e.text for e in self.entries if e.kind == "text" and e.text)


@dataclass(frozen=True, slots=True)
class Story:
    """A session's newest turns' messages, oldest first, each with its entries."""

    messages: tuple[TurnMessage, ...]
    truncated: bool  # older messages of the first turn were left out


@dataclass(frozen=True, slots=True)
class PartShape:
    """What the hung rules need of one recent part, without its content: its type, a tool's
    status, whether a text/reasoning part holds any text yet (corrupt content: type None)."""

    id: str
    session_id: str
    message_id: str
    time_created: int
    time_updated: int
    type: str | None
    status: str | None = None
    text_len: int = 0


@dataclass(frozen=True, slots=True)
class ChainMotion:
    """The recent rows of a chain: the versions of its newest messages, the shape of their
    parts, and the tool parts read whole (newest first, those the caller did not know, up to
    and including the first that is a readable tool)."""

    message_updates: tuple[int, ...] = ()
    parts: tuple[PartShape, ...] = ()
    tools: Mapping[str, Part] = field(default_factory=dict)
    # when the chain's current turn began, where the rows say it better than its unfinished
    # messages (OpenCode 2 starts a new row at every restart of a step)
    turn_start: int | None = None


@dataclass(frozen=True, slots=True)
class ChildSession:
    """A session whose parent is the session of a stuck task call."""

    id: str
    parent_id: str
    title: str
    time_created: int


@dataclass(frozen=True, slots=True)
class Subagents:
    """What linking unlinked task calls to their subagents needs: the parents' child sessions,
    those already named by a task call, when each call's turn began (by message id), the call's
    description (by part id), and when the parent's next turn after it began (by part id)."""

    children: tuple[ChildSession, ...] = ()
    claimed: frozenset[str] = frozenset()
    turn_start: Mapping[str, int] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)
    next_turn: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PartDetail:
    """One part whole (each text capped at ``DETAIL_CAP`` characters; the output's tail)."""

    id: str
    message_id: str
    session_id: str
    kind: str
    tool: str | None
    status: str | None
    title: str | None
    input_json: str  # pretty JSON when whole, else the raw head
    input_chars: int
    output: str
    output_chars: int
    error: str
    text: str
    text_chars: int
    corrupt: bool = False


class JudgeReads(Protocol):
    """See the module docstring; one method per question, typed snapshots out."""

    def chain_motion(self, session_ids: Sequence[str], known: Set[str], recent: int = RECENT_MESSAGES) -> ChainMotion:
        """The newest ``recent`` messages of each session and their parts' shapes, and the
        newest tool parts not in ``known`` read whole (see :class:`ChainMotion`)."""
        ...

    def subagents(self, tasks: Sequence[Part]) -> Subagents:
        """What :class:`Subagents` holds for these unlinked task calls (only the children when
        every one is already claimed)."""
        ...

    def sessions_with_turn_ids_above(self, session_ids: Iterable[str], bound: str) -> set[str]:
        """Those of ``session_ids`` holding a turn whose id sorts after ``bound``."""
        ...

    def loop_replies(self, bound: str, min_replies: int) -> dict[str, int]:
        """Sessions with at least ``min_replies`` replies minted below ``bound`` to a prompt
        minted above it, newer than their newest prompt: {session id: replies}."""
        ...

    def story(self, session_id: str, turns: int) -> Story:
        """The messages of the last ``turns`` turns of a session (at most ``MAX_MESSAGES``)."""
        ...

    def part_detail(self, part_id: str) -> PartDetail | None:
        """One part whole, each text capped (None when it is gone)."""
        ...

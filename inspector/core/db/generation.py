"""One schema generation of OpenCode's database behind one interface (harlequin's adapter idea).

``open_store`` chooses the generation once, from the tables and columns it finds; diagnose,
repair, the operations API and the front ends then talk to ``Store.reading()`` (a
:class:`~inspector.core.db.reads.Reads`) and never branch on which generation answered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from sqlalchemy.engine import Connection

from inspector.core.db.continue_forms import V1_FORM, V2_FORM, ContinueForm
from inspector.core.db.reads import Reads
from inspector.core.model import Diagnosis, PlanUnit, Schema

if TYPE_CHECKING:
    from inspector.core.db.store import Store
    from inspector.core.db.writes import Writes


class Generation(ABC):
    """What one schema generation implements."""

    name: ClassVar[str]
    # Whether a running OpenCode of this generation takes a repair through its API (1.18's
    # PATCH + replay, ``repair/via_opencode.py``); otherwise every unit is written directly.
    repairs_through_opencode: ClassVar[bool] = False
    # How its ``opencode`` command continues a session (``ocinspect open``, the TUI's ``o``).
    continue_form: ClassVar[ContinueForm]
    # The error its repair (and its OpenCode) gives a tool it stopped: what the texts quote.
    tool_error: ClassVar[str]
    # What a turn left open does to the session in its OpenCode (the crash patterns' "why").
    open_turn_effect: ClassVar[str]
    # How its repair closes an unfinished turn (the TUI's "what recovery will do").
    turn_closed: ClassVar[str]

    @abstractmethod
    def reads(self, store: Store, conn: Connection) -> Reads:
        """The reads bound to ``conn``'s snapshot."""

    @abstractmethod
    def writes(self, store: Store, conn: Connection) -> Writes:
        """The writes of ``conn``'s ``BEGIN IMMEDIATE`` transaction (``db/writes.py``)."""

    @abstractmethod
    def plan_unit(self, reads: Reads, chain: Sequence[Diagnosis], now: int) -> PlanUnit:
        """The row changes that close the stuck turns of ``chain`` (a session and its subagent
        children, repaired in one transaction) the way this generation's OpenCode closes them,
        read on ``reads``' snapshot. ``CorruptData`` / ``NotWritable``: this unit is skipped."""


class V1(Generation):
    """OpenCode 1.x: ``session``, ``message``, ``part`` (and the sync log from 1.14)."""

    name = "v1"
    repairs_through_opencode = True
    continue_form = V1_FORM
    tool_error = "Tool execution aborted"
    open_turn_effect = 'the UI shows "Thinking" forever and queues every new prompt'
    turn_closed = "completed (MessageAbortedError)"

    def reads(self, store: Store, conn: Connection) -> Reads:
        from inspector.core.db.v1.reads import V1Reads

        return V1Reads(store, conn)

    def writes(self, store: Store, conn: Connection) -> Writes:
        from inspector.core.db.v1.writes import V1Writes

        return V1Writes(store, conn)

    def plan_unit(self, reads: Reads, chain: Sequence[Diagnosis], now: int) -> PlanUnit:
        from inspector.core.db.v1.plan import plan_unit

        return plan_unit(reads, chain, now)


class V2(Generation):
    """OpenCode 2.x: ``session_v2``, ``session_message`` (tools inside ``content[]``), claims.

    Chosen only when the columns are shaped the way the reads were proven against
    (``db/v2/shape.py``); its modules load only then, so a 1.x scan never imports them."""

    name = "v2"
    continue_form = V2_FORM
    tool_error = "Tool execution interrupted: <tool>"
    # measured on 2.1.2: a new prompt to the session first closes the stale turn, then runs
    open_turn_effect = 'the UI shows "Thinking" until a new prompt to this session closes it'
    turn_closed = "completed, the turn ended interrupted"

    def reads(self, store: Store, conn: Connection) -> Reads:
        from inspector.core.db.v2.reads import V2Reads

        return V2Reads(store, conn)

    def writes(self, store: Store, conn: Connection) -> Writes:
        from inspector.core.db.v2.repair import V2Repair

        return V2Repair().writes(store, conn)

    def plan_unit(self, reads: Reads, chain: Sequence[Diagnosis], now: int) -> PlanUnit:
        from inspector.core.db.v2.repair import V2Repair

        return V2Repair().plan_unit(reads, chain, now)


def for_schema(schema: str, columns: Mapping[str, frozenset[str]] | None = None) -> Generation | None:
    """The generation that reads ``schema`` (for 2.x: when ``columns``, per table, are a shape
    the reads know), or None."""
    if schema == "v1":
        return V1()
    if schema == "v2" and columns is not None:
        from inspector.core.db.v2.shape import shape_of

        return V2() if shape_of(columns).readable else None
    return None


def named(schema: Schema) -> type[Generation]:
    """The generation a scan names ``schema`` (its words and forms, for a file already read;
    1.x for a schema no generation reads)."""
    return _BY_NAME.get(schema, V1)


_BY_NAME: dict[str, type[Generation]] = {V1.name: V1, V2.name: V2}

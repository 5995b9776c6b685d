"""Stop a hung session through OpenCode itself: ``POST /session/{id}/abort`` on its server.

A hung session (see ``hung.py``) is still owned by a running OpenCode, so writing its rows would
race the server. The right remedy is the one OpenCode's Esc key uses. Measured on 1.18.33 with a
parent whose ``task`` subagent runs ``bash sleep 600``:

- aborting the **parent** settles the whole chain in ~0.3 s: the task part becomes ``error``
  "Task cancelled", the child's bash part ``completed`` with "User aborted the command", both
  assistant turns get ``MessageAbortedError``, ``/session/status`` lists neither;
- aborting only the **child** cancels the task, and the parent then *continues*: its model gets
  the task error and starts a new step. So we abort the root of the chain first, then any
  member still busy;
- the answer is ``true`` even for an idle or unknown session, so it proves nothing: we wait
  (bounded) until ``/session/status`` no longer lists the chain, then re-read the rows and call
  it stopped only when every turn is closed and no tool is ``pending``/``running``.

OpenCode 2 (``opencode/v2_answers.py``) interrupts instead (``POST /api/session/{id}/interrupt``),
and there interrupting a subagent alone lets its parent go on with the error (measured on 2.1.2),
so a server that says ``stops_leaves_first`` gets the chain's innermost members, not its root.
Which server and which routes is ``opencode/turn_servers.turn_server``'s choice, by generation.

Nothing here writes to the database: if OpenCode does not settle, the rows are left alone and
the outcome says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from inspector.core.db.store import Store
from inspector.core.diagnose.options import ScanOptions
from inspector.core.diagnose.scan import scan, scan_related
from inspector.core.diagnose.tree import chain_of
from inspector.core.model import Diagnosis, Plan, ScanResult
from inspector.core.opencode.client import ServerError
from inspector.core.opencode.live import LiveStatus
from inspector.core.opencode.turn_servers import TurnServer, turn_server
from inspector.core.text import humanize_ms

SETTLE_TIMEOUT_S = 10.0
POLL_S = 0.2


@dataclass(frozen=True)
class AbortTarget:
    """A hung subagent chain, and the server to stop it on."""

    root: str
    sessions: tuple[str, ...]
    directory: str
    port: int | None
    title: str
    idle_ms: int | None
    reason: str
    leaves: tuple[str, ...] = ()  # busy members with no busy subagent in the chain (the innermost turns)


@dataclass(frozen=True)
class AbortOutcome:
    """What happened: ``stopped`` only when OpenCode let go *and* closed every turn and tool."""

    target: AbortTarget
    stopped: bool
    detail: str
    aborted: tuple[str, ...] = ()
    elapsed_ms: int = 0


@dataclass(frozen=True)
class HungScan:
    """A scan with hung verdicts, the liveness it used, and the chains to abort."""

    result: ScanResult
    live: LiveStatus | None
    targets: tuple[AbortTarget, ...]


def targets_in(
    result: ScanResult, live: LiveStatus | None, session_ids: Sequence[str] | None = None
) -> tuple[AbortTarget, ...]:
    """The hung chains among ``session_ids`` (``None``: every hung session), roots first."""
    diagnoses = {d.id: d for d in result.sessions}
    wanted = [d.id for d in result.sessions if d.verdict == "hung"] if session_ids is None else list(session_ids)
    found: list[AbortTarget] = []
    placed: set[str] = set()
    for sid in wanted:
        diag = diagnoses.get(sid)
        if diag is None or diag.verdict != "hung" or sid in placed:
            continue
        chain = chain_of(sid, diagnoses) or [sid]
        placed.update(chain)
        root = _root(chain, diagnoses)
        ordered = (root, *[s for s in chain if s != root])
        port = None
        if live is not None:
            port = next((p for p in (live.port_of(s) for s in ordered) if p is not None), None)
        head = diagnoses[root]
        working = [m for m in ordered if live is None or m in live.busy]  # a finished member stops nothing
        parents = {diagnoses[m].session.parent_id for m in working if m in diagnoses}
        found.append(
            AbortTarget(
                root=root,
                sessions=ordered,
                directory=head.session.directory,
                port=port,
                title=head.session.title,
                idle_ms=head.idle_ms,
                reason=head.live_reason,
                leaves=tuple(m for m in working if m not in parents),
            )
        )
    return tuple(found)


def _root(chain: Sequence[str], diagnoses: dict[str, Diagnosis]) -> str:
    """The chain member whose parent is not in the chain (the session the user prompted)."""
    members = set(chain)
    for sid in chain:
        if diagnoses[sid].session.parent_id not in members:
            return sid
    return chain[0]


def find_hung(
    store: Store,
    session_ids: Sequence[str] | None = None,
    *,
    hung_after_ms: int,
    live: LiveStatus | None = None,
    now: int | None = None,
) -> HungScan:
    """Scan with hung verdicts (quick tier for all sessions; the whole tree for given ids).

    The liveness answer the scan used comes back too, so the caller can reuse it for the plan.
    """
    store.require_readable()  # each generation's server stops its turns (``turn_servers``)
    if session_ids is None:
        result = scan(store, ScanOptions(quick=True, live=live, now=now, hung_after_ms=hung_after_ms))
    else:
        result = scan_related(store, session_ids, ScanOptions(live=live, now=now, hung_after_ms=hung_after_ms))
    return HungScan(result=result, live=result.live, targets=targets_in(result, result.live, session_ids))


def without_targets(plan: Plan, targets: Sequence[AbortTarget]) -> Plan:
    """The plan minus every session an abort will stop (never written to behind OpenCode)."""
    chosen = {s for t in targets for s in t.sessions}
    if not chosen:
        return plan
    return replace(
        plan,
        units=tuple(u for u in plan.units if not chosen & set(u.session_ids)),
        refused=tuple(s for s in plan.refused if s.id not in chosen),
    )


def abort_chain(  # noqa: C901
    store: Store,
    target: AbortTarget,
    *,
    server: TurnServer | None = None,
    settle_timeout_s: float = SETTLE_TIMEOUT_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> AbortOutcome:
    """Stop ``target`` through its OpenCode and wait (bounded) until OpenCode has settled it."""
    started = clock()
    deadline = started + settle_timeout_s
    aborted: list[str] = []

    def outcome(stopped: bool, detail: str) -> AbortOutcome:
        return AbortOutcome(target, stopped, detail, tuple(aborted), int((clock() - started) * 1000))

    if server is None:
        if target.port is None:
            return outcome(False, "no OpenCode server lists this session busy any more; nothing was sent")
        try:
            server = turn_server(store.path, target.port, schema=store.schema)
        except ServerError as exc:
            return outcome(False, f"{exc}; rows left alone")
    chain = target.sessions
    alone = server.stops_leaves_first and bool(target.leaves) and len(target.leaves) < len(chain)
    first = target.leaves if alone else (target.root,)
    stopping = first if alone else chain  # a stopped subagent's parent goes on: not waited for

    def busy() -> list[str]:
        listed = server.busy(target.directory)
        return [s for s in stopping if s in listed]

    def wait_until(done: Callable[[], bool]) -> bool:
        while True:
            if done():
                return True
            if clock() >= deadline:
                return False
            sleep(poll_s)

    try:
        for sid in first:
            server.stop(sid, target.directory)
            aborted.append(sid)
        wait_until(lambda: not set(first) & set(busy()))
        for _ in range(len(chain)):  # then any member still busy (e.g. an orphaned subagent)
            still = busy()
            if not still:
                break
            for sid in still:
                if sid not in aborted:
                    server.stop(sid, target.directory)
                    aborted.append(sid)
            if not wait_until(lambda: not busy()):
                break
        still = busy()
    except ServerError as exc:
        return outcome(False, f"{exc}; rows left alone")
    if still:
        waited = humanize_ms(int(settle_timeout_s * 1000))
        return outcome(False, f"OpenCode still lists {', '.join(still)} busy after {waited}; rows left alone")
    open_rows: list[str] = []
    wait_until(lambda: not _open_rows(store, stopping, open_rows))
    if open_rows:
        return outcome(
            False,
            (
                f"OpenCode let go, but left {', '.join(open_rows[:3])} open; rows left alone "
                f"(now stale: ocinspect recover {target.root} repairs them)"
            ),
        )
    if alone:
        who = "the hung subagent's turn" if len(first) == 1 else f"the turns of {len(first)} hung subagents"
        return outcome(True, f"stopped by OpenCode: {who} closed, no tool left running; its parent goes on")
    closed = "its turn" if len(chain) == 1 else f"the turns of all {len(chain)} sessions"
    return outcome(True, f"stopped by OpenCode: {closed} closed, no tool left running")


def _open_rows(store: Store, chain: Sequence[str], out: list[str]) -> list[str]:
    """Unfinished assistant turns and pending/running tool parts of ``chain`` (into ``out``)."""
    out.clear()
    with store.reading() as reads:
        out += [f"turn {r.id}" if r.kind == "turn" else f"tool part {r.id}" for r in reads.open_rows(list(chain))]
    return out


def abort_all(store: Store, targets: Sequence[AbortTarget], **kwargs: Any) -> tuple[AbortOutcome, ...]:
    """Abort each chain in turn (each wait is bounded, so the whole call is too)."""
    return tuple(abort_chain(store, t, **kwargs) for t in targets)


def target_line(target: AbortTarget) -> str:
    """One line that says which chain will be aborted and why (CLI plan, TUI modal, watch)."""
    more = len(target.sessions) - 1
    chain = f" (+{more} subagent session{'s' if more != 1 else ''})" if more else ""
    return f"{target.root}{chain}: {target.reason}"


__all__ = [
    "AbortOutcome",
    "AbortTarget",
    "HungScan",
    "abort_all",
    "abort_chain",
    "find_hung",
    "target_line",
    "targets_in",
    "without_targets",
]

"""Repair through the OpenCode that serves the database: its own API writes each row and event.

When OpenCode runs and a stale session sits idle in it (after a restart), writing the file
behind its back works, but its open web UI/TUI keep spinning until reloaded. Through its API
instead (measured on 1.18.33):

- ``PATCH /session/{sid}/message/{mid}/part/{pid}`` with the whole repaired part writes the row,
  appends its ``message.part.updated.1`` event and publishes ``message.part.updated`` to every
  client of ``GET /event``: open UIs show the tool aborted at once;
- ``POST /sync/replay`` with a ``message.updated.1`` (or ``session.updated.1``) event at the
  session's next seq writes the turn and its event. It publishes nothing, and no supported route
  publishes an update of an existing turn: clients drop "Thinking" when the session is reopened.
  A replay whose seq is stale is skipped silently, so every write is read back and retried.

No transaction spans HTTP calls. Each unit is compared with its before-images (and its log
cursor) just before the first call, written call by call, then read back through the API; what
the rows really hold afterwards is journaled as the after-image, so ``undo`` stays exact.

A server's answers are no proof: one can accept every call and write nothing, or list fewer
rows than there are. A unit counts as done only once the database itself holds every row as
planned (:func:`_confirm`); otherwise it is skipped (kind ``server``) with the rows that were
not written, and the run's journal says so.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inspector.core.db.eventlog import EventIds
from inspector.core.db.ranges import Progress
from inspector.core.db.reads.repair import RowChecks
from inspector.core.db.store import Store
from inspector.core.model import LogCursor, PlanUnit, RowChange, Skip, SkipKind
from inspector.core.opencode.client import ServerClient, ServerError
from inspector.core.repair.cas import LOG_MOVED, Conflict
from inspector.core.repair.journal import JournalWriter

MIN_VERSION = (1, 18, 0)  # the first releases that write the sync log and replay it
REPLAY_ATTEMPTS = 3


def supports(version: str | None) -> bool:
    """Whether an OpenCode of ``version`` takes a repair through its API (PATCH + replay)."""
    if not version:
        return False
    numbers: list[int] = []
    for piece in version.split("-")[0].split("."):
        if not piece.isdigit():
            break
        numbers.append(int(piece))
    return tuple(numbers) >= MIN_VERSION


@dataclass
class Outcome:
    """What one run through OpenCode did: units written, units skipped, events OpenCode logged."""

    done: list[PlanUnit]
    skipped: list[Skip]
    events: int = 0


def write_units(
    store: Store,
    items: Sequence[tuple[int, PlanUnit]],
    writer: JournalWriter,
    *,
    now: int,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    done_before: int = 0,
    total: int | None = None,
) -> Outcome:
    """Write each unit through the server on its ``via_port``; ``store`` is only read."""
    outcome = Outcome(done=[], skipped=[])
    total = len(items) if total is None else total
    ids = EventIds()
    for count, (index, unit) in enumerate(items, 1):
        if cancel is not None and cancel.is_set():
            outcome.skipped.extend(
                Skip(s, "cancelled before it was repaired", kind="cancelled") for s in unit.session_ids
            )
            continue
        assert unit.via_port is not None
        client = ServerClient(unit.via_port)
        started: dict[str, int] = {}
        try:
            with store.reading() as reads:
                _compare(reads, unit)
                started = {sid: c.seq for sid, c in reads.log_cursors(unit.session_ids).items()}
            _write(client, store, unit, ids, now)
            _read_back(client, unit)
            _confirm(store, unit)
        except (Conflict, ServerError) as exc:
            reason = (
                exc.reason
                if isinstance(exc, Conflict)
                else (f"{exc}; OpenCode on port {unit.via_port} may have taken part of it (see the journal)")
            )
            writer.write({"kind": "skipped", "index": index, "reason": reason})
            kind: SkipKind = "conflict" if isinstance(exc, Conflict) and not isinstance(exc, NotWritten) else "server"
            outcome.skipped.extend(Skip(s, reason, kind=kind) for s in unit.session_ids)
            if started:
                _observe(store, writer, index, unit)
            continue
        _observe(store, writer, index, unit)
        writer.write({"kind": "committed", "index": index, "via": "opencode", "port": unit.via_port})
        with store.reading() as reads:
            after = reads.log_cursors(unit.session_ids)
        outcome.events += sum(after[s].seq - started.get(s, -1) for s in after)
        outcome.done.append(unit)
        if progress:
            progress(done_before + count, total)
    return outcome


def _compare(reads: RowChecks, unit: PlanUnit) -> None:
    """The compare of compare-and-set: every row still as planned, nothing logged since."""
    for change in unit.changes:
        if reads.current_image(change, change.before) != change.before:
            raise Conflict(reads.drift(change))
    planned = {c.session_id: c.seq for c in unit.cursors}
    now = reads.log_cursors(planned)
    if any(now[s].seq != seq for s, seq in planned.items() if s in now):
        raise Conflict(LOG_MOVED)


def _write(client: ServerClient, store: Store, unit: PlanUnit, ids: EventIds, now: int) -> None:
    for change in unit.changes:
        if change.table == "part":
            body = {
                "id": change.row_id,
                "sessionID": change.session_id,
                "messageID": change.message_id,
                **json.loads(change.after["data"]),
            }
            path = "/session/{}/message/{}/part/{}".format(
                *(urllib.parse.quote(str(x), safe="") for x in (change.session_id, change.message_id, change.row_id))
            )
            answer = client.patch(path, body, directory=unit.directory)
            if not isinstance(answer, dict) or (answer.get("state") or {}).get("status") != "error":
                raise Conflict(f"OpenCode did not take the repair of part {change.row_id}")
    by_session: dict[str, list[RowChange]] = {}
    for change in unit.changes:
        if change.table != "part":
            by_session.setdefault(change.session_id, []).append(change)
    for session_id, changes in by_session.items():
        _replay(client, store, unit.directory, session_id, changes, ids, now)


def _replay(
    client: ServerClient,
    store: Store,
    directory: str,
    session_id: str,
    changes: list[RowChange],
    ids: EventIds,
    now: int,
) -> None:
    """Replay the turns' events at the session's next seqs; retry while a race made them stale."""
    for _attempt in range(REPLAY_ATTEMPTS):
        with store.reading() as reads:
            if all(_holds_after(reads, c) for c in changes):
                return
            cursors = reads.log_cursors([session_id])
            cursor = cursors.get(session_id) or LogCursor(session_id=session_id, seq=-1)
            events = reads.log_events([(c, c.after) for c in changes], {session_id: cursor}, ids, now)
        client.post(
            "/sync/replay",
            {
                "directory": directory,
                "events": [
                    {
                        "id": e.id,
                        "aggregateID": e.aggregate_id,
                        "seq": e.seq,
                        "type": e.type,
                        "data": json.loads(e.data),
                    }
                    for e in events
                ],
            },
            directory=directory,
        )
    with store.reading() as reads:
        if not all(_holds_after(reads, c) for c in changes):
            raise Conflict(f"OpenCode kept skipping the replayed turn of session {session_id} (its log kept moving)")


class NotWritten(Conflict):
    """OpenCode answered every call, yet the database does not hold the repair."""


def _confirm(store: Store, unit: PlanUnit) -> None:
    """The only proof of a repair: every row of the unit, read back from the file, as planned."""
    with store.reading() as reads:
        missing = [c for c in unit.changes if not _holds_after(reads, c)]
    if missing:
        rows = ", ".join(f"{c.table} {c.row_id}" for c in missing)
        raise NotWritten(
            f"OpenCode on port {unit.via_port} answered, but the database does not hold the "
            f"repair of {rows}: not repaired"
        )


def _holds_after(reads: RowChecks, change: RowChange) -> bool:
    """The row says what the repair wanted (OpenCode writes its own ``time_updated``)."""
    image = reads.current_image(change, change.after)
    if image is None:
        return False
    if change.table == "session":
        return image["time_compacting"] is None
    return bool(json.loads(image["data"]) == json.loads(change.after["data"]))


def _read_back(client: ServerClient, unit: PlanUnit) -> None:
    """Through the API, as OpenCode's clients will see it: turns closed, tools aborted.

    Only the turns the unit changed are asked for (``GET /session/{sid}/message/{mid}``): a
    whole session can be longer than the client's cap. A row the answer leaves out proves
    nothing either way; :func:`_confirm` decides from the file."""
    wanted = {c.row_id for c in unit.changes if c.table in ("part", "message")}
    turns = sorted({(c.session_id, c.message_id or c.row_id) for c in unit.changes if c.table in ("part", "message")})
    quote = urllib.parse.quote
    for session_id, message_id in turns:
        item = client.get(
            f"/session/{quote(session_id, safe='')}/message/{quote(str(message_id), safe='')}", directory=unit.directory
        )
        info = _obj(_obj(item).get("info"))
        if info.get("id") in wanted and not _obj(info.get("time")).get("completed"):
            raise Conflict(f"OpenCode still shows turn {info.get('id')} unfinished after the repair")
        parts = _obj(item).get("parts")
        for part in map(_obj, parts if isinstance(parts, list) else []):
            status = _obj(part.get("state")).get("status")
            if part.get("id") in wanted and status != "error":
                raise Conflict(f"OpenCode still shows part {part.get('id')} {status} after the repair")


def _obj(value: Any) -> dict[str, Any]:
    """A server's answer is data of any shape: what is not an object reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _observe(store: Store, writer: JournalWriter, index: int, unit: PlanUnit) -> None:
    """Journal what the rows OpenCode changed hold now: the after-images ``undo`` compares with
    (rows it did not change keep the planned after-image, so undo reports them untouched)."""
    observed: list[dict[str, Any]] = []
    with store.reading() as reads:
        for change in unit.changes:
            image = reads.current_image(change, change.after)
            if image is not None and image != change.before:
                observed.append({"table": change.table, "id": change.row_id, "after": image})
    writer.write({"kind": "observed", "index": index, "changes": observed})
    writer.sync()

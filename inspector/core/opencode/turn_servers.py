"""The server that runs a live turn, asked through its own API: one interface for 1.x and 2.x.

Stopping a hung turn and answering what a waiting one asks are the same decisions for every
OpenCode (``repair/abort.py``, ``repair/answer.py`` make them); only the routes differ. 1.x
answers ``/session/status``, ``POST /session/{id}/abort``, ``/permission``, ``/question``
(with the server's password from our environment); 2.x answers ``/api/session/active``,
``POST /api/session/{id}/interrupt``, per-session permissions and forms, and is reached with the
password its own process or ``service.json`` holds (``v2_answers.py``). :func:`turn_server`
picks the implementation from the database's generation, as ``live.detect`` does, so nothing
above this package branches on it.
"""

from __future__ import annotations

import os
from typing import Protocol

from inspector.core.model import Answer, PendingRequest, ServerStatus
from inspector.core.opencode.client import ServerClient
from inspector.core.opencode.turn_types import InboxItem, NotSupported, NoTurnServer

_BUSY = ("busy", "retry")


class TurnServer(Protocol):
    """One running OpenCode, asked about and told to stop or answer the turns it runs."""

    @property
    def port(self) -> int: ...

    @property
    def stops_leaves_first(self) -> bool:
        """Whether a hung subagent is stopped alone (its parent then goes on with the error)
        rather than from the root of its chain (which stops every member)."""
        ...

    def busy(self, directory: str) -> dict[str, ServerStatus]:
        """The sessions this server is working on now (``directory``: where 1.x looks)."""
        ...

    def stop(self, session_id: str, directory: str) -> bool | None:
        """Stop the session's turn; True/False when the server says whether it stopped one,
        None when its answer proves nothing (1.x answers ``true`` for anything)."""
        ...

    def pending(self, directory: str) -> list[PendingRequest]:
        """The permissions and questions a person is asked, whole."""
        ...

    def reply_permission(self, request: PendingRequest, answer: Answer) -> str:
        """Reject or allow once; returns the route(s) used."""
        ...

    def dismiss_question(self, request: PendingRequest) -> str:
        """Dismiss an open question without answering it; returns the route(s) used."""
        ...

    def inbox(self, session_id: str) -> list[InboxItem]:
        """The prompts sent to the session and not yet delivered, oldest first."""
        ...

    def cancel_inbox(self, session_id: str, item_id: str) -> str:
        """Cancel one undelivered prompt; returns the route used (its answer proves nothing)."""
        ...


class V1TurnServer:
    """OpenCode 1.x: the routes of ``ServerClient`` (measured on 1.18.33, see ``answer.py``)."""

    stops_leaves_first = False  # abort the root: it settles the whole chain at once

    def __init__(self, client: ServerClient) -> None:
        self.client = client

    @property
    def port(self) -> int:
        return self.client.port

    def busy(self, directory: str) -> dict[str, ServerStatus]:
        return {sid: st for sid, st in self.client.statuses(directory).items() if st.type in _BUSY}

    def stop(self, session_id: str, directory: str) -> bool | None:
        self.client.abort(session_id, directory)
        return None

    def pending(self, directory: str) -> list[PendingRequest]:
        return self.client.pending(directory)

    def reply_permission(self, request: PendingRequest, answer: Answer) -> str:
        return self.client.reply_permission(
            request.id, answer, session_id=request.session_id, directory=request.directory
        )

    def dismiss_question(self, request: PendingRequest) -> str:
        return self.client.reject_question(request.id, directory=request.directory)

    def inbox(self, session_id: str) -> list[InboxItem]:
        return []  # 1.x delivers a prompt when it is sent: nothing waits undelivered

    def cancel_inbox(self, session_id: str, item_id: str) -> str:
        raise NotSupported("OpenCode 1.x has no inbox of undelivered prompts", port=self.port)


def turn_server(db: str | os.PathLike[str], port: int | None, *, schema: str) -> TurnServer:
    """The server on ``port`` that runs turns of ``db`` (``schema``: ``Store.schema``; ``port``
    None: the one server on the database, where the session is not running anywhere).

    ``NoTurnServer`` when no OpenCode 2 process on this database serves that port (it stopped,
    or the port is now someone else's), or none is known: nothing is sent then.
    """
    if schema == "v2":
        from inspector.core.opencode.v2_answers import v2_turn_server

        return v2_turn_server(db, port)
    if port is None:
        raise NoTurnServer("no OpenCode server runs this session; nothing was sent")
    return V1TurnServer(ServerClient(port))


__all__ = ["InboxItem", "NoTurnServer", "NotSupported", "TurnServer", "V1TurnServer", "turn_server"]

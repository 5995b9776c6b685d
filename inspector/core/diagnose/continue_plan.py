"""``ocinspect open``: read a session, ask whether an OpenCode serves it, diagnose it, and
return the :class:`~inspector.core.opencode.launch.Continuation` to render. Here, above
``opencode/launch.py``, because saying "it is still stuck" needs a scan."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from inspector.core.opencode.launch import PROGRAM, Continuation, continuation

if TYPE_CHECKING:
    from inspector.core.db.store import Store
    from inspector.core.model import LiveStatus


def plan_continue(
    store: Store,
    session_id: str,
    *,
    live: LiveStatus | None = None,
    database: str | os.PathLike[str] | None = None,
    program: str = PROGRAM,
    trust_directory: bool = False,
) -> Continuation:
    """The continuation of ``session_id``: ``SessionNotFound`` when there is no such row,
    ``InvalidSessionId`` before anything else when its id is not OpenCode's shape."""
    from inspector.core.diagnose.options import ScanOptions
    from inspector.core.diagnose.scan import scan
    from inspector.core.errors import SessionNotFound
    from inspector.core.ids import require_session_id
    from inspector.core.text import printable

    store.require_readable()
    with store.reading() as reads:
        session = reads.sessions([session_id]).get(session_id)
    if session is None:
        raise SessionNotFound(f"no session {printable(session_id)} in {store.path}")
    require_session_id(session.id)
    if live is None:
        from inspector.core.opencode.live import detect

        live = detect(store.path, [session.directory], schema=store.schema)
    diagnosis = scan(store, ScanOptions(session_ids=[session.id], live=live, hung_after_ms=None)).get(session.id)
    return continuation(
        session,
        diagnosis=diagnosis,
        live=live,
        database=database,
        program=program,
        trust_directory=trust_directory,
        schema=store.schema,
    )

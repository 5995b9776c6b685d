"""OpenCode's session id shape, checked before an id read from a database is handed to another
program: an id is data, and ``--hostname=0.0.0.0`` in a crafted ``session`` row must never reach
OpenCode's command line as an option (nor a path, nor an environment value).

Every OpenCode release writes ``ses_`` + 12 hex digits of time + 14 base62 characters (26 in
all; every fixture from 1.2.27 to 1.18.33, the id-wrap ones included). We accept ``ses_`` and
1 to 64 ASCII letters and digits: no ``-``, ``=``, space, control character or ``/`` can get
through, and an id OpenCode might some day write a little longer is not refused for its length.
"""

from __future__ import annotations

import re

from inspector.core.errors import InvalidSessionId
from inspector.core.text import printable

SESSION_ID = re.compile(r"ses_[0-9A-Za-z]{1,64}")


def is_session_id(value: object) -> bool:
    """True when ``value`` has OpenCode's session id shape (safe as one word of a command)."""
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def require_session_id(value: str) -> str:
    """``value`` itself when it is an OpenCode session id, else :class:`InvalidSessionId`."""
    if not is_session_id(value):
        raise InvalidSessionId(
            f"session id '{printable(value, single_line=True)}' is not an OpenCode session id "
            f"(ses_ and letters or digits): it is never passed to another program"
        )
    return value

"""Whether OpenCode may be started in a session's project directory without running another
user's code: the check git makes before it reads a repository ("dubious ownership").

OpenCode loads project config from where it starts: ``opencode.json(c)`` found upward from the
directory to the worktree root (the git root, or ``/`` outside git), every ``.opencode/`` on that
way (plugins, commands, agents), and MCP servers those files name, which it runs as commands. A
directory on that way that another user owns, or that every user can write to, lets that user
put such a file there. So every directory from the session's own up to its git root (to ``/``
outside git) must be ours or root's, and not writable by every user.

The sticky bit (``/tmp``) does not make a world-writable directory safe here: it only keeps
others from deleting or renaming our files; they can still create ``opencode.json`` or
``.opencode/`` in it. A group-writable directory is accepted (user-private groups are common).
Both the path as the session records it and its real path are checked (OpenCode walks the
first; a symlink leads to the second).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass


@dataclass(frozen=True)
class Distrust:
    """The first directory OpenCode would read project config from that we cannot trust."""

    path: str
    owner_uid: int
    mode: int  # its permission bits, as stat gave them
    reason: str  # "owner": another user's; "world-writable": every user may write to it

    def owner_name(self) -> str:
        """The owner's user name and uid (``nobody (uid 65534)``), or the uid alone."""
        try:
            import pwd

            return f"{pwd.getpwuid(self.owner_uid).pw_name} (uid {self.owner_uid})"
        except (ImportError, KeyError):
            return f"uid {self.owner_uid}"

    def explain(self, session_directory: str) -> str:
        if self.path == os.path.abspath(session_directory):
            where = f"the session's project directory {self.path}"
        elif self.path == os.path.realpath(session_directory):
            where = f"the session's project directory {session_directory} (a link to {self.path})"
        else:
            where = f"{self.path}, above the session's project directory {session_directory},"
        why = (
            f"is owned by {self.owner_name()}, not by you"
            if self.reason == "owner"
            else f"is writable by every user (mode {stat.S_IMODE(self.mode):04o})"
        )
        return f"{where} {why}: OpenCode would load the opencode.json, plugins and MCP commands anyone put there"


def _config_walk(directory: str) -> list[str]:
    """``directory`` and its parents up to the first that holds ``.git`` (or up to ``/``)."""
    walk = []
    current = os.path.normpath(directory)
    while True:
        walk.append(current)
        if os.path.lexists(os.path.join(current, ".git")):
            return walk
        parent = os.path.dirname(current)
        if parent == current:
            return walk
        current = parent


def distrust(directory: str, *, uid: int | None = None) -> Distrust | None:
    """Why OpenCode started in ``directory`` could load another user's config (None: it cannot).

    ``uid``: whose code it may run (default: this process's effective uid). Root's directories
    are trusted too: root can change anything we would run anyway.
    """
    me = os.geteuid() if uid is None else uid
    seen: set[str] = set()
    for start in dict.fromkeys((os.path.abspath(directory), os.path.realpath(directory))):
        for path in _config_walk(start):
            if path in seen:
                continue
            seen.add(path)
            try:
                info = os.stat(path)
            except OSError:
                continue  # missing or unreadable: directory_problem says so for the directory itself
            if info.st_uid not in (me, 0):
                return Distrust(path=path, owner_uid=info.st_uid, mode=info.st_mode, reason="owner")
            if info.st_mode & stat.S_IWOTH:
                return Distrust(path=path, owner_uid=info.st_uid, mode=info.st_mode, reason="world-writable")
    return None

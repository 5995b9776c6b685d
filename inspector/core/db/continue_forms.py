"""How each generation's ``opencode`` command takes a person back into a session.

Read from ``--help`` of the real binaries. 1.x (1.2.27 … 1.18.33): ``opencode [project]
--session ID`` starts its TUI with its own server; ``opencode attach URL --session ID`` opens a
TUI on a running server. 2.1.2 has no ``attach``: ``opencode [flags] [directory]`` joins the
managed service (starting it when none runs), ``--server URL`` joins another server and
``--standalone`` runs a private plain server. A service booted by that command re-runs every
crashed turn in the file (calling the model again) and, being shared, may serve another file
than ``OPENCODE_DB`` (``--session`` then *creates* the id there); so when nothing serves the
database, a 2.x session is opened on a private server: only this session is touched, and
``OPENCODE_DB`` is the file it opens (measured on 2.1.2: the TUI shows the session's turn).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ContinueForm:
    """The argv shapes of one generation's ``opencode``: ``argv`` builds one of them."""

    attach_command: bool  # 1.x: ``opencode attach URL``; 2.x: ``opencode --server=URL``
    private_server: tuple[str, ...]  # the words that run a private server when none serves the file
    directory_last: bool  # 2.x documents ``[flags] [<directory>]``: the flags first

    def argv(
        self, program: str, directory: str, session_word: str, *, url: str | None, served: bool
    ) -> tuple[str, ...]:
        """``session_word`` is ``--session=ID`` (glued: never read as two words); ``url`` a
        server on the database to join; ``served`` False when no server runs on it."""
        if url is not None and self.attach_command:
            return (program, "attach", url, session_word)
        if url is not None:
            flags: tuple[str, ...] = (f"--server={url}", session_word)
        elif served:
            flags = (session_word,)
        else:
            flags = (*self.private_server, session_word)
        return (program, *flags, directory) if self.directory_last else (program, directory, *flags)


V1_FORM = ContinueForm(attach_command=True, private_server=(), directory_last=False)
V2_FORM = ContinueForm(attach_command=False, private_server=("--standalone",), directory_last=True)

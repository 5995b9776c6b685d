"""The global options as one object every command gets (``pass_settings``)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from inspector.cli.echo import say
from inspector.core.defaults import DEFAULT_HUNG_AFTER_MS

if TYPE_CHECKING:  # core modules load on first use (see test_startup.py)
    from inspector.core.db.store import Store

# What --demo applies to: every command that reads or repairs a database, not those that hand
# it to OpenCode (run, open, watch) or print the user's own paths.
DEMO_COMMANDS = frozenset({"scan", "show", "recover", "undo", "runs", "report"})


class Settings:
    """Global options, resolved lazily so ``--help`` never touches the disk."""

    def __init__(
        self,
        db: str | None,
        channel: str | None,
        busy_timeout: int,
        hung_after_ms: int = DEFAULT_HUNG_AFTER_MS,
        read_only: bool = False,
        full: bool = False,
        demo: bool = False,
    ) -> None:
        self.db = db
        self.full = full
        self.channel = channel
        self.busy_timeout = busy_timeout
        self.hung_after_ms = hung_after_ms
        self.read_only = read_only
        self.demo = demo
        self.cleanup = ExitStack()  # closed when the command ends (the demo's directory goes)
        self._demo_path: Path | None = None

    def hung_after(self, override: int | None) -> int:
        """A command's ``--hung-after``, else the global one, else 15 minutes."""
        return override if override is not None else self.hung_after_ms

    def path(self) -> Path:
        if self.demo:
            return self.demo_database()
        from inspector.core.db.locate import locate

        return locate(self.db, channel=self.channel)

    def demo_database(self) -> Path:
        """``--demo``: a fresh demo database in a temporary directory that also holds the journal
        and watermarks of this run (``demo_home``), removed when the command or TUI ends."""
        if self._demo_path is None:
            from inspector.core.synth.demo import build_demo, demo_home

            self._demo_path = build_demo(self.cleanup.enter_context(demo_home()))
            say(f"ocinspect: demo database at {self._demo_path} (removed on exit)", err=True)
        return self._demo_path

    def store(self) -> Store:
        from inspector.core.db.store import open_store

        return open_store(self.path(), busy_timeout_ms=self.busy_timeout)


pass_settings = click.make_pass_decorator(Settings)

"""A one-line progress indicator shown while a scan runs (the table stays usable meanwhile)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, ProgressBar


class ScanProgress(Horizontal):
    """``phase`` text plus a bar; indeterminate until the core reports a row count."""

    def compose(self) -> ComposeResult:
        yield Label("Scanning…", id="scan-phase", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="scan-bar")

    def start(self, phase: str) -> None:
        self.query_one("#scan-phase", Label).update(phase)
        self.query_one(ProgressBar).update(total=None, progress=0)

    def advance(self, phase: str, done: int, total: int) -> None:
        self.query_one("#scan-phase", Label).update(phase)
        self.query_one(ProgressBar).update(total=max(total, 1), progress=done)

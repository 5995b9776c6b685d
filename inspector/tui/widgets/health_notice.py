"""The notice under the status line when the database itself explains a hang: the write lock
held (by whom, since when), contention met, a starved WAL, a damaged file. The words are
core's (``health.explain``); process names and command lines are literal text, never markup."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from inspector.core.health.explain import explain
from inspector.core.health.look import Health
from inspector.core.text import printable


def notice_content(health: Health) -> Content:
    pieces: list[str | tuple[str, str]] = [("The database itself may be why sessions hang", "bold $warning")]
    for said in explain(health):
        pieces += ["\n! ", printable(said.text, single_line=True), (f" ({said.finding})", "$text-muted")]
        pieces += ["\n  ", (printable(said.advice, single_line=True), "italic")]
    pieces += ["\n  ", ("'ocinspect doctor' shows the database's health", "$text-muted")]
    return Content.assemble(*pieces)


class HealthNotice(Static):
    """Hidden unless ``show`` is given a health (core's ``hang_notice`` decides which)."""

    _drawn: Health | None = None

    def show(self, health: Health | None) -> None:
        if health is None:
            self.display = False
            return
        if health != self._drawn:
            self._drawn = health
            self.update(notice_content(health))
        self.display = True

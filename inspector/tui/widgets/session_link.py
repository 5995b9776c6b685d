"""A compact button that opens another session's detail (subagent parent or child)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Button

from ..format import one_line
from ..messages import OpenSession


class SessionLink(Button):
    """The label is literal text (session titles come from the database)."""

    def __init__(self, session_id: str, label: str) -> None:
        super().__init__(Content(one_line(label)), compact=True, classes="session-link")
        self.session_id = session_id
        self.tooltip = Content(f"Open {one_line(session_id)}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(OpenSession(self.session_id))
